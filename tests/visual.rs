//! The visual language, rendered through the library's `render_still` on the test adapter
//! (Mesa lavapipe in CI): golden images per layer kind, reactors, custom shaders, non-ASCII
//! text, dithering, blend modes.
//!
//! Golden images live in tests/golden/. On a mismatch the actual image and an amplified diff
//! are written to target/golden-out/ (named in the failure). `GOLDEN_BLESS=1 cargo test
//! --test visual` rewrites the references (look at them before committing).

mod support;

use std::path::{Path, PathBuf};

use renderer::Job;
use support::*;

/// One GPU context for the whole file (device creation dominates small renders): the CPU
/// adapter only, whose rasteriser made the golden images.
fn ctx(test: &str) -> Option<gpu::GpuContext> {
    test_support::gpu::context(test, test_support::gpu::Adapter::Cpu).cloned()
}

/// A stereo test track written without ffmpeg: a chord on the left, a higher chord on the right,
/// a kick (low thump) every half second for the beat tracker, silence in the first 0.2 s.
fn track(dir: &Scratch) -> PathBuf {
    let path = dir.path("track.wav");
    let rate = 48_000u32;
    let n = rate as usize * 5;
    let mut samples = Vec::with_capacity(2 * n);
    for i in 0..n {
        let t = i as f32 / rate as f32;
        let on = if t < 0.2 { 0.0 } else { 1.0 };
        let beat_t = t % 0.5;
        let kick = (-beat_t * 18.0).exp() * (std::f32::consts::TAU * 55.0 * beat_t).sin() * 0.6;
        let s = |f: f32| (std::f32::consts::TAU * f * t).sin();
        let left = on * (0.2 * s(220.0) + 0.12 * s(330.0) + 0.05 * s(2500.0) + kick);
        let right = on * (0.15 * s(440.0) + 0.1 * s(660.0) + 0.04 * s(5000.0) + kick);
        samples.push(left);
        samples.push(right);
    }
    std::fs::write(&path, audio::wav::encode_i16(rate, 2, &samples)).expect("write track");
    path
}

/// A 64x48 RGBA test picture: a colour ramp with a transparent checker hole.
fn picture(dir: &Scratch) -> PathBuf {
    let path = dir.path("picture.png");
    let img = image::RgbaImage::from_fn(64, 48, |x, y| {
        let hole = (20..44).contains(&x) && (12..36).contains(&y) && (x / 4 + y / 4) % 2 == 0;
        image::Rgba([
            (x * 4) as u8,
            (y * 5) as u8,
            200,
            if hole { 0 } else { 255 },
        ])
    });
    img.save(&path).expect("write picture");
    path
}

const SIZE: &str = "[video]\nwidth = 192\nheight = 108\nfps = 30\n";

fn job(dir: &Scratch, layers: &str) -> Job {
    let text = format!(
        "audio = \"track.wav\"\noutput = \"out.mp4\"\n{SIZE}\n[[layer]]\nkind = \"background\"\ncolor = \"#141821\"\n\n{layers}"
    );
    Job::from_toml_str(&text, "visual-test.toml", dir.path("").as_path()).expect("valid job")
}

/// Renders the frame at `time` and returns (width, height, RGBA).
fn still(dir: &Scratch, job: &Job, time: f64, ctx: &gpu::GpuContext) -> (u32, u32, Vec<u8>) {
    let out = dir.path(&format!("still-{:.3}.png", time));
    renderer::render_still(job, time, &out, Some(ctx.clone())).expect("still renders");
    let img = image::open(&out).expect("png").to_rgba8();
    (img.width(), img.height(), img.into_raw())
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden")
}

