//! GPU tests on whatever adapter exists (Mesa lavapipe in CI): pixels of a known frame, NV12
//! against the CPU reference, and the readback ring's ordering.

use gpu::{
    AdapterChoice, BackgroundParams, BarsParams, FrameRenderer, FrameUniforms, GpuContext,
    GpuError, LayerKind, LayerSpec, RendererConfig, rgb_to_nv12_reference,
};

/// One device for all tests in this file. Prefers a CPU adapter (deterministic rasteriser);
/// without any adapter the tests skip visibly, except under CI=true where they fail.
fn context() -> Option<&'static GpuContext> {
    test_support::gpu::context("gpu render tests", test_support::gpu::Adapter::CpuFirst)
}

fn linear(c: [u8; 3]) -> [f32; 4] {
    let f = |v: u8| gpu::srgb_to_linear(f32::from(v) / 255.0);
    [f(c[0]), f(c[1]), f(c[2]), 1.0]
}

const BG: [u8; 3] = [0x20, 0x40, 0x60];
const BAR: [u8; 3] = [0xff, 0x00, 0x00];

fn encoded(c: [u8; 3]) -> [f32; 4] {
    [
        f32::from(c[0]) / 255.0,
        f32::from(c[1]) / 255.0,
        f32::from(c[2]) / 255.0,
        1.0,
    ]
}

fn solid_background() -> LayerSpec {
    solid(BG)
}

/// An opaque background of one sRGB colour.
fn solid(c: [u8; 3]) -> LayerSpec {
    LayerSpec::from(LayerKind::Background(BackgroundParams {
        color_a: encoded(c),
        color_b: encoded(c),
        direction: [0.0, 1.0],
        mode: 0,
        opacity: 1.0,
    }))
}

fn bars(width: f32, height: f32, count: u32) -> LayerSpec {
    colored_bars(width, height, count, BAR)
}

fn colored_bars(width: f32, height: f32, count: u32, color: [u8; 3]) -> LayerSpec {
    LayerSpec::from(LayerKind::Bars(BarsParams {
        rect: [0.0, 0.0, width, height],
        color_a: linear(color),
        color_b: linear(color),
        peak_color: [0.0; 4],
        count,
        gap: 0.5,
        radius: 0.0,
        align: 0,
        opacity: 1.0,
        min_height: 0.0,
        gradient: 0,
        symmetric: 0,
        caps: 0,
        cap_height: 0.0,
        _pad: [0.0; 2],
    }))
}

fn uniforms(w: u32, h: u32, frame: u32, bands: u32) -> FrameUniforms {
    FrameUniforms {
        resolution: [w as f32, h as f32],
        time: frame as f32 / 30.0,
        duration: 1.0,
        frame_index: frame,
        spectrum_offset: frame * bands,
        band_count: bands,
        peaks_offset: frame * bands,
        waveform_offset: 0,
        waveform_points: 0,
        _pad: [0; 2],
        features: Default::default(),
    }
}

/// A renderer configuration with NV12 frames over black, two ring slots and one frame per
/// spectrum upload.
fn config(width: u32, height: u32, frame_stride: u32, bands: u32) -> RendererConfig {
    RendererConfig {
        width,
        height,
        ring_slots: 2,
        chunk_frames: 1,
        frame_stride,
        bands,
        output: gpu::FrameOutput::Nv12,
        transparent: false,
    }
}

fn pixel(rgba: &[u8], w: u32, x: u32, y: u32) -> [u8; 3] {
    let i = ((y * w + x) * 4) as usize;
    [rgba[i], rgba[i + 1], rgba[i + 2]]
}

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 1)
}

#[test]
fn bars_are_drawn_where_there_is_energy() {
    let Some(ctx) = context() else { return };
    let (w, h) = (64, 32);
    let config = config(w, h, 4, 4);
    let mut r = FrameRenderer::new(ctx, config, &[solid_background(), bars(64.0, 32.0, 4)])
        .expect("renderer");
    r.upload_spectrum(&[1.0, 0.0, 0.5, 0.0]).expect("upload");
    let rgba = r.render_rgba(&uniforms(w, h, 0, 4)).expect("render");
    assert_eq!(rgba.len(), (w * h * 4) as usize);
    // Cells are 16 px wide; with gap 0.5 each bar covers x in [4, 12) of its cell.
    let checks = [
        ((8, 1), BAR, "band 0 at full level: bar reaches the top"),
        ((8, 30), BAR, "band 0: bottom of the bar"),
        ((24, 30), BG, "band 1 is silent: no bar"),
        ((40, 28), BAR, "band 2 at half level: lower half"),
        ((40, 8), BG, "band 2 at half level: not in the upper half"),
        ((56, 16), BG, "band 3 is silent"),
        ((1, 16), BG, "gap between bars"),
        ((14, 30), BG, "gap right of bar 0"),
    ];
    for ((x, y), want, what) in checks {
        let got = pixel(&rgba, w, x, y);
        assert!(
            near(got, want),
            "{what}: pixel ({x},{y}) is {got:?}, want {want:?}"
        );
    }
}

