//! `cargo xtask device-check`: builds (release, this machine's architecture) a folder that
//! checks the zero-copy NVENC path on a machine with no Rust toolchain:
//!
//! ```text
//! target/device-check/
//!   run.sh          prints the table (xtask/device-check/run.sh)
//!   device-check    the checks (crates/nvenc/examples/device_check.rs), stripped
//!   renderer        the renderer, stripped (end-to-end row with encoder = "nvenc"; avatar rows)
//!   wav2lip-bench   the generator (GPU kernels, CPU backend, per-layer table) and MTCNN timings
//!   torch_wav2lip.py  the same generator in PyTorch, timed where the device's python3 has torch
//!   job/            a 3-second job and its audio
//!   debs/           the Vulkan loader (libvulkan1) for machines without one, when
//!                   `apt-get download` works here; run.sh unpacks it beside itself
//! ```
//!
//! Carry the folder to the device and run `bash run.sh`. `--run` also runs it here.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const RUN_SH: &str = include_str!("../device-check/run.sh");

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Copies `src` to `dst` without debug sections (`strip`), or as is when strip is missing.
fn copy_stripped(src: &Path, dst: &Path) -> Result<()> {
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(dst)
        .arg(src)
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        eprintln!(
            "note: `strip` failed or is missing; copying {} unstripped",
            src.display()
        );
        std::fs::copy(src, dst)
            .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
    }
    Ok(())
}

fn tone_wav(seconds: f32) -> Vec<u8> {
    let rate = 48_000u32;
    let n = (seconds * rate as f32) as usize;
    let samples: Vec<f32> = (0..n)
        .flat_map(|i| {
            let t = i as f32 / rate as f32;
            // A chord with a slow tremolo, so the bars move.
            let env = 0.6 + 0.4 * (t * 6.0).sin();
            let s = env
                * (0.3 * (t * 220.0 * std::f32::consts::TAU).sin()
                    + 0.2 * (t * 660.0 * std::f32::consts::TAU).sin()
                    + 0.1 * (t * 3300.0 * std::f32::consts::TAU).sin());
            [s, s]
        })
        .collect();
    audio::wav::encode_i16(rate, 2, &samples)
}

const JOB: &str = r##"# The device check's end-to-end job (cargo xtask device-check).
audio = "tone.wav"
output = "out.mp4"

[video]
width = 1280
height = 720
fps = 30
encoder = "nvenc"

[[layer]]
kind = "background"
color = "#101830"

[[layer]]
kind = "bars"
count = 48
color = "#33ccff"
"##;

/// The avatar benchmark's job; run.sh points `face` at a 720p clip made with ffmpeg where it
/// exists, else at the still photograph (detected once).
const AVATAR_JOB: &str = r##"# The device check's avatar benchmark (cargo xtask device-check).
audio = "tone.wav"
output = "avatar.mp4"

[video]
width = 1280
height = 720
fps = 30
encoder = "null"

[[layer]]
kind = "avatar"
face = "FACE"
checkpoint = "random-wav2lip.safetensors"
detector = "mtcnn"
"##;

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let run_here = args.iter().any(|a| a == "--run");
    if let Some(a) = args.iter().find(|a| *a != "--run") {
        bail!("unknown argument {a}: device-check takes only --run");
    }
    for (what, cargo_args) in [
        (
            "device-check",
            &[
                "build",
                "--release",
                "-p",
                "nvenc",
                "--example",
                "device_check",
            ][..],
        ),
        (
            "renderer",
            &["build", "--release", "-p", "renderer", "--bin", "renderer"][..],
        ),
        (
            "wav2lip bench and random_checkpoint",
            &[
                "build",
                "--release",
                "-p",
                "wav2lip",
                "--example",
                "bench",
                "--example",
                "random_checkpoint",
            ][..],
        ),
    ] {
        eprintln!("==> building {what} (release)");
        let ok = super::cargo(cargo_args).status()?.success();
        if !ok {
            bail!("building {what} failed");
        }
    }
    let release = target_dir(root).join("release");
    let bundle = root.join("target").join("device-check");
    if bundle.exists() {
        std::fs::remove_dir_all(&bundle)
            .with_context(|| format!("removing the old {}", bundle.display()))?;
    }
    std::fs::create_dir_all(bundle.join("job"))?;
    copy_stripped(
        &release.join("examples").join("device_check"),
        &bundle.join("device-check"),
    )?;
    copy_stripped(&release.join("renderer"), &bundle.join("renderer"))?;
    let run_sh = bundle.join("run.sh");
    std::fs::write(&run_sh, RUN_SH)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&run_sh, std::fs::Permissions::from_mode(0o755))?;
    }
    std::fs::write(bundle.join("job").join("job.toml"), JOB)?;
    std::fs::write(bundle.join("job").join("tone.wav"), tone_wav(3.0))?;
    // The talking-avatar benchmark: the generator alone, and the avatar layer at 720p with
    // MTCNN (weights and a test photograph carried; the 145 MB random checkpoint is written on
    // the device by random_checkpoint).
    for (example, name) in [
        ("bench", "wav2lip-bench"),
        ("random_checkpoint", "random-checkpoint"),
    ] {
        copy_stripped(&release.join("examples").join(example), &bundle.join(name))?;
    }
    // The PyTorch twin of the generator, run by wav2lip-bench where the device has torch.
    std::fs::copy(
        root.join("crates/wav2lip/tests/fixtures/torch_wav2lip.py"),
        bundle.join("torch_wav2lip.py"),
    )?;
    let cache = root.join("target").join("test-cache");
    let avatar_files = wav2lip::fetch::mtcnn_weights(&bundle.join("job").join("mtcnn"))
        .and_then(|_| wav2lip::fetch::test_photo(&cache.join("skimage")));
    match avatar_files {
        Ok(photo) => {
            std::fs::copy(&photo, bundle.join("job").join("astronaut.png"))?;
            let _ = std::fs::remove_dir_all(bundle.join("job").join("mtcnn").join("download"));
            std::fs::write(bundle.join("job").join("avatar.toml"), AVATAR_JOB)?;
        }
        Err(e) => eprintln!("note: no avatar rows in the bundle: {e}"),
    }

    // The Vulkan loader for machines that lack it (best effort: needs apt and a network).
    let debs = bundle.join("debs");
    std::fs::create_dir_all(&debs)?;
    let got = Command::new("apt-get")
        .args(["download", "libvulkan1"])
        .current_dir(&debs)
        .status()
        .is_ok_and(|s| s.success());
    if !got {
        eprintln!(
            "note: `apt-get download libvulkan1` failed; the bundle relies on the device's own \
             Vulkan loader"
        );
    }

    let size: u64 = walk(&bundle)?;
    eprintln!(
        "==> {} ({:.1} MiB). Carry it to the NVIDIA machine and run `bash run.sh` there.",
        bundle.display(),
        size as f64 / (1024.0 * 1024.0)
    );
    if run_here {
        eprintln!("==> running it here");
        let ok = Command::new("bash").arg(&run_sh).status()?.success();
        if !ok {
            bail!("run.sh reported a wrong result");
        }
    }
    Ok(())
}

fn walk(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            walk(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}
