//! [`Preview`]: any frame of a job, on demand, from one device — what `renderer studio` draws.
//!
//! A preview keeps the pipeline it opened for the last frame asked for. The next frame of the
//! same job a little later (playback) continues that stream: the frames in between are analysed
//! and run through the stateful layers' update passes, but not drawn. A frame earlier, far
//! later, or of another job revision opens a new stream there, warmed up as a render warms it,
//! so every frame shown is the frame a full render (and `--preview`) shows at that time.

use audio::{FrameAnalyzer, FrameBuffers};
use gpu::GpuContext;

use super::Limits;
use super::analysis::push_levels;
use super::open::{Opened, Pipeline, Span, analysis_config, gpu_context};
use crate::RenderError;
use crate::job::Job;

/// Seconds ahead of the stream's position a frame may be and still be reached by stepping
/// (cheaper than reopening for playback); further ahead, the stream is reopened there.
const CATCH_UP_SECONDS: f64 = 2.0;

/// One previewed frame: straight-alpha RGBA8, `width * height * 4` bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewFrame {
    pub rgba: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// The time shown, seconds into the audio (on the job's frame grid).
    pub time: f64,
}

/// Draws frames of a job at any time, reusing its device and, during playback, its stream.
#[derive(Default)]
pub struct Preview {
    gpu: Option<GpuContext>,
    stream: Option<Stream>,
}

impl std::fmt::Debug for Preview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preview")
            .field("gpu", &self.gpu)
            .field(
                "stream",
                &self.stream.as_ref().map(|s| (s.revision, s.next)),
            )
            .finish()
    }
}

struct Stream {
    /// The caller's revision of the job the stream was opened for.
    revision: u64,
    pipeline: Pipeline,
    analyzer: FrameAnalyzer,
    buffers: FrameBuffers,
    levels: Vec<f32>,
    /// Analysed frames so far (warm-up frames counted).
    index: u64,
    /// The render's frame number the next analysed frame shows.
    next: u64,
    /// The last frame drawn, and its number.
    last: Option<(u64, PreviewFrame)>,
}

impl Preview {
    /// A preview on `gpu`, or (when `None`) on the adapter the first job asks for.
    pub fn new(gpu: Option<GpuContext>) -> Self {
        Self { gpu, stream: None }
    }

    /// The device frames are drawn on, once one exists.
    pub fn gpu(&self) -> Option<&GpuContext> {
        self.gpu.as_ref()
    }

    /// The frame of `job` nearest `time` seconds into the audio (clamped to the render's span).
    /// `revision` names the job's contents: give a new one whenever the job changed (including
    /// its size or layers), so no stale stream is continued.
    pub fn frame(
        &mut self,
        job: &Job,
        revision: u64,
        time: f64,
    ) -> Result<PreviewFrame, RenderError> {
        if !time.is_finite() {
            return Err(RenderError::Job(crate::JobError::Invalid {
                what: "preview time".into(),
                message: format!("{time} is not a number of seconds"),
            }));
        }
        let fps = job.video.fps.0;
        let asked = ((time - job.start) * fps).round().max(0.0) as u64;
        let clamp = |s: &Stream| asked.min(s.pipeline.plan.total_frames.saturating_sub(1));
        if let Some(s) = self.stream.as_ref().filter(|s| s.revision == revision) {
            // The frame just drawn, asked for again (a scrub within one frame, a retry).
            if let Some((n, frame)) = &s.last
                && *n == clamp(s)
            {
                return Ok(frame.clone());
            }
        }
        let reuse = self.stream.as_ref().is_some_and(|s| {
            let wanted = clamp(s);
            s.revision == revision
                && wanted >= s.next
                && (wanted - s.next) as f64 <= CATCH_UP_SECONDS * fps
        });
        if !reuse {
            self.stream = None;
            self.stream = Some(self.open(job, revision, asked)?);
        }
        let Some(stream) = self.stream.as_mut() else {
            unreachable!("a stream was just opened");
        };
        let wanted = clamp(stream);
        let result = stream.draw(wanted);
        match &result {
            Ok(frame) => stream.last = Some((wanted, frame.clone())),
            Err(_) => self.stream = None,
        }
        result
    }

    /// The device, created for `job` (its `[video] adapter`) where no frame has made it yet:
    /// what a render beside the preview shares.
    pub fn gpu_for(&mut self, job: &Job) -> Result<GpuContext, RenderError> {
        let ctx = gpu_context(job, self.gpu.clone())?;
        self.gpu = Some(ctx.clone());
        Ok(ctx)
    }

