//! The spectrogram layer: a scrolling history of band levels. Its state is a ring texture
//! (R16Float, `columns` frames wide, one row per band) cleared to silence once; every frame,
//! drawn or warm-up, an update pass writes the frame's levels into column
//! `frame_index % columns` (a one-column scissor), so the history depends only on the absolute
//! frame number. The layer samples the ring with u repeating, newest column at the right.

use bytemuck::{Pod, Zeroable};

use super::{Kind, Pass, Resources};
use crate::GpuError;
use crate::renderer::Setup;
use crate::renderer::resources::{Group, color_pass, texture_2d};

/// Mirror of `SpectrogramParams` in shaders/layers/spectrogram.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct SpectrogramParams {
    pub rect: [f32; 4],
    pub opacity: f32,
    /// Frames of history (width of the ring texture), 2..=8192.
    pub columns: u32,
    /// 0 viridis, 1 magma, 2 inferno, 3 grey.
    pub palette: u32,
    pub gamma: f32,
}

impl Kind for SpectrogramParams {
    const NAME: &'static str = "spectrogram";
    const SHADER: &'static str = "layers/spectrogram.wgsl";

    fn draw_range(&self) -> (u32, u32) {
        (6, 1)
    }

    fn resources(&self, setup: &mut Setup<'_>) -> Result<Resources, GpuError> {
        let max = setup.device.limits().max_texture_dimension_2d;
        let columns = self.columns.clamp(2, max);
        let rows = setup.config.bands.clamp(1, max);
        let texture = texture_2d(
            setup.device,
            "layer.spectrogram.history",
            (columns, rows),
            wgpu::TextureFormat::R16Float,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
        );
        let view = texture.create_view(&Default::default());
        // Start from silence: clear the ring once.
        let mut encoder = setup.device.create_command_encoder(&Default::default());
        color_pass(
            &mut encoder,
            "layer.spectrogram.clear",
            &view,
            wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
        );
        setup.queue.submit([encoder.finish()]);
        let pipeline = setup.render_pipeline(
            Self::SHADER,
            ("vs_update", "fs_update"),
            Group::Params,
            wgpu::TextureFormat::R16Float,
        )?;
        let bind_group = setup.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("layer.spectrogram.update"),
            layout: setup.layouts.group(Group::Params),
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: setup.params.as_entire_binding(),
            }],
        });
        Ok(Resources {
            view: Some(view.clone()),
            repeat_u: true,
            pass: Some(Box::new(HistoryUpdate {
                pipeline,
                view,
                bind_group,
                columns,
                rows,
            })),
            ..Resources::default()
        })
    }
}

/// Writes one column of the history ring per frame.
#[derive(Debug)]
struct HistoryUpdate {
    pipeline: wgpu::RenderPipeline,
    view: wgpu::TextureView,
    bind_group: wgpu::BindGroup,
    columns: u32,
    rows: u32,
}

impl Pass for HistoryUpdate {
    fn is_stateful(&self) -> bool {
        true
    }

    fn update(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        frame: &wgpu::BindGroup,
        frame_index: u32,
    ) {
        let mut pass = color_pass(
            encoder,
            "layer.spectrogram.update",
            &self.view,
            wgpu::LoadOp::Load,
        );
        pass.set_scissor_rect(frame_index % self.columns, 0, 1, self.rows);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, frame, &[]);
        pass.set_bind_group(1, &self.bind_group, &[]);
        pass.draw(0..3, 0..1);
    }
}
