//! `renderer JOB.toml`: render a job file to an MP4.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use renderer::job::{Dimension, EncoderChoice, Fps};
use renderer::{Job, Progress, RenderError, RenderOptions};

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
/// draws every frame on the GPU and encodes an MP4 (H.264 + AAC). Options override the job file.
///
/// Exit status: 0 done, 1 render failed, 2 invalid job or arguments, 130 interrupted (SIGINT),
/// 143 terminated (SIGTERM). A failed or stopped render leaves no output file.
#[derive(Debug, Parser)]
#[command(name = "renderer", version, allow_negative_numbers = true)]
struct Cli {
    /// The job file (TOML).
    #[arg(required_unless_present = "list_adapters")]
    job: Option<PathBuf>,
    /// List the GPU adapters this machine offers (one per line) and exit.
    #[arg(long)]
    list_adapters: bool,
    /// Output path (overrides `output`): the MP4, or with --preview the PNG.
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
    /// Encoder: auto, x264, or null (render and read back only, for measuring throughput).
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
    /// Multiply the output size by this factor (e.g. 0.5 for a quick draft); lengths in a job
    /// scale with the frame, so the picture looks the same.
    #[arg(long)]
    scale: Option<f64>,
    /// Adapter: auto, gpu, cpu, or part of an adapter's name.
    #[arg(long)]
    adapter: Option<String>,
    /// Print nothing but errors (no progress, no summary).
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = if cli.quiet {
        "error"
    } else {
        "warn,renderer=info,gpu=info,audio=info,media=info"
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level))
        .format_timestamp(None)
        .format_target(false)
        .init();
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
            let code = match e.downcast_ref::<RenderError>() {
                Some(RenderError::Cancelled) if signals.terminated.load(Ordering::Relaxed) => {
                    exit::TERMINATED
                }
                Some(RenderError::Cancelled) => exit::INTERRUPTED,
                Some(RenderError::Job(_)) => exit::BAD_JOB,
                _ if e.downcast_ref::<renderer::JobError>().is_some() => exit::BAD_JOB,
                _ => exit::RENDER_FAILED,
            };
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
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
        if !(s.is_finite() && s > 0.0) {
            return Err(bad(
                "--scale",
                format!("must be a positive number, got {s}"),
            ));
        }
        let even = |v: u32| ((f64::from(v) * s / 2.0).round() * 2.0).max(16.0);
        job.video.width =
            Dimension::try_from(even(job.video.width.0)).map_err(|m| bad("--scale", m))?;
        job.video.height =
            Dimension::try_from(even(job.video.height.0)).map_err(|m| bad("--scale", m))?;
    }
    if let Some(f) = cli.fps {
        job.video.fps = Fps::try_from(f).map_err(|m| bad("--fps", m))?;
    }
    if let Some(a) = &cli.adapter {
        job.video.adapter = a.clone();
    }
    job.validate()
}

fn run(cli: &Cli, signals: &Signals) -> anyhow::Result<()> {
    if cli.list_adapters {
        for adapter in gpu::list_adapters() {
            println!("{adapter}");
        }
        return Ok(());
    }
    let Some(job_path) = &cli.job else {
        anyhow::bail!("no job file given (see --help)");
    };
    let mut job = Job::from_file(job_path)?;
    apply_overrides(&mut job, cli)?;

    if let Some(time) = cli.preview {
        let output = cli
            .output
            .clone()
            .unwrap_or_else(|| job.output.with_extension("png"));
        let still = renderer::render_still(&job, time, &output, None)?;
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
            gpu: None,
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
