//! Layer kinds: their uniform parameters (host mirrors of the WGSL structs) and pipelines.

use bytemuck::{Pod, Zeroable};

/// A colour as the user writes it: sRGB-encoded components in 0..1, straight alpha.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgba(pub [f32; 4]);

impl Rgba {
    /// The colour in linear light (what the shaders blend in), alpha unchanged.
    pub fn to_linear(self) -> [f32; 4] {
        let [r, g, b, a] = self.0;
        [srgb_to_linear(r), srgb_to_linear(g), srgb_to_linear(b), a]
    }
}

/// The sRGB electro-optical transfer function (IEC 61966-2-1).
pub fn srgb_to_linear(c: f32) -> f32 {
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// Mirror of `BackgroundParams` in shaders/layers/background.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct BackgroundParams {
    /// sRGB-encoded colours (as [`Rgba`] holds them), straight alpha; the gradient
    /// interpolates between the encoded values, as CSS gradients do.
    pub color_a: [f32; 4],
    pub color_b: [f32; 4],
    pub direction: [f32; 2],
    /// 0 = solid, 1 = linear gradient.
    pub mode: u32,
    pub opacity: f32,
}

/// Mirror of `BarsParams` in shaders/layers/bars.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct BarsParams {
    /// x, y, width, height in pixels.
    pub rect: [f32; 4],
    /// Linear-light colours (see [`Rgba::to_linear`]), straight alpha.
    pub color_a: [f32; 4],
    pub color_b: [f32; 4],
    pub count: u32,
    pub gap: f32,
    pub radius: f32,
    /// 0 = from the bottom edge, 1 = mirrored about the centre line.
    pub mode: u32,
    pub opacity: f32,
    pub min_height: f32,
    pub _pad: [f32; 2],
}

/// One layer of the stack, drawn in order over the previous ones (premultiplied "over").
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum LayerSpec {
    Background(BackgroundParams),
    Bars(BarsParams),
}

impl LayerSpec {
    /// The embedded shader file that draws this kind.
    pub(crate) fn shader(&self) -> &'static str {
        match self {
            Self::Background(_) => "layers/background.wgsl",
            Self::Bars(_) => "layers/bars.wgsl",
        }
    }

    /// Label used for wgpu objects, e.g. "layer.bars".
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::Background(_) => "layer.background",
            Self::Bars(_) => "layer.bars",
        }
    }

    /// True when the layer covers every pixel with alpha 1, so it can overwrite instead of
    /// blend (blending reads the target back, which software rasterisers pay for per pixel).
    pub(crate) fn is_opaque(&self) -> bool {
        match self {
            Self::Background(p) => {
                p.opacity >= 1.0 && p.color_a[3] >= 1.0 && (p.mode == 0 || p.color_b[3] >= 1.0)
            }
            Self::Bars(_) => false,
        }
    }

    /// True when the shader has the `OUTPUT_ENCODED` override (it can be drawn as a base layer).
    pub(crate) fn has_encoded_output(&self) -> bool {
        matches!(self, Self::Background(_))
    }

    /// Vertices and instances of the layer's draw call.
    pub(crate) fn draw_range(&self) -> (u32, u32) {
        match self {
            // One triangle covering the frame.
            Self::Background(_) => (3, 1),
            // One quad (two triangles) per bar.
            Self::Bars(p) => (6, p.count),
        }
    }

    pub(crate) fn params_bytes(&self) -> &[u8] {
        match self {
            Self::Background(p) => bytemuck::bytes_of(p),
            Self::Bars(p) => bytemuck::bytes_of(p),
        }
    }
}
