//! Bad input gives a clear error, a non-zero exit and no file at the output path.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use support::*;

/// Runs the renderer on `job` in `dir` and checks the failure: exit `code`, every `needles`
/// string in stderr, and nothing left at `out.mp4` (or beside it).
fn expect_failure(
    dir: &Scratch,
    args: &[&str],
    envs: &[(&str, &str)],
    code: i32,
    needles: &[&str],
) {
    let before = dir.files();
    let out = run_renderer(args, envs);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "exit status; stderr:\n{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
    }
    assert!(!err.contains("panicked"), "the renderer panicked:\n{err}");
    assert_eq!(
        dir.files(),
        before,
        "files appeared or vanished in the job folder"
    );
}

fn job_with(dir: &Scratch, body: &str) -> String {
    let path = dir.path("job.toml");
    std::fs::write(&path, body).expect("write job");
    path.to_string_lossy().into_owned()
}

#[test]
fn missing_audio_names_the_file() {
    let dir = Scratch::new("bad-missing");
    let job = job_with(&dir, "audio = \"nowhere.wav\"\noutput = \"out.mp4\"\n");
    expect_failure(
        &dir,
        &[&job],
        &[],
        1,
        &["nowhere.wav", "cannot open audio file"],
    );
}

#[test]
fn corrupt_audio_is_reported() {
    let dir = Scratch::new("bad-corrupt");
    let noise: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path("noise.mp3"), noise).expect("write");
    let job = job_with(&dir, "audio = \"noise.mp3\"\noutput = \"out.mp4\"\n");
    expect_failure(&dir, &[&job], &[], 1, &["noise.mp3"]);
}

#[test]
fn empty_audio_is_reported() {
    let dir = Scratch::new("bad-empty");
    std::fs::write(dir.path("empty.wav"), b"").expect("write");
    let job = job_with(&dir, "audio = \"empty.wav\"\noutput = \"out.mp4\"\n");
    expect_failure(&dir, &[&job], &[], 1, &["empty.wav", "no audio samples"]);
}

#[test]
fn wav_without_samples_is_reported() {
    let dir = Scratch::new("bad-nosamples");
    let wav = wav_with(44_100, 1, 0);
    std::fs::write(dir.path("silent.wav"), wav).expect("write");
    let job = job_with(&dir, "audio = \"silent.wav\"\noutput = \"out.mp4\"\n");
    expect_failure(&dir, &[&job], &[], 1, &["silent.wav", "no audio samples"]);
}

#[test]
fn bad_toml_gives_line_and_column() {
    let dir = Scratch::new("bad-toml");
    let job = job_with(&dir, "audio = \"a.wav\"\n[video\nwidth = 10\n");
    expect_failure(&dir, &[&job], &[], 2, &["job.toml", "line 2"]);
}

#[test]
fn unknown_key_gives_line_and_column() {
    let dir = Scratch::new("bad-key");
    let job = job_with(&dir, "audio = \"a.wav\"\n\n[video]\nwidht = 640\n");
    expect_failure(&dir, &[&job], &[], 2, &["line 4", "widht"]);
}

#[test]
fn invalid_sizes_and_rates_are_rejected() {
    let dir = Scratch::new("bad-values");
    for (body, needle) in [
        ("[video]\nwidth = 641\n", "must be even"),
        ("[video]\nwidth = 0\n", "between 16 and 7680"),
        ("[video]\nheight = 100000\n", "between 16 and 7680"),
        ("[video]\nfps = 0\n", "fps must be between 1 and 120"),
        ("[video]\nfps = 1000\n", "fps must be between 1 and 120"),
        ("[video]\nfps = nan\n", "fps must be between 1 and 120"),
        ("[video]\nquality = 60\n", "quality (CRF)"),
        ("[video]\npreset = \"warp\"\n", "preset \"warp\""),
        ("[video]\nencoder = \"h265x\"\n", "unknown variant"),
        (
            "[[layer]]\nkind = \"bars\"\ncolor = \"blue\"\n",
            "colour \"blue\"",
        ),
        ("[[layer]]\nkind = \"sparkles\"\n", "unknown variant"),
        ("version = 7\n", "version 7"),
        ("[analysis]\nbands = 4\n", "bands must be between 8 and 512"),
        ("[analysis]\nscale = \"bark\"\n", "unknown variant `bark`"),
        ("[analysis]\nattack_ms = -5\n", "time (ms) must be between"),
        (
            "[analysis]\npercentile = 20\n",
            "percentile must be between",
        ),
        ("[analysis]\nfloor = -60\n", "unknown field `floor`"),
    ] {
        let job = job_with(&dir, &format!("audio = \"a.wav\"\n{body}"));
        expect_failure(&dir, &[&job], &[], 2, &[needle, "line"]);
    }
}

