//! The custom layer: a user's WGSL file ([`CustomShader`](super::CustomShader)) composed with
//! the epilogue shaders/layers/custom.wgsl into its own module and pipeline, drawn as one quad.

use bytemuck::{Pod, Zeroable};

use super::Kind;

/// Mirror of `CustomParams` in shaders/layers/custom.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct CustomParams {
    pub rect: [f32; 4],
    pub values: [f32; 8],
    pub opacity: f32,
    pub _pad: [f32; 3],
}

impl Kind for CustomParams {
    const NAME: &'static str = "custom";
    const SHADER: &'static str = "layers/custom.wgsl";

    fn draw_range(&self) -> (u32, u32) {
        (6, 1)
    }
}
