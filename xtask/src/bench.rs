//! `cargo xtask bench`: side-by-side figures, measured in one run.
//!
//! Every row is a whole process (tree) started here: wall time, CPU time (user + system of the
//! process and its waited-for children, from `wait4`) and the peak resident memory of the whole
//! process tree (the sum of VmRSS over the tree, sampled every 50 ms). Rows alternate within each
//! repeat (A B C A B C ...), and ratios are taken pair by pair inside a repeat, so a noisy shared
//! machine affects both sides of a ratio alike. Results: docs/BENCHMARKS.md and bench/results.json.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

/// Settings of one bench invocation.
#[derive(Debug, Clone)]
pub struct Options {
    pub quick: bool,
    /// Audio to render; generated test music when `None`.
    pub audio: Option<PathBuf>,
    /// Seconds of audio for the side-by-side rows.
    pub seconds: f64,
    /// Seconds for the 3840x2160 row.
    pub seconds_4k: f64,
    pub repeats: usize,
    /// Input lengths (minutes) for the memory-flatness rows.
    pub memory_minutes: Vec<f64>,
    /// Another renderer binary (an earlier build) measured beside ours on the 1080p rows, for
    /// before/after ratios in one run.
    pub baseline: Option<PathBuf>,
}

impl Options {
    pub fn parse(args: &[String]) -> anyhow::Result<Self> {
        let quick = args.iter().any(|a| a == "--quick");
        let mut o = if quick {
            Self {
                quick,
                audio: None,
                seconds: 3.0,
                seconds_4k: 1.0,
                repeats: 3,
                memory_minutes: vec![1.0 / 12.0, 0.25],
                baseline: None,
            }
        } else {
            Self {
                quick,
                audio: None,
                seconds: 20.0,
                seconds_4k: 5.0,
                repeats: 3,
                memory_minutes: vec![1.0, 10.0],
                baseline: None,
            }
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .with_context(|| format!("{name} needs a value"))
            };
            match a.as_str() {
                "--quick" => {}
                "--audio" => o.audio = Some(PathBuf::from(value("--audio")?)),
                "--baseline" => {
                    let bin = PathBuf::from(value("--baseline")?);
                    ensure!(
                        bin.is_file(),
                        "--baseline {}: no such renderer binary (build one, e.g. in a git \
                         worktree of the earlier commit, and give its target/release/renderer)",
                        bin.display()
                    );
                    o.baseline = Some(bin);
                }
                "--seconds" => o.seconds = value("--seconds")?.parse()?,
                "--seconds-4k" => o.seconds_4k = value("--seconds-4k")?.parse()?,
                "--repeats" => o.repeats = value("--repeats")?.parse()?,
                "--memory-minutes" => {
                    o.memory_minutes = value("--memory-minutes")?
                        .split(',')
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| s.trim().parse::<f64>())
                        .collect::<Result<_, _>>()?
                }
                other => bail!("unknown bench option {other} (see cargo xtask help)"),
            }
        }
        ensure!(o.repeats >= 1, "--repeats must be at least 1");
        ensure!(
            o.seconds > 0.0 && o.seconds_4k > 0.0,
            "durations must be positive"
        );
        Ok(o)
    }
}

/// What one process run cost.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) wall: f64,
    pub(crate) cpu: f64,
    /// Peak of the summed VmRSS of the process tree, bytes.
    pub(crate) tree_rss: u64,
    /// Peak VmRSS of the process itself (without its children), bytes.
    root_rss: u64,
}

