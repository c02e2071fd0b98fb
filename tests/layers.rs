//! The layer stack from the outside: job errors in `[[layer]]` tables and `[video]` presets
//! (exit 2, the line and column, what to write instead), render-time asset errors (exit 1, the
//! file named, nothing left behind), a looping video background end to end, aspect presets as
//! PNG previews, the warm-up of stateful layers in stills, and `{elapsed}` text.

mod support;

use std::path::{Path, PathBuf};

use renderer::Job;
use support::*;

/// One GPU context for the library tests of this file (device creation dominates small stills).
fn ctx(test: &str) -> Option<gpu::GpuContext> {
    test_support::gpu::context(test, test_support::gpu::Adapter::Auto).cloned()
}

/// The start of every job in this file: a real track, so a job that is wrongly accepted goes
/// on to render (and then fails the exit-status and no-new-files checks).
const HEAD: &str = "audio = \"track.wav\"\noutput = \"out.mp4\"\n";

/// A small frame for the render-time tests.
const SMALL: &str = "[video]\nwidth = 160\nheight = 90\nfps = 10\npreset = \"ultrafast\"\n";

/// 1-based line of the `n`th (1-based) line of `body` containing `needle`.
fn nth_line_of(body: &str, needle: &str, n: usize) -> usize {
    body.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(n - 1)
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("test bug: {needle:?} #{n} not in the job:\n{body}"))
}

/// 1-based line and column of the first occurrence of `needle` in `body`.
fn position_of(body: &str, needle: &str) -> (usize, usize) {
    let line = nth_line_of(body, needle, 1);
    let text = body.lines().nth(line - 1).expect("line exists");
    let byte = text.find(needle).expect("needle on its line");
    (line, text[..byte].chars().count() + 1)
}

/// Writes `body` as job.toml beside a 1 s track and runs the renderer on it; checks exit
/// status 2, no panic and no file created or removed, and returns stderr.
fn job_error(name: &str, body: &str, extra_files: &[(&str, &[u8])]) -> String {
    let dir = Scratch::new(name);
    std::fs::write(dir.path("track.wav"), tone_wav(48_000, 1.0)).expect("write track");
    for (file, bytes) in extra_files {
        std::fs::write(dir.path(file), bytes).expect("write extra file");
    }
    let job = dir.path("job.toml");
    std::fs::write(&job, body).expect("write job");
    let before = dir.files();
    let out = run_renderer(&[job.to_str().expect("utf-8 path")], &[]);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{name}: a job error exits with 2; stderr:\n{err}"
    );
    assert!(!err.contains("panicked"), "{name}: panicked:\n{err}");
    assert!(
        err.contains("job.toml"),
        "{name}: names the job file:\n{err}"
    );
    assert_eq!(dir.files(), before, "{name}: files appeared or vanished");
    err
}

/// Asserts that `err` points at `line`, `column` (the toml crate's wording).
fn assert_at(name: &str, err: &str, (line, column): (usize, usize)) {
    let at = format!("at line {line}, column {column}");
    assert!(err.contains(&at), "{name}: stderr lacks {at:?}:\n{err}");
}

fn assert_contains_all(name: &str, err: &str, needles: &[&str]) {
    for n in needles {
        assert!(err.contains(n), "{name}: stderr lacks {n:?}:\n{err}");
    }
}

#[test]
fn an_unknown_layer_kind_names_its_line_and_lists_the_kinds() {
    let body = format!(
        "{HEAD}\n[[layer]]\nkind = \"background\"\n\n[[layer]]\nkind = \"sparkles\"\ncount = 3\n"
    );
    let err = job_error("unknown-kind", &body, &[]);
    assert_at("unknown kind", &err, position_of(&body, "\"sparkles\""));
    assert_contains_all(
        "unknown kind",
        &err,
        &[
            "unknown variant `sparkles`",
            "`background`",
            "`image`",
            "`bars`",
            "`radial`",
            "`waveform`",
            "`spectrogram`",
            "`particles`",
            "`text`",
            "`progress`",
            "`vignette`",
            "`bloom`",
            "`glow`",
            "`custom`",
        ],
    );
}

