//! Helpers shared by the end-to-end tests: the renderer binary, scratch folders, fixtures made
//! with ffmpeg, and ffprobe queries.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The `renderer` binary Cargo built for these tests.
pub fn renderer_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_renderer"))
}

/// True under CI=true, where missing prerequisites fail tests instead of skipping them.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether ffmpeg and ffprobe run. Outside CI a missing ffmpeg skips the test visibly.
pub fn have_ffmpeg(test: &str) -> bool {
    let ok = ["ffmpeg", "ffprobe"].iter().all(|p| {
        Command::new(p)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !ok {
        assert!(
            !in_ci(),
            "{test}: ffmpeg/ffprobe not found, and CI=true forbids skipping (apt-get install ffmpeg)"
        );
        test_support::skip(test, "ffmpeg/ffprobe not found (apt-get install ffmpeg)");
    }
    ok
}

/// Whether the renderer sees any GPU adapter. Outside CI none skips the test visibly; under
/// CI=true it fails (CI must install mesa-vulkan-drivers).
pub fn have_gpu(test: &str) -> bool {
    let out = run_renderer(&["--list-adapters"], &[]);
    let ok = out.status.success() && !String::from_utf8_lossy(&out.stdout).trim().is_empty();
    if !ok {
        assert!(
            !in_ci(),
            "{test}: no GPU adapter, and CI=true forbids skipping (apt-get install mesa-vulkan-drivers)"
        );
        test_support::skip(test, "no GPU adapter (apt-get install mesa-vulkan-drivers)");
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

/// A scratch folder removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "renderer-test-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Self(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Names of all files in the folder (to check that nothing partial was left behind).
    pub fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs ffmpeg with `args`, panicking with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
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
