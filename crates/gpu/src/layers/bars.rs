//! The spectrum bars layer: one instanced quad per bar, then one per peak cap, each shading
//! only its own pixels.

use bytemuck::{Pod, Zeroable};

use super::Kind;

/// Mirror of `BarsParams` in shaders/layers/bars.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct BarsParams {
    /// x, y, width, height in pixels.
    pub rect: [f32; 4],
    /// Linear-light colours (see [`Rgba::to_linear`](super::Rgba::to_linear)), straight alpha.
    pub color_a: [f32; 4],
    pub color_b: [f32; 4],
    pub peak_color: [f32; 4],
    pub count: u32,
    pub gap: f32,
    pub radius: f32,
    /// 0 = from the bottom edge, 1 = both ways from the centre line, 2 = down from the top.
    pub align: u32,
    pub opacity: f32,
    pub min_height: f32,
    /// 0 = colour by height, 1 = along x.
    pub gradient: u32,
    /// 1 = spectrum mirrored left-right.
    pub symmetric: u32,
    /// Cap instances drawn after the bars: 0, `count`, or `2 * count` for centred bars.
    pub caps: u32,
    pub cap_height: f32,
    pub _pad: [f32; 2],
}

impl Kind for BarsParams {
    const NAME: &'static str = "bars";
    const SHADER: &'static str = "layers/bars.wgsl";

    /// One quad per bar, then one per peak cap.
    fn draw_range(&self) -> (u32, u32) {
        (6, self.count + self.caps)
    }
}
