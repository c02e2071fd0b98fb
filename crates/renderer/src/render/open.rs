//! Opening the pipeline, shared by `render` and `render_still`: the job's checks, the audio
//! decoder, the layers, the plan and the analyser ([`Opened`], no GPU yet), then the frame
//! renderer and the layers' GPU state on a device ([`Pipeline`]).

use audio::{AnalysisConfig, AudioDecoder, AudioInfo, FrameAnalyzer, FrameFeatures};
use gpu::{AdapterChoice, FrameRenderer, FrameUniforms, GpuContext, LayerSpec, RendererConfig};

use super::plan::{Plan, frame_inputs, frame_stride};
use super::sink::Frames;
use super::{CHUNK_FRAMES, Limits, RING_SLOTS, Segment};
use crate::RenderError;
use crate::job::{Job, Layer};
use crate::scene::Scene;

/// Which frames the pipeline is opened for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Span {
    /// The job's whole render.
    Whole,
    /// One part of it (`--segment I/N`).
    Segment(Segment),
    /// The single frame nearest `time` seconds into the audio (`--preview`).
    Still { time: f64 },
    /// Frames `first..` of the render, one at a time ([`crate::Preview`]).
    Tail { first: u64 },
}

impl Span {
    /// Checks that need only the audio's length, made before the layers' files are opened.
    fn check(self, job: &Job, info: &AudioInfo) -> Result<(), RenderError> {
        let Span::Still { time } = self else {
            return Ok(());
        };
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
        Ok(())
    }

    fn plan(self, job: &Job, info: &AudioInfo, preroll: f64) -> Result<Plan, RenderError> {
        let fps = job.video.fps.0;
        let whole = || Plan::new(info, &job.audio, job.start, job.duration, fps, preroll);
        match self {
            Span::Whole => whole(),
            Span::Segment(seg) => whole()?.segment(seg, preroll),
            Span::Still { time } => Plan::still(info, job, time, preroll),
            Span::Tail { first } => Ok(whole()?.tail(first, preroll)),
        }
    }

    /// Readback slots and frames per spectrum upload: a still draws one frame at a time.
    fn buffers(self) -> (usize, u32) {
        match self {
            Span::Still { .. } | Span::Tail { .. } => (2, 1),
            _ => (RING_SLOTS, CHUNK_FRAMES),
        }
    }
}

/// The CPU half of an opened pipeline: everything up to the GPU.
pub(super) struct Opened {
    pub(super) info: AudioInfo,
    pub(super) plan: Plan,
    analyzer: FrameAnalyzer,
    scene: Scene,
    specs: Vec<LayerSpec>,
    shape: Shape,
    buffers: (usize, u32),
}

/// The size of a frame and of its analysis arrays.
#[derive(Debug, Clone, Copy)]
struct Shape {
    width: u32,
    height: u32,
    bands: u32,
    /// Waveform points per frame.
    points: u32,
}

impl Opened {
    /// Checks the job (and `limits`), opens the audio (a missing or corrupt file is reported
    /// before any GPU or ffmpeg work), then the layers' files (images, fonts, shaders, videos),
    /// and plans and starts the analysis of `span`.
    pub(super) fn open(job: &Job, span: Span, limits: &Limits) -> Result<Self, RenderError> {
        job.validate()?;
        limits.check_job(job)?;
        let video = &job.video;
        let (width, height, fps) = (video.width.0, video.height.0, video.fps.0);
        let decoder = AudioDecoder::open(&job.audio)?;
        let info = decoder.info().clone();
        span.check(job, &info)?;
        let (scene, specs) = Scene::new(job, width, height, fps)?;
        // Stateful layers replay their state; the analysis smoothing feeding the oldest of it
        // settles first.
        let preroll = match scene.preroll_seconds() {
            p if p > 0.0 => p + job.analysis.settle_seconds(),
            _ => 0.0,
        };
        let plan = span.plan(job, &info, preroll)?;
        let seconds = Some(plan.analysis_frames() as f64 / fps);
        let config = analysis_config(job);
        let analyzer = FrameAnalyzer::new(decoder, fps, plan.analysis_start, seconds, config)?;
        limits.check_duration(plan.frames as f64 / fps)?;
        let shape = Shape {
            width,
            height,
            bands: analyzer.band_count() as u32,
            points: analyzer.buffers().waveform.len() as u32 / 2,
        };
        Ok(Self {
            info,
            plan,
            analyzer,
            scene,
            specs,
            shape,
            buffers: span.buffers(),
        })
    }

    /// Creates the frame renderer on `ctx` and the layers' GPU state. The analyser comes back
    /// beside the pipeline: a render runs it on a thread of its own.
    pub(super) fn start_gpu(
        self,
        ctx: GpuContext,
        frames: Frames,
    ) -> Result<(Pipeline, FrameAnalyzer), RenderError> {
        let Self {
            plan,
            analyzer,
            mut scene,
            specs,
            shape,
            buffers: (ring_slots, chunk_frames),
            ..
        } = self;
        let config = RendererConfig {
            width: shape.width,
            height: shape.height,
            ring_slots,
            chunk_frames,
            frame_stride: frame_stride(shape.bands, shape.points),
            bands: shape.bands,
            output: frames.output(),
            transparent: frames.transparent,
        };
        let renderer = FrameRenderer::new(&ctx, config, &specs)?;
        scene.prepare_gpu(&ctx)?;
        let pipeline = Pipeline {
            ctx,
            renderer,
            scene,
            plan,
            shape,
        };
        Ok((pipeline, analyzer))
    }
}

/// The GPU context a job renders on: the one given, else the adapter `[video] adapter` names.
pub(super) fn gpu_context(job: &Job, given: Option<GpuContext>) -> Result<GpuContext, RenderError> {
    Ok(match given {
        Some(ctx) => ctx,
        None => GpuContext::with_options(
            &job.video
                .adapter
                .parse::<AdapterChoice>()
                .unwrap_or_default(),
            context_options(job),
        )?,
    })
}

/// An opened pipeline: the device, its frame renderer and the layers, ready for frames.
pub(super) struct Pipeline {
    pub(super) ctx: GpuContext,
    pub(super) renderer: FrameRenderer,
    scene: Scene,
    pub(super) plan: Plan,
    shape: Shape,
}

impl Pipeline {
    /// Runs analysed frame `index` (warm-up frames counted), whose arrays sit at `slot` of the
    /// current upload, through the layers: a warm-up frame then runs the update passes only
    /// (`None`); a frame to show returns its uniforms, for the caller to draw.
    pub(super) fn step(
        &mut self,
        f: &FrameFeatures,
        slot: u32,
        index: u64,
    ) -> Result<Option<FrameUniforms>, RenderError> {
        let (s, plan, renderer) = (self.shape, &self.plan, &mut self.renderer);
        let drawn = index >= plan.preroll_frames;
        let size = [s.width, s.height];
        let (uniforms, vars) = frame_inputs(f, slot, s.bands, s.points, size, plan, index);
        let scene = &mut self.scene;
        scene.update(renderer, &vars, f64::from(f.time), drawn)?;
        if drawn {
            return Ok(Some(uniforms));
        }
        renderer.advance(&uniforms)?;
        Ok(None)
    }
}

pub(super) fn analysis_config(job: &Job) -> AnalysisConfig {
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
