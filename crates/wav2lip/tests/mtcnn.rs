//! The MTCNN face detector on the GPU with facenet-pytorch's real weights, on a real photograph
//! of a person: scikit-image's `astronaut.png` (Eileen Collins, NASA, public domain), taken from
//! the scikit-image 0.26.0 wheel with pip at test time. Both downloads are cached in
//! `target/test-cache`; without network access the test prints SKIPPED, except under `CI=true`
//! where it fails.
//!
//! The expected box was checked by eye once (the crop written to
//! `target/test-cache/astronaut-face.png` by this test shows the whole face, forehead to chin)
//! and is recorded below; the test requires IoU >= 0.8 with it.

use std::path::PathBuf;

use wav2lip::mtcnn::{Mtcnn, MtcnnWeights, iou};

/// x0, y0, x1, y1 of the astronaut's face in the 512x512 photograph, checked by eye on
/// 2026-11-29 (box drawn over the picture: hairline to chin, both eyes, nose and mouth corners
/// inside; landmarks on the eyes, nose tip and mouth corners).
const ASTRONAUT_FACE: [f32; 4] = [181.0, 62.0, 268.0, 172.0];

fn cache() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-cache")
}

fn skip_or_fail(what: &str, why: impl std::fmt::Display) -> Option<PathBuf> {
    test_support::skip_unless_ci(
        "wav2lip MTCNN tests",
        &format!("{what} is not available: {why}"),
    );
    None
}

fn weights() -> Option<PathBuf> {
    let dir = cache().join("mtcnn");
    match wav2lip::fetch::mtcnn_weights(&dir) {
        Ok(_) => Some(dir),
        Err(e) => skip_or_fail("facenet-pytorch's MTCNN weights", e),
    }
}

fn astronaut() -> Option<PathBuf> {
    match wav2lip::fetch::test_photo(&cache().join("skimage")) {
        Ok(path) => Some(path),
        Err(e) => skip_or_fail("scikit-image's astronaut.png", e),
    }
}

/// One device for the file (Auto: a hardware GPU where there is one).
fn context() -> Option<&'static gpu::GpuContext> {
    test_support::gpu::context("wav2lip MTCNN GPU tests", test_support::gpu::Adapter::Auto)
}

fn upload(ctx: &gpu::GpuContext, rgba: &image::RgbaImage) -> wgpu::Texture {
    wav2lip::resample::picture_texture(&ctx.device, &ctx.queue, rgba.as_raw(), rgba.dimensions())
}

#[test]
fn mtcnn_finds_the_astronauts_face() {
    let Some(ctx) = context() else { return };
    let (Some(dir), Some(photo)) = (weights(), astronaut()) else {
        return;
    };
    let rgba = image::open(&photo)
        .expect("decode astronaut.png")
        .to_rgba8();
    let texture = upload(ctx, &rgba);
    let weights = MtcnnWeights::load(&dir).expect("load MTCNN weights");
    let detector = Mtcnn::new(&ctx.device, &ctx.queue, &weights).expect("detector");
    let faces = detector.detect(&texture).expect("detection runs");
    eprintln!("faces: {faces:?}");
    assert!(!faces.is_empty(), "no face found on astronaut.png");
    let best = faces
        .iter()
        .max_by(|a, b| a.area().total_cmp(&b.area()))
        .expect("one face");
    // The crop, for a look by eye.
    let r = best.rect.map(|v| v.max(0.0) as u32);
    let crop = image::imageops::crop_imm(&rgba, r[0], r[1], r[2] - r[0], r[3] - r[1]).to_image();
    let _ = crop.save(cache().join("astronaut-face.png"));
    let overlap = iou(best.rect, ASTRONAUT_FACE);
    assert!(
        overlap >= 0.8,
        "IoU {overlap:.3} of {:?} against the recorded {ASTRONAUT_FACE:?}",
        best.rect
    );
    assert!(best.score > 0.9, "face score {}", best.score);
    // Landmarks inside the box, eyes above the mouth.
    for [x, y] in best.landmarks {
        assert!(x > best.rect[0] && x < best.rect[2] && y > best.rect[1] && y < best.rect[3]);
    }
    assert!(best.landmarks[0][1] < best.landmarks[3][1]);
    // A larger minimum face size searches fewer pyramid levels and still finds this face.
    let mut coarse = Mtcnn::new(&ctx.device, &ctx.queue, &weights).expect("detector");
    coarse.min_face = 80.0;
    let faces = coarse.detect(&texture).expect("detection runs");
    assert!(
        faces.iter().any(|f| iou(f.rect, ASTRONAUT_FACE) >= 0.8),
        "min_face 80: {faces:?}"
    );
}