/// Renders `frames` frames through the NV12 path and returns each packed frame with its index.
fn render_nv12(r: &mut FrameRenderer, frames: u32, bands: u32) -> Vec<(u64, Vec<u8>)> {
    let layout = r.layout();
    let (w, h) = (layout.width, layout.height);
    let mut out = Vec::new();
    let mut sink = |frame: u64, padded: &[u8]| -> Result<(), GpuError> {
        let mut packed = Vec::new();
        layout.pack(padded, &mut packed);
        out.push((frame, packed));
        Ok(())
    };
    for f in 0..frames {
        r.submit(&uniforms(w, h, f, bands), &mut sink)
            .expect("submit");
    }
    r.finish(&mut sink).expect("finish");
    out
}

#[test]
fn nv12_conversion_matches_the_cpu_reference() {
    let Some(ctx) = context() else { return };
    // 100 px wide: the row pitch (256) differs from the width, so padding is exercised.
    let (w, h) = (100, 50);
    let gradient = LayerSpec::from(LayerKind::Background(BackgroundParams {
        color_a: encoded([0xff, 0x80, 0x10]),
        color_b: encoded([0x10, 0x30, 0xf0]),
        direction: [0.6, 0.8],
        mode: 1,
        opacity: 1.0,
    }));
    let config = RendererConfig {
        ring_slots: 3,
        ..config(w, h, 8, 4)
    };
    let mut r =
        FrameRenderer::new(ctx, config, &[gradient, bars(100.0, 50.0, 8)]).expect("renderer");
    r.upload_spectrum(&[0.9, 0.1, 0.5, 0.7, 0.3, 1.0, 0.0, 0.6])
        .expect("upload");
    let rgba = r.render_rgba(&uniforms(w, h, 0, 8)).expect("rgba");
    let reference = rgb_to_nv12_reference(&rgba, w as usize, h as usize);
    let frames = render_nv12(&mut r, 1, 8);
    assert_eq!(frames.len(), 1);
    let gpu = &frames[0].1;
    assert_eq!(gpu.len(), reference.len());
    let worst = gpu
        .iter()
        .zip(&reference)
        .enumerate()
        .max_by_key(|(_, (a, b))| a.abs_diff(**b))
        .map(|(i, (a, b))| (i, *a, *b, a.abs_diff(*b)))
        .expect("non-empty");
    assert!(
        worst.3 <= 1,
        "sample {} is {} on the GPU, {} on the CPU",
        worst.0,
        worst.1,
        worst.2
    );
    // The frame is not trivially flat: both planes vary.
    let luma = &gpu[..(w * h) as usize];
    assert!(luma.iter().max() > luma.iter().min());
}

