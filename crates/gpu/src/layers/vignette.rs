//! The vignette layer: darkens (or tints) the frame towards its corners, one full-frame triangle.

use bytemuck::{Pod, Zeroable};

use super::Kind;

/// Mirror of `VignetteParams` in shaders/layers/vignette.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct VignetteParams {
    pub color: [f32; 4],
    pub strength: f32,
    pub radius: f32,
    pub softness: f32,
    pub opacity: f32,
}

impl Kind for VignetteParams {
    const NAME: &'static str = "vignette";
    const SHADER: &'static str = "layers/vignette.wgsl";

    /// One triangle covering the frame.
    fn draw_range(&self) -> (u32, u32) {
        (3, 1)
    }
}
