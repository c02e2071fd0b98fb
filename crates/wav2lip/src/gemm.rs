//! Convolution as implicit GEMM on the GPU (shaders/nn/conv_gemm.wgsl).
//!
//! `M` = output channels, `N` = batch x output pixels, `K` = input channels x taps. The kernel
//! stages a 64 x 16 tile of weights and a 16 x 64 tile gathered from the NCHW activations in
//! workgroup memory (8 KiB, inside every device's limit) and each of its 256 invocations keeps a
//! 4 x 4 block of the 64 x 64 output tile in registers. The batch is folded into `N`, so deep
//! layers with few pixels still fill whole tiles at large batches.
//!
//! A transposed convolution runs as its `stride^2` sub-pixel phases
//! ([`crate::model::LayerDef::axis_taps`]), each an ordinary GEMM writing an interleaved
//! sub-grid of the output: nothing is multiplied by an inserted zero. Every phase has its own
//! weights, packed once as `[K][M]` (zero-padded to whole tiles, so the weight loads need no
//! bounds tests), and its own pipeline, specialised by `override` constants (taps and steps,
//! activation, residual) so the tap arithmetic folds at pipeline creation. Pipelines are shared
//! by every phase and layer of the same shape.

use std::collections::HashMap;

use bytemuck::{Pod, Zeroable};

use crate::Wav2LipError;
use crate::model::{Act, FoldedLayer, LayerDef};

/// Output channels per tile (`BM` in the shader).
pub const TILE_M: usize = 64;
/// Pixels per tile (`BN`).
pub const TILE_N: usize = 64;
/// K per step (`BK`).
pub const TILE_K: usize = 16;

/// Mirror of `GemmParams` in shaders/nn/conv_gemm.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct GemmParams {
    pub n_total: u32,
    pub cout: u32,
    pub k_total: u32,
    pub in_h: u32,
    pub in_w: u32,
    pub q_h: u32,
    pub q_w: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub in_ctot: u32,
    pub in_coff: u32,
    pub out_ctot: u32,
    pub out_coff: u32,
    pub in_off_y: i32,
    pub in_off_x: i32,
    pub out_off_y: u32,
    pub out_off_x: u32,
    pub m_pad: u32,
    pub _pad: [u32; 2],
}

/// Arithmetic of the GEMM kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// f32 operands and accumulation (shaders/nn/conv_gemm.wgsl): the default everywhere.
    #[default]
    F32,
    /// f16 operands, f32 accumulation, on cooperative matrices (tensor cores;
    /// shaders/nn/conv_coop.wgsl). Needs [`gpu::COOPERATIVE_MATRIX_FEATURES`]. Unverified:
    /// never run on a GPU yet, so only ever chosen by an explicit request.
    F16,
}

impl Precision {
    /// (pixels, output channels) of one workgroup's tile.
    fn tile(self) -> (usize, usize) {
        match self {
            Self::F32 => (TILE_N, TILE_M),
            Self::F16 => (32, 32),
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            other => Err(format!(
                "unknown precision {other:?}: use \"f32\" (default) or \"f16\" (tensor cores, \
                 unverified)"
            )),
        }
    }
}

/// The `override` constants of one pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct GemmSpec {
    taps: (u32, u32),
    in_step: (i32, i32),
    tap_step: (i32, i32),
    out_step: (u32, u32),
    act: u32,
    residual: bool,
}

/// The GEMM shader module, its bind-group layout, and a pipeline per [`GemmSpec`].
#[derive(Debug)]
pub(crate) struct GemmKernels {
    precision: Precision,
    module: wgpu::ShaderModule,
    layout: wgpu::BindGroupLayout,
    pipeline_layout: wgpu::PipelineLayout,
    pipelines: HashMap<GemmSpec, wgpu::ComputePipeline>,
}

impl GemmKernels {
    pub fn new(device: &wgpu::Device, precision: Precision) -> Result<Self, Wav2LipError> {
        let file = match precision {
            Precision::F32 => "nn/conv_gemm.wgsl",
            Precision::F16 => {
                let missing = gpu::COOPERATIVE_MATRIX_FEATURES - device.features();
                if !missing.is_empty() {
                    return Err(Wav2LipError::Gpu(format!(
                        "precision \"f16\" runs on cooperative matrices (tensor cores), and \
                         this device lacks {missing:?} ({}): remove the key or use \
                         precision = \"f32\"",
                        device.adapter_info().name
                    )));
                }
                "nn/conv_coop.wgsl"
            }
        };
        let module = gpu::shaders::create_module(device, file)?;
        use crate::kernel::Binding;
        let read = Binding::Storage { read_only: true };
        let (layout, pipeline_layout) = crate::kernel::layouts(
            device,
            file,
            &[
                Binding::Uniform,
                read,
                read,
                read,
                Binding::Storage { read_only: false },
            ],
        );
        Ok(Self {
            precision,
            module,
            layout,
            pipeline_layout,
            pipelines: HashMap::new(),
        })
    }