/// Compares against tests/golden/<name>.png.
///
/// Tolerances, from what lavapipe's float rounding needs (measured: references blessed on a
/// 2-core Xeon, compared on a 2-core EPYC, every golden differs by at most 1 per channel, in up
/// to 6895 of 20736 pixels, mean 0.09): a pixel "differs" when a channel is off by more than
/// 2, at most 0.1 % of pixels may differ, and the mean absolute difference over all channels
/// must stay below 0.25. A wrong layout, colour, size or a missing layer breaks all three by
/// far. Each golden also has hand-computed pixel checks where its layer's colours can be
/// derived from the job alone, so a wrong reference cannot be blessed in silently.
fn assert_golden(name: &str, (w, h, rgba): &(u32, u32, Vec<u8>)) {
    let reference = golden_dir().join(format!("{name}.png"));
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/golden-out");
    if std::env::var("GOLDEN_BLESS").is_ok_and(|v| v == "1") {
        // A blessing run rewrites the references from the code under test: never in CI, where
        // it would turn every comparison into a pass.
        assert!(
            !test_support::ci(),
            "GOLDEN_BLESS=1 under CI=true: references are blessed by hand, never in CI"
        );
        std::fs::create_dir_all(golden_dir()).expect("golden dir");
        image::save_buffer(&reference, rgba, *w, *h, image::ExtendedColorType::Rgba8)
            .expect("bless");
        eprintln!("blessed {}", reference.display());
        return;
    }
    let Ok(expected) = image::open(&reference) else {
        panic!(
            "no reference {} (render it with GOLDEN_BLESS=1 cargo test --test visual)",
            reference.display()
        );
    };
    let expected = expected.to_rgba8();
    let mut differing = 0usize;
    let mut total_abs = 0u64;
    let mut diff = Vec::with_capacity(rgba.len());
    let same_size = expected.dimensions() == (*w, *h);
    if same_size {
        for (px, ex) in rgba.chunks(4).zip(expected.as_raw().chunks(4)) {
            let d: Vec<u8> = px.iter().zip(ex).map(|(a, b)| a.abs_diff(*b)).collect();
            total_abs += d.iter().map(|&v| u64::from(v)).sum::<u64>();
            if d.iter().any(|&v| v > 2) {
                differing += 1;
            }
            diff.extend(d[..3].iter().map(|&v| v.saturating_mul(16)));
            diff.push(255);
        }
    }
    let pixels = (*w as usize) * (*h as usize);
    let mean = total_abs as f64 / (pixels * 4) as f64;
    let ok = same_size && differing as f64 <= 0.001 * pixels as f64 && mean < 0.25;
    if !ok {
        std::fs::create_dir_all(&out_dir).expect("out dir");
        let actual = out_dir.join(format!("{name}.actual.png"));
        image::save_buffer(&actual, rgba, *w, *h, image::ExtendedColorType::Rgba8)
            .expect("write actual");
        let diff_path = out_dir.join(format!("{name}.diff.png"));
        if same_size {
            image::save_buffer(&diff_path, &diff, *w, *h, image::ExtendedColorType::Rgba8)
                .expect("write diff");
        }
        panic!(
            "{name}: differs from {} (size {}x{} vs {:?}, {differing} of {pixels} pixels off by \
             more than 2, mean abs diff {mean:.3}); actual: {}, diff (x16): {}",
            reference.display(),
            w,
            h,
            expected.dimensions(),
            actual.display(),
            diff_path.display()
        );
    }
}

macro_rules! golden {
    ($name:ident, $time:expr, $layers:expr) => {
        golden!($name, $time, $layers, |_frame: &(u32, u32, Vec<u8>)| {});
    };
    ($name:ident, $time:expr, $layers:expr, $checks:expr) => {
        #[test]
        fn $name() {
            let Some(ctx) = ctx(stringify!($name)) else {
                return;
            };
            let dir = Scratch::new(stringify!($name));
            track(&dir);
            picture(&dir);
            std::fs::copy(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/shaders/plasma.wgsl"),
                dir.path("plasma.wgsl"),
            )
            .expect("copy shader");
            let job = job(&dir, $layers);
            let frame = still(&dir, &job, $time, &ctx);
            // Hand-computed pixels first: they hold whatever the reference says.
            ($checks)(&frame);
            assert_golden(stringify!($name), &frame);
        }
    };
}

