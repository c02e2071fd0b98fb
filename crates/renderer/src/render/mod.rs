//! The streaming render: decode + analysis thread -> GPU (this thread) -> writer thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gpu::{AdapterSummary, GpuContext};
use media::{AudioInput, EncodeStats, EncoderSettings, FfmpegEncoder};

use crate::job::Job;
use crate::{RenderError, memory};

mod analysis;
mod loudness;
mod open;
mod plan;
mod preview;
mod segments;
mod sink;
mod still;
mod writer;

use analysis::{AnalysisEnd, Chunk, spawn_analysis};
use open::{Opened, Pipeline, Span, gpu_context};
use plan::Plan;
pub use preview::{Overview, Preview, PreviewFrame, overview};
pub use segments::{JoinSummary, Segment, SegmentTag, job_fingerprint, join};
use sink::{Encoder, Frames, Sink, choose_encoder, probe_ffmpeg};
pub use still::{StillSummary, render_still, write_png};
use writer::{Delivery, Writer};

/// AAC bit rate of the sound track, kbit/s.
const AUDIO_KBPS: u32 = 192;

/// Frames of band levels sent from the analysis thread to the GPU per chunk.
const CHUNK_FRAMES: u32 = 64;
/// Readback slots: frames the GPU may work on while the CPU writes older ones.
const RING_SLOTS: usize = 3;

/// Progress of a running render, passed to the progress callback after every frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub frames_done: u64,
    pub frames_total: u64,
    pub elapsed: Duration,
}

impl Progress {
    /// Frames per second so far.
    pub fn fps(&self) -> f64 {
        self.frames_done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Estimated time left at the current rate.
    pub fn eta(&self) -> Option<Duration> {
        let fps = self.fps();
        (self.frames_done > 0 && fps > 0.0).then(|| {
            Duration::from_secs_f64(self.frames_total.saturating_sub(self.frames_done) as f64 / fps)
        })
    }
}

/// Bounds an embedding service can put on jobs it accepts; a job over a bound fails with
/// [`RenderError::Limit`] before any GPU or ffmpeg work.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// Largest width x height.
    pub max_pixels: Option<u64>,
    /// Longest render, seconds of video.
    pub max_duration: Option<f64>,
    /// Most `[[layer]]` entries.
    pub max_layers: Option<usize>,
}

impl Limits {
    /// The bounds a job's own settings can break (size, layers), checked before anything opens.
    fn check_job(&self, job: &Job) -> Result<(), RenderError> {
        let (width, height) = (job.video.width.0, job.video.height.0);
        let pixels = u64::from(width) * u64::from(height);
        if let Some(max) = self.max_pixels.filter(|&m| pixels > m) {
            return Err(RenderError::Limit(LimitExceeded::Pixels {
                width,
                height,
                max,
            }));
        }
        let layers = job.layers.len();
        if let Some(max) = self.max_layers.filter(|&m| layers > m) {
            return Err(RenderError::Limit(LimitExceeded::Layers { layers, max }));
        }
        Ok(())
    }

    /// The bound on the video's length, known once the audio is open.
    fn check_duration(&self, seconds: f64) -> Result<(), RenderError> {
        if let Some(max) = self.max_duration.filter(|&m| seconds > m) {
            return Err(RenderError::Limit(LimitExceeded::Duration { seconds, max }));
        }
        Ok(())
    }
}

/// Which of the [`Limits`] a job is over, by how much ([`RenderError::Limit`]).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum LimitExceeded {
    /// `width` x `height` is more pixels than `max`.
    Pixels { width: u32, height: u32, max: u64 },
    /// More `[[layer]]` entries than `max`.
    Layers { layers: usize, max: usize },
    /// More seconds of video than `max`.
    Duration { seconds: f64, max: f64 },
}

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            LimitExceeded::Pixels { width, height, max } => {
                let pixels = u64::from(width) * u64::from(height);
                write!(
                    f,
                    "{width}x{height} is {pixels} pixels; this service allows at most {max}"
                )
            }
            LimitExceeded::Layers { layers, max } => write!(
                f,
                "the job has {layers} layers; this service allows at most {max}"
            ),
            LimitExceeded::Duration { seconds, max } => write!(
                f,
                "the render is {seconds:.1} s long; this service allows at most {max} s (use \
                 --start/--duration for a section)"
            ),
        }
    }
}