/// Runs `cmd` to completion, measuring it. Fails when the command fails.
pub(crate) fn measure(mut cmd: Command, what: &str) -> anyhow::Result<Sample> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {what}"))?;
    let pid = child.id();
    let peak = Arc::new(AtomicU64::new(0));
    let root_peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, root_peak, done) = (peak.clone(), root_peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let (tree, root) = tree_rss(pid);
                peak.fetch_max(tree, Ordering::Relaxed);
                root_peak.fetch_max(root, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let stderr = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = stderr {
            let _ = std::io::Read::read_to_string(&mut e, &mut s);
        }
        s
    });
    let (status, usage) = media::wait_with_usage(pid)?;
    let cpu = usage.cpu_seconds;
    let wall = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let err = err_reader.join().unwrap_or_default();
    // The child was reaped by wait4 above; `child` must not be waited on again.
    std::mem::forget(child);
    ensure!(
        status.success(),
        "{what} failed ({status}):\n{}",
        err.lines().rev().take(15).collect::<Vec<_>>().join("\n")
    );
    Ok(Sample {
        wall,
        cpu,
        tree_rss: peak.load(Ordering::Relaxed),
        root_rss: root_peak.load(Ordering::Relaxed),
    })
}

/// VmRSS of one process, bytes.
fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

/// (sum of VmRSS of `root` and all its descendants, VmRSS of `root` alone), bytes.
pub(crate) fn tree_rss(root: u32) -> (u64, u64) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return (0, 0);
    };
    let mut parent_of = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Field 4 (ppid) follows the parenthesised command name.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0);
        parent_of.push((pid, ppid));
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    (tree.iter().map(|&p| rss_of(p)).sum(), rss_of(root))
}

fn ffmpeg() -> Command {
    let mut c = Command::new(media::ffmpeg_program());
    c.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]);
    c
}

/// Generated test music: a chord, a kick-like thump and hats, `seconds` long, as FLAC.
pub(crate) fn make_audio(path: &Path, seconds: f64) -> anyhow::Result<()> {
    let expr = "0.25*sin(2*PI*110*t)*(1+sin(2*PI*0.5*t))\
        +0.2*sin(2*PI*(50+100*exp(-8*mod(t\\,0.5)))*t)*exp(-6*mod(t\\,0.5))\
        +0.1*sin(2*PI*440*t)+0.08*sin(2*PI*660*t)+0.05*sin(2*PI*3520*t)*exp(-20*mod(t\\,0.25))";
    let src = format!("aevalsrc={expr}:s=44100:c=stereo:d={seconds}");
    let status = ffmpeg()
        .args(["-f", "lavfi", "-i", &src, "-c:a", "flac"])
        .arg(path)
        .status()?;
    ensure!(
        status.success(),
        "ffmpeg could not generate {}",
        path.display()
    );
    Ok(())
}

fn write_job(dir: &Path, name: &str, audio: &Path, w: u32, h: u32, encoder: &str) -> PathBuf {
    let job = format!(
        r##"audio = "{audio}"
output = "{name}.mp4"

[video]
width = {w}
height = {h}
fps = 30
encoder = "{encoder}"
quality = 20
preset = "veryfast"

[[layer]]
kind = "background"
color = "#0b1020"
color2 = "#3a1050"

[[layer]]
kind = "bars"
count = 64
color = "#33ccff"
color2 = "#ff5fd2"
"##,
        audio = audio.display()
    );
    let path = dir.join(format!("{name}.toml"));
    let _ = std::fs::write(&path, job);
    path
}

/// The six-layer 1080p scene of the visual-language issue: background image, bars, waveform,
/// particles, text and a logo, encoder "null".
fn write_six_layer_job(dir: &Path, audio: &Path, cover: &Path, name: &str, extra: &str) -> PathBuf {
    let job = format!(
        r##"audio = "{audio}"
output = "{name}.mp4"

[video]
width = 1920
height = 1080
fps = 30
encoder = "null"

[[layer]]
kind = "background"
image = "{cover}"
zoom = 0.1

[[layer]]
kind = "bars"
count = 64
color = "#33ccff"
color2 = "#ff5fd2"
peaks = true

[[layer]]
kind = "waveform"
rect = [0.05, 0.05, 0.9, 0.2]
glow = 8

[[layer]]
kind = "particles"
burst = 80

[[layer]]
kind = "text"
text = "Six layers — {{elapsed}}"
size = 64
shadow = "#000000"

[[layer]]
kind = "image"
path = "{cover}"
shape = "circle"
rect = [0.86, 0.04, 0.1, 0.18]
{extra}"##,
        audio = audio.display(),
        cover = cover.display()
    );
    let path = dir.join(format!("{name}.toml"));
    let _ = std::fs::write(&path, job);
    path
}