/// NV12 of pure colours against the published BT.709 limited-range integers (ITU-R BT.709:
/// Y = 16 + 219 E'y, Cb/Cr = 128 + 224 E'pb/pr), independent of the constants the library and
/// its shader share: white 235/128/128, black 16/128/128, red 63/102/240, green 173/42/26,
/// blue 32/240/118. Both the GPU conversion and the CPU reference are held to them exactly.
#[test]
fn nv12_of_pure_colours_is_bt709_limited_range() {
    let Some(ctx) = context() else { return };
    let (w, h) = (16u32, 8u32);
    let cases: [([u8; 3], [u8; 3], &str); 5] = [
        ([255, 255, 255], [235, 128, 128], "white"),
        ([0, 0, 0], [16, 128, 128], "black"),
        ([255, 0, 0], [63, 102, 240], "red"),
        ([0, 255, 0], [173, 42, 26], "green"),
        ([0, 0, 255], [32, 240, 118], "blue"),
    ];
    for (rgb, [y, cb, cr], name) in cases {
        let background = solid(rgb);
        let config = config(w, h, 4, 4);
        let mut r = FrameRenderer::new(ctx, config, &[background]).expect("renderer");
        r.upload_spectrum(&[0.0; 4]).expect("upload");
        let rgba = r.render_rgba(&uniforms(w, h, 0, 4)).expect("rgba");
        let frames = render_nv12(&mut r, 1, 4);
        let reference = rgb_to_nv12_reference(&rgba, w as usize, h as usize);
        for (what, nv12) in [("GPU", &frames[0].1), ("CPU reference", &reference)] {
            let (luma, chroma) = nv12.split_at((w * h) as usize);
            assert!(
                luma.iter().all(|&v| v == y),
                "{name} ({what}): Y {:?}, want {y}",
                &luma[..4]
            );
            for pair in chroma.chunks(2) {
                assert_eq!(
                    pair,
                    [cb, cr],
                    "{name} ({what}): CbCr {pair:?}, want [{cb}, {cr}]"
                );
            }
        }
    }
}

#[test]
fn readback_ring_returns_frames_in_order_with_their_own_spectrum() {
    let Some(ctx) = context() else { return };
    let (w, h, n) = (32, 32, 10u32);
    let config = RendererConfig {
        ring_slots: 3,
        chunk_frames: n,
        ..config(w, h, 1, 4)
    };
    // Yellow bars: far brighter than the background, so the Y plane shows them clearly.
    let yellow = [0xff, 0xff, 0x00];
    let layers = [solid_background(), colored_bars(32.0, 32.0, 1, yellow)];
    let mut r = FrameRenderer::new(ctx, config, &layers).expect("renderer");
    // Frame f has level f / (n - 1): the bar grows by frame.
    let levels: Vec<f32> = (0..n).map(|f| f as f32 / (n - 1) as f32).collect();
    r.upload_spectrum(&levels).expect("upload");
    let frames = render_nv12(&mut r, n, 1);
    let order: Vec<u64> = frames.iter().map(|(f, _)| *f).collect();
    assert_eq!(order, (0..u64::from(n)).collect::<Vec<_>>());
    // Bar height in rows, measured in the Y plane at the bar's centre column.
    let background_y = frames[0].1[0];
    let heights: Vec<usize> = frames
        .iter()
        .map(|(_, f)| {
            (0..h as usize)
                .filter(|y| f[y * w as usize + 16].abs_diff(background_y) > 64)
                .count()
        })
        .collect();
    assert_eq!(heights[0], 0, "silent frame has no bar: {heights:?}");
    assert!(
        heights.windows(2).all(|p| p[1] >= p[0]),
        "heights not increasing: {heights:?}"
    );
    assert!(
        heights[n as usize - 1] >= 31,
        "full level fills the frame: {heights:?}"
    );
}

#[test]
fn odd_sizes_are_a_clear_error() {
    let Some(ctx) = context() else { return };
    let config = config(33, 20, 1, 4);
    let err = FrameRenderer::new(ctx, config, &[solid_background()]).expect_err("odd width");
    assert!(err.to_string().contains("must be even"), "{err}");
}

#[test]
fn translucent_layers_blend_in_linear_light_over_the_opaque_base() {
    let Some(ctx) = context() else { return };
    let (w, h) = (32, 16);
    let solid = |value: f32, opacity: f32| {
        LayerSpec::from(LayerKind::Background(BackgroundParams {
            color_a: [value, value, value, 1.0],
            color_b: [value, value, value, 1.0],
            direction: [1.0, 0.0],
            mode: 0,
            opacity,
        }))
    };
    let half_white = solid(1.0, 0.5);
    let config = config(w, h, 1, 4);
    let mut r =
        FrameRenderer::new(ctx, config, &[solid(0.0, 1.0), half_white.clone()]).expect("renderer");
    r.upload_spectrum(&[0.0]).expect("upload");
    let rgba = r.render_rgba(&uniforms(w, h, 0, 1)).expect("render");
    // 50% white over black is 0.5 in linear light: sRGB-encoded 0.735 -> 188 (gamma-space
    // blending would give 128).
    let got = pixel(&rgba, w, 10, 5);
    assert!(near(got, [188, 188, 188]), "got {got:?}");
    // Without an opaque base the frame starts black and the result is the same.
    let mut r = FrameRenderer::new(ctx, config, &[half_white]).expect("renderer");
    r.upload_spectrum(&[0.0]).expect("upload");
    let rgba = r.render_rgba(&uniforms(w, h, 0, 1)).expect("render");
    assert!(near(pixel(&rgba, w, 10, 5), [188, 188, 188]));
}

