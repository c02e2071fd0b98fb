//! The frame renderer, generic over layer kinds: a layer stack -> sRGB render target -> NV12
//! planes -> readback ring. Every layer gets a uniform buffer of its parameters, a texture
//! (its [`LayerSpec::image`] for textured kinds), a sampler, a bind group and a pipeline from
//! the pool; what a kind needs beyond that (its own textures, buffers and passes) it creates
//! itself ([`crate::layers`]), and the frame records it through its [`Pass`]: state updates
//! before the layers, post passes (bloom) between layer passes.

mod base_cache;
mod cpu_picture;
pub(crate) mod resources;

pub(crate) use resources::Setup;
use resources::{
    Layouts, PipelinePool, color_pass, frame_texture, layer_bind_group, sampler, texture_2d,
    uniform_buffer, upload_image, write_image,
};

use base_cache::{BaseCache, BaseDraw};
use cpu_picture::CpuPicture;

use crate::layers::{LayerImage, LayerKind, PARTICLE_BYTES, Pass};
use crate::nv12::Nv12Converter;
use crate::readback::ReadbackRing;
use crate::rgba::{RgbaConverter, RgbaLayout};
use crate::{
    FrameLayout, FrameOutput, FrameSink, FrameUniforms, GpuContext, GpuError, ImageParams,
    LayerSpec, Nv12Layout,
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
    /// What the readback ring carries: NV12 or RGBA frames.
    pub output: FrameOutput,
    /// Frames start transparent instead of black (layers leave alpha where they draw nothing);
    /// RGBA frames then come back with straight alpha.
    pub transparent: bool,
}

/// Largest frame side accepted (wgpu's guaranteed 2D texture limit is 8192).
pub const MAX_SIDE: u32 = 8192;

