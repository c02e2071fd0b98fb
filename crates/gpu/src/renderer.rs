//! The frame renderer: layer stack -> sRGB render target -> NV12 planes -> readback ring.

use std::collections::HashMap;

use crate::nv12::Nv12Converter;
use crate::readback::ReadbackRing;
use crate::{FrameSink, FrameUniforms, GpuContext, GpuError, LayerSpec, Nv12Layout, shaders};

/// Size-dependent settings of a [`FrameRenderer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RendererConfig {
    pub width: u32,
    pub height: u32,
    /// Readback slots (at least 2): how many frames may be in flight on the GPU.
    pub ring_slots: usize,
    /// Frames of per-frame arrays one spectrum upload holds.
    pub chunk_frames: u32,
    /// f32 values per frame in an upload (bands, peaks and waveform together).
    pub frame_stride: u32,
}

/// Largest frame side accepted (wgpu's guaranteed 2D texture limit is 8192).
pub const MAX_SIDE: u32 = 8192;

#[derive(Debug)]
struct LayerGpu {
    /// Drawn in the first pass, through the non-sRGB view, without blending.
    base: bool,
    pipeline: usize,
    bind_group: wgpu::BindGroup,
    vertices: u32,
    instances: u32,
}

/// Draws frames for one output size and hands them back as NV12, in order.
#[derive(Debug)]
pub struct FrameRenderer {
    ctx: GpuContext,
    config: RendererConfig,
    target: wgpu::Texture,
    target_view: wgpu::TextureView,
    encoded_view: wgpu::TextureView,
    frame_buffer: wgpu::Buffer,
    spectrum_buffer: wgpu::Buffer,
    frame_bind_group: wgpu::BindGroup,
    pipelines: Vec<wgpu::RenderPipeline>,
    layers: Vec<LayerGpu>,
    nv12: Nv12Converter,
    ring: ReadbackRing,
}

