//! Helpers shared by the end-to-end tests: the renderer binary, the GPU check through it,
//! fixtures made with ffmpeg, and ffprobe queries. Scratch folders, ffmpeg presence and the CI
//! flag come from test_support (re-exported here).
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[allow(unused_imports)] // Not every test file uses both.
pub use test_support::{Scratch, require_ffmpeg};

/// The `renderer` binary Cargo built for these tests.
pub fn renderer_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_renderer"))
}

/// Whether the renderer sees any GPU adapter. Outside CI none skips the test visibly; under
/// CI=true it fails (CI must install mesa-vulkan-drivers).
pub fn have_gpu(test: &str) -> bool {
    let out = run_renderer(&["--list-adapters"], &[]);
    let ok = out.status.success() && !String::from_utf8_lossy(&out.stdout).trim().is_empty();
    if !ok {
        test_support::skip_unless_ci(test, "no GPU adapter (apt-get install mesa-vulkan-drivers)");
    }
    ok
}

/// A 16-bit mono WAV of a ~400 Hz sine, written without ffmpeg.
pub fn tone_wav(rate: u32, seconds: f32) -> Vec<u8> {
    let step = std::f32::consts::TAU * 400.0 / rate as f32;
    let samples: Vec<f32> = (0..(rate as f32 * seconds) as usize)
        .map(|i| 0.27 * (i as f32 * step).sin())
        .collect();
    audio::wav::encode_i16(rate, 1, &samples)
}

/// Starts the renderer with `args` (stdout discarded, stderr captured) without waiting.
pub fn spawn_renderer(args: &[&std::ffi::OsStr]) -> std::process::Child {
    Command::new(renderer_bin())
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start renderer")
}

/// Runs ffmpeg with `args`, panicking with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    ffmpeg_output(args);
}

/// Runs ffmpeg with `args` (e.g. ending in `-f rawvideo -`) and returns what it wrote to
/// stdout, panicking with its stderr on failure.
pub fn ffmpeg_output(args: &[&str]) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A musical test signal (a chord with a beat) of `seconds`, written by ffmpeg to `path`;
/// the extension picks the format.
pub fn make_audio(path: &Path, seconds: f64, rate: u32, channels: u32) {
    let src = format!(
        "aevalsrc='0.3*sin(2*PI*220*t)+0.2*sin(2*PI*330*t)+0.1*sin(2*PI*2500*t)*(0.5+0.5*sin(2*PI*2*t))':s={rate}:d={seconds}"
    );
    let ch = channels.to_string();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &src,
        "-ac",
        &ch,
        path.to_str().expect("utf-8 path"),
    ]);
}

/// `ffprobe` stream/format entries for the first stream of `kind` ("v" or "a"), keyed by name,
/// with the format's entries prefixed "format.".
pub fn probe(path: &Path, kind: &str) -> HashMap<String, String> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            &format!("{kind}:0"),
            "-count_frames",
            "-show_entries",
            "stream=codec_name,pix_fmt,width,height,r_frame_rate,nb_read_frames,color_space,color_transfer,color_primaries,color_range,sample_rate,duration:format=duration",
            "-of",
            "flat",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(out.status.success(), "ffprobe {} failed", path.display());
    let mut map = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim_matches('"').to_owned();
        let key = if let Some(rest) = k.strip_prefix("streams.stream.0.") {
            rest.to_owned()
        } else if let Some(rest) = k.strip_prefix("format.") {
            format!("format.{rest}")
        } else {
            continue;
        };
        map.insert(key, v);
    }
    map
}

/// Duration of an audio file in seconds as ffprobe reports it.
pub fn audio_duration(path: &Path) -> f64 {
    probe(path, "a")["format.duration"]
        .parse()
        .expect("duration is a number")
}

/// Runs the renderer with `args`, with logs on, and returns its output.
pub fn run_renderer(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(renderer_bin());
    cmd.args(args).env("XDG_RUNTIME_DIR", std::env::temp_dir());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run renderer")
}

/// Stderr of an output, lossily decoded.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A job file with a background and bars at `width` x `height`.
pub fn write_job(dir: &Path, name: &str, audio: &str, output: &str, extra_video: &str) -> PathBuf {
    let job = format!(
        r##"audio = "{audio}"
output = "{output}"

[video]
width = 160
height = 90
fps = 30
preset = "ultrafast"
{extra_video}

[[layer]]
kind = "background"
color = "#102030"

[[layer]]
kind = "bars"
count = 16
color = "#33ccff"
"##
    );
    let path = dir.join(name);
    std::fs::write(&path, job).expect("write job");
    path
}
