//! The streaming render: decode + analysis thread -> GPU (this thread) -> writer thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use audio::{AudioDecoder, FrameAnalyzer, FrameFeatures};
use gpu::{
    AdapterChoice, AdapterSummary, FrameRenderer, FrameUniforms, GpuContext, RendererConfig,
};
use media::{AudioInput, EncoderSettings, FfmpegEncoder, VideoCodec};

use crate::expr::{Var, Vars};
use crate::job::{CodecChoice, EncoderChoice, Job, Layer};
use crate::scene::Scene;
use crate::{RenderError, memory, nvenc_out};
use audio::AnalysisConfig;

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

/// Scalar features and per-frame arrays (bands, peaks, waveform) of consecutive frames.
struct Chunk {
    features: Vec<FrameFeatures>,
    levels: Vec<f32>,
}

/// What the analysis thread returns when it ends.
struct AnalysisEnd {
    skipped_packets: usize,
}

/// Renders `job` to its output (or nowhere, with encoder = "null").
pub fn render(job: &Job, options: RenderOptions<'_>) -> Result<RenderSummary, RenderError> {
    let started = Instant::now();
    job.validate()?;
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
    let pixels = u64::from(width) * u64::from(height);
    if let Some(max) = limits.max_pixels.filter(|&m| pixels > m) {
        return Err(RenderError::Limit(format!(
            "{width}x{height} is {pixels} pixels; this service allows at most {max}"
        )));
    }
    if let Some(max) = limits.max_layers.filter(|&m| job.layers.len() > m) {
        return Err(RenderError::Limit(format!(
            "the job has {} layers; this service allows at most {max}",
            job.layers.len()
        )));
    }

    // Audio first: a missing or corrupt file is reported before any GPU or ffmpeg work; then
    // the layers' files (images, fonts, shaders, videos).
    let decoder = AudioDecoder::open(&job.audio)?;
    let info = decoder.info().clone();
    let (mut scene, specs) = Scene::new(&job.layers, width, height, fps, &job.audio)?;
    let whole = Plan::new(
        &info,
        &job.audio,
        job.start,
        job.duration,
        fps,
        scene.preroll_seconds(),
    )?;
    let plan = match segment {
        Some(seg) => whole.segment(seg, scene.preroll_seconds())?,
        None => whole,
    };
    let analyzer = FrameAnalyzer::new(
        decoder,
        fps,
        plan.analysis_start,
        Some(plan.analysis_frames() as f64 / fps),
        analysis_config(job),
    )?;
    let bands = analyzer.band_count() as u32;
    let points = analyzer.buffers().waveform.len() as u32 / 2;
    let stride = frame_stride(bands, points);
    let frames_total = plan.frames;
    let video_seconds = frames_total as f64 / fps;
    let output = match segment {
        Some(seg) => options_output
            .clone()
            .unwrap_or_else(|| seg.default_path(&job.output)),
        None => job.output.clone(),
    };
    if let Some(max) = limits.max_duration.filter(|&m| video_seconds > m) {
        return Err(RenderError::Limit(format!(
            "the render is {video_seconds:.1} s long; this service allows at most {max} s \
             (use --start/--duration for a section)"
        )));
    }
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

    let ctx = match gpu {
        Some(ctx) => ctx,
        None => GpuContext::with_options(
            &video.adapter.parse::<AdapterChoice>().unwrap_or_default(),
            context_options(job),
        )?,
    };
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
    let mut renderer = FrameRenderer::new(
        &ctx,
        RendererConfig {
            width,
            height,
            ring_slots: RING_SLOTS,
            chunk_frames: CHUNK_FRAMES,
            frame_stride: stride,
            bands,
        },
        &specs,
    )?;
    scene.prepare_gpu(&ctx)?;
    let layout = renderer.layout();
    // NVENC's ring, CUDA imports and session exist before ffmpeg starts: a failure here leaves
    // no output behind.
    let mut hw = None;
    let mut use_nvenc = use_nvenc;
    if use_nvenc {
        match nvenc_out::NvencOutput::new(&ctx, layout, nvenc_out::settings(video)) {
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
            renderer.upload_spectrum(&chunk.levels)?;
            for (i, f) in chunk.features.iter().enumerate() {
                if cancel.load(Ordering::Relaxed) {
                    return Err(RenderError::Cancelled);
                }
                let drawn = index >= plan.preroll_frames;
                let (uniforms, vars) =
                    frame_inputs(f, i as u32, bands, points, [width, height], &plan, index);
                scene.update(&mut renderer, &vars, f64::from(f.time), drawn)?;
                if drawn {
                    match hw.as_mut() {
                        None => {
                            let mut sink = |_frame: u64, padded: &[u8]| {
                                let mut buf = recycle_rx.try_recv().unwrap_or_default();
                                layout.pack(padded, &mut buf);
                                deliver(ToWriter::Frame(buf))
                            };
                            renderer.submit(&uniforms, &mut sink)?;
                        }
                        Some(out) => out.submit(&mut renderer, &uniforms, &mut |bytes| {
                            deliver(ToWriter::Encoded(bytes))
                        })?,
                    }
                } else {
                    renderer.advance(&uniforms)?;
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
                renderer.finish(&mut sink)?;
            }
            Some(out) => {
                out.finish(&renderer, &mut |bytes| deliver(ToWriter::Encoded(bytes)))?;
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
        adapter: ctx.adapter.clone(),
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

/// Decodes and analyses on a thread of its own, sending chunks of frames.
fn spawn_analysis(
    mut analyzer: FrameAnalyzer,
    tx: SyncSender<Chunk>,
) -> Result<JoinHandle<Result<AnalysisEnd, RenderError>>, RenderError> {
    std::thread::Builder::new()
        .name("analysis".into())
        .spawn(move || {
            let mut buffers = analyzer.buffers();
            let stride = 2 * buffers.bands.len() + 3 * buffers.waveform.len();
            loop {
                let mut chunk = Chunk {
                    features: Vec::with_capacity(CHUNK_FRAMES as usize),
                    levels: Vec::with_capacity(CHUNK_FRAMES as usize * stride),
                };
                while chunk.features.len() < CHUNK_FRAMES as usize {
                    match analyzer.next_frame(&mut buffers)? {
                        Some(f) => {
                            chunk.features.push(f);
                            chunk.levels.extend_from_slice(&buffers.bands);
                            chunk.levels.extend_from_slice(&buffers.peaks);
                            chunk.levels.extend_from_slice(&buffers.waveform);
                            chunk.levels.extend_from_slice(&buffers.waveform_stereo);
                        }
                        None => break,
                    }
                }
                let last = chunk.features.len() < CHUNK_FRAMES as usize;
                if !chunk.features.is_empty() && tx.send(chunk).is_err() {
                    break; // the render stopped
                }
                if last {
                    break;
                }
            }
            Ok(AnalysisEnd {
                skipped_packets: analyzer.decoder().skipped_packets,
            })
        })
        .map_err(|e| RenderError::Thread(format!("cannot start the analysis thread: {e}")))
}

/// Per frame in an upload: band levels, peak-hold levels, the mono waveform pairs, then the
/// left and right waveform pairs.
fn frame_stride(bands: u32, points: u32) -> u32 {
    2 * bands + 6 * points
}

fn analysis_config(job: &Job) -> AnalysisConfig {
    let bars = job
        .layers
        .iter()
        .filter_map(|l| match l {
            Layer::Bars(b) => Some(b.count.0),
            Layer::Radial(r) => Some(r.count.0),
            _ => None,
        })
        .max();
    job.analysis.to_config(bars)
}

/// Which frames a render (or a still) analyses: the frames shown, preceded by warm-up frames
/// for stateful layers (spectrogram history, particles), all on one frame grid.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Frames shown.
    frames: u64,
    /// Warm-up frames analysed and simulated before the first shown frame.
    preroll_frames: u64,
    /// Seconds into the audio of the first analysed frame.
    analysis_start: f64,
    /// The render's start and length (what the reactors' `progress` runs over).
    start: f64,
    seconds: f64,
    fps: f64,
    /// Index of the first shown frame within the whole render (non-zero for segments).
    first: u64,
    /// Frames of the whole render.
    total_frames: u64,
}

impl Plan {
    fn new(
        info: &audio::AudioInfo,
        path: &std::path::Path,
        start: f64,
        duration: Option<f64>,
        fps: f64,
        preroll_seconds: f64,
    ) -> Result<Self, RenderError> {
        let total = info.duration_secs();
        if !(start.is_finite() && start >= 0.0) || start >= total {
            return Err(audio::AudioError::Config(format!(
                "start {start} s is outside the audio ({total:.3} s long) of {}",
                path.display()
            ))
            .into());
        }
        let length = duration.map_or(total - start, |d| d.min(total - start));
        let frames = ((length * fps).round() as u64).max(1);
        let preroll_frames =
            ((preroll_seconds * fps).ceil() as u64).min((start * fps).floor() as u64);
        Ok(Self {
            frames,
            preroll_frames,
            analysis_start: start - preroll_frames as f64 / fps,
            start,
            seconds: frames as f64 / fps,
            fps,
            first: 0,
            total_frames: frames,
        })
    }

    /// The part of this render that segment `index` of `count` shows: frames
    /// `floor(i * F / N) .. floor((i + 1) * F / N)`, so every frame belongs to exactly one segment.
    fn segment(&self, seg: Segment, preroll_seconds: f64) -> Result<Self, RenderError> {
        let f = self.total_frames;
        let (i, n) = (u64::from(seg.index), u64::from(seg.count));
        if n == 0 || i >= n {
            return Err(RenderError::Segment(format!(
                "segment {}/{} does not exist: write I/N with 0 <= I < N (e.g. 0/4 .. 3/4)",
                seg.index, seg.count
            )));
        }
        if n > f {
            return Err(RenderError::Segment(format!(
                "{n} segments for a render of {f} frames: use at most {f}"
            )));
        }
        let a = i * f / n;
        let b = (i + 1) * f / n;
        let before = (self.start * self.fps).floor() as u64 + a;
        let preroll_frames = ((preroll_seconds * self.fps).ceil() as u64).min(before);
        let seg_start = self.start + a as f64 / self.fps;
        Ok(Self {
            frames: b - a,
            preroll_frames,
            analysis_start: seg_start - preroll_frames as f64 / self.fps,
            first: a,
            ..*self
        })
    }

    fn analysis_frames(&self) -> u64 {
        self.frames + self.preroll_frames
    }
}

/// Uniforms and reactor variables of analysed frame `index` (counting warm-up frames), whose
/// arrays sit at position `slot` of the current upload.
fn frame_inputs(
    f: &FrameFeatures,
    slot: u32,
    bands: u32,
    points: u32,
    [width, height]: [u32; 2],
    plan: &Plan,
    index: u64,
) -> (FrameUniforms, Vars) {
    let base = slot * frame_stride(bands, points);
    let uniforms = FrameUniforms {
        resolution: [width as f32, height as f32],
        time: f.time,
        duration: plan.seconds as f32,
        // Absolute frame number on the audio's frame grid: the same time gives the same index
        // in a full render, a still and a segment (particles and spectrogram columns use it).
        frame_index: (f64::from(f.time) * plan.fps).round().max(0.0) as u32,
        spectrum_offset: base,
        band_count: bands,
        peaks_offset: base + bands,
        waveform_offset: base + 2 * bands,
        waveform_points: points,
        _pad: [0; 2],
        features: *f,
    };
    let mut vars = Vars::from_features(f, plan.start, plan.seconds);
    vars.set(
        Var::Frame,
        (plan.first + index) as f32 - plan.preroll_frames as f32,
    );
    (uniforms, vars)
}

/// What a still reports.
#[derive(Debug, Clone, PartialEq)]
pub struct StillSummary {
    pub path: std::path::PathBuf,
    /// The time shown, seconds into the audio (on the job's frame grid).
    pub time: f64,
    pub width: u32,
    pub height: u32,
    pub elapsed: Duration,
    pub adapter: AdapterSummary,
}

/// Renders the single frame at `time` seconds into the audio to a PNG at `output` (written to a
/// temporary file, then renamed): no encoder, no audio muxing. Stateful layers (spectrogram,
/// particles) are warmed up on the audio before `time`, so the still matches the frame a full
/// render shows at that time.
pub fn render_still(
    job: &Job,
    time: f64,
    output: &std::path::Path,
    gpu: Option<GpuContext>,
) -> Result<StillSummary, RenderError> {
    let started = Instant::now();
    job.validate()?;
    let video = &job.video;
    let (width, height, fps) = (video.width.0, video.height.0, video.fps.0);
    let decoder = AudioDecoder::open(&job.audio)?;
    let info = decoder.info().clone();
    let total = info.duration_secs();
    if !(time.is_finite() && time >= 0.0 && time < total) {
        return Err(RenderError::Job(crate::JobError::Invalid {
            what: "--preview".into(),
            message: format!(
                "time {time} s is outside the audio ({total:.3} s long) of {}",
                job.audio.display()
            ),
        }));
    }
    // The frame on the job's frame grid (counted from `start`) nearest `time`.
    let frame = ((time - job.start) * fps).round();
    let shown = (job.start + frame * fps.recip()).clamp(0.0, total - 0.5 / fps);
    let (mut scene, specs) = Scene::new(&job.layers, width, height, fps, &job.audio)?;
    let mut plan = Plan::new(
        &info,
        &job.audio,
        shown,
        Some(1.0 / fps),
        fps,
        scene.preroll_seconds(),
    )?;
    // Reactors see the whole render's progress, not the still's.
    let render_len = job
        .duration
        .map_or(total - job.start, |d| d.min(total - job.start));
    plan.start = job.start;
    plan.seconds = ((render_len * fps).round().max(1.0)) / fps;
    let mut analyzer = FrameAnalyzer::new(
        decoder,
        fps,
        plan.analysis_start,
        Some(plan.analysis_frames() as f64 / fps),
        analysis_config(job),
    )?;
    let bands = analyzer.band_count() as u32;
    let points = analyzer.buffers().waveform.len() as u32 / 2;
    let ctx = match gpu {
        Some(ctx) => ctx,
        None => GpuContext::with_options(
            &video.adapter.parse::<AdapterChoice>().unwrap_or_default(),
            context_options(job),
        )?,
    };
    let mut renderer = FrameRenderer::new(
        &ctx,
        RendererConfig {
            width,
            height,
            ring_slots: 2,
            chunk_frames: 1,
            frame_stride: frame_stride(bands, points),
            bands,
        },
        &specs,
    )?;
    scene.prepare_gpu(&ctx)?;
    let mut buffers = analyzer.buffers();
    let mut levels = Vec::new();
    let mut index = 0u64;
    let mut rgba = None;
    while let Some(f) = analyzer.next_frame(&mut buffers)? {
        levels.clear();
        levels.extend_from_slice(&buffers.bands);
        levels.extend_from_slice(&buffers.peaks);
        levels.extend_from_slice(&buffers.waveform);
        levels.extend_from_slice(&buffers.waveform_stereo);
        renderer.upload_spectrum(&levels)?;
        let drawn = index >= plan.preroll_frames;
        let (uniforms, mut vars) =
            frame_inputs(&f, 0, bands, points, [width, height], &plan, index);
        vars.set(Var::Frame, frame as f32);
        scene.update(&mut renderer, &vars, f64::from(f.time), drawn)?;
        if drawn {
            rgba = Some(renderer.render_rgba(&uniforms)?);
            break;
        }
        renderer.advance(&uniforms)?;
        index += 1;
    }
    let rgba = rgba.ok_or_else(|| RenderError::Thread("the analysis gave no frame".into()))?;
    write_png(output, width, height, &rgba)?;
    Ok(StillSummary {
        path: output.to_owned(),
        time: shown,
        width,
        height,
        elapsed: started.elapsed(),
        adapter: ctx.adapter.clone(),
    })
}

/// Writes RGBA8 as a PNG through a temporary file in the same folder, renamed into place.
pub fn write_png(
    path: &std::path::Path,
    width: u32,
    height: u32,
    rgba: &[u8],
) -> Result<(), RenderError> {
    let tmp = media::temp_path_for(path);
    let result = image::save_buffer_with_format(
        &tmp,
        rgba,
        width,
        height,
        image::ExtendedColorType::Rgba8,
        image::ImageFormat::Png,
    )
    .map_err(|e| RenderError::Asset {
        path: path.to_owned(),
        message: format!("cannot write the PNG: {e}"),
    })
    .and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| RenderError::Asset {
            path: path.to_owned(),
            message: format!("cannot move the finished PNG into place: {e}"),
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Part `index` of `count` of a render (`renderer JOB --segment I/N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Segment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("segment \"{s}\" is not I/N: write e.g. 0/4 for the first of four (0 <= I < N)")
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl Segment {
    /// `out.mp4` -> `out.segment-0003-of-0010.mp4` beside it.
    pub fn default_path(&self, output: &std::path::Path) -> std::path::PathBuf {
        let stem = output
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        output.with_file_name(format!(
            "{stem}.segment-{:04}-of-{:04}.mp4",
            self.index, self.count
        ))
    }
}

/// What a segment file says about itself (its MP4 `comment` tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentTag {
    pub index: u32,
    pub count: u32,
    /// First frame (within the whole render) and frames in this segment.
    pub first: u64,
    pub frames: u64,
    /// Frames of the whole render.
    pub total: u64,
    /// [`job_fingerprint`] of the job it was rendered from.
    pub fingerprint: String,
}

const SEGMENT_TAG: &str = "renderer-segment v1";

impl std::fmt::Display for SegmentTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{SEGMENT_TAG} index={} count={} first={} frames={} total={} fingerprint={}",
            self.index, self.count, self.first, self.frames, self.total, self.fingerprint
        )
    }
}

impl std::str::FromStr for SegmentTag {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix(SEGMENT_TAG)
            .ok_or_else(|| "not a segment tag".to_owned())?;
        let mut tag = SegmentTag {
            index: 0,
            count: 0,
            first: 0,
            frames: 0,
            total: 0,
            fingerprint: String::new(),
        };
        for item in rest.split_whitespace() {
            let (k, v) = item.split_once('=').ok_or("malformed segment tag")?;
            let num = || {
                v.parse::<u64>()
                    .map_err(|_| format!("bad {k} in segment tag"))
            };
            match k {
                "index" => tag.index = num()? as u32,
                "count" => tag.count = num()? as u32,
                "first" => tag.first = num()?,
                "frames" => tag.frames = num()?,
                "total" => tag.total = num()?,
                "fingerprint" => tag.fingerprint = v.to_owned(),
                _ => {}
            }
        }
        if tag.count == 0 || tag.fingerprint.is_empty() {
            return Err("incomplete segment tag".into());
        }
        Ok(tag)
    }
}

/// A digest of everything that decides a render's pictures and encoding (the job without its
/// output path, and this build's version): segments join only when theirs agree.
pub fn job_fingerprint(job: &Job) -> String {
    let mut j = job.clone();
    j.output = std::path::PathBuf::new();
    let text = format!("{}|{j:?}", env!("CARGO_PKG_VERSION"));
    // FNV-1a, 64 bits: stable across processes and platforms (std's hasher is seeded).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// What `join` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinSummary {
    pub output: std::path::PathBuf,
    pub segments: usize,
    pub frames: u64,
    pub elapsed: Duration,
}

/// Joins the segments of `job` (rendered with `--segment I/N`, any order on the command line)
/// into `output` without re-encoding the video, with the job's audio muxed once over the whole.
/// Refuses missing, duplicated or foreign segments (other job, other settings, other build).
pub fn join(
    job: &Job,
    segments: &[std::path::PathBuf],
    output: &std::path::Path,
) -> Result<JoinSummary, RenderError> {
    let started = Instant::now();
    job.validate()?;
    let fps = job.video.fps.0;
    let info = AudioDecoder::open(&job.audio)?.info().clone();
    let whole = Plan::new(&info, &job.audio, job.start, job.duration, fps, 0.0)?;
    let fingerprint = job_fingerprint(job);
    if segments.is_empty() {
        return Err(RenderError::Segment(
            "no segments given: list the files rendered with --segment I/N".into(),
        ));
    }
    let mut tagged: Vec<(SegmentTag, std::path::PathBuf)> = Vec::new();
    for path in segments {
        if !path.is_file() {
            return Err(RenderError::Segment(format!(
                "segment {} does not exist",
                path.display()
            )));
        }
        let comment = media::probe_comment(path)?;
        let tag: SegmentTag = comment
            .as_deref()
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| {
                RenderError::Segment(format!(
                    "{} is not a segment rendered by `renderer JOB --segment I/N` (it has no \
                     segment tag)",
                    path.display()
                ))
            })?;
        if tag.fingerprint != fingerprint {
            return Err(RenderError::Segment(format!(
                "{} was rendered from a different job or with different settings or renderer \
                 version (fingerprint {}, this job's {fingerprint}): render it again with this \
                 job",
                path.display(),
                tag.fingerprint
            )));
        }
        if let Some((_, other)) = tagged.iter().find(|(t, _)| t.index == tag.index) {
            return Err(RenderError::Segment(format!(
                "segment {}/{} is given twice: {} and {}",
                tag.index,
                tag.count,
                other.display(),
                path.display()
            )));
        }
        if let Some((first, first_path)) = tagged.first()
            && first.count != tag.count
        {
            return Err(RenderError::Segment(format!(
                "{} is one of {} segments but {} is one of {}: render all segments with the \
                 same N",
                path.display(),
                tag.count,
                first_path.display(),
                first.count
            )));
        }
        tagged.push((tag, path.clone()));
    }
    let count = tagged[0].0.count;
    let missing: Vec<String> = (0..count)
        .filter(|i| !tagged.iter().any(|(t, _)| t.index == *i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(RenderError::Segment(format!(
            "missing segment(s) {} of {count}: render them with --segment and join again",
            missing.join(", ")
        )));
    }
    tagged.sort_by_key(|(t, _)| t.index);
    // The tags must tile the render exactly.
    let mut next = 0u64;
    for (t, path) in &tagged {
        if t.first != next || t.total != whole.total_frames {
            return Err(RenderError::Segment(format!(
                "{} covers frames {}..{} of {}, expected to start at frame {next} of {}",
                path.display(),
                t.first,
                t.first + t.frames,
                t.total,
                whole.total_frames
            )));
        }
        next += t.frames;
    }
    if next != whole.total_frames {
        return Err(RenderError::Segment(format!(
            "the segments hold {next} frames, the render {}",
            whole.total_frames
        )));
    }
    let paths: Vec<(std::path::PathBuf, f64)> = tagged
        .into_iter()
        .map(|(t, p)| (p, t.frames as f64 / fps))
        .collect();
    media::join_segments(
        &paths,
        Some(&AudioInput {
            path: job.audio.clone(),
            start: job.start,
            duration: whole.seconds,
        }),
        AUDIO_KBPS,
        output,
    )?;
    Ok(JoinSummary {
        output: output.to_owned(),
        segments: paths.len(),
        frames: whole.total_frames,
        elapsed: started.elapsed(),
    })
}

/// Opt-in device features the job asks for: cooperative matrices where an avatar layer wants
/// `precision = "f16"`.
fn context_options(job: &Job) -> gpu::ContextOptions {
    gpu::ContextOptions {
        cooperative_matrix: job
            .layers
            .iter()
            .any(|l| matches!(l, Layer::Avatar(a) if a.precision == wav2lip::gemm::Precision::F16)),
    }
}
