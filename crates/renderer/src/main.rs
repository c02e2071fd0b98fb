//! `renderer JOB.toml`: render a job file to an MP4; `renderer SONG.mp3 [--style NAME]`: render
//! an audio file with a built-in style.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use renderer::job::{Dimension, EncoderChoice, Fps};
use renderer::{Job, Progress, RenderError, RenderOptions};

mod studio_cli;

/// Exit codes (documented in the README).
mod exit {
    pub const RENDER_FAILED: u8 = 1;
    pub const BAD_JOB: u8 = 2;
    /// 128 + SIGINT.
    pub const INTERRUPTED: u8 = 130;
    /// 128 + SIGTERM.
    pub const TERMINATED: u8 = 143;
}

/// Render audio to a video with GPU-drawn visuals.
///
/// Reads JOB (a TOML job file, see README.md "Job reference"), decodes the audio as a stream,
/// draws every frame on the GPU and encodes an MP4 (H.264 + AAC; or WebM, GIF, APNG by the
/// output's extension). Options override the job file.
/// Several JOBs (or folders of *.toml jobs) render one after the other on one GPU device.
///
/// Or give an audio file instead of a job: `renderer song.mp3` renders it with a built-in style
/// (`--style NAME`, default neon-bars; `--styles` lists them) into song.mp4, titled from its
/// tags; `--captions talk.srt` adds word-timed captions; `--print-job` prints the job instead,
/// to edit and render later.
///
/// Design a job live in the browser: `renderer studio JOB.toml` (see `renderer studio --help`).
///
/// Split a long render across machines: `renderer JOB --segment I/N` renders part I of N
/// (video only), `renderer join JOB SEGMENTS... --output OUT.mp4` joins them without
/// re-encoding and muxes the audio once (see `renderer join --help`).
///
/// Exit status: 0 done, 1 render failed, 2 invalid job or arguments, 130 interrupted (SIGINT),
/// 143 terminated (SIGTERM). A failed or stopped render leaves no output file.
#[derive(Debug, Parser)]
#[command(name = "renderer", version, allow_negative_numbers = true)]
struct Cli {
    /// Job file(s) (TOML), or folders of them (their *.toml files, in name order).
    /// Or one audio file (any other extension), rendered with a built-in style.
    #[arg(required_unless_present_any = ["list_adapters", "styles"], value_name = "JOB")]
    jobs: Vec<PathBuf>,
    /// The built-in style for an audio file (see --styles; default neon-bars).
    #[arg(long, value_name = "NAME")]
    style: Option<String>,
    /// List the built-in styles and exit.
    #[arg(long)]
    styles: bool,
    /// With an audio file: print the job the style makes for it (TOML) and exit.
    #[arg(long)]
    print_job: bool,
    /// With an audio file: a transcript (SRT, WebVTT or Whisper JSON) shown as captions.
    #[arg(long, value_name = "FILE")]
    captions: Option<PathBuf>,
    /// List the GPU adapters this machine offers (one per line) and exit.
    #[arg(long)]
    list_adapters: bool,
    /// Output path (overrides `output`): the video (.mp4, .webm, .mov, .gif, .png), or with --preview
    /// the PNG.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Render only the frame at this time (seconds into the audio) to a PNG, quickly, without
    /// an encoder; written to --output (default: the job's output with a .png extension).
    #[arg(long, value_name = "TIME")]
    preview: Option<f64>,
    /// Seconds into the audio where the video starts (overrides `start`).
    #[arg(long)]
    start: Option<f64>,
    /// Seconds to render (overrides `duration`; default: to the end of the audio).
    #[arg(long)]
    duration: Option<f64>,
    /// Encoder: auto (NVENC where it works, else x264), x264, nvenc, or null (render and read
    /// back only, for measuring throughput).
    #[arg(long)]
    encoder: Option<String>,
    /// Output width in pixels (even).
    #[arg(long)]
    width: Option<f64>,
    /// Output height in pixels (even).
    #[arg(long)]
    height: Option<f64>,
    /// Frames per second.
    #[arg(long)]
    fps: Option<f64>,
    /// Normalise the audio track to this integrated loudness, LUFS (EBU R128; e.g. -16 for
    /// podcasts, -14 for streaming), under the job's true-peak ceiling (default -1 dBTP).
    #[arg(long, value_name = "LUFS")]
    loudness: Option<f64>,
    /// Multiply the output size by this factor (e.g. 0.5 for a quick draft); lengths in a job
    /// scale with the frame, so the picture looks the same.
    #[arg(long)]
    scale: Option<f64>,
    /// Adapter: auto, gpu, cpu, or part of an adapter's name.
    #[arg(long)]
    adapter: Option<String>,
    /// Render only part I of N of the job (0 <= I < N), video only, for `renderer join`;
    /// written to --output or beside the job's output as NAME.segment-IIII-of-NNNN.mp4.
    #[arg(long, value_name = "I/N")]
    segment: Option<renderer::Segment>,
    /// Which executor runs avatar layers' lip sync and face detection (overrides each avatar's
    /// `backend`): auto (the CPU when frames are drawn by a software rasteriser such as
    /// lavapipe, else the GPU), gpu, or cpu.
    #[arg(long, value_name = "auto|gpu|cpu")]
    lipsync_backend: Option<String>,
    /// Print nothing but errors (no progress, no summary).
    #[arg(long, short)]
    quiet: bool,
}

