//! Parity with PyTorch: the same checkpoint and inputs through
//! tests/fixtures/torch_wav2lip.py (the architecture written in PyTorch) and through both of this
//! crate's backends (the GPU kernels where an adapter exists, the native CPU backend always) must
//! agree within 1e-5 absolute on the [0, 1] output (measured ~2e-6). Without PyTorch, CI holds
//! every backend to the same bound against a committed PyTorch output (tests/oracle.rs).
//!
//! PyTorch is not a prerequisite of this project: the test runs where
//! `WAV2LIP_TORCH_PYTHONPATH` names a folder with torch and numpy importable (for example
//! `pip install --target /opt/pt torch numpy`), and prints SKIPPED otherwise. It also saves the
//! weights with `torch.save` in both the legacy and the zip format and loads those files.

use std::path::{Path, PathBuf};
use std::process::Command;

use wav2lip::checkpoint::{Checkpoint, write_safetensors};
use wav2lip::model::{FACE_LEN, MEL_LEN, Model, Rng, random_checkpoint};
use wav2lip::npy;

fn torch_path() -> Option<String> {
    let p = std::env::var("WAV2LIP_TORCH_PYTHONPATH").ok()?;
    let ok = Command::new("python3")
        .args(["-c", "import torch, numpy"])
        .env("PYTHONPATH", &p)
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(p)
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch_wav2lip.py")
}

fn python(pythonpath: &str, args: &[&str]) {
    let out = Command::new("python3")
        .arg(script())
        .args(args)
        .env("PYTHONPATH", pythonpath)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "torch_wav2lip.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn matches_pytorch_within_1e5() {
    let Some(pp) = torch_path() else {
        test_support::skip(
            "wav2lip PyTorch parity",
            "set WAV2LIP_TORCH_PYTHONPATH to a folder with torch",
        );
        return;
    };
    let ctx = match gpu::GpuContext::new(&gpu::AdapterChoice::Auto) {
        Ok(c) => Some(c),
        Err(e) => {
            test_support::skip(
                "wav2lip PyTorch parity of the GPU backend",
                &format!("no GPU adapter: {e}"),
            );
            None
        }
    };
    let dir = test_support::Scratch::new("wav2lip-parity");
    let s = |p: &Path| p.to_str().expect("utf-8").to_owned();
    let ckpt = random_checkpoint(11);
    let weights = dir.join("weights.safetensors");
    write_safetensors(&weights, ckpt.tensors()).expect("safetensors");
    let n = 2;
    let mut rng = Rng::new(12);
    let faces: Vec<f32> = (0..n * FACE_LEN).map(|_| rng.uniform()).collect();
    let mels: Vec<f32> = (0..n * MEL_LEN).map(|_| rng.sym(4.0)).collect();
    let (fp, mp, op) = (
        dir.join("faces.npy"),
        dir.join("mels.npy"),
        dir.join("torch.npy"),
    );
    npy::write_f32(&fp, &[n, 6, 96, 96], &faces).expect("faces");
    npy::write_f32(&mp, &[n, 1, 80, 16], &mels).expect("mels");
    python(&pp, &["infer", &s(&weights), &s(&fp), &s(&mp), &s(&op)]);
    let (shape, want) = npy::read_f32(&op).expect("torch output");
    assert_eq!(shape, [n, 3, 96, 96]);

    for (label, path) in [
        ("safetensors", weights.clone()),
        ("torch.save zip", dir.join("zip.pth")),
        ("torch.save legacy", dir.join("legacy.pth")),
    ] {
        if label == "torch.save zip" {
            python(&pp, &["save", &s(&weights), &s(&path)]);
        } else if label == "torch.save legacy" {
            python(&pp, &["save", &s(&weights), &s(&path), "--legacy"]);
        }
        let model = Model::from_checkpoint(&Checkpoint::load(&path).expect("load")).expect("model");
        let mut backends = vec![wav2lip::Backend::Cpu];
        if ctx.is_some() {
            backends.push(wav2lip::Backend::Gpu);
        }
        for backend in backends {
            let gpu = ctx.as_ref().map(|c| (&c.device, &c.queue));
            let mut generator = wav2lip::Generator::new(backend, &model, gpu).expect("generator");
            let got = generator.infer_host(&faces, &mels, n).expect("infer");
            let max = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            eprintln!("{label}, {backend} backend: max abs difference from PyTorch {max:e}");
            assert!(
                max <= 1e-5,
                "{label}, {backend} backend: max abs difference from PyTorch {max:e}"
            );
        }
    }
}