    fn pipeline(&mut self, device: &wgpu::Device, spec: GemmSpec) -> wgpu::ComputePipeline {
        self.pipelines
            .entry(spec)
            .or_insert_with(|| {
                let constants = [
                    ("TAPS_Y", f64::from(spec.taps.0)),
                    ("TAPS_X", f64::from(spec.taps.1)),
                    ("IN_STEP_Y", f64::from(spec.in_step.0)),
                    ("IN_STEP_X", f64::from(spec.in_step.1)),
                    ("TAP_STEP_Y", f64::from(spec.tap_step.0)),
                    ("TAP_STEP_X", f64::from(spec.tap_step.1)),
                    ("OUT_STEP_Y", f64::from(spec.out_step.0)),
                    ("OUT_STEP_X", f64::from(spec.out_step.1)),
                    ("ACT", f64::from(spec.act)),
                    ("RESIDUAL", f64::from(u8::from(spec.residual))),
                ];
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some("wav2lip.gemm"),
                    layout: Some(&self.pipeline_layout),
                    module: &self.module,
                    entry_point: Some("gemm"),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants: &constants,
                        // Every tile element is written before it is read.
                        zero_initialize_workgroup_memory: false,
                    },
                    cache: None,
                })
            })
            .clone()
    }

    /// Distinct pipelines built so far.
    pub fn pipelines(&self) -> usize {
        self.pipelines.len()
    }
}

/// One GEMM of a layer: the whole of a convolution, one sub-pixel phase of a transposed one.
#[derive(Debug)]
struct Phase {
    py: usize,
    px: usize,
    out_step: (usize, usize),
    in_off: (i32, i32),
    k_total: usize,
    pipeline: wgpu::ComputePipeline,
    weights: wgpu::Buffer,
    params: wgpu::Buffer,
}

/// A layer uploaded for the GEMM kernel.
#[derive(Debug)]
pub(crate) struct GemmLayer {
    pub(crate) def: LayerDef,
    precision: Precision,
    m_pad: usize,
    phases: Vec<Phase>,
    bias: wgpu::Buffer,
    layout: wgpu::BindGroupLayout,
}

/// Where a layer reads and writes: a buffer binding and its (channels in all, first channel).
pub(crate) struct Operand<'a> {
    pub binding: wgpu::BindingResource<'a>,
    pub ctot: usize,
    pub coff: usize,
}

/// A buffer holding `data` (at least 16 bytes), uploaded through the queue.
pub(crate) fn buffer_init(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    label: &str,
    data: &[f32],
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    let buf = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: (data.len() * 4).max(16) as u64,
        usage: usage | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    queue.write_buffer(&buf, 0, bytemuck::cast_slice(data));
    buf
}

/// A layer's biases, then (PReLU) its slopes, each zero-padded to `pad` channels: the bias
/// binding of both convolution kernels.
pub(crate) fn bias_block(l: &FoldedLayer, pad: usize) -> Vec<f32> {
    let d = &l.def;
    let mut b = vec![0.0f32; pad * if d.act == Act::Prelu { 2 } else { 1 }];
    b[..d.cout].copy_from_slice(&l.bias);
    if d.act == Act::Prelu {
        b[pad..pad + d.cout].copy_from_slice(&l.prelu);
    }
    b
}