#[test]
fn a_misspelled_text_key_names_its_line_and_the_valid_keys() {
    let body = format!(
        "{HEAD}\n[[layer]]\nkind = \"background\"\n\n[[layer]]\nkind = \"text\"\ntext = \"Title\"\n\
         colour = \"#ffffff\"\n"
    );
    let err = job_error("misspelled-key", &body, &[]);
    assert_at("misspelled key", &err, position_of(&body, "colour"));
    assert_contains_all(
        "misspelled key",
        &err,
        &[
            "unknown field `colour`",
            "expected one of",
            "`color`",
            "`font`",
        ],
    );
}

#[test]
fn a_bad_reactor_expression_names_its_line_and_suggests_a_variable() {
    let body = format!(
        "{HEAD}\n[[layer]]\nkind = \"background\"\n\n[[layer]]\nkind = \"bars\"\n\
         opacity = \"0.5 + bas\"\n"
    );
    let err = job_error("bad-reactor", &body, &[]);
    assert_at("bad reactor", &err, position_of(&body, "\"0.5 + bas\""));
    assert_contains_all(
        "bad reactor",
        &err,
        &["unknown variable \"bas\"", "did you mean \"bass\""],
    );
}

#[test]
fn a_constant_out_of_range_names_its_line_and_the_range() {
    let body =
        format!("{HEAD}\n[[layer]]\nkind = \"text\"\ntext = \"Title\"\nopacity = 1.5\nsize = 40\n");
    let err = job_error("out-of-range", &body, &[]);
    assert_at("out of range", &err, position_of(&body, "1.5"));
    assert_contains_all(
        "out of range",
        &err,
        &["must be between 0 and 1", "got 1.5"],
    );
}

#[test]
fn rect_and_rect_px_together_are_rejected_at_the_layer() {
    let body = format!(
        "{HEAD}\n[[layer]]\nkind = \"background\"\n\n[[layer]]\nkind = \"bars\"\n\
         rect = [0.1, 0.1, 0.8, 0.8]\nrect_px = [10, 10, 100, 50]\n"
    );
    let err = job_error("rect-and-rect-px", &body, &[]);
    // The second [[layer]] header: the error belongs to the layer, not to either key alone.
    assert_at(
        "rect and rect_px",
        &err,
        (nth_line_of(&body, "[[layer]]", 2), 1),
    );
    assert_contains_all(
        "rect and rect_px",
        &err,
        &["bars layer", "rect", "rect_px", "not both"],
    );
}

#[test]
fn aspect_with_width_and_size_without_aspect_are_rejected() {
    let body = format!("{HEAD}\n[video]\naspect = \"9:16\"\nwidth = 640\nfps = 30\n");
    let err = job_error("aspect-and-width", &body, &[]);
    assert_at("aspect and width", &err, position_of(&body, "[video]"));
    assert_contains_all(
        "aspect and width",
        &err,
        &["aspect", "width and height", "not both"],
    );

    let body = format!("{HEAD}\n[video]\nfps = 30\nsize = 720\n");
    let err = job_error("size-without-aspect", &body, &[]);
    assert_at("size without aspect", &err, position_of(&body, "[video]"));
    assert_contains_all(
        "size without aspect",
        &err,
        &["size goes with aspect", "aspect = \"9:16\""],
    );
}

#[test]
fn an_unknown_blend_mode_names_its_line_and_the_modes() {
    let body = format!(
        "{HEAD}\n[[layer]]\nkind = \"background\"\n\n[[layer]]\nkind = \"vignette\"\n\
         blend = \"overlay\"\n"
    );
    let err = job_error("blend-overlay", &body, &[]);
    assert_at("blend overlay", &err, position_of(&body, "\"overlay\""));
    assert_contains_all(
        "blend overlay",
        &err,
        &["`overlay`", "`normal`", "`add`", "`screen`", "`multiply`"],
    );
}

