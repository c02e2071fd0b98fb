//! The avatar layer end to end through the CLI: MTCNN on a real photograph (scikit-image's
//! astronaut.png, fetched with pip at test time), Wav2Lip with a seeded random-weight checkpoint
//! (the real architecture, written by the wav2lip crate), the feathered blend, and the classic
//! Wav2Lip job (a full-frame avatar over a face video with a separate speech track gives a video
//! at the source's size and frame rate). Each generated frame costs ~10-15 s on lavapipe, so
//! the renders are 2-3 frames long.
//!
//! Without network access (pip) the tests print SKIPPED, except under CI=true where they fail.

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use support::*;

fn cache() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-cache")
}

/// (checkpoint, MTCNN weights folder, astronaut.png), made or fetched once per test binary.
fn fixtures(test: &str) -> Option<&'static (PathBuf, PathBuf, PathBuf)> {
    static FIXTURES: OnceLock<Option<(PathBuf, PathBuf, PathBuf)>> = OnceLock::new();
    if !require_ffmpeg(test) || !have_gpu(test) {
        return None;
    }
    FIXTURES
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("avatar-fixtures");
            std::fs::create_dir_all(&dir).expect("fixture folder");
            let checkpoint = dir.join("random-wav2lip.safetensors");
            if !checkpoint.is_file() {
                let tmp = dir.join("random-wav2lip.partial");
                let ckpt = wav2lip::model::random_checkpoint(11);
                wav2lip::checkpoint::write_safetensors(&tmp, ckpt.tensors())
                    .expect("write random checkpoint");
                std::fs::rename(&tmp, &checkpoint).expect("rename checkpoint");
            }
            let weights = cache().join("mtcnn");
            let fetched = wav2lip::fetch::mtcnn_weights(&weights)
                .and_then(|_| wav2lip::fetch::test_photo(&cache().join("skimage")));
            match fetched {
                Ok(photo) => Some((checkpoint, weights, photo)),
                Err(e) => {
                    assert!(
                        !test_support::ci(),
                        "CI=true and the avatar fixtures cannot be fetched: {e}"
                    );
                    test_support::skip(test, &format!("fixtures cannot be fetched: {e}"));
                    None
                }
            }
        })
        .as_ref()
}

/// The astronaut's face in astronaut.png (checked by eye; see crates/wav2lip/tests/mtcnn.rs),
/// grown by the default pads (bottom 10) and a margin for the detector's jitter.
const FACE_REGION: [u32; 4] = [181 - 8, 62 - 8, 268 + 8, 172 + 10 + 8];

fn rgb_frames(video: &Path, w: usize, h: usize) -> Vec<Vec<u8>> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(video)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(out.status.success(), "decode {}", video.display());
    out.stdout.chunks(w * h * 3).map(<[u8]>::to_vec).collect()
}

/// Luma-weighted PSNR of two RGB frames over the pixels `keep` selects.
fn psnr_where(a: &[u8], b: &[u8], w: usize, keep: impl Fn(usize, usize) -> bool) -> f64 {
    let (mut se, mut n) = (0.0f64, 0usize);
    for (i, (pa, pb)) in a.chunks(3).zip(b.chunks(3)).enumerate() {
        if !keep(i % w, i / w) {
            continue;
        }
        for c in 0..3 {
            se += (f64::from(pa[c]) - f64::from(pb[c])).powi(2);
        }
        n += 3;
    }
    10.0 * (255.0f64.powi(2) / (se / n.max(1) as f64).max(1e-12)).log10()
}

fn outside(region: [u32; 4]) -> impl Fn(usize, usize) -> bool {
    move |x, y| {
        let (x, y) = (x as u32, y as u32);
        x < region[0] || x >= region[2] || y < region[1] || y >= region[3]
    }
}

/// A lossless 10 fps clip of `frames` frames made from the photograph with ffmpeg's filter
/// chain `vf` (scaling and per-frame motion).
fn face_clip(path: &Path, photo: &Path, vf: &str, frames: u32) {
    photo_clip(path, photo, &["-vf", vf], None, frames);
}

/// A lossless 10 fps clip of `frames` frames of the looped photograph through `filter` (e.g.
/// `["-vf", chain]` or `["-filter_complex", graph]`), the photograph read at `input_fps`
/// (ffmpeg's 25 when None; filters that count frames see that rate).
fn photo_clip(path: &Path, photo: &Path, filter: &[&str], input_fps: Option<u32>, frames: u32) {
    let rate = input_fps.map(|r| r.to_string());
    let frames = frames.to_string();
    let mut args: Vec<&str> = Vec::new();
    if let Some(r) = &rate {
        args.extend(["-framerate", r]);
    }
    args.extend(["-loop", "1", "-i", photo.to_str().expect("utf-8")]);
    args.extend(filter);
    args.extend([
        "-r",
        "10",
        "-frames:v",
        &frames,
        "-c:v",
        "libx264",
        "-qp",
        "0",
    ]);
    args.extend(["-pix_fmt", "yuv444p", path.to_str().expect("utf-8")]);
    ffmpeg(&args);
}

