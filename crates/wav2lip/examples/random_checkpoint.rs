//! Writes a Wav2Lip generator checkpoint with seeded random weights (safetensors), for trying
//! an avatar job end to end without the real weights (the mouth then shows noise, not speech).
//!
//! `cargo run --release -p wav2lip --example random_checkpoint -- OUT.safetensors [SEED]`

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first().map(PathBuf::from) else {
        eprintln!("usage: random_checkpoint OUT.safetensors [SEED]");
        return ExitCode::from(2);
    };
    let seed = match args.get(1).map(|s| s.parse::<u64>()) {
        None => 1,
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            eprintln!("SEED must be a whole number: {e}");
            return ExitCode::from(2);
        }
    };
    let ckpt = wav2lip::model::random_checkpoint(seed);
    match wav2lip::checkpoint::write_safetensors(&out, ckpt.tensors()) {
        Ok(()) => {
            eprintln!(
                "wrote {} ({} tensors, seed {seed})",
                out.display(),
                ckpt.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