#[test]
fn a_picture_without_a_face_gives_no_face() {
    let Some(ctx) = context() else { return };
    let Some(dir) = weights() else { return };
    // Smooth colour gradients: nothing face-like.
    let rgba = image::RgbaImage::from_fn(320, 240, |x, y| {
        image::Rgba([(x * 255 / 320) as u8, (y * 255 / 240) as u8, 128, 255])
    });
    let texture = upload(ctx, &rgba);
    let weights = MtcnnWeights::load(&dir).expect("load MTCNN weights");
    let detector = Mtcnn::new(&ctx.device, &ctx.queue, &weights).expect("detector");
    let faces = detector.detect(&texture).expect("detection runs");
    assert!(faces.is_empty(), "found {faces:?} in a gradient");
}

#[test]
fn missing_weights_explain_how_to_get_them() {
    let dir = test_support::Scratch::new("mtcnn-empty");
    let err = MtcnnWeights::load(&dir).expect_err("no weights there");
    let msg = err.to_string();
    assert!(msg.contains("pnet.pt"), "{msg}");
    assert!(msg.contains("facenet-pytorch"), "{msg}");
    assert!(msg.contains("cargo xtask fetch-mtcnn"), "{msg}");
}

/// The resampling kernel (and the native backend's `resample_rgba`) against a reference: "area" over whole texels and bilinear with
/// half-pixel centres (clamped to the crop), normalisation, RGB and Wav2Lip layouts (BGR, lower
/// half of the first three planes zeroed), on an sRGB texture (bytes recovered to half a byte).
#[test]
fn resample_kernel_matches_a_cpu_reference() {
    use wav2lip::resample::{Filter, Layout, Resample, Resampler};
    let Some(ctx) = context() else { return };
    let (w, h) = (37u32, 29u32);
    let rgba = image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([
            (x * 7 + y * 3) as u8,
            (255 - x * 5) as u8,
            ((x * y) % 251) as u8,
            255,
        ])
    });
    let texture = upload(ctx, &rgba);
    let px = |x: i64, y: i64, c: usize| -> f32 {
        let p = rgba.get_pixel(
            x.clamp(0, w as i64 - 1) as u32,
            y.clamp(0, h as i64 - 1) as u32,
        );
        f32::from(p[c])
    };
    let crops = [[3.0f32, 2.0, 30.0, 27.0], [0.0, 0.0, 37.0, 29.0]];
    let resampler = Resampler::new(&ctx.device).expect("resampler");
    for (filter, layout, (ow, oh)) in [
        (Filter::Area, Layout::Rgb, (12u32, 10u32)),
        (Filter::Area, Layout::Rgb, (50, 40)),
        (Filter::Bilinear, Layout::Wav2Lip, (16, 16)),
    ] {
        let planes = layout.channels();
        let len = crops.len() * planes * (ow * oh) as usize;
        let dst = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("test.resample"),
            size: (len * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        let (scale, offset) = (0.5, -3.0);
        resampler
            .encode(
                &ctx.device,
                &mut encoder,
                &texture,
                &Resample {
                    crops: &crops,
                    out: (ow, oh),
                    filter,
                    layout,
                    scale,
                    offset,
                },
                &dst,
            )
            .expect("encode");
        ctx.queue.submit([encoder.finish()]);
        let got = wav2lip::gpu::read_back(&ctx.device, &ctx.queue, &dst, len).expect("read");
        // The native backend's resampling, from the picture's bytes.
        let mut cpu = vec![f32::NAN; len];
        wav2lip::resample::resample_rgba(
            rgba.as_raw(),
            (w, h),
            &Resample {
                crops: &crops,
                out: (ow, oh),
                filter,
                layout,
                scale,
                offset,
            },
            &mut cpu,
        )
        .expect("resample on the CPU");
        for (n, crop) in crops.iter().enumerate() {
            let [x0, y0, x1, y1] = crop.map(|v| v as i64);
            let (cw, ch) = (x1 - x0, y1 - y0);
            for oy in 0..oh as i64 {
                for ox in 0..ow as i64 {
                    let value = |c: usize| -> f32 {
                        match filter {
                            Filter::Area => {
                                let (ow, oh) = (ow as i64, oh as i64);
                                let (xs, xe) = (ox * cw / ow, ((ox + 1) * cw + ow - 1) / ow);
                                let (ys, ye) = (oy * ch / oh, ((oy + 1) * ch + oh - 1) / oh);
                                let mut sum = 0.0;
                                for y in ys..ye {
                                    for x in xs..xe {
                                        sum += px(x0 + x, y0 + y, c);
                                    }
                                }
                                sum / ((xe - xs) * (ye - ys)) as f32
                            }
                            Filter::Bilinear => {
                                let sx = ((ox as f32 + 0.5) * cw as f32 / ow as f32 - 0.5)
                                    .clamp(0.0, cw as f32 - 1.0);
                                let sy = ((oy as f32 + 0.5) * ch as f32 / oh as f32 - 0.5)
                                    .clamp(0.0, ch as f32 - 1.0);
                                let (fx, fy) = (sx.floor(), sy.floor());
                                let (tx, ty) = (sx - fx, sy - fy);
                                let (bx, by) = (x0 + fx as i64, y0 + fy as i64);
                                let top = px(bx, by, c) * (1.0 - tx) + px(bx + 1, by, c) * tx;
                                let bot =
                                    px(bx, by + 1, c) * (1.0 - tx) + px(bx + 1, by + 1, c) * tx;
                                top * (1.0 - ty) + bot * ty
                            }
                        }
                    };
                    let plane = (ow * oh) as usize;
                    let o = (oy * ow as i64 + ox) as usize;
                    let want: Vec<f32> = match layout {
                        Layout::Rgb => (0..3).map(|c| value(c) * scale + offset).collect(),
                        Layout::Wav2Lip => {
                            let bgr: Vec<f32> = [2, 1, 0]
                                .iter()
                                .map(|&c| value(c) * scale + offset)
                                .collect();
                            let masked = if oy >= oh as i64 / 2 { 0.0 } else { 1.0 };
                            bgr.iter()
                                .map(|v| v * masked)
                                .chain(bgr.iter().copied())
                                .collect()
                        }
                    };
                    for (p, want) in want.iter().enumerate() {
                        let c = cpu[(n * planes + p) * plane + o];
                        assert!(
                            (c - want).abs() <= 1e-3,
                            "CPU {filter:?} {layout:?} {ow}x{oh} crop {n} plane {p} ({ox}, {oy}): \
                             {c} vs {want}"
                        );
                        let g = got[(n * planes + p) * plane + o];
                        // Half a byte: the sRGB texture's samples are decoded to linear
                        // light and encoded back in the shader (llvmpipe's decode is not
                        // exact); neighbouring texels of this pattern differ by 3 or more.
                        assert!(
                            (g - want).abs() <= 0.5 * scale + 0.01,
                            "{filter:?} {layout:?} {ow}x{oh} crop {n} plane {p} ({ox}, {oy}): \
                             {g} vs {want}"
                        );
                    }
                }
            }
        }
    }
}

