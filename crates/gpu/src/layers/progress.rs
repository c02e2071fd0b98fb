//! The progress bar layer: a rounded track and its fill, one quad.

use bytemuck::{Pod, Zeroable};

use super::Kind;

/// Mirror of `ProgressParams` in shaders/layers/progress.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct ProgressParams {
    pub rect: [f32; 4],
    pub track: [f32; 4],
    pub fill: [f32; 4],
    pub value: f32,
    pub radius: f32,
    pub opacity: f32,
    pub _pad: f32,
}

impl Kind for ProgressParams {
    const NAME: &'static str = "progress";
    const SHADER: &'static str = "layers/progress.wgsl";

    fn draw_range(&self) -> (u32, u32) {
        (6, 1)
    }
}
