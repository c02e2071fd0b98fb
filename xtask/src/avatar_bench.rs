//! `cargo xtask bench-avatar`: talking-avatar frames per second at 720p, side by side in one
//! run: the avatar layer over a 1280x720 face video with MTCNN every frame, every fifth frame,
//! with a fixed box (generator + blend only), and the same video as a plain background (decode,
//! draw, encode: the floor without lip sync). `--backend` picks the lip-sync backend of every
//! avatar row (default: auto, as a user's render would). `--memory A,B` adds peak RSS of the
//! process tree for an A-second and a B-second avatar render (detect_every 5) at 5 fps, to
//! show memory does not grow with the duration. The face is a real photograph (scikit-image's
//! astronaut, fetched with pip) moving slowly in the frame; the generator has seeded random
//! weights (the real architecture and cost; no real checkpoint ships). Appends a section to
//! docs/BENCHMARKS.md.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, ensure};

use crate::bench::{first_line, machine, measure, prepend_to_benchmarks};

/// Options of `bench-avatar`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Frames per row (at 30 fps).
    pub frames: u32,
    /// `--lipsync-backend` of the avatar rows.
    pub backend: String,
    /// Durations (s) of the memory rows, if any.
    pub memory: Option<(f64, f64)>,
}

impl Options {
    pub fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut o = Self {
            frames: 6,
            backend: "auto".into(),
            memory: None,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--frames" => {
                    o.frames = it
                        .next()
                        .context("--frames needs a value")?
                        .parse()
                        .context("--frames takes a whole number")?
                }
                "--backend" => {
                    o.backend = it
                        .next()
                        .context("--backend needs auto, gpu or cpu")?
                        .clone();
                    ensure!(
                        matches!(o.backend.as_str(), "auto" | "gpu" | "cpu"),
                        "--backend takes auto, gpu or cpu, not {}",
                        o.backend
                    );
                }
                "--memory" => {
                    let v = it.next().context("--memory needs A,B (seconds)")?;
                    let (a, b) = v.split_once(',').context("--memory takes A,B")?;
                    o.memory = Some((
                        a.parse().context("--memory: A is not a number")?,
                        b.parse().context("--memory: B is not a number")?,
                    ));
                }
                other => anyhow::bail!("unknown bench-avatar option {other}"),
            }
        }
        ensure!(o.frames >= 1, "--frames must be at least 1");
        Ok(o)
    }
}

fn ffmpeg(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(media::ffmpeg_program())
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(args)
        .status()?;
    ensure!(status.success(), "ffmpeg {args:?} failed");
    Ok(())
}

fn write_job(
    dir: &Path,
    name: &str,
    layer: &str,
    seconds: f64,
    fps: u32,
) -> anyhow::Result<PathBuf> {
    let job = format!(
        r#"audio = "speech.flac"
output = "{name}.mp4"
duration = {seconds}

[video]
width = 1280
height = 720
fps = {fps}
preset = "veryfast"

{layer}
"#
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, job)?;
    Ok(path)
}

