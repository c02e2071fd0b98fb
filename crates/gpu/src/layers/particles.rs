//! The particles layer: a fixed-size pool of particles (`capacity` slots of [`PARTICLE_BYTES`]
//! in a storage buffer, all dead at creation) simulated by a compute pass every frame, drawn or
//! warm-up (shaders/layers/particles_sim.wgsl: emission from a hash of the absolute frame
//! number, gravity, drag, death), then drawn as one instanced quad per slot, added by default.

use bytemuck::{Pod, Zeroable};

use super::{BlendMode, Kind, Pass, Resources};
use crate::GpuError;
use crate::renderer::Setup;
use crate::renderer::resources::Group;

/// Mirror of `ParticlesParams` in shaders/shared/particles.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct ParticlesParams {
    pub rect: [f32; 4],
    pub color_a: [f32; 4],
    pub color_b: [f32; 4],
    pub emitter: [f32; 2],
    pub gravity: [f32; 2],
    /// Slots (fixed at creation, 1..=65536).
    pub capacity: u32,
    pub emit_start: u32,
    pub emit_count: u32,
    /// 0 = point emitter, 1 = anywhere in the rect, 2 = along its bottom edge.
    pub shape: u32,
    pub speed: f32,
    pub life: f32,
    pub size: f32,
    pub dt: f32,
    pub opacity: f32,
    pub drag: f32,
    pub spread: f32,
    pub direction: f32,
}

/// Bytes of one particle in the state buffer (`Particle` in shaders/shared/particles.wgsl).
pub const PARTICLE_BYTES: u64 = 32;

impl Kind for ParticlesParams {
    const NAME: &'static str = "particles";
    const SHADER: &'static str = "layers/particles.wgsl";
    const BLEND: BlendMode = BlendMode::Add;

    /// One quad per slot (dead slots collapse to nothing in the vertex stage).
    fn draw_range(&self) -> (u32, u32) {
        (6, self.capacity)
    }

    fn resources(&self, setup: &mut Setup<'_>) -> Result<Resources, GpuError> {
        if !(1..=65_536).contains(&self.capacity) {
            return Err(GpuError::Config(format!(
                "particle capacity {} is outside 1..=65536",
                self.capacity
            )));
        }
        let state = setup.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("layer.particles.state"),
            size: u64::from(self.capacity) * PARTICLE_BYTES,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        // Every slot starts dead (age -1).
        let dead: Vec<f32> = (0..self.capacity)
            .flat_map(|_| [0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0])
            .collect();
        setup
            .queue
            .write_buffer(&state, 0, bytemuck::cast_slice(&dead));
        let pipeline = setup.compute_pipeline("layers/particles_sim.wgsl", "cs_main")?;
        let bind_group = setup.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("layer.particles.sim"),
            layout: setup.layouts.group(Group::Compute),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: setup.params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: state.as_entire_binding(),
                },
            ],
        });
        Ok(Resources {
            storage: Some(state),
            pass: Some(Box::new(Simulation {
                pipeline,
                bind_group,
                workgroups: self.capacity.div_ceil(64),
            })),
            ..Resources::default()
        })
    }
}

/// The compute pass that moves, spawns and retires particles, 64 slots a workgroup.
#[derive(Debug)]
struct Simulation {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    workgroups: u32,
}

impl Pass for Simulation {
    fn is_stateful(&self) -> bool {
        true
    }

    fn update(&self, encoder: &mut wgpu::CommandEncoder, frame: &wgpu::BindGroup, _index: u32) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("layer.particles.sim"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, frame, &[]);
        pass.set_bind_group(1, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.workgroups, 1, 1);
    }
}