golden!(
    golden_gradient,
    1.0,
    "[[layer]]\nkind = \"background\"\ncolor = \"#203048\"\ncolor2 = \"#c04070c0\"\nangle = 30\nopacity = 0.9\n",
    |f: &(u32, u32, Vec<u8>)| {
        // The gradient's ends at opposite corners, each over #141821 in linear light:
        // #203048 at 0.9 -> (31, 46, 69); #c04070 at 0.9 x 0xc0 / 255 -> (162, 55, 95) (the
        // corner pixel's centre sits a hair before the end: +-2).
        expect_rgb(f, (0, 0), [31, 46, 69], 1, "gradient start");
        expect_rgb(f, (191, 107), [162, 55, 95], 2, "gradient end");
    }
);
golden!(
    golden_background_image,
    2.0,
    "[[layer]]\nkind = \"background\"\nimage = \"picture.png\"\nfit = \"cover\"\nzoom = 0.2\npulse = 0.05\n",
    |f: &(u32, u32, Vec<u8>)| {
        // "cover" fills the frame; its corners show the picture's corners, outside the
        // checkered hole, whose blue is 200 everywhere (red and green ramp with x and y).
        for corner in [(0, 0), (191, 0), (0, 107), (191, 107)] {
            let b = pixel(f, corner.0, corner.1)[2];
            assert!(b.abs_diff(200) <= 2, "picture blue at {corner:?}: {b}");
        }
    }
);
golden!(
    golden_image_logo,
    2.0,
    "[[layer]]\nkind = \"image\"\npath = \"picture.png\"\nrect = [0.1, 0.1, 0.5, 0.8]\nfit = \"contain\"\n\n[[layer]]\nkind = \"image\"\npath = \"picture.png\"\nrect = [0.65, 0.2, 0.3, 0.6]\nshape = \"circle\"\nfit = \"cover\"\n",
    |f: &(u32, u32, Vec<u8>)| {
        // "contain": the 64x48 picture in the 96x86.4 px rect at (19.2, 10.8) is scaled by
        // 1.5 to 96x72 and centred vertically, from y = 18 to 90.
        expect_rgb(
            f,
            (60, 14),
            BACKGROUND,
            1,
            "letterbox above the contained picture",
        );
        expect_rgb(f, (60, 94), BACKGROUND, 1, "letterbox below it");
        // Picture texel (4, 3) at (19.2 + 4.5 * 1.5, 18 + 3.5 * 1.5): (16, 15, 200).
        expect_rgb(f, (26, 23), [16, 15, 200], 6, "the picture's own colour");
    }
);
golden!(
    golden_bars,
    2.1,
    "[[layer]]\nkind = \"bars\"\ncount = 24\ncolor = \"#33ccff\"\ncolor2 = \"#ff5fd2\"\ngradient = \"x\"\npeaks = true\nrect = [0.05, 0.05, 0.9, 0.4]\n\n[[layer]]\nkind = \"bars\"\ncount = 16\nalign = \"center\"\nsymmetric = true\nradius = 0.5\nrect = [0.05, 0.5, 0.9, 0.45]\n",
    |f: &(u32, u32, Vec<u8>)| {
        // Outside both rects (which start at 5 % of the frame): the background alone.
        expect_rgb(f, (2, 2), BACKGROUND, 1, "corner");
        expect_rgb(f, (189, 105), BACKGROUND, 1, "far corner");
        // The first layer's leftmost bar (cell 9.6..16.8, its bottom at y = 48.6; the lowest
        // band carries the track's 55 Hz kick and 220 Hz tone) takes the x gradient at its
        // centre, t = 0.018 from #33ccff to #ff5fd2 in linear light: (64, 203, 254).
        expect_rgb(
            f,
            (13, 47),
            [64, 203, 254],
            3,
            "leftmost bar's gradient colour",
        );
    }
);
golden!(
    golden_radial,
    2.1,
    "[[layer]]\nkind = \"radial\"\ncount = 48\nradius = 0.2\nlength = 0.25\ncolor = \"#ffd060\"\ncolor2 = \"#ff4080\"\ncover = \"picture.png\"\n",
    |f: &(u32, u32, Vec<u8>)| {
        // Bars start at radius 0.2 and reach at most 0.25 further (0.45 x 108 = 48.6 px from
        // the centre): the corners, 110 px away, are background.
        expect_rgb(f, (2, 2), BACKGROUND, 1, "radial: corner");
        expect_rgb(f, (189, 105), BACKGROUND, 1, "radial: far corner");
    }
);
golden!(
    golden_waveform,
    2.2,
    "[[layer]]\nkind = \"waveform\"\nrect = [0.0, 0.0, 1.0, 0.5]\nstereo = true\nthickness = 4\nglow = 12\ncolor = \"#a0ffb0\"\n\n[[layer]]\nkind = \"waveform\"\nrect = [0.0, 0.5, 1.0, 0.5]\nstyle = \"filled\"\ncolor = \"#6080ff\"\ngain = 1.5\n",
    |f: &(u32, u32, Vec<u8>)| {
        // The filled waveform in rect y 54..108 is centred on y = 81: the pixel row just
        // above the centre is inside the fill wherever the signal is not silent (the track
        // plays from 0.2 s), in the layer's colour #6080ff.
        for x in [20, 96, 150] {
            expect_rgb(
                f,
                (x, 80),
                [0x60, 0x80, 0xff],
                2,
                "filled waveform at its centre",
            );
        }
    }
);
golden!(
    golden_spectrogram,
    3.0,
    "[[layer]]\nkind = \"spectrogram\"\npalette = \"inferno\"\nseconds = 2.5\nrect = [0.0, 0.0, 1.0, 0.5]\n\n[[layer]]\nkind = \"spectrogram\"\npalette = \"viridis\"\nseconds = 2.5\nrect = [0.0, 0.5, 1.0, 0.5]\ngamma = 0.6\n",
    |f: &(u32, u32, Vec<u8>)| {
        // The top row of each spectrogram is its highest frequency, where the track is silent
        // (its highest partial is 5 kHz): each palette's zero, matplotlib's inferno(0) =
        // (0, 0, 4) and viridis(0) = (68, 1, 84) (the shader's polynomial fits are within 3).
        expect_rgb(f, (96, 1), [0, 0, 4], 4, "inferno at silence");
        expect_rgb(f, (96, 55), [68, 1, 84], 4, "viridis at silence");
    }
);
golden!(
    golden_particles,
    2.3,
    "[[layer]]\nkind = \"particles\"\ncount = 800\nburst = 120\nsize = 6\nspeed = 500\ncolor = \"#ffd080\"\ncolor2 = \"#ff306000\"\n",
    |f: &(u32, u32, Vec<u8>)| {
        // Particles fade from #ffd080 towards a transparent #ff3060: wherever they are, their
        // brightest pixel is warm (red the largest channel, well above the background's).
        let brightest = (0..f.1)
            .flat_map(|y| (0..f.0).map(move |x| (x, y)))
            .map(|(x, y)| pixel(f, x, y))
            .max_by_key(|p| u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]))
            .expect("pixels");
        assert!(
            brightest[0] >= 150 && brightest[0] > brightest[1] && brightest[0] > brightest[2],
            "brightest particle pixel {brightest:?}"
        );
    }
);
golden!(
    golden_text,
    2.0,
    "[[layer]]\nkind = \"text\"\ntext = \"Café Ωμέγα Привет\"\nsize = 150\nposition = [0.5, 0.3]\nshadow = \"#000000\"\nshadow_offset = [6, 6]\n\n[[layer]]\nkind = \"text\"\ntext = \"{elapsed} / {total}\"\nsize = 110\nposition = [0.95, 0.8]\nalign = \"right\"\ncolor = \"#ffd060\"\n\n[[layer]]\nkind = \"progress\"\nrect = [0.05, 0.92, 0.9, 0.04]\n",
    |f: &(u32, u32, Vec<u8>)| {
        // The progress bar, rect x 9.6..182.4, y 99.4..103.7: at 2.0 s of the 5 s track
        // progress is 0.4, so the fill (#ffffff) ends at 9.6 + 0.4 x 172.8 = 78.7 px and the
        // track (#ffffff40, white at 25 % over #141821 in linear light:
        // srgb(0.25 + 0.75 x linear(20, 24, 33)) = (138, 138, 140)) covers the rest.
        expect_rgb(f, (70, 101), [255, 255, 255], 1, "progress fill");
        expect_rgb(f, (90, 101), [138, 138, 140], 1, "progress track");
        expect_rgb(f, (5, 101), BACKGROUND, 1, "left of the bar");
        // "{elapsed} / {total}", right-aligned at x = 0.95 x 192 = 182.4 around y = 86: ink
        // up to that edge and none right of it, and its brightest pixel is the text colour
        // #ffd060.
        let w = &f.0;
        let ink = |x: u32, y: u32| {
            let p = pixel(f, x, y);
            p.iter().zip(BACKGROUND).any(|(c, b)| c.abs_diff(b) > 8)
        };
        let rows = 70..99;
        let right = rows
            .clone()
            .flat_map(|y| (0..*w).filter(move |&x| ink(x, y)))
            .max()
            .expect("the time text has ink");
        assert!(
            (178..=182).contains(&right),
            "right edge of the time text at x = {right}"
        );
        let brightest = rows
            .flat_map(|y| (100..*w).map(move |x| (x, y)))
            .map(|(x, y)| pixel(f, x, y))
            .max_by_key(|p| u32::from(p[0]) + u32::from(p[1]))
            .expect("pixels");
        // At 11 px the glyphs never cover a whole pixel: the brightest one is #ffd060 at some
        // coverage a over the background, mixed in linear light. a from red, then green and
        // blue follow.
        let lin = |v: u8| {
            let c = f64::from(v) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let srgb = |l: f64| {
            let c = if l <= 0.003_130_8 {
                l * 12.92
            } else {
                1.055 * l.powf(1.0 / 2.4) - 0.055
            };
            (c * 255.0).round()
        };
        let text = [0xffu8, 0xd0, 0x60];
        let a = (lin(brightest[0]) - lin(BACKGROUND[0])) / (lin(text[0]) - lin(BACKGROUND[0]));
        assert!(
            a > 0.5,
            "the time text's brightest pixel {brightest:?} is faint"
        );
        for ch in 1..3 {
            let want = srgb(a * lin(text[ch]) + (1.0 - a) * lin(BACKGROUND[ch]));
            assert!(
                (f64::from(brightest[ch]) - want).abs() <= 3.0,
                "the time text's brightest pixel {brightest:?}: channel {ch} should be {want} \
                 for #ffd060 at coverage {a:.2}"
            );
        }
    }
);
golden!(
    golden_post_effects,
    2.0,
    "[[layer]]\nkind = \"bars\"\ncount = 12\ncolor = \"#ffffff\"\nrect = [0.1, 0.2, 0.8, 0.6]\n\n[[layer]]\nkind = \"bloom\"\nthreshold = 0.4\nintensity = 1.5\n\n[[layer]]\nkind = \"vignette\"\nstrength = 0.8\n",
    |f: &(u32, u32, Vec<u8>)| {
        // The vignette (strength 0.8) darkens the corners to under half the background, and
        // leaves the middle of the top edge (no bars, no bloom there) at the background.
        for corner in [(0, 0), (191, 0), (0, 107), (191, 107)] {
            let p = pixel(f, corner.0, corner.1);
            assert!(
                p.iter().zip(BACKGROUND).all(|(c, b)| *c <= b / 2),
                "vignette corner {corner:?}: {p:?}"
            );
        }
        expect_rgb(f, (96, 5), BACKGROUND, 1, "top centre");
        // Bloom: below the bars' rect (y > 86.4) nothing is drawn and the vignette only
        // darkens, so light there is the white bars' glow: at least 3x the background just
        // under them, falling off with distance.
        let glow = |y| pixel(f, 96, y);
        assert!(
            glow(89).iter().zip(BACKGROUND).all(|(c, b)| *c >= 3 * b),
            "bloom under the bars: {:?}",
            glow(89)
        );
        assert!(
            glow(89)[0] > glow(95)[0] && glow(95)[0] > glow(100)[0],
            "bloom falls off: {:?} {:?} {:?}",
            glow(89),
            glow(95),
            glow(100)
        );
    }
);
golden!(
    golden_blend_modes,
    1.0,
    "[[layer]]\nkind = \"image\"\npath = \"picture.png\"\nrect = [0.0, 0.0, 0.5, 1.0]\nfit = \"stretch\"\n\n[[layer]]\nkind = \"image\"\npath = \"picture.png\"\nrect = [0.5, 0.0, 0.5, 1.0]\nfit = \"stretch\"\n\n[[layer]]\nkind = \"progress\"\nrect = [0.0, 0.0, 1.0, 0.33]\ncolor = \"#ff8000\"\ntrack = \"#ff8000\"\nradius = 0\nblend = \"multiply\"\n\n[[layer]]\nkind = \"progress\"\nrect = [0.0, 0.33, 1.0, 0.33]\ncolor = \"#4060ff\"\ntrack = \"#4060ff\"\nradius = 0\nblend = \"screen\"\n\n[[layer]]\nkind = \"progress\"\nrect = [0.0, 0.66, 1.0, 0.34]\ncolor = \"#404040\"\ntrack = \"#404040\"\nradius = 0\nblend = \"add\"\n",
    |f: &(u32, u32, Vec<u8>)| {
        // The picture's blue is 200 everywhere outside its hole; blending is in linear light.
        // multiply by #ff8000: red x 1 unchanged (texel x 6.5 -> 26); green x linear(128) =
        // 0.2158: texel y 4.17 -> 20.8 -> linear 0.0074 -> 0.0016 -> 5; blue x 0 = 0.
        expect_rgb(f, (10, 10), [26, 5, 0], 4, "multiply");
        assert!(pixel(f, 10, 10)[2] <= 1, "multiply by blue 0 gives 0");
        // screen with #4060ff: 1 - (1 - b)(1 - 1) = 1 in blue.
        assert!(pixel(f, 10, 50)[2] >= 254, "screen with blue 1 gives 1");
        // add #404040: srgb(linear(200) + linear(64)) = srgb(0.5776 + 0.0513) = 208.
        let b = pixel(f, 10, 95)[2];
        assert!(b.abs_diff(208) <= 2, "add: blue {b}, hand-computed 208");
    }
);
golden!(
    golden_custom,
    2.0,
    "[[layer]]\nkind = \"custom\"\nshader = \"plasma.wgsl\"\nvalues = [0.5, \"bass\"]\nrect = [0.1, 0.1, 0.8, 0.8]\n",
    |f: &(u32, u32, Vec<u8>)| {
        // plasma.wgsl returns alpha smoothstep(0.72, 0.5, r), r the distance from the rect's
        // centre in height units (aspect 153.6 / 86.4): near a corner of the rect, uv (0.02,
        // 0.03), r = 0.97: transparent; at the centre, r = 0: opaque, and its palette colour
        // (t >= 0.25) is never the background.
        expect_rgb(
            f,
            (22, 13),
            BACKGROUND,
            1,
            "custom layer faded out at its corner",
        );
        expect_rgb(f, (170, 95), BACKGROUND, 1, "and at the opposite corner");
        let centre = pixel(f, 96, 54);
        assert!(
            centre
                .iter()
                .zip(BACKGROUND)
                .any(|(c, b)| c.abs_diff(b) > 20),
            "the custom layer is opaque at its centre: {centre:?}"
        );
    }
);

/// Asserts pixel (x, y) is within `tol` of `want` (RGB) in every channel.
fn expect_rgb(frame: &(u32, u32, Vec<u8>), (x, y): (u32, u32), want: [u8; 3], tol: u8, what: &str) {
    let got = pixel(frame, x, y);
    assert!(
        got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= tol),
        "{what}: pixel ({x}, {y}) is {got:?}, hand-computed {want:?} (+-{tol})"
    );
}

