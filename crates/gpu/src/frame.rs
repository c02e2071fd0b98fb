//! Host mirror of `shaders/shared/frame.wgsl`.

use bytemuck::{Pod, Zeroable};

pub use audio::FrameFeatures;

/// Per-frame uniforms. Must match `FrameUniforms` in shaders/shared/frame.wgsl
/// (checked against naga's layout by a test).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct FrameUniforms {
    pub resolution: [f32; 2],
    pub time: f32,
    pub duration: f32,
    pub frame_index: u32,
    /// Offsets (f32 elements) of this frame's arrays in the uploaded chunk.
    pub spectrum_offset: u32,
    pub band_count: u32,
    pub peaks_offset: u32,
    pub waveform_offset: u32,
    pub waveform_points: u32,
    pub _pad: [u32; 2],
    pub features: FrameFeatures,
}