/// The Vulkan loader prints "XDG_RUNTIME_DIR is invalid or not set" twice on every start
/// without one: where it is unset or not a folder, point it at a private folder of ours
/// (`$TMPDIR/renderer-runtime-<uid>`, mode 0700, owned by us) so a first run is clean.
fn ensure_runtime_dir() {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir()) {
        return;
    }
    let Ok(me) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("renderer-runtime-{me}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    // Only a folder that is ours and private (another user could have made the name first).
    let private = std::fs::symlink_metadata(&dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == me && m.permissions().mode() & 0o077 == 0);
    if private {
        // SAFETY: called first thing in `main`, before any other thread exists, so nothing
        // reads the environment concurrently.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

fn main() -> ExitCode {
    ensure_runtime_dir();
    if std::env::args_os().nth(1).is_some_and(|a| a == "join") {
        let args = std::iter::once(std::ffi::OsString::from("renderer join"))
            .chain(std::env::args_os().skip(2));
        let cli = JoinCli::parse_from(args);
        init_logging(cli.quiet);
        return match run_join(&cli) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(exit_code(&e, false))
            }
        };
    }
    if std::env::args_os().nth(1).is_some_and(|a| a == "studio") {
        let args = std::iter::once(std::ffi::OsString::from("renderer studio"))
            .chain(std::env::args_os().skip(2));
        let cli = studio_cli::StudioCli::parse_from(args);
        init_logging(false);
        return match studio_cli::run(&cli) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(exit::RENDER_FAILED)
            }
        };
    }
    let cli = Cli::parse();
    init_logging(cli.quiet);
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot install signal handlers: {e}");
            return ExitCode::from(exit::RENDER_FAILED);
        }
    };
    match run(&cli, &signals) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e, signals.terminated.load(Ordering::Relaxed)))
        }
    }
}

fn init_logging(quiet: bool) {
    let default_level = if quiet {
        "error"
    } else {
        "warn,renderer=info,gpu=info,audio=info,media=info"
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level))
        .format_timestamp(None)
        .format_target(false)
        .init();
}

/// The exit status for an error (see the `exit` module).
fn exit_code(e: &anyhow::Error, terminated: bool) -> u8 {
    match e.downcast_ref::<RenderError>() {
        Some(RenderError::Cancelled) if terminated => exit::TERMINATED,
        Some(RenderError::Cancelled) => exit::INTERRUPTED,
        Some(
            RenderError::Job(_)
            | RenderError::Segment(_)
            | RenderError::Avatar(_)
            | RenderError::EncoderUnavailable(_),
        ) => exit::BAD_JOB,
        _ if e.downcast_ref::<renderer::JobError>().is_some() => exit::BAD_JOB,
        _ => exit::RENDER_FAILED,
    }
}

/// SIGINT and SIGTERM stop the render cleanly (no output file, ffmpeg stopped); which one
/// arrived picks the exit status.
struct Signals {
    cancel: Arc<AtomicBool>,
    terminated: Arc<AtomicBool>,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let cancel = Arc::new(AtomicBool::new(false));
        let terminated = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(SIGINT, cancel.clone())?;
        signal_hook::flag::register(SIGTERM, cancel.clone())?;
        signal_hook::flag::register(SIGTERM, terminated.clone())?;
        Ok(Self { cancel, terminated })
    }
}

