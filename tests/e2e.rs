//! End to end: the real `renderer` binary renders a real audio file through the GPU and a real
//! ffmpeg; the MP4 is inspected with ffprobe.

mod support;

use support::*;

/// Checks an MP4 against what a render of `seconds` at `fps` must give.
fn check_mp4(path: &std::path::Path, seconds: f64, fps: f64, width: u32, height: u32) {
    let v = probe(path, "v");
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(v["pix_fmt"], "yuv420p");
    assert_eq!(v["width"], width.to_string());
    assert_eq!(v["height"], height.to_string());
    assert_eq!(v["r_frame_rate"], format!("{}/1", fps as u32));
    assert_eq!(v["color_space"], "bt709");
    assert_eq!(v["color_transfer"], "bt709");
    assert_eq!(v["color_primaries"], "bt709");
    assert_eq!(v["color_range"], "tv");
    let frames: u64 = v["nb_read_frames"].parse().expect("frame count");
    assert_eq!(frames, (seconds * fps).round() as u64, "frame count");
    let duration: f64 = v["format.duration"].parse().expect("duration");
    assert!(
        (duration - seconds).abs() <= 1.0 / fps,
        "container duration {duration} s is not within one frame of {seconds} s"
    );
    let a = probe(path, "a");
    assert_eq!(a["codec_name"], "aac", "audio stream");
}

#[test]
fn renders_a_wav_to_a_valid_mp4() {
    if !require_ffmpeg("renders_a_wav_to_a_valid_mp4") || !have_gpu("renders_a_wav_to_a_valid_mp4")
    {
        return;
    }
    let dir = Scratch::new("e2e-wav");
    make_audio(&dir.path("in put é.wav"), 3.0, 44_100, 2);
    let seconds = audio_duration(&dir.path("in put é.wav"));
    let job = write_job(dir.dir(), "job.toml", "in put é.wav", "out.mp4", "");
    let out = run_renderer(&[job.to_str().expect("path")], &[]);
    assert!(out.status.success(), "renderer failed: {}", stderr(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("rendered 90 frames") && summary.contains("encoder x264"),
        "summary line: {summary}"
    );
    check_mp4(&dir.path("out.mp4"), seconds, 30.0, 160, 90);
    // Nothing else is left in the folder: no temporary file.
    assert_eq!(dir.files(), ["in put é.wav", "job.toml", "out.mp4"]);
}

#[test]
fn start_and_duration_render_a_section() {
    if !require_ffmpeg("start_and_duration_render_a_section")
        || !have_gpu("start_and_duration_render_a_section")
    {
        return;
    }
    let dir = Scratch::new("e2e-section");
    make_audio(&dir.path("in.flac"), 3.0, 48_000, 1);
    let job = write_job(dir.dir(), "job.toml", "in.flac", "unused.mp4", "");
    let out = run_renderer(
        &[
            job.to_str().expect("path"),
            "--start",
            "1.0",
            "--duration",
            "1.5",
            "--fps",
            "24",
            "--width",
            "128",
            "--height",
            "72",
            "--output",
            dir.path("section.mp4").to_str().expect("path"),
        ],
        &[],
    );
    assert!(out.status.success(), "renderer failed: {}", stderr(&out));
    check_mp4(&dir.path("section.mp4"), 1.5, 24.0, 128, 72);
    assert!(!dir.path("unused.mp4").exists());
}

#[test]
fn section_past_the_end_is_clamped_to_the_audio() {
    if !require_ffmpeg("section_past_the_end_is_clamped_to_the_audio")
        || !have_gpu("section_past_the_end_is_clamped_to_the_audio")
    {
        return;
    }
    let dir = Scratch::new("e2e-clamp");
    make_audio(&dir.path("in.wav"), 2.0, 22_050, 1);
    let job = write_job(dir.dir(), "job.toml", "in.wav", "out.mp4", "");
    let out = run_renderer(
        &[
            job.to_str().expect("path"),
            "--start",
            "1.5",
            "--duration",
            "10",
        ],
        &[],
    );
    assert!(out.status.success(), "renderer failed: {}", stderr(&out));
    check_mp4(&dir.path("out.mp4"), 0.5, 30.0, 160, 90);
}

#[test]
fn null_encoder_renders_without_output() {
    if !have_gpu("null_encoder_renders_without_output") {
        return;
    }
    let dir = Scratch::new("e2e-null");
    // Written by hand so this test needs no ffmpeg at all.
    std::fs::write(dir.path("tone.wav"), tone_wav(16_000, 2.0)).expect("write wav");
    let job = write_job(
        dir.dir(),
        "job.toml",
        "tone.wav",
        "never.mp4",
        "encoder = \"null\"",
    );
    let out = run_renderer(&[job.to_str().expect("path")], &[]);
    assert!(out.status.success(), "renderer failed: {}", stderr(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("rendered 60 frames") && summary.contains("encoder null"),
        "summary: {summary}"
    );
    assert!(!dir.path("never.mp4").exists());
}

#[test]
fn a_first_run_without_xdg_runtime_dir_is_quiet() {
    if !have_gpu("a_first_run_without_xdg_runtime_dir_is_quiet") {
        return;
    }
    let dir = Scratch::new("e2e-runtime-dir");
    std::fs::write(dir.path("tone.wav"), tone_wav(16_000, 1.0)).expect("write wav");
    let job = write_job(
        dir.dir(),
        "job.toml",
        "tone.wav",
        "never.mp4",
        "encoder = \"null\"",
    );
    // Unset, and set to something that is not a folder: the Vulkan loader complains about both.
    for value in [None, Some("/nonexistent/runtime")] {
        let mut cmd = std::process::Command::new(renderer_bin());
        cmd.arg(&job);
        match value {
            None => cmd.env_remove("XDG_RUNTIME_DIR"),
            Some(v) => cmd.env("XDG_RUNTIME_DIR", v),
        };
        let out = cmd.output().expect("run renderer");
        let err = stderr(&out);
        assert!(out.status.success(), "renderer failed: {err}");
        assert!(
            !err.contains("XDG_RUNTIME_DIR"),
            "loader noise ({value:?}):\n{err}"
        );
    }
}

/// A 3 s tagged MP3 made by ffmpeg: title "Night Drive", artist "Ana".
fn tagged_mp3(dir: &Scratch) -> std::path::PathBuf {
    let song = dir.path("song.mp3");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=330:duration=3",
        "-c:a",
        "libmp3lame",
        "-metadata",
        "title=Night Drive",
        "-metadata",
        "artist=Ana",
        song.to_str().expect("utf-8 path"),
    ]);
    song
}

