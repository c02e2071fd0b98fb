//! Scale-out: `--segment I/N` renders joined by `renderer join` must equal a single render —
//! exact frame count, every frame close to the single render's frame (decoded), the audio sample
//! for sample, no visible seams (each seam changes the picture as the single render does there) — and `join` must refuse incomplete or foreign sets.

mod support;

use std::path::{Path, PathBuf};

use support::*;

const W: u32 = 160;
const H: u32 = 90;
const FPS: u32 = 10;
const SECONDS: f64 = 3.0;

/// A job with every kind of state a seam could reset: smoothing and peak hold (bars), history
/// (spectrogram), particles in flight, a clock, a progress bar and a beat reactor.
fn write_segment_job(dir: &Scratch, output: &str) -> PathBuf {
    let job = format!(
        r##"audio = "music.wav"
output = "{output}"
duration = {SECONDS}

[video]
width = {W}
height = {H}
fps = {FPS}
preset = "ultrafast"
# Lossless: the seam test compares frames bit for bit.
quality = 0

[[layer]]
kind = "background"
color = "#101828"
color2 = "#301040"

[[layer]]
kind = "spectrogram"
rect = [0.0, 0.0, 1.0, 0.4]
seconds = 2
palette = "inferno"

[[layer]]
kind = "bars"
count = 16
peaks = true
rect = [0.05, 0.45, 0.9, 0.5]
opacity = "0.7 + 0.3 * pulse"

[[layer]]
kind = "particles"
burst = 60
size = 12
speed = 600

[[layer]]
kind = "text"
text = "{{elapsed}}"
size = 200
position = [0.8, 0.2]

[[layer]]
kind = "progress"
rect = [0.05, 0.95, 0.9, 0.03]
"##
    );
    let path = dir.path("job.toml");
    std::fs::write(&path, job).expect("write job");
    path
}

fn prerequisites(test: &str) -> bool {
    require_ffmpeg(test) && have_gpu(test)
}

