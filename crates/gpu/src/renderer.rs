//! The frame renderer: layer stack -> sRGB render target -> NV12 planes -> readback ring.

use std::collections::HashMap;

use crate::layers::{BloomParams, LayerImage, LayerKind, PARTICLE_BYTES};
use crate::nv12::Nv12Converter;
use crate::readback::ReadbackRing;
use crate::{
    BlendMode, FrameSink, FrameUniforms, GpuContext, GpuError, LayerSpec, Nv12Layout, shaders,
};

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
    /// Band levels per frame (rows of a spectrogram's history).
    pub bands: u32,
}

/// Largest frame side accepted (wgpu's guaranteed 2D texture limit is 8192).
pub const MAX_SIDE: u32 = 8192;

/// Extra GPU state of stateful layers and post effects.
#[derive(Debug)]
enum Extra {
    None,
    /// History ring texture written one column per frame.
    Spectrogram {
        view: wgpu::TextureView,
        update_bind_group: wgpu::BindGroup,
        columns: u32,
        rows: u32,
    },
    /// Particle state buffer, simulated by a compute pass every frame.
    Particles {
        bind_group: wgpu::BindGroup,
        workgroups: u32,
    },
    /// Quarter-resolution ping-pong textures: extract -> a, blur a -> b, blur b -> a.
    Bloom {
        views: [wgpu::TextureView; 2],
        /// Extract, horizontal blur, vertical blur.
        bind_groups: [wgpu::BindGroup; 3],
        params: [wgpu::Buffer; 3],
        size: (u32, u32),
    },
}

#[derive(Debug)]
struct LayerGpu {
    name: &'static str,
    /// Drawn in the first pass, through the non-sRGB view, without blending.
    base: bool,
    pipeline: usize,
    params: wgpu::Buffer,
    params_len: usize,
    sampler: wgpu::Sampler,
    storage: Option<wgpu::Buffer>,
    /// The layer's own texture (images, text) and its format and size.
    image: Option<(wgpu::Texture, wgpu::TextureFormat, (u32, u32))>,
    bind_group: wgpu::BindGroup,
    vertices: u32,
    instances: u32,
    extra: Extra,
}

/// Pipelines of the per-frame update passes, created when a layer needs them.
#[derive(Debug, Default)]
struct Helpers {
    spectrogram_update: Option<wgpu::RenderPipeline>,
    particles_sim: Option<wgpu::ComputePipeline>,
    bloom_extract: Option<wgpu::RenderPipeline>,
    bloom_blur: Option<wgpu::RenderPipeline>,
}

/// Bind group layouts shared by all layers.
#[derive(Debug)]
struct Layouts {
    frame: wgpu::BindGroupLayout,
    layer: wgpu::BindGroupLayout,
    layer_pipeline: wgpu::PipelineLayout,
    params_only: wgpu::BindGroupLayout,
    compute: wgpu::BindGroupLayout,
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
    layouts: Layouts,
    dummy_view: wgpu::TextureView,
    dummy_storage: wgpu::Buffer,
    pipelines: Vec<wgpu::RenderPipeline>,
    helpers: Helpers,
    layers: Vec<LayerGpu>,
    nv12: Nv12Converter,
    ring: ReadbackRing,
}

fn uniform_entry(binding: u32, visibility: wgpu::ShaderStages) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn storage_entry(
    binding: u32,
    visibility: wgpu::ShaderStages,
    read_only: bool,
) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

