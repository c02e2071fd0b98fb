//! The radial bars layer: the spectrum as bars around a circle, one instanced quad per bar.

use bytemuck::{Pod, Zeroable};

use super::Kind;

/// Mirror of `RadialParams` in shaders/layers/radial.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct RadialParams {
    pub centre: [f32; 2],
    pub inner: f32,
    pub length: f32,
    pub color_a: [f32; 4],
    pub color_b: [f32; 4],
    pub count: u32,
    pub gap: f32,
    /// Radians clockwise from 12 o'clock.
    pub rotation: f32,
    pub opacity: f32,
    pub symmetric: u32,
    pub min_length: f32,
    pub radius: f32,
    pub _pad: f32,
}

impl Kind for RadialParams {
    const NAME: &'static str = "radial";
    const SHADER: &'static str = "layers/radial.wgsl";

    /// One quad per bar.
    fn draw_range(&self) -> (u32, u32) {
        (6, self.count)
    }
}
