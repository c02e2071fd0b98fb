//! The background layer: a solid colour or a linear gradient over the whole frame, one
//! triangle; opaque when both colours and the opacity are, so it can start the base pass.

use bytemuck::{Pod, Zeroable};

use super::Kind;

/// Mirror of `BackgroundParams` in shaders/layers/background.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct BackgroundParams {
    /// sRGB-encoded colours (as [`Rgba`](super::Rgba) holds them), straight alpha; the gradient
    /// interpolates between the encoded values, as CSS gradients do.
    pub color_a: [f32; 4],
    pub color_b: [f32; 4],
    pub direction: [f32; 2],
    /// 0 = solid, 1 = linear gradient.
    pub mode: u32,
    pub opacity: f32,
}

impl Kind for BackgroundParams {
    const NAME: &'static str = "background";
    const SHADER: &'static str = "layers/background.wgsl";
    const ENCODED_OUTPUT: bool = true;

    /// One triangle covering the frame.
    fn draw_range(&self) -> (u32, u32) {
        (3, 1)
    }

    fn is_opaque(&self, _size: (u32, u32)) -> bool {
        self.opacity >= 1.0 && self.color_a[3] >= 1.0 && (self.mode == 0 || self.color_b[3] >= 1.0)
    }
}
