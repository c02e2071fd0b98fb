//! The scene: the job's layers as GPU layers, and what brings them up to date from frame to
//! frame. Each layer kind builds its own GPU layers and per-frame parts
//! ([`crate::layers`]); the scene only runs them in order.
//!
//! A job layer may become more than one GPU layer: a background with an image is a colour plus
//! an image layer; a radial spectrum with cover art is the bars plus a circular image.

use gpu::{FrameRenderer, LayerSpec};

use crate::RenderError;
use crate::expr::Vars;
use crate::job::{Job, Layer};
use crate::layers::{Builder, Frame, Part, Slot};

/// The job's layers on the GPU and their per-frame state.
#[derive(Debug)]
pub struct Scene {
    layers: Vec<Layer>,
    /// One per GPU layer, in drawing order.
    parts: Vec<Box<dyn Part>>,
    size: [f32; 2],
    px: f32,
    fps: f64,
    /// Decoded video frames pass through here (one buffer for all video layers).
    frame_buffer: Vec<u8>,
}

impl Scene {
    /// Builds the GPU layer list for a `width` x `height` frame at `fps`. Images, fonts and
    /// shaders are loaded here, so a missing file fails before any frame is drawn.
    pub fn new(
        job: &Job,
        width: u32,
        height: u32,
        fps: f64,
    ) -> Result<(Self, Vec<LayerSpec>), RenderError> {
        let layers = &job.layers;
        let mut builder = Builder::new(width, height, fps, &job.audio, &job.chapters);
        for layer in layers {
            layer.build(&mut builder)?;
        }
        let (size, px) = (builder.size, builder.px);
        let (parts, specs) = builder.finish();
        let scene = Self {
            layers: layers.to_vec(),
            parts,
            size,
            px,
            fps,
            frame_buffer: Vec::new(),
        };
        Ok((scene, specs))
    }

    /// Seconds of audio the stateful layers need before the first drawn frame (spectrogram
    /// history, particles in flight, an avatar's box smoothing).
    pub fn preroll_seconds(&self) -> f64 {
        self.layers
            .iter()
            .map(|l| l.preroll_seconds(self.fps))
            .fold(0.0, f64::max)
    }

    /// Prepares what the layers run besides drawing (the avatars' lip-sync model and face
    /// detector, on the GPU or the CPU backend). Call once, after the renderer is created.
    pub fn prepare_gpu(&mut self, ctx: &gpu::GpuContext) -> Result<(), RenderError> {
        for part in &mut self.parts {
            part.prepare(ctx)?;
        }
        Ok(())
    }

    /// Brings every dynamic layer up to date for the frame at `time` (seconds into the audio),
    /// before it is submitted. `drawn` is false for warm-up frames (nothing is shown; only the
    /// parts that keep state advance).
    pub fn update(
        &mut self,
        renderer: &mut FrameRenderer,
        vars: &Vars,
        time: f64,
        drawn: bool,
    ) -> Result<(), RenderError> {
        let frame = Frame {
            vars,
            size: self.size,
            px: self.px,
            fps: self.fps,
            time,
            drawn,
        };
        for (index, part) in self.parts.iter_mut().enumerate() {
            if !part.is_dynamic() || (!drawn && !part.warms_up()) {
                continue;
            }
            let mut slot = Slot {
                renderer,
                index,
                frame_buffer: &mut self.frame_buffer,
            };
            part.update(&frame, &mut slot)?;
        }
        Ok(())
    }
}
