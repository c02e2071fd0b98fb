//! Generator throughput: frames/s and GFLOP/s at the given batch sizes on each backend asked
//! for, with seeded random weights; with `--torch PYTHONPATH`, the same architecture in PyTorch
//! (fp32, and fp16 on CUDA) measured in the same run, and the ratio.
//!
//!     cargo run --release -p wav2lip --example bench -- [--backend cpu|gpu|both] [--torch DIR]
//!         [BATCH ...]   (default: the backend the avatar would choose; batches 1 16 64)
//!
//! `--layers` instead times every generator layer on the GPU with each kernel (direct and
//! implicit GEMM) at the given batches, with GFLOP/s per layer and per spatial size; that table
//! is what `wav2lip::gpu::auto_kernel` is chosen from. `--kernel direct|gemm|auto` runs the
//! whole-network rows with every GPU layer on one kernel (default auto). `--precision f16` runs
//! the GEMM layers on tensor cores (cooperative matrices; unverified, where the adapter offers
//! them) and prints the output's error against the CPU backend's fp32 at each batch.
//!
//! `--mtcnn` instead times face detection on a 1280x720 and a 1920x1080 picture (scikit-image's astronaut
//! photograph, 512x512, on a grey canvas; it and facenet-pytorch's weights are fetched with pip
//! into target/test-cache, or given as `--mtcnn-weights DIR --photo FILE`) with min_face 40 (the avatar's default) and 20 (facenet's).

use std::process::ExitCode;
use std::time::Instant;

use wav2lip::gpu::{ConvKernel, GpuOptions, KernelPolicy, LayerTime};
use wav2lip::model::{FACE_LEN, MEL_LEN, Model, Rng, random_checkpoint};
use wav2lip::{Backend, BackendChoice, Generator, LipSync};

/// Per-layer times of both kernels at each batch, then totals per output size.
fn profile(ctx: &gpu::GpuContext, model: &Model, batches: &[usize]) -> Result<(), String> {
    println!("adapter: {}", ctx.adapter);
    let mut runs = Vec::new();
    for kernel in [ConvKernel::Direct, ConvKernel::Gemm] {
        let mut sync = LipSync::with_options(
            &ctx.device,
            &ctx.queue,
            model,
            GpuOptions {
                kernels: KernelPolicy::All(kernel),
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())?;
        for &n in batches {
            runs.push((kernel, n, sync.profile(n).map_err(|e| e.to_string())?));
        }
    }
    let gflops = |t: &LayerTime| t.flops as f64 / t.seconds / 1e9;
    for &n in batches {
        let of = |k: ConvKernel| {
            runs.iter()
                .find(|(kk, nn, _)| *kk == k && *nn == n)
                .map(|(_, _, t)| t.as_slice())
                .unwrap_or(&[])
        };
        let (direct, gemm) = (of(ConvKernel::Direct), of(ConvKernel::Gemm));
        println!("\nbatch {n}\n");
        println!("| layer | out | direct ms | gemm ms | direct GFLOP/s | gemm GFLOP/s | faster |");
        println!("|---|---|---|---|---|---|---|");
        for (d, g) in direct.iter().zip(gemm) {
            println!(
                "| {} | {}x{} | {:.2} | {:.2} | {:.1} | {:.1} | {} |",
                d.key,
                d.out_hw.0,
                d.out_hw.1,
                d.seconds * 1e3,
                g.seconds * 1e3,
                gflops(d),
                gflops(g),
                if g.seconds < d.seconds {
                    "gemm"
                } else {
                    "direct"
                }
            );
        }
        println!(
            "\n| output side | layers | GFLOP | direct ms | gemm ms | direct GFLOP/s | gemm GFLOP/s |"
        );
        println!("|---|---|---|---|---|---|---|");
        let mut sides: Vec<usize> = direct.iter().map(|t| t.out_hw.0).collect();
        sides.sort_unstable_by(|a, b| b.cmp(a));
        sides.dedup();
        for side in sides {
            let sum = |ts: &[LayerTime]| {
                ts.iter()
                    .filter(|t| t.out_hw.0 == side)
                    .fold((0usize, 0.0, 0), |a, t| {
                        (a.0 + t.flops, a.1 + t.seconds, a.2 + 1)
                    })
            };
            let (fl, sd, count) = sum(direct);
            let (_, sg, _) = sum(gemm);
            println!(
                "| {side} | {count} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} |",
                fl as f64 / 1e9,
                sd * 1e3,
                sg * 1e3,
                fl as f64 / sd / 1e9,
                fl as f64 / sg / 1e9
            );
        }
    }
    Ok(())
}

fn take_flag(args: &mut Vec<String>, flag: &str) -> Option<String> {
    let i = args.iter().position(|a| a == flag)?;
    let v = args.get(i + 1).cloned();
    args.drain(i..(i + 2).min(args.len()));
    v
}

/// Face detection on a 720p and a 1080p picture, per backend asked for.
/// `files`: (weights folder, photograph) given on the command line (the device bundle carries
/// them), else fetched into target/test-cache.
fn mtcnn(
    backends: &[Backend],
    ctx: Option<&gpu::GpuContext>,
    files: (Option<String>, Option<String>),
) -> Result<(), String> {
    let cache = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-cache");
    let dir = match files.0 {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            let d = cache.join("mtcnn");
            wav2lip::fetch::mtcnn_weights(&d).map_err(|e| e.to_string())?;
            d
        }
    };
    let photo = match files.1 {
        Some(p) => std::path::PathBuf::from(p),
        None => wav2lip::fetch::test_photo(&cache.join("skimage")).map_err(|e| e.to_string())?,
    };
    let face = image::open(&photo).map_err(|e| e.to_string())?.to_rgba8();
    let weights = wav2lip::mtcnn::MtcnnWeights::load(&dir).map_err(|e| e.to_string())?;
    println!(
        "| backend | picture | min_face | faces | ms a picture (mean of 10, after 1 warm-up) |"
    );
    println!("|---|---|---|---|---|");
    for (w, h) in [(1280u32, 720u32), (1920, 1080)] {
        let mut canvas = image::RgbaImage::from_pixel(w, h, image::Rgba([96, 96, 96, 255]));
        image::imageops::overlay(
            &mut canvas,
            &face,
            i64::from(w / 2 - 256),
            i64::from(h / 2 - 256),
        );
        for &backend in backends {
            let mut detector =
                wav2lip::Detector::new(backend, &weights, ctx.map(|c| (&c.device, &c.queue)))
                    .map_err(|e| e.to_string())?;
            let texture = ctx.map(|c| upload(c, &canvas));
            for min_face in [40.0, 20.0] {
                detector.set_min_face(min_face);
                let picture = match (&texture, backend) {
                    (Some(t), Backend::Gpu) => wav2lip::Picture::Texture(t),
                    _ => wav2lip::Picture::Rgba {
                        pixels: canvas.as_raw(),
                        width: w,
                        height: h,
                    },
                };
                let faces = detector.detect(picture).map_err(|e| e.to_string())?;
                let software = ctx.is_none_or(|c| c.adapter.software);
                let reps = if backend == Backend::Cpu || !software {
                    10
                } else {
                    2
                };
                let t = Instant::now();
                for _ in 0..reps {
                    detector.detect(picture).map_err(|e| e.to_string())?;
                }
                let ms = t.elapsed().as_secs_f64() * 1e3 / f64::from(reps);
                println!(
                    "| {backend} | {w}x{h} | {min_face} | {} | {ms:.1} |",
                    faces.len()
                );
            }
        }
    }
    Ok(())
}

