//! Every backend against an independent oracle, in CI, without PyTorch: the output of
//! Wav2Lip's original generator written in PyTorch (tests/fixtures/torch_wav2lip.py), on the
//! crate's seeded random checkpoint (seed 11) and two frames of hashed inputs, computed once by
//! tests/fixtures/make_oracle.py (PyTorch 2.5.1, fp32, CPU) and committed as
//! tests/fixtures/oracle/generator-seed11-2frames.npy.
//!
//! Nothing here shares code with the oracle but the checkpoint's bytes: the architecture, the
//! BatchNorm (unfolded, eval mode), the transposed convolutions and the concatenations are
//! PyTorch's. Tolerance: 1e-5 max abs on the [0, 1] output for every backend (f32 sums in other
//! orders; measured errors are printed and recorded in docs/BENCHMARKS.md). A wrong layer,
//! index, padding or fold gives errors of order 0.1.

use std::path::Path;

use wav2lip::gpu::{ConvKernel, GpuOptions, KernelPolicy, LipSync};
use wav2lip::model::{FACE_LEN, MEL_LEN, Model, OUT_LEN, random_checkpoint};

const FRAMES: usize = 2;
const TOLERANCE: f32 = 1e-5;

/// The 32-bit mix make_oracle.py computes on numpy uint32 arrays (wrapping).
fn hash(i: u32) -> u32 {
    let mut h = i.wrapping_mul(0x9E37_79B1).wrapping_add(0x3039);
    h ^= h >> 15;
    h = h.wrapping_mul(0x85EB_CA77);
    h ^= h >> 13;
    h
}

/// The oracle's inputs, bit for bit: faces in 0..1 (k / 255), mel values in -4..4 (k / 100 - 4).
fn inputs() -> (Vec<f32>, Vec<f32>) {
    let faces = (0..(FRAMES * FACE_LEN) as u32)
        .map(|i| (hash(i) % 256) as f32 / 255.0)
        .collect();
    let mels = (0..(FRAMES * MEL_LEN) as u32)
        .map(|i| (hash(i + 1_000_000) % 801) as f32 / 100.0 - 4.0)
        .collect();
    (faces, mels)
}

fn oracle() -> Vec<f32> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/oracle/generator-seed11-2frames.npy");
    let (shape, data) = wav2lip::npy::read_f32(&path).expect("the committed oracle");
    assert_eq!(shape, [FRAMES, 3, 96, 96]);
    data
}

fn model() -> Model {
    Model::from_checkpoint(&random_checkpoint(11)).expect("model")
}

/// Max abs error against the oracle, asserted within the tolerance; the output must not be flat.
fn check(label: &str, got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), FRAMES * OUT_LEN, "{label}: output length");
    let max = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    eprintln!("{label}: max abs error against the PyTorch oracle {max:e}");
    assert!(max <= TOLERANCE, "{label}: max abs {max:e} > {TOLERANCE:e}");
    max
}

#[test]
fn the_oracle_is_not_trivial() {
    let want = oracle();
    let (lo, hi) = want
        .iter()
        .fold((1.0f32, 0.0f32), |(l, h), v| (l.min(*v), h.max(*v)));
    assert!(hi - lo > 0.5, "oracle range {lo}..{hi}");
    assert_ne!(want[..OUT_LEN], want[OUT_LEN..], "the two frames differ");
}

#[test]
fn the_reference_and_the_native_cpu_backend_match_the_oracle() {
    let want = oracle();
    let model = model();
    let (faces, mels) = inputs();
    let reference = wav2lip::cpu::forward(&model, &faces, &mels, FRAMES);
    check("plain-Rust reference", &reference, &want);
    let mut cpu = wav2lip::native::CpuGenerator::new(&model);
    let got = cpu.infer_host(&faces, &mels, FRAMES).expect("infer");
    check("native CPU backend", &got, &want);
}

#[test]
fn the_gpu_kernels_match_the_oracle() {
    let Some(ctx) =
        test_support::gpu::context("wav2lip GPU oracle test", test_support::gpu::Adapter::Auto)
    else {
        return;
    };
    let want = oracle();
    let model = model();
    let (faces, mels) = inputs();
    for (label, kernels) in [
        ("GPU, auto kernels", KernelPolicy::Auto),
        ("GPU, GEMM kernel", KernelPolicy::All(ConvKernel::Gemm)),
    ] {
        let mut sync = LipSync::with_options(
            &ctx.device,
            &ctx.queue,
            &model,
            GpuOptions {
                kernels,
                ..Default::default()
            },
        )
        .expect("lipsync");
        let got = sync.infer_host(&faces, &mels, FRAMES).expect("infer");
        check(&format!("{label} ({})", ctx.adapter), &got, &want);
    }
}
