//! Writes Wav2Lip's normalised mel spectrogram of an audio file as a NumPy `.npy` file.
//!
//! ```text
//! cargo run --release -p wav2lip --example mel -- AUDIO OUT.npy
//! ```
//!
//! The array is float32, shape `(80, T)` with `T = 1 + floor(N / 200)` for `N` samples at
//! 16 kHz: what `audio.melspectrogram(audio.load_wav(path, 16000))` gives in the original.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use wav2lip::{mel, npy};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [audio, out] = args.as_slice() else {
        eprintln!(
            "usage: mel AUDIO OUT.npy\n  writes the (80, T) normalised mel spectrogram of AUDIO"
        );
        return ExitCode::from(2);
    };
    let (audio, out) = (PathBuf::from(audio), PathBuf::from(out));
    let start = Instant::now();
    let spectrogram = match mel::mel_from_file(&audio) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let elapsed = start.elapsed();
    if let Err(e) = npy::write_f32(&out, &[mel::N_MELS, spectrogram.frames], &spectrogram.data) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "T = {} mel frames (80 per second) in {:.3} s; wrote {}",
        spectrogram.frames,
        elapsed.as_secs_f64(),
        out.display()
    );
    ExitCode::SUCCESS
}