/// The native CPU detector (crates/wav2lip/src/native/detector.rs) on the photograph's bytes:
/// the recorded face, and the same box as the GPU detector (same weights, same candidate logic;
/// the networks' sums differ by rounding only, and the GPU reads an sRGB texture).
#[test]
fn cpu_detector_finds_the_astronauts_face_like_the_gpu() {
    use wav2lip::native::CpuMtcnn;
    let (Some(dir), Some(photo)) = (weights(), astronaut()) else {
        return;
    };
    let rgba = image::open(&photo)
        .expect("decode astronaut.png")
        .to_rgba8();
    let (w, h) = rgba.dimensions();
    let weights = MtcnnWeights::load(&dir).expect("load MTCNN weights");
    let cpu = CpuMtcnn::new(&weights);
    let faces = cpu.detect(rgba.as_raw(), w, h).expect("detection runs");
    let best = faces
        .iter()
        .max_by(|a, b| a.area().total_cmp(&b.area()))
        .expect("a face on astronaut.png");
    let overlap = iou(best.rect, ASTRONAUT_FACE);
    assert!(
        overlap >= 0.8,
        "IoU {overlap:.3} of {:?} against the recorded {ASTRONAUT_FACE:?}",
        best.rect
    );
    assert!(best.score > 0.9, "face score {}", best.score);
    assert!(best.landmarks[0][1] < best.landmarks[3][1]);
    // Too few bytes for the size: an error, not a panic.
    let e = cpu.detect(&rgba.as_raw()[..100], w, h).expect_err("short");
    assert!(e.to_string().contains("needs"), "{e}");
    let Some(ctx) = context() else { return };
    let gpu = Mtcnn::new(&ctx.device, &ctx.queue, &weights).expect("detector");
    let on_gpu = gpu.detect(&upload(ctx, &rgba)).expect("detection runs");
    let gpu_best = on_gpu
        .iter()
        .max_by(|a, b| a.area().total_cmp(&b.area()))
        .expect("a face on the GPU");
    let agree = iou(best.rect, gpu_best.rect);
    assert!(
        agree >= 0.95,
        "CPU {:?} vs GPU {:?}: IoU {agree:.3}",
        best.rect,
        gpu_best.rect
    );
    assert!((best.score - gpu_best.score).abs() < 0.01);
}

#[test]
fn cpu_detector_finds_no_face_in_a_gradient() {
    let Some(dir) = weights() else { return };
    let rgba = image::RgbaImage::from_fn(320, 240, |x, y| {
        image::Rgba([(x * 255 / 320) as u8, (y * 255 / 240) as u8, 128, 255])
    });
    let weights = MtcnnWeights::load(&dir).expect("load MTCNN weights");
    let faces = wav2lip::native::CpuMtcnn::new(&weights)
        .detect(rgba.as_raw(), 320, 240)
        .expect("detection runs");
    assert!(faces.is_empty(), "found {faces:?} in a gradient");
}
