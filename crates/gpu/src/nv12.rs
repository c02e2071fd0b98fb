//! RGB -> NV12 (BT.709, limited range) on the GPU, and its CPU reference.

use crate::GpuError;
use crate::renderer::resources::texture_2d;
use crate::source_pass::SourcePass;

/// Where the planes of one NV12 frame lie in a readback buffer.
///
/// Both planes use the same row pitch, a multiple of 256 bytes (wgpu's copy alignment, also what
/// NVENC accepts): the Y plane is `height` rows, the interleaved CbCr plane `height / 2` rows
/// starting at `uv_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nv12Layout {
    pub width: u32,
    pub height: u32,
    pub pitch: u32,
    pub uv_offset: u64,
    /// Bytes of the padded frame (both planes).
    pub size: u64,
}

impl Nv12Layout {
    /// Layout for an even `width` x `height` frame.
    pub fn new(width: u32, height: u32) -> Result<Self, GpuError> {
        if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
            return Err(GpuError::Config(format!(
                "frame size {width}x{height} cannot be stored as 4:2:0: width and height must be \
                 even and non-zero"
            )));
        }
        let pitch = width.next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT);
        let uv_offset = u64::from(pitch) * u64::from(height);
        Ok(Self {
            width,
            height,
            pitch,
            uv_offset,
            size: uv_offset + uv_offset / 2,
        })
    }

    /// Bytes of a tightly packed frame (`width * height * 3 / 2`).
    pub fn packed_size(&self) -> usize {
        self.width as usize * self.height as usize * 3 / 2
    }

    /// Copies a padded frame into `out` without row padding (what ffmpeg's rawvideo expects).
    pub fn pack(&self, padded: &[u8], out: &mut Vec<u8>) {
        out.clear();
        let (w, pitch) = (self.width as usize, self.pitch as usize);
        if w == pitch {
            out.extend_from_slice(&padded[..self.packed_size()]);
            return;
        }
        let rows = self.height as usize * 3 / 2;
        for row in padded.chunks(pitch).take(rows) {
            out.extend_from_slice(&row[..w]);
        }
    }
}

const KR: f32 = 0.2126;
const KB: f32 = 0.0722;
const KG: f32 = 0.7152;

/// CPU reference of shaders/color/nv12.wgsl: tightly packed RGBA8 (gamma-encoded) to tightly
/// packed NV12. The GPU result must agree within +-1 per sample.
pub fn rgb_to_nv12_reference(rgba: &[u8], width: usize, height: usize) -> Vec<u8> {
    let px = |x: usize, y: usize| -> [f32; 3] {
        let i = (y * width + x) * 4;
        [
            f32::from(rgba[i]) / 255.0,
            f32::from(rgba[i + 1]) / 255.0,
            f32::from(rgba[i + 2]) / 255.0,
        ]
    };
    let luma = |c: [f32; 3]| KR * c[0] + KG * c[1] + KB * c[2];
    let q = |v: f32| (v.round()).clamp(0.0, 255.0) as u8;
    let mut out = Vec::with_capacity(width * height * 3 / 2);
    for y in 0..height {
        for x in 0..width {
            out.push(q(16.0 + 219.0 * luma(px(x, y))));
        }
    }
    for y in (0..height).step_by(2) {
        for x in (0..width).step_by(2) {
            let mut c = [0.0f32; 3];
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let p = px(x + dx, y + dy);
                for k in 0..3 {
                    c[k] += 0.25 * p[k];
                }
            }
            let yv = luma(c);
            out.push(q(128.0 + 224.0 * (c[2] - yv) / (2.0 * (1.0 - KB))));
            out.push(q(128.0 + 224.0 * (c[0] - yv) / (2.0 * (1.0 - KR))));
        }
    }
    out
}

/// The conversion pass and its three half-resolution plane targets.
#[derive(Debug)]
pub(crate) struct Nv12Converter {
    pass: SourcePass,
    /// Top and bottom Y rows of each 2x2 block, and its CbCr pair; each (W/2) x (H/2) Rg8Unorm.
    planes: [(wgpu::Texture, wgpu::TextureView); 3],
    pub(crate) layout: Nv12Layout,
}

impl Nv12Converter {
    /// `source` must be a non-sRGB (Rgba8Unorm) view of the render target.
    pub(crate) fn new(
        device: &wgpu::Device,
        source: &wgpu::TextureView,
        layout: Nv12Layout,
    ) -> Result<Self, GpuError> {
        let pass = SourcePass::new(
            device,
            "color/nv12.wgsl",
            "fs_nv12",
            source,
            &[wgpu::TextureFormat::Rg8Unorm; 3],
        )?;
        let plane = |label| {
            let texture = texture_2d(
                device,
                label,
                (layout.width / 2, layout.height / 2),
                wgpu::TextureFormat::Rg8Unorm,
                wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            );
            let view = texture.create_view(&Default::default());
            (texture, view)
        };
        Ok(Self {
            pass,
            planes: [
                plane("color.nv12.y_top"),
                plane("color.nv12.y_bottom"),
                plane("color.nv12.cbcr"),
            ],
            layout,
        })
    }

    /// Records the pass and the copies of all planes into `dst` (laid out as `self.layout`).
    pub(crate) fn encode(&self, encoder: &mut wgpu::CommandEncoder, dst: &wgpu::Buffer) {
        let [a, b, c] = &self.planes;
        self.pass
            .encode(encoder, "color.nv12.pass", &[&a.1, &b.1, &c.1]);
        let l = self.layout;
        let pitch = u64::from(l.pitch);
        // Top rows go to even Y rows, bottom rows to odd ones: a row stride of two pitches.
        for (plane, offset, row_stride) in [
            (&self.planes[0].0, 0, 2 * l.pitch),
            (&self.planes[1].0, pitch, 2 * l.pitch),
            (&self.planes[2].0, l.uv_offset, l.pitch),
        ] {
            encoder.copy_texture_to_buffer(
                plane.as_image_copy(),
                wgpu::TexelCopyBufferInfo {
                    buffer: dst,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset,
                        bytes_per_row: Some(row_stride),
                        rows_per_image: Some(l.height / 2),
                    },
                },
                wgpu::Extent3d {
                    width: l.width / 2,
                    height: l.height / 2,
                    depth_or_array_layers: 1,
                },
            );
        }
    }
}
