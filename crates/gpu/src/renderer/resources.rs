//! What the frame renderer builds its layers from: the bind-group layouts every layer shares
//! (group 0 the frame, group 1 the layer), small constructors (uniform buffers, 2D textures,
//! samplers, layer bind groups, uploaded images, single-attachment render passes), the layer
//! pipeline, and [`PipelinePool`], which creates each pipeline once and hands out clones:
//! layer pipelines keyed by shader, base pass and blend mode; helper pipelines (update and post
//! passes) keyed by shader, entry points and target format. [`Setup`] lends all of this to a
//! layer kind while it creates its own state.

use std::collections::HashMap;

use crate::layers::LayerImage;
use crate::{BlendMode, GpuError, LayerSpec, RendererConfig, shaders};

/// Which bind-group layout a pass uses as group 1 (group 0 is always the frame's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Group {
    /// A layer's: params (0), texture (1), sampler (2), read-only storage (3).
    Layer,
    /// A uniform buffer only (binding 0).
    Params,
    /// A compute pass's: uniform (0), read-write storage (1).
    Compute,
}

/// Bind group layouts shared by all layers.
#[derive(Debug)]
pub(crate) struct Layouts {
    pub frame: wgpu::BindGroupLayout,
    pub layer: wgpu::BindGroupLayout,
    pub layer_pipeline: wgpu::PipelineLayout,
    params_only: wgpu::BindGroupLayout,
    compute: wgpu::BindGroupLayout,
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
    pub fn new(device: &wgpu::Device) -> Self {
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

    pub fn group(&self, group: Group) -> &wgpu::BindGroupLayout {
        match group {
            Group::Layer => &self.layer,
            Group::Params => &self.params_only,
            Group::Compute => &self.compute,
        }
    }
}

pub(crate) fn sampler(device: &wgpu::Device, repeat_u: bool) -> wgpu::Sampler {
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

pub(crate) fn texture_2d(
    device: &wgpu::Device,
    label: &str,
    size: (u32, u32),
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
) -> wgpu::Texture {
    texture_2d_viewed(device, label, size, format, usage, &[])
}

/// [`texture_2d`], also viewable in `view_formats`.
fn texture_2d_viewed(
    device: &wgpu::Device,
    label: &str,
    (width, height): (u32, u32),
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
    view_formats: &[wgpu::TextureFormat],
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
        view_formats,
    })
}

/// A texture like the render target: sRGB-encoded RGBA8 of `size`, with the plain RGBA8 view
/// the base pass writes encoded colour through (returned beside it).
pub(crate) fn frame_texture(
    device: &wgpu::Device,
    label: &str,
    size: (u32, u32),
    usage: wgpu::TextureUsages,
) -> (wgpu::Texture, wgpu::TextureView) {
    let texture = texture_2d_viewed(
        device,
        label,
        size,
        wgpu::TextureFormat::Rgba8UnormSrgb,
        usage,
        &[wgpu::TextureFormat::Rgba8Unorm],
    );
    let encoded = texture.create_view(&wgpu::TextureViewDescriptor {
        label: Some(&format!("{label}.encoded_view")),
        format: Some(wgpu::TextureFormat::Rgba8Unorm),
        ..Default::default()
    });
    (texture, encoded)
}

/// A render pipeline of `module`'s `vertex` and `fragment` entries (no vertex buffers) writing
/// `formats` without blending: the update, post-processing and conversion passes.
pub(crate) fn unblended_pipeline(
    device: &wgpu::Device,
    path: &str,
    layout: &wgpu::PipelineLayout,
    module: &wgpu::ShaderModule,
    (vertex, fragment): (&str, &str),
    formats: &[wgpu::TextureFormat],
) -> wgpu::RenderPipeline {
    let targets: Vec<Option<wgpu::ColorTargetState>> = formats
        .iter()
        .map(|&format| {
            Some(wgpu::ColorTargetState {
                format,
                blend: None,
                write_mask: wgpu::ColorWrites::ALL,
            })
        })
        .collect();
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(&format!("{path}:{fragment}")),
        layout: Some(layout),
        vertex: wgpu::VertexState {
            module,
            entry_point: Some(vertex),
            compilation_options: Default::default(),
            buffers: &[],
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module,
            entry_point: Some(fragment),
            compilation_options: Default::default(),
            targets: &targets,
        }),
        multiview_mask: None,
        cache: None,
    })
}