#[test]
fn an_empty_frequency_range_is_rejected() {
    let dir = Scratch::new("bad-range");
    let job = job_with(
        &dir,
        "audio = \"a.wav\"\n[analysis]\nmin_hz = 5000\nmax_hz = 100\n",
    );
    expect_failure(
        &dir,
        &[&job],
        &[],
        2,
        &["min_hz (5000) must be below max_hz (100)"],
    );
}

#[test]
fn bad_command_line_values_are_rejected() {
    let dir = Scratch::new("bad-cli");
    let job = job_with(&dir, "audio = \"a.wav\"\n");
    expect_failure(
        &dir,
        &[&job, "--width", "99"],
        &[],
        2,
        &["--width", "must be even"],
    );
    expect_failure(&dir, &[&job, "--fps", "0"], &[], 2, &["--fps"]);
    expect_failure(
        &dir,
        &[&job, "--encoder", "vp9"],
        &[],
        2,
        &["--encoder", "vp9"],
    );
    expect_failure(&dir, &[&job, "--duration", "-1"], &[], 2, &["duration"]);
}

#[test]
fn missing_job_file_is_reported() {
    let dir = Scratch::new("bad-nojob");
    let missing = dir.path("nope.toml");
    expect_failure(
        &dir,
        &[missing.to_str().expect("path")],
        &[],
        2,
        &["nope.toml"],
    );
}

#[test]
fn missing_output_folder_is_reported() {
    if !require_ffmpeg("missing_output_folder_is_reported") {
        return;
    }
    let dir = Scratch::new("bad-outdir");
    make_audio(&dir.path("in.wav"), 1.0, 44_100, 1);
    let job = write_job(
        dir.dir(),
        "job.toml",
        "in.wav",
        "no/such/folder/out.mp4",
        "",
    );
    expect_failure(
        &dir,
        &[job.to_str().expect("path")],
        &[],
        1,
        &["no/such/folder", "does not exist"],
    );
}