#[derive(Debug)]
struct LayerGpu {
    name: &'static str,
    /// Drawn in the first pass, through the non-sRGB view, without blending.
    base: bool,
    pipeline: wgpu::RenderPipeline,
    params: wgpu::Buffer,
    /// The parameters last written (writes of the same bytes are skipped).
    params_bytes: Vec<u8>,
    sampler: wgpu::Sampler,
    storage: Option<wgpu::Buffer>,
    /// The layer's own texture (images, text) and its format and size.
    image: Option<(wgpu::Texture, wgpu::TextureFormat, (u32, u32))>,
    bind_group: wgpu::BindGroup,
    vertices: u32,
    instances: u32,
    /// The kind's own passes (state updates, post effects).
    pass: Option<Box<dyn Pass>>,
    /// A base picture kept on the CPU, to be resampled there on a software adapter.
    cpu_picture: Option<CpuPicture>,
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
    pipelines: PipelinePool,
    layers: Vec<LayerGpu>,
    nv12: Nv12Converter,
    /// RGBA frames: the ring's for [`FrameOutput::Rgba`], and [`Self::render_rgba`]'s over a
    /// transparent background (straight alpha).
    rgba: Option<RgbaConverter>,
    ring: ReadbackRing,
    /// The base pass's result while its layers do not change.
    base_cache: BaseCache,
    /// A frame and two filtered rows for [`CpuPicture::draw`].
    cpu_scratch: (Vec<u8>, [Vec<u16>; 2]),
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
        let (target, encoded_view) = frame_texture(
            device,
            "frame.target",
            (config.width, config.height),
            wgpu::TextureUsages::RENDER_ATTACHMENT
                | wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::COPY_SRC
                | wgpu::TextureUsages::COPY_DST,
        );
        let target_view = target.create_view(&Default::default());
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
        let rgba_layout = RgbaLayout::new(config.width, config.height);
        let rgba = (config.output == FrameOutput::Rgba || config.transparent)
            .then(|| RgbaConverter::new(device, &target_view, rgba_layout, config.transparent))
            .transpose()?;
        let frame_bytes = match config.output {
            FrameOutput::Nv12 => layout.size,
            FrameOutput::Rgba => rgba_layout.size,
        };
        let ring = ReadbackRing::new(device, config.ring_slots, frame_bytes);
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
            pipelines: PipelinePool::default(),
            layers: Vec::with_capacity(layers.len()),
            nv12,
            rgba,
            ring,
            base_cache: BaseCache::default(),
            cpu_scratch: (Vec::new(), [Vec::new(), Vec::new()]),
        };
        let size = (config.width, config.height);
        // The leading run of opaque layers forms the base pass.
        let opaque = |l: &LayerSpec| {
            l.kind.is_opaque(size)
                && !l.dynamic_alpha
                && (!l.kind.is_textured() || l.image.as_ref().is_some_and(LayerImage::is_opaque))
        };
        for (i, layer) in layers.iter().enumerate() {
            let base = layers[..=i].iter().all(opaque);
            let gpu_layer = renderer.create_layer(layer, i, base)?;
            renderer.layers.push(gpu_layer);
        }
        if !renderer.layers.iter().any(|l| l.base) {
            log::debug!(
                "no opaque first layer: frames start from {}",
                if config.transparent {
                    "transparent"
                } else {
                    "black"
                }
            );
        }
        renderer.ctx.check()?;
        Ok(renderer)
    }

    /// Creates the pipeline, buffers, textures and bind group of layer `index`, and whatever
    /// its kind adds.
    fn create_layer(
        &mut self,
        layer: &LayerSpec,
        index: usize,
        base: bool,
    ) -> Result<LayerGpu, GpuError> {
        let (device, queue) = (&self.ctx.device, &self.ctx.queue);
        let pipeline = self
            .pipelines
            .layer(device, &self.layouts, layer, index, base)?;
        let name = layer.kind.name();
        let label = format!("layer.{name}");
        let params_bytes = layer.kind.params_bytes();
        let params = uniform_buffer(device, &label, params_bytes.len());
        queue.write_buffer(&params, 0, params_bytes);
        let (vertices, instances) = layer.kind.draw_range();
        let mut image = None;
        let mut image_view = None;
        if layer.kind.is_textured() {
            let Some(img) = &layer.image else {
                return Err(GpuError::Config(format!(
                    "the {name} layer has no image to draw"
                )));
            };
            let texture = upload_image(device, queue, &label, img)?;
            image_view = Some(resources::image_view(&texture, img, base));
            image = Some((texture, img.format(), img.size()));
        }
        let own = layer.kind.resources(&mut Setup {
            device,
            queue,
            config: self.config,
            layouts: &self.layouts,
            pipelines: &mut self.pipelines,
            target_view: &self.target_view,
            dummy_storage: &self.dummy_storage,
            params: &params,
        })?;
        let sampler = sampler(device, own.repeat_u);
        // On a software adapter a base picture is resampled on the CPU (see cpu_picture).
        let cpu_picture = match (&layer.kind, &layer.image) {
            (
                LayerKind::Image(_),
                Some(LayerImage::Rgba {
                    width,
                    height,
                    pixels,
                }),
            ) if base && self.ctx.adapter.software && !own.repeat_u && cpu_pictures() => {
                Some(CpuPicture {
                    width: *width,
                    height: *height,
                    pixels: pixels.clone(),
                })
            }
            _ => None,
        };
        let bind_group = layer_bind_group(
            device,
            &self.layouts.layer,
            &label,
            &params,
            image_view
                .as_ref()
                .or(own.view.as_ref())
                .unwrap_or(&self.dummy_view),
            &sampler,
            own.storage.as_ref().unwrap_or(&self.dummy_storage),
        );
        Ok(LayerGpu {
            name,
            base,
            pipeline,
            params,
            params_bytes: params_bytes.to_vec(),
            sampler,
            storage: own.storage,
            image,
            bind_group,
            vertices,
            instances,
            pass: own.pass,
            cpu_picture,
        })
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
            .get_mut(index)
            .ok_or_else(|| GpuError::Config(format!("there is no layer {index} to update")))?;
        let bytes = kind.params_bytes();
        if layer.name != kind.name() || bytes.len() != layer.params_bytes.len() {
            return Err(GpuError::Config(format!(
                "layer {index} is a {} layer; its parameters cannot be replaced by a {} layer's",
                layer.name,
                kind.name()
            )));
        }
        if layer.params_bytes == bytes {
            return Ok(());
        }
        self.ctx.queue.write_buffer(&layer.params, 0, bytes);
        if let Some(pass) = &layer.pass {
            pass.params_changed(&self.ctx.queue, bytes);
        }
        if layer.base {
            self.base_cache.changed();
        }
        layer.params_bytes.clear();
        layer.params_bytes.extend_from_slice(bytes);
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
                write_image(&self.ctx.queue, texture, img);
            }
            Some(_) => {
                let label = format!("layer.{}", layer.name);
                let texture = upload_image(&self.ctx.device, &self.ctx.queue, &label, img)?;
                let view = resources::image_view(&texture, img, layer.base);
                let bind_group = layer_bind_group(
                    &self.ctx.device,
                    &self.layouts.layer,
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
        let layer = &mut self.layers[index];
        if let (
            Some(cpu),
            LayerImage::Rgba {
                width,
                height,
                pixels,
            },
        ) = (&mut layer.cpu_picture, img)
        {
            cpu.width = *width;
            cpu.height = *height;
            cpu.pixels.clone_from(pixels);
        }
        if layer.base {
            self.base_cache.changed();
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

    /// Where the NV12 planes lie in a padded frame ([`Self::submit_into`]; the frames handed
    /// to sinks where the output is NV12).
    pub fn layout(&self) -> Nv12Layout {
        self.nv12.layout
    }

    /// The layout of the padded frames handed to sinks (NV12 or RGBA, as configured).
    pub fn frame_layout(&self) -> FrameLayout {
        match (&self.rgba, self.config.output) {
            (Some(c), FrameOutput::Rgba) => FrameLayout::Rgba(c.layout),
            _ => FrameLayout::Nv12(self.nv12.layout),
        }
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

    /// Records the per-frame update passes of stateful layers (the spectrogram's history
    /// column, the particle simulation), in layer order.
    fn encode_updates(&self, encoder: &mut wgpu::CommandEncoder, frame_index: u32) {
        for pass in self.layers.iter().filter_map(|l| l.pass.as_deref()) {
            pass.update(encoder, &self.frame_bind_group, frame_index);
        }
    }

    /// Records the layer passes: the opaque base layers through the non-sRGB view (they store
    /// encoded colour directly), then the blended layers through the sRGB view, so blending
    /// happens in linear light. A layer whose pass reads the frame (bloom) ends the current
    /// pass and records its post passes before its own draw starts the next one. Without an
    /// opaque base the target starts black (transparent over a transparent background).
    fn encode_layers(&mut self, encoder: &mut wgpu::CommandEncoder) {
        let mut drawn = false;
        if self.layers.iter().any(|l| l.base) {
            let plan = self.base_cache.plan();
            if plan == BaseDraw::Fill {
                let size = (self.config.width, self.config.height);
                let view = self.base_cache.fill(&self.ctx.device, size);
                self.base_pass(encoder, &view);
            }
            match (plan, self.base_cache.texture()) {
                (BaseDraw::Copy | BaseDraw::Fill, Some(cache)) => {
                    encoder.copy_texture_to_texture(
                        cache.as_image_copy(),
                        self.target.as_image_copy(),
                        self.target.size(),
                    );
                }
                _ => {
                    if !self.cpu_base() {
                        self.base_pass(encoder, &self.encoded_view);
                    }
                }
            }
            drawn = true;
        }
        let mut segment: Vec<&LayerGpu> = Vec::new();
        for layer in self.layers.iter().filter(|l| !l.base) {
            if let Some(post) = layer.pass.as_deref().filter(|p| p.reads_frame()) {
                if !segment.is_empty() || !drawn {
                    self.layer_pass(encoder, &self.target_view, drawn, &segment);
                    drawn = true;
                }
                segment.clear();
                post.encode_post(encoder, &self.frame_bind_group);
            }
            segment.push(layer);
        }
        if !segment.is_empty() || !drawn {
            self.layer_pass(encoder, &self.target_view, drawn, &segment);
        }
    }

    /// Resamples the top base layer's picture on the CPU into the target, where it has one
    /// (software adapters); false where the base pass must draw it.
    fn cpu_base(&mut self) -> bool {
        let Some(top) = self.layers.iter().rfind(|l| l.base) else {
            return false;
        };
        let Some(picture) = &top.cpu_picture else {
            return false;
        };
        let params: ImageParams = bytemuck::pod_read_unaligned(&top.params_bytes);
        let size = (self.config.width, self.config.height);
        let (frame, rows) = &mut self.cpu_scratch;
        picture.draw(&params, size, frame, rows);
        // Ordered before this frame's commands and after every earlier submission's.
        self.ctx.queue.write_texture(
            self.target.as_image_copy(),
            frame,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(size.0 * 4),
                rows_per_image: Some(size.1),
            },
            self.target.size(),
        );
        true
    }

    /// Draws the base into `view`, a non-sRGB view. Base layers are opaque over the whole
    /// frame and drawn without blending, so each hides all below it: only the last is drawn
    /// (a colour under a full-frame picture costs nothing). It writes every pixel, so on a
    /// software adapter the pass keeps the old contents instead of clearing them first: a
    /// clear is a fill of the whole target there (8% of a zooming picture's frame).
    fn base_pass(&self, encoder: &mut wgpu::CommandEncoder, view: &wgpu::TextureView) {
        let top: Vec<&LayerGpu> = self.layers.iter().rfind(|l| l.base).into_iter().collect();
        self.layer_pass(encoder, view, self.ctx.adapter.software, &top);
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
            } else if self.config.transparent {
                wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT)
            } else {
                wgpu::LoadOp::Clear(wgpu::Color::BLACK)
            },
        );
        pass.set_bind_group(0, &self.frame_bind_group, &[]);
        for layer in layers {
            pass.set_pipeline(&layer.pipeline);
            pass.set_bind_group(1, &layer.bind_group, &[]);
            pass.draw(0..layer.vertices, 0..layer.instances);
        }
    }

    /// Writes the frame's uniforms and records its update and layer passes into a new encoder.
    fn begin_frame(&mut self, uniforms: &FrameUniforms, label: &str) -> wgpu::CommandEncoder {
        let mut encoder = self.begin_updates(uniforms, label);
        self.encode_layers(&mut encoder);
        encoder
    }

    /// Writes the frame's uniforms and records the stateful layers' update passes into a new
    /// encoder (all a warm-up frame runs).
    fn begin_updates(&self, uniforms: &FrameUniforms, label: &str) -> wgpu::CommandEncoder {
        self.ctx
            .queue
            .write_buffer(&self.frame_buffer, 0, bytemuck::bytes_of(uniforms));
        let mut encoder = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        self.encode_updates(&mut encoder, uniforms.frame_index);
        encoder
    }

    /// Runs only the update passes of stateful layers (spectrogram history, particles) for a
    /// frame that is not drawn: the warm-up before the first frame of a render or preview.
    pub fn advance(&mut self, uniforms: &FrameUniforms) -> Result<(), GpuError> {
        if !self.is_stateful() {
            return Ok(());
        }
        let encoder = self.begin_updates(uniforms, "frame.advance");
        self.ctx.queue.submit([encoder.finish()]);
        self.ctx.check()
    }

    /// True when some layer keeps state from frame to frame (and so needs a warm-up).
    pub fn is_stateful(&self) -> bool {
        self.layers
            .iter()
            .any(|l| l.pass.as_ref().is_some_and(|p| p.is_stateful()))
    }

    /// Draws and converts one frame and queues its readback. When all ring slots are busy, the
    /// oldest frame is completed first and handed to `sink` as a padded frame (see
    /// [`Self::frame_layout`]).
    pub fn submit<E: From<GpuError>>(
        &mut self,
        uniforms: &FrameUniforms,
        sink: &mut FrameSink<'_, E>,
    ) -> Result<(), E> {
        let slot = self.ring.acquire(&self.ctx.device, sink)?;
        let mut encoder = self.begin_frame(uniforms, "frame.encoder");
        match (&self.rgba, self.config.output) {
            (Some(rgba), FrameOutput::Rgba) => {
                rgba.encode(&mut encoder, &self.target, self.ring.buffer(slot));
            }
            _ => self.nv12.encode(&mut encoder, self.ring.buffer(slot)),
        }
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

    /// Draws one frame and returns it as tightly packed sRGB-encoded RGBA8 (for stills and
    /// tests), with straight alpha over a transparent background. Does not touch the readback
    /// ring.
    pub fn render_rgba(&mut self, uniforms: &FrameUniforms) -> Result<Vec<u8>, GpuError> {
        let (w, h) = (self.config.width, self.config.height);
        let layout = RgbaLayout::new(w, h);
        let pitch = layout.pitch;
        let buffer = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("frame.rgba_readback"),
            size: layout.size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.begin_frame(uniforms, "frame.rgba.encoder");
        match &self.rgba {
            Some(rgba) => rgba.encode(&mut encoder, &self.target, &buffer),
            None => RgbaConverter::copy(&mut encoder, &self.target, &buffer, layout),
        }
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

/// Whether base pictures may be resampled on the CPU on software adapters:
/// `RENDERER_CPU_PICTURE=0` keeps them in the GPU pass (for comparisons).
fn cpu_pictures() -> bool {
    std::env::var("RENDERER_CPU_PICTURE").map_or(true, |v| v != "0")
}
