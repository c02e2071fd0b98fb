//! Crops of a picture (a wgpu texture) resized into a network input tensor on the GPU:
//! shaders/nn/resample.wgsl. Used for MTCNN's pyramid and candidate crops ("area") and for
//! Wav2Lip's 96x96 face input (bilinear, BGR, lower half masked), so no pixel leaves the GPU.

use bytemuck::{Pod, Zeroable};

use crate::Wav2LipError;
use crate::kernel::{Binding, Kernel, uniform};

/// Mirror of `ResampleParams` in shaders/nn/resample.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct ResampleParams {
    pub out_w: u32,
    pub out_h: u32,
    pub mode: u32,
    pub planes: u32,
    pub scale: f32,
    pub offset: f32,
    pub srgb: u32,
    pub count: u32,
}

/// How output cells are computed from the source texels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Mean over the whole texels each output cell covers (torch's `interpolate(mode="area")`).
    Area,
    /// Bilinear with half-pixel centres, border replicated (OpenCV's `INTER_LINEAR`).
    Bilinear,
}

/// What the output tensor holds per crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// R, G, B planes.
    Rgb,
    /// Wav2Lip's face input: B, G, R planes with rows `>= height / 2` zeroed, then B, G, R.
    Wav2Lip,
}

impl Layout {
    pub fn channels(self) -> usize {
        match self {
            Self::Rgb => 3,
            Self::Wav2Lip => 6,
        }
    }
}

/// One resampling job: every crop of `crops` becomes `out` (width, height) of `layout`.
#[derive(Debug, Clone, Copy)]
pub struct Resample<'a> {
    /// x0, y0, x1, y1 in texels of the picture, end exclusive.
    pub crops: &'a [[f32; 4]],
    pub out: (u32, u32),
    pub filter: Filter,
    pub layout: Layout,
    /// Each value is `byte * scale + offset`.
    pub scale: f32,
    pub offset: f32,
}

/// The resampling kernel.
#[derive(Debug)]
pub struct Resampler {
    kernel: Kernel,
}

impl Resampler {
    pub fn new(device: &wgpu::Device) -> Result<Self, Wav2LipError> {
        let kernel = Kernel::new(
            device,
            "nn/resample.wgsl",
            "resample",
            &[
                Binding::Uniform,
                Binding::Texture,
                Binding::Storage { read_only: true },
                Binding::Storage { read_only: false },
            ],
        )?;
        Ok(Self { kernel })
    }

    /// Records the resampling of `job.crops` of `picture` (an RGBA8 texture, sRGB or not) into
    /// `dst` (which must hold `crops * channels * width * height` floats).
    pub fn encode(
        &self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        picture: &wgpu::Texture,
        job: &Resample<'_>,
        dst: &wgpu::Buffer,
    ) -> Result<(), Wav2LipError> {
        let (w, h) = job.out;
        let n = job.crops.len();
        if n == 0 || w == 0 || h == 0 {
            return Err(Wav2LipError::Input(
                "nothing to resample (no crops or an empty output)".into(),
            ));
        }
        let need = (n * job.layout.channels() * w as usize * h as usize * 4) as u64;
        if dst.size() < need {
            return Err(Wav2LipError::Input(format!(
                "the resampling output holds {} bytes; {n} crops need {need}",
                dst.size()
            )));
        }
        let srgb = picture.format().is_srgb();
        let params = ResampleParams {
            out_w: w,
            out_h: h,
            mode: match job.filter {
                Filter::Area => 0,
                Filter::Bilinear => 1,
            },
            planes: match job.layout {
                Layout::Rgb => 0,
                Layout::Wav2Lip => 1,
            },
            scale: job.scale,
            offset: job.offset,
            srgb: u32::from(srgb),
            count: n as u32,
        };
        let params = uniform(device, "resample.params", &params);
        let crops = {
            use wgpu::util::DeviceExt;
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("resample.crops"),
                contents: bytemuck::cast_slice(job.crops),
                usage: wgpu::BufferUsages::STORAGE,
            })
        };
        let view = picture.create_view(&wgpu::TextureViewDescriptor::default());
        let bind_group = self.kernel.bind(
            device,
            "resample",
            &[
                params.as_entire_binding(),
                wgpu::BindingResource::TextureView(&view),
                crops.as_entire_binding(),
                dst.as_entire_binding(),
            ],
        );
        self.kernel
            .dispatch(encoder, &bind_group, [(w * h).div_ceil(64), 1, n as u32]);
        Ok(())
    }
}

/// An sRGB RGBA8 texture holding `pixels` (`width` x `height`, rows packed), readable by the
/// resampling kernel and MTCNN: for callers whose picture is on the host (tests, benchmarks).
pub fn picture_texture(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    pixels: &[u8],
    (width, height): (u32, u32),
) -> wgpu::Texture {
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("wav2lip.picture"),
        size: wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba8UnormSrgb,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    queue.write_texture(
        texture.as_image_copy(),
        pixels,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(width * 4),
            rows_per_image: Some(height),
        },
        texture.size(),
    );
    texture
}