fn apply_overrides(job: &mut Job, cli: &Cli) -> Result<(), renderer::JobError> {
    let bad = |flag: &str, message: String| renderer::JobError::Invalid {
        what: flag.to_owned(),
        message,
    };
    if let Some(o) = &cli.output
        && cli.preview.is_none()
    {
        job.output = o.clone();
    }
    if let Some(s) = cli.start {
        job.start = s;
    }
    if let Some(d) = cli.duration {
        job.duration = Some(d);
    }
    if let Some(e) = &cli.encoder {
        job.video.encoder = e
            .parse::<EncoderChoice>()
            .map_err(|m| bad("--encoder", m))?;
    }
    if let Some(w) = cli.width {
        job.video.width = Dimension::try_from(w).map_err(|m| bad("--width", m))?;
    }
    if let Some(h) = cli.height {
        job.video.height = Dimension::try_from(h).map_err(|m| bad("--height", m))?;
    }
    if let Some(s) = cli.scale {
        job.scale(s).map_err(|m| bad("--scale", m))?;
    }
    if let Some(f) = cli.fps {
        job.video.fps = Fps::try_from(f).map_err(|m| bad("--fps", m))?;
    }
    if let Some(l) = cli.loudness {
        job.loudness = Some(renderer::job::Lufs::try_from(l).map_err(|m| bad("--loudness", m))?);
    }
    if let Some(a) = &cli.adapter {
        job.video.adapter = a.clone();
    }
    if let Some(b) = &cli.lipsync_backend {
        let backend = b
            .parse::<wav2lip::BackendChoice>()
            .map_err(|e| bad("--lipsync-backend", e.to_string()))?;
        for layer in &mut job.layers {
            if let renderer::job::Layer::Avatar(a) = layer {
                a.backend = backend;
            }
        }
    }
    job.validate()
}

/// Join segments rendered with `renderer JOB --segment I/N` into one MP4.
///
/// Checks that every segment 0..N-1 is present once and was rendered from this job with the same
/// settings and renderer version, concatenates the video without re-encoding and encodes the
/// job's audio once over the whole. Exit status: 0 done, 1 failed, 2 an incomplete or foreign
/// set of segments.
#[derive(Debug, Parser)]
#[command(name = "renderer join", bin_name = "renderer join")]
struct JoinCli {
    /// The job file the segments were rendered from.
    job: PathBuf,
    /// Segment files rendered with `renderer JOB --segment I/N` (any order).
    #[arg(required = true)]
    segments: Vec<PathBuf>,
    /// The joined MP4 (default: the job's output).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// Joins segments: every segment present once, all from this job and these settings; the video
/// is copied, the audio encoded once over the whole.
fn run_join(cli: &JoinCli) -> anyhow::Result<()> {
    let job = Job::from_file(&cli.job)?;
    let output = cli.output.clone().unwrap_or_else(|| job.output.clone());
    let summary = renderer::join(&job, &cli.segments, &output)?;
    if !cli.quiet {
        println!(
            "joined {} segments ({} frames) into {} in {:.2} s",
            summary.segments,
            summary.frames,
            summary.output.display(),
            summary.elapsed.as_secs_f64()
        );
    }
    Ok(())
}

/// The job files named on the command line, folders expanded to their *.toml files.
fn expand_jobs(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| anyhow::anyhow!("cannot list job folder {}: {e}", p.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|x| x == "toml") && f.is_file())
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(renderer::JobError::Invalid {
                    what: p.display().to_string(),
                    message: "the folder holds no *.toml job files".into(),
                }
                .into());
            }
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn run(cli: &Cli, signals: &Signals) -> anyhow::Result<()> {
    if cli.list_adapters {
        for adapter in gpu::list_adapters() {
            println!("{adapter}");
        }
        return Ok(());
    }
    if cli.styles {
        for (name, about) in renderer::styles::list() {
            println!("{name:<18} {about}");
        }
        return Ok(());
    }
    if let [one] = cli.jobs.as_slice()
        && is_audio(one)
    {
        return run_audio(cli, signals, one);
    }
    if cli.style.is_some() || cli.print_job || cli.captions.is_some() {
        return Err(renderer::JobError::Invalid {
            what: "arguments".into(),
            message: "--style, --print-job and --captions take one audio file (e.g. `renderer \
                      song.mp3 --style neon-bars`), not a job"
                .into(),
        }
        .into());
    }
    let jobs = expand_jobs(&cli.jobs)?;
    match jobs.as_slice() {
        [] => anyhow::bail!("no job file given (see --help)"),
        [one] => run_one(cli, signals, one, None),
        many => {
            if cli.output.is_some() || cli.segment.is_some() || cli.preview.is_some() {
                return Err(renderer::JobError::Invalid {
                    what: "arguments".into(),
                    message: "--output, --segment and --preview take a single job".into(),
                }
                .into());
            }
            // Every job is read first: a typo in the last one fails before hours of rendering.
            for path in many {
                let mut job = Job::from_file(path)?;
                apply_overrides(&mut job, cli)?;
            }
            let mut first = Job::from_file(&many[0])?;
            apply_overrides(&mut first, cli)?;
            let ctx = gpu::GpuContext::new(
                &first
                    .video
                    .adapter
                    .parse::<gpu::AdapterChoice>()
                    .unwrap_or_default(),
            )?;
            let mut failed = Vec::new();
            for (i, path) in many.iter().enumerate() {
                if !cli.quiet {
                    eprintln!("[{}/{}] {}", i + 1, many.len(), path.display());
                }
                match run_one(cli, signals, path, Some(ctx.clone())) {
                    Ok(()) => {}
                    Err(e) => {
                        if matches!(
                            e.downcast_ref::<RenderError>(),
                            Some(RenderError::Cancelled)
                        ) {
                            return Err(e);
                        }
                        eprintln!("error: {}: {e:#}", path.display());
                        failed.push(path.display().to_string());
                    }
                }
            }
            if failed.is_empty() {
                Ok(())
            } else {
                anyhow::bail!(
                    "{} of {} jobs failed: {}",
                    failed.len(),
                    many.len(),
                    failed.join(", ")
                )
            }
        }
    }
}

