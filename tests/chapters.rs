//! Chapters end to end: `[[chapter]]` tables and a chapters file become MP4 chapters (ffprobe
//! reads their times and titles, shifted to the video's start), `{chapter}` in a text layer
//! shows the chapter playing, segments joined carry the whole render's chapters, and a bad
//! chapters file is a job error naming its line.

mod support;

use std::path::Path;
use std::process::Command;

use support::*;

/// (start, end, title) of each chapter ffprobe finds in `path`.
fn chapters(path: &Path) -> Vec<(f64, f64, String)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_chapters", "-of", "flat"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(out.status.success(), "ffprobe failed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut found: Vec<(f64, f64, String)> = Vec::new();
    for i in 0.. {
        let get = |key: &str| {
            let prefix = format!("chapters.chapter.{i}.{key}=");
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .map(|v| v.trim_matches('"').to_owned())
        };
        let Some(start) = get("start_time") else {
            break;
        };
        found.push((
            start.parse().expect("start"),
            get("end_time").expect("end").parse().expect("end"),
            get("tags.title").unwrap_or_default(),
        ));
    }
    found
}

fn job(dir: &Scratch, chapters: &str) -> std::path::PathBuf {
    std::fs::write(dir.path("tone.wav"), tone_wav(16_000, 6.0)).expect("write wav");
    let path = dir.path("job.toml");
    std::fs::write(
        &path,
        format!(
            "audio = \"tone.wav\"\noutput = \"out.mp4\"\nstart = 1\n{chapters}\n[video]\nwidth = 320\nheight = 180\nfps = 10\npreset = \"ultrafast\"\n\n[[layer]]\nkind = \"background\"\ncolor = \"#000000\"\n\n[[layer]]\nkind = \"text\"\ntext = \"{{chapter}}\"\nsize = 200\nposition = [0.5, 0.5]\n"
        ),
    )
    .expect("write job");
    path
}

#[test]
fn chapters_are_written_and_shown() {
    if !have_gpu("chapters") || !require_ffmpeg("chapters") {
        return;
    }
    let dir = Scratch::new("chapters");
    let job = job(
        &dir,
        "[[chapter]]\nstart = 0\ntitle = \"Intro\"\n\n[[chapter]]\nstart = 3\ntitle = \"Main; part=1\"\n",
    );
    let arg = job.to_str().expect("utf-8 path");
    let out = run_renderer(&[arg], &[]);
    assert!(out.status.success(), "render failed:\n{}", stderr(&out));
    // The video starts 1 s into the audio: Intro 0-2 s, the second chapter 2-5 s.
    let found = chapters(&dir.path("out.mp4"));
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        (found[0].0 - 0.0).abs() < 0.01 && (found[0].1 - 2.0).abs() < 0.01,
        "{found:?}"
    );
    assert!(
        (found[1].0 - 2.0).abs() < 0.01 && (found[1].1 - 5.0).abs() < 0.05,
        "{found:?}"
    );
    assert_eq!(found[0].2, "Intro");
    assert_eq!(found[1].2, "Main; part=1");

    // {chapter}: the text changes when the chapter does (previews at 2 s and 4 s of the audio).
    let ink = |time: &str| {
        let png = dir.path(&format!("at-{time}.png"));
        let out = run_renderer(
            &[
                arg,
                "--preview",
                time,
                "--output",
                png.to_str().expect("utf-8"),
            ],
            &[],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let rgb = image::open(&png).expect("png").to_rgb8();
        rgb.pixels().filter(|p| p.0[0] > 128).count()
    };
    let (intro, main) = (ink("2"), ink("4"));
    assert!(
        intro > 100 && main > intro,
        "\"Intro\" {intro} px, the longer title {main} px"
    );

    // Segments joined carry the whole render's chapters.
    let mut parts = Vec::new();
    for i in 0..2 {
        let seg = dir.path(&format!("seg{i}.mp4"));
        let out = run_renderer(
            &[
                arg,
                "--segment",
                &format!("{i}/2"),
                "--output",
                seg.to_str().expect("utf-8"),
            ],
            &[],
        );
        assert!(out.status.success(), "segment {i}: {}", stderr(&out));
        assert!(
            chapters(&seg).is_empty(),
            "segments have no chapters of their own"
        );
        parts.push(seg);
    }
    let joined = dir.path("joined.mp4");
    let mut args = vec!["join", arg];
    args.extend(parts.iter().map(|p| p.to_str().expect("utf-8")));
    args.extend(["--output", joined.to_str().expect("utf-8")]);
    let out = run_renderer(&args, &[]);
    assert!(out.status.success(), "join: {}", stderr(&out));
    let titles: Vec<String> = chapters(&joined).into_iter().map(|c| c.2).collect();
    assert_eq!(titles, ["Intro", "Main; part=1"]);
}

#[test]
fn a_chapters_file_is_read_and_a_bad_one_names_its_line() {
    if !have_gpu("chapters file") || !require_ffmpeg("chapters file") {
        return;
    }
    let dir = Scratch::new("chapters-file");
    std::fs::write(dir.path("chapters.txt"), "0:00 Opening\n0:04 - Closing\n").expect("write");
    let job = job(&dir, "chapters = \"chapters.txt\"\n");
    let out = run_renderer(&[job.to_str().expect("utf-8 path")], &[]);
    assert!(out.status.success(), "render failed:\n{}", stderr(&out));
    let titles: Vec<String> = chapters(&dir.path("out.mp4"))
        .into_iter()
        .map(|c| c.2)
        .collect();
    assert_eq!(titles, ["Opening", "Closing"]);

    std::fs::write(dir.path("chapters.txt"), "0:00 Opening\nlater Closing\n").expect("write");
    let out = run_renderer(&[job.to_str().expect("utf-8 path")], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
}
