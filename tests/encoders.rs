//! Encoder selection: `auto` falls back to x264 (and says why) where NVENC cannot run;
//! `nvenc` there is a clear user error (exit 2) that leaves no output; the NVENC keys of
//! `[video]` are validated.

mod support;

use std::path::Path;

use renderer::Job;
use support::*;

/// True when this machine can run NVENC at all (some CUDA device with an encoder).
fn nvenc_possible() -> bool {
    nvenc::probe(None).status.is_ok()
}

#[test]
fn auto_falls_back_to_x264_and_logs_why() {
    if !have_ffmpeg("auto_falls_back_to_x264_and_logs_why")
        || !have_gpu("auto_falls_back_to_x264_and_logs_why")
    {
        return;
    }
    let dir = Scratch::new("enc-auto");
    make_audio(&dir.path("in.wav"), 1.0, 44_100, 1);
    let job = write_job(
        &dir.0,
        "job.toml",
        "in.wav",
        "out.mp4",
        "encoder = \"auto\"",
    );
    let out = run_renderer(&[job.to_str().expect("path")], &[("RUST_LOG", "info")]);
    assert!(out.status.success(), "renderer failed: {}", stderr(&out));
    let log = stderr(&out);
    let summary = String::from_utf8_lossy(&out.stdout);
    if log.contains("encoder auto: NVENC") {
        // An NVIDIA GPU with NVENC renders here: auto must have used it.
        assert!(summary.contains("encoder nvenc"), "{summary}");
        return;
    }
    assert!(!in_ci() || !nvenc_possible(), "CI has no NVIDIA GPU");
    let line = log
        .lines()
        .find(|l| l.contains("encoder auto: x264"))
        .unwrap_or_else(|| panic!("no line saying auto chose x264 in:\n{log}"));
    assert!(
        line.contains("NVENC not used: "),
        "the reason is given: {line}"
    );
    assert!(summary.contains("encoder x264"), "{summary}");
    assert!(dir.path("out.mp4").exists());
}

#[test]
fn nvenc_where_it_cannot_run_is_a_user_error_without_output() {
    if !have_ffmpeg("nvenc_where_it_cannot_run_is_a_user_error_without_output")
        || !have_gpu("nvenc_where_it_cannot_run_is_a_user_error_without_output")
    {
        return;
    }
    if nvenc_possible() {
        eprintln!("SKIPPED nvenc_where_it_cannot_run…: this machine has a working NVENC");
        return;
    }
    let dir = Scratch::new("enc-nvenc");
    make_audio(&dir.path("in.wav"), 1.0, 44_100, 1);
    let job = write_job(
        &dir.0,
        "job.toml",
        "in.wav",
        "out.mp4",
        "encoder = \"nvenc\"",
    );
    let out = run_renderer(&[job.to_str().expect("path")], &[]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("encoder = \"nvenc\" cannot run here"), "{err}");
    assert!(err.contains("x264"), "the way out is named: {err}");
    assert_eq!(
        dir.files(),
        ["in.wav", "job.toml"],
        "no output, no temporary file"
    );

    // The same through --encoder on the command line.
    let out = run_renderer(&[job.to_str().expect("path"), "--encoder", "nvenc"], &[]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert_eq!(dir.files(), ["in.wav", "job.toml"]);
}

#[test]
fn hevc_with_auto_and_no_nvenc_is_a_user_error() {
    if !have_ffmpeg("hevc_with_auto_and_no_nvenc_is_a_user_error")
        || !have_gpu("hevc_with_auto_and_no_nvenc_is_a_user_error")
        || nvenc_possible()
    {
        return;
    }
    let dir = Scratch::new("enc-hevc");
    make_audio(&dir.path("in.wav"), 1.0, 44_100, 1);
    let job = write_job(&dir.0, "job.toml", "in.wav", "out.mp4", "codec = \"hevc\"");
    let out = run_renderer(&[job.to_str().expect("path")], &[]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("codec = \"hevc\" needs NVENC"),
        "{}",
        stderr(&out)
    );
    assert_eq!(dir.files(), ["in.wav", "job.toml"]);
}

fn parse(video: &str) -> Result<Job, String> {
    let text = format!("audio = \"a.wav\"\n[video]\n{video}\n[[layer]]\nkind = \"background\"\n");
    Job::from_toml_str(&text, "job.toml", Path::new(".")).map_err(|e| e.to_string())
}

#[test]
fn nvenc_keys_parse_and_are_checked() {
    let job = parse(
        "encoder = \"nvenc\"\ncodec = \"hevc\"\nnvenc_preset = \"P7\"\nrate_control = \"vbr\"\n\
         bitrate = 8000\nkeyint = 48",
    )
    .expect("valid");
    let v = &job.video;
    assert_eq!(v.encoder.to_string(), "nvenc");
    assert_eq!(v.nvenc_preset.0, 7);
    assert_eq!(v.keyint_frames(), 48);
    // Default IDR interval: two seconds of frames.
    assert_eq!(parse("fps = 25").expect("valid").video.keyint_frames(), 50);
    for (bad, says) in [
        (
            "encoder = \"x264\"\ncodec = \"hevc\"",
            "x264 encodes H.264 only",
        ),
        ("rate_control = \"cbr\"", "needs a bitrate"),
        ("bitrate = 5000", "cbr\" or \"vbr\" only"),
        ("nvenc_preset = \"p8\"", "p1 (fastest) .. p7"),
        ("codec = \"vp9\"", "unknown variant"),
        ("keyint = 0", "keyint"),
        ("encoder = \"nvidia\"", "unknown variant"),
    ] {
        let e = parse(bad).expect_err(bad);
        assert!(e.contains(says), "{bad}: {e}");
    }
}
