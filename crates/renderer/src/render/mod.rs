//! The streaming render: decode + analysis thread -> GPU (this thread) -> writer thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use gpu::{AdapterSummary, GpuContext};
use media::{AudioInput, EncoderSettings, FfmpegEncoder, VideoCodec};

use crate::job::{CodecChoice, EncoderChoice, Job};
use crate::{RenderError, memory, nvenc_out};

mod analysis;
mod open;
mod plan;
mod segments;
mod still;

use analysis::{Chunk, spawn_analysis};
use open::{Opened, Span, gpu_context};
pub use segments::{JoinSummary, Segment, SegmentTag, job_fingerprint, join};
pub use still::{StillSummary, render_still, write_png};

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
            return Err(RenderError::Limit(format!(
                "{width}x{height} is {pixels} pixels; this service allows at most {max}"
            )));
        }
        if let Some(max) = self.max_layers.filter(|&m| job.layers.len() > m) {
            return Err(RenderError::Limit(format!(
                "the job has {} layers; this service allows at most {max}",
                job.layers.len()
            )));
        }
        Ok(())
    }

    /// The bound on the video's length, known once the audio is open.
    fn check_duration(&self, video_seconds: f64) -> Result<(), RenderError> {
        if let Some(max) = self.max_duration.filter(|&m| video_seconds > m) {
            return Err(RenderError::Limit(format!(
                "the render is {video_seconds:.1} s long; this service allows at most {max} s \
                 (use --start/--duration for a section)"
            )));
        }
        Ok(())
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
        Ok(())
    }
}

