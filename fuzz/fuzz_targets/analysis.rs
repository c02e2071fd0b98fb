//! Arbitrary PCM (in a WAV container with fuzzed rate and channel count) and analysis settings
//! through the decoder and the analysis: every feature must stay finite and in range.
#![no_main]

use audio::{AnalysisConfig, AudioDecoder, BandScale, FrameAnalyzer};
use libfuzzer_sys::fuzz_target;

fn wav(rate: u32, channels: u16, pcm: &[u8]) -> Vec<u8> {
    let frame = usize::from(channels) * 2;
    let data = &pcm[..pcm.len() / frame * frame];
    let mut w = audio::wav::header(rate, channels, 16, false, data.len() as u32);
    w.extend_from_slice(data);
    w
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let channels = 1 + u16::from(data[0] % 8);
    let rate = [
        1_000, 8_000, 11_025, 22_050, 44_100, 48_000, 96_000, 192_000,
    ][usize::from(data[1] % 8)];
    let fps = [1.0, 24.0, 29.97, 30.0, 60.0, 120.0][usize::from(data[2] % 6)];
    let config = AnalysisConfig {
        bands: 8 + usize::from(data[3]) % 200,
        scale: [BandScale::Log, BandScale::Mel, BandScale::Linear][usize::from(data[4] % 3)],
        normalize: data[5] & 1 == 1,
        a_weighting: data[5] & 2 == 2,
        attack_ms: f32::from(data[6]),
        release_ms: f32::from(data[7]) * 4.0,
        ..AnalysisConfig::default()
    };
    let Ok(decoder) =
        AudioDecoder::from_bytes("fuzz.wav".as_ref(), wav(rate, channels, &data[8..]))
    else {
        return;
    };
    let Ok(mut analyzer) = FrameAnalyzer::new(decoder, fps, 0.0, None, config) else {
        return;
    };
    let mut buffers = analyzer.buffers();
    while let Ok(Some(f)) = analyzer.next_frame(&mut buffers) {
        let unit = [
            f.level_left,
            f.level_right,
            f.onset,
            f.beat,
            f.beat_pulse,
            f.bass,
            f.mid,
            f.treble,
        ];
        assert!(unit.iter().all(|v| (0.0..=1.0).contains(v)), "{f:?}");
        assert!(
            f.rms.is_finite() && f.peak.is_finite() && f.loudness_lufs.is_finite(),
            "{f:?}"
        );
        assert!(f.bpm.is_finite() && f.bpm >= 0.0, "{f:?}");
        assert!(
            buffers
                .bands
                .iter()
                .chain(&buffers.peaks)
                .all(|v| (0.0..=1.0).contains(v))
        );
        assert!(buffers.waveform.iter().all(|v| (-1.0..=1.0).contains(v)));
    }
});