#[test]
fn gpu_validation_errors_become_errors_not_panics() {
    if context().is_none() {
        return;
    }
    // A device of its own: the shared one is used by tests running in parallel, which must
    // not see this test's deliberate error.
    let ctx = GpuContext::new(&AdapterChoice::Cpu)
        .or_else(|_| GpuContext::new(&AdapterChoice::Auto))
        .expect("a second device");
    // MAP_READ with STORAGE is invalid without MAPPABLE_PRIMARY_BUFFERS: wgpu reports a
    // validation error, which the context collects instead of panicking.
    let _bad = ctx.device.create_buffer(&gpu::wgpu::BufferDescriptor {
        label: Some("test.invalid"),
        size: 16,
        usage: gpu::wgpu::BufferUsages::MAP_READ | gpu::wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let err = ctx.check().expect_err("the invalid buffer is reported");
    assert!(matches!(err, GpuError::Validation(_)), "{err}");
    // Reported once: the context is usable again afterwards.
    ctx.check().expect("no further errors");
}

/// The avatar layer's mask: the generated face (white here) is blended over the picture (a
/// textured grey) with no step at the face box's edge, the picture is untouched outside the
/// box, and the lower face shows the generated pixels.
#[test]
fn avatar_blend_is_feathered_with_no_step_at_the_box_edge() {
    let Some(ctx) = context() else { return };
    let (w, h) = (160u32, 120u32);
    // A picture with texture so "untouched" is a real check: a mild diagonal pattern.
    let picture: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            let v = 100 + ((x * 7 + y * 3) % 23) as u8;
            [v, v.wrapping_add(10), v.wrapping_sub(20), 255]
        })
        .collect();
    // Face box in texture coordinates: x 40..120, y 20..100 (80x80 px).
    let face_box = [
        40.0 / w as f32,
        20.0 / h as f32,
        120.0 / w as f32,
        100.0 / h as f32,
    ];
    let (feather, top) = ([0.15, 0.15], 0.45);
    let spec = LayerSpec {
        image: Some(gpu::LayerImage::Rgba {
            width: w,
            height: h,
            pixels: picture.clone(),
        }),
        ..LayerSpec::from(LayerKind::Avatar(gpu::AvatarParams {
            rect: [0.0, 0.0, w as f32, h as f32],
            uv_transform: [0.0, 0.0, 1.0, 1.0],
            face_box,
            mask: [feather[0], feather[1], top, 1.0],
            opacity: 1.0,
            mouth_only: 0.0,
            sharp: 0.0,
            _pad: 0.0,
        }))
    };
    let config = config(w, h, 1, 4);
    let mut r = FrameRenderer::new(ctx, config, &[spec]).expect("renderer");
    r.upload_spectrum(&[0.0]).expect("upload");
    let face = r.layer_storage(0).expect("avatar layer has a face buffer");
    ctx.queue.write_buffer(
        face,
        0,
        bytemuck::cast_slice(&vec![1.0f32; gpu::AVATAR_FACE_FLOATS]),
    );
    let rgba = r.render_rgba(&uniforms(w, h, 0, 1)).expect("render");
    let src = |x: u32, y: u32| pixel(&picture, w, x, y);
    let inside_box = |x: u32, y: u32| (40..120).contains(&x) && (20..100).contains(&y);
    // Outside the box: the picture, untouched.
    for y in 0..h {
        for x in 0..w {
            if !inside_box(x, y) {
                let (got, want) = (pixel(&rgba, w, x, y), src(x, y));
                assert!(
                    near(got, want),
                    "({x}, {y}) outside the box: {got:?} != {want:?}"
                );
            }
        }
    }
    // Lower middle of the face: the generated (white) face.
    let got = pixel(&rgba, w, 80, 85);
    assert!(got.iter().all(|&v| v >= 250), "lower face: {got:?}");
    // Upper face (above `top`): the picture.
    assert!(near(pixel(&rgba, w, 80, 35), src(80, 35)));
    // Continuity: the change of the blend between neighbours, beyond the picture's own
    // texture, stays small everywhere; a hard paste would jump by ~150 code values at the edge.
    // Smoothstep over 12 px rises at most 1.5/12 of the full contrast per pixel.
    let excess = |x0: u32, y0: u32, x1: u32, y1: u32| {
        let (a, b) = (pixel(&rgba, w, x0, y0), pixel(&rgba, w, x1, y1));
        let (sa, sb) = (src(x0, y0), src(x1, y1));
        (0..3)
            .map(|c| {
                let d = (i32::from(a[c]) - i32::from(b[c])).abs();
                let ds = (i32::from(sa[c]) - i32::from(sb[c])).abs();
                d - ds
            })
            .max()
            .unwrap_or(0)
    };
    let mut worst = 0;
    for y in 0..h - 1 {
        for x in 0..w - 1 {
            worst = worst
                .max(excess(x, y, x + 1, y))
                .max(excess(x, y, x, y + 1));
        }
    }
    assert!(
        worst <= 40,
        "largest step in the blend: {worst} code values"
    );
    // The CPU mirror of the mask is continuous too: zero on the edge, rising smoothly.
    for i in 0..=1000 {
        let t = i as f32 / 1000.0;
        let m = gpu::avatar_mask([t, 0.9], feather, top);
        let next = gpu::avatar_mask([t + 0.001, 0.9], feather, top);
        assert!((next - m).abs() < 0.02, "mask jumps at x = {t}");
    }
    assert_eq!(gpu::avatar_mask([0.0, 0.9], feather, top), 0.0);
    assert_eq!(gpu::avatar_mask([0.5, top], feather, top), 0.0);
}