fn setup(name: &str) -> (Scratch, PathBuf) {
    let dir = Scratch::new(name);
    // 4 s of music so the 3 s render has audio after its end too (the mux must cut it).
    make_audio(&dir.path("music.wav"), 4.0, 44_100, 2);
    let job = write_segment_job(&dir, "whole.mp4");
    (dir, job)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Renders segment `i` of `n` to `seg-i.mp4`.
fn render_segment(dir: &Scratch, job: &Path, i: u32, n: u32) -> PathBuf {
    let out = dir.path(&format!("seg-{i}-of-{n}.mp4"));
    let seg = format!("{i}/{n}");
    let r = run_renderer(&[s(job), "--segment", &seg, "--output", s(&out), "-q"], &[]);
    assert!(r.status.success(), "segment {seg}: {}", stderr(&r));
    out
}

fn join(job: &Path, segments: &[PathBuf], out: &Path) -> std::process::Output {
    let mut args = vec!["join", s(job)];
    args.extend(segments.iter().map(|p| s(p)));
    args.extend(["--output", s(out)]);
    run_renderer(&args, &[])
}

/// The Y planes of every frame of `video` (decoded as yuv420p, so limited range as stored).
fn luma_frames(video: &Path) -> Vec<Vec<u8>> {
    let raw = ffmpeg_output(&["-i", s(video), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"]);
    let (y, frame) = ((W * H) as usize, (W * H * 3 / 2) as usize);
    raw.chunks(frame).map(|f| f[..y].to_vec()).collect()
}

fn pcm(video: &Path) -> Vec<u8> {
    ffmpeg_output(&["-i", s(video), "-map", "0:a", "-f", "s16le", "-"])
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    if mse == 0.0 {
        99.0
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

fn mean_abs(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x.abs_diff(*y)))
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn joined_segments_match_the_single_render_frame_by_frame() {
    let test = "joined segments";
    if !prerequisites(test) {
        return;
    }
    let (dir, job) = setup("segments-join");
    let r = run_renderer(&[s(&job), "-q"], &[]);
    assert!(r.status.success(), "single render: {}", stderr(&r));
    let whole = dir.path("whole.mp4");
    let whole_audio = pcm(&whole);
    let frames = (SECONDS * f64::from(FPS)) as usize;
    // The reference is the single render's own frames, decoded: it shares no warm-up code with
    // the segments (a preview still does).
    let reference = luma_frames(&whole);
    assert_eq!(reference.len(), frames, "single render frame count");

    for n in [1u32, 3, 7] {
        let segments: Vec<PathBuf> = (0..n).map(|i| render_segment(&dir, &job, i, n)).collect();
        // Segments carry no audio; frames add up exactly.
        let mut counted = 0;
        for seg in &segments {
            let v = probe(seg, "v");
            counted += v["nb_read_frames"].parse::<usize>().expect("frame count");
            let a = std::process::Command::new("ffprobe")
                .args([
                    "-v",
                    "error",
                    "-select_streams",
                    "a",
                    "-show_entries",
                    "stream=index",
                ])
                .args(["-of", "csv=p=0", s(seg)])
                .output()
                .expect("ffprobe");
            assert!(a.stdout.is_empty(), "segment {} has audio", seg.display());
        }
        assert_eq!(counted, frames, "N={n}: segment frames");
        let joined = dir.path(&format!("joined-{n}.mp4"));
        // Given in reverse order: join sorts by the segments' own tags.
        let mut reversed = segments.clone();
        reversed.reverse();
        let r = join(&job, &reversed, &joined);
        assert!(r.status.success(), "join N={n}: {}", stderr(&r));
        let luma = luma_frames(&joined);
        assert_eq!(luma.len(), frames, "N={n}: joined frame count");
        for (k, (frame, single)) in luma.iter().zip(&reference).enumerate() {
            let p = psnr(frame, single);
            assert!(
                p >= 40.0,
                "N={n}: frame {k} is {p:.1} dB from the single render's frame {k}"
            );
        }
        // The audio is muxed once over the whole: identical to the single render's, sample for
        // sample (no per-segment AAC priming gaps).
        let audio = pcm(&joined);
        assert_eq!(audio.len(), whole_audio.len(), "N={n}: audio length");
        assert!(
            audio == whole_audio,
            "N={n}: the joined audio differs from the single render's"
        );
        let v = probe(&joined, "v");
        let duration: f64 = v["duration"].parse().expect("duration");
        assert!(
            (duration - SECONDS).abs() < 1e-3,
            "N={n}: video lasts {duration} s"
        );
    }
}

#[test]
fn seams_are_invisible() {
    let test = "seams";
    if !prerequisites(test) {
        return;
    }
    let (dir, job) = setup("segments-seams");
    let r = run_renderer(&[s(&job), "-q"], &[]);
    assert!(r.status.success(), "single render: {}", stderr(&r));
    let whole = luma_frames(&dir.path("whole.mp4"));
    let n = 5u32;
    let segments: Vec<PathBuf> = (0..n).map(|i| render_segment(&dir, &job, i, n)).collect();
    let joined = dir.path("joined.mp4");
    let r = join(&job, &segments, &joined);
    assert!(r.status.success(), "{}", stderr(&r));
    let luma = luma_frames(&joined);
    assert_eq!(luma.len(), whole.len(), "frame count");
    // Encoded losslessly (quality 0): every joined frame is the single render's, bit for bit
    // (the warm-up replays the spectrogram, particles and peaks from a settled analysis).
    for (k, (a, b)) in luma.iter().zip(&whole).enumerate() {
        assert!(
            a == b,
            "frame {k} of the joined video differs from the single render's"
        );
    }
    let f = luma.len() as u32;
    let seams: Vec<usize> = (1..n).map(|i| (i * f / n) as usize).collect();
    // Across each seam the joined video must change exactly as the single render changes at the
    // same place (the particles' bursts and the bars' motion included), up to the two encodes'
    // noise: measured as the largest such difference between frames that are not seams.
    let change = |v: &[Vec<u8>], k: usize| mean_abs(&v[k - 1], &v[k]);
    let noise = (1..luma.len())
        .filter(|k| !seams.contains(k))
        .map(|k| (change(&luma, k) - change(&whole, k)).abs())
        .fold(0.0, f64::max);
    for &k in &seams {
        let (joined_d, whole_d) = (change(&luma, k), change(&whole, k));
        eprintln!("seam at frame {k}: change {joined_d:.3} joined, {whole_d:.3} single render");
        assert!(
            (joined_d - whole_d).abs() <= noise.max(0.05) * 1.5,
            "frames {} and {k} across a seam change by {joined_d:.3}, the single render by \
             {whole_d:.3} (encoding noise elsewhere: {noise:.3}): the warm-up before the segment \
             did not restore the state",
            k - 1
        );
    }
}

#[test]
fn join_refuses_missing_duplicated_and_foreign_segments() {
    let test = "join refusals";
    if !prerequisites(test) {
        return;
    }
    let (dir, job) = setup("segments-refuse");
    let segs: Vec<PathBuf> = (0..3).map(|i| render_segment(&dir, &job, i, 3)).collect();
    let out = dir.path("joined.mp4");

    let r = join(&job, &segs[..2], &out);
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(
        stderr(&r).contains("missing segment(s) 2/3"),
        "{}",
        stderr(&r)
    );

    let r = join(
        &job,
        &[
            segs[0].clone(),
            segs[0].clone(),
            segs[1].clone(),
            segs[2].clone(),
        ],
        &out,
    );
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(stderr(&r).contains("given twice"), "{}", stderr(&r));

    // A segment of the same job rendered with other settings (a different bar count).
    let text = std::fs::read_to_string(&job)
        .expect("job")
        .replace("count = 16", "count = 17");
    let other_job = dir.path("other.toml");
    std::fs::write(&other_job, text).expect("write");
    let foreign = dir.path("foreign-1-of-3.mp4");
    let r = run_renderer(
        &[
            s(&other_job),
            "--segment",
            "1/3",
            "--output",
            s(&foreign),
            "-q",
        ],
        &[],
    );
    assert!(r.status.success(), "{}", stderr(&r));
    let r = join(
        &job,
        &[segs[0].clone(), foreign.clone(), segs[2].clone()],
        &out,
    );
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(
        stderr(&r).contains("different job or with different settings"),
        "{}",
        stderr(&r)
    );
    assert!(stderr(&r).contains(foreign.file_name().and_then(|f| f.to_str()).expect("name")));

    // Segments of another split.
    let quarter = render_segment(&dir, &job, 3, 4);
    let r = join(&job, &[segs[0].clone(), segs[1].clone(), quarter], &out);
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(stderr(&r).contains("same N"), "{}", stderr(&r));

    // A file that is not a segment.
    let r = run_renderer(&[s(&job), "-q"], &[]);
    assert!(r.status.success(), "{}", stderr(&r));
    let r = join(&job, &[dir.path("whole.mp4")], &out);
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(stderr(&r).contains("not a segment"), "{}", stderr(&r));
    assert!(!out.exists(), "no output after refusals");

    // Bad I/N on the command line.
    for bad in ["3/3", "1/0", "x/2", "2"] {
        let r = run_renderer(&[s(&job), "--segment", bad], &[]);
        assert_eq!(r.status.code(), Some(2), "--segment {bad}: {}", stderr(&r));
    }
    // More segments than frames.
    let r = run_renderer(&[s(&job), "--segment", "0/31"], &[]);
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(stderr(&r).contains("at most 30"), "{}", stderr(&r));
}

#[test]
fn batch_mode_renders_several_jobs_and_folders_on_one_device() {
    let test = "batch mode";
    if !prerequisites(test) {
        return;
    }
    let dir = Scratch::new("batch");
    std::fs::write(dir.path("tone.wav"), tone_wav(48_000, 1.0)).expect("wav");
    let folder = dir.path("jobs");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::copy(dir.path("tone.wav"), folder.join("tone.wav")).expect("copy");
    let a = write_job(&dir.path(""), "a.toml", "tone.wav", "a.mp4", "");
    write_job(&folder, "b.toml", "tone.wav", "b.mp4", "");
    write_job(&folder, "c.toml", "tone.wav", "c.mp4", "");
    let r = run_renderer(&[s(&a), s(&folder)], &[]);
    assert!(r.status.success(), "{}", stderr(&r));
    for out in [
        dir.path("a.mp4"),
        folder.join("b.mp4"),
        folder.join("c.mp4"),
    ] {
        let v = probe(&out, "v");
        assert_eq!(v["nb_read_frames"], "30", "{}", out.display());
    }
    // One bad job fails the batch before anything renders.
    write_job(&folder, "d.toml", "tone.wav", "d.mp4", "fps = 0");
    let r = run_renderer(&[s(&a), s(&folder)], &[]);
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(stderr(&r).contains("d.toml"), "{}", stderr(&r));
}