impl Layouts {
    fn new(device: &wgpu::Device) -> Self {
        use wgpu::ShaderStages as S;
        let all = S::VERTEX_FRAGMENT | S::COMPUTE;
        let frame = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("frame.bind_group_layout"),
            entries: &[uniform_entry(0, all), storage_entry(1, all, true)],
        });
        let layer = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("layer.bind_group_layout"),
            entries: &[
                uniform_entry(0, S::VERTEX_FRAGMENT),
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: S::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: true },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: S::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
                storage_entry(3, S::VERTEX_FRAGMENT, true),
            ],
        });
        let layer_pipeline = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("layer.pipeline_layout"),
            bind_group_layouts: &[Some(&frame), Some(&layer)],
            immediate_size: 0,
        });
        let params_only = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("layer.params_only_layout"),
            entries: &[uniform_entry(0, S::VERTEX_FRAGMENT)],
        });
        let compute = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("layer.compute_layout"),
            entries: &[
                uniform_entry(0, S::COMPUTE),
                storage_entry(1, S::COMPUTE, false),
            ],
        });
        Self {
            frame,
            layer,
            layer_pipeline,
            params_only,
            compute,
        }
    }
}

fn sampler(device: &wgpu::Device, repeat_u: bool) -> wgpu::Sampler {
    device.create_sampler(&wgpu::SamplerDescriptor {
        label: Some("layer.sampler"),
        address_mode_u: if repeat_u {
            wgpu::AddressMode::Repeat
        } else {
            wgpu::AddressMode::ClampToEdge
        },
        address_mode_v: wgpu::AddressMode::ClampToEdge,
        mag_filter: wgpu::FilterMode::Linear,
        min_filter: wgpu::FilterMode::Linear,
        ..Default::default()
    })
}

fn texture_2d(
    device: &wgpu::Device,
    label: &str,
    (width, height): (u32, u32),
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        view_formats: &[],
    })
}

/// Begins a render pass with one colour attachment that is stored (every pass of the frame
/// renderer has this shape; only the label, target and load differ).
fn color_pass<'e>(
    encoder: &'e mut wgpu::CommandEncoder,
    label: &str,
    view: &wgpu::TextureView,
    load: wgpu::LoadOp<wgpu::Color>,
) -> wgpu::RenderPass<'e> {
    encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
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
    })
}

/// The view a layer samples: base (opaque, encoded-output) image layers read the stored sRGB
/// bytes as they are, through a non-sRGB view; everything else gets linear light.
fn image_view(texture: &wgpu::Texture, img: &LayerImage, base: bool) -> wgpu::TextureView {
    match img {
        LayerImage::Rgba { .. } if base => texture.create_view(&wgpu::TextureViewDescriptor {
            label: Some("layer.image.encoded_view"),
            format: Some(wgpu::TextureFormat::Rgba8Unorm),
            ..Default::default()
        }),
        _ => texture.create_view(&Default::default()),
    }
}