pub fn run(root: &Path, o: &Options) -> anyhow::Result<()> {
    let status = crate::cargo(&["build", "--release", "--quiet", "-p", "renderer"]).status()?;
    ensure!(status.success(), "cargo build --release -p renderer failed");
    let bin = root.join("target/release/renderer");
    let work = root.join("bench/avatar");
    std::fs::create_dir_all(&work)?;
    let cache = root.join("target/test-cache");
    let weights = cache.join("mtcnn");
    wav2lip::fetch::mtcnn_weights(&weights)?;
    let photo = wav2lip::fetch::test_photo(&cache.join("skimage"))?;
    let checkpoint = work.join("random-wav2lip.safetensors");
    if !checkpoint.exists() {
        let ckpt = wav2lip::model::random_checkpoint(5);
        wav2lip::checkpoint::write_safetensors(&checkpoint, ckpt.tensors())?;
    }
    // A 2 s face clip at 30 fps (looped by the renderer), the face drifting slowly.
    let face = work.join("face-720p.mp4");
    if !face.exists() {
        ffmpeg(&[
            "-loop",
            "1",
            "-i",
            &photo.to_string_lossy(),
            "-vf",
            "scale=720:720,pad=1320:760:300:20,crop=1280:720:'20+20*sin(2*PI*t)':'20+10*cos(2*PI*t)'",
            "-r",
            "30",
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-crf",
            "16",
            "-pix_fmt",
            "yuv420p",
            &work.join("face-720p.mp4").to_string_lossy(),
        ])?;
    }
    // The same photograph as a 720p still (detected once; faces generated in batches).
    let still = work.join("face-720p.png");
    if !still.exists() {
        ffmpeg(&[
            "-i",
            &photo.to_string_lossy(),
            "-vf",
            "scale=720:720,pad=1280:720:280:0",
            "-frames:v",
            "1",
            &still.to_string_lossy(),
        ])?;
    }
    let speech = work.join("speech.flac");
    if !speech.exists() {
        crate::bench::make_audio(&speech, 10.0)?;
    }
    // The speech loops nowhere: the memory rows need it as long as the longest render.
    let long_speech = work.join("speech-long.flac");
    if let Some((_, b)) = o.memory
        && !long_speech.exists()
    {
        crate::bench::make_audio(&long_speech, b + 1.0)?;
    }
    let seconds = f64::from(o.frames) / 30.0;
    let avatar_of = |face: &str, extra: &str| {
        format!(
            "[[layer]]\nkind = \"avatar\"\nface = \"{face}\"\ncheckpoint = \"{}\"\n\
             detector = \"{}\"\n{extra}\n",
            checkpoint.display(),
            weights.display()
        )
    };
    let avatar = |extra: &str| avatar_of("face-720p.mp4", extra);
    let rows = [
        (
            "avatar_720p_detect_every_frame",
            "avatar layer, MTCNN (min_face 40) + Wav2Lip + blend every frame",
            write_job(&work, "avatar-detect", &avatar(""), seconds, 30)?,
        ),
        (
            "avatar_720p_detect_every_5",
            "avatar layer, MTCNN every 5th frame (detect_every = 5) + Wav2Lip + blend",
            write_job(
                &work,
                "avatar-detect5",
                &avatar("detect_every = 5"),
                seconds,
                30,
            )?,
        ),
        (
            "avatar_720p_detect_every_5_no_cuts",
            "as detect_every 5, without the shot-change detector (cuts = false)",
            write_job(
                &work,
                "avatar-detect5-nocuts",
                &avatar("detect_every = 5\ncuts = false"),
                seconds,
                30,
            )?,
        ),
        (
            "avatar_720p_detect_every_5_causal",
            "as detect_every 5, with the last boxes' mean (smoothing = \"causal\": no look-ahead \
             decoder)",
            write_job(
                &work,
                "avatar-detect5-causal",
                &avatar("detect_every = 5\nsmoothing = \"causal\""),
                seconds,
                30,
            )?,
        ),
        (
            "avatar_720p_detect_every_5_track",
            "as detect_every 5, following one face (face_select = \"track\")",
            write_job(
                &work,
                "avatar-detect5-track",
                &avatar("detect_every = 5\nface_select = \"track\""),
                seconds,
                30,
            )?,
        ),
        (
            "avatar_720p_fixed_box",
            "avatar layer with a fixed box: Wav2Lip + blend every frame",
            write_job(
                &work,
                "avatar-box",
                &avatar("box = [530, 80, 660, 250]"),
                seconds,
                30,
            )?,
        ),
        (
            "avatar_720p_still_batch_1",
            "avatar layer on a still photograph (detected once), generator one frame at a time",
            write_job(
                &work,
                "avatar-still-1",
                &avatar_of("face-720p.png", "batch = 1"),
                seconds,
                30,
            )?,
        ),
        (
            "avatar_720p_still_batch_16",
            "the same still, faces generated 16 frames a run (the CPU backend's default)",
            write_job(
                &work,
                "avatar-still-16",
                &avatar_of("face-720p.png", "batch = 16"),
                seconds,
                30,
            )?,
        ),
        (
            "avatar_720p_still_batch_32",
            "the same still, faces generated 32 frames a run",
            write_job(
                &work,
                "avatar-still-32",
                &avatar_of("face-720p.png", "batch = 32"),
                seconds,
                30,
            )?,
        ),
        (
            "video_background_720p",
            "the same face video as a plain background (decode + draw + encode, no lip sync)",
            write_job(
                &work,
                "background",
                "[[layer]]\nkind = \"background\"\nvideo = \"face-720p.mp4\"\n",
                seconds,
                30,
            )?,
        ),
    ];
    let mut memory_rows = Vec::new();
    if let Some((a, b)) = o.memory {
        for secs in [a, b] {
            let name = format!("avatar-memory-{secs}s");
            let job = write_job(&work, &name, &avatar("detect_every = 5"), secs, 5)?;
            let text = std::fs::read_to_string(&job)?.replace("speech.flac", "speech-long.flac");
            std::fs::write(&job, text)?;
            memory_rows.push((secs, job));
        }
    }
    let mut results = Vec::new();
    for (name, what, job) in &rows {
        eprintln!("bench-avatar: {name} ({} frames)", o.frames);
        let mut cmd = Command::new(&bin);
        cmd.arg(job)
            .args(["--lipsync-backend", &o.backend])
            .env("XDG_RUNTIME_DIR", std::env::temp_dir());
        let s = measure(cmd, name)?;
        eprintln!(
            "  {:.1} s wall, {:.3} frames/s, {:.0} MB peak tree",
            s.wall,
            f64::from(o.frames) / s.wall,
            s.tree_rss as f64 / 1e6
        );
        results.push((*name, *what, s));
    }
    let mut memory = Vec::new();
    for (secs, job) in &memory_rows {
        eprintln!("bench-avatar: memory, {secs} s at 5 fps");
        let mut cmd = Command::new(&bin);
        cmd.arg(job)
            .args(["--lipsync-backend", &o.backend])
            .env("XDG_RUNTIME_DIR", std::env::temp_dir());
        let s = measure(cmd, "avatar_memory")?;
        eprintln!(
            "  {:.1} s wall, {:.0} MB peak tree",
            s.wall,
            s.tree_rss as f64 / 1e6
        );
        memory.push((*secs, s));
    }
    let adapter = gpu::list_adapters()
        .first()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "none".into());
    let (cpu, cores, mem_gb) = machine();
    let git = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let mut md = String::new();
    writeln!(
        md,
        "## Avatar run of {} (`cargo xtask bench-avatar --frames {} --backend {}{}`)\n",
        first_line("date", "-u"),
        o.frames,
        o.backend,
        o.memory
            .map(|(a, b)| format!(" --memory {a},{b}"))
            .unwrap_or_default()
    )?;
    writeln!(
        md,
        "Machine: {cpu}, {cores} cores, {mem_gb:.0} GiB RAM. GPU adapter: {adapter}. Commit {git}. \
         1280x720@30, x264 veryfast, {} frames per row, one run each, lip-sync backend \
         `{}`; face: a 2 s 720p clip of scikit-image's astronaut photograph drifting in the \
         frame; Wav2Lip with seeded random weights (the real network).\n",
        o.frames, o.backend
    )?;
    writeln!(
        md,
        "| row | what | wall s | frames/s | CPU s | peak RSS of process tree, MB |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    for (name, what, s) in &results {
        writeln!(
            md,
            "| {name} | {what} | {:.1} | {:.3} | {:.1} | {:.0} |",
            s.wall,
            f64::from(o.frames) / s.wall,
            s.cpu,
            s.tree_rss as f64 / 1e6
        )?;
    }
    // Seconds a frame of the row named `name` (rows are looked up by name, not position).
    let per_frame = |name: &str| {
        results
            .iter()
            .find(|r| r.0 == name)
            .map_or(f64::NAN, |r| r.2.wall / f64::from(o.frames))
    };
    writeln!(
        md,
        "\nPer frame: detection ~{:.2} s (every-frame minus fixed-box row), lip sync + blend \
         ~{:.2} s (fixed-box minus background row).\n",
        per_frame("avatar_720p_detect_every_frame") - per_frame("avatar_720p_fixed_box"),
        per_frame("avatar_720p_fixed_box") - per_frame("video_background_720p")
    )?;
    writeln!(
        md,
        "Shot-change detector: {:+.1} ms a frame (detect_every 5 with cuts minus without); \
         tracking one face: {:+.1} ms a frame (track minus largest); centred smoothing's \
         look-ahead decoder: {:+.1} ms a frame (centred minus causal). Differences of one run \
         each: within the machine's noise when small.\n",
        1e3 * (per_frame("avatar_720p_detect_every_5")
            - per_frame("avatar_720p_detect_every_5_no_cuts")),
        1e3 * (per_frame("avatar_720p_detect_every_5_track")
            - per_frame("avatar_720p_detect_every_5")),
        1e3 * (per_frame("avatar_720p_detect_every_5")
            - per_frame("avatar_720p_detect_every_5_causal"))
    )?;
    if let [(a, sa), (b, sb)] = memory.as_slice() {
        writeln!(
            md,
            "Memory (avatar, detect_every 5, 1280x720@5, x264 veryfast): peak RSS of the process \
             tree {:.0} MB for {a} s ({:.0} frames, {:.1} s wall) and {:.0} MB for {b} s ({:.0} \
             frames, {:.1} s wall): {:.3}x.\n",
            sa.tree_rss as f64 / 1e6,
            a * 5.0,
            sa.wall,
            sb.tree_rss as f64 / 1e6,
            b * 5.0,
            sb.wall,
            sb.tree_rss as f64 / sa.tree_rss.max(1) as f64
        )?;
    }
    prepend_to_benchmarks(root, &md)?;
    println!("{md}");
    Ok(())
}