#[test]
fn transparent_frames_come_back_with_straight_alpha() {
    let Some(ctx) = context() else { return };
    // 100 px wide: RGBA rows (400 bytes) are padded to 512 in the ring.
    let (w, h) = (100, 8);
    let config = |transparent| RendererConfig {
        output: gpu::FrameOutput::Rgba,
        transparent,
        ..config(w, h, 1, 4)
    };
    // A horizontal gradient drawn at 40% opacity: translucent everywhere.
    let layer = LayerSpec::from(LayerKind::Background(BackgroundParams {
        color_a: encoded([0xff, 0x80, 0x10]),
        color_b: encoded([0x10, 0x40, 0xe0]),
        direction: [1.0, 0.0],
        mode: 1,
        opacity: 0.4,
    }));
    let draw = |transparent| {
        let mut r = FrameRenderer::new(ctx, config(transparent), std::slice::from_ref(&layer))
            .expect("renderer");
        r.upload_spectrum(&[0.0]).expect("upload");
        let still = r.render_rgba(&uniforms(w, h, 0, 1)).expect("render");
        let gpu::FrameLayout::Rgba(layout) = r.frame_layout() else {
            panic!("RGBA output configured, got {:?}", r.frame_layout());
        };
        let mut ring = Vec::new();
        let mut sink = |_: u64, padded: &[u8]| -> Result<(), GpuError> {
            layout.pack(padded, &mut ring);
            Ok(())
        };
        r.submit(&uniforms(w, h, 0, 1), &mut sink).expect("submit");
        r.finish(&mut sink).expect("finish");
        assert_eq!(ring, still, "the ring's frame equals render_rgba's");
        still
    };
    // Over black, the target holds the premultiplied colour (alpha 1); over transparent, its
    // alpha is the layer's and the colour comes back divided by it.
    let (over_black, straight) = (draw(false), draw(true));
    for x in (0..w).step_by(9) {
        let i = ((h / 2 * w + x) * 4) as usize;
        assert_eq!(over_black[i + 3], 255);
        let alpha = straight[i + 3];
        assert!(
            alpha.abs_diff(102) <= 1,
            "x {x}: alpha {alpha}, want 0.4 * 255"
        );
        let premultiplied = [over_black[i], over_black[i + 1], over_black[i + 2], alpha];
        let want = gpu::straight_alpha_reference(premultiplied);
        let got = &straight[i..i + 4];
        assert!(
            got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 1),
            "x {x}: got {got:?}, CPU reference {want:?} (from {premultiplied:?})"
        );
        // Straight colour is brighter than what the same layer leaves over black.
        let sum = |c: &[u8]| c[..3].iter().map(|&v| u32::from(v)).sum::<u32>();
        assert!(
            sum(got) > sum(&premultiplied),
            "x {x}: {got:?} vs {premultiplied:?}"
        );
    }
}