#[test]
fn still_face_avatar_keeps_every_pixel_outside_the_face() {
    let test = "still_face_avatar_keeps_every_pixel_outside_the_face";
    let Some((checkpoint, weights, photo)) = fixtures(test) else {
        return;
    };
    let dir = Scratch::new("avatar-still");
    let audio = dir.path("speech.wav");
    make_audio(&audio, 1.0, 16_000, 1);
    let job = dir.path("job.toml");
    std::fs::write(
        &job,
        format!(
            r#"audio = "{audio}"
output = "out.mp4"
duration = 0.4

[video]
width = 512
height = 512
fps = 5
preset = "ultrafast"

[[layer]]
kind = "avatar"
face = "{photo}"
checkpoint = "{checkpoint}"
detector = "{weights}"
"#,
            audio = audio.display(),
            photo = photo.display(),
            checkpoint = checkpoint.display(),
            weights = weights.display()
        ),
    )
    .expect("write job");
    let job_arg = job.to_str().expect("utf-8");
    let out = run_renderer(&[job_arg], &[]);
    assert!(out.status.success(), "render failed: {}", stderr(&out));
    let mp4 = dir.path("out.mp4");
    let v = probe(&mp4, "v");
    assert_eq!(v["nb_read_frames"], "2", "{v:?}");
    assert_eq!((v["width"].as_str(), v["height"].as_str()), ("512", "512"));
    assert_eq!(probe(&mp4, "a")["codec_name"], "aac");

    // A lossless still of the same frame: every pixel outside the face region is the photo's.
    let still = dir.path("still.png");
    let out = run_renderer(
        &[
            job_arg,
            "--preview",
            "0.2",
            "--output",
            still.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert!(out.status.success(), "preview failed: {}", stderr(&out));
    let got = image::open(&still).expect("still").to_rgb8();
    let src = image::open(photo).expect("photo").to_rgb8();
    let mut changed_inside = 0;
    for (x, y, p) in got.enumerate_pixels() {
        let s = src.get_pixel(x, y);
        let diff = (0..3).map(|c| p[c].abs_diff(s[c])).max().unwrap_or(0);
        if outside(FACE_REGION)(x as usize, y as usize) {
            assert!(diff <= 1, "({x}, {y}) outside the face: {p:?} != {s:?}");
        } else if diff > 8 {
            changed_inside += 1;
        }
    }
    // The generated (random-weight) lower face replaces a good part of the box.
    assert!(
        changed_inside > 1500,
        "only {changed_inside} pixels changed in the face"
    );
    // The encoded frames agree with the photo outside the face (x264's loss only).
    for (i, frame) in rgb_frames(&mp4, 512, 512).iter().enumerate() {
        let psnr = psnr_where(frame, src.as_raw(), 512, outside(FACE_REGION));
        assert!(
            psnr >= 35.0,
            "frame {i}: PSNR outside the face {psnr:.1} dB"
        );
    }
}

#[test]
fn classic_wav2lip_job_takes_the_face_videos_size_and_fps() {
    let test = "classic_wav2lip_job_takes_the_face_videos_size_and_fps";
    let Some((checkpoint, _, photo)) = fixtures(test) else {
        return;
    };
    let dir = Scratch::new("avatar-video");
    // A 2-frame face video at 10 fps (shorter than the 3-frame render: it loops), 320x320,
    // the face drifting by a pixel per frame; music as the job's audio, a voice-like tone as
    // the speech.
    let face = dir.path("face.mp4");
    face_clip(
        &face,
        photo,
        "scale=320:320,crop=316:316:n:0,pad=320:320:0:0",
        2,
    );
    let music = dir.path("music.wav");
    make_audio(&music, 1.0, 44_100, 2);
    let speech = dir.path("speech.wav");
    std::fs::write(&speech, tone_wav(16_000, 1.0)).expect("speech");
    // The face (astronaut box scaled by 320/512) with the default pads, fixed: no detector.
    let job = dir.path("job.toml");
    std::fs::write(
        &job,
        format!(
            r#"audio = "{music}"
output = "out.mp4"
duration = 0.3

[video]
preset = "ultrafast"

[[layer]]
kind = "avatar"
face = "face.mp4"
speech = "speech.wav"
checkpoint = "{checkpoint}"
box = [113, 39, 168, 108]
"#,
            music = music.display(),
            checkpoint = checkpoint.display(),
        ),
    )
    .expect("write job");
    let out = run_renderer(&[job.to_str().expect("utf-8")], &[]);
    assert!(out.status.success(), "render failed: {}", stderr(&out));
    let mp4 = dir.path("out.mp4");
    let v = probe(&mp4, "v");
    assert_eq!(
        (v["width"].as_str(), v["height"].as_str()),
        ("320", "320"),
        "{v:?}"
    );
    assert_eq!(v["r_frame_rate"], "10/1", "{v:?}");
    assert_eq!(v["nb_read_frames"], "3", "{v:?}");
    // Outside the box (+pads, + a margin for the bilinear edge), each frame is the source
    // frame it shows: frames 0, 1, then 0 again (the clip loops).
    let region = [113 - 2, 39 - 2, 168 + 2, 108 + 10 + 2];
    let source = rgb_frames(&face, 320, 320);
    let rendered = rgb_frames(&mp4, 320, 320);
    assert_eq!(source.len(), 2);
    for (i, frame) in rendered.iter().enumerate() {
        let own = psnr_where(frame, &source[i % 2], 320, outside(region));
        let other = psnr_where(frame, &source[(i + 1) % 2], 320, outside(region));
        assert!(own >= 35.0, "frame {i}: PSNR outside the face {own:.1} dB");
        assert!(
            own > other + 3.0,
            "frame {i} shows the wrong source frame ({own:.1} vs {other:.1} dB)"
        );
    }
}

#[test]
fn avatar_errors_name_the_file_or_the_frame() {
    let test = "avatar_errors_name_the_file_or_the_frame";
    let Some((checkpoint, weights, _)) = fixtures(test) else {
        return;
    };
    let dir = Scratch::new("avatar-errors");
    let audio = dir.path("a.wav");
    std::fs::write(&audio, tone_wav(16_000, 1.0)).expect("audio");
    // A picture without a face.
    let blank = dir.path("blank.png");
    image::RgbImage::from_fn(256, 256, |x, y| image::Rgb([x as u8, y as u8, 128]))
        .save(&blank)
        .expect("blank");
    let empty = dir.path("no-weights");
    std::fs::create_dir_all(&empty).expect("empty folder");
    let not_wav2lip = weights.join("pnet.pt");
    let run = |face: &Path, ckpt: &Path, detector: &Path, extra: &str| {
        let job = dir.path("job.toml");
        std::fs::write(
            &job,
            format!(
                r#"audio = "{}"
output = "out.mp4"
duration = 0.2

[video]
width = 256
height = 256
fps = 5

[[layer]]
kind = "avatar"
face = "{}"
checkpoint = "{}"
detector = "{}"
{extra}
"#,
                audio.display(),
                face.display(),
                ckpt.display(),
                detector.display()
            ),
        )
        .expect("job");
        let out = run_renderer(&[job.to_str().expect("utf-8")], &[]);
        if !out.status.success() {
            assert!(!dir.path("out.mp4").exists(), "no output on failure");
        }
        (out.status.code(), stderr(&out))
    };
    let (code, err) = run(&blank, checkpoint, weights, "");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no face found in frame 0"), "{err}");
    assert!(err.contains("on_no_face"), "{err}");
    // "hold" with no face at all renders the picture unchanged.
    let (code, err) = run(&blank, checkpoint, weights, "on_no_face = \"hold\"");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("without lip sync"), "{err}");
    std::fs::remove_file(dir.path("out.mp4")).expect("remove output");
    let missing = dir.path("missing.pth");
    let (code, err) = run(&blank, &missing, weights, "");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("missing.pth"), "{err}");
    let (code, err) = run(&blank, &not_wav2lip, weights, "");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not a Wav2Lip generator checkpoint"), "{err}");
    let (code, err) = run(&blank, checkpoint, &empty, "");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cargo xtask fetch-mtcnn"), "{err}");
    assert!(err.contains("pnet.pt"), "{err}");
    // Tensor cores asked for on an adapter without cooperative matrices (lavapipe offers none):
    // the job stops before drawing, naming the key and the way out.
    let (code, err) = run(
        &blank,
        checkpoint,
        weights,
        "backend = \"gpu\"\nprecision = \"f16\"\nbox = [10, 10, 100, 100]",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("tensor cores"), "{err}");
    assert!(err.contains("precision = \"f32\""), "{err}");
    let (code, err) = run(&blank, checkpoint, weights, "precision = \"f8\"");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("unknown precision \"f8\""), "{err}");
}