    fn open(&mut self, job: &Job, revision: u64, first: u64) -> Result<Stream, RenderError> {
        let opened = Opened::open(job, Span::Tail { first }, &Limits::default())?;
        let ctx = self.gpu_for(job)?;
        let frames = super::sink::Frames {
            transparent: job.video.background == crate::job::BackgroundChoice::Transparent,
            ..Default::default()
        };
        let (pipeline, analyzer) = opened.start_gpu(ctx, frames)?;
        let next = pipeline.plan.first;
        Ok(Stream {
            revision,
            pipeline,
            buffers: analyzer.buffers(),
            analyzer,
            levels: Vec::new(),
            index: 0,
            next,
            last: None,
        })
    }
}

impl Stream {
    /// Steps to frame `wanted` (updating stateful layers on the frames passed) and draws it.
    fn draw(&mut self, wanted: u64) -> Result<PreviewFrame, RenderError> {
        loop {
            let Some(f) = self.analyzer.next_frame(&mut self.buffers)? else {
                return Err(RenderError::FrameCount {
                    rendered: 0,
                    expected: 1,
                });
            };
            self.levels.clear();
            push_levels(&mut self.levels, &self.buffers);
            let pipeline = &mut self.pipeline;
            pipeline.renderer.upload_spectrum(&self.levels)?;
            let step = pipeline.step(&f, 0, self.index)?;
            self.index += 1;
            let Some(uniforms) = step else { continue };
            let shown = self.next;
            self.next += 1;
            if shown < wanted {
                pipeline.renderer.advance(&uniforms)?;
                continue;
            }
            let rgba = pipeline.renderer.render_rgba(&uniforms)?;
            let config = pipeline.renderer.config();
            let (width, height) = (config.width, config.height);
            return Ok(PreviewFrame {
                rgba,
                width,
                height,
                time: f64::from(f.time),
            });
        }
    }
}

/// The shape of a job's sound over its render, one entry per video frame: what a timeline draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    /// Seconds into the audio of the first entry; entries are `1 / fps` apart.
    pub start: f64,
    pub fps: f64,
    /// Sample peak of the frame, 0..=1.
    pub peaks: Vec<f32>,
    /// Short-term loudness, LUFS (very quiet frames read as -70 or below).
    pub loudness: Vec<f32>,
    /// Times of the beats the analysis tracked (what `beat` reacts to).
    pub beats: Vec<f64>,
    /// The job's chapters: start (seconds into the audio) and title.
    pub chapters: Vec<(f64, String)>,
    /// The cues of its captions layers: start, end (offsets applied) and text.
    pub captions: Vec<(f64, f64, String)>,
}

impl Overview {
    /// Takes the chapters and caption cues from `job` (the rest is the sound's: an overview of
    /// the same audio and analysis can be kept across edits of everything else).
    pub fn set_marks(&mut self, job: &Job) {
        self.chapters = job
            .chapters
            .iter()
            .map(|c| (c.start, c.title.clone()))
            .collect();
        self.captions = job
            .layers
            .iter()
            .filter_map(|l| match l {
                crate::job::Layer::Captions(c) => Some((c.offset.0, c.cues.0.clone()?)),
                _ => None,
            })
            .flat_map(|(offset, cues)| {
                cues.iter()
                    .map(|c| (c.start + offset, c.end + offset, c.text.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
    }
}

/// Analyses the job's audio over its render span (the analysis the render runs, no GPU).
pub fn overview(job: &Job) -> Result<Overview, RenderError> {
    job.validate()?;
    let fps = job.video.fps.0;
    let decoder = audio::AudioDecoder::open(&job.audio)?;
    let mut analyzer =
        FrameAnalyzer::new(decoder, fps, job.start, job.duration, analysis_config(job))?;
    let mut buffers = analyzer.buffers();
    let mut out = Overview {
        start: job.start,
        fps,
        peaks: Vec::new(),
        loudness: Vec::new(),
        beats: Vec::new(),
        chapters: Vec::new(),
        captions: Vec::new(),
    };
    out.set_marks(job);
    while let Some(f) = analyzer.next_frame(&mut buffers)? {
        out.peaks.push(f.peak.clamp(0.0, 1.0));
        out.loudness.push(f.loudness_lufs);
        if f.beat >= 0.5 {
            out.beats.push(f64::from(f.time));
        }
    }
    Ok(out)
}