impl GemmLayer {
    /// Packs `l`'s weights per phase and uploads them; builds (or reuses) the pipelines.
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        kernels: &mut GemmKernels,
        l: &FoldedLayer,
    ) -> Self {
        let d = &l.def;
        let (kh, kw) = d.k;
        let m_pad = d.cout.div_ceil(TILE_M) * TILE_M;
        let (in_step, out_step) = d.phase_steps();
        let mut phases = Vec::new();
        for py in 0..out_step.0 {
            for px in 0..out_step.1 {
                let ys = d.axis_taps(0, py);
                let xs = d.axis_taps(1, px);
                let k_total = d.cin * ys.len() * xs.len();
                let k_pad = k_total.div_ceil(TILE_K).max(1) * TILE_K;
                // [K][M], k = (ci, jy, jx).
                let mut w = vec![0.0f32; k_pad * m_pad];
                for ci in 0..d.cin {
                    for (jy, &(ky, _)) in ys.iter().enumerate() {
                        for (jx, &(kx, _)) in xs.iter().enumerate() {
                            let k = (ci * ys.len() + jy) * xs.len() + jx;
                            for co in 0..d.cout {
                                w[k * m_pad + co] =
                                    l.weight[((co * d.cin + ci) * kh + ky) * kw + kx];
                            }
                        }
                    }
                }
                // Offsets step by a constant from tap to tap (+1, or -1 when transposed).
                let step = |t: &[(usize, isize)]| {
                    if t.len() >= 2 {
                        (t[1].1 - t[0].1) as i32
                    } else {
                        1
                    }
                };
                let spec = GemmSpec {
                    taps: (ys.len().max(1) as u32, xs.len().max(1) as u32),
                    in_step: (in_step.0 as i32, in_step.1 as i32),
                    tap_step: (step(&ys), step(&xs)),
                    out_step: (out_step.0 as u32, out_step.1 as u32),
                    act: d.act.code(),
                    residual: d.residual,
                };
                phases.push(Phase {
                    py,
                    px,
                    out_step,
                    in_off: (
                        ys.first().map_or(0, |t| t.1 as i32),
                        xs.first().map_or(0, |t| t.1 as i32),
                    ),
                    k_total,
                    pipeline: kernels.pipeline(device, spec),
                    weights: buffer_init(device, queue, &d.key, &w, wgpu::BufferUsages::STORAGE),
                    params: device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some(&d.key),
                        size: std::mem::size_of::<GemmParams>() as u64,
                        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    }),
                });
            }
        }
        let b = bias_block(l, m_pad);
        Self {
            def: d.clone(),
            precision: kernels.precision,
            m_pad,
            phases,
            bias: buffer_init(device, queue, &d.key, &b, wgpu::BufferUsages::STORAGE),
            layout: kernels.layout.clone(),
        }
    }

    /// Phase `phase`'s parameters for `n` frames of `in_hw` -> `out_hw`.
    fn params(
        &self,
        phase: &Phase,
        n: usize,
        (in_hw, out_hw): ((usize, usize), (usize, usize)),
        input: (usize, usize),
        output: (usize, usize),
    ) -> GemmParams {
        let count = |size: usize, start: usize, step: usize| {
            if size > start {
                (size - start).div_ceil(step)
            } else {
                0
            }
        };
        let q_h = count(out_hw.0, phase.py, phase.out_step.0);
        let q_w = count(out_hw.1, phase.px, phase.out_step.1);
        GemmParams {
            n_total: (n * q_h * q_w) as u32,
            cout: self.def.cout as u32,
            k_total: phase.k_total as u32,
            in_h: in_hw.0 as u32,
            in_w: in_hw.1 as u32,
            q_h: q_h as u32,
            q_w: q_w as u32,
            out_h: out_hw.0 as u32,
            out_w: out_hw.1 as u32,
            in_ctot: input.0 as u32,
            in_coff: input.1 as u32,
            out_ctot: output.0 as u32,
            out_coff: output.1 as u32,
            in_off_y: phase.in_off.0,
            in_off_x: phase.in_off.1,
            out_off_y: phase.py as u32,
            out_off_x: phase.px as u32,
            m_pad: self.m_pad as u32,
            _pad: [0; 2],
        }
    }

    /// Records the layer on `n` frames: one pass per phase, its parameters written to the
    /// queue (applied before the next submission).
    pub fn encode(
        &self,
        (device, queue): (&wgpu::Device, &wgpu::Queue),
        encoder: &mut wgpu::CommandEncoder,
        n: usize,
        hw: ((usize, usize), (usize, usize)),
        input: &Operand<'_>,
        output: &Operand<'_>,
    ) {
        for phase in &self.phases {
            let p = self.params(
                phase,
                n,
                hw,
                (input.ctot, input.coff),
                (output.ctot, output.coff),
            );
            if p.n_total == 0 {
                continue;
            }
            queue.write_buffer(&phase.params, 0, bytemuck::bytes_of(&p));
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("wav2lip.gemm"),
                layout: &self.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: phase.params.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: input.binding.clone(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: phase.weights.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 3,
                        resource: self.bias.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 4,
                        resource: output.binding.clone(),
                    },
                ],
            });
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("wav2lip.gemm"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&phase.pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            // Workgroups along x: the device's per-dimension limit bounds the batch (see
            // [`max_frames`]).
            let (tile_n, tile_m) = self.precision.tile();
            pass.dispatch_workgroups(
                (p.n_total as usize).div_ceil(tile_n) as u32,
                (self.m_pad / tile_m) as u32,
                1,
            );
        }
    }
}

/// Most frames one dispatch of a layer with `pixels` output pixels per frame may cover, given
/// the device's workgroups-per-dimension limit.
pub(crate) fn max_frames(limits: &wgpu::Limits, pixels: usize) -> usize {
    (limits.max_compute_workgroups_per_dimension as usize * Precision::F16.tile().0 / pixels.max(1))
        .max(1)
}
