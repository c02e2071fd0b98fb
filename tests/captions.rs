//! The captions layer end to end, through the CLI: a Whisper transcript's cue shows at its time
//! and its spoken word is highlighted where and when the transcript says (pixel checks on
//! previews at known times), the underline sweeps across the word, a preview equals the whole
//! render's frame at the same time (the render's own clock), and a malformed cue file is a job
//! error naming its line.

mod support;

use std::path::{Path, PathBuf};

use support::*;

/// Three words on one line: "aaaa" 0.5-1.0 s, "bbbb" 1.0-1.5 s, "cccc" 1.5-2.5 s.
const TRANSCRIPT: &str = r#"{"segments": [{"start": 0.5, "end": 2.5, "text": " aaaa bbbb cccc",
  "words": [{"word": " aaaa", "start": 0.5, "end": 1.0},
            {"word": " bbbb", "start": 1.0, "end": 1.5},
            {"word": " cccc", "start": 1.5, "end": 2.5}]}]}"#;

/// A 320x180 job at 10 fps: black, then the captions layer with `extra` keys.
fn job(dir: &Scratch, extra: &str) -> PathBuf {
    std::fs::write(dir.path("talk.json"), TRANSCRIPT).expect("write transcript");
    std::fs::write(dir.path("tone.wav"), tone_wav(48_000, 3.0)).expect("write audio");
    let text = format!(
        r##"audio = "tone.wav"
output = "out.mp4"

[video]
width = 320
height = 180
fps = 10
preset = "ultrafast"

[[layer]]
kind = "background"
color = "#000000"

[[layer]]
kind = "captions"
file = "talk.json"
size = 200
color = "#ffffff"
shadow = "#00000000"
highlight_color = "#ff0000"
rect = [0.0, 0.0, 1.0, 1.0]
valign = "middle"
{extra}
"##
    );
    let path = dir.path("job.toml");
    std::fs::write(&path, text).expect("write job");
    path
}

/// The RGB pixels of a preview at `time`.
fn preview(job: &Path, dir: &Scratch, time: f64) -> Vec<u8> {
    let png = dir.path(&format!("at-{time}.png"));
    let out = run_renderer(
        &[
            job.to_str().expect("utf-8 path"),
            "--preview",
            &time.to_string(),
            "--output",
            png.to_str().expect("utf-8 path"),
        ],
        &[],
    );
    assert!(out.status.success(), "preview failed:\n{}", stderr(&out));
    image::open(&png).expect("preview PNG").to_rgb8().into_raw()
}

/// Pixels (x, y) of a 320-wide RGB frame that pass `keep`.
fn pixels(rgb: &[u8], keep: impl Fn(u8, u8, u8) -> bool) -> Vec<(u32, u32)> {
    rgb.chunks_exact(3)
        .enumerate()
        .filter(|(_, p)| keep(p[0], p[1], p[2]))
        .map(|(i, _)| ((i % 320) as u32, (i / 320) as u32))
        .collect()
}

fn red(r: u8, g: u8, b: u8) -> bool {
    r > 180 && g < 80 && b < 80
}

fn white(r: u8, g: u8, b: u8) -> bool {
    r > 180 && g > 180 && b > 180
}

fn mean_x(p: &[(u32, u32)]) -> f64 {
    p.iter().map(|&(x, _)| f64::from(x)).sum::<f64>() / p.len().max(1) as f64
}

#[test]
fn the_spoken_word_is_highlighted_where_and_when_the_transcript_says() {
    if !have_gpu("captions highlight") {
        return;
    }
    let dir = Scratch::new("captions-highlight");
    let job = job(&dir, "fade = 0");
    // Before the cue: nothing but black.
    let before = preview(&job, &dir, 0.2);
    assert!(before.iter().all(|&v| v < 8), "no caption before 0.5 s");
    // After it: black again.
    let after = preview(&job, &dir, 2.8);
    assert!(after.iter().all(|&v| v < 8), "no caption after 2.5 s");

    let mut centres = Vec::new();
    let mut text_span = (u32::MAX, 0);
    for time in [0.75, 1.25, 2.0] {
        let frame = preview(&job, &dir, time);
        let reds = pixels(&frame, red);
        let whites = pixels(&frame, white);
        assert!(
            reds.len() > 150,
            "at {time} s the spoken word is red ({} px)",
            reds.len()
        );
        // Two words are not spoken: about twice the ink of the spoken one is white.
        assert!(
            whites.len() > reds.len(),
            "at {time} s the other words stay white ({} white, {} red px)",
            whites.len(),
            reds.len()
        );
        for &(x, _) in reds.iter().chain(&whites) {
            text_span = (text_span.0.min(x), text_span.1.max(x));
        }
        centres.push(mean_x(&reds));
    }
    // The red word moves left to right, one third of the line at a time.
    let (left, right) = (f64::from(text_span.0), f64::from(text_span.1));
    let third = (right - left) / 3.0;
    for (k, c) in centres.iter().enumerate() {
        let expected = left + third * (k as f64 + 0.5);
        assert!(
            (c - expected).abs() < 0.35 * third,
            "word {k}: red centre at x {c:.1}, expected near {expected:.1} (line {left}..{right})"
        );
    }
}