#[test]
fn an_audio_file_renders_with_a_built_in_style() {
    if !have_gpu("an_audio_file_renders_with_a_built_in_style")
        || !require_ffmpeg("an_audio_file_renders_with_a_built_in_style")
    {
        return;
    }
    let dir = Scratch::new("e2e-audio-in");
    let song = tagged_mp3(&dir);
    let song_arg = song.to_str().expect("utf-8 path");
    // No job file: the style's job, 1920x1080 scaled to 480x270, written beside the song.
    let out = run_renderer(
        &[song_arg, "--style", "oscilloscope", "--scale", "0.25"],
        &[],
    );
    assert!(out.status.success(), "renderer failed: {}", stderr(&out));
    check_mp4(&dir.path("song.mp4"), 3.0, 30.0, 480, 270);

    // --print-job: a job that renders as it is, titled from the tags.
    let out = run_renderer(&[song_arg, "--print-job", "--style", "vertical-short"], &[]);
    assert!(out.status.success(), "print-job failed: {}", stderr(&out));
    let text = String::from_utf8(out.stdout).expect("utf-8 job");
    assert!(
        text.contains("text = \"Night Drive\"") && text.contains("text = \"Ana\""),
        "{text}"
    );
    let job = dir.path("printed.toml");
    std::fs::write(&job, &text).expect("write job");
    let png = dir.path("printed.png");
    let out = run_renderer(
        &[
            job.to_str().expect("utf-8 path"),
            "--preview",
            "1",
            "--scale",
            "0.25",
            "--output",
            png.to_str().expect("utf-8 path"),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "the printed job renders: {}",
        stderr(&out)
    );
    let (w, h) = image::image_dimensions(&png).expect("preview png");
    assert_eq!((w, h), (270, 480), "9:16 at a quarter");

    // Every style is listed; an unknown one is an invalid argument naming them.
    let out = run_renderer(&["--styles"], &[]);
    let list = String::from_utf8_lossy(&out.stdout);
    for name in ["neon-bars", "radial-cover", "vertical-captions"] {
        assert!(list.contains(name), "--styles lacks {name}:\n{list}");
    }
    let out = run_renderer(&[song_arg, "--style", "neon"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("neon-bars"), "{}", stderr(&out));
}

#[test]
fn a_job_without_layers_gets_the_default_style() {
    if !have_gpu("a_job_without_layers_gets_the_default_style") {
        return;
    }
    let dir = Scratch::new("e2e-no-layers");
    std::fs::write(dir.path("tone.wav"), tone_wav(16_000, 2.0)).expect("write wav");
    let job = dir.path("job.toml");
    std::fs::write(&job, "audio = \"tone.wav\"\n").expect("write job");
    let png = dir.path("still.png");
    let out = run_renderer(
        &[
            job.to_str().expect("utf-8 path"),
            "--preview",
            "1",
            "--scale",
            "0.25",
            "--output",
            png.to_str().expect("utf-8 path"),
        ],
        &[],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("default style \"neon-bars\""),
        "said in the log:\n{err}"
    );
    // Not an empty frame: the style draws (its background is not black).
    let rgb = image::open(&png).expect("png").to_rgb8();
    assert!(
        rgb.pixels().any(|p| p.0.iter().any(|&c| c > 24)),
        "the style drew nothing"
    );
}
