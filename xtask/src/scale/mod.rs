//! `cargo xtask scale-test`: the split render of deploy/slurm, run for real on a throwaway
//! single-node Slurm cluster, against the same job rendered in one piece.
//!
//! The cluster needs no systemd and touches nothing outside one temporary folder: munged runs
//! with its key, socket, pid, seed and log files there, slurmctld and slurmd run in the
//! foreground as children of this process with a slurm.conf there (state, spool, logs, pid files;
//! `AuthInfo=socket=` points Slurm at that munged), and the client commands find it through
//! `SLURM_CONF`. A guard stops everything and removes the folder however the run ends (an error,
//! Ctrl-C, SIGTERM): it cancels the cluster's jobs, stops the daemons, kills any process left
//! that runs from the folder, then deletes it.
//!
//! Figures: the single render's wall time (one process, `renderer JOB`); the segmented wall time
//! from `deploy/slurm/submit.sh` to the join job's end as seen by polling `scontrol` every 0.2 s
//! (scheduling and process start-up included); each segment's own render time and the join's
//! own time, as the renderer reports them in the jobs' logs. The joined file is checked with
//! ffprobe (frame count, an audio stream) and compared with the single render (PSNR per frame:
//! an off-by-one seam would drop it to ~25 dB).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

mod cluster;

use cluster::{Cluster, Tools, finished, interrupted, is_root, job_states, tools, wait_for};

const FPS: f64 = 30.0;
/// The Debian packages that provide munged, slurmctld, slurmd and the client commands.
const INSTALL: &str = "apt-get install -y slurm-wlm munge";
/// The lowest per-frame PSNR (dB) accepted between the joined and the single render: the same
/// frames encoded with other keyframes measure ~46 dB and more, a one-frame shift ~25 dB.
const MIN_PSNR_DB: f64 = 30.0;

/// Settings of one scale-test.
#[derive(Debug, Clone)]
pub struct Options {
    pub segments: u32,
    pub seconds: f64,
    /// Keep the temporary folder (cluster logs, segments, outputs) for inspection.
    pub keep: bool,
    /// Output size (the issue's benchmark uses 1920x1080).
    pub width: u32,
    pub height: u32,
}

impl Options {
    pub fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut o = Self {
            segments: 4,
            seconds: 10.0,
            keep: false,
            width: 640,
            height: 360,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .with_context(|| format!("{name} needs a value"))
            };
            match a.as_str() {
                "--segments" => o.segments = value("--segments")?.parse()?,
                "--seconds" => o.seconds = value("--seconds")?.parse()?,
                "--keep" => o.keep = true,
                "--size" => {
                    let v = value("--size")?;
                    let (w, h) = v.split_once('x').with_context(|| {
                        format!("--size {v}: write WIDTHxHEIGHT, e.g. 1920x1080")
                    })?;
                    o.width = w.parse()?;
                    o.height = h.parse()?;
                }
                other => bail!("unknown scale-test option {other} (see cargo xtask help)"),
            }
        }
        ensure!(
            (1..=256).contains(&o.segments),
            "--segments must be 1 to 256"
        );
        ensure!(
            o.seconds.is_finite() && o.seconds > 0.0 && o.seconds <= 3600.0,
            "--seconds must be more than 0 and at most 3600"
        );
        Ok(o)
    }
}

/// Set by SIGINT/SIGTERM: loops stop and the guard cleans up.
/// The scene: background, spectrogram, bars and particles at 640x360, x264 ultrafast.
fn write_job(dir: &Path, audio: &Path, (width, height): (u32, u32)) -> anyhow::Result<PathBuf> {
    let job = format!(
        r##"# Written by cargo xtask scale-test.
audio = "{audio}"
output = "single.mp4"

[video]
width = {width}
height = {height}
fps = {FPS}
encoder = "x264"
preset = "ultrafast"

[[layer]]
kind = "background"
color = "#0b1020"
color2 = "#3a1050"

[[layer]]
kind = "spectrogram"
palette = "magma"
seconds = 4
rect = [0.0, 0.0, 1.0, 0.5]

[[layer]]
kind = "bars"
count = 48
color = "#33ccff"
color2 = "#ff5fd2"
rect = [0.0, 0.5, 1.0, 0.5]

[[layer]]
kind = "particles"
burst = 60
"##,
        audio = audio.display()
    );
    let path = dir.join("job.toml");
    std::fs::write(&path, job)?;
    Ok(path)
}