/// The job's background colour, #141821.
const BACKGROUND: [u8; 3] = [0x14, 0x18, 0x21];

fn pixel(frame: &(u32, u32, Vec<u8>), x: u32, y: u32) -> [u8; 4] {
    let i = ((y * frame.0 + x) * 4) as usize;
    [frame.2[i], frame.2[i + 1], frame.2[i + 2], frame.2[i + 3]]
}

fn solid_png(dir: &Scratch, name: &str, rgba: [u8; 4]) {
    image::RgbaImage::from_pixel(8, 8, image::Rgba(rgba))
        .save(dir.path(name))
        .expect("png");
}

#[test]
fn reactors_drive_opacity_and_position_from_time_and_features() {
    let Some(ctx) = ctx("reactors") else {
        return;
    };
    let dir = Scratch::new("reactors");
    track(&dir);
    solid_png(&dir, "red.png", [255, 0, 0, 255]);
    // Visible only after 2 s; its x position follows the render's progress (0 -> 0.8).
    let job = job(
        &dir,
        "[[layer]]\nkind = \"image\"\npath = \"red.png\"\nfit = \"stretch\"\n\
         opacity = \"clamp(time - 2, 0, 1)\"\nrect = [\"0.8 * progress\", 0.0, 0.1, 1.0]\n",
    );
    let before = still(&dir, &job, 1.0, &ctx);
    let after = still(&dir, &job, 4.0, &ctx);
    // At 1 s the layer is fully transparent: the background shows where it would be.
    let x1 = (0.8 * 1.0 / 5.0 * 192.0 + 5.0) as u32;
    assert_eq!(
        pixel(&before, x1, 50),
        pixel(&before, 150, 50),
        "invisible before 2 s"
    );
    // At 4 s (progress 0.8) it is opaque red at x = 0.64 * width, and gone from x1.
    let x4 = (0.8 * 4.0 / 5.0 * 192.0 + 9.0) as u32;
    let red = pixel(&after, x4, 50);
    assert!(
        red[0] > 240 && red[1] < 10 && red[2] < 10,
        "red at {x4}: {red:?}"
    );
    assert_ne!(pixel(&after, x1, 50)[0], 255, "moved away from {x1}");
}