/// A segmented avatar render joins into the same video as a whole render: the segment's warm-up
/// frames track the face, so the smoothed boxes (and the lip-synced pixels that depend on them)
/// match across the seam.
#[test]
fn avatar_segments_join_into_the_whole_render() {
    let test = "avatar_segments_join_into_the_whole_render";
    let Some((checkpoint, weights, photo)) = fixtures(test) else {
        return;
    };
    let dir = Scratch::new("avatar-segments");
    // A face moving 6 pixels per frame: boxes differ from frame to frame, so a segment that
    // started its smoothing afresh would place the mouth elsewhere; and lip sync fading in
    // over the first three frames (on_no_face = "pass"), which a segment's warm-up replays.
    let face = dir.path("face.mp4");
    face_clip(
        &face,
        photo,
        "scale=256:256,pad=320:256:32:0,crop=300:256:'6*n':0",
        4,
    );
    let speech = dir.path("speech.wav");
    std::fs::write(&speech, tone_wav(16_000, 1.0)).expect("speech");
    let job = dir.path("job.toml");
    std::fs::write(
        &job,
        format!(
            r#"audio = "speech.wav"
output = "whole.mp4"
duration = 0.3

[video]
preset = "ultrafast"
quality = 10

[[layer]]
kind = "avatar"
face = "face.mp4"
checkpoint = "{}"
detector = "{}"
min_face = 30
smooth = 3
on_no_face = "pass"
fade_in = 3
"#,
            checkpoint.display(),
            weights.display()
        ),
    )
    .expect("job");
    let job_arg = job.to_str().expect("utf-8");
    let out = run_renderer(&[job_arg, "-q"], &[]);
    assert!(out.status.success(), "whole render: {}", stderr(&out));
    let mut parts = Vec::new();
    for i in 0..2 {
        let part = dir.path(&format!("part-{i}.mp4"));
        let seg = format!("{i}/2");
        let out = run_renderer(
            &[
                job_arg,
                "--segment",
                &seg,
                "--output",
                part.to_str().expect("utf-8"),
                "-q",
            ],
            &[],
        );
        assert!(out.status.success(), "segment {seg}: {}", stderr(&out));
        parts.push(part);
    }
    let joined = dir.path("joined.mp4");
    let mut args = vec!["join", job_arg];
    args.extend(parts.iter().map(|p| p.to_str().expect("utf-8")));
    args.extend(["--output", joined.to_str().expect("utf-8")]);
    let out = run_renderer(&args, &[]);
    assert!(out.status.success(), "join: {}", stderr(&out));
    let whole = rgb_frames(&dir.path("whole.mp4"), 300, 256);
    let split = rgb_frames(&joined, 300, 256);
    assert_eq!(whole.len(), 3);
    assert_eq!(split.len(), 3);
    // Over the lower face, where the generated mouth is blended (the rest of the frame is the
    // source video in both).
    let face = |x: usize, y: usize| (40..220).contains(&x) && (40..120).contains(&y);
    for (i, (a, b)) in whole.iter().zip(&split).enumerate() {
        let psnr = psnr_where(a, b, 300, face);
        eprintln!("frame {i}: joined vs whole, lower face: PSNR {psnr:.1} dB");
        assert!(psnr >= 38.0, "frame {i}: joined vs whole PSNR {psnr:.1} dB");
    }
}

