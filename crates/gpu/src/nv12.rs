//! RGB -> NV12 (BT.709, limited range) on the GPU, and its CPU reference.

use crate::{GpuError, shaders};

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
        if width == 0 || height == 0 || width % 2 != 0 || height % 2 != 0 {
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

/// The two conversion passes and their plane textures.
#[derive(Debug)]
pub(crate) struct Nv12Converter {
    luma_pipeline: wgpu::RenderPipeline,
    chroma_pipeline: wgpu::RenderPipeline,
    bind_group: wgpu::BindGroup,
    luma: wgpu::Texture,
    luma_view: wgpu::TextureView,
    chroma: wgpu::Texture,
    chroma_view: wgpu::TextureView,
    pub(crate) layout: Nv12Layout,
}

impl Nv12Converter {
    /// `source` must be a non-sRGB (Rgba8Unorm) view of the render target.
    pub(crate) fn new(
        device: &wgpu::Device,
        source: &wgpu::TextureView,
        layout: Nv12Layout,
    ) -> Result<Self, GpuError> {
        let module = shaders::create_module(device, "color/nv12.wgsl")?;
        let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("color.nv12.bind_group_layout"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: false },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                count: None,
            }],
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("color.nv12.pipeline_layout"),
            bind_group_layouts: &[Some(&bgl)],
            immediate_size: 0,
        });
        let pipeline = |entry: &str, format: wgpu::TextureFormat, label: &str| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(label),
                layout: Some(&pl),
                vertex: wgpu::VertexState {
                    module: &module,
                    entry_point: Some("vs_fullscreen"),
                    compilation_options: Default::default(),
                    buffers: &[],
                },
                primitive: wgpu::PrimitiveState::default(),
                depth_stencil: None,
                multisample: wgpu::MultisampleState::default(),
                fragment: Some(wgpu::FragmentState {
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    targets: &[Some(wgpu::ColorTargetState {
                        format,
                        blend: None,
                        write_mask: wgpu::ColorWrites::ALL,
                    })],
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        let luma_pipeline = pipeline(
            "fs_luma",
            wgpu::TextureFormat::R8Unorm,
            "color.nv12.luma.pipeline",
        );
        let chroma_pipeline = pipeline(
            "fs_chroma",
            wgpu::TextureFormat::Rg8Unorm,
            "color.nv12.chroma.pipeline",
        );
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("color.nv12.bind_group"),
            layout: &bgl,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::TextureView(source),
            }],
        });
        let plane = |w: u32, h: u32, format, label| {
            device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size: wgpu::Extent3d {
                    width: w,
                    height: h,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
                view_formats: &[],
            })
        };
        let luma = plane(
            layout.width,
            layout.height,
            wgpu::TextureFormat::R8Unorm,
            "color.nv12.luma",
        );
        let chroma = plane(
            layout.width / 2,
            layout.height / 2,
            wgpu::TextureFormat::Rg8Unorm,
            "color.nv12.chroma",
        );
        Ok(Self {
            luma_pipeline,
            chroma_pipeline,
            bind_group,
            luma_view: luma.create_view(&Default::default()),
            chroma_view: chroma.create_view(&Default::default()),
            luma,
            chroma,
            layout,
        })
    }

    /// Records both passes and the copies of both planes into `dst` at offset 0.
    pub(crate) fn encode(&self, encoder: &mut wgpu::CommandEncoder, dst: &wgpu::Buffer) {
        for (view, pipeline, label) in [
            (&self.luma_view, &self.luma_pipeline, "color.nv12.luma.pass"),
            (
                &self.chroma_view,
                &self.chroma_pipeline,
                "color.nv12.chroma.pass",
            ),
        ] {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some(label),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &self.bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
        let l = self.layout;
        for (texture, offset, w, h) in [
            (&self.luma, 0, l.width, l.height),
            (&self.chroma, l.uv_offset, l.width / 2, l.height / 2),
        ] {
            encoder.copy_texture_to_buffer(
                texture.as_image_copy(),
                wgpu::TexelCopyBufferInfo {
                    buffer: dst,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset,
                        bytes_per_row: Some(l.pitch),
                        rows_per_image: Some(h),
                    },
                },
                wgpu::Extent3d {
                    width: w,
                    height: h,
                    depth_or_array_layers: 1,
                },
            );
        }
    }
}
