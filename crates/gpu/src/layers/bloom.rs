//! The bloom layer (a post effect): it ends the layer pass before it and reads the frame drawn
//! so far. Three passes at quarter size into two Rgba16Float ping-pong textures (extract the
//! bright parts: frame -> a; blur horizontally: a -> b; vertically: b -> a), each with its own
//! copy of the parameters (direction and texel size set per pass), then the layer's own draw
//! adds texture a over the frame (shaders/post/bloom.wgsl).

use bytemuck::{Pod, Zeroable};

use super::{Kind, Pass, Resources};
use crate::GpuError;
use crate::renderer::Setup;
use crate::renderer::resources::{
    Group, color_pass, layer_bind_group, sampler, texture_2d, uniform_buffer,
};

/// Mirror of `BloomParams` in shaders/post/bloom.wgsl (the host sets `direction` and `texel`
/// per pass).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct BloomParams {
    pub threshold: f32,
    pub knee: f32,
    pub intensity: f32,
    pub opacity: f32,
    pub direction: [f32; 2],
    pub texel: [f32; 2],
}

impl Kind for BloomParams {
    const NAME: &'static str = "bloom";
    const SHADER: &'static str = "post/bloom.wgsl";

    /// One triangle covering the frame.
    fn draw_range(&self) -> (u32, u32) {
        (3, 1)
    }

    fn resources(&self, setup: &mut Setup<'_>) -> Result<Resources, GpuError> {
        let (width, height) = (setup.config.width, setup.config.height);
        let size = ((width / 4).max(1), (height / 4).max(1));
        let format = wgpu::TextureFormat::Rgba16Float;
        let make = |label| {
            texture_2d(
                setup.device,
                label,
                size,
                format,
                wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
            )
            .create_view(&Default::default())
        };
        let views = [make("layer.bloom.a"), make("layer.bloom.b")];
        let extract = setup.render_pipeline(
            Self::SHADER,
            ("vs_main", "fs_extract"),
            Group::Layer,
            format,
        )?;
        let blur =
            setup.render_pipeline(Self::SHADER, ("vs_main", "fs_blur"), Group::Layer, format)?;
        let size_of = std::mem::size_of::<Self>();
        let params = [
            "layer.bloom.extract",
            "layer.bloom.blur_h",
            "layer.bloom.blur_v",
        ]
        .map(|label| uniform_buffer(setup.device, label, size_of));
        let linear = sampler(setup.device, false);
        let sources = [setup.target_view, &views[0], &views[1]];
        let bind_groups = [0, 1, 2].map(|k| {
            layer_bind_group(
                setup.device,
                setup.layouts.group(Group::Layer),
                "layer.bloom.pass",
                &params[k],
                sources[k],
                &linear,
                setup.dummy_storage,
            )
        });
        let glow = Glow {
            pipelines: [extract, blur],
            views,
            bind_groups,
            params,
            full_texel: [1.0 / width as f32, 1.0 / height as f32],
            quarter_texel: [1.0 / size.0 as f32, 1.0 / size.1 as f32],
        };
        glow.params_changed(setup.queue, bytemuck::bytes_of(self));
        Ok(Resources {
            view: Some(glow.views[0].clone()),
            pass: Some(Box::new(glow)),
            ..Resources::default()
        })
    }
}

/// The extract and blur passes and their quarter-resolution ping-pong textures.
#[derive(Debug)]
struct Glow {
    /// Extract, blur.
    pipelines: [wgpu::RenderPipeline; 2],
    views: [wgpu::TextureView; 2],
    /// Extract, horizontal blur, vertical blur.
    bind_groups: [wgpu::BindGroup; 3],
    params: [wgpu::Buffer; 3],
    full_texel: [f32; 2],
    quarter_texel: [f32; 2],
}

impl Pass for Glow {
    fn reads_frame(&self) -> bool {
        true
    }

    fn encode_post(&self, encoder: &mut wgpu::CommandEncoder, frame: &wgpu::BindGroup) {
        let [extract, blur] = &self.pipelines;
        // extract: frame -> a; blur h: a -> b; blur v: b -> a.
        let steps = [(extract, 0, 0), (blur, 1, 1), (blur, 2, 0)];
        for (pipeline, group, out) in steps {
            let mut pass = color_pass(
                encoder,
                "layer.bloom.pass",
                &self.views[out],
                wgpu::LoadOp::Clear(wgpu::Color::BLACK),
            );
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, frame, &[]);
            pass.set_bind_group(1, &self.bind_groups[group], &[]);
            pass.draw(0..3, 0..1);
        }
    }

    /// Writes the three per-pass copies of the parameters.
    fn params_changed(&self, queue: &wgpu::Queue, bytes: &[u8]) {
        let p: BloomParams = bytemuck::pod_read_unaligned(bytes);
        let passes = [
            BloomParams {
                texel: self.full_texel,
                ..p
            },
            BloomParams {
                direction: [1.0, 0.0],
                texel: self.quarter_texel,
                ..p
            },
            BloomParams {
                direction: [0.0, 1.0],
                texel: self.quarter_texel,
                ..p
            },
        ];
        for (buffer, pass) in self.params.iter().zip(passes) {
            queue.write_buffer(buffer, 0, bytemuck::bytes_of(&pass));
        }
    }
}
