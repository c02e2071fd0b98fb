//! Runs the generator on NumPy inputs, for parity checks with your own PyTorch setup:
//!
//!     cargo run --release -p wav2lip --example infer -- CHECKPOINT FACES.npy MELS.npy OUT.npy
//!
//! FACES (N, 6, 96, 96) and MELS (N, 1, 80, 16) float32 in C order; OUT (N, 3, 96, 96).
//! CHECKPOINT: wav2lip.pth / wav2lip_gan.pth (legacy PyTorch), a zip-format torch file or
//! safetensors. `--backend cpu|gpu` picks the executor (default: as the avatar would choose:
//! the CPU backend when the only adapter is a software rasteriser or there is none, else the
//! GPU); `--cpu-reference` runs the plain-Rust reference instead.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use wav2lip::checkpoint::Checkpoint;
use wav2lip::model::{FACE_LEN, MEL_LEN};
use wav2lip::{Backend, BackendChoice, Generator, Model, npy};

fn run() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let cpu = args.iter().any(|a| a == "--cpu-reference");
    args.retain(|a| a != "--cpu-reference");
    let mut choice = BackendChoice::Auto;
    if let Some(i) = args.iter().position(|a| a == "--backend") {
        let value = args
            .get(i + 1)
            .ok_or("--backend needs cpu, gpu or auto")?
            .clone();
        choice = value
            .parse()
            .map_err(|e: wav2lip::Wav2LipError| e.to_string())?;
        args.drain(i..i + 2);
    }
    let [ckpt, faces, mels, out] = args.as_slice() else {
        return Err(
            "usage: infer CHECKPOINT FACES.npy MELS.npy OUT.npy [--backend cpu|gpu] \
             [--cpu-reference]"
                .into(),
        );
    };
    let started = Instant::now();
    let model =
        Model::from_checkpoint(&Checkpoint::load(&PathBuf::from(ckpt)).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let (fs, fv) = npy::read_f32(&PathBuf::from(faces)).map_err(|e| e.to_string())?;
    let (ms, mv) = npy::read_f32(&PathBuf::from(mels)).map_err(|e| e.to_string())?;
    let n = fs.first().copied().unwrap_or(0);
    if fs != [n, 6, 96, 96] || fv.len() != n * FACE_LEN {
        return Err(format!("{faces}: shape {fs:?}, expected (N, 6, 96, 96)"));
    }
    if ms != [n, 1, 80, 16] || mv.len() != n * MEL_LEN {
        return Err(format!("{mels}: shape {ms:?}, expected ({n}, 1, 80, 16)"));
    }
    let loaded = started.elapsed();
    let t = Instant::now();
    let mut what = "CPU reference".to_owned();
    let y = if cpu {
        wav2lip::cpu::forward(&model, &fv, &mv, n)
    } else {
        // No adapter is only an error when the GPU backend is asked for.
        let ctx = gpu::GpuContext::new(&gpu::AdapterChoice::Auto);
        let software = ctx.as_ref().map_or(true, |c| c.adapter.software);
        let (backend, why) = choice.resolve(software);
        if let Ok(c) = &ctx {
            eprintln!("adapter: {}", c.adapter);
        }
        eprintln!("backend: {backend} ({why})");
        let ctx = match (backend, ctx) {
            (Backend::Gpu, Err(e)) => return Err(e.to_string()),
            (_, ctx) => ctx.ok(),
        };
        what = format!("{backend} backend");
        let mut generator =
            Generator::new(backend, &model, ctx.as_ref().map(|c| (&c.device, &c.queue)))
                .map_err(|e| e.to_string())?;
        generator
            .infer_host(&fv, &mv, n)
            .map_err(|e| e.to_string())?
    };
    npy::write_f32(&PathBuf::from(out), &[n, 3, 96, 96], &y).map_err(|e| e.to_string())?;
    eprintln!(
        "{n} frames: checkpoint loaded in {:.2} s, generated in {:.2} s ({}), wrote {out}",
        loaded.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        what
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
