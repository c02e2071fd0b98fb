//! RGBA frames for outputs that keep every pixel's colour and its alpha (ProRes 4444, VP9 with
//! alpha, APNG, GIF): the render target read back as it is, or, over a transparent background,
//! converted from premultiplied to straight alpha first. The CPU reference of the conversion.

use crate::layers::srgb_to_linear;
use crate::renderer::resources::texture_2d;
use crate::source_pass::SourcePass;
use crate::{GpuError, Nv12Layout};

/// What the readback ring carries for each frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrameOutput {
    /// BT.709 limited-range NV12 converted on the GPU (x264, VP9, AV1, NVENC).
    #[default]
    Nv12,
    /// sRGB-encoded RGBA8 with straight alpha (ProRes 4444, VP9 with alpha, APNG, GIF).
    Rgba,
}

/// Where the rows of one RGBA frame lie in a readback buffer: `height` rows of `pitch` bytes (a
/// multiple of 256, wgpu's copy alignment), each holding `width * 4` bytes of pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RgbaLayout {
    pub width: u32,
    pub height: u32,
    pub pitch: u32,
    /// Bytes of the padded frame.
    pub size: u64,
}

impl RgbaLayout {
    pub fn new(width: u32, height: u32) -> Self {
        let pitch = (width * 4).next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT);
        Self {
            width,
            height,
            pitch,
            size: u64::from(pitch) * u64::from(height),
        }
    }

    /// Bytes of a tightly packed frame (`width * height * 4`).
    pub fn packed_size(&self) -> usize {
        self.width as usize * self.height as usize * 4
    }

    /// Copies a padded frame into `out` without row padding.
    pub fn pack(&self, padded: &[u8], out: &mut Vec<u8>) {
        out.clear();
        let (row, pitch) = (self.width as usize * 4, self.pitch as usize);
        if row == pitch {
            out.extend_from_slice(&padded[..self.packed_size()]);
            return;
        }
        for line in padded.chunks(pitch).take(self.height as usize) {
            out.extend_from_slice(&line[..row]);
        }
    }
}

/// The layout of the frames a [`crate::FrameRenderer`] hands to its sinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameLayout {
    Nv12(Nv12Layout),
    Rgba(RgbaLayout),
}

impl FrameLayout {
    /// Bytes of one padded frame in the readback ring.
    pub fn size(&self) -> u64 {
        match self {
            Self::Nv12(l) => l.size,
            Self::Rgba(l) => l.size,
        }
    }

    /// Bytes of one tightly packed frame.
    pub fn packed_size(&self) -> usize {
        match self {
            Self::Nv12(l) => l.packed_size(),
            Self::Rgba(l) => l.packed_size(),
        }
    }

    /// Copies a padded frame into `out` without row padding (what ffmpeg's rawvideo expects).
    pub fn pack(&self, padded: &[u8], out: &mut Vec<u8>) {
        match self {
            Self::Nv12(l) => l.pack(padded, out),
            Self::Rgba(l) => l.pack(padded, out),
        }
    }
}

fn linear_to_srgb(c: f32) -> f32 {
    if c <= 0.003_130_8 {
        c * 12.92
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    }
}

/// CPU reference of shaders/color/straight.wgsl: one pixel of the render target (sRGB-encoded
/// premultiplied linear colour, alpha) to sRGB-encoded straight colour. The GPU result must agree
/// within +-1 per channel.
pub fn straight_alpha_reference(premultiplied: [u8; 4]) -> [u8; 4] {
    let a = f32::from(premultiplied[3]) / 255.0;
    if premultiplied[3] == 0 {
        return [0; 4];
    }
    let q = |v: f32| (v * 255.0).round().clamp(0.0, 255.0) as u8;
    let channel = |c: u8| {
        let linear = srgb_to_linear(f32::from(c) / 255.0) / a;
        q(linear_to_srgb(linear.min(1.0)))
    };
    [
        channel(premultiplied[0]),
        channel(premultiplied[1]),
        channel(premultiplied[2]),
        premultiplied[3],
    ]
}