impl FrameRenderer {
    pub fn new(
        ctx: &GpuContext,
        config: RendererConfig,
        layers: &[LayerSpec],
    ) -> Result<Self, GpuError> {
        let layout = Nv12Layout::new(config.width, config.height)?;
        let max = ctx.device.limits().max_texture_dimension_2d.min(MAX_SIDE);
        if config.width > max || config.height > max {
            return Err(GpuError::Config(format!(
                "frame size {}x{} exceeds this adapter's limit of {max} pixels per side",
                config.width, config.height
            )));
        }
        if config.frame_stride == 0 || config.chunk_frames == 0 {
            return Err(GpuError::Config(
                "frame_stride and chunk_frames must be at least 1".into(),
            ));
        }
        let device = &ctx.device;
        let target = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("frame.target"),
            size: wgpu::Extent3d {
                width: config.width,
                height: config.height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8UnormSrgb,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT
                | wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[wgpu::TextureFormat::Rgba8Unorm],
        });
        let target_view = target.create_view(&Default::default());
        let encoded_view = target.create_view(&wgpu::TextureViewDescriptor {
            label: Some("frame.target.encoded_view"),
            format: Some(wgpu::TextureFormat::Rgba8Unorm),
            ..Default::default()
        });
        let frame_buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("frame.uniforms"),
            size: std::mem::size_of::<FrameUniforms>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let spectrum_bytes = u64::from(config.chunk_frames) * u64::from(config.frame_stride) * 4;
        if spectrum_bytes > device.limits().max_storage_buffer_binding_size {
            return Err(GpuError::Config(format!(
                "spectrum chunk of {spectrum_bytes} bytes exceeds the adapter's storage limit"
            )));
        }
        let spectrum_buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("frame.spectrum"),
            size: spectrum_bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let frame_bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("frame.bind_group_layout"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage { read_only: true },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
            ],
        });
        let frame_bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("frame.bind_group"),
            layout: &frame_bgl,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: frame_buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: spectrum_buffer.as_entire_binding(),
                },
            ],
        });
        let layer_bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("layer.bind_group_layout"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("layer.pipeline_layout"),
            bind_group_layouts: &[Some(&frame_bgl), Some(&layer_bgl)],
            immediate_size: 0,
        });
        let mut pipelines = Vec::new();
        let mut by_shader: HashMap<(&'static str, bool), usize> = HashMap::new();
        let mut gpu_layers = Vec::with_capacity(layers.len());
        for (i, layer) in layers.iter().enumerate() {
            // The leading run of opaque layers forms the base pass.
            let base = layer.is_opaque() && layers[..i].iter().all(LayerSpec::is_opaque);
            let key = (layer.shader(), base);
            let pipeline = match by_shader.get(&key) {
                Some(&i) => i,
                None => {
                    let module = shaders::create_module(device, key.0)?;
                    pipelines.push(layer_pipeline(
                        device,
                        &pipeline_layout,
                        &module,
                        layer,
                        base,
                    ));
                    by_shader.insert(key, pipelines.len() - 1);
                    pipelines.len() - 1
                }
            };
            let params = layer.params_bytes();
            let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(layer.label()),
                size: params.len() as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            ctx.queue.write_buffer(&buffer, 0, params);
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(layer.label()),
                layout: &layer_bgl,
                entries: &[wgpu::BindGroupEntry {
                    binding: 0,
                    resource: buffer.as_entire_binding(),
                }],
            });
            let (vertices, instances) = layer.draw_range();
            gpu_layers.push(LayerGpu {
                base,
                pipeline,
                bind_group,
                vertices,
                instances,
            });
        }
        let nv12 = Nv12Converter::new(device, &encoded_view, layout)?;
        if !gpu_layers.iter().any(|l| l.base) {
            log::debug!("no opaque first layer: frames start from black");
        }
        let ring = ReadbackRing::new(device, config.ring_slots, layout.size);
        ctx.check()?;
        Ok(Self {
            ctx: ctx.clone(),
            config,
            target,
            target_view,
            encoded_view,
            frame_buffer,
            spectrum_buffer,
            frame_bind_group,
            pipelines,
            layers: gpu_layers,
            nv12,
            ring,
        })
    }

    /// Where the planes lie in the padded frames handed to sinks.
    pub fn layout(&self) -> Nv12Layout {
        self.nv12.layout
    }

    pub fn config(&self) -> RendererConfig {
        self.config
    }

    /// Uploads the arrays of a chunk of up to `chunk_frames` frames (`frame_stride` values each).
    /// Frames rendered afterwards address them with `FrameUniforms::spectrum_offset`; frames
    /// already submitted keep seeing the previous contents (uploads are ordered on the queue).
    pub fn upload_spectrum(&self, levels: &[f32]) -> Result<(), GpuError> {
        let capacity = self.config.chunk_frames as usize * self.config.frame_stride as usize;
        if levels.len() > capacity {
            return Err(GpuError::Config(format!(
                "spectrum chunk of {} values exceeds the buffer's {capacity}",
                levels.len()
            )));
        }
        if !levels.is_empty() {
            self.ctx
                .queue
                .write_buffer(&self.spectrum_buffer, 0, bytemuck::cast_slice(levels));
        }
        Ok(())
    }

    /// Records the layer passes: the opaque base layers through the non-sRGB view (they store
    /// encoded colour directly), then the blended layers through the sRGB view, so blending
    /// happens in linear light. Without an opaque base the target starts black.
    fn encode_layers(&self, encoder: &mut wgpu::CommandEncoder) {
        let has_base = self.layers.iter().any(|l| l.base);
        for (base, view, label) in [
            (true, &self.encoded_view, "frame.layers.base_pass"),
            (false, &self.target_view, "frame.layers.blend_pass"),
        ] {
            let load = if base || !has_base {
                wgpu::LoadOp::Clear(wgpu::Color::BLACK)
            } else {
                wgpu::LoadOp::Load
            };
            if base && !has_base {
                continue;
            }
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some(label),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load,
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_bind_group(0, &self.frame_bind_group, &[]);
            for layer in self.layers.iter().filter(|l| l.base == base) {
                pass.set_pipeline(&self.pipelines[layer.pipeline]);
                pass.set_bind_group(1, &layer.bind_group, &[]);
                pass.draw(0..layer.vertices, 0..layer.instances);
            }
        }
    }

    /// Writes the frame's uniforms and records its layer passes into a new encoder.
    fn begin_frame(&self, uniforms: &FrameUniforms, label: &str) -> wgpu::CommandEncoder {
        self.ctx
            .queue
            .write_buffer(&self.frame_buffer, 0, bytemuck::bytes_of(uniforms));
        let mut encoder = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        self.encode_layers(&mut encoder);
        encoder
    }

    /// Draws and converts one frame and queues its readback. When all ring slots are busy, the
    /// oldest frame is completed first and handed to `sink` as padded NV12 (see [`Self::layout`]).
    pub fn submit<E: From<GpuError>>(
        &mut self,
        uniforms: &FrameUniforms,
        sink: &mut FrameSink<'_, E>,
    ) -> Result<(), E> {
        let slot = self.ring.acquire(&self.ctx.device, sink)?;
        let mut encoder = self.begin_frame(uniforms, "frame.encoder");
        self.nv12.encode(&mut encoder, self.ring.buffer(slot));
        let submission = self.ctx.queue.submit([encoder.finish()]);
        self.ring
            .submitted(slot, u64::from(uniforms.frame_index), submission);
        self.ctx.check()?;
        Ok(())
    }

    /// Completes every frame still in flight, in order.
    pub fn finish<E: From<GpuError>>(&mut self, sink: &mut FrameSink<'_, E>) -> Result<(), E> {
        while self.ring.complete_oldest(&self.ctx.device, sink)? {}
        self.ctx.check()?;
        Ok(())
    }

    /// Frames submitted and not yet handed to a sink.
    pub fn in_flight(&self) -> usize {
        self.ring.in_flight()
    }

    /// Draws one frame and returns the render target as tightly packed sRGB-encoded RGBA8
    /// (for stills and tests). Does not touch the readback ring.
    pub fn render_rgba(&mut self, uniforms: &FrameUniforms) -> Result<Vec<u8>, GpuError> {
        let (w, h) = (self.config.width, self.config.height);
        let pitch = (w * 4).next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT);
        let buffer = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("frame.rgba_readback"),
            size: u64::from(pitch) * u64::from(h),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.begin_frame(uniforms, "frame.rgba.encoder");
        encoder.copy_texture_to_buffer(
            self.target.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: &buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(pitch),
                    rows_per_image: Some(h),
                },
            },
            wgpu::Extent3d {
                width: w,
                height: h,
                depth_or_array_layers: 1,
            },
        );
        let submission = self.ctx.queue.submit([encoder.finish()]);
        let mut ring = ReadbackRing::from_buffer(buffer);
        let mut out = Vec::with_capacity((w * h * 4) as usize);
        ring.submitted(0, u64::from(uniforms.frame_index), submission);
        ring.complete_oldest(&self.ctx.device, &mut |_, bytes: &[u8]| {
            for row in bytes.chunks(pitch as usize).take(h as usize) {
                out.extend_from_slice(&row[..(w * 4) as usize]);
            }
            Ok::<(), GpuError>(())
        })?;
        self.ctx.check()?;
        Ok(out)
    }
}

fn layer_pipeline(
    device: &wgpu::Device,
    layout: &wgpu::PipelineLayout,
    module: &wgpu::ShaderModule,
    layer: &LayerSpec,
    base: bool,
) -> wgpu::RenderPipeline {
    let constants: &[(&str, f64)] = if layer.has_encoded_output() {
        &[("OUTPUT_ENCODED", if base { 1.0 } else { 0.0 })]
    } else {
        &[]
    };
    let (format, blend) = if base {
        // Opaque base layers overwrite the target through its non-sRGB view.
        (wgpu::TextureFormat::Rgba8Unorm, None)
    } else {
        // Premultiplied "over", in linear light through the sRGB view.
        (
            wgpu::TextureFormat::Rgba8UnormSrgb,
            Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
        )
    };
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(&format!("{}.pipeline", layer.label())),
        layout: Some(layout),
        vertex: wgpu::VertexState {
            module,
            entry_point: Some("vs_main"),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants,
                ..Default::default()
            },
            buffers: &[],
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module,
            entry_point: Some("fs_main"),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants,
                ..Default::default()
            },
            targets: &[Some(wgpu::ColorTargetState {
                format,
                blend,
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask: None,
        cache: None,
    })
}