/// True for a path that is an audio file rather than a job: not `.toml`, not a folder, and
/// something the decoder opens.
fn is_audio(path: &std::path::Path) -> bool {
    let toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    !toml && path.is_file() && audio::AudioDecoder::open(path).is_ok()
}

/// Renders (or, with --print-job, prints the job for) an audio file with a built-in style.
fn run_audio(cli: &Cli, signals: &Signals, audio: &std::path::Path) -> anyhow::Result<()> {
    let style = cli
        .style
        .as_deref()
        .unwrap_or(renderer::styles::DEFAULT_STYLE);
    let output = if cli.preview.is_some() {
        None
    } else {
        cli.output.as_deref()
    };
    let text = renderer::styles::job_for_audio(style, audio, output, cli.captions.as_deref())?;
    if cli.print_job {
        print!("{text}");
        return Ok(());
    }
    let name = format!("{} (style {style})", audio.display());
    let job = Job::from_toml_str(&text, &name, std::path::Path::new(""))?;
    run_job(cli, signals, job, None)
}

fn run_one(
    cli: &Cli,
    signals: &Signals,
    job_path: &std::path::Path,
    gpu: Option<gpu::GpuContext>,
) -> anyhow::Result<()> {
    let job = Job::from_file(job_path)?;
    run_job(cli, signals, job, gpu)
}

fn run_job(
    cli: &Cli,
    signals: &Signals,
    mut job: Job,
    gpu: Option<gpu::GpuContext>,
) -> anyhow::Result<()> {
    apply_overrides(&mut job, cli)?;

    if let Some(time) = cli.preview {
        let output = cli
            .output
            .clone()
            .unwrap_or_else(|| job.output.with_extension("png"));
        let still = renderer::render_still(&job, time, &output, gpu)?;
        if !cli.quiet {
            println!(
                "preview of {:.3} s ({}x{}) written to {} in {:.2} s on {}",
                still.time,
                still.width,
                still.height,
                still.path.display(),
                still.elapsed.as_secs_f64(),
                still.adapter.name
            );
        }
        return Ok(());
    }
    let cancel = signals.cancel.clone();

    let bar = (!cli.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} frames {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut last_log = Instant::now();
    let quiet = cli.quiet;
    let mut on_progress = |p: &Progress| {
        let eta = p
            .eta()
            .map(|d| format!("{:.0} s", d.as_secs_f64()))
            .unwrap_or_else(|| "?".into());
        if let Some(bar) = &bar {
            bar.set_length(p.frames_total);
            bar.set_position(p.frames_done);
            bar.set_message(format!("{:.1} fps, ETA {eta}", p.fps()));
        } else if !quiet
            && (last_log.elapsed() >= Duration::from_secs(5) || p.frames_done == p.frames_total)
        {
            last_log = Instant::now();
            log::info!(
                "frame {}/{} ({:.0}%), {:.1} fps, ETA {eta}",
                p.frames_done,
                p.frames_total,
                100.0 * p.frames_done as f64 / p.frames_total.max(1) as f64,
                p.fps()
            );
        }
    };
    let result = renderer::render(
        &job,
        RenderOptions {
            limits: Default::default(),
            progress: Some(&mut on_progress),
            cancel: Some(cancel),
            gpu,
            segment: cli.segment,
            segment_output: cli.segment.and(cli.output.clone()),
        },
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = result?;
    if !cli.quiet {
        println!("{summary}");
    }
    Ok(())
}
