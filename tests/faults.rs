//! Faults and interruption: signals, damaged audio, a vanishing output folder, limits and
//! concurrent renders. Nothing is left at the output path and no ffmpeg keeps running.

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

/// Processes (other than this one) whose command line mentions `needle`, read from /proc:
/// a check that cannot look fails instead of reporting none.
fn ffmpeg_processes(needle: &str) -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .expect("listing /proc to look for leftover processes")
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.bytes().all(|b| b.is_ascii_digit()) && name != me
        })
        // A process may exit between the listing and the read: it is not left over.
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| {
            String::from_utf8_lossy(c)
                .replace('\0', " ")
                .contains(needle)
        })
        .count()
}

#[test]
fn the_leftover_process_check_sees_a_running_process() {
    // The check itself can fail: a process with the needle in its command line is counted.
    let needle = format!("leftover-check-{}", std::process::id());
    let mut child = Command::new("sh")
        .args(["-c", "sleep 30; true", &needle])
        .spawn()
        .expect("sh");
    // A process's command line appears in /proc only once its exec has set it up, which can be
    // just after `spawn` returns on a busy machine: look until it shows.
    let started = Instant::now();
    let mut seen = ffmpeg_processes(&needle);
    while seen == 0 && started.elapsed() < NOT_HUNG {
        std::thread::sleep(Duration::from_millis(10));
        seen = ffmpeg_processes(&needle);
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    assert_eq!(
        seen, 1,
        "the running `sh -c 'sleep 30; true' {needle}` must be seen"
    );
    assert_eq!(ffmpeg_processes(&needle), 0, "and not once it has exited");
}

/// A deadline that means "not hung", never a performance claim: generous enough for a loaded
/// 2-core machine.
const NOT_HUNG: Duration = Duration::from_secs(60);

/// Starts a long render in `dir`, sends `signal` once the render is writing (its temporary
/// output exists: no fixed sleep), and returns its exit code and how long it took to stop after
/// the signal.
fn interrupt(dir: &Scratch, signal: &str) -> (Option<i32>, Duration, String) {
    make_audio(&dir.path("long.wav"), 60.0, 8_000, 1);
    let job = write_job(dir.dir(), "job.toml", "long.wav", "out.mp4", "");
    let child = spawn_renderer(&[job.as_os_str()]);
    let started = Instant::now();
    while dir.files().len() <= 2 {
        assert!(
            started.elapsed() < NOT_HUNG,
            "{signal}: the render never started writing: {:?}",
            dir.files()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let sent = Instant::now();
    let out = child.wait_with_output().expect("wait");
    (out.status.code(), sent.elapsed(), stderr(&out))
}

#[test]
fn sigterm_and_sigint_stop_cleanly_with_128_plus_signal() {
    if !require_ffmpeg("sigterm_and_sigint") || !have_gpu("sigterm_and_sigint") {
        return;
    }
    for (signal, code) in [("-TERM", 143), ("-INT", 130)] {
        let dir = Scratch::new("signal");
        let (status, took, err) = interrupt(&dir, signal);
        assert_eq!(status, Some(code), "{signal}: {err}");
        assert!(took < NOT_HUNG, "{signal}: took {took:?} to stop");
        assert!(err.contains("cancelled"), "{signal}: {err}");
        assert_eq!(
            dir.files(),
            ["job.toml", "long.wav"],
            "{signal}: files left behind"
        );
        assert_eq!(
            ffmpeg_processes(&dir.dir().to_string_lossy()),
            0,
            "{signal}: ffmpeg left running"
        );
    }
}

#[test]
fn truncated_files_fail_with_a_clear_message() {
    if !require_ffmpeg("truncated_files") || !have_gpu("truncated_files") {
        return;
    }
    let dir = Scratch::new("truncated");
    make_audio(&dir.path("full.wav"), 6.0, 44_100, 2);
    for ext in ["wav", "flac", "mp3"] {
        let full = dir.path(&format!("full.{ext}"));
        if ext != "wav" {
            ffmpeg(&[
                "-i",
                dir.path("full.wav").to_str().expect("path"),
                full.to_str().expect("path"),
            ]);
        }
        let bytes = std::fs::read(&full).expect("read");
        let cut = dir.path(&format!("cut.{ext}"));
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
        let job = write_job(
            dir.dir(),
            "job.toml",
            &format!("cut.{ext}"),
            "out.mp4",
            "encoder = \"null\"",
        );
        let out = run_renderer(&[job.to_str().expect("path")], &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{ext}: {err}");
        assert!(
            err.contains(&format!("cut.{ext}")) && err.contains("ends early"),
            "{ext}: {err}"
        );
        assert!(err.contains("--duration"), "{ext}: the fix is named: {err}");
    }
}

#[test]
fn damaged_flac_keeps_its_timeline_and_damaged_mp3_fails_clearly() {
    if !require_ffmpeg("damaged_audio") || !have_gpu("damaged_audio") {
        return;
    }
    let dir = Scratch::new("damaged");
    make_audio(&dir.path("src.wav"), 6.0, 44_100, 2);
    for ext in ["flac", "mp3"] {
        let path = dir.path(&format!("damaged.{ext}"));
        ffmpeg(&[
            "-i",
            dir.path("src.wav").to_str().expect("path"),
            path.to_str().expect("path"),
        ]);
        let mut bytes = std::fs::read(&path).expect("read");
        let mid = bytes.len() / 2;
        // Deterministic junk over 3000 bytes in the middle.
        for (i, b) in bytes[mid..mid + 3000].iter_mut().enumerate() {
            *b = (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8;
        }
        std::fs::write(&path, bytes).expect("write");
        let job = write_job(
            dir.dir(),
            "job.toml",
            &format!("damaged.{ext}"),
            "out.mp4",
            "",
        );
        let out = run_renderer(&[job.to_str().expect("path")], &[]);
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{ext}: {err}");
        if ext == "flac" {
            // FLAC frames carry their position: the lost stretch becomes silence.
            assert!(out.status.success(), "flac: {err}");
            assert!(
                err.contains("damaged audio") && err.contains("silence keeps the timeline"),
                "{err}"
            );
            let frames: u64 = probe(&dir.path("out.mp4"), "v")["nb_read_frames"]
                .parse()
                .expect("n");
            assert_eq!(frames, 180, "the timeline is kept: 6 s at 30 fps");
            std::fs::remove_file(dir.path("out.mp4")).expect("rm");
        } else {
            assert_eq!(out.status.code(), Some(1), "mp3: {err}");
            assert!(
                err.contains("ends early") && err.contains("damaged"),
                "mp3: {err}"
            );
            assert!(!dir.path("out.mp4").exists());
        }
    }
}

#[test]
fn output_folder_removed_mid_run_is_an_error_without_orphans() {
    if !require_ffmpeg("output_folder_removed") || !have_gpu("output_folder_removed") {
        return;
    }
    let dir = Scratch::new("vanishing");
    // Long enough that the render is still running when the folder goes, even on a busy machine.
    make_audio(&dir.path("in.wav"), 300.0, 8_000, 1);
    let out_dir = dir.path("out dir");
    std::fs::create_dir(&out_dir).expect("mkdir");
    let job = write_job(dir.dir(), "job.toml", "in.wav", "out dir/out.mp4", "");
    let child = spawn_renderer(&[job.as_os_str()]);
    // Wait until the render is writing (its temporary file exists), then remove the folder.
    let deadline = Instant::now() + NOT_HUNG;
    while std::fs::read_dir(&out_dir).map_or(true, |mut d| d.next().is_none()) {
        assert!(
            Instant::now() < deadline,
            "the render never started writing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::remove_dir_all(&out_dir).expect("remove the output folder");
    let removed = Instant::now();
    let out = child.wait_with_output().expect("wait");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("out.mp4") && err.contains("disappeared"),
        "{err}"
    );
    assert!(
        removed.elapsed() < NOT_HUNG,
        "noticed after {:?}",
        removed.elapsed()
    );
    assert!(!out_dir.exists());
    assert_eq!(ffmpeg_processes("out dir"), 0);
}

#[test]
fn disk_full_is_an_error_without_partial_output() {
    if !require_ffmpeg("disk_full") || !have_gpu("disk_full") {
        return;
    }
    let dir = Scratch::new("diskfull");
    make_audio(&dir.path("in.wav"), 20.0, 8_000, 1);
    let job = write_job(dir.dir(), "job.toml", "in.wav", "out.mp4", "");
    // A file-size limit of 64 KiB (inherited by ffmpeg) stands in for a full disk: writes past it
    // fail as they would on a full file system.
    let script = dir.path("limited.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nulimit -f 64\nexec '{}' \"$@\"\n",
            renderer_bin().display()
        ),
    )
    .expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = Command::new(&script)
        .arg(&job)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("run");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("ffmpeg") && err.contains("file-size limit"),
        "{err}"
    );
    assert_eq!(dir.files(), ["in.wav", "job.toml", "limited.sh"], "{err}");
}

/// A real full file system: the output folder is a 32 KiB tmpfs (CI runs as root), far smaller
/// than a minute of video with its AAC track. Where
/// mounting is refused (no CAP_SYS_ADMIN in a container) the test skips visibly; the
/// file-size-limit test above still covers the write-failure path there.
#[test]
fn a_full_file_system_is_an_error_without_partial_output() {
    let name = "a_full_file_system_is_an_error_without_partial_output";
    if !require_ffmpeg(name) || !have_gpu(name) {
        return;
    }
    let dir = Scratch::new("enospc");
    make_audio(&dir.path("in.wav"), 60.0, 8_000, 1);
    let mnt = dir.path("small");
    std::fs::create_dir(&mnt).expect("mkdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=32k", "tmpfs"])
        .arg(&mnt)
        .output();
    match mounted {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            test_support::skip(
                name,
                &format!(
                    "cannot mount a tmpfs here: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            );
            return;
        }
        Err(e) => {
            test_support::skip(name, &format!("cannot run mount: {e}"));
            return;
        }
    }
    // Unmounted whatever happens below.
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let job = write_job(dir.dir(), "job.toml", "in.wav", "small/out.mp4", "");
    let out = run_renderer(&[job.to_str().expect("path")], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&mnt)
        .expect("list the tmpfs")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left on the full file system: {left:?}");
}

#[test]
fn limits_reject_jobs_before_any_work() {
    let dir = Scratch::new("limits");
    std::fs::write(dir.path("in.wav"), tone_wav(8_000, 2.0)).expect("write");
    let mut job = renderer::Job::new(dir.path("in.wav"), dir.path("out.mp4"));
    job.video.encoder = renderer::job::EncoderChoice::Null;
    let cases = [
        (
            renderer::Limits {
                max_pixels: Some(640 * 360),
                ..Default::default()
            },
            "pixels",
        ),
        (
            renderer::Limits {
                max_duration: Some(1.0),
                ..Default::default()
            },
            "at most 1 s",
        ),
        (
            renderer::Limits {
                max_layers: Some(1),
                ..Default::default()
            },
            "2 layers",
        ),
    ];
    for (limits, needle) in cases {
        let result = renderer::render(
            &job,
            renderer::RenderOptions {
                limits,
                ..Default::default()
            },
        );
        match result {
            Err(e @ renderer::RenderError::Limit(_)) => {
                assert!(e.to_string().contains(needle), "{e}")
            }
            other => panic!("expected a limit error, got {other:?}"),
        }
    }
}

#[test]
fn two_renders_at_once_in_one_process_and_in_two() {
    if !require_ffmpeg("two_renders") || !have_gpu("two_renders") {
        return;
    }
    let dir = Scratch::new("concurrent");
    make_audio(&dir.path("a.wav"), 2.0, 44_100, 2);
    make_audio(&dir.path("b.flac"), 3.0, 48_000, 1);
    // In one process: two threads, each with its own job (and device).
    let jobs: Vec<renderer::Job> = [("a.wav", "a.mp4"), ("b.flac", "b.mp4")]
        .iter()
        .map(|(audio, out)| {
            let mut job = renderer::Job::new(dir.path(audio), dir.path(out));
            job.video.width = renderer::job::Dimension(160);
            job.video.height = renderer::job::Dimension(90);
            job.video.preset = renderer::job::Preset("ultrafast".into());
            job
        })
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|job| s.spawn(move || renderer::render(job, Default::default())))
            .collect();
        for h in handles {
            let summary = h.join().expect("thread").expect("render");
            assert!(summary.frames > 0);
        }
    });
    for (out, frames) in [("a.mp4", 60), ("b.mp4", 90)] {
        let n: u64 = probe(&dir.path(out), "v")["nb_read_frames"]
            .parse()
            .expect("n");
        assert_eq!(n, frames, "{out}");
    }
    // In two processes at once.
    let ja = write_job(dir.dir(), "ja.toml", "a.wav", "pa.mp4", "");
    let jb = write_job(dir.dir(), "jb.toml", "b.flac", "pb.mp4", "");
    let spawn = |job: &std::path::Path| {
        Command::new(renderer_bin())
            .arg(job)
            .arg("-q")
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .spawn()
            .expect("spawn")
    };
    let (mut a, mut b) = (spawn(&ja), spawn(&jb));
    assert!(a.wait().expect("wait").success() && b.wait().expect("wait").success());
    for (out, frames) in [("pa.mp4", 60), ("pb.mp4", 90)] {
        let n: u64 = probe(&dir.path(out), "v")["nb_read_frames"]
            .parse()
            .expect("n");
        assert_eq!(n, frames, "{out}");
    }
}