#[test]
fn a_cached_base_gives_the_frames_a_fresh_draw_gives_and_follows_changes() {
    let Some(ctx) = context() else { return };
    let (w, h) = (48, 24);
    let config = config(w, h, 4, 4);
    let gradient = |a: [u8; 3]| {
        LayerKind::Background(BackgroundParams {
            color_a: encoded(a),
            color_b: encoded([0x10, 0x40, 0xe0]),
            direction: [1.0, 0.0],
            mode: 1,
            opacity: 1.0,
        })
    };
    // Every frame reads the one uploaded spectrum.
    let same_spectrum = |frame| FrameUniforms {
        frame_index: frame,
        ..uniforms(w, h, 0, 4)
    };
    let layers = |a| vec![LayerSpec::from(gradient(a)), bars(48.0, 24.0, 4)];
    let fresh = |a| {
        let mut r = FrameRenderer::new(ctx, config, &layers(a)).expect("renderer");
        r.upload_spectrum(&[1.0, 0.25, 0.5, 0.0]).expect("upload");
        r.render_rgba(&uniforms(w, h, 0, 4)).expect("render")
    };
    let (first, second) = (fresh([0xff, 0x80, 0x10]), fresh([0x20, 0xc0, 0x30]));
    assert_ne!(first, second);
    let mut r = FrameRenderer::new(ctx, config, &layers([0xff, 0x80, 0x10])).expect("renderer");
    r.upload_spectrum(&[1.0, 0.25, 0.5, 0.0]).expect("upload");
    // Frame 0 draws the base, frame 1 fills the cache, frames 2.. copy it.
    for frame in 0..4 {
        let got = r.render_rgba(&same_spectrum(frame)).expect("render");
        assert!(got == first, "frame {frame} differs from a fresh draw");
    }
    // A change reaches the next frame, and the frames after it (cached again).
    r.set_params(0, &gradient([0x20, 0xc0, 0x30]))
        .expect("params");
    for frame in 4..8 {
        let got = r.render_rgba(&same_spectrum(frame)).expect("render");
        assert!(
            got == second,
            "frame {frame} after the change differs from a fresh draw"
        );
    }
    // The same bytes again are no change.
    r.set_params(0, &gradient([0x20, 0xc0, 0x30]))
        .expect("params");
    let got = r.render_rgba(&same_spectrum(8)).expect("render");
    assert!(got == second);
}

#[test]
fn the_sharp_mouth_filter_keeps_edges_steeper_than_bilinear_without_halos() {
    let Some(ctx) = context() else { return };
    // A 600x200 opaque grey picture; the face box covers x 0..600 (the 96 texels upsampled
    // 6.25x).
    let (w, h) = (600u32, 200u32);
    let picture: Vec<u8> = [128u8, 128, 128, 255].repeat((w * h) as usize);
    // The generated face: dark grey left of column 48, light grey from it on (all three
    // planes); mid levels, so an overshoot is not hidden by the clamp to 0..1.
    let step: Vec<f32> = (0..gpu::AVATAR_FACE_FLOATS)
        .map(|i| {
            if (i % (96 * 96)) % 96 < 48 {
                0.25
            } else {
                0.75
            }
        })
        .collect();
    let row = |sharp: f32| -> Vec<u8> {
        let spec = LayerSpec {
            image: Some(gpu::LayerImage::Rgba {
                width: w,
                height: h,
                pixels: picture.clone(),
            }),
            ..LayerSpec::from(LayerKind::Avatar(gpu::AvatarParams {
                rect: [0.0, 0.0, w as f32, h as f32],
                uv_transform: [0.0, 0.0, 1.0, 1.0],
                face_box: [0.0, 0.0, 1.0, 1.0],
                mask: [0.1, 0.1, 0.3, 1.0],
                opacity: 1.0,
                mouth_only: 0.0,
                sharp,
                _pad: 0.0,
            }))
        };
        let config = config(w, h, 1, 4);
        let mut r = FrameRenderer::new(ctx, config, &[spec]).expect("renderer");
        r.upload_spectrum(&[0.0]).expect("upload");
        let face = r.layer_storage(0).expect("face buffer");
        ctx.queue.write_buffer(face, 0, bytemuck::cast_slice(&step));
        let rgba = r.render_rgba(&uniforms(w, h, 0, 1)).expect("render");
        // Row 130 (q.y 0.65: the mask is 1 there, away from its edges), red channel.
        (0..w).map(|x| pixel(&rgba, w, x, 130)[0]).collect()
    };
    // Pixels from 10% to 90% of the way across the edge (sRGB-encoded 0.25 -> 64, 0.75 ->
    // 191), which lies at x = 300 (the mask is 1 over x 60..540).
    let rise = |r: &[u8]| {
        let first = |level: u8| (200..400).find(|&x| r[x] >= level).expect("edge");
        first(178) - first(77)
    };
    let (smooth, sharp) = (row(0.0), row(1.0));
    let (rs, rh) = (rise(&smooth), rise(&sharp));
    assert!(
        rh < rs,
        "sharp edge rises over {rh} px, bilinear over {rs} px"
    );
    // No halos: the sharp row never leaves the two levels' range (a cubic alone dips below
    // the dark side and overshoots the light one beside the edge).
    let (dark, light) = (smooth[100], smooth[500]);
    assert!(
        (63..=65).contains(&dark) && (190..=192).contains(&light),
        "{dark} {light}"
    );
    assert!(
        sharp[80..520].iter().all(|&v| (dark..=light).contains(&v)),
        "halo: {:?}",
        &sharp[280..320]
    );
    eprintln!("10-90% rise: bilinear {rs} px, sharp {rh} px (6.25x upsampling)");
}

