//! The shape of the conversion passes after the layers (NV12, straight alpha): one fullscreen
//! triangle whose fragment shader reads the render target through one texture binding and
//! writes its own targets without blending.

use crate::renderer::resources::unblended_pipeline;
use crate::{GpuError, shaders};

/// A conversion pass's pipeline and the bind group that feeds it the target.
#[derive(Debug)]
pub(crate) struct SourcePass {
    pipeline: wgpu::RenderPipeline,
    bind_group: wgpu::BindGroup,
}

impl SourcePass {
    /// The pass of `path`'s `fs_entry` (the file imports shared/fullscreen.wgsl and reads
    /// `@group(0) @binding(0)`, a 2D float texture) over `source`, writing `targets` formats.
    pub(crate) fn new(
        device: &wgpu::Device,
        path: &str,
        fs_entry: &str,
        source: &wgpu::TextureView,
        targets: &[wgpu::TextureFormat],
    ) -> Result<Self, GpuError> {
        let module = shaders::create_module(device, path)?;
        let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(path),
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
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(path),
            bind_group_layouts: &[Some(&bgl)],
            immediate_size: 0,
        });
        let pipeline = unblended_pipeline(
            device,
            path,
            &layout,
            &module,
            ("vs_fullscreen", fs_entry),
            targets,
        );
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(path),
            layout: &bgl,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::TextureView(source),
            }],
        });
        Ok(Self {
            pipeline,
            bind_group,
        })
    }

    /// Records the pass into `views` (one per target format), cleared first.
    pub(crate) fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        label: &str,
        views: &[&wgpu::TextureView],
    ) {
        let attachments: Vec<Option<wgpu::RenderPassColorAttachment<'_>>> = views
            .iter()
            .map(|view| {
                Some(wgpu::RenderPassColorAttachment {
                    view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                        store: wgpu::StoreOp::Store,
                    },
                })
            })
            .collect();
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some(label),
            color_attachments: &attachments,
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.draw(0..3, 0..1);
    }
}