#[test]
fn feature_reactors_follow_the_audio() {
    let Some(ctx) = ctx("feature reactors") else {
        return;
    };
    let dir = Scratch::new("feature-reactors");
    track(&dir);
    solid_png(&dir, "white.png", [255, 255, 255, 255]);
    // Opacity = RMS level x 4 (table form): silent in the first 0.2 s, loud afterwards.
    let job = job(
        &dir,
        "[[layer]]\nkind = \"image\"\npath = \"white.png\"\nfit = \"stretch\"\n\
         rect = [0, 0, 1, 1]\nopacity = { feature = \"rms\", scale = 4.0 }\n",
    );
    let quiet = still(&dir, &job, 0.0, &ctx);
    let loud = still(&dir, &job, 3.0, &ctx);
    let q = pixel(&quiet, 96, 54);
    let l = pixel(&loud, 96, 54);
    assert!(
        q[0] < 40,
        "silence keeps the white layer (almost) transparent: {q:?}"
    );
    assert!(l[0] > 200, "the loud part shows it: {l:?}");
}

#[test]
fn gradients_are_dithered_not_banded() {
    let Some(ctx) = ctx("dither") else {
        return;
    };
    let dir = Scratch::new("dither");
    track(&dir);
    // 192 px from #000000 to #0c0c0c: 12 code values, so undithered steps 16 px wide.
    let text = format!(
        "audio = \"track.wav\"\noutput = \"out.mp4\"\n{SIZE}\n[[layer]]\nkind = \"background\"\n\
         color = \"#000000\"\ncolor2 = \"#0c0c0c\"\nangle = 0\n"
    );
    let job = Job::from_toml_str(&text, "dither.toml", dir.path("").as_path()).expect("job");
    let frame = still(&dir, &job, 1.0, &ctx);
    let (w, h) = (frame.0, frame.1);
    let mut worst = 0.0f64;
    for x in 0..w {
        let mean: f64 = (0..h)
            .map(|y| f64::from(pixel(&frame, x, y)[0]))
            .sum::<f64>()
            / f64::from(h);
        // The shader's gradient position at pixel centre x: 12 * (x + 0.5) / w.
        let ideal = 12.0 * (f64::from(x) + 0.5) / f64::from(w);
        worst = worst.max((mean - ideal).abs());
    }
    // Rounding without dither is off by up to 0.5 code value in every column; the column means
    // of a dithered gradient follow the ideal ramp closely.
    assert!(
        worst < 0.3,
        "column means stray {worst:.3} code values from the ramp"
    );
}