/// Writes `name` in `dir`: a 1 s speech track and a 512x512, 5 fps avatar job over the
/// astronaut photograph with a fixed face box, plus the layer keys `extra`. Returns its path.
fn still_face_job(
    dir: &Scratch,
    name: &str,
    checkpoint: &Path,
    photo: &Path,
    extra: &str,
) -> PathBuf {
    let audio = dir.path("speech.wav");
    if !audio.exists() {
        make_audio(&audio, 1.0, 16_000, 1);
    }
    let job = dir.path(name);
    std::fs::write(
        &job,
        format!(
            r#"audio = "{audio}"
output = "out.mp4"

[video]
width = 512
height = 512
fps = 5

[[layer]]
kind = "avatar"
face = "{photo}"
checkpoint = "{checkpoint}"
box = [181, 62, 268, 172]
{extra}
"#,
            audio = audio.display(),
            photo = photo.display(),
            checkpoint = checkpoint.display(),
        ),
    )
    .expect("write job");
    job
}

/// The `--preview` still at `at` seconds of `job`, with extra CLI `args`: (picture, log).
fn preview(
    dir: &Scratch,
    job: &Path,
    at: &str,
    name: &str,
    args: &[&str],
) -> (image::RgbImage, String) {
    let path = dir.path(name);
    let mut all = vec![
        job.to_str().expect("utf-8"),
        "--preview",
        at,
        "--output",
        path.to_str().expect("utf-8"),
    ];
    all.extend_from_slice(args);
    let out = run_renderer(&all, &[]);
    assert!(out.status.success(), "{name}: {}", stderr(&out));
    (image::open(&path).expect("still").to_rgb8(), stderr(&out))
}