/// Renders `job` to its output (or nowhere, with encoder = "null").
pub fn render(job: &Job, options: RenderOptions<'_>) -> Result<RenderSummary, RenderError> {
    let started = Instant::now();
    let RenderOptions {
        limits,
        mut progress,
        cancel,
        gpu,
        segment,
        segment_output: options_output,
    } = options;
    let cancel = cancel.unwrap_or_default();
    let video = &job.video;
    let (width, height, fps) = (video.width.0, video.height.0, video.fps.0);
    let span = segment.map_or(Span::Whole, Span::Segment);
    let opened = Opened::open(job, span, &limits)?;
    let (info, plan) = (&opened.info, opened.plan);
    let frames_total = plan.frames;
    let video_seconds = frames_total as f64 / fps;
    let output = match segment {
        Some(seg) => options_output
            .clone()
            .unwrap_or_else(|| seg.default_path(&job.output)),
        None => job.output.clone(),
    };
    log::info!(
        "{}: {} Hz, {} channel(s), {:.2} s ({}); rendering {} frames at {}x{} @ {} fps",
        job.audio.display(),
        info.sample_rate,
        info.channels,
        info.duration_secs(),
        info.codec,
        frames_total,
        width,
        height,
        fps
    );

    // ffmpeg writes every MP4 (x264 encodes in it; NVENC's stream is muxed by it): check it
    // before any GPU work. Whether NVENC works needs the GPU, so that is decided below.
    let ffmpeg = match video.encoder {
        EncoderChoice::Null => None,
        _ => Some(media::probe_ffmpeg()?),
    };
    let need_x264 = |ff: &media::FfmpegInfo| -> Result<(), RenderError> {
        if ff.has_libx264 {
            Ok(())
        } else {
            Err(media::MediaError::MissingEncoder {
                encoder: "libx264".into(),
            }
            .into())
        }
    };
    if let (EncoderChoice::X264, Some(ff)) = (video.encoder, &ffmpeg) {
        need_x264(ff)?;
    }

    let ctx = gpu_context(job, gpu)?;
    log::info!("GPU adapter: {}", ctx.adapter);

    let codec = nvenc_out::codec(video.codec);
    let use_nvenc = match (video.encoder, &ffmpeg) {
        (EncoderChoice::Nvenc, _) => {
            nvenc_out::availability(&ctx, codec).map_err(|why| {
                RenderError::EncoderUnavailable(format!(
                    "encoder = \"nvenc\" cannot run here: {why}. Use encoder = \"auto\" (falls \
                     back to x264) or \"x264\""
                ))
            })?;
            log::info!("encoder nvenc: {codec} on {} (zero-copy)", ctx.adapter);
            true
        }
        (EncoderChoice::Auto, Some(ff)) => match nvenc_out::availability(&ctx, codec) {
            Ok(()) => {
                log::info!("encoder auto: NVENC {codec} on {} (zero-copy)", ctx.adapter);
                true
            }
            Err(why) if video.codec == CodecChoice::Hevc => {
                return Err(RenderError::EncoderUnavailable(format!(
                    "codec = \"hevc\" needs NVENC, which cannot run here: {why}. Use codec = \
                     \"h264\" to encode with x264"
                )));
            }
            Err(why) => {
                need_x264(ff)?;
                log::info!(
                    "encoder auto: x264 through {}; NVENC not used: {why}",
                    ff.version.split(" Copyright").next().unwrap_or(&ff.version)
                );
                false
            }
        },
        _ => false,
    };
    let (mut pipeline, analyzer) = opened.start_gpu(ctx)?;
    let layout = pipeline.renderer.layout();
    // NVENC's ring, CUDA imports and session exist before ffmpeg starts: a failure here leaves
    // no output behind.
    let mut hw = None;
    let mut use_nvenc = use_nvenc;
    if use_nvenc {
        match nvenc_out::NvencOutput::new(&pipeline.ctx, layout, nvenc_out::settings(video)) {
            Ok(out) => hw = Some(out),
            // auto with H.264 still has x264 to fall back on.
            Err(e) if video.encoder == EncoderChoice::Auto && video.codec == CodecChoice::H264 => {
                if let Some(ff) = &ffmpeg {
                    need_x264(ff)?;
                }
                log::warn!("encoder auto: setting up NVENC failed ({e}); using x264");
                use_nvenc = false;
            }
            Err(e) => return Err(e),
        }
    }
    let encoder_name = match video.encoder {
        EncoderChoice::Null => "null".to_owned(),
        _ if use_nvenc => format!("nvenc {codec}"),
        _ => "x264".to_owned(),
    };

    // Writer: owns the ffmpeg child (or counts frames for "null").
    let mut encoder = match video.encoder {
        EncoderChoice::Null => None,
        _ => Some(FfmpegEncoder::spawn(&EncoderSettings {
            width,
            height,
            fps,
            codec: match (use_nvenc, codec) {
                (false, _) => VideoCodec::X264,
                (true, nvenc::Codec::H264) => VideoCodec::H264Stream,
                (true, nvenc::Codec::Hevc) => VideoCodec::HevcStream,
            },
            crf: video.quality.0,
            preset: video.preset.0.clone(),
            // Segments are video only: the audio is muxed once over the joined whole.
            audio: segment.is_none().then(|| AudioInput {
                path: job.audio.clone(),
                start: job.start,
                duration: video_seconds,
            }),
            audio_kbps: AUDIO_KBPS,
            output: output.clone(),
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
        })?),
    };
    let (frame_tx, frame_rx) = sync_channel::<ToWriter>(RING_SLOTS);
    let (recycle_tx, recycle_rx) = sync_channel::<Vec<u8>>(RING_SLOTS + 2);
    let writer = std::thread::Builder::new()
        .name("writer".into())
        .spawn(move || -> Result<Option<media::EncodeStats>, RenderError> {
            for message in frame_rx {
                match message {
                    ToWriter::Frame(frame) => {
                        if let Some(enc) = encoder.as_mut() {
                            enc.write_frame(&frame)?;
                        }
                        let _ = recycle_tx.try_send(frame);
                    }
                    ToWriter::Encoded(bytes) => {
                        if let Some(enc) = encoder.as_mut() {
                            enc.write_encoded(&bytes, 1)?;
                        }
                    }
                    ToWriter::Finish => {
                        return match encoder.take() {
                            Some(enc) => Ok(Some(enc.finish()?)),
                            None => Ok(None),
                        };
                    }
                }
            }
            // The render stopped without `Finish`: dropping the encoder kills ffmpeg and
            // removes its temporary file.
            Err(RenderError::Cancelled)
        })
        .map_err(|e| RenderError::Thread(format!("cannot start the writer thread: {e}")))?;

    let (chunk_tx, chunk_rx) = sync_channel::<Chunk>(2);
    let analysis = spawn_analysis(analyzer, chunk_tx)?;

    // The render loop. Any error drops the channels, which stops both threads; the writer then
    // drops the encoder, which kills ffmpeg and removes its temporary file.
    let mut done = 0u64;
    let loop_result = (|| -> Result<(), RenderError> {
        let mut deliver = |message: ToWriter| -> Result<(), RenderError> {
            if frame_tx.send(message).is_err() {
                return Err(RenderError::WriterStopped);
            }
            done += 1;
            if let Some(cb) = progress.as_mut() {
                cb(&Progress {
                    frames_done: done,
                    frames_total,
                    elapsed: started.elapsed(),
                });
            }
            Ok(())
        };
        let mut index = 0u64;
        for chunk in &chunk_rx {
            pipeline.renderer.upload_spectrum(&chunk.levels)?;
            for (i, f) in chunk.features.iter().enumerate() {
                if cancel.load(Ordering::Relaxed) {
                    return Err(RenderError::Cancelled);
                }
                if let Some(uniforms) = pipeline.step(f, i as u32, index)? {
                    let renderer = &mut pipeline.renderer;
                    match hw.as_mut() {
                        None => {
                            let mut sink = |_frame: u64, padded: &[u8]| {
                                let mut buf = recycle_rx.try_recv().unwrap_or_default();
                                layout.pack(padded, &mut buf);
                                deliver(ToWriter::Frame(buf))
                            };
                            renderer.submit(&uniforms, &mut sink)?;
                        }
                        Some(out) => out.submit(renderer, &uniforms, &mut |bytes| {
                            deliver(ToWriter::Encoded(bytes))
                        })?,
                    }
                }
                index += 1;
            }
        }
        match hw.as_mut() {
            None => {
                let mut sink = |_frame: u64, padded: &[u8]| {
                    let mut buf = recycle_rx.try_recv().unwrap_or_default();
                    layout.pack(padded, &mut buf);
                    deliver(ToWriter::Frame(buf))
                };
                pipeline.renderer.finish(&mut sink)?;
            }
            Some(out) => {
                out.finish(&pipeline.renderer, &mut |bytes| {
                    deliver(ToWriter::Encoded(bytes))
                })?;
            }
        }
        Ok(())
    })();
    // The NVENC session and its CUDA mappings go before the GPU memory they read.
    drop(hw);
    drop(chunk_rx);
    let analysis_result = analysis
        .join()
        .map_err(|_| RenderError::Thread("the analysis thread panicked".into()))?;

    let analysis_end = match (loop_result, analysis_result) {
        (Ok(()), Ok(end)) if done == frames_total => Ok(end),
        (Ok(()), Ok(_)) => Err(RenderError::Thread(format!(
            "rendered {done} frames, expected {frames_total}"
        ))),
        (Ok(()), Err(e)) => Err(e),
        (Err(e), _) => Err(e),
    };
    let analysis_end = match analysis_end {
        Ok(end) => end,
        Err(e) => {
            // Closing the channel without `Finish` makes the writer abort. Its own error (ffmpeg
            // died, disk full) explains more than "the writer stopped".
            drop(frame_tx);
            return Err(match (e, writer.join()) {
                (RenderError::WriterStopped, Ok(Err(w))) => w,
                (e, _) => e,
            });
        }
    };
    let _ = frame_tx.send(ToWriter::Finish);
    drop(frame_tx);
    let stats = writer
        .join()
        .map_err(|_| RenderError::Thread("the writer thread panicked".into()))??;
    Ok(RenderSummary {
        frames: done,
        video_seconds,
        elapsed: started.elapsed(),
        encoder: encoder_name,
        adapter: pipeline.ctx.adapter.clone(),
        peak_rss: memory::peak_rss(),
        ffmpeg_peak_rss: stats.map(|s| s.ffmpeg_peak_rss),
        output: stats.map(|_| output.clone()),
        skipped_audio_packets: analysis_end.skipped_packets,
    })
}

enum ToWriter {
    /// A tightly packed NV12 frame (x264).
    Frame(Vec<u8>),
    /// One frame's Annex-B bytes (NVENC).
    Encoded(Vec<u8>),
    /// All frames were sent: finish the encode and move the output into place.
    Finish,
}