#[test]
fn unwritable_output_folder_is_reported() {
    if !require_ffmpeg("unwritable_output_folder_is_reported") {
        return;
    }
    let dir = Scratch::new("bad-readonly");
    make_audio(&dir.path("in.wav"), 1.0, 44_100, 1);
    let ro = dir.path("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    // root ignores directory permissions; /proc refuses new files even to root.
    let probe = ro.join("probe");
    let target = if std::fs::write(&probe, b"x").is_ok() {
        let _ = std::fs::remove_file(&probe);
        "/proc/out.mp4"
    } else {
        "ro/out.mp4"
    };
    let job = write_job(dir.dir(), "job.toml", "in.wav", target, "");
    expect_failure(
        &dir,
        &[job.to_str().expect("path")],
        &[],
        1,
        &["cannot write"],
    );
}

#[test]
fn missing_ffmpeg_is_reported() {
    let dir = Scratch::new("bad-noffmpeg");
    std::fs::write(dir.path("in.wav"), tone_wav(8_000, 0.5)).expect("write");
    let job = write_job(dir.dir(), "job.toml", "in.wav", "out.mp4", "");
    expect_failure(
        &dir,
        &[job.to_str().expect("path")],
        &[("FFMPEG", "/nonexistent/ffmpeg")],
        1,
        &["ffmpeg was not found", "apt-get install ffmpeg"],
    );
}

#[test]
fn no_gpu_adapter_is_reported() {
    let dir = Scratch::new("bad-nogpu");
    std::fs::write(dir.path("in.wav"), tone_wav(8_000, 0.5)).expect("write");
    let job = write_job(
        dir.dir(),
        "job.toml",
        "in.wav",
        "out.mp4",
        "encoder = \"null\"",
    );
    expect_failure(
        &dir,
        &[job.to_str().expect("path")],
        &[
            ("WGPU_BACKEND", "vulkan"),
            ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
            ("VK_DRIVER_FILES", "/nonexistent/icd.json"),
        ],
        1,
        &["no GPU adapter found", "mesa-vulkan-drivers"],
    );
}

#[test]
fn adapter_gpu_on_a_software_only_machine_lists_adapters() {
    let adapters = run_renderer(&["--list-adapters"], &[]);
    let list = String::from_utf8_lossy(&adapters.stdout).into_owned();
    let lines: Vec<&str> = list.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() || !lines.iter().all(|l| l.contains("software")) {
        test_support::skip(
            "adapter_gpu_on_a_software_only_machine_lists_adapters",
            &format!("not a software-only machine; adapters: {list:?}"),
        );
        assert!(
            !(test_support::ci() && lines.is_empty()),
            "CI=true but no adapter (install mesa-vulkan-drivers)"
        );
        return;
    }
    let dir = Scratch::new("bad-gpuonly");
    std::fs::write(dir.path("in.wav"), tone_wav(8_000, 0.5)).expect("write");
    let job = write_job(
        dir.dir(),
        "job.toml",
        "in.wav",
        "out.mp4",
        "encoder = \"null\"\nadapter = \"gpu\"",
    );
    expect_failure(
        &dir,
        &[job.to_str().expect("path")],
        &[],
        1,
        &["Adapters seen:", "software"],
    );
}

#[test]
fn ffmpeg_dying_mid_stream_fails_fast_without_output() {
    if !require_ffmpeg("ffmpeg_dying_mid_stream_fails_fast_without_output") {
        return;
    }
    let dir = Scratch::new("bad-ffmpeg-dies");
    make_audio(&dir.path("in.wav"), 120.0, 8_000, 1);
    // A wrapper that becomes ffmpeg and is killed with SIGKILL one second into the encode.
    let wrapper = dir.path("dying-ffmpeg");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\ncase \"$*\" in *pipe:0*) (sleep 1; kill -9 $$) >/dev/null 2>&1 & ;; esac\nexec ffmpeg \"$@\"\n",
    )
    .expect("write wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let job = write_job(dir.dir(), "job.toml", "in.wav", "out.mp4", "");
    let started = Instant::now();
    expect_failure(
        &dir,
        &[job.to_str().expect("path")],
        &[("FFMPEG", wrapper.to_str().expect("path"))],
        1,
        &["ffmpeg stopped unexpectedly"],
    );
    // 120 s of video takes far longer than this to render; the failure must come promptly.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

/// A 16-bit PCM WAV with the given (possibly invalid) rate and channel count and `frames`
/// silent frames.
fn wav_with(rate: u32, channels: u16, frames: u32) -> Vec<u8> {
    let data_len = frames * u32::from(channels) * 2;
    let mut w = audio::wav::header(rate, channels, 16, false, data_len);
    w.resize(44 + data_len as usize, 0);
    w
}

#[test]
fn zero_hz_and_zero_channel_wavs_are_reported() {
    let dir = Scratch::new("bad-wavfmt");
    std::fs::write(dir.path("zero-rate.wav"), wav_with(0, 1, 100)).expect("write");
    std::fs::write(dir.path("zero-channels.wav"), wav_with(44_100, 0, 0)).expect("write");
    for name in ["zero-rate.wav", "zero-channels.wav"] {
        let job = job_with(&dir, &format!("audio = \"{name}\"\noutput = \"out.mp4\"\n"));
        expect_failure(&dir, &[&job], &[], 1, &[name]);
    }
}

#[test]
fn very_long_strings_are_errors_not_panics() {
    let dir = Scratch::new("bad-long");
    let long = "x".repeat(100_000);
    let job = job_with(
        &dir,
        &format!("audio = \"{long}.wav\"\noutput = \"out.mp4\"\n"),
    );
    expect_failure(&dir, &[&job], &[], 1, &["cannot open audio file"]);
    let job = job_with(
        &dir,
        &format!("audio = \"a.wav\"\n[video]\npreset = \"{long}\"\n"),
    );
    expect_failure(&dir, &[&job], &[], 2, &["preset", "line 3"]);
    let job = job_with(
        &dir,
        &format!("audio = \"a.wav\"\n[[layer]]\nkind = \"bars\"\ncolor = \"#{long}\"\n"),
    );
    expect_failure(&dir, &[&job], &[], 2, &["colour", "line 4"]);
}

#[test]
fn a_wrong_extension_still_renders_by_content() {
    if !require_ffmpeg("a_wrong_extension_still_renders_by_content")
        || !have_gpu("a_wrong_extension_still_renders_by_content")
    {
        return;
    }
    let dir = Scratch::new("wrong-ext");
    make_audio(&dir.path("real.flac"), 1.0, 44_100, 1);
    std::fs::rename(dir.path("real.flac"), dir.path("looks-like.mp3")).expect("rename");
    let job = write_job(
        dir.dir(),
        "job.toml",
        "looks-like.mp3",
        "out.mp4",
        "encoder = \"null\"",
    );
    let out = run_renderer(&[job.to_str().expect("path")], &[]);
    assert!(
        out.status.success(),
        "the format is probed from the content: {}",
        stderr(&out)
    );
}