fn renderer(bin: &Path, job: &Path, duration: f64) -> Command {
    let mut c = Command::new(bin);
    c.arg(job)
        .args(["--quiet", "--duration", &duration.to_string()]);
    c
}

fn showfreqs(audio: &Path, seconds: f64, out: &Path) -> Command {
    // ../shared/research/peers.md: ffmpeg's own 64-bar visualiser with the same encoder settings.
    let mut c = ffmpeg();
    c.args(["-t", &seconds.to_string(), "-i"]).arg(audio).args([
        "-filter_complex",
        "[0:a]aformat=channel_layouts=mono,showfreqs=s=64x540:r=30:mode=bar:ascale=log:fscale=log:win_size=4096:averaging=2:colors=0x33ccff,scale=1920:1080:flags=neighbor,setsar=1,drawgrid=w=30:h=ih:t=6:c=black,format=yuv420p[v]",
        "-map", "[v]", "-map", "0:a", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", "-shortest", "-movflags",
        "+faststart",
    ]);
    c.arg(out);
    c
}

/// ffmpeg's showfreqs as a user would write it (the held-out check of issue 22): 64 bars drawn
/// at 64x540 and scaled to 1080p, x264 veryfast CRF 20, AAC.
fn showfreqs_plain(audio: &Path, seconds: f64, out: &Path) -> Command {
    let mut c = ffmpeg();
    c.args(["-t", &seconds.to_string(), "-i"]).arg(audio).args([
        "-filter_complex",
        "[0:a]showfreqs=s=64x540:mode=bar:ascale=log:fscale=log,scale=1920:1080:flags=neighbor[v]",
        "-map",
        "[v]",
        "-map",
        "0:a",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "20",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
    ]);
    c.arg(out);
    c
}

/// `seconds` of the bundled demo track (looped) as an MP3: real music in the format users
/// bring most.
fn make_mp3(root: &Path, path: &Path, seconds: f64) -> anyhow::Result<()> {
    let status = ffmpeg()
        .args(["-stream_loop", "-1", "-i"])
        .arg(root.join("assets/demo.flac"))
        .args([
            "-t",
            &seconds.to_string(),
            "-c:a",
            "libmp3lame",
            "-b:a",
            "192k",
        ])
        .arg(path)
        .status()?;
    ensure!(
        status.success(),
        "ffmpeg could not write {} (it needs the libmp3lame encoder)",
        path.display()
    );
    Ok(())
}

fn floor(raw: &Path, out: &Path) -> Command {
    let mut c = ffmpeg();
    c.args([
        "-f",
        "rawvideo",
        "-pix_fmt",
        "nv12",
        "-video_size",
        "1920x1080",
        "-framerate",
        "30",
        "-i",
    ])
    .arg(raw)
    .args([
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-f", "mp4",
    ])
    .arg(out);
    c
}

#[derive(Debug, Default)]
struct Row {
    name: &'static str,
    what: String,
    frames: u64,
    samples: Vec<Sample>,
}