/// Fills RGBA readback buffers from the render target: a straight copy when the frame is
/// opaque, else the premultiplied -> straight pass into a texture of its own and a copy of that.
#[derive(Debug)]
pub(crate) struct RgbaConverter {
    /// The straight-alpha pass; `None` when frames are opaque (the target is copied as it is).
    straight: Option<Straight>,
    pub(crate) layout: RgbaLayout,
}

#[derive(Debug)]
struct Straight {
    pass: SourcePass,
    texture: wgpu::Texture,
    view: wgpu::TextureView,
}

impl RgbaConverter {
    /// `source` must be an sRGB view of the render target; `transparent` says whether frames
    /// may hold alpha below 1 (then they are converted to straight alpha).
    pub(crate) fn new(
        device: &wgpu::Device,
        source: &wgpu::TextureView,
        layout: RgbaLayout,
        transparent: bool,
    ) -> Result<Self, GpuError> {
        let straight = if transparent {
            Some(Straight::new(device, source, layout)?)
        } else {
            None
        };
        Ok(Self { straight, layout })
    }

    /// Records the conversion (where needed) and the copy of the frame into `dst` (laid out as
    /// `self.layout`).
    pub(crate) fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        target: &wgpu::Texture,
        dst: &wgpu::Buffer,
    ) {
        let source = match &self.straight {
            Some(s) => {
                s.encode(encoder);
                &s.texture
            }
            None => target,
        };
        Self::copy(encoder, source, dst, self.layout);
    }

    /// Records the copy of `source` (an RGBA8 texture of `l`'s size) into `dst`.
    pub(crate) fn copy(
        encoder: &mut wgpu::CommandEncoder,
        source: &wgpu::Texture,
        dst: &wgpu::Buffer,
        l: RgbaLayout,
    ) {
        encoder.copy_texture_to_buffer(
            source.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: dst,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(l.pitch),
                    rows_per_image: Some(l.height),
                },
            },
            wgpu::Extent3d {
                width: l.width,
                height: l.height,
                depth_or_array_layers: 1,
            },
        );
    }
}

impl Straight {
    fn new(
        device: &wgpu::Device,
        source: &wgpu::TextureView,
        layout: RgbaLayout,
    ) -> Result<Self, GpuError> {
        let format = wgpu::TextureFormat::Rgba8UnormSrgb;
        let pass = SourcePass::new(
            device,
            "color/straight.wgsl",
            "fs_straight",
            source,
            &[format],
        )?;
        let texture = texture_2d(
            device,
            "color.straight.output",
            (layout.width, layout.height),
            format,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        );
        let view = texture.create_view(&Default::default());
        Ok(Self {
            pass,
            texture,
            view,
        })
    }

    fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        self.pass
            .encode(encoder, "color.straight.pass", &[&self.view]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straight_alpha_reference_undoes_premultiplication() {
        // Half-transparent white, premultiplied in linear light: linear 0.5, sRGB-encoded 188.
        assert_eq!(
            straight_alpha_reference([188, 188, 188, 128]),
            [255, 255, 255, 128]
        );
        assert_eq!(straight_alpha_reference([0, 0, 0, 0]), [0, 0, 0, 0]);
        assert_eq!(
            straight_alpha_reference([12, 200, 77, 255]),
            [12, 200, 77, 255]
        );
    }

    #[test]
    fn rgba_layout_packs_padded_rows() {
        let l = RgbaLayout::new(3, 2);
        assert_eq!(l.pitch, 256);
        let mut padded = vec![0u8; l.size as usize];
        padded[..12].fill(1);
        padded[256..268].fill(2);
        let mut out = Vec::new();
        l.pack(&padded, &mut out);
        assert_eq!(out.len(), 24);
        assert!(out[..12].iter().all(|&b| b == 1) && out[12..].iter().all(|&b| b == 2));
    }
}