/// On a software adapter a zooming base picture is resampled on the CPU and uploaded (see
/// `renderer/cpu_picture.rs`); the frame must be the one the GPU pass draws (bilinear, the
/// encoded bytes stored as they are) to within one level, for a magnified, offset, non-integer
/// placement of a noisy picture (every texel differs from its neighbours).
#[test]
fn a_base_picture_resampled_on_the_cpu_matches_the_gpu_pass() {
    let Some(ctx) = context() else { return };
    if !ctx.adapter.software {
        test_support::skip::skip(
            "a_base_picture_resampled_on_the_cpu_matches_the_gpu_pass",
            "the CPU path is for software adapters",
        );
        return;
    }
    let (pw, ph) = (37u32, 23u32);
    let mut state = 0x2545_f491_u32;
    let pixels: Vec<u8> = (0..pw * ph * 4)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if i % 4 == 3 { 255 } else { (state >> 24) as u8 }
        })
        .collect();
    let (w, h) = (160u32, 96u32);
    let layer = |zoom: f32, dx: f32| {
        let (sw, sh) = (0.8 / zoom, 0.9 / zoom);
        LayerSpec {
            image: Some(gpu::LayerImage::Rgba {
                width: pw,
                height: ph,
                pixels: pixels.clone(),
            }),
            ..LayerSpec::from(LayerKind::Image(gpu::ImageParams {
                rect: [-0.3 + dx, -0.2, w as f32 + 0.7, h as f32 + 0.4],
                uv_transform: [0.5 - 0.5 * sw, 0.5 - 0.5 * sh, sw, sh],
                tint: [1.0; 4],
                opacity: 1.0,
                shape: 0,
                corner: 0.0,
                _pad: 0.0,
            }))
        }
    };
    let mut gpu_pass = ctx.clone();
    gpu_pass.adapter.software = false;
    let mut hist = [0usize; 256];
    for (zoom, dx) in [(1.0, 0.0), (1.37, 0.25), (2.9, -0.4)] {
        let spec = layer(zoom, dx);
        let draw = |c: &GpuContext| {
            let mut r = FrameRenderer::new(c, config(w, h, 4, 4), std::slice::from_ref(&spec))
                .expect("renderer");
            r.render_rgba(&uniforms(w, h, 0, 4)).expect("render")
        };
        let (cpu, gpu) = (draw(ctx), draw(&gpu_pass));
        for (a, b) in cpu.iter().zip(&gpu) {
            hist[usize::from(a.abs_diff(*b))] += 1;
        }
    }
    // lavapipe: 85% of the bytes equal, the rest within one level.
    let worst = hist.iter().rposition(|&n| n > 0).unwrap_or(0);
    let equal = hist[0] as f64 / hist.iter().sum::<usize>() as f64;
    assert!(
        worst <= 1 && equal > 0.75,
        "CPU and GPU pictures differ by up to {worst}, {:.1}% equal: {:?}",
        100.0 * equal,
        &hist[..=worst]
    );
}