fn uniform_buffer(device: &wgpu::Device, label: &str, size: usize) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
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
        let frame_buffer = uniform_buffer(
            device,
            "frame.uniforms",
            std::mem::size_of::<FrameUniforms>(),
        );
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
        let layouts = Layouts::new(device);
        let frame_bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("frame.bind_group"),
            layout: &layouts.frame,
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
        let dummy = texture_2d(
            device,
            "layer.dummy_texture",
            (1, 1),
            wgpu::TextureFormat::Rgba8Unorm,
            wgpu::TextureUsages::TEXTURE_BINDING,
        );
        let dummy_view = dummy.create_view(&Default::default());
        let dummy_storage = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("layer.dummy_storage"),
            size: PARTICLE_BYTES,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let nv12 = Nv12Converter::new(device, &encoded_view, layout)?;
        let ring = ReadbackRing::new(device, config.ring_slots, layout.size);
        let mut renderer = Self {
            ctx: ctx.clone(),
            config,
            target,
            target_view,
            encoded_view,
            frame_buffer,
            spectrum_buffer,
            frame_bind_group,
            layouts,
            dummy_view,
            dummy_storage,
            pipelines: Vec::new(),
            helpers: Helpers::default(),
            layers: Vec::with_capacity(layers.len()),
            nv12,
            ring,
        };
        let mut by_shader: HashMap<(String, bool, BlendMode), usize> = HashMap::new();
        for (i, layer) in layers.iter().enumerate() {
            // The leading run of opaque layers forms the base pass.
            let size = (config.width, config.height);
            let opaque = |l: &LayerSpec| {
                l.kind.is_opaque(size)
                    && !l.dynamic_alpha
                    && (!matches!(l.kind, LayerKind::Image(_))
                        || l.image.as_ref().is_some_and(LayerImage::is_opaque))
            };
            let base = layers[..=i].iter().all(opaque);
            let key_name = match &layer.kind {
                LayerKind::Custom(..) => format!("custom#{i}"),
                kind => kind.shader().to_owned(),
            };
            let key = (key_name, base, layer.blend);
            let pipeline = match by_shader.get(&key) {
                Some(&p) => p,
                None => {
                    let module = match &layer.kind {
                        LayerKind::Custom(_, shader) => {
                            shaders::create_custom_module(&renderer.ctx.device, shader)?
                        }
                        kind => shaders::create_module(&renderer.ctx.device, kind.shader())?,
                    };
                    let pipeline = layer_pipeline(
                        &renderer.ctx.device,
                        &renderer.layouts.layer_pipeline,
                        &module,
                        layer,
                        base,
                    );
                    renderer.pipelines.push(pipeline);
                    by_shader.insert(key, renderer.pipelines.len() - 1);
                    renderer.pipelines.len() - 1
                }
            };
            let gpu_layer = renderer.create_layer(layer, base, pipeline)?;
            renderer.layers.push(gpu_layer);
        }
        if !renderer.layers.iter().any(|l| l.base) {
            log::debug!("no opaque first layer: frames start from black");
        }
        renderer.ctx.check()?;
        Ok(renderer)
    }

    /// Creates the buffers, textures and bind groups of one layer.
    fn create_layer(
        &mut self,
        layer: &LayerSpec,
        base: bool,
        pipeline: usize,
    ) -> Result<LayerGpu, GpuError> {
        let name = layer.kind.name();
        let label = format!("layer.{name}");
        let params_bytes = layer.kind.params_bytes();
        let params = uniform_buffer(&self.ctx.device, &label, params_bytes.len());
        self.ctx.queue.write_buffer(&params, 0, params_bytes);
        let (vertices, instances) = layer.kind.draw_range();
        let mut extra = Extra::None;
        let mut storage = None;
        let mut image = None;
        let mut own_view = None;
        let mut repeat_u = false;
        match &layer.kind {
            LayerKind::Image(_) | LayerKind::Text(_) | LayerKind::Avatar(_) => {
                let Some(img) = &layer.image else {
                    return Err(GpuError::Config(format!(
                        "the {name} layer has no image to draw"
                    )));
                };
                let texture = self.upload_image(&label, img)?;
                own_view = Some(image_view(&texture, img, base));
                image = Some((texture, img.format(), img.size()));
                if matches!(layer.kind, LayerKind::Avatar(_)) {
                    // The generated face, written by the lip-sync model on the same device.
                    let buffer = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("layer.avatar.face"),
                        size: (crate::layers::AVATAR_FACE_FLOATS * 4) as u64,
                        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    });
                    storage = Some(buffer);
                }
            }
            LayerKind::Spectrogram(p) => {
                let max = self.ctx.device.limits().max_texture_dimension_2d;
                let columns = p.columns.clamp(2, max);
                let rows = self.config.bands.clamp(1, max);
                let texture = texture_2d(
                    &self.ctx.device,
                    "layer.spectrogram.history",
                    (columns, rows),
                    wgpu::TextureFormat::R16Float,
                    wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
                );
                let view = texture.create_view(&Default::default());
                // Start from silence: clear the ring once.
                let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
                color_pass(
                    &mut encoder,
                    "layer.spectrogram.clear",
                    &view,
                    wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                );
                self.ctx.queue.submit([encoder.finish()]);
                if self.helpers.spectrogram_update.is_none() {
                    self.helpers.spectrogram_update = Some(self.helper_pipeline(
                        "layers/spectrogram.wgsl",
                        "vs_update",
                        "fs_update",
                        &self.layouts.params_only,
                        wgpu::TextureFormat::R16Float,
                    )?);
                }
                let update_bind_group =
                    self.ctx
                        .device
                        .create_bind_group(&wgpu::BindGroupDescriptor {
                            label: Some("layer.spectrogram.update"),
                            layout: &self.layouts.params_only,
                            entries: &[wgpu::BindGroupEntry {
                                binding: 0,
                                resource: params.as_entire_binding(),
                            }],
                        });
                own_view = Some(view.clone());
                repeat_u = true;
                extra = Extra::Spectrogram {
                    view,
                    update_bind_group,
                    columns,
                    rows,
                };
            }
            LayerKind::Particles(p) => {
                if !(1..=65_536).contains(&p.capacity) {
                    return Err(GpuError::Config(format!(
                        "particle capacity {} is outside 1..=65536",
                        p.capacity
                    )));
                }
                let size = u64::from(p.capacity) * PARTICLE_BYTES;
                let buffer = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("layer.particles.state"),
                    size,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                // Every slot starts dead (age -1).
                let dead: Vec<f32> = (0..p.capacity)
                    .flat_map(|_| [0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0])
                    .collect();
                self.ctx
                    .queue
                    .write_buffer(&buffer, 0, bytemuck::cast_slice(&dead));
                if self.helpers.particles_sim.is_none() {
                    let module =
                        shaders::create_module(&self.ctx.device, "layers/particles_sim.wgsl")?;
                    let layout =
                        self.ctx
                            .device
                            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                                label: Some("layer.particles.sim_layout"),
                                bind_group_layouts: &[
                                    Some(&self.layouts.frame),
                                    Some(&self.layouts.compute),
                                ],
                                immediate_size: 0,
                            });
                    self.helpers.particles_sim = Some(self.ctx.device.create_compute_pipeline(
                        &wgpu::ComputePipelineDescriptor {
                            label: Some("layer.particles.sim"),
                            layout: Some(&layout),
                            module: &module,
                            entry_point: Some("cs_main"),
                            compilation_options: Default::default(),
                            cache: None,
                        },
                    ));
                }
                let bind_group = self
                    .ctx
                    .device
                    .create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some("layer.particles.sim"),
                        layout: &self.layouts.compute,
                        entries: &[
                            wgpu::BindGroupEntry {
                                binding: 0,
                                resource: params.as_entire_binding(),
                            },
                            wgpu::BindGroupEntry {
                                binding: 1,
                                resource: buffer.as_entire_binding(),
                            },
                        ],
                    });
                extra = Extra::Particles {
                    bind_group,
                    workgroups: p.capacity.div_ceil(64),
                };
                storage = Some(buffer);
            }
            LayerKind::Bloom(p) => {
                let size = (
                    (self.config.width / 4).max(1),
                    (self.config.height / 4).max(1),
                );
                let make = |label| {
                    texture_2d(
                        &self.ctx.device,
                        label,
                        size,
                        wgpu::TextureFormat::Rgba16Float,
                        wgpu::TextureUsages::RENDER_ATTACHMENT
                            | wgpu::TextureUsages::TEXTURE_BINDING,
                    )
                    .create_view(&Default::default())
                };
                let views = [make("layer.bloom.a"), make("layer.bloom.b")];
                if self.helpers.bloom_extract.is_none() {
                    self.helpers.bloom_extract = Some(self.helper_pipeline(
                        "post/bloom.wgsl",
                        "vs_main",
                        "fs_extract",
                        &self.layouts.layer,
                        wgpu::TextureFormat::Rgba16Float,
                    )?);
                    self.helpers.bloom_blur = Some(self.helper_pipeline(
                        "post/bloom.wgsl",
                        "vs_main",
                        "fs_blur",
                        &self.layouts.layer,
                        wgpu::TextureFormat::Rgba16Float,
                    )?);
                }
                let size_of = std::mem::size_of::<BloomParams>();
                let buffers = [
                    uniform_buffer(&self.ctx.device, "layer.bloom.extract", size_of),
                    uniform_buffer(&self.ctx.device, "layer.bloom.blur_h", size_of),
                    uniform_buffer(&self.ctx.device, "layer.bloom.blur_v", size_of),
                ];
                let linear = sampler(&self.ctx.device, false);
                let sources = [&self.target_view, &views[0], &views[1]];
                let bind_groups = [0, 1, 2].map(|k| {
                    self.layer_bind_group(
                        "layer.bloom.pass",
                        &buffers[k],
                        sources[k],
                        &linear,
                        &self.dummy_storage,
                    )
                });
                own_view = Some(views[0].clone());
                extra = Extra::Bloom {
                    views,
                    bind_groups,
                    params: buffers,
                    size,
                };
                self.write_bloom_params(&extra, p);
            }
            _ => {}
        }
        let sampler = sampler(&self.ctx.device, repeat_u);
        let bind_group = self.layer_bind_group(
            &label,
            &params,
            own_view.as_ref().unwrap_or(&self.dummy_view),
            &sampler,
            storage.as_ref().unwrap_or(&self.dummy_storage),
        );
        Ok(LayerGpu {
            name,
            base,
            pipeline,
            params,
            params_len: params_bytes.len(),
            sampler,
            storage,
            image,
            bind_group,
            vertices,
            instances,
            extra,
        })
    }

    fn layer_bind_group(
        &self,
        label: &str,
        params: &wgpu::Buffer,
        view: &wgpu::TextureView,
        sampler: &wgpu::Sampler,
        storage: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        self.ctx
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(label),
                layout: &self.layouts.layer,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: params.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: wgpu::BindingResource::TextureView(view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: wgpu::BindingResource::Sampler(sampler),
                    },
                    wgpu::BindGroupEntry {
                        binding: 3,
                        resource: storage.as_entire_binding(),
                    },
                ],
            })
    }

    /// A render pipeline without blending for an update or post-processing pass.
    fn helper_pipeline(
        &self,
        path: &str,
        vertex: &str,
        fragment: &str,
        group1: &wgpu::BindGroupLayout,
        format: wgpu::TextureFormat,
    ) -> Result<wgpu::RenderPipeline, GpuError> {
        let device = &self.ctx.device;
        let module = shaders::create_module(device, path)?;
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(path),
            bind_group_layouts: &[Some(&self.layouts.frame), Some(group1)],
            immediate_size: 0,
        });
        Ok(
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(&format!("{path}:{fragment}")),
                layout: Some(&layout),
                vertex: wgpu::VertexState {
                    module: &module,
                    entry_point: Some(vertex),
                    compilation_options: Default::default(),
                    buffers: &[],
                },
                primitive: wgpu::PrimitiveState::default(),
                depth_stencil: None,
                multisample: wgpu::MultisampleState::default(),
                fragment: Some(wgpu::FragmentState {
                    module: &module,
                    entry_point: Some(fragment),
                    compilation_options: Default::default(),
                    targets: &[Some(wgpu::ColorTargetState {
                        format,
                        blend: None,
                        write_mask: wgpu::ColorWrites::ALL,
                    })],
                }),
                multiview_mask: None,
                cache: None,
            }),
        )
    }

    fn upload_image(&self, label: &str, img: &LayerImage) -> Result<wgpu::Texture, GpuError> {
        img.check()?;
        let (w, h) = img.size();
        let max = self.ctx.device.limits().max_texture_dimension_2d;
        if w > max || h > max {
            return Err(GpuError::Config(format!(
                "image of {w}x{h} exceeds this adapter's limit of {max} pixels per side"
            )));
        }
        let texture = self.ctx.device.create_texture(&wgpu::TextureDescriptor {
            label: Some(label),
            size: wgpu::Extent3d {
                width: w,
                height: h,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: img.format(),
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            // Opaque base layers read the encoded bytes through a non-sRGB view.
            view_formats: match img {
                LayerImage::Rgba { .. } => &[wgpu::TextureFormat::Rgba8Unorm],
                LayerImage::Coverage { .. } => &[],
            },
        });
        self.write_image(&texture, img);
        Ok(texture)
    }

    fn write_image(&self, texture: &wgpu::Texture, img: &LayerImage) {
        let (w, h) = img.size();
        self.ctx.queue.write_texture(
            texture.as_image_copy(),
            img.pixels(),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(w * img.bytes_per_pixel()),
                rows_per_image: Some(h),
            },
            wgpu::Extent3d {
                width: w,
                height: h,
                depth_or_array_layers: 1,
            },
        );
    }

    fn write_bloom_params(&self, extra: &Extra, p: &BloomParams) {
        if let Extra::Bloom { params, size, .. } = extra {
            let full = [
                1.0 / self.config.width as f32,
                1.0 / self.config.height as f32,
            ];
            let quarter = [1.0 / size.0 as f32, 1.0 / size.1 as f32];
            let passes = [
                BloomParams { texel: full, ..*p },
                BloomParams {
                    direction: [1.0, 0.0],
                    texel: quarter,
                    ..*p
                },
                BloomParams {
                    direction: [0.0, 1.0],
                    texel: quarter,
                    ..*p
                },
            ];
            for (buffer, pass) in params.iter().zip(passes) {
                self.ctx
                    .queue
                    .write_buffer(buffer, 0, bytemuck::bytes_of(&pass));
            }
        }
    }

    /// Number of layers.
    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }

    /// Replaces the parameters of layer `index` from the next submitted frame on (reactors,
    /// particle emission, clocks). The kind must be the one the layer was created with.
    pub fn set_params(&mut self, index: usize, kind: &LayerKind) -> Result<(), GpuError> {
        let layer = self
            .layers
            .get(index)
            .ok_or_else(|| GpuError::Config(format!("there is no layer {index} to update")))?;
        let bytes = kind.params_bytes();
        if layer.name != kind.name() || bytes.len() != layer.params_len {
            return Err(GpuError::Config(format!(
                "layer {index} is a {} layer; its parameters cannot be replaced by a {} layer's",
                layer.name,
                kind.name()
            )));
        }
        self.ctx.queue.write_buffer(&layer.params, 0, bytes);
        if let LayerKind::Bloom(p) = kind {
            self.write_bloom_params(&layer.extra, p);
        }
        Ok(())
    }

    /// Replaces the texture of an image or text layer (a video frame, a re-rasterised clock)
    /// from the next submitted frame on. A new size or format reallocates the texture.
    pub fn set_image(&mut self, index: usize, img: &LayerImage) -> Result<(), GpuError> {
        img.check()?;
        let layer = self
            .layers
            .get(index)
            .ok_or_else(|| GpuError::Config(format!("there is no layer {index} to update")))?;
        match &layer.image {
            Some((texture, format, size)) if *format == img.format() && *size == img.size() => {
                self.write_image(texture, img);
            }
            Some(_) => {
                let label = format!("layer.{}", layer.name);
                let texture = self.upload_image(&label, img)?;
                let view = image_view(&texture, img, layer.base);
                let layer = &self.layers[index];
                let bind_group = self.layer_bind_group(
                    &label,
                    &layer.params,
                    &view,
                    &layer.sampler,
                    layer.storage.as_ref().unwrap_or(&self.dummy_storage),
                );
                let layer = &mut self.layers[index];
                layer.bind_group = bind_group;
                layer.image = Some((texture, img.format(), img.size()));
            }
            None => {
                return Err(GpuError::Config(format!(
                    "layer {index} ({}) has no texture to replace",
                    layer.name
                )));
            }
        }
        Ok(())
    }

    /// The texture of an image, text or avatar layer (for passes on the same device that read
    /// the picture, e.g. face detection); replaced when [`Self::set_image`] changes its size.
    pub fn layer_texture(&self, index: usize) -> Option<&wgpu::Texture> {
        self.layers.get(index)?.image.as_ref().map(|(t, _, _)| t)
    }

    /// The storage buffer a layer reads (particle state; an avatar's generated face).
    pub fn layer_storage(&self, index: usize) -> Option<&wgpu::Buffer> {
        self.layers.get(index)?.storage.as_ref()
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

    /// Records the per-frame update passes of stateful layers: the spectrogram's history
    /// column and the particle simulation.
    fn encode_updates(&self, encoder: &mut wgpu::CommandEncoder, frame_index: u32) {
        for layer in &self.layers {
            match &layer.extra {
                Extra::Spectrogram {
                    view,
                    update_bind_group,
                    columns,
                    rows,
                } => {
                    let Some(pipeline) = &self.helpers.spectrogram_update else {
                        continue;
                    };
                    let mut pass = color_pass(
                        encoder,
                        "layer.spectrogram.update",
                        view,
                        wgpu::LoadOp::Load,
                    );
                    pass.set_scissor_rect(frame_index % columns, 0, 1, *rows);
                    pass.set_pipeline(pipeline);
                    pass.set_bind_group(0, &self.frame_bind_group, &[]);
                    pass.set_bind_group(1, update_bind_group, &[]);
                    pass.draw(0..3, 0..1);
                }
                Extra::Particles {
                    bind_group,
                    workgroups,
                } => {
                    let Some(pipeline) = &self.helpers.particles_sim else {
                        continue;
                    };
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some("layer.particles.sim"),
                        timestamp_writes: None,
                    });
                    pass.set_pipeline(pipeline);
                    pass.set_bind_group(0, &self.frame_bind_group, &[]);
                    pass.set_bind_group(1, bind_group, &[]);
                    pass.dispatch_workgroups(*workgroups, 1, 1);
                }
                Extra::None | Extra::Bloom { .. } => {}
            }
        }
    }

    /// Records the bloom layer's passes that read the frame drawn so far.
    fn encode_bloom(&self, encoder: &mut wgpu::CommandEncoder, extra: &Extra) {
        let (
            Extra::Bloom {
                views, bind_groups, ..
            },
            Some(extract),
            Some(blur),
        ) = (extra, &self.helpers.bloom_extract, &self.helpers.bloom_blur)
        else {
            return;
        };
        // extract: frame -> a; blur h: a -> b; blur v: b -> a.
        let steps = [(extract, 0, 0), (blur, 1, 1), (blur, 2, 0)];
        for (pipeline, group, out) in steps {
            let mut pass = color_pass(
                encoder,
                "layer.bloom.pass",
                &views[out],
                wgpu::LoadOp::Clear(wgpu::Color::BLACK),
            );
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &self.frame_bind_group, &[]);
            pass.set_bind_group(1, &bind_groups[group], &[]);
            pass.draw(0..3, 0..1);
        }
    }

    /// Records the layer passes: the opaque base layers through the non-sRGB view (they store
    /// encoded colour directly), then the blended layers through the sRGB view, so blending
    /// happens in linear light. A bloom layer ends the current pass (it reads what was drawn
    /// before it). Without an opaque base the target starts black.
    fn encode_layers(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut drawn = false;
        let base: Vec<&LayerGpu> = self.layers.iter().filter(|l| l.base).collect();
        if !base.is_empty() {
            self.layer_pass(encoder, &self.encoded_view, false, &base);
            drawn = true;
        }
        let mut segment: Vec<&LayerGpu> = Vec::new();
        for layer in self.layers.iter().filter(|l| !l.base) {
            if matches!(layer.extra, Extra::Bloom { .. }) {
                if !segment.is_empty() || !drawn {
                    self.layer_pass(encoder, &self.target_view, drawn, &segment);
                    drawn = true;
                }
                segment.clear();
                self.encode_bloom(encoder, &layer.extra);
            }
            segment.push(layer);
        }
        if !segment.is_empty() || !drawn {
            self.layer_pass(encoder, &self.target_view, drawn, &segment);
        }
    }

    fn layer_pass(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        view: &wgpu::TextureView,
        load: bool,
        layers: &[&LayerGpu],
    ) {
        let mut pass = color_pass(
            encoder,
            "frame.layers",
            view,
            if load {
                wgpu::LoadOp::Load
            } else {
                wgpu::LoadOp::Clear(wgpu::Color::BLACK)
            },
        );
        pass.set_bind_group(0, &self.frame_bind_group, &[]);
        for layer in layers {
            pass.set_pipeline(&self.pipelines[layer.pipeline]);
            pass.set_bind_group(1, &layer.bind_group, &[]);
            pass.draw(0..layer.vertices, 0..layer.instances);
        }
    }

    /// Writes the frame's uniforms and records its update and layer passes into a new encoder.
    fn begin_frame(&self, uniforms: &FrameUniforms, label: &str) -> wgpu::CommandEncoder {
        self.ctx
            .queue
            .write_buffer(&self.frame_buffer, 0, bytemuck::bytes_of(uniforms));
        let mut encoder = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        self.encode_updates(&mut encoder, uniforms.frame_index);
        self.encode_layers(&mut encoder);
        encoder
    }

    /// Runs only the update passes of stateful layers (spectrogram history, particles) for a
    /// frame that is not drawn: the warm-up before the first frame of a render or preview.
    pub fn advance(&mut self, uniforms: &FrameUniforms) -> Result<(), GpuError> {
        if !self
            .layers
            .iter()
            .any(|l| matches!(l.extra, Extra::Spectrogram { .. } | Extra::Particles { .. }))
        {
            return Ok(());
        }
        self.ctx
            .queue
            .write_buffer(&self.frame_buffer, 0, bytemuck::bytes_of(uniforms));
        let mut encoder = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("frame.advance"),
            });
        self.encode_updates(&mut encoder, uniforms.frame_index);
        self.ctx.queue.submit([encoder.finish()]);
        self.ctx.check()
    }

    /// True when some layer keeps state from frame to frame (and so needs a warm-up).
    pub fn is_stateful(&self) -> bool {
        self.layers
            .iter()
            .any(|l| matches!(l.extra, Extra::Spectrogram { .. } | Extra::Particles { .. }))
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

    /// Draws and converts one frame straight into `dst` (a buffer of at least
    /// [`Self::layout`]`.size` bytes with COPY_DST usage, e.g. a slot of an
    /// [`crate::ExternalRing`]): the NV12 planes are copied on the GPU, nothing is read back.
    /// Returns the submission; wait for it ([`Self::wait`]) before another API (CUDA) reads
    /// `dst`. Frames in the readback ring are not affected.
    pub fn submit_into(
        &mut self,
        uniforms: &FrameUniforms,
        dst: &wgpu::Buffer,
    ) -> Result<wgpu::SubmissionIndex, GpuError> {
        if dst.size() < self.nv12.layout.size {
            return Err(GpuError::Config(format!(
                "NV12 destination has {} bytes, a frame needs {}",
                dst.size(),
                self.nv12.layout.size
            )));
        }
        let mut encoder = self.begin_frame(uniforms, "frame.external.encoder");
        self.nv12.encode(&mut encoder, dst);
        let submission = self.ctx.queue.submit([encoder.finish()]);
        self.ctx.check()?;
        Ok(submission)
    }

    /// Blocks until `submission` has finished on the GPU (at most the frame timeout).
    pub fn wait(&self, submission: wgpu::SubmissionIndex) -> Result<(), GpuError> {
        crate::readback::wait_for(&self.ctx.device, submission)?;
        self.ctx.check()
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
    let constants: &[(&str, f64)] = if layer.kind.has_encoded_output() {
        &[("OUTPUT_ENCODED", if base { 1.0 } else { 0.0 })]
    } else {
        &[]
    };
    let (format, blend) = if base {
        // Opaque base layers overwrite the target through its non-sRGB view.
        (wgpu::TextureFormat::Rgba8Unorm, None)
    } else {
        // The layer's blend mode (premultiplied), in linear light through the sRGB view.
        (
            wgpu::TextureFormat::Rgba8UnormSrgb,
            Some(layer.blend.state()),
        )
    };
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(&format!("layer.{}.pipeline", layer.kind.name())),
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
