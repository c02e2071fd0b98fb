//! Arbitrary bytes as a WAV, MP3, FLAC, Ogg Vorbis, AAC (ADTS) or MP4 file through the decoder
//! and the analysis (symphonia's demuxers and codecs on hostile input): errors are fine; a
//! panic, a hang or a non-finite feature is a bug. The corpus holds short real files of each.
#![no_main]

use audio::{AnalysisConfig, AudioDecoder, FrameAnalyzer};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 6] = [
    "fuzz.wav",
    "fuzz.mp3",
    "fuzz.flac",
    "fuzz.ogg",
    "fuzz.aac",
    "fuzz.m4a",
];

fuzz_target!(|data: &[u8]| {
    let Some((&head, bytes)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(head) % NAMES.len()];
    let Ok(decoder) = AudioDecoder::from_bytes(name.as_ref(), bytes.to_vec()) else {
        return;
    };
    let Ok(mut analyzer) = FrameAnalyzer::new(decoder, 30.0, 0.0, None, AnalysisConfig::default())
    else {
        return;
    };
    let mut buffers = analyzer.buffers();
    // Bounded: a header may claim hours; a few seconds of frames exercise the decode path.
    for _ in 0..300 {
        match analyzer.next_frame(&mut buffers) {
            Ok(Some(f)) => {
                assert!(f.rms.is_finite() && f.peak.is_finite(), "{f:?}");
                assert!(buffers.bands.iter().all(|v| (0.0..=1.0).contains(v)));
                assert!(buffers.waveform.iter().all(|v| (-1.0..=1.0).contains(v)));
            }
            Ok(None) | Err(_) => break,
        }
    }
});