#[test]
fn a_custom_layer_with_a_missing_shader_names_the_file() {
    let body = format!("{HEAD}\n[[layer]]\nkind = \"custom\"\nshader = \"shaders/nope.wgsl\"\n");
    let err = job_error("custom-missing", &body, &[]);
    assert_contains_all(
        "custom missing",
        &err,
        &["custom layer", "cannot read shader", "shaders/nope.wgsl"],
    );
}

/// `Job::parse_str` (what the fuzzer runs) reads no file: a custom layer's missing shader and an
/// avatar's missing face video pass it, and `from_toml_str` (parse, then the checks that read
/// files) reports them.
#[test]
fn parse_str_reads_no_files_and_from_toml_str_does() {
    let base = Path::new("/nonexistent");
    for (what, layer) in [
        ("custom", "kind = \"custom\"\nshader = \"nope.wgsl\"\n"),
        (
            "avatar",
            "kind = \"avatar\"\nface = \"nope.mp4\"\ncheckpoint = \"w.pth\"\n",
        ),
    ] {
        let body = format!("{HEAD}\n[[layer]]\n{layer}");
        Job::parse_str(&body, "pure.toml", base)
            .unwrap_or_else(|e| panic!("{what}: parse_str must not look at files: {e}"));
        let err = Job::from_toml_str(&body, "pure.toml", base)
            .expect_err("from_toml_str checks the file");
        assert!(err.to_string().contains("nope."), "{what}: {err}");
    }
}

#[test]
fn an_image_layer_needs_exactly_one_of_path_or_video() {
    let neither = format!(
        "{HEAD}\n[[layer]]\nkind = \"background\"\n\n[[layer]]\nkind = \"image\"\n\
         rect = [0, 0, 1, 1]\n"
    );
    let both =
        format!("{HEAD}\n[[layer]]\nkind = \"image\"\npath = \"logo.png\"\nvideo = \"clip.mp4\"\n");
    for (name, body, header) in [("neither", &neither, 2), ("both", &both, 1)] {
        let err = job_error(&format!("image-{name}"), body, &[]);
        assert_at(name, &err, (nth_line_of(body, "[[layer]]", header), 1));
        assert_contains_all(name, &err, &["image layer", "exactly one of path", "video"]);
    }
}

#[test]
fn job_errors_from_the_library_carry_the_name_and_line() {
    let body = format!("{HEAD}\n[[layer]]\nkind = \"radial\"\nrotation = \"time * 2 * pii\"\n");
    let err = Job::from_toml_str(&body, "lib-job.toml", Path::new("/nonexistent"))
        .expect_err("a bad expression is a job error");
    let renderer::JobError::Parse { path, message } = &err else {
        panic!("expected JobError::Parse, got {err:?}");
    };
    assert_eq!(path, "lib-job.toml");
    let (line, column) = position_of(&body, "\"time * 2 * pii\"");
    assert!(
        message.contains(&format!("at line {line}, column {column}")),
        "{message}"
    );
    assert!(message.contains("did you mean \"pi\""), "{message}");
}

