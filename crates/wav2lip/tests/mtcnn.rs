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
use std::sync::OnceLock;

use wav2lip::mtcnn::{Mtcnn, MtcnnWeights, iou};

/// x0, y0, x1, y1 of the astronaut's face in the 512x512 photograph, checked by eye on
/// 2026-11-29 (box drawn over the picture: hairline to chin, both eyes, nose and mouth corners
/// inside; landmarks on the eyes, nose tip and mouth corners).
const ASTRONAUT_FACE: [f32; 4] = [181.0, 62.0, 268.0, 172.0];

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn cache() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-cache")
}

fn skip_or_fail(what: &str, why: impl std::fmt::Display) -> Option<PathBuf> {
    assert!(!ci(), "CI=true and {what} is not available: {why}");
    eprintln!("SKIPPED MTCNN test: {what} is not available: {why}");
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

fn context() -> Option<&'static gpu::GpuContext> {
    static CTX: OnceLock<Option<gpu::GpuContext>> = OnceLock::new();
    CTX.get_or_init(|| match gpu::GpuContext::new(&gpu::AdapterChoice::Auto) {
        Ok(c) => Some(c),
        Err(e) => {
            assert!(!ci(), "CI=true and no GPU adapter: {e}");
            eprintln!("SKIPPED MTCNN GPU test: {e}");
            None
        }
    })
    .as_ref()
}

fn upload(ctx: &gpu::GpuContext, rgba: &image::RgbaImage) -> wgpu::Texture {
    let (w, h) = rgba.dimensions();
    let texture = ctx.device.create_texture(&wgpu::TextureDescriptor {
        label: Some("test.picture"),
        size: wgpu::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba8UnormSrgb,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    ctx.queue.write_texture(
        texture.as_image_copy(),
        rgba.as_raw(),
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(w * 4),
            rows_per_image: Some(h),
        },
        texture.size(),
    );
    texture
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
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mtcnn-empty");
    std::fs::create_dir_all(&dir).expect("scratch");
    let err = MtcnnWeights::load(&dir).expect_err("no weights there");
    let msg = err.to_string();
    assert!(msg.contains("pnet.pt"), "{msg}");
    assert!(msg.contains("facenet-pytorch"), "{msg}");
    assert!(msg.contains("cargo xtask fetch-mtcnn"), "{msg}");
}
