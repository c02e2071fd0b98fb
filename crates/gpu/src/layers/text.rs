//! The text layer: a rasterised coverage image ([`LayerSpec::image`](super::LayerSpec::image),
//! see [`crate::text`]) tinted, with an optional blurred shadow.

use bytemuck::{Pod, Zeroable};

use super::Kind;

/// Mirror of `TextParams` in shaders/layers/text.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct TextParams {
    pub rect: [f32; 4],
    pub color: [f32; 4],
    pub shadow_color: [f32; 4],
    pub shadow_offset: [f32; 2],
    pub opacity: f32,
    pub shadow_blur: f32,
}

impl Kind for TextParams {
    const NAME: &'static str = "text";
    const SHADER: &'static str = "layers/text.wgsl";
    const TEXTURED: bool = true;

    fn draw_range(&self) -> (u32, u32) {
        (6, 1)
    }
}