#[test]
fn a_custom_shader_error_names_the_users_file_line_and_column() {
    if !have_gpu("custom shader error") {
        return;
    }
    let dir = Scratch::new("custom-error");
    std::fs::write(dir.path("track.wav"), tone_wav(48_000, 1.0)).expect("wav");
    std::fs::write(
        dir.path("broken.wgsl"),
        "// my shader\nfn shade(input: ShadeInput) -> vec4<f32> {\n    let c = input.uv.x +;\n    return vec4<f32>(c);\n}\n",
    )
    .expect("shader");
    std::fs::write(
        dir.path("job.toml"),
        "audio = \"track.wav\"\n[[layer]]\nkind = \"custom\"\nshader = \"broken.wgsl\"\n",
    )
    .expect("job");
    let job = dir.path("job.toml");
    let out = run_renderer(&[job.to_str().expect("utf-8"), "--preview", "0.5"], &[]);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bad shader is a job error: {err}"
    );
    assert!(err.contains("broken.wgsl:3:"), "line 3 named: {err}");
    let column: u32 = err
        .split("broken.wgsl:3:")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or_else(|| panic!("no column: {err}"));
    assert!(
        (22..=26).contains(&column),
        "column {column} near the stray `+`: {err}"
    );
    assert!(
        dir.files().iter().all(|f| !f.ends_with(".png")),
        "no output: {:?}",
        dir.files()
    );
}

#[test]
fn preview_writes_a_png_of_the_job_size_from_the_cli() {
    if !have_gpu("preview cli") {
        return;
    }
    let dir = Scratch::new("preview-cli");
    std::fs::write(dir.path("track.wav"), tone_wav(48_000, 2.0)).expect("wav");
    std::fs::write(
        dir.path("job.toml"),
        "audio = \"track.wav\"\n[video]\naspect = \"9:16\"\nsize = 180\n[[layer]]\nkind = \"text\"\ntext = \"Ünïcödé ✓\"\n",
    )
    .expect("job");
    let job = dir.path("job.toml");
    let png = dir.path("still.png");
    let out = run_renderer(
        &[
            job.to_str().expect("utf-8"),
            "--preview",
            "1.0",
            "--output",
            png.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let img = image::open(&png).expect("png").to_rgba8();
    assert_eq!(img.dimensions(), (180, 320), "9:16 at size 180");
    // The text drew something white near the top.
    let white = img
        .pixels()
        .filter(|p| p[0] > 200 && p[1] > 200 && p[2] > 200)
        .count();
    assert!(white > 20, "text pixels: {white}");
}