/// How to run a render (everything but the job itself).
#[derive(Default)]
pub struct RenderOptions<'a> {
    /// Bounds on the job (none by default).
    pub limits: Limits,
    /// Called after every finished frame.
    pub progress: Option<&'a mut dyn FnMut(&Progress)>,
    /// Set to true (from any thread) to stop the render; it then returns
    /// [`RenderError::Cancelled`] and leaves no output file.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Render on this device instead of selecting one from `job.video.adapter`.
    pub gpu: Option<GpuContext>,
    /// Render only this part of the job (video only, for `join`).
    pub segment: Option<Segment>,
    /// Where a segment goes (default: [`Segment::default_path`] of the job's output).
    pub segment_output: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for RenderOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderOptions")
            .field("limits", &self.limits)
            .field("progress", &self.progress.is_some())
            .field("cancel", &self.cancel)
            .field("gpu", &self.gpu)
            .field("segment", &self.segment)
            .field("segment_output", &self.segment_output)
            .finish()
    }
}

/// What a finished render reports.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSummary {
    pub frames: u64,
    /// Seconds of video produced.
    pub video_seconds: f64,
    /// Wall time of the render.
    pub elapsed: Duration,
    /// "x264" or "null".
    pub encoder: String,
    pub adapter: AdapterSummary,
    /// Peak resident memory of this process, bytes (None where the OS does not say).
    pub peak_rss: Option<u64>,
    /// Peak resident memory of the ffmpeg child, bytes.
    pub ffmpeg_peak_rss: Option<u64>,
    /// The MP4 written (None for encoder = "null").
    pub output: Option<std::path::PathBuf>,
    /// Corrupt audio packets replaced by silence.
    pub skipped_audio_packets: usize,
    /// With `loudness`: the input's and the output's integrated loudness, LUFS.
    pub loudness: Option<(f64, Option<f64>)>,
}

impl RenderSummary {
    pub fn fps(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for RenderSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mb = |b: Option<u64>| match b {
            Some(b) => format!("{:.0} MB", b as f64 / 1e6),
            None => "n/a".into(),
        };
        write!(
            f,
            "rendered {} frames ({:.2} s of video) in {:.2} s, {:.1} fps, encoder {}, GPU {}{}, \
             peak memory {} (renderer) + {} (ffmpeg)",
            self.frames,
            self.video_seconds,
            self.elapsed.as_secs_f64(),
            self.fps(),
            self.encoder,
            self.adapter.name,
            if self.adapter.software {
                " [software adapter: rendered on the CPU]"
            } else {
                ""
            },
            mb(self.peak_rss),
            mb(self.ffmpeg_peak_rss),
        )?;
        if let Some(out) = &self.output {
            write!(f, ", output {}", out.display())?;
        }
        if let Some((input, output)) = self.loudness {
            match output {
                Some(o) => write!(f, ", loudness {input:.1} -> {o:.1} LUFS")?,
                None => write!(f, ", loudness {input:.1} LUFS (output not measured)")?,
            }
        }
        Ok(())
    }
}

