//! The avatar layer: a face picture or video frame ([`LayerSpec::image`](super::LayerSpec::image),
//! RGBA) with a generated mouth region blended in. The generated face (B, G, R planes of
//! 96 x 96 floats) lives in the layer's storage buffer, written on the same device by the
//! lip-sync model ([`FrameRenderer::layer_storage`](crate::FrameRenderer::layer_storage));
//! [`avatar_mask`] mirrors the shader's blend weight on the CPU.

use bytemuck::{Pod, Zeroable};

use super::{Kind, Resources};
use crate::GpuError;
use crate::renderer::Setup;

/// Mirror of `AvatarParams` in shaders/layers/avatar.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct AvatarParams {
    pub rect: [f32; 4],
    /// uv = xy + local * zw.
    pub uv_transform: [f32; 4],
    /// Face box in texture coordinates: x0, y0, x1, y1.
    pub face_box: [f32; 4],
    /// Feather width as a fraction of the box (x, y), top of the blended region as a fraction
    /// of the box height, and the generated face's weight (0.0 without one, 1.0 in full; in
    /// between while lip sync fades in).
    pub mask: [f32; 4],
    pub opacity: f32,
    /// 1.0: draw only the blended mouth region (alpha = the mask), for a second face of the
    /// same picture drawn by another avatar layer; 0.0: the whole picture.
    pub mouth_only: f32,
    /// 1.0: the 96x96 face upsampled with clamped Catmull-Rom (sharp edges, no halos); 0.0:
    /// bilinear.
    pub sharp: f32,
    pub _pad: f32,
}

/// Floats in the generated face an avatar layer blends: B, G, R planes of 96 x 96.
pub const AVATAR_FACE_FLOATS: usize = 3 * 96 * 96;

/// The avatar layer's blend weight at `q` (0..1 across the face box) for feather widths
/// `feather` (fractions of the box) and the top of the blended region `top`: a CPU mirror of
/// `avatar_mask` in shaders/layers/avatar.wgsl.
pub fn avatar_mask(q: [f32; 2], feather: [f32; 2], top: f32) -> f32 {
    let smooth = |t: f32, w: f32| {
        let x = (t / w.max(1e-4)).clamp(0.0, 1.0);
        x * x * (3.0 - 2.0 * x)
    };
    let mx = smooth(q[0], feather[0]) * smooth(1.0 - q[0], feather[0]);
    let my = smooth(q[1] - top, feather[1]) * smooth(1.0 - q[1], feather[1]);
    mx * my
}

impl Kind for AvatarParams {
    const NAME: &'static str = "avatar";
    const SHADER: &'static str = "layers/avatar.wgsl";
    const TEXTURED: bool = true;

    fn draw_range(&self) -> (u32, u32) {
        (6, 1)
    }

    /// The generated face, written by the lip-sync model on the same device.
    fn resources(&self, setup: &mut Setup<'_>) -> Result<Resources, GpuError> {
        let face = setup.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("layer.avatar.face"),
            size: (AVATAR_FACE_FLOATS * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(Resources {
            storage: Some(face),
            ..Resources::default()
        })
    }
}
