//! GPU (WGSL compute, on whatever adapter exists: Mesa lavapipe in CI) against the plain-Rust
//! CPU reference: every layer kind with seeded random weights and inputs, then the whole
//! generator at batch 2, and batches split over the device's binding limit.
//!
//! Tolerances: both sides compute in f32 but sum in different orders (the GPU accumulates four
//! channels at once, in tap order; the CPU per channel), so results differ by rounding only:
//! relative L2 error <= 1e-5 and max abs error <= 1e-4 x the output's largest magnitude per
//! layer; for the whole network (sigmoid output in 0..1, 50 layers deep) max abs <= 2e-4 and
//! relative L2 <= 1e-5. A wrong index, stride, padding or epilogue gives errors of order 1.

mod common;

use common::inputs;
use wav2lip::cpu::forward;
use wav2lip::gpu::{ConvKernel, GpuOptions, KernelPolicy, LipSync, run_layer};
use wav2lip::model::{Model, OUT_LEN};

/// One device for the file (Auto: a hardware GPU where there is one).
fn context() -> Option<&'static gpu::GpuContext> {
    test_support::gpu::context("wav2lip GPU tests", test_support::gpu::Adapter::Auto)
}

#[test]
fn every_layer_kind_matches_the_cpu_reference_on_the_direct_kernel() {
    let Some(ctx) = context() else {
        return;
    };
    common::check_every_layer_kind(|l, x| {
        run_layer(&ctx.device, &ctx.queue, l, x, ConvKernel::Direct).expect("gpu layer")
    });
}

#[test]
fn every_layer_kind_matches_the_cpu_reference_on_the_gemm_kernel() {
    let Some(ctx) = context() else {
        return;
    };
    common::check_every_layer_kind(|l, x| {
        run_layer(&ctx.device, &ctx.queue, l, x, ConvKernel::Gemm).expect("gpu layer")
    });
}