/// Renders `job` to its output (or nowhere, with encoder = "null"): opens the pipeline, chooses
/// the encoder, runs the frames through it and finishes the encode.
pub fn render(job: &Job, options: RenderOptions<'_>) -> Result<RenderSummary, RenderError> {
    let started = Instant::now();
    let RenderOptions {
        limits,
        progress,
        cancel,
        gpu,
        segment,
        segment_output,
    } = options;
    let opened = Opened::open(job, segment.map_or(Span::Whole, Span::Segment), &limits)?;
    log_start(job, &opened);
    let ffmpeg = probe_ffmpeg(&job.video, &job.output)?;
    let ctx = gpu_context(job, gpu)?;
    log::info!("GPU adapter: {}", ctx.adapter);
    let encoder = choose_encoder(&job.video, &job.output, ffmpeg.as_ref(), &ctx)?;
    if segment.is_some() && encoder.ffmpeg_codec().is_some_and(|c| !c.has_audio()) {
        return Err(RenderError::Segment(
            "GIF and APNG outputs cannot be split into segments: render them whole".into(),
        ));
    }
    let frames = Frames::for_encoder(encoder, &job.video, ctx.adapter.software);
    if frames.cpu_nv12 {
        log::info!(
            "NV12 made on the CPU from RGBA (software adapter; RENDERER_NV12=gpu for the GPU pass)"
        );
    }
    if segment.is_some() && frames.transparent {
        return Err(RenderError::Segment(
            "segments are H.264 MP4, which has no alpha channel: render a job with background \
             = \"transparent\" whole"
                .into(),
        ));
    }
    let (mut pipeline, analyzer) = opened.start_gpu(ctx, frames)?;
    let (encoder, mut sink) = Sink::open(
        encoder,
        &job.video,
        &pipeline.renderer,
        &pipeline.ctx,
        ffmpeg.as_ref(),
        frames.raw,
    )?;
    let output = match segment {
        Some(seg) => segment_output.unwrap_or_else(|| seg.default_path(&job.output)),
        None => job.output.clone(),
    };
    let plan = pipeline.plan;
    // Segments are video only: their audio is normalised where `join` muxes it.
    let loudness = match (segment, encoder.ffmpeg_codec()) {
        (None, Some(c)) if c.has_audio() => loudness::plan(job, plan.frames as f64 / plan.fps)?,
        _ => None,
    };
    let filter = loudness.as_ref().map(|(_, f)| f.clone());
    let writer = Writer::spawn(spawn_ffmpeg(
        job,
        &plan,
        segment,
        (encoder, frames),
        &output,
        filter,
    )?)?;
    let (chunk_tx, chunk_rx) = sync_channel::<Chunk>(2);
    let analysis = spawn_analysis(analyzer, chunk_tx)?;

    // Any error drops the channels, which stops both threads; the writer then drops the encoder,
    // which kills ffmpeg and removes its temporary file.
    let mut out = Delivery::new(&writer, progress, plan.frames, started);
    let cancel = cancel.unwrap_or_default();
    let looped = run_frames(&mut pipeline, &mut sink, &chunk_rx, &cancel, &mut out);
    let done = out.done;
    // The NVENC session and its CUDA mappings go before the GPU memory they read.
    drop(sink);
    drop(chunk_rx);
    let (analysis_end, stats) = finish(looped, analysis, done, plan.frames, writer)?;
    let seconds = plan.frames as f64 / plan.fps;
    let loudness =
        loudness.map(|(m, _)| (m.integrated, loudness::measure_output(&output, seconds)));
    Ok(RenderSummary {
        frames: done,
        video_seconds: plan.frames as f64 / plan.fps,
        elapsed: started.elapsed(),
        encoder: encoder.name(),
        adapter: pipeline.ctx.adapter.clone(),
        peak_rss: memory::peak_rss(),
        ffmpeg_peak_rss: stats.map(|s| s.ffmpeg_peak_rss),
        output: stats.map(|_| output),
        skipped_audio_packets: analysis_end.skipped_packets,
        loudness,
    })
}

fn log_start(job: &Job, opened: &Opened) {
    let (info, video) = (&opened.info, &job.video);
    log::info!(
        "{}: {} Hz, {} channel(s), {:.2} s ({}); rendering {} frames at {}x{} @ {} fps",
        job.audio.display(),
        info.sample_rate,
        info.channels,
        info.duration_secs(),
        info.codec,
        opened.plan.frames,
        video.width.0,
        video.height.0,
        video.fps.0
    );
}

/// Starts ffmpeg for `encoder` (none for null) writing `output`: with the job's audio muxed in,
/// or for a segment video only, tagged with what it holds.
fn spawn_ffmpeg(
    job: &Job,
    plan: &Plan,
    segment: Option<Segment>,
    (encoder, frames): (Encoder, Frames),
    output: &std::path::Path,
    filter: Option<String>,
) -> Result<Option<FfmpegEncoder>, RenderError> {
    let Some(codec) = encoder.ffmpeg_codec() else {
        return Ok(None);
    };
    let video = &job.video;
    let settings = EncoderSettings {
        width: video.width.0,
        height: video.height.0,
        fps: video.fps.0,
        codec,
        frames: frames.raw,
        alpha: frames.alpha(),
        crf: video.quality.0,
        preset: video.preset.0.clone(),
        // Segments are video only: the audio is muxed once over the joined whole.
        audio: segment.is_none().then(|| AudioInput {
            path: job.audio.clone(),
            start: job.start,
            duration: plan.frames as f64 / plan.fps,
            filter,
        }),
        audio_kbps: AUDIO_KBPS,
        // Segments carry no chapters: `join` writes them over the whole.
        chapters: if segment.is_none() {
            chapter_marks(job, plan.frames as f64 / plan.fps)
        } else {
            Vec::new()
        },
        output: output.to_owned(),
        comment: segment.map(|seg| {
            SegmentTag {
                index: seg.index,
                count: seg.count,
                first: plan.first,
                frames: plan.frames,
                total: plan.total_frames,
                fingerprint: job_fingerprint(job),
            }
            .to_string()
        }),
    };
    Ok(Some(FfmpegEncoder::spawn(&settings)?))
}

