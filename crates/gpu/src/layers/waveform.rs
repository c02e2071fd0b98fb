//! The waveform layer: the frame's min/max waveform as a line or a filled band, one instanced
//! quad per segment (and per channel when split into stereo).

use bytemuck::{Pod, Zeroable};

use super::Kind;

/// Mirror of `WaveformParams` in shaders/layers/waveform.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct WaveformParams {
    pub rect: [f32; 4],
    pub color: [f32; 4],
    pub glow_color: [f32; 4],
    pub opacity: f32,
    pub thickness: f32,
    pub glow: f32,
    pub gain: f32,
    /// 0 = line, 1 = filled.
    pub mode: u32,
    /// 0 = mono, 1 = stereo split.
    pub stereo: u32,
    pub segments: u32,
    pub _pad: f32,
}

impl Kind for WaveformParams {
    const NAME: &'static str = "waveform";
    const SHADER: &'static str = "layers/waveform.wgsl";

    /// One quad per segment, per channel.
    fn draw_range(&self) -> (u32, u32) {
        (6, self.segments.max(1) * (1 + self.stereo.min(1)))
    }
}