#[test]
fn the_whole_generator_matches_the_cpu_reference_in_batches_of_2() {
    let Some(ctx) = context() else {
        return;
    };
    let model = Model::random(42);
    let (faces, mels) = inputs(3, 3);
    let t = std::time::Instant::now();
    let want = forward(&model, &faces, &mels, 3);
    eprintln!(
        "CPU reference, 3 frames: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut sync = LipSync::new(&ctx.device, &ctx.queue, &model).expect("lipsync");
    // Three frames through dispatches of at most two: a batch of 2, then the rest, reusing the
    // activation buffers.
    sync.set_max_batch(2);
    assert_eq!(sync.max_batch(), 2);
    let t = std::time::Instant::now();
    let got = sync.infer_host(&faces, &mels, 3).expect("infer");
    eprintln!("GPU, 3 frames: {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(got.len(), 3 * OUT_LEN);
    common::check_frames(&got, &want);
    // Frames differ.
    assert_ne!(
        want[..OUT_LEN],
        want[OUT_LEN..2 * OUT_LEN],
        "frames must differ"
    );
    let e = sync
        .infer_host(&faces[..10], &mels, 3)
        .expect_err("short input");
    assert!(e.to_string().contains("3 frames need"), "{e}");
}

#[test]
fn the_whole_generator_on_each_kernel_alone_matches_the_cpu_reference() {
    let Some(ctx) = context() else {
        return;
    };
    let model = Model::random(42);
    let (faces, mels) = inputs(5, 1);
    let want = forward(&model, &faces, &mels, 1);
    for kernel in [ConvKernel::Gemm, ConvKernel::Direct] {
        let mut sync = LipSync::with_options(
            &ctx.device,
            &ctx.queue,
            &model,
            GpuOptions {
                kernels: KernelPolicy::All(kernel),
                ..Default::default()
            },
        )
        .expect("lipsync");
        assert!(
            sync.kernels().iter().all(|(_, k)| *k == kernel),
            "every layer on {kernel}"
        );
        let got = sync.infer_host(&faces, &mels, 1).expect("infer");
        common::check_frames(&got, &want);
    }
}

/// The tensor-core path (f16 operands, f32 accumulation) where the adapter offers cooperative
/// matrices; elsewhere, asking for it is a clear error. The f16 bound (max abs 2e-2 on the
/// sigmoid output, relative L2 5e-3) is a first estimate from f16's 11-bit significand over 50
/// layers: the path has not run on any GPU yet, so the first run replaces it with the measured
/// error.
#[test]
fn tensor_core_gemm_matches_the_cpu_reference_or_says_what_is_missing() {
    let options = gpu::ContextOptions {
        cooperative_matrix: true,
    };
    let ctx = match gpu::GpuContext::with_options(&gpu::AdapterChoice::Auto, options) {
        Ok(c) => c,
        Err(e) => {
            test_support::skip_unless_ci(
                "wav2lip tensor-core test",
                &format!("no GPU adapter: {e}"),
            );
            return;
        }
    };
    let model = Model::random(42);
    let f16 = GpuOptions {
        precision: wav2lip::gemm::Precision::F16,
        ..Default::default()
    };
    if !ctx
        .device
        .features()
        .contains(gpu::COOPERATIVE_MATRIX_FEATURES)
    {
        let e = LipSync::with_options(&ctx.device, &ctx.queue, &model, f16)
            .expect_err("no cooperative matrices on this adapter");
        let text = e.to_string();
        assert!(
            text.contains("tensor cores") && text.contains("precision = \"f32\""),
            "{text}"
        );
        eprintln!(
            "tensor-core path not run: {} offers no cooperative matrices",
            ctx.adapter
        );
        return;
    }
    let (faces, mels) = inputs(9, 2);
    let want = forward(&model, &faces, &mels, 2);
    let mut sync = LipSync::with_options(&ctx.device, &ctx.queue, &model, f16).expect("lipsync");
    let got = sync.infer_host(&faces, &mels, 2).expect("infer");
    let (max, rel) = common::errors(&got, &want);
    eprintln!("tensor cores (f16) vs CPU reference: max abs {max:e}, rel L2 {rel:e}");
    assert!(
        max <= 2e-2 && rel <= 5e-3,
        "max abs {max:e}, rel L2 {rel:e}"
    );
}

/// The tensor-core shader cannot run here (no adapter offers cooperative matrices), so it is at
/// least carried through what wgpu does before the driver sees it: naga validation with the
/// capabilities it needs, override processing with the constants of every kind of layer and
/// phase the generator uses, and SPIR-V generation.
#[test]
fn the_tensor_core_shader_compiles_to_spirv_for_every_layer_shape() {
    let file = "nn/conv_coop.wgsl";
    let wgsl = gpu::shaders::compose(file).expect("compose");
    let module = naga::front::wgsl::parse_str(&wgsl).expect("parse");
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        gpu::shaders::capabilities(file),
    )
    .validate(&module)
    .expect("valid");
    // (taps, in step, tap step, out step, act, residual): a 3x3 convolution, a stride-2 one, a
    // residual one, the four phases of a stride-2 transposed one, a 1x1 sigmoid head.
    type Shape = ((u32, u32), i32, i32, u32, u32, bool);
    let shapes: [Shape; 8] = [
        ((3, 3), 1, 1, 1, 0, false),
        ((3, 3), 2, 1, 1, 0, false),
        ((3, 3), 1, 1, 1, 0, true),
        ((1, 1), 1, -1, 2, 0, false),
        ((1, 2), 1, -1, 2, 0, false),
        ((2, 1), 1, -1, 2, 0, false),
        ((2, 2), 1, -1, 2, 0, false),
        ((1, 1), 1, 1, 1, 1, false),
    ];
    for (taps, in_step, tap_step, out_step, act, residual) in shapes {
        let mut constants = naga::back::PipelineConstants::default();
        for (name, value) in [
            ("TAPS_Y", f64::from(taps.0)),
            ("TAPS_X", f64::from(taps.1)),
            ("IN_STEP_Y", f64::from(in_step)),
            ("IN_STEP_X", f64::from(in_step)),
            ("TAP_STEP_Y", f64::from(tap_step)),
            ("TAP_STEP_X", f64::from(tap_step)),
            ("OUT_STEP_Y", f64::from(out_step)),
            ("OUT_STEP_X", f64::from(out_step)),
            ("ACT", f64::from(act)),
            ("RESIDUAL", f64::from(u8::from(residual))),
        ] {
            constants.insert(name.to_owned(), value);
        }
        let (m, i) = naga::back::pipeline_constants::process_overrides(
            &module,
            &info,
            Some((naga::ShaderStage::Compute, "gemm")),
            &constants,
        )
        .expect("overrides");
        let words = naga::back::spv::write_vec(
            &m,
            &i,
            &naga::back::spv::Options {
                lang_version: (1, 3),
                ..Default::default()
            },
            Some(&naga::back::spv::PipelineOptions {
                shader_stage: naga::ShaderStage::Compute,
                entry_point: "gemm".into(),
            }),
        )
        .unwrap_or_else(|e| panic!("SPIR-V for taps {taps:?}: {e}"));
        assert_eq!(words.first(), Some(&0x0723_0203), "SPIR-V magic number");
    }
}

#[test]
fn conv_params_match_the_wgsl_layout() {
    test_support::assert_wgsl_layout!(
        wav2lip::gpu::ConvParams,
        "nn/conv2d.wgsl",
        "ConvParams",
        [
            n,
            cin,
            cout,
            cout_groups,
            in_h,
            in_w,
            out_h,
            out_w,
            kh,
            kw,
            sh,
            sw,
            ph,
            pw,
            transposed,
            act,
            in_ctot,
            in_coff,
            out_ctot,
            out_coff,
            residual
        ]
    );
}

#[test]
fn gemm_params_match_the_wgsl_layout() {
    // Both GEMM shaders declare the struct (the tensor-core one cannot import it: its `enable`
    // directives must come before any declaration, and imports are placed first).
    for file in ["nn/conv_gemm.wgsl", "nn/conv_coop.wgsl"] {
        test_support::assert_wgsl_layout!(
            wav2lip::gemm::GemmParams,
            file,
            "GemmParams",
            [
                n_total, cout, k_total, in_h, in_w, q_h, q_w, out_h, out_w, in_ctot, in_coff,
                out_ctot, out_coff, in_off_y, in_off_x, out_off_y, out_off_x, m_pad
            ]
        );
    }
}

#[test]
fn resample_params_match_the_wgsl_layout() {
    test_support::assert_wgsl_layout!(
        wav2lip::resample::ResampleParams,
        "nn/resample.wgsl",
        "ResampleParams",
        [out_w, out_h, mode, planes, scale, offset, srgb, count]
    );
}