/// Runs a render (or, with `preview`, a still) of a job whose layers reference a broken asset
/// and checks exit status 1, the `needles` in stderr and that no file appeared.
fn asset_error(name: &str, layers: &str, files: &[(&str, Vec<u8>)], needles: &[&str]) {
    let dir = Scratch::new(name);
    std::fs::write(dir.path("track.wav"), tone_wav(48_000, 1.0)).expect("write track");
    for (file, bytes) in files {
        std::fs::write(dir.path(file), bytes).expect("write asset");
    }
    let job = dir.path("job.toml");
    std::fs::write(&job, format!("{HEAD}{SMALL}\n{layers}")).expect("write job");
    let job = job.to_str().expect("utf-8 path");
    let png = dir.path("still.png");
    let png = png.to_str().expect("utf-8 path");
    for args in [vec![job], vec![job, "--preview", "0.5", "--output", png]] {
        let before = dir.files();
        let out = run_renderer(&args, &[]);
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name} {args:?}: a broken asset fails the render; stderr:\n{err}"
        );
        assert!(!err.contains("panicked"), "{name}: panicked:\n{err}");
        assert_contains_all(name, &err, needles);
        assert_eq!(
            dir.files(),
            before,
            "{name} {args:?}: files appeared or vanished (no output may be left behind)"
        );
    }
}

/// Deterministic bytes that are no known file format.
fn garbage(len: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

#[test]
fn a_missing_image_fails_the_render_naming_the_file() {
    asset_error(
        "asset-missing-png",
        "[[layer]]\nkind = \"image\"\npath = \"art/logo.png\"\n",
        &[],
        &["art/logo.png", "cannot use it as an image", "No such file"],
    );
}

#[test]
fn a_garbage_png_fails_the_render_naming_the_file() {
    let mut fake_png = b"\x89PNG\r\n\x1a\n".to_vec();
    fake_png.extend(garbage(4000));
    asset_error(
        "asset-garbage-png",
        "[[layer]]\nkind = \"image\"\npath = \"noise.png\"\n\n[[layer]]\nkind = \"background\"\n\
         image = \"fake.png\"\n",
        &[("noise.png", garbage(4000)), ("fake.png", fake_png.clone())],
        &["noise.png", "PNG and JPEG files are supported"],
    );
    // A PNG signature followed by garbage, as a background's image.
    asset_error(
        "asset-garbage-png-bg",
        "[[layer]]\nkind = \"background\"\nimage = \"fake.png\"\n",
        &[("fake.png", fake_png)],
        &["fake.png", "cannot use it as an image"],
    );
}

#[test]
fn a_missing_background_video_fails_the_render_naming_the_file() {
    asset_error(
        "asset-missing-video",
        "[[layer]]\nkind = \"background\"\nvideo = \"clips/loop.mp4\"\n",
        &[],
        &["clips/loop.mp4", "does not exist"],
    );
}

#[test]
fn a_garbage_font_fails_the_render_naming_the_file() {
    asset_error(
        "asset-garbage-font",
        "[[layer]]\nkind = \"text\"\ntext = \"Title\"\nfont = \"garbage.ttf\"\n",
        &[("garbage.ttf", garbage(3000))],
        &["garbage.ttf", "not a usable TrueType/OpenType font"],
    );
}

/// Frames of an RGB24 file of `width` x `height` frames.
fn frames(raw: &[u8], width: usize, height: usize) -> Vec<&[u8]> {
    raw.chunks_exact(width * height * 3).collect()
}

/// Mean absolute difference per channel between two frames.
fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "frames of one size");
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x.abs_diff(*y)))
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn a_video_background_plays_and_loops() {
    if !require_ffmpeg("video background") || !have_gpu("video background") {
        return;
    }
    let dir = Scratch::new("video-background");
    // 1 s at 10 fps whose colour ramps over the clip (red up, blue down): frames 0.5 s apart
    // differ by about half the range, and a loop shows the same colour again. (testsrc2 at
    // this size is mostly its static colour bars: its frames differ by 1-2 code values.)
    let clip = dir.path("clip.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "nullsrc=size=64x36:rate=10:duration=1,format=gbrp,geq=r='255*T':g='4*X':b='255-255*T'",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        clip.to_str().expect("utf-8 path"),
    ]);
    std::fs::write(dir.path("track.wav"), tone_wav(48_000, 3.0)).expect("write track");
    let job = dir.path("job.toml");
    std::fs::write(
        &job,
        format!(
            "{HEAD}[video]\nwidth = 160\nheight = 90\nfps = 10\nencoder = \"x264\"\n\
             preset = \"ultrafast\"\n\n[[layer]]\nkind = \"background\"\nvideo = \"clip.mp4\"\n"
        ),
    )
    .expect("write job");
    let out = run_renderer(&[job.to_str().expect("utf-8 path")], &[]);
    assert!(out.status.success(), "render failed:\n{}", stderr(&out));

    let video = dir.path("out.mp4");
    let info = probe(&video, "v");
    assert_eq!(info["nb_read_frames"], "30", "3 s at 10 fps: {info:?}");
    assert_eq!((&*info["width"], &*info["height"]), ("160", "90"));

    let raw_path = dir.path("frames.rgb");
    ffmpeg(&[
        "-i",
        video.to_str().expect("utf-8 path"),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        raw_path.to_str().expect("utf-8 path"),
    ]);
    let raw = std::fs::read(&raw_path).expect("read frames");
    let f = frames(&raw, 160, 90);
    assert_eq!(f.len(), 30, "decoded frames");
    // Frame n is shown at n / 10 s.
    let (at_0_2, at_0_7, at_1_2) = (f[2], f[7], f[12]);
    let plays = mean_abs_diff(at_0_2, at_0_7);
    assert!(
        plays > 30.0,
        "the frames at 0.2 s and 0.7 s should differ markedly (the video plays): mean abs \
         difference {plays:.2}"
    );
    let looped = mean_abs_diff(at_1_2, at_0_2);
    let unlike = mean_abs_diff(at_1_2, at_0_7);
    assert!(
        looped < 6.0 && looped * 5.0 < unlike,
        "after the 1 s clip ends it starts again: the frame at 1.2 s differs from 0.2 s by \
         {looped:.2} and from 0.7 s by {unlike:.2}"
    );
    // Nothing but the MP4 (and our own files) in the folder: no temporary files left.
    assert_eq!(
        dir.files(),
        ["clip.mp4", "frames.rgb", "job.toml", "out.mp4", "track.wav"]
    );

    // A preview at 1.2 s starts the clip mid-way (1.2 s into a 1 s loop) and shows what the
    // full render shows then.
    let png = dir.path("preview.png");
    let out = run_renderer(
        &[
            job.to_str().expect("utf-8 path"),
            "--preview",
            "1.2",
            "--output",
            png.to_str().expect("utf-8 path"),
        ],
        &[],
    );
    assert!(out.status.success(), "preview failed:\n{}", stderr(&out));
    let preview = image::open(&png).expect("preview PNG").to_rgb8().into_raw();
    let same = mean_abs_diff(&preview, at_1_2);
    let other = mean_abs_diff(&preview, at_0_7);
    assert!(
        same < 6.0 && same * 5.0 < other,
        "the preview at 1.2 s differs from the render's frame at 1.2 s by {same:.2} and from \
         its frame at 0.7 s by {other:.2}"
    );
}