/// The picture's bytes (0..255) at a texel, clamped to the picture.
fn texel(pixels: &[u8], width: usize, height: usize, x: i64, y: i64) -> [f32; 3] {
    let x = x.clamp(0, width as i64 - 1) as usize;
    let y = y.clamp(0, height as i64 - 1) as usize;
    let p = &pixels[(y * width + x) * 4..][..3];
    [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])]
}

/// The same resampling as [`Resampler::encode`], on the CPU, from RGBA8 bytes (`width` x
/// `height`, rows packed): every crop of `job.crops` becomes `job.out` of `job.layout` in
/// `dst` (`crops * channels * width * height` floats, NCHW). Used by the native backend, where
/// the picture's pixels are on the host already.
pub fn resample_rgba(
    pixels: &[u8],
    (width, height): (u32, u32),
    job: &Resample<'_>,
    dst: &mut [f32],
) -> Result<(), Wav2LipError> {
    let (ow, oh) = (job.out.0 as usize, job.out.1 as usize);
    let (w, h) = (width as usize, height as usize);
    let n = job.crops.len();
    if n == 0 || ow == 0 || oh == 0 || w == 0 || h == 0 {
        return Err(Wav2LipError::Input(
            "nothing to resample (no crops, an empty picture or an empty output)".into(),
        ));
    }
    if pixels.len() < w * h * 4 {
        return Err(Wav2LipError::Input(format!(
            "a {width}x{height} RGBA picture needs {} bytes, got {}",
            w * h * 4,
            pixels.len()
        )));
    }
    let channels = job.layout.channels();
    let plane = ow * oh;
    if dst.len() < n * channels * plane {
        return Err(Wav2LipError::Input(format!(
            "the resampling output holds {} floats; {n} crops need {}",
            dst.len(),
            n * channels * plane
        )));
    }
    for (i, crop) in job.crops.iter().enumerate() {
        let out = &mut dst[i * channels * plane..(i + 1) * channels * plane];
        for oy in 0..oh {
            for ox in 0..ow {
                let c = match job.filter {
                    Filter::Area => {
                        let (x0, y0) = (crop[0] as i64, crop[1] as i64);
                        let cw = (crop[2] as i64 - x0).max(1) as usize;
                        let ch = (crop[3] as i64 - y0).max(1) as usize;
                        let (xs, xe) = (ox * cw / ow, ((ox + 1) * cw).div_ceil(ow));
                        let (ys, ye) = (oy * ch / oh, ((oy + 1) * ch).div_ceil(oh));
                        let mut sum = [0.0f32; 3];
                        for y in ys..ye {
                            for x in xs..xe {
                                let t = texel(pixels, w, h, x0 + x as i64, y0 + y as i64);
                                for k in 0..3 {
                                    sum[k] += t[k];
                                }
                            }
                        }
                        let count = ((xe - xs) * (ye - ys)) as f32;
                        sum.map(|v| v / count)
                    }
                    Filter::Bilinear => {
                        let cw = crop[2] - crop[0];
                        let ch = crop[3] - crop[1];
                        let sx = ((ox as f32 + 0.5) * cw / ow as f32 - 0.5).clamp(0.0, cw - 1.0);
                        let sy = ((oy as f32 + 0.5) * ch / oh as f32 - 0.5).clamp(0.0, ch - 1.0);
                        let (fx, fy) = (sx.floor(), sy.floor());
                        let (tx, ty) = (sx - fx, sy - fy);
                        let bx = (crop[0] + fx) as i64;
                        let by = (crop[1] + fy) as i64;
                        let x1 = if tx == 0.0 { bx } else { bx + 1 };
                        let y1 = if ty == 0.0 { by } else { by + 1 };
                        let mix = |a: [f32; 3], b: [f32; 3], t: f32| {
                            [0, 1, 2].map(|k| a[k] + (b[k] - a[k]) * t)
                        };
                        let top = mix(texel(pixels, w, h, bx, by), texel(pixels, w, h, x1, by), tx);
                        let bottom =
                            mix(texel(pixels, w, h, bx, y1), texel(pixels, w, h, x1, y1), tx);
                        mix(top, bottom, ty)
                    }
                };
                let c = c.map(|v| v * job.scale + job.offset);
                let o = oy * ow + ox;
                match job.layout {
                    Layout::Rgb => {
                        out[o] = c[0];
                        out[plane + o] = c[1];
                        out[2 * plane + o] = c[2];
                    }
                    Layout::Wav2Lip => {
                        let keep = if oy >= oh / 2 { 0.0 } else { 1.0 };
                        out[o] = c[2] * keep;
                        out[plane + o] = c[1] * keep;
                        out[2 * plane + o] = c[0] * keep;
                        out[3 * plane + o] = c[2];
                        out[4 * plane + o] = c[1];
                        out[5 * plane + o] = c[0];
                    }
                }
            }
        }
    }
    Ok(())
}
