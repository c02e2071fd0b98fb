//! The image layer: a picture or video frame ([`LayerSpec::image`](super::LayerSpec::image),
//! RGBA) in a rectangle, rounded rectangle or ellipse; a picture covering the whole frame
//! without clipping is opaque and can be drawn in the base pass.

use bytemuck::{Pod, Zeroable};

use super::Kind;

/// Mirror of `ImageParams` in shaders/layers/image.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct ImageParams {
    pub rect: [f32; 4],
    /// uv = xy + local * zw.
    pub uv_transform: [f32; 4],
    pub tint: [f32; 4],
    pub opacity: f32,
    /// 0 = rectangle, 1 = ellipse.
    pub shape: u32,
    pub corner: f32,
    pub _pad: f32,
}

impl Kind for ImageParams {
    const NAME: &'static str = "image";
    const SHADER: &'static str = "layers/image.wgsl";
    const TEXTURED: bool = true;
    const ENCODED_OUTPUT: bool = true;

    fn draw_range(&self) -> (u32, u32) {
        (6, 1)
    }

    /// A picture covering the frame, not clipped, untinted, sampled inside the image (the
    /// texture's own alpha is checked separately). The base pass stores the picture's bytes as
    /// they are, so a tint must keep it out of the base.
    fn is_opaque(&self, (width, height): (u32, u32)) -> bool {
        let [x, y, w, h] = self.rect;
        let [u, v, su, sv] = self.uv_transform;
        let e = 1e-4;
        self.opacity >= 1.0
            && self.tint[..3] == [1.0; 3]
            && self.tint[3] >= 1.0
            && self.shape == 0
            && self.corner <= 0.0
            && x <= 0.0
            && y <= 0.0
            && x + w >= width as f32
            && y + h >= height as f32
            && u >= -e
            && v >= -e
            && u + su <= 1.0 + e
            && v + sv <= 1.0 + e
    }
}
