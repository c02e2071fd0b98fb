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