/// The two lip-sync backends draw the same avatar: a `--preview` still with the networks on the
/// GPU kernels (lavapipe here) and one with the native CPU backend, with a fixed face box (so
/// the same crop feeds both). They differ by the GPU's sRGB texture round trip in the crop (half
/// a byte) and the networks' summation order, not by what is drawn: PSNR over the face region
/// >= 50 dB (71.6 dB measured on lavapipe), and nothing differs outside it.
///
/// `--lipsync-backend` overrides the job's key, and a bad value is refused naming the option.
#[test]
fn gpu_and_cpu_backends_draw_the_same_avatar() {
    let test = "gpu_and_cpu_backends_draw_the_same_avatar";
    let Some((checkpoint, _, photo)) = fixtures(test) else {
        return;
    };
    let dir = Scratch::new("avatar-backends");
    let job = still_face_job(
        &dir,
        "job.toml",
        checkpoint,
        photo,
        "backend = \"gpu\"\nbatch = 2",
    );
    let job_arg = job.to_str().expect("utf-8");
    // Frame 3: the second slot of the batch of frames 2 and 3, generated together.
    let still = |backend: Option<&str>, name: &str| match backend {
        Some(b) => preview(&dir, &job, "0.6", name, &["--lipsync-backend", b]),
        None => preview(&dir, &job, "0.6", name, &[]),
    };
    let (gpu, log) = still(None, "gpu.png");
    assert!(log.contains("on the gpu backend (asked for"), "{log}");
    let (cpu, log) = still(Some("cpu"), "cpu.png");
    assert!(log.contains("on the cpu backend (asked for"), "{log}");
    let inside = |x: usize, y: usize| !outside(FACE_REGION)(x, y);
    let psnr = psnr_where(gpu.as_raw(), cpu.as_raw(), 512, inside);
    eprintln!("GPU vs CPU backend over the face: PSNR {psnr:.1} dB");
    assert!(
        psnr >= 50.0,
        "GPU vs CPU backend over the face: {psnr:.1} dB"
    );
    let src = image::open(photo).expect("photo").to_rgb8();
    assert!(
        psnr_where(cpu.as_raw(), src.as_raw(), 512, inside) < psnr - 10.0,
        "the generated face must differ from the photo far more than the backends do"
    );
    for (x, y, p) in cpu.enumerate_pixels() {
        if outside(FACE_REGION)(x as usize, y as usize) {
            assert_eq!(p, gpu.get_pixel(x, y), "({x}, {y}) outside the face");
        }
    }
    let out = run_renderer(&[job_arg, "--lipsync-backend", "tpu"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--lipsync-backend"),
        "{}",
        stderr(&out)
    );
}

/// A frame generated inside a batch shows its own speech window: frame 3 of a batch of 4
/// (frames 0-3, generated together) equals frame 3 generated alone, and differs from frame 2.
#[test]
fn a_batched_frame_equals_the_frame_generated_alone() {
    let test = "a_batched_frame_equals_the_frame_generated_alone";
    let Some((checkpoint, _, photo)) = fixtures(test) else {
        return;
    };
    let dir = Scratch::new("avatar-batch");
    let still = |batch: u32, at: &str| {
        let job = still_face_job(
            &dir,
            &format!("job-{batch}.toml"),
            checkpoint,
            photo,
            &format!("backend = \"cpu\"\nbatch = {batch}"),
        );
        preview(&dir, &job, at, &format!("b{batch}-{at}.png"), &[]).0
    };
    let inside = |x: usize, y: usize| !outside(FACE_REGION)(x, y);
    let batched = still(4, "0.6");
    let alone = still(1, "0.6");
    let before = still(1, "0.4");
    let same = psnr_where(batched.as_raw(), alone.as_raw(), 512, inside);
    let next = psnr_where(alone.as_raw(), before.as_raw(), 512, inside);
    eprintln!("frame 3 batched vs alone: {same:.1} dB; frame 3 vs frame 2: {next:.1} dB");
    assert!(same >= 60.0, "frame 3 batched vs alone: {same:.1} dB");
    assert!(
        next < same - 10.0,
        "frames 2 and 3 must differ far more ({next:.1} dB) than batched and alone ({same:.1} dB)"
    );
}

/// One drawn frame's face as the renderer logs it (`RUST_LOG=...avatar=debug`).
#[derive(Debug, Clone, Copy)]
struct Tracked {
    /// The avatar layer's index in the job.
    layer: usize,
    frame: u64,
    face: Option<[f32; 4]>,
    weight: f32,
    /// A shot change was found at this frame.
    cut: bool,
}

/// Renders `job` with the avatar's per-frame debug lines on and returns them in order.
fn tracked(job: &Path) -> Vec<Tracked> {
    let out = run_renderer(
        &[job.to_str().expect("utf-8")],
        &[("RUST_LOG", "renderer::layers::avatar=debug")],
    );
    assert!(out.status.success(), "render failed: {}", stderr(&out));
    let text = stderr(&out);
    let field = |line: &str, key: &str| -> Option<String> {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")).map(str::to_owned))
    };
    let lines: Vec<Tracked> = text
        .lines()
        .filter(|l| l.contains("avatar face:"))
        .map(|l| {
            let layer = field(l, "layer")
                .and_then(|v| v.parse().ok())
                .expect("layer");
            let frame = field(l, "frame")
                .and_then(|v| v.parse().ok())
                .expect("frame");
            let face = field(l, "box").and_then(|v| {
                let c: Vec<f32> = v.split(',').filter_map(|c| c.parse().ok()).collect();
                <[f32; 4]>::try_from(c).ok()
            });
            let weight = field(l, "weight")
                .and_then(|v| v.parse().ok())
                .expect("weight");
            let cut = field(l, "cut").as_deref() == Some("1");
            Tracked {
                layer,
                frame,
                face,
                weight,
                cut,
            }
        })
        .collect();
    assert!(!lines.is_empty(), "no avatar face lines in: {text}");
    lines
}

fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    wav2lip::mtcnn::iou(a, b)
}

/// The astronaut's box as the detector finds it in astronaut.png (512x512), scaled by `s`,
/// mirrored first when `flip`, then moved by `(dx, dy)`.
fn placed(b0: [f32; 4], flip: bool, s: f32, (dx, dy): (f32, f32)) -> [f32; 4] {
    let b = if flip {
        [512.0 - b0[2], b0[1], 512.0 - b0[0], b0[3]]
    } else {
        b0
    };
    [b[0] * s + dx, b[1] * s + dy, b[2] * s + dx, b[3] * s + dy]
}

/// A full-frame avatar job over `face` (a video: its size and frame rate), `seconds` long, no
/// encoder, plus the layer keys `extra`.
fn face_video_job(
    dir: &Scratch,
    checkpoint: &Path,
    weights: &Path,
    seconds: f64,
    extra: &str,
) -> PathBuf {
    let speech = dir.path("speech.wav");
    if !speech.exists() {
        std::fs::write(&speech, tone_wav(16_000, 3.0)).expect("speech");
    }
    let job = dir.path("job.toml");
    std::fs::write(
        &job,
        format!(
            r#"audio = "speech.wav"
output = "out.mp4"
duration = {seconds}

[video]
encoder = "null"

[[layer]]
kind = "avatar"
face = "face.mp4"
checkpoint = "{checkpoint}"
detector = "{weights}"
{extra}
"#,
            checkpoint = checkpoint.display(),
            weights = weights.display(),
        ),
    )
    .expect("write job");
    job
}

/// The astronaut's face box as the detector finds it in the still photograph.
fn astronaut_box(dir: &Scratch, checkpoint: &Path, weights: &Path, photo: &Path) -> [f32; 4] {
    face_clip(&dir.path("face.mp4"), photo, "null", 2);
    let job = face_video_job(dir, checkpoint, weights, 0.1, "");
    tracked(&job)[0].face.expect("a face in the photograph")
}