#[test]
fn aspect_presets_give_even_preview_sizes() {
    // The rule (Aspect::dimensions): the short side is `size`, the long side is size x ratio
    // rounded to an even number. 4:5 at 180 is 225 exactly between 224 and 226; halves round
    // away from zero, so 226.
    let cases = [
        ("16:9", 180, (320, 180)),
        ("9:16", 180, (180, 320)),
        ("1:1", 180, (180, 180)),
        ("4:5", 180, (180, 226)),
        ("16:9", 100, (178, 100)),
    ];
    for (aspect, size, expected) in cases {
        let body = format!("{HEAD}[video]\naspect = \"{aspect}\"\nsize = {size}\n");
        let job = Job::from_toml_str(&body, "aspect.toml", Path::new("")).expect("valid job");
        let got = (job.video.width.0, job.video.height.0);
        assert_eq!(got, expected, "aspect {aspect} at size {size}");
        assert!(
            got.0.is_multiple_of(2) && got.1.is_multiple_of(2),
            "both sides even: {got:?}"
        );
    }

    if !have_gpu("aspect previews") {
        return;
    }
    let dir = Scratch::new("aspect-previews");
    std::fs::write(dir.path("track.wav"), tone_wav(48_000, 1.0)).expect("write track");
    for (aspect, expected) in [
        ("9:16", (180, 320)),
        ("1:1", (180, 180)),
        ("4:5", (180, 226)),
    ] {
        let job = dir.path("job.toml");
        std::fs::write(
            &job,
            format!(
                "{HEAD}[video]\naspect = \"{aspect}\"\nsize = 180\n\n[[layer]]\n\
                 kind = \"background\"\ncolor = \"#336699\"\n\n[[layer]]\nkind = \"bars\"\n"
            ),
        )
        .expect("write job");
        let png = dir.path("preview.png");
        let out = run_renderer(
            &[
                job.to_str().expect("utf-8 path"),
                "--preview",
                "0.5",
                "--output",
                png.to_str().expect("utf-8 path"),
            ],
            &[],
        );
        assert!(out.status.success(), "{aspect}: {}", stderr(&out));
        let img = image::open(&png).expect("preview is a PNG").to_rgba8();
        assert_eq!(img.dimensions(), expected, "preview size for {aspect}");
        // The background fills the whole frame, corners included.
        for (x, y) in [(0, 0), (expected.0 - 1, expected.1 - 1)] {
            let p = img.get_pixel(x, y);
            assert!(
                p[0].abs_diff(0x33) <= 2 && p[1].abs_diff(0x66) <= 2 && p[2].abs_diff(0x99) <= 2,
                "{aspect}: corner ({x}, {y}) is {p:?}, not the background"
            );
        }
        std::fs::remove_file(&png).expect("remove preview");
    }
}

