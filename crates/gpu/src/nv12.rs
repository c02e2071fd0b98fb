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

/// Fixed-point BT.709 limited-range coefficients of [`rgba_to_nv12`]. Y: x 2^8 in 16-bit
/// arithmetic (219/255 of Kr, Kg, Kb; the largest sum, 220 x 255 + 16.5 x 256, fits), which
/// the compiler vectorises 8 or 16 pixels at a time. Cb and Cr: x 2^13 on the sums of a 2x2
/// block's bytes (hence the shift of 15: the mean is the sum / 4), 16-bit operands into 32-bit
/// sums; each row sums to zero, so greys have Cb = Cr = 128.
const Y_RGB: [u16; 3] = [47, 157, 16];
const CB_RGB: [i32; 3] = [-824, -2774, 3598];
const CR_RGB: [i32; 3] = [3598, -3268, -330];

/// RGB -> NV12 on the CPU, as shaders/color/nv12.wgsl computes it (within +-1 per sample of
/// [`rgb_to_nv12_reference`]), in integer arithmetic: `padded` holds `height` rows of RGBA8,
/// `pitch` bytes apart; `out` receives a tightly packed NV12 frame. What a software adapter
/// uses instead of the conversion pass: a fixed-point loop costs a fraction of the fragments
/// lavapipe would shade for it.
pub fn rgba_to_nv12(padded: &[u8], pitch: usize, width: usize, height: usize, out: &mut Vec<u8>) {
    let (w, h) = (width & !1, height & !1);
    out.clear();
    out.resize(w * h * 3 / 2, 0);
    let (luma, chroma) = out.split_at_mut(w * h);
    // One simple loop per plane row: the compiler vectorises each.
    for (row, ys) in padded.chunks(pitch).zip(luma.chunks_exact_mut(w)) {
        for (p, y) in row[..w * 4].chunks_exact(4).zip(ys.iter_mut()) {
            let v = Y_RGB[0] * u16::from(p[0])
                + Y_RGB[1] * u16::from(p[1])
                + Y_RGB[2] * u16::from(p[2])
                + (16 << 8)
                + (1 << 7);
            *y = (v >> 8) as u8;
        }
    }
    // Chroma: the 2x2 sums of a row pair, channel by channel, then Cb and Cr from them.
    let blocks = w / 2;
    let mut sums = vec![0i16; 3 * blocks];
    for (rows, uv) in padded.chunks(2 * pitch).zip(chroma.chunks_exact_mut(w)) {
        let (top, bottom) = (&rows[..w * 4], &rows[pitch..pitch + w * 4]);
        let (sr, rest) = sums.split_at_mut(blocks);
        let (sg, sb) = rest.split_at_mut(blocks);
        for (i, (t, b)) in top.chunks_exact(8).zip(bottom.chunks_exact(8)).enumerate() {
            let sum = |k: usize| {
                (u16::from(t[k]) + u16::from(t[k + 4]) + u16::from(b[k]) + u16::from(b[k + 4]))
                    as i16
            };
            (sr[i], sg[i], sb[i]) = (sum(0), sum(1), sum(2));
        }
        for (((c, r), g), b) in uv.chunks_exact_mut(2).zip(&*sr).zip(&*sg).zip(&*sb) {
            let (r, g, b) = (i32::from(*r), i32::from(*g), i32::from(*b));
            let cb = CB_RGB[0] * r + CB_RGB[1] * g + CB_RGB[2] * b + (128 << 15) + (1 << 14);
            let cr = CR_RGB[0] * r + CR_RGB[1] * g + CR_RGB[2] * b + (128 << 15) + (1 << 14);
            c[0] = (cb >> 15).clamp(0, 255) as u8;
            c[1] = (cr >> 15).clamp(0, 255) as u8;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Random RGBA (a fixed LCG), primaries, greys and extremes, tightly packed.
    fn samples(width: usize, height: usize) -> Vec<u8> {
        let mut state = 0x2545_f491_u32;
        let mut out = Vec::with_capacity(width * height * 4);
        for i in 0..width * height {
            let rgb = match i % 7 {
                0 => [0, 0, 0],
                1 => [255, 255, 255],
                2 => [255, 0, 0],
                3 => [0, 0, 255],
                4 => [128, 128, 128],
                _ => {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let b = state.to_le_bytes();
                    [b[1], b[2], b[3]]
                }
            };
            out.extend_from_slice(&[rgb[0], rgb[1], rgb[2], 255]);
        }
        out
    }

    #[test]
    fn cpu_conversion_agrees_with_the_reference() {
        let (w, h) = (38, 22);
        let rgba = samples(w, h);
        // Rows padded to 256 bytes, as read back.
        let pitch = (w * 4).next_multiple_of(256);
        let mut padded = vec![0xaa; pitch * h];
        for (row, src) in padded.chunks_mut(pitch).zip(rgba.chunks(w * 4)) {
            row[..w * 4].copy_from_slice(src);
        }
        let mut fast = Vec::new();
        rgba_to_nv12(&padded, pitch, w, h, &mut fast);
        let reference = rgb_to_nv12_reference(&rgba, w, h);
        assert_eq!(fast.len(), reference.len());
        let worst = fast
            .iter()
            .zip(&reference)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0);
        assert!(worst <= 1, "differs from the reference by {worst}");
        // Greys are exactly neutral, black and white exactly 16 and 235.
        let mut grey = Vec::new();
        rgba_to_nv12(&[128, 128, 128, 255].repeat(4), 8, 2, 2, &mut grey);
        assert_eq!(&grey[4..], &[128, 128]);
        let mut bw = Vec::new();
        rgba_to_nv12(
            &[0, 0, 0, 255, 255, 255, 255, 255].repeat(2),
            8,
            2,
            2,
            &mut bw,
        );
        assert_eq!(&bw[..4], &[16, 235, 16, 235]);
    }
}