pub(crate) fn uniform_buffer(device: &wgpu::Device, label: &str, size: usize) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// Begins a render pass with one colour attachment that is stored (every pass of the frame
/// renderer has this shape; only the label, target and load differ).
pub(crate) fn color_pass<'e>(
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

/// A bind group of the layer layout ([`Group::Layer`]).
pub(crate) fn layer_bind_group(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    label: &str,
    params: &wgpu::Buffer,
    view: &wgpu::TextureView,
    sampler: &wgpu::Sampler,
    storage: &wgpu::Buffer,
) -> wgpu::BindGroup {
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
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

/// The view a layer samples: base (opaque, encoded-output) image layers read the stored sRGB
/// bytes as they are, through a non-sRGB view; everything else gets linear light.
pub(crate) fn image_view(
    texture: &wgpu::Texture,
    img: &LayerImage,
    base: bool,
) -> wgpu::TextureView {
    match img {
        LayerImage::Rgba { .. } if base => texture.create_view(&wgpu::TextureViewDescriptor {
            label: Some("layer.image.encoded_view"),
            format: Some(wgpu::TextureFormat::Rgba8Unorm),
            ..Default::default()
        }),
        _ => texture.create_view(&Default::default()),
    }
}

/// A texture holding `img` (checked against its size and the adapter's limit).
pub(crate) fn upload_image(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    label: &str,
    img: &LayerImage,
) -> Result<wgpu::Texture, GpuError> {
    img.check()?;
    let (w, h) = img.size();
    let max = device.limits().max_texture_dimension_2d;
    if w > max || h > max {
        return Err(GpuError::Config(format!(
            "image of {w}x{h} exceeds this adapter's limit of {max} pixels per side"
        )));
    }
    let texture = device.create_texture(&wgpu::TextureDescriptor {
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
    write_image(queue, &texture, img);
    Ok(texture)
}

/// Replaces the pixels of a texture of `img`'s size and format.
pub(crate) fn write_image(queue: &wgpu::Queue, texture: &wgpu::Texture, img: &LayerImage) {
    let (w, h) = img.size();
    queue.write_texture(
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

/// A pipeline of helper passes: shader, vertex and fragment entry points (the fragment one
/// empty for compute), group-1 layout, target format (none for compute).
type HelperKey = (
    &'static str,
    (&'static str, &'static str),
    Group,
    Option<wgpu::TextureFormat>,
);

/// Every pipeline of a frame renderer, each created once (a clone is a handle to the same one).
#[derive(Debug, Default)]
pub(crate) struct PipelinePool {
    /// Layer pipelines by shader (`custom#<index>` for user shaders), base pass, blend mode.
    layers: HashMap<(String, bool, BlendMode), wgpu::RenderPipeline>,
    render: HashMap<HelperKey, wgpu::RenderPipeline>,
    compute: HashMap<HelperKey, wgpu::ComputePipeline>,
}

impl PipelinePool {
    /// The pipeline that draws layer `index` (`spec`) in the base pass or blended.
    pub fn layer(
        &mut self,
        device: &wgpu::Device,
        layouts: &Layouts,
        spec: &LayerSpec,
        index: usize,
        base: bool,
    ) -> Result<wgpu::RenderPipeline, GpuError> {
        let shader = match spec.kind.custom_shader() {
            Some(_) => format!("custom#{index}"),
            None => spec.kind.shader().to_owned(),
        };
        let key = (shader, base, spec.blend);
        if let Some(pipeline) = self.layers.get(&key) {
            return Ok(pipeline.clone());
        }
        let module = match spec.kind.custom_shader() {
            Some(shader) => shaders::create_custom_module(device, shader)?,
            None => shaders::create_module(device, spec.kind.shader())?,
        };
        let pipeline = layer_pipeline(device, &layouts.layer_pipeline, &module, spec, base);
        self.layers.insert(key, pipeline.clone());
        Ok(pipeline)
    }

    /// A render pipeline without blending for an update or post-processing pass.
    pub fn render(
        &mut self,
        device: &wgpu::Device,
        layouts: &Layouts,
        path: &'static str,
        (vertex, fragment): (&'static str, &'static str),
        group: Group,
        format: wgpu::TextureFormat,
    ) -> Result<wgpu::RenderPipeline, GpuError> {
        let key = (path, (vertex, fragment), group, Some(format));
        if let Some(pipeline) = self.render.get(&key) {
            return Ok(pipeline.clone());
        }
        let module = shaders::create_module(device, path)?;
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(path),
            bind_group_layouts: &[Some(&layouts.frame), Some(layouts.group(group))],
            immediate_size: 0,
        });
        let pipeline = unblended_pipeline(
            device,
            path,
            &layout,
            &module,
            (vertex, fragment),
            &[format],
        );
        self.render.insert(key, pipeline.clone());
        Ok(pipeline)
    }

    /// A compute pipeline with a [`Group::Compute`] group 1.
    pub fn compute(
        &mut self,
        device: &wgpu::Device,
        layouts: &Layouts,
        path: &'static str,
        entry: &'static str,
    ) -> Result<wgpu::ComputePipeline, GpuError> {
        let key = (path, (entry, ""), Group::Compute, None);
        if let Some(pipeline) = self.compute.get(&key) {
            return Ok(pipeline.clone());
        }
        let module = shaders::create_module(device, path)?;
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(path),
            bind_group_layouts: &[Some(&layouts.frame), Some(&layouts.compute)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&format!("{path}:{entry}")),
            layout: Some(&layout),
            module: &module,
            entry_point: Some(entry),
            compilation_options: Default::default(),
            cache: None,
        });
        self.compute.insert(key, pipeline.clone());
        Ok(pipeline)
    }
}

/// What a layer kind may use while it creates its own state ([`crate::layers::Kind::resources`]).
pub(crate) struct Setup<'a> {
    pub device: &'a wgpu::Device,
    pub queue: &'a wgpu::Queue,
    pub config: RendererConfig,
    pub layouts: &'a Layouts,
    pub pipelines: &'a mut PipelinePool,
    /// The frame drawn so far (what post effects read), in linear light.
    pub target_view: &'a wgpu::TextureView,
    /// Bound where a layer reads no storage buffer.
    pub dummy_storage: &'a wgpu::Buffer,
    /// The layer's uniform buffer, already holding its first parameters.
    pub params: &'a wgpu::Buffer,
}

impl Setup<'_> {
    /// A helper render pipeline from the pool (see [`PipelinePool::render`]).
    pub fn render_pipeline(
        &mut self,
        path: &'static str,
        entry_points: (&'static str, &'static str),
        group: Group,
        format: wgpu::TextureFormat,
    ) -> Result<wgpu::RenderPipeline, GpuError> {
        self.pipelines
            .render(self.device, self.layouts, path, entry_points, group, format)
    }

    /// A compute pipeline from the pool (see [`PipelinePool::compute`]).
    pub fn compute_pipeline(
        &mut self,
        path: &'static str,
        entry: &'static str,
    ) -> Result<wgpu::ComputePipeline, GpuError> {
        self.pipelines
            .compute(self.device, self.layouts, path, entry)
    }
}

/// The pipeline of a layer: `vs_main`/`fs_main` of its shader, drawn into the base pass
/// (non-sRGB view, no blending) or blended in linear light with the layer's blend mode.
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
