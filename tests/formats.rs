//! Output formats beyond MP4, chosen by the output's extension or `[video] format`: WebM (VP9 +
//! Opus; AV1 + Opus where this ffmpeg has an AV1 encoder, else a clear error), an animated GIF
//! and an animated PNG (no sound); ffprobe reads back codec, frames and streams. NVENC and
//! segments refuse the formats they cannot write.

mod support;

use support::*;

fn job(dir: &Scratch, output: &str, extra_video: &str) -> std::path::PathBuf {
    std::fs::write(dir.path("tone.wav"), tone_wav(48_000, 2.0)).expect("write wav");
    let path = dir.path(&format!("{output}.toml"));
    std::fs::write(
        &path,
        format!(
            "audio = \"tone.wav\"\noutput = \"{output}\"\n\n[video]\nwidth = 160\nheight = 90\nfps = 10\n{extra_video}\n\n[[layer]]\nkind = \"background\"\ncolor = \"#203040\"\n\n[[layer]]\nkind = \"bars\"\ncount = 8\n"
        ),
    )
    .expect("write job");
    path
}

fn render(job: &std::path::Path) -> std::process::Output {
    run_renderer(&[job.to_str().expect("utf-8 path")], &[])
}

/// The codec of `path`'s first stream of `kind` ("v" or "a"), or None without one.
fn codec(path: &std::path::Path, kind: &str) -> Option<String> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", &format!("{kind}:0")])
        .args(["-show_entries", "stream=codec_name", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!name.is_empty()).then_some(name)
}

#[test]
fn webm_gif_and_apng_by_extension() {
    if !have_gpu("formats") || !require_ffmpeg("formats") {
        return;
    }
    let dir = Scratch::new("formats");
    for (output, video, audio) in [
        ("out.webm", "vp9", Some("opus")),
        ("out.gif", "gif", None),
        ("out.png", "apng", None),
    ] {
        let job = job(&dir, output, "");
        let out = render(&job);
        assert!(out.status.success(), "{output}: {}", stderr(&out));
        let path = dir.path(output);
        assert_eq!(codec(&path, "v").as_deref(), Some(video), "{output}");
        assert_eq!(codec(&path, "a").as_deref(), audio, "{output}");
        let p = probe(&path, "v");
        assert_eq!(p["nb_read_frames"], "20", "{output}: 2 s at 10 fps");
        assert_eq!((p["width"].as_str(), p["height"].as_str()), ("160", "90"));
    }
    // Nothing else was left in the folder (no temporary or chapter files).
    let mut left = dir.files();
    left.retain(|f| !f.ends_with(".toml") && f != "tone.wav");
    assert_eq!(left, ["out.gif", "out.png", "out.webm"]);
}

#[test]
fn av1_in_webm_or_a_clear_error() {
    if !have_gpu("av1") || !require_ffmpeg("av1") {
        return;
    }
    let dir = Scratch::new("formats-av1");
    let job = job(&dir, "out.webm", "format = \"webm-av1\"");
    let encoders = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-encoders"])
        .output()
        .expect("ffmpeg -encoders");
    let listed = String::from_utf8_lossy(&encoders.stdout);
    let has_av1 = listed.contains(" libsvtav1 ") || listed.contains(" libaom-av1 ");
    let out = render(&job);
    if has_av1 {
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(codec(&dir.path("out.webm"), "v").as_deref(), Some("av1"));
    } else {
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("AV1"), "{}", stderr(&out));
    }
}

#[test]
fn formats_refused_where_they_cannot_be_written() {
    if !have_gpu("formats refused") || !require_ffmpeg("formats refused") {
        return;
    }
    let dir = Scratch::new("formats-refused");
    // NVENC writes MP4 only: refused before any frame, whatever this machine has.
    let job_nvenc = job(&dir, "out.webm", "encoder = \"nvenc\"");
    let out = render(&job_nvenc);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("MP4 only"), "{}", stderr(&out));
    // A GIF is not split into segments.
    let job_gif = job(&dir, "out.gif", "");
    let out = run_renderer(
        &[job_gif.to_str().expect("utf-8 path"), "--segment", "0/2"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("GIF and APNG"), "{}", stderr(&out));
    assert!(!dir.path("out.gif").exists());
}