/// Renders the still at `time` of a job given as TOML, in `dir`; returns (width, height, RGBA).
fn still(dir: &Scratch, toml: &str, time: f64, ctx: &gpu::GpuContext) -> (u32, u32, Vec<u8>) {
    let job = Job::from_toml_str(toml, "still.toml", dir.dir()).expect("valid job");
    let out: PathBuf = dir.path(&format!("still-{time:.3}.png"));
    let summary = renderer::render_still(&job, time, &out, Some(ctx.clone())).expect("renders");
    assert!(
        (summary.time - time).abs() < 1e-6,
        "shown {} for {time}",
        summary.time
    );
    let img = image::open(&out).expect("png").to_rgba8();
    std::fs::remove_file(&out).expect("remove still");
    (img.width(), img.height(), img.into_raw())
}

/// The RGB of pixel (x, y).
fn rgb(frame: &(u32, u32, Vec<u8>), x: u32, y: u32) -> [u8; 3] {
    let i = ((y * frame.0 + x) * 4) as usize;
    [frame.2[i], frame.2[i + 1], frame.2[i + 2]]
}

#[test]
fn a_spectrogram_still_has_the_same_history_whatever_the_jobs_start() {
    let Some(ctx) = ctx("spectrogram warm-up") else {
        return;
    };
    let dir = Scratch::new("spectrogram-warmup");
    std::fs::write(dir.path("track.wav"), tone_wav(48_000, 4.0)).expect("write track");
    // 4 s of history across the width, grey palette (silence is black).
    let job = |start: &str| {
        format!(
            "{HEAD}{start}[video]\nwidth = 160\nheight = 90\nfps = 30\n\n[[layer]]\n\
             kind = \"spectrogram\"\nseconds = 4\npalette = \"grey\"\n"
        )
    };
    let from_zero = still(&dir, &job(""), 3.0, &ctx);
    let from_two = still(&dir, &job("start = 2.0\n"), 3.0, &ctx);
    assert_eq!((from_zero.0, from_zero.1), (160, 90));

    // The same time reached through different starts: the same history (within rounding).
    let close = from_zero
        .2
        .chunks(4)
        .zip(from_two.2.chunks(4))
        .filter(|(a, b)| a.iter().zip(*b).all(|(x, y)| x.abs_diff(*y) <= 2))
        .count();
    let pixels = 160 * 90;
    assert!(
        close as f64 >= 0.99 * pixels as f64,
        "only {close} of {pixels} pixels match between start = 0 and start = 2"
    );

    for (name, frame) in [("start = 0", &from_zero), ("start = 2", &from_two)] {
        let lit = |x0: u32, x1: u32| {
            (x0..x1)
                .flat_map(|x| (0..90).map(move |y| (x, y)))
                .filter(|&(x, y)| rgb(frame, x, y)[0] > 64)
                .count()
        };
        // At 3.0 s the 4 s window holds 3 s of audio: the right three quarters. Left of centre
        // (0.3-0.5 of the width, 1.2-2 s of history back from 3 s, i.e. 1-1.8 s into the
        // track) the tone's band is lit; before the track began (the left fifth) nothing is.
        let history = lit(48, 80);
        assert!(
            history > 32,
            "{name}: the spectrogram is empty left of centre ({history} lit pixels): the \
             still was not warmed up"
        );
        let before_audio = lit(0, 32);
        assert_eq!(
            before_audio, 0,
            "{name}: {before_audio} lit pixels in the part of the window before the track began"
        );
        let newest = lit(150, 160);
        assert!(newest > 5, "{name}: the newest columns are lit ({newest})");
    }
}

