//! Which frames a render (or a still) analyses and draws, and the inputs of each frame.

use audio::FrameFeatures;
use gpu::FrameUniforms;

use super::Segment;
use crate::RenderError;
use crate::expr::{Var, Vars};
use crate::job::Job;

/// Which frames a render (or a still) analyses: the frames shown, preceded by warm-up frames
/// for stateful layers (spectrogram history, particles), all on one frame grid.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    /// Frames shown.
    pub(super) frames: u64,
    /// Warm-up frames analysed and simulated before the first shown frame.
    pub(super) preroll_frames: u64,
    /// Seconds into the audio of the first analysed frame.
    pub(super) analysis_start: f64,
    /// The render's start and length (what the reactors' `progress` runs over).
    pub(super) start: f64,
    pub(super) seconds: f64,
    pub(super) fps: f64,
    /// Index of the first shown frame within the whole render (non-zero for segments).
    pub(super) first: u64,
    /// Frames of the whole render.
    pub(super) total_frames: u64,
    /// The reactors' `frame` in every analysed frame of a still: its frame on the job's grid.
    pub(super) still_frame: Option<f32>,
}

impl Plan {
    pub(super) fn new(
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
            still_frame: None,
        })
    }

    /// The part of this render that segment `index` of `count` shows: frames
    /// `floor(i * F / N) .. floor((i + 1) * F / N)`, so every frame belongs to exactly one segment.
    pub(super) fn segment(&self, seg: Segment, preroll_seconds: f64) -> Result<Self, RenderError> {
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

    /// Frames `first..` of this render, warmed up as a segment starting there would be: what an
    /// interactive preview streams from the playhead.
    pub(super) fn tail(&self, first: u64, preroll_seconds: f64) -> Self {
        let a = first.min(self.total_frames.saturating_sub(1));
        let before = (self.start * self.fps).floor() as u64 + a;
        let preroll_frames = ((preroll_seconds * self.fps).ceil() as u64).min(before);
        let from = self.start + a as f64 / self.fps;
        Self {
            frames: self.total_frames - a,
            preroll_frames,
            analysis_start: from - preroll_frames as f64 / self.fps,
            first: a,
            ..*self
        }
    }

    /// The single frame nearest `time` (a still), warmed up as a render warms it; the reactors see
    /// the whole render's progress and the frame's index on the job's grid.
    pub(super) fn still(
        info: &audio::AudioInfo,
        job: &Job,
        time: f64,
        preroll_seconds: f64,
    ) -> Result<Self, RenderError> {
        let (total, fps) = (info.duration_secs(), job.video.fps.0);
        let (frame, shown) = still_frame(job, time, total);
        let mut plan = Self::new(
            info,
            &job.audio,
            shown,
            Some(1.0 / fps),
            fps,
            preroll_seconds,
        )?;
        // Reactors see the whole render's progress, not the still's.
        let render_len = job
            .duration
            .map_or(total - job.start, |d| d.min(total - job.start));
        plan.start = job.start;
        plan.seconds = ((render_len * fps).round().max(1.0)) / fps;
        plan.still_frame = Some(frame as f32);
        Ok(plan)
    }

    pub(super) fn analysis_frames(&self) -> u64 {
        self.frames + self.preroll_frames
    }
}

/// Uniforms and reactor variables of analysed frame `index` (counting warm-up frames), whose
/// arrays sit at position `slot` of the current upload.
pub(super) fn frame_inputs(
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
    let frame = (plan.first + index) as f32 - plan.preroll_frames as f32;
    vars.set(Var::Frame, plan.still_frame.unwrap_or(frame));
    (uniforms, vars)
}

/// A still at `time` seconds into audio `total` seconds long: its frame on the job's frame grid
/// (counted from `start`, nearest `time`) and that frame's time.
pub(super) fn still_frame(job: &Job, time: f64, total: f64) -> (f64, f64) {
    let fps = job.video.fps.0;
    let frame = ((time - job.start) * fps).round();
    let shown = (job.start + frame * fps.recip()).clamp(0.0, total - 0.5 / fps);
    (frame, shown)
}

/// Per frame in an upload: band levels, peak-hold levels, the mono waveform pairs, then the
/// left and right waveform pairs.
pub(super) fn frame_stride(bands: u32, points: u32) -> u32 {
    2 * bands + 6 * points
}