/// "15 s" below a minute, else "10 min".
fn length_label(minutes: f64) -> String {
    if minutes < 1.0 {
        format!("{:.0} s", minutes * 60.0)
    } else {
        format!("{minutes} min")
    }
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

pub(crate) fn stat(v: Vec<f64>) -> (f64, f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (median(v), min, max)
}

pub(crate) fn first_line(cmd: &str, arg: &str) -> String {
    Command::new(cmd)
        .arg(arg)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// (CPU model, cores, GiB of RAM) of this machine.
pub(crate) fn machine() -> (String, usize, f64) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    (cpu, cores, mem_gb)
}

pub fn run(root: &Path, o: &Options) -> anyhow::Result<()> {
    // A release build of the renderer: what users run.
    let status = crate::cargo(&["build", "--release", "--quiet", "-p", "renderer"]).status()?;
    ensure!(status.success(), "cargo build --release -p renderer failed");
    let status = crate::cargo(&[
        "build",
        "--release",
        "--quiet",
        "-p",
        "audio",
        "--example",
        "analyze",
    ])
    .status()?;
    ensure!(
        status.success(),
        "cargo build --release -p audio --example analyze failed"
    );
    // The commit the measured binaries were built from (read now, not after a long run).
    let git = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let bin = root.join("target/release/renderer");
    let analyze = root.join("target/release/examples/analyze");
    let work = root.join("bench/out");
    std::fs::create_dir_all(&work)?;
    let shm = Path::new("/dev/shm");
    let ram_dir = if shm.is_dir() {
        shm.to_owned()
    } else {
        work.clone()
    };

    let audio = match &o.audio {
        Some(a) => a.clone(),
        None => {
            let p = work.join(format!("music-{}s.flac", o.seconds));
            if !p.exists() {
                make_audio(&p, o.seconds)?;
            }
            p
        }
    };
    let adapters = gpu::list_adapters();
    let adapter = adapters
        .first()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "none".into());
    // Neither row can run on a machine without an NVIDIA GPU (this bench's home); they say where
    // their figures come from.
    let nvenc_note = "needs an NVIDIA GPU with NVENC: measured by `cargo xtask device-check` \
                      (docs/BENCHMARKS.md, \"NVENC device check\"); no NVIDIA figure exists yet";

    let mp3 = work.join(format!("demo-{}s.mp3", o.seconds));
    if !mp3.exists() {
        make_mp3(root, &mp3, o.seconds)?;
    }
    let job_mp3 = write_job(&work, "ours-1080p-mp3", &mp3, 1920, 1080, "x264");
    let job_1080 = write_job(&work, "ours-1080p", &audio, 1920, 1080, "x264");
    let job_null = write_job(&work, "ours-null-1080p", &audio, 1920, 1080, "null");
    let job_4k = write_job(&work, "ours-2160p", &audio, 3840, 2160, "x264");
    let cover = root.join("assets/cover.jpg");
    let job_six = write_six_layer_job(&work, &audio, &cover, "six-layers", "");
    // The same plus word-highlighted captions: a word every 0.3 s, 8 words a cue.
    let transcript = write_transcript(&work, o.seconds)?;
    let captions = format!(
        "\n[[layer]]\nkind = \"captions\"\nfile = \"{}\"\nbox_color = \"#00000080\"\n",
        transcript.display()
    );
    let job_captions = write_six_layer_job(&work, &audio, &cover, "six-layers-captions", &captions);
    let frames = (o.seconds * 30.0).round() as u64;
    let frames_4k = (o.seconds_4k.min(o.seconds) * 30.0).round() as u64;

    // The encoder floor encodes the same frames ours produced, from RAM.
    eprintln!("bench: preparing raw 1080p frames in {}", ram_dir.display());
    measure(renderer(&bin, &job_1080, o.seconds), "ours (x264 1080p)")?;
    let raw = ram_dir.join(format!("bench-frames-{}.nv12", std::process::id()));
    let status = ffmpeg()
        .arg("-i")
        .arg(work.join("ours-1080p.mp4"))
        .args(["-f", "rawvideo", "-pix_fmt", "nv12"])
        .arg(&raw)
        .status()?;
    ensure!(status.success(), "decoding our output to raw frames failed");

    let mut rows = vec![
        Row {
            name: "ours_x264_1080p",
            what: "ours, 1920x1080@30, x264 veryfast CRF 20, AAC".into(),
            frames,
            ..Default::default()
        },
        Row {
            name: "ffmpeg_showfreqs_1080p",
            what: "ffmpeg showfreqs 64 bars, 1920x1080@30, x264 veryfast CRF 20, AAC".into(),
            frames,
            ..Default::default()
        },
        Row {
            name: "ffmpeg_floor_1080p",
            what: "ffmpeg alone encoding the same raw 1080p frames from RAM (encoder floor)".into(),
            frames,
            ..Default::default()
        },
        Row {
            name: "ours_null_1080p",
            what: "ours, 1920x1080@30, encoder null (render + NV12 + readback)".into(),
            frames,
            ..Default::default()
        },
        Row {
            name: "ours_null_1080p_six_layers",
            what: "ours, 1920x1080@30, encoder null, six layers (image bg, bars, waveform, \
                   particles, text, logo)"
                .into(),
            frames,
            ..Default::default()
        },
        Row {
            name: "ours_null_1080p_captions",
            what: "ours, as the six-layer row plus a captions layer (Whisper JSON, a word every \
                   0.3 s highlighted, box)"
                .into(),
            frames,
            ..Default::default()
        },
        Row {
            name: "ours_x264_2160p",
            what: "ours, 3840x2160@30, x264 veryfast CRF 20, AAC".into(),
            frames: frames_4k,
            ..Default::default()
        },
        Row {
            name: "ours_x264_1080p_mp3",
            what: "ours on the demo track as an MP3: bars over a gradient, 1920x1080@30, x264 \
                   veryfast CRF 20, AAC"
                .into(),
            frames,
            ..Default::default()
        },
        Row {
            name: "ffmpeg_showfreqs_plain_1080p_mp3",
            what: "ffmpeg showfreqs as a user writes it (64x540 bars scaled to 1080p) on the \
                   same MP3, x264 veryfast CRF 20, AAC"
                .into(),
            frames,
            ..Default::default()
        },
    ];
    if o.baseline.is_some() {
        rows.push(Row {
            name: "baseline_x264_1080p",
            what: "the --baseline binary, as ours_x264_1080p".into(),
            frames,
            ..Default::default()
        });
        rows.push(Row {
            name: "baseline_null_1080p_six_layers",
            what: "the --baseline binary, as ours_null_1080p_six_layers".into(),
            frames,
            ..Default::default()
        });
    }
    let base = o.baseline.clone().unwrap_or_default();
    for repeat in 0..o.repeats {
        eprintln!("bench: repeat {}/{}", repeat + 1, o.repeats);
        for row in rows.iter_mut() {
            let cmd = match row.name {
                "ours_x264_1080p" => renderer(&bin, &job_1080, o.seconds),
                "ffmpeg_showfreqs_1080p" => {
                    showfreqs(&audio, o.seconds, &work.join("showfreqs.mp4"))
                }
                "ffmpeg_floor_1080p" => floor(&raw, &work.join("floor.mp4")),
                "ours_null_1080p" => renderer(&bin, &job_null, o.seconds),
                "ours_null_1080p_six_layers" => renderer(&bin, &job_six, o.seconds),
                "ours_null_1080p_captions" => renderer(&bin, &job_captions, o.seconds),
                "ours_x264_1080p_mp3" => renderer(&bin, &job_mp3, o.seconds),
                "ffmpeg_showfreqs_plain_1080p_mp3" => {
                    showfreqs_plain(&mp3, o.seconds, &work.join("showfreqs-plain.mp4"))
                }
                "baseline_x264_1080p" => renderer(&base, &job_1080, o.seconds),
                "baseline_null_1080p_six_layers" => renderer(&base, &job_six, o.seconds),
                _ => renderer(&bin, &job_4k, o.seconds_4k.min(o.seconds)),
            };
            let s = measure(cmd, row.name);
            let s = match s {
                Ok(s) => s,
                Err(e) => {
                    let _ = std::fs::remove_file(&raw);
                    return Err(e);
                }
            };
            eprintln!(
                "  {:<24} {:>7.2} s wall {:>7.2} s cpu {:>6.0} MB peak",
                row.name,
                s.wall,
                s.cpu,
                s.tree_rss as f64 / 1e6
            );
            row.samples.push(s);
        }
    }
    let _ = std::fs::remove_file(&raw);

    // Memory flatness: one run per input length.
    let mut memory = Vec::new();
    for &minutes in &o.memory_minutes {
        let p = work.join(format!(
            "music-{}.flac",
            length_label(minutes).replace(' ', "")
        ));
        if !p.exists() {
            make_audio(&p, minutes * 60.0)?;
        }
        let job = write_job(&work, "ours-memory", &p, 1920, 1080, "x264");
        eprintln!(
            "bench: memory, {} input at 1080p30 x264",
            length_label(minutes)
        );
        let s = measure(renderer(&bin, &job, minutes * 60.0), "memory run")?;
        eprintln!(
            "  {}: {:.1} s wall, {:.0} MB peak tree, {:.0} MB renderer",
            length_label(minutes),
            s.wall,
            s.tree_rss as f64 / 1e6,
            s.root_rss as f64 / 1e6
        );
        // Analysis alone on one core: the audio crate's `analyze` example.
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", "0"]).arg(&analyze).arg(&p);
        let a = measure(cmd, "analysis alone")?;
        eprintln!(
            "  analysis alone: {:.2} s wall ({:.0}x realtime), {:.1} MB peak",
            a.wall,
            minutes * 60.0 / a.wall,
            a.root_rss as f64 / 1e6
        );
        memory.push((minutes, s, a));
    }

    // The studio: save -> frame, seeks, playback, memory (one pass; figures, not ratios).
    eprintln!("studio: renderer studio on the demo job over HTTP");
    let studio = crate::studio_bench::measure(&bin, &root.join("assets"), &work)?;
    eprintln!("  {studio:?}");

    // Pairwise ratios within each repeat.
    let pair = |a: usize, b: usize| -> (f64, f64, f64) {
        stat(
            rows[a]
                .samples
                .iter()
                .zip(&rows[b].samples)
                .map(|(x, y)| x.wall / y.wall)
                .collect(),
        )
    };
    let vs_showfreqs = pair(0, 1);
    let vs_floor = pair(0, 2);
    // The captions layer's cost: six layers + captions over six layers.
    let captions_cost = pair(5, 4);
    // The held-out row: ours on an MP3 over showfreqs as a user writes it.
    let vs_plain = pair(7, 8);
    // Ours over the baseline build, where one was given (rows 9 and 10 mirror rows 0 and 4).
    let vs_baseline = o.baseline.as_ref().map(|b| (b, pair(0, 9), pair(4, 10)));

    let date = first_line("date", "-u");
    let (cpu, cores, mem_gb) = machine();
    let ff = media::probe_ffmpeg()
        .map(|i| i.version)
        .unwrap_or_else(|_| "unknown".into());
    let rustc = first_line("rustc", "--version");

    let mut md = String::new();
    writeln!(
        md,
        "## Run of {date}{}\n",
        if o.quick { " (--quick)" } else { "" }
    )?;
    writeln!(
        md,
        "Machine: {cpu}, {cores} cores, {mem_gb:.0} GiB RAM. GPU adapter: {adapter}. {ff}. {rustc}. \
         Commit {git}. Input: {} ({} s; 4K row {} s), {} repeats, rows alternating.\n",
        audio
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        o.seconds,
        o.seconds_4k.min(o.seconds),
        o.repeats
    )?;
    writeln!(
        md,
        "| row | what | frames | wall s, median [min-max] | frames/s | CPU s | peak RSS of process tree, MB |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|")?;
    let mut json_rows = Vec::new();
    for r in &rows {
        let (w, wmin, wmax) = stat(r.samples.iter().map(|s| s.wall).collect());
        let (c, _, _) = stat(r.samples.iter().map(|s| s.cpu).collect());
        let (m, _, _) = stat(r.samples.iter().map(|s| s.tree_rss as f64 / 1e6).collect());
        writeln!(
            md,
            "| {} | {} | {} | {w:.2} [{wmin:.2}-{wmax:.2}] | {:.1} | {c:.1} | {m:.0} |",
            r.name,
            r.what,
            r.frames,
            r.frames as f64 / w
        )?;
        json_rows.push(format!(
            "{{\"name\":\"{}\",\"frames\":{},\"wall_s\":[{}],\"cpu_s\":[{}],\"peak_tree_rss_bytes\":[{}]}}",
            r.name,
            r.frames,
            r.samples.iter().map(|s| format!("{:.3}", s.wall)).collect::<Vec<_>>().join(","),
            r.samples.iter().map(|s| format!("{:.3}", s.cpu)).collect::<Vec<_>>().join(","),
            r.samples.iter().map(|s| s.tree_rss.to_string()).collect::<Vec<_>>().join(","),
        ));
    }
    writeln!(
        md,
        "| ours_nvenc_1080p | NVENC zero-copy | - | {nvenc_note} | | | |"
    )?;
    writeln!(
        md,
        "| wav2lip generator | 96x96 lip-sync network | - | CPU backend: `cargo run --release -p wav2lip --example bench -- --backend cpu` (docs/BENCHMARKS.md, wav2lip sections); GPU kernels on an NVIDIA GPU: `cargo xtask device-check` (not measured yet) | | | |\n"
    )?;
    writeln!(
        md,
        "Wall-time ratios, pair by pair within a repeat (median [min-max]):\n\n\
         - ours x264 / ffmpeg showfreqs: {:.2} [{:.2}-{:.2}]\n\
         - ours x264 / encoder floor: {:.2} [{:.2}-{:.2}]\n\
         - ours x264 / ffmpeg showfreqs as a user writes it (demo track as MP3): {:.2} [{:.2}-{:.2}]\n\
         - six layers + captions / six layers (null 1080p): {:.2} [{:.2}-{:.2}]\n",
        vs_showfreqs.0,
        vs_showfreqs.1,
        vs_showfreqs.2,
        vs_floor.0,
        vs_floor.1,
        vs_floor.2,
        vs_plain.0,
        vs_plain.1,
        vs_plain.2,
        captions_cost.0,
        captions_cost.1,
        captions_cost.2
    )?;
    if let Some((b, x264, six)) = vs_baseline {
        writeln!(
            md,
            "Against the baseline build {} (ours / baseline, pair by pair; < 1 is faster):\n\n\
             - x264 1080p: {:.3} [{:.3}-{:.3}]\n\
             - null 1080p, six layers: {:.3} [{:.3}-{:.3}]\n",
            b.display(),
            x264.0,
            x264.1,
            x264.2,
            six.0,
            six.1,
            six.2
        )?;
    }
    writeln!(
        md,
        "Studio (`renderer studio` on the demo job, 1920x1080, preview scale 0.5, driven over HTTP \
         as the page drives it): save -> frame {:.0} ms median [{:.0}-{:.0}] over {} saves; a seek \
         (new stream) {:.0} ms; successive frames served at {:.1} frames/s at scale 0.5, {:.1} at full \
         size (playback shows at most the job's 30 of them); peak RSS \
         {:.0} MB idle after the first frame, {:.0} MB during playback.\n",
        studio.save_ms.0,
        studio.save_ms.1,
        studio.save_ms.2,
        studio.saves,
        studio.seek_ms,
        studio.play_fps_half,
        studio.play_fps_full,
        studio.rss_idle as f64 / 1e6,
        studio.rss_play as f64 / 1e6
    )?;
    if !memory.is_empty() {
        writeln!(
            md,
            "Memory flatness (1920x1080@30, x264 veryfast, whole input), and the analysis alone \
             on one core (`taskset -c 0`, the audio crate's `analyze` example):\n"
        )?;
        writeln!(
            md,
            "| input | frames | wall s | peak RSS, renderer process, MB | peak RSS, renderer + ffmpeg, MB | analysis alone: x realtime | analysis peak RSS, MB |"
        )?;
        writeln!(md, "|---|---|---|---|---|---|---|")?;
        for (minutes, s, a) in &memory {
            writeln!(
                md,
                "| {} | {} | {:.1} | {:.0} | {:.0} | {:.0} | {:.1} |",
                length_label(*minutes),
                (minutes * 60.0 * 30.0).round() as u64,
                s.wall,
                s.root_rss as f64 / 1e6,
                s.tree_rss as f64 / 1e6,
                minutes * 60.0 / a.wall,
                a.root_rss as f64 / 1e6
            )?;
        }
        writeln!(md)?;
    }

    let json = format!(
        "{{\"date\":\"{date}\",\"quick\":{},\"machine\":{{\"cpu\":\"{cpu}\",\"cores\":{cores},\"mem_gib\":{mem_gb:.1}}},\
         \"adapter\":\"{}\",\"ffmpeg\":\"{}\",\"rustc\":\"{rustc}\",\"commit\":\"{git}\",\"seconds\":{},\"repeats\":{},\
         \"rows\":[{}],\"ratios\":{{\"ours_x264_over_showfreqs\":{:.3},\"ours_x264_over_floor\":{:.3},\"ours_mp3_over_showfreqs_plain\":{:.3}}},\
         \"studio\":{{\"save_to_frame_ms\":{:.1},\"seek_ms\":{:.1},\"play_fps_half\":{:.2},\"play_fps_full\":{:.2},\"rss_idle_bytes\":{},\"rss_play_bytes\":{}}},\
         \"memory\":[{}]}}\n",
        o.quick,
        adapter.replace('"', "'"),
        ff.replace('"', "'"),
        o.seconds,
        o.repeats,
        json_rows.join(","),
        vs_showfreqs.0,
        vs_floor.0,
        vs_plain.0,
        studio.save_ms.0,
        studio.seek_ms,
        studio.play_fps_half,
        studio.play_fps_full,
        studio.rss_idle,
        studio.rss_play,
        memory
            .iter()
            .map(|(m, s, a)| format!(
                "{{\"minutes\":{m},\"wall_s\":{:.3},\"peak_tree_rss_bytes\":{},\"peak_renderer_rss_bytes\":{},\"analysis_wall_s\":{:.3},\"analysis_peak_rss_bytes\":{}}}",
                s.wall, s.tree_rss, s.root_rss, a.wall, a.root_rss
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    std::fs::create_dir_all(root.join("bench"))?;
    // Quick runs are for development: they never overwrite the full run's record.
    let json_name = if o.quick {
        "bench/results-quick.json"
    } else {
        "bench/results.json"
    };
    std::fs::write(root.join(json_name), json)?;

    prepend_to_benchmarks(root, &md)?;
    println!("{md}");
    println!("wrote docs/BENCHMARKS.md and {json_name}");
    Ok(())
}

/// A Whisper-style transcript for `seconds` of audio: a word every 0.3 s, 8 words a cue.
fn write_transcript(dir: &Path, seconds: f64) -> anyhow::Result<PathBuf> {
    let words = ["every", "word", "lights", "up", "as", "it", "is", "spoken"];
    let mut segments = Vec::new();
    let mut t = 0.2;
    while t + 2.4 <= seconds {
        let ws: Vec<String> = words
            .iter()
            .enumerate()
            .map(|(k, w)| {
                let s = t + 0.3 * k as f64;
                format!(
                    r#"{{"word": " {w}", "start": {s:.2}, "end": {:.2}}}"#,
                    s + 0.3
                )
            })
            .collect();
        segments.push(format!(
            r#"{{"start": {t:.2}, "end": {:.2}, "text": " {}", "words": [{}]}}"#,
            t + 2.4,
            words.join(" "),
            ws.join(", ")
        ));
        t += 2.5;
    }
    let path = dir.join("transcript.json");
    std::fs::write(
        &path,
        format!("{{\"segments\": [{}]}}\n", segments.join(",\n")),
    )?;
    Ok(path)
}

/// Puts `md` (one `## ...` section) at the top of docs/BENCHMARKS.md, under the title and its
/// note (newest first), keeping every earlier section. Shared by `bench` and `scale-test`.
pub(crate) fn prepend_to_benchmarks(root: &Path, md: &str) -> anyhow::Result<()> {
    let doc_path = root.join("docs/BENCHMARKS.md");
    let header = "# Benchmarks\n\nWritten by `cargo xtask bench`, `bench-avatar` and `scale-test`, and by \
                  hand from `cargo xtask device-check` and the wav2lip `bench` example (newest run \
                  first); see xtask/src/bench.rs, avatar_bench.rs and scale.rs for the methods.\n\n";
    let old = std::fs::read_to_string(&doc_path).unwrap_or_default();
    // Everything before the first section is the title and note, rewritten here.
    let rest = if old.starts_with("## ") {
        &old[..]
    } else {
        old.find("\n## ").map_or("", |i| &old[i + 1..])
    };
    std::fs::create_dir_all(root.join("docs"))?;
    std::fs::write(&doc_path, format!("{header}{md}{rest}"))?;
    Ok(())
}