fn upload(ctx: &gpu::GpuContext, rgba: &image::RgbaImage) -> wgpu::Texture {
    wav2lip::resample::picture_texture(&ctx.device, &ctx.queue, rgba.as_raw(), rgba.dimensions())
}

fn run() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let detect = args.iter().any(|a| a == "--mtcnn");
    args.retain(|a| a != "--mtcnn");
    let layers = args.iter().any(|a| a == "--layers");
    args.retain(|a| a != "--layers");
    let torch = take_flag(&mut args, "--torch");
    let mtcnn_dir = take_flag(&mut args, "--mtcnn-weights");
    let precision: wav2lip::gemm::Precision = take_flag(&mut args, "--precision")
        .as_deref()
        .unwrap_or("f32")
        .parse()?;
    let photo = take_flag(&mut args, "--photo");
    let policy = match take_flag(&mut args, "--kernel").as_deref() {
        None | Some("auto") => KernelPolicy::Auto,
        Some("direct") => KernelPolicy::All(ConvKernel::Direct),
        Some("gemm") => KernelPolicy::All(ConvKernel::Gemm),
        Some(k) => return Err(format!("--kernel {k}: use direct, gemm or auto")),
    };
    let backend = take_flag(&mut args, "--backend");
    let batches: Vec<usize> = if args.is_empty() {
        vec![1, 16, 64]
    } else {
        args.iter()
            .map(|a| a.parse().map_err(|_| format!("not a batch size: {a}")))
            .collect::<Result<_, _>>()?
    };
    // The CPU backend needs no adapter; without one, "auto" means the CPU.
    let options = gpu::ContextOptions {
        cooperative_matrix: precision == wav2lip::gemm::Precision::F16,
    };
    let ctx = match gpu::GpuContext::with_options(&gpu::AdapterChoice::Auto, options) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("no GPU adapter ({e}): the GPU backend cannot run");
            None
        }
    };
    let software = ctx.as_ref().is_none_or(|c| c.adapter.software);
    let backends: Vec<Backend> = match backend.as_deref() {
        Some("both") => vec![Backend::Cpu, Backend::Gpu],
        Some(b) => {
            let choice: BackendChoice = b
                .parse()
                .map_err(|e: wav2lip::Wav2LipError| e.to_string())?;
            vec![choice.resolve(software).0]
        }
        None => vec![BackendChoice::Auto.resolve(software).0],
    };
    if detect {
        return mtcnn(&backends, ctx.as_ref(), (mtcnn_dir, photo));
    }
    let model = Model::random(1);
    if layers {
        let ctx = ctx.as_ref().ok_or("--layers needs a GPU adapter")?;
        return profile(ctx, &model, &batches);
    }
    let gflop = model.flops_per_frame() / 1e9;
    println!(
        "adapter: {}; {} threads; {gflop:.2} GFLOP a frame",
        ctx.as_ref()
            .map_or("none".to_owned(), |c| c.adapter.to_string()),
        rayon::current_num_threads()
    );
    let weights =
        std::env::temp_dir().join(format!("wav2lip-bench-{}.safetensors", std::process::id()));
    if torch.is_some() {
        wav2lip::checkpoint::write_safetensors(&weights, random_checkpoint(1).tensors())
            .map_err(|e| e.to_string())?;
    }
    println!(
        "| backend | batch | ours frames/s | ours GFLOP/s | PyTorch fp32 frames/s | PyTorch fp32 TF32 off frames/s | PyTorch fp16 frames/s | ours / PyTorch fp32 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for &n in &batches {
        let mut rng = Rng::new(n as u64);
        let faces: Vec<f32> = (0..n * FACE_LEN).map(|_| rng.uniform()).collect();
        let mels: Vec<f32> = (0..n * MEL_LEN).map(|_| rng.sym(4.0)).collect();
        // (frames/s, ran on CUDA) of PyTorch at this batch.
        let torch_fps = |flag: Option<&str>| -> Option<(f64, bool)> {
            let pp = torch.as_ref()?;
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/torch_wav2lip.py");
            // The device bundle carries the script beside the binary.
            let script = if script.exists() {
                script
            } else {
                std::env::current_exe()
                    .ok()?
                    .with_file_name("torch_wav2lip.py")
            };
            let mut cmd = std::process::Command::new("python3");
            cmd.arg(script)
                .args(["bench", weights.to_str()?, &n.to_string()]);
            if pp != "system" {
                cmd.env("PYTHONPATH", pp);
            }
            if let Some(flag) = flag {
                cmd.arg(flag);
            }
            let out = cmd.output().ok()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let fps = text
                .split("\"frames_per_s\": ")
                .nth(1)?
                .trim_end_matches(['}', '\n', ' '])
                .parse()
                .ok()?;
            Some((fps, text.contains("\"device\": \"cuda\"")))
        };
        // PyTorch first, then ours, per batch size: both see the same machine state.
        let full = torch_fps(None);
        // TF32 off and fp16 only where PyTorch runs on CUDA (on a CPU fp32 has no TF32, and
        // fp16 is an emulation, not a contender).
        let (no_tf32, t16) = match full {
            Some((_, true)) => (
                torch_fps(Some("--no-tf32")).map(|(f, _)| f),
                torch_fps(Some("--half")).map(|(f, _)| f),
            ),
            _ => (None, None),
        };
        let t32 = full.map(|(f, _)| f);
        for &backend in &backends {
            let mut generator = match (backend, ctx.as_ref()) {
                (Backend::Gpu, Some(c)) => Generator::Gpu(
                    LipSync::with_options(
                        &c.device,
                        &c.queue,
                        &model,
                        GpuOptions {
                            kernels: policy,
                            precision,
                        },
                    )
                    .map_err(|e| e.to_string())?,
                ),
                _ => Generator::new(backend, &model, ctx.as_ref().map(|c| (&c.device, &c.queue)))
                    .map_err(|e| e.to_string())?,
            };
            // Warm-up (pipeline compilation, buffer allocation), then timed runs.
            generator
                .infer_host(&faces, &mels, n)
                .map_err(|e| e.to_string())?;
            let reps = match backend {
                Backend::Cpu => (256 / n).clamp(2, 32),
                Backend::Gpu => (64 / n).clamp(1, 8),
            };
            let t = Instant::now();
            for _ in 0..reps {
                generator
                    .infer_host(&faces, &mels, n)
                    .map_err(|e| e.to_string())?;
            }
            let ours = (n * reps) as f64 / t.elapsed().as_secs_f64();
            if backend == Backend::Gpu && precision == wav2lip::gemm::Precision::F16 {
                // The tensor-core path's accuracy against the fp32 CPU backend, same inputs.
                let got = generator
                    .infer_host(&faces, &mels, n)
                    .map_err(|e| e.to_string())?;
                let want = Generator::new(Backend::Cpu, &model, None)
                    .and_then(|mut g| g.infer_host(&faces, &mels, n))
                    .map_err(|e| e.to_string())?;
                let max = got
                    .iter()
                    .zip(&want)
                    .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
                println!("f16 tensor cores vs CPU fp32, batch {n}: max abs error {max:.2e}");
            }
            let fmt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
            use std::io::Write;
            println!(
                "| {backend} | {n} | {ours:.2} | {:.1} | {} | {} | {} | {} |",
                ours * gflop,
                fmt(t32),
                fmt(no_tf32),
                fmt(t16),
                t32.map_or("-".to_owned(), |t| format!("{:.2}", ours / t))
            );
            let _ = std::io::stdout().flush();
        }
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