#[test]
fn elapsed_text_changes_between_stills_and_static_text_does_not() {
    let Some(ctx) = ctx("elapsed text") else {
        return;
    };
    let dir = Scratch::new("elapsed-text");
    std::fs::write(dir.path("track.wav"), tone_wav(48_000, 4.0)).expect("write track");
    let toml = format!(
        "{HEAD}[video]\nwidth = 192\nheight = 108\nfps = 30\n\n[[layer]]\nkind = \"background\"\n\
         color = \"#202020\"\n\n[[layer]]\nkind = \"text\"\ntext = \"{{elapsed}}\"\nsize = 300\n\
         position = [0.5, 0.25]\n\n[[layer]]\nkind = \"text\"\ntext = \"Title\"\nsize = 300\n\
         position = [0.5, 0.75]\n"
    );
    let one = still(&dir, &toml, 1.0, &ctx);
    let two = still(&dir, &toml, 2.0, &ctx);
    let (w, h) = (one.0, one.1);
    let half = |frame: &(u32, u32, Vec<u8>), top: bool| -> Vec<[u8; 3]> {
        let ys = if top { 0..h / 2 } else { h / 2..h };
        ys.flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| rgb(frame, x, y))
            .collect()
    };
    let white = |px: &[[u8; 3]]| px.iter().filter(|p| p.iter().all(|&c| c > 200)).count();
    let changed = |a: &[[u8; 3]], b: &[[u8; 3]], by: u8| {
        a.iter()
            .zip(b)
            .filter(|(p, q)| p.iter().zip(q.iter()).any(|(x, y)| x.abs_diff(*y) > by))
            .count()
    };
    let (top1, top2) = (half(&one, true), half(&two, true));
    let (bottom1, bottom2) = (half(&one, false), half(&two, false));
    for (name, px) in [
        ("0:01", &top1),
        ("0:02", &top2),
        ("Title at 1 s", &bottom1),
        ("Title at 2 s", &bottom2),
    ] {
        assert!(white(px) > 20, "{name}: text drawn ({} white)", white(px));
    }
    let moved = changed(&top1, &top2, 64);
    assert!(
        moved > 20,
        "\"{{elapsed}}\" shows 0:01 then 0:02: only {moved} pixels changed"
    );
    let still_changed = changed(&bottom1, &bottom2, 2);
    assert_eq!(
        still_changed, 0,
        "static text changed in {still_changed} pixels"
    );
}