#[test]
fn the_scale_highlight_enlarges_the_word_in_place() {
    if !have_gpu("captions scale") {
        return;
    }
    let dir = Scratch::new("captions-scale");
    let plain = job(&dir, "fade = 0");
    let recoloured = pixels(&preview(&plain, &dir, 1.25), red);
    let scaled_job = job(
        &dir,
        "fade = 0\nhighlight = \"scale\"\nhighlight_scale = 1.3",
    );
    let scaled = pixels(&preview(&scaled_job, &dir, 1.25), red);
    // About 1.3^2 times the ink, around the same centre.
    let ratio = scaled.len() as f64 / recoloured.len().max(1) as f64;
    assert!((1.35..2.1).contains(&ratio), "ink ratio {ratio:.2}");
    let dx = (mean_x(&scaled) - mean_x(&recoloured)).abs();
    assert!(dx < 3.0, "the word stays in place: centre moved {dx:.1} px");
}

#[test]
fn the_underline_sweeps_across_the_word_as_it_is_spoken() {
    if !have_gpu("captions underline") {
        return;
    }
    let dir = Scratch::new("captions-underline");
    let job = job(&dir, "highlight = \"underline\"\nfade = 0");
    // "cccc" is spoken from 1.5 to 2.5 s: a quarter and three quarters of the way.
    let early = pixels(&preview(&job, &dir, 1.75), red);
    let late = pixels(&preview(&job, &dir, 2.25), red);
    assert!(
        !early.is_empty() && !late.is_empty(),
        "an underline is drawn"
    );
    let width = |p: &[(u32, u32)]| {
        let (lo, hi) = p
            .iter()
            .fold((u32::MAX, 0), |(lo, hi), &(x, _)| (lo.min(x), hi.max(x)));
        f64::from(hi - lo + 1)
    };
    let (w_early, w_late) = (width(&early), width(&late));
    let ratio = w_late / w_early;
    assert!(
        (2.0..4.5).contains(&ratio),
        "the fill grows with the word's time: {w_early} px at 25 %, {w_late} px at 75 %"
    );
    // Same left edge: it sweeps from the word's start.
    let left = |p: &[(u32, u32)]| p.iter().map(|&(x, _)| x).min().unwrap_or(0);
    assert!(left(&early).abs_diff(left(&late)) <= 1);
    // Below the text: under every white pixel of the word's line.
    let whites = pixels(&preview(&job, &dir, 1.75), white);
    let text_bottom = whites.iter().map(|&(_, y)| y).max().unwrap_or(0);
    let line_top = early.iter().map(|&(_, y)| y).min().unwrap_or(0);
    assert!(
        line_top + 3 >= text_bottom,
        "underline at y {line_top}, text ends at {text_bottom}"
    );
}

#[test]
fn a_preview_shows_what_the_render_shows_at_that_time() {
    if !have_gpu("captions preview vs render") || !require_ffmpeg("captions preview vs render") {
        return;
    }
    let dir = Scratch::new("captions-clock");
    let job = job(&dir, "box_color = \"#203040\"\nfade = 0.3");
    let out = run_renderer(&[job.to_str().expect("utf-8 path")], &[]);
    assert!(out.status.success(), "render failed:\n{}", stderr(&out));
    let raw = dir.path("frames.rgb");
    ffmpeg(&[
        "-i",
        dir.path("out.mp4").to_str().expect("utf-8 path"),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        raw.to_str().expect("utf-8 path"),
    ]);
    let frames = std::fs::read(&raw).expect("frames");
    let frame = |n: usize| &frames[n * 320 * 180 * 3..(n + 1) * 320 * 180 * 3];
    let diff = |a: &[u8], b: &[u8]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(x.abs_diff(*y)))
            .sum::<f64>()
            / a.len() as f64
    };
    // 0.6 s is inside the fade-in, 1.2 s the second word: both must match frame for frame.
    for (time, n, other) in [(0.6, 6, 12), (1.2, 12, 6)] {
        let still = preview(&job, &dir, time);
        let same = diff(&still, frame(n));
        let unlike = diff(&still, frame(other));
        assert!(
            same < 2.0 && same * 3.0 < unlike,
            "preview at {time} s vs frame {n}: {same:.2}; vs frame {other}: {unlike:.2}"
        );
    }
}

#[test]
fn a_malformed_cue_file_is_a_job_error_naming_its_line() {
    let dir = Scratch::new("captions-bad");
    std::fs::write(dir.path("tone.wav"), tone_wav(48_000, 1.0)).expect("write audio");
    std::fs::write(
        dir.path("talk.srt"),
        "1\n00:00:00,500 --> 00:00:01,000\nfine\n\n2\n00:00:01,000 -> 00:00:02,000\nbroken arrow\n",
    )
    .expect("write srt");
    let job = dir.path("job.toml");
    std::fs::write(
        &job,
        "audio = \"tone.wav\"\n\n[[layer]]\nkind = \"captions\"\nfile = \"talk.srt\"\n",
    )
    .expect("write job");
    let out = run_renderer(&[job.to_str().expect("utf-8 path")], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "a job error:\n{err}");
    assert!(err.contains("talk.srt") && err.contains("line 6"), "{err}");
    assert!(!dir.path("output.mp4").exists());
}