/// What ffprobe says about a rendered MP4.
#[derive(Debug)]
struct Probe {
    video_frames: u64,
    audio_seconds: Option<f64>,
}

fn probe(path: &Path) -> anyhow::Result<Probe> {
    let ffprobe = std::env::var("FFPROBE").unwrap_or_else(|_| "ffprobe".into());
    let out = Command::new(ffprobe)
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,nb_frames,duration",
            "-of",
            "compact=p=0",
        ])
        .arg(path)
        .output()
        .context("cannot run ffprobe")?;
    ensure!(
        out.status.success(),
        "ffprobe {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let mut p = Probe {
        video_frames: 0,
        audio_seconds: None,
    };
    // One line per stream: codec_type=video|duration=10.000000|nb_frames=300
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let field = |k: &str| {
            line.split('|')
                .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
                .map(str::trim)
        };
        match field("codec_type") {
            Some("video") => {
                p.video_frames = field("nb_frames").and_then(|v| v.parse().ok()).unwrap_or(0)
            }
            Some("audio") => p.audio_seconds = field("duration").and_then(|v| v.parse().ok()),
            _ => {}
        }
    }
    Ok(p)
}

/// (average, minimum) per-frame PSNR of `b` against `a`, dB (luma and chroma together).
fn psnr(a: &Path, b: &Path) -> anyhow::Result<(f64, f64)> {
    let out = Command::new(media::ffmpeg_program())
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(a)
        .arg("-i")
        .arg(b)
        .args(["-lavfi", "[0:v][1:v]psnr", "-f", "null", "-"])
        .output()
        .context("cannot run ffmpeg")?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "ffmpeg psnr failed: {err}");
    let line = err
        .lines()
        .find(|l| l.contains("PSNR y:"))
        .context("ffmpeg printed no PSNR")?;
    let field = |name: &str| -> f64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::INFINITY) // "inf": identical pictures
    };
    Ok((field("average:"), field("min:")))
}

/// The seconds in the renderer's summary line `... in 1.36 s, ...` / `... in 1.18 s` of a log.
fn reported_seconds(log: &Path, prefix: &str) -> Option<f64> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().rev().find(|l| l.starts_with(prefix))?;
    let after = line.split(" in ").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

/// The figures of one run.
#[derive(Debug)]
struct Figures {
    single_wall: f64,
    single_cpu: f64,
    segmented_wall: f64,
    array_wall: f64,
    segment_seconds: Vec<f64>,
    join_seconds: f64,
    join_job_wall: f64,
    frames: u64,
    psnr: (f64, f64),
}

pub fn run(root: &Path, o: &Options) -> anyhow::Result<()> {
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    // First what can fail fast: root (slurmd launches the jobs), Slurm and MUNGE installed (or
    // installed here under CI).
    ensure!(
        is_root(),
        "scale-test starts slurmctld and slurmd (SlurmUser=root): run it as root, e.g. in a \
         throwaway container or VM"
    );
    let tools = tools()?;
    crate::step(
        "cargo build --release -p renderer",
        crate::cargo(&["build", "--release", "-p", "renderer"]),
    )?;
    let renderer = root.join("target/release/renderer");
    let submit = root.join("deploy/slurm/submit.sh");
    ensure!(submit.is_file(), "{} is missing", submit.display());
    media::probe_ffmpeg().context("ffmpeg with libx264 is needed (cargo xtask doctor)")?;
    interrupted(&stop)?;

    let mut cluster = Cluster::new(&tools.bin, o.keep)?;
    let work = cluster.dir.join("work");
    let result = scale_test(&mut cluster, &tools, &renderer, &submit, &work, o, &stop);
    if result.is_err() {
        cluster.dump_logs(&work.join("segments/logs"));
    }
    drop(cluster);
    let figures = result?;
    report(root, o, &figures, started.elapsed().as_secs_f64())
}