#[test]
fn a_cut_restarts_the_box_smoothing_and_a_fade_does_not() {
    let test = "a_cut_restarts_the_box_smoothing_and_a_fade_does_not";
    let Some((checkpoint, weights, photo)) = fixtures(test) else {
        return;
    };
    let dir = Scratch::new("avatar-cuts");
    let b0 = astronaut_box(&dir, checkpoint, weights, photo);
    // Ten frames of the astronaut at 320x320, then a cut to her mirror image, smaller and
    // lower right: two shots (10 fps).
    let (first, second) = (dir.path("a.mp4"), dir.path("b.mp4"));
    face_clip(&first, photo, "scale=320:320", 10);
    face_clip(&second, photo, "hflip,scale=240:240,pad=320:320:80:40", 10);
    concat(&dir, &["a.mp4", "b.mp4"], "face.mp4");
    let want_a = placed(b0, false, 320.0 / 512.0, (0.0, 0.0));
    let want_b = placed(b0, true, 240.0 / 512.0, (80.0, 40.0));
    let job = face_video_job(&dir, checkpoint, weights, 2.0, "smooth = 5");
    let faces = tracked(&job);
    assert_eq!(faces.len(), 20, "{faces:?}");
    let cuts: Vec<u64> = faces.iter().filter(|t| t.cut).map(|t| t.frame).collect();
    assert_eq!(cuts, [10], "one cut, where the shots meet");
    for t in &faces {
        let want = if t.frame < 10 { want_a } else { want_b };
        let got = t
            .face
            .unwrap_or_else(|| panic!("frame {}: no face", t.frame));
        assert!(
            iou(got, want) > 0.75,
            "frame {}: box {got:?}, want about {want:?} (IoU {:.2}): no smoothing across the cut",
            t.frame,
            iou(got, want)
        );
    }
    // Without cut detection the first frames after the cut average both shots' boxes.
    let job = face_video_job(&dir, checkpoint, weights, 2.0, "smooth = 5\ncuts = false");
    let blind = tracked(&job);
    let at_cut = blind[10].face.expect("a face");
    assert!(
        iou(at_cut, want_b) < 0.5,
        "cuts = false: frame 10 {at_cut:?} should still lean on the first shot"
    );

    // A fade to black and back within one shot: no cut, the box steady where a face is
    // found; with on_no_face = "pass" the black frames have none, and lip sync fades back in.
    // (Two clips: a fade-out filter leaves its input black after it ends.)
    face_clip(&first, photo, "scale=320:320,fade=t=out:st=0.5:d=0.3", 10);
    face_clip(&second, photo, "scale=320:320,fade=t=in:st=0.1:d=0.3", 10);
    concat(&dir, &["a.mp4", "b.mp4"], "face.mp4");
    let job = face_video_job(
        &dir,
        checkpoint,
        weights,
        2.0,
        "on_no_face = \"pass\"\nfade_in = 4",
    );
    let faces = tracked(&job);
    assert_eq!(faces.len(), 20);
    assert!(faces.iter().all(|t| !t.cut), "a fade is no cut: {faces:?}");
    let mut before: Option<Tracked> = None;
    for t in &faces {
        if let Some(got) = t.face {
            assert!(
                iou(got, want_a) > 0.75,
                "frame {}: {got:?} jitters (want {want_a:?})",
                t.frame
            );
        }
        // Black (or nearly) around the turn; the face in full at both ends.
        match t.face {
            None => {
                assert!(
                    (7..=13).contains(&t.frame),
                    "frame {}: no face: {t:?}",
                    t.frame
                );
                assert_eq!(t.weight, 0.0);
            }
            Some(_) => assert!(!(10..=11).contains(&t.frame), "frame {} is black", t.frame),
        }
        if let (Some(prev), Some(_)) = (before, t.face) {
            let want = (prev.weight + 0.25).min(1.0);
            assert!(
                (t.weight - want).abs() < 1e-3,
                "frame {}: weight {} after {}",
                t.frame,
                t.weight,
                prev.weight
            );
        }
        before = Some(*t);
    }
    assert_eq!(faces[19].weight, 1.0, "back in full by the end");
}

#[test]
fn pass_shows_faceless_frames_unchanged_and_hold_does_not() {
    let test = "pass_shows_faceless_frames_unchanged_and_hold_does_not";
    let Some((checkpoint, weights, photo)) = fixtures(test) else {
        return;
    };
    let dir = Scratch::new("avatar-pass");
    // Five frames with the face, five of the photograph's lower part (her suit: no face),
    // five with the face again.
    let (face, suit) = (dir.path("a.mp4"), dir.path("b.mp4"));
    face_clip(&face, photo, "scale=320:320", 5);
    face_clip(&suit, photo, "crop=256:256:0:256,scale=320:320", 5);
    concat(&dir, &["a.mp4", "b.mp4", "a.mp4"], "face.mp4");
    let source = rgb_frames(&dir.path("face.mp4"), 320, 320);
    let b0 = [181.0, 62.0, 268.0, 172.0];
    let held = placed(b0, false, 320.0 / 512.0, (0.0, 0.0));
    let region = |x: usize, y: usize| {
        let (x, y) = (x as f32, y as f32);
        x >= held[0] && x < held[2] && y >= held[1] && y < held[3] + 10.0
    };
    let render = |mode: &str| -> Vec<Vec<u8>> {
        // Without cut detection: the switch to the suit is a cut, after which "hold" would
        // have no box to hold either.
        let job = face_video_job(
            &dir,
            checkpoint,
            weights,
            1.5,
            &format!("on_no_face = \"{mode}\"\ncuts = false"),
        );
        let text = std::fs::read_to_string(&job).expect("job");
        std::fs::write(
            &job,
            text.replace(
                "encoder = \"null\"",
                "encoder = \"x264\"\nquality = 0\npreset = \"ultrafast\"",
            ),
        )
        .expect("job");
        let out = run_renderer(&[job.to_str().expect("utf-8")], &[]);
        assert!(out.status.success(), "{mode}: {}", stderr(&out));
        rgb_frames(&dir.path("out.mp4"), 320, 320)
    };
    let pass = render("pass");
    let hold = render("hold");
    assert_eq!(pass.len(), 15);
    for i in 5..10 {
        // Where the held box would blend: untouched with "pass", the generated face with "hold".
        let p = psnr_where(&pass[i], &source[i], 320, region);
        let h = psnr_where(&hold[i], &source[i], 320, region);
        assert!(
            p >= 38.0,
            "pass frame {i}: {p:.1} dB against the source in the box region"
        );
        assert!(
            h < p - 6.0,
            "hold frame {i}: {h:.1} dB vs pass {p:.1} dB: hold should blend there"
        );
    }
    // With the face back, lip sync is back (the region differs from the source again).
    let back = psnr_where(&pass[14], &source[14], 320, region);
    assert!(back < 38.0, "frame 14: lip sync back ({back:.1} dB)");
}

