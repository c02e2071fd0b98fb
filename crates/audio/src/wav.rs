//! Writing WAV files: for tests, fixtures, fuzzing and tools that need a small file from
//! samples without an encoder.

/// A canonical 44-byte WAV header. `float` selects IEEE float samples (format 3) instead of
/// integer PCM (format 1). Any values are written as given, so malformed headers (0 Hz,
/// 0 channels) can be produced on purpose.
pub fn header(rate: u32, channels: u16, bits: u16, float: bool, data_len: u32) -> Vec<u8> {
    let block = channels.saturating_mul(bits / 8);
    let mut w = Vec::with_capacity(44);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&data_len.saturating_add(36).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&(if float { 3u16 } else { 1u16 }).to_le_bytes());
    w.extend_from_slice(&channels.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&rate.saturating_mul(u32::from(block)).to_le_bytes());
    w.extend_from_slice(&block.to_le_bytes());
    w.extend_from_slice(&bits.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    w
}

/// Interleaved samples (-1..=1) as a 16-bit PCM WAV file.
pub fn encode_i16(rate: u32, channels: u16, samples: &[f32]) -> Vec<u8> {
    let mut w = header(rate, channels, 16, false, (samples.len() * 2) as u32);
    for s in samples {
        w.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes());
    }
    w
}

/// Interleaved samples as a 32-bit float WAV file (no quantisation).
pub fn encode_f32(rate: u32, channels: u16, samples: &[f32]) -> Vec<u8> {
    let mut w = header(rate, channels, 32, true, (samples.len() * 4) as u32);
    for s in samples {
        w.extend_from_slice(&s.to_le_bytes());
    }
    w
}