fn scale_test(
    cluster: &mut Cluster,
    tools: &Tools,
    renderer: &Path,
    submit: &Path,
    work: &Path,
    o: &Options,
    stop: &AtomicBool,
) -> anyhow::Result<Figures> {
    std::fs::create_dir_all(work)?;
    let audio = work.join("music.flac");
    crate::bench::make_audio(&audio, o.seconds)?;
    let job = write_job(work, &audio, (o.width, o.height))?;

    // The reference: the whole job in one process, on an idle machine (no cluster yet).
    eprintln!("==> single render ({} s of audio)", o.seconds);
    let single = work.join("single.mp4");
    let mut cmd = Command::new(renderer);
    cmd.arg(&job).arg("--quiet");
    let s = crate::bench::measure(cmd, "single render")?;
    eprintln!("    {:.2} s wall, {:.2} s CPU", s.wall, s.cpu);
    interrupted(stop)?;

    eprintln!(
        "==> starting a single-node Slurm cluster in {}",
        cluster.dir.display()
    );
    cluster.start(tools, stop)?;

    eprintln!("==> deploy/slurm/submit.sh ({} segments)", o.segments);
    let segdir = work.join("segments");
    let joined = work.join("joined.mp4");
    let t0 = Instant::now();
    let out = Command::new(submit)
        .arg(&job)
        .arg(o.segments.to_string())
        .arg(&joined)
        .arg(&segdir)
        .current_dir(work)
        .env("SLURM_CONF", &cluster.conf)
        .env("RENDERER", renderer)
        .env("PATH", path_with(&tools.bin))
        .env_remove("SBATCH_ARGS")
        .stdin(Stdio::null())
        .output()
        .context("cannot run deploy/slurm/submit.sh")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "submit.sh failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let id = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::to_owned)
            .with_context(|| format!("submit.sh printed no {key}ID:\n{stdout}"))
    };
    let array_id = id("array_job_id=")?;
    let join_id = id("join_job_id=")?;
    cluster.jobs = vec![array_id.clone(), join_id.clone()];
    eprintln!("    array job {array_id}, join job {join_id}");

    // Generous for a slow shared machine: start-up of every task plus a slow render.
    let limit = Duration::from_secs_f64(300.0 + 20.0 * o.seconds + 10.0 * f64::from(o.segments));
    let mut array_wall = None;
    let mut last = String::new();
    wait_for(stop, limit, "the array and join jobs", || {
        cluster.check_daemons()?;
        let tasks = job_states(cluster, &array_id)?;
        if array_wall.is_none()
            && tasks.len() == o.segments as usize
            && tasks.iter().all(|(_, s)| finished(s))
        {
            array_wall = Some(t0.elapsed().as_secs_f64());
        }
        let join = job_states(cluster, &join_id)?;
        let now = format!("{tasks:?} join {join:?}");
        if now != last {
            eprintln!("    {now}");
            last = now;
        }
        Ok(join.iter().all(|(_, s)| finished(s)))
    })?;
    let segmented_wall = t0.elapsed().as_secs_f64();
    let failed: Vec<String> = job_states(cluster, &array_id)?
        .into_iter()
        .filter(|(_, s)| s != "COMPLETED")
        .map(|(t, s)| format!("task {t}: {s}"))
        .collect();
    ensure!(
        failed.is_empty(),
        "array tasks failed: {}",
        failed.join(", ")
    );
    let join_state = job_states(cluster, &join_id)?;
    ensure!(
        join_state.iter().all(|(_, s)| s == "COMPLETED"),
        "the join job ended {join_state:?}"
    );
    cluster.jobs.clear();
    let array_wall = array_wall.unwrap_or(segmented_wall);

    // The renderer's own times, from the jobs' logs.
    let logs = segdir.join("logs");
    let mut segment_seconds = Vec::new();
    let mut join_seconds = None;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&logs)
        .with_context(|| format!("no job logs in {}", logs.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for log in &entries {
        let name = log.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.as_deref().is_some_and(|n| n.starts_with("join-")) {
            join_seconds = reported_seconds(log, "joined ");
        } else if let Some(s) = reported_seconds(log, "rendered ") {
            segment_seconds.push(s);
        }
    }
    ensure!(
        segment_seconds.len() == o.segments as usize,
        "found {} segment summaries in {}, expected {}",
        segment_seconds.len(),
        logs.display(),
        o.segments
    );
    let join_seconds = join_seconds.context("the join log has no `joined ...` summary")?;

    // The joined file: every frame, an audio track, and the same pictures as the single render.
    let p = probe(&joined)?;
    let reference = probe(&single)?;
    let expected = o.seconds * FPS;
    ensure!(
        p.video_frames == reference.video_frames && (p.video_frames as f64 - expected).abs() <= 1.0,
        "joined video has {} frames; the single render {}, expected {expected}",
        p.video_frames,
        reference.video_frames
    );
    let audio_s = p
        .audio_seconds
        .context("the joined file has no audio stream")?;
    ensure!(
        (audio_s - o.seconds).abs() < 0.1,
        "joined audio lasts {audio_s} s, expected {} s",
        o.seconds
    );
    let psnr = psnr(&single, &joined)?;
    ensure!(
        psnr.1 >= MIN_PSNR_DB,
        "joined frames differ from the single render (PSNR min {:.1} dB, average {:.1} dB): \
         a segment boundary is off",
        psnr.1,
        psnr.0
    );
    Ok(Figures {
        single_wall: s.wall,
        single_cpu: s.cpu,
        segmented_wall,
        array_wall,
        segment_seconds,
        join_seconds,
        join_job_wall: segmented_wall - array_wall,
        frames: p.video_frames,
        psnr,
    })
}

/// PATH with the Slurm client folder first (submit.sh calls `sbatch`).
fn path_with(bin: &Path) -> std::ffi::OsString {
    let old = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(bin.to_owned()).chain(std::env::split_paths(&old));
    std::env::join_paths(dirs).unwrap_or(old)
}

fn report(root: &Path, o: &Options, f: &Figures, total: f64) -> anyhow::Result<()> {
    let date = crate::bench::first_line("date", "-u");
    let (cpu, cores, mem_gb) = crate::bench::machine();
    let adapter = gpu::list_adapters()
        .first()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "none".into());
    let seg_min = f
        .segment_seconds
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let seg_max = f.segment_seconds.iter().copied().fold(0.0, f64::max);
    let seg_sum: f64 = f.segment_seconds.iter().sum();
    let n = o.segments;
    let mut md = String::new();
    writeln!(md, "## Scale-out run of {date}\n")?;
    writeln!(
        md,
        "`cargo xtask scale-test --segments {n} --seconds {} --size {}x{}`: the job rendered in one piece, \
         then split into {n} segments by a Slurm job array and joined by a dependent job \
         (deploy/slurm/submit.sh) on a single-node cluster on the same machine ({cores} CPUs \
         for the tasks, so at most {cores} segments at once). Machine: {cpu}, {cores} cores, \
         {mem_gb:.0} GiB RAM. GPU adapter: {adapter}. Job: {}x{}@30, background, \
         spectrogram, bars, particles, x264 ultrafast; {} frames. Joined output checked with \
         ffprobe (frames, audio) and against the single render: PSNR average {:.1} dB, \
         lowest frame {:.1} dB.\n",
        o.seconds, o.width, o.height, o.width, o.height, f.frames, f.psnr.0, f.psnr.1
    )?;
    writeln!(md, "| what | seconds |")?;
    writeln!(md, "|---|---|")?;
    writeln!(
        md,
        "| single render, one process (wall; {:.1} s CPU) | {:.2} |",
        f.single_cpu, f.single_wall
    )?;
    writeln!(
        md,
        "| segmented: submit to joined file ({n} array tasks + join, wall) | {:.2} |",
        f.segmented_wall
    )?;
    writeln!(
        md,
        "| of which: submit to the last segment done | {:.2} |",
        f.array_wall
    )?;
    writeln!(
        md,
        "| of which: last segment done to joined file (join job, scheduling included) | {:.2} |",
        f.join_job_wall
    )?;
    writeln!(
        md,
        "| each segment's render, as the renderer reports it: min / max / sum | {seg_min:.2} / {seg_max:.2} / {seg_sum:.2} |"
    )?;
    writeln!(
        md,
        "| join step alone (`renderer join`: checks, concat, audio mux) | {:.2} |",
        f.join_seconds
    )?;
    writeln!(
        md,
        "| segmented / single (wall) | {:.2}x |\n",
        f.segmented_wall / f.single_wall
    )?;
    writeln!(
        md,
        "Every task starts a GPU device, warms up the analysis and starts ffmpeg, and the join \
         copies the video and encodes the audio once: on one machine that is pure overhead, \
         partly offset when parallel segments keep idle cores busy; the split pays off when the \
         tasks run on separate GPUs or nodes. The whole scale-test took {total:.0} s.\n"
    )?;
    crate::bench::prepend_to_benchmarks(root, &md)?;
    println!("{md}");
    println!("wrote docs/BENCHMARKS.md");
    Ok(())
}
