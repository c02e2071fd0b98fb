//! Generator throughput: frames/s at the given batch sizes on the default adapter, with seeded
//! random weights; with `--torch PYTHONPATH`, the same architecture in PyTorch (fp32 and fp16 on
//! CUDA, fp32 on CPU) measured in the same run, and the ratio.
//!
//!     cargo run --release -p wav2lip --example bench -- [--torch DIR] [BATCH ...]   (default 1 16 128)

use std::process::ExitCode;
use std::time::Instant;

use wav2lip::model::{FACE_LEN, MEL_LEN, Model, Rng, random_checkpoint};

fn run() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let torch = args.iter().position(|a| a == "--torch").and_then(|i| {
        let p = args.get(i + 1).cloned();
        args.drain(i..(i + 2).min(args.len()));
        p
    });
    let batches: Vec<usize> = if args.is_empty() {
        vec![1, 16, 128]
    } else {
        args.iter()
            .map(|a| a.parse().map_err(|_| format!("not a batch size: {a}")))
            .collect::<Result<_, _>>()?
    };
    let ctx = gpu::GpuContext::new(&gpu::AdapterChoice::Auto).map_err(|e| e.to_string())?;
    let model = Model::random(1);
    let mut sync =
        wav2lip::gpu::LipSync::new(&ctx.device, &ctx.queue, &model).map_err(|e| e.to_string())?;
    println!(
        "adapter: {} (max batch per dispatch {})",
        ctx.adapter,
        sync.max_batch()
    );
    let weights =
        std::env::temp_dir().join(format!("wav2lip-bench-{}.safetensors", std::process::id()));
    if torch.is_some() {
        wav2lip::checkpoint::write_safetensors(&weights, random_checkpoint(1).tensors())
            .map_err(|e| e.to_string())?;
    }
    println!(
        "| batch | ours frames/s | PyTorch fp32 frames/s | PyTorch fp16 frames/s | ours / PyTorch fp32 |"
    );
    println!("|---|---|---|---|---|");
    for &n in &batches {
        let mut rng = Rng::new(n as u64);
        let faces: Vec<f32> = (0..n * FACE_LEN).map(|_| rng.uniform()).collect();
        let mels: Vec<f32> = (0..n * MEL_LEN).map(|_| rng.sym(4.0)).collect();
        // Warm-up (pipeline compilation, buffer allocation), then timed runs.
        sync.infer_host(&faces, &mels, n)
            .map_err(|e| e.to_string())?;
        let reps = (64 / n).clamp(1, 8);
        let t = Instant::now();
        for _ in 0..reps {
            sync.infer_host(&faces, &mels, n)
                .map_err(|e| e.to_string())?;
        }
        let ours = (n * reps) as f64 / t.elapsed().as_secs_f64();
        let torch_fps = |half: bool| -> Option<f64> {
            let pp = torch.as_ref()?;
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/torch_wav2lip.py");
            let mut cmd = std::process::Command::new("python3");
            cmd.arg(script)
                .args(["bench", weights.to_str()?, &n.to_string()])
                .env("PYTHONPATH", pp);
            if half {
                cmd.arg("--half");
            }
            let out = cmd.output().ok()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let device_cuda = text.contains("\"device\": \"cuda\"");
            if half && !device_cuda {
                return None;
            }
            text.split("\"frames_per_s\": ")
                .nth(1)?
                .trim_end_matches(['}', '\n', ' '])
                .parse()
                .ok()
        };
        let (t32, t16) = (torch_fps(false), torch_fps(true));
        let fmt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
        println!(
            "| {n} | {ours:.2} | {} | {} | {} |",
            fmt(t32),
            fmt(t16),
            t32.map_or("-".to_owned(), |t| format!("{:.2}", ours / t))
        );
    }
    let _ = std::fs::remove_file(&weights);
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