#[test]
fn face_select_chooses_among_faces_and_track_keeps_one() {
    let test = "face_select_chooses_among_faces_and_track_keeps_one";
    let Some((checkpoint, weights, photo)) = fixtures(test) else {
        return;
    };
    let dir = Scratch::new("avatar-select");
    // Two people side by side: the astronaut (256 px) and her mirror image (192 px) for five
    // frames, then the sizes swap (a zoom, not a cut: cuts = false).
    two_faces(&dir.path("a.mp4"), photo, (256, 192), 5);
    two_faces(&dir.path("b.mp4"), photo, (192, 256), 5);
    concat(&dir, &["a.mp4", "b.mp4"], "face.mp4");
    let side = |t: &Tracked| {
        let b = t
            .face
            .unwrap_or_else(|| panic!("frame {}: no face", t.frame));
        if 0.5 * (b[0] + b[2]) < 256.0 {
            "left"
        } else {
            "right"
        }
    };
    // The small faces are ~32 px wide.
    let run = |extra: &str| {
        tracked(&face_video_job(
            &dir,
            checkpoint,
            weights,
            1.0,
            &format!("cuts = false\nsmooth = 1\nmin_face = 20\n{extra}"),
        ))
    };
    for t in run("face_select = \"largest\"") {
        let want = if t.frame < 5 { "left" } else { "right" };
        assert_eq!(side(&t), want, "largest, frame {}", t.frame);
    }
    for t in run("face_select = [400, 100]") {
        assert_eq!(
            side(&t),
            "right",
            "nearest to [400, 100], frame {}",
            t.frame
        );
    }
    for t in run("face_select = \"track\"") {
        assert_eq!(
            side(&t),
            "left",
            "track keeps the first face, frame {}",
            t.frame
        );
    }
}

/// A lossless 10 fps clip of `frames` frames, 512x256: the astronaut scaled to `left` px in the
/// left half and her mirror image scaled to `right` px in the right half (top-left aligned).
fn two_faces(path: &Path, photo: &Path, (left, right): (u32, u32), frames: u32) {
    let graph = format!(
        "[0]split[l][r];[l]scale={left}:{left},pad=256:256:0:0[a];\
         [r]hflip,scale={right}:{right},pad=256:256:0:0[b];[a][b]hstack"
    );
    photo_clip(path, photo, &["-filter_complex", &graph], None, frames);
}

#[test]
fn two_speakers_on_one_video_each_move_their_own_mouth() {
    let test = "two_speakers_on_one_video_each_move_their_own_mouth";
    let Some((checkpoint, weights, photo)) = fixtures(test) else {
        return;
    };
    let dir = Scratch::new("avatar-speakers");
    two_faces(&dir.path("face.mp4"), photo, (256, 256), 10);
    std::fs::write(dir.path("speech.wav"), tone_wav(16_000, 1.0)).expect("speech");
    std::fs::write(
        dir.path("turns.rttm"),
        "SPEAKER talk 1 0.0 0.5 <NA> <NA> left <NA> <NA>\n\
         SPEAKER talk 1 0.5 0.5 <NA> <NA> right <NA> <NA>\n",
    )
    .expect("turns");
    // The left face under the whole picture; the right one drawn as its mouth only, over it.
    let layer = |point: &str, speaker: &str, draw: &str| {
        format!(
            "[[layer]]\nkind = \"avatar\"\nface = \"face.mp4\"\ncheckpoint = \"{}\"\n\
             detector = \"{}\"\nmin_face = 20\nface_select = {point}\nspeakers = \
             \"turns.rttm\"\nspeaker = \"{speaker}\"\nfade_in = 2\ndraw = \"{draw}\"\n",
            checkpoint.display(),
            weights.display()
        )
    };
    let job = dir.path("job.toml");
    std::fs::write(
        &job,
        format!(
            "audio = \"speech.wav\"\noutput = \"out.mp4\"\nduration = 1.0\n\n[video]\n\
             quality = 0\npreset = \"ultrafast\"\n\n{}\n{}",
            layer("[128, 128]", "left", "picture"),
            layer("[384, 128]", "right", "mouth")
        ),
    )
    .expect("job");
    let faces = tracked(&job);
    let weights_of = |layer: usize| -> Vec<f32> {
        faces
            .iter()
            .filter(|t| t.layer == layer)
            .map(|t| t.weight)
            .collect()
    };
    assert_eq!(
        weights_of(0),
        [0.5, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0, 0.0, 0.0]
    );
    assert_eq!(
        weights_of(1),
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0]
    );
    for t in &faces {
        let b = t.face.expect("both faces found");
        let left = 0.5 * (b[0] + b[2]) < 256.0;
        assert_eq!(
            left,
            t.layer == 0,
            "layer {} follows its own face: {b:?}",
            t.layer
        );
    }
    // Pixels: each mouth differs from the source only while its speaker speaks.
    let source = rgb_frames(&dir.path("face.mp4"), 512, 256);
    let out = rgb_frames(&dir.path("out.mp4"), 512, 256);
    assert_eq!(out.len(), 10);
    let mouth =
        |x0: usize| move |x: usize, y: usize| (x0..x0 + 42).contains(&x) && (62..92).contains(&y);
    let (left_mouth, right_mouth) = (mouth(92), mouth(378));
    for (frame, left_speaks) in [(3, true), (8, false)] {
        let l = psnr_where(&out[frame], &source[frame], 512, left_mouth);
        let r = psnr_where(&out[frame], &source[frame], 512, right_mouth);
        let (speaking, silent) = if left_speaks { (l, r) } else { (r, l) };
        assert!(
            silent >= 38.0,
            "frame {frame}: the silent face's mouth is {silent:.1} dB from the source"
        );
        assert!(
            speaking < silent - 6.0,
            "frame {frame}: the speaking mouth {speaking:.1} dB vs the silent {silent:.1} dB"
        );
    }
    // A speaker the file does not name: a job error (exit 2) listing those it does.
    let text = std::fs::read_to_string(&job).expect("job");
    std::fs::write(
        &job,
        text.replacen("speaker = \"left\"", "speaker = \"carol\"", 1),
    )
    .expect("job");
    let out = run_renderer(&[job.to_str().expect("utf-8")], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("\"carol\"") && err.contains("left, right"),
        "{err}"
    );
}