/// The job's chapters as marks of a video of `seconds` from `job.start`.
pub(crate) fn chapter_marks(job: &Job, seconds: f64) -> Vec<media::ChapterMark> {
    crate::job::chapters::spans(&job.chapters, job.start, seconds)
        .into_iter()
        .map(|(start, end, title)| media::ChapterMark { start, end, title })
        .collect()
}

/// The render loop: every analysed frame through the layers, the shown ones drawn into `sink`,
/// until the analysis ends; then the frames still in flight.
fn run_frames(
    p: &mut Pipeline,
    sink: &mut Sink,
    chunks: &Receiver<Chunk>,
    cancel: &AtomicBool,
    out: &mut Delivery<'_, '_>,
) -> Result<(), RenderError> {
    let mut index = 0u64;
    for chunk in chunks {
        p.renderer.upload_spectrum(&chunk.levels)?;
        for (i, f) in chunk.features.iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(RenderError::Cancelled);
            }
            if let Some(uniforms) = p.step(f, i as u32, index)? {
                sink.submit(&mut p.renderer, &uniforms, out)?;
            }
            index += 1;
        }
    }
    sink.finish(&mut p.renderer, out)
}

/// Joins the analysis thread and, after the loop's result `looped` with `done` of `total`
/// frames delivered, finishes the encode or aborts it.
fn finish(
    looped: Result<(), RenderError>,
    analysis: JoinHandle<Result<AnalysisEnd, RenderError>>,
    done: u64,
    total: u64,
    writer: Writer,
) -> Result<(AnalysisEnd, Option<EncodeStats>), RenderError> {
    let analysed = analysis
        .join()
        .map_err(|_| RenderError::ThreadPanicked { thread: "analysis" })?;
    let ended = match (looped, analysed) {
        (Ok(()), Ok(end)) if done == total => Ok(end),
        (Ok(()), Ok(_)) => Err(RenderError::FrameCount {
            rendered: done,
            expected: total,
        }),
        (Ok(()), Err(e)) => Err(e),
        (Err(e), _) => Err(e),
    };
    match ended {
        Ok(end) => Ok((end, writer.finish()?)),
        Err(e) => Err(writer.abort(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_errors_read_as_before() {
        let cases = [
            (
                LimitExceeded::Pixels {
                    width: 1920,
                    height: 1080,
                    max: 230_400,
                },
                "1920x1080 is 2073600 pixels; this service allows at most 230400",
            ),
            (
                LimitExceeded::Layers { layers: 2, max: 1 },
                "the job has 2 layers; this service allows at most 1",
            ),
            (
                LimitExceeded::Duration {
                    seconds: 2.04,
                    max: 1.5,
                },
                "the render is 2.0 s long; this service allows at most 1.5 s (use \
                 --start/--duration for a section)",
            ),
        ];
        for (limit, text) in cases {
            assert_eq!(
                RenderError::Limit(limit).to_string(),
                format!("the job exceeds a limit: {text}")
            );
        }
    }

    #[test]
    fn encoders_name_themselves_and_their_ffmpeg_input() {
        use media::VideoCodec;
        let cases = [
            (Encoder::Null, "null", None),
            (Encoder::X264, "x264", Some(VideoCodec::X264)),
            (
                Encoder::Nvenc(nvenc::Codec::Hevc),
                "nvenc hevc",
                Some(VideoCodec::HevcStream),
            ),
        ];
        for (encoder, name, codec) in cases {
            assert_eq!(
                (encoder.name().as_str(), encoder.ffmpeg_codec()),
                (name, codec)
            );
        }
    }
}