#[test]
fn centred_smoothing_follows_a_moving_face_without_lag() {
    let test = "centred_smoothing_follows_a_moving_face_without_lag";
    let Some((checkpoint, weights, photo)) = fixtures(test) else {
        return;
    };
    let dir = Scratch::new("avatar-centred");
    // The face moves left 5 px a frame (a crop window sliding right over the padded
    // photograph, the input read at the clip's own 10 fps), for 20 frames; the render shows 16,
    // so the look-ahead never reaches the clip's loop point.
    photo_clip(
        &dir.path("face.mp4"),
        photo,
        &["-vf", "scale=256:256,pad=400:256:72:0,crop=300:256:'5*n':0"],
        Some(10),
        20,
    );
    let x0 = |extra: &str| -> Vec<f32> {
        tracked(&face_video_job(&dir, checkpoint, weights, 1.6, extra))
            .iter()
            .map(|t| t.face.expect("a face")[0])
            .collect()
    };
    // Each frame's own detection is where the face is.
    let truth = x0("smooth = 1\ncuts = false");
    let centred = x0("smooth = 5\nsmoothing = \"centered\"\ncuts = false");
    let causal = x0("smooth = 5\nsmoothing = \"causal\"\ncuts = false");
    assert_eq!(truth.len(), 16);
    assert!(truth[15] < truth[0] - 60.0, "the face moves: {truth:?}");
    for n in 4..13 {
        assert!(
            (centred[n] - truth[n]).abs() < 3.0,
            "frame {n}: centred {} vs the face at {}",
            centred[n],
            truth[n]
        );
        // The last five boxes trail the face by two frames (10 px).
        assert!(
            causal[n] - truth[n] > 6.0,
            "frame {n}: causal {} should lag the face at {}",
            causal[n],
            truth[n]
        );
    }
}

#[test]
fn centred_smoothing_on_the_gpu_backend_finds_the_cpu_backends_box() {
    let test = "centred_smoothing_on_the_gpu_backend_finds_the_cpu_backends_box";
    let Some((checkpoint, weights, photo)) = fixtures(test) else {
        return;
    };
    let dir = Scratch::new("avatar-centred-gpu");
    face_clip(&dir.path("face.mp4"), photo, "scale=256:256", 8);
    // One drawn frame after a short warm-up: the look-ahead frames go through a texture to
    // the GPU detector (WGSL kernels: slow on lavapipe, so little of it).
    let boxes = |backend: &str| -> Vec<[f32; 4]> {
        tracked(&face_video_job(
            &dir,
            checkpoint,
            weights,
            0.1,
            &format!("smooth = 3\nbackend = \"{backend}\""),
        ))
        .iter()
        .map(|t| t.face.expect("a face"))
        .collect()
    };
    let (gpu, cpu) = (boxes("gpu"), boxes("cpu"));
    assert_eq!((gpu.len(), cpu.len()), (1, 1));
    assert!(
        iou(gpu[0], cpu[0]) > 0.95,
        "GPU backend {:?} vs CPU backend {:?}",
        gpu[0],
        cpu[0]
    );
}

/// `parts` (clips in `dir`, same codec settings) one after the other into `output`, without
/// re-encoding.
fn concat(dir: &Scratch, parts: &[&str], output: &str) {
    let list = dir.path("list.txt");
    let text: String = parts.iter().map(|p| format!("file '{p}'\n")).collect();
    std::fs::write(&list, text).expect("list");
    ffmpeg(&[
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        list.to_str().expect("utf-8"),
        "-c",
        "copy",
        dir.path(output).to_str().expect("utf-8"),
    ]);
}
