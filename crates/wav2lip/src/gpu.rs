//! The generator as wgpu compute passes on the caller's device.
//!
//! Weights are uploaded once ([`LipSync::new`]); activations live in buffers allocated for the
//! largest batch seen (up to [`LipSync::max_batch`], set by the device's storage-binding limit)
//! and reused between batches. Encoder outputs are written straight into the channel range of
//! the decoder level that concatenates them, so concatenation copies nothing. Inputs and outputs
//! stay on the GPU: [`LipSync::infer`] reads face crops and mel windows from storage buffers and
//! writes the generated faces into another, for the compositor to sample.

use std::collections::HashMap;

use bytemuck::{Pod, Zeroable};

use crate::Wav2LipError;
use crate::gemm::{GemmKernels, GemmLayer, Operand, Precision};
use crate::model::{FACE_LEN, FoldedLayer, LayerDef, MEL_LEN, Model, OUT_LEN};
use crate::plan::{Buf, Slot, Step, frame_floats, plan};

/// The kernel that runs one generator layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvKernel {
    /// shaders/nn/conv2d.wgsl: one invocation per 4 output channels x 4 pixels, no workgroup
    /// memory (MTCNN's small layers, and the generator's where it is faster).
    Direct,
    /// shaders/nn/conv_gemm.wgsl: implicit GEMM in 64 x 64 x 16 workgroup tiles
    /// ([`crate::gemm`]); with [`Precision::F16`], shaders/nn/conv_coop.wgsl on tensor cores.
    Gemm,
}

impl std::fmt::Display for ConvKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Direct => "direct",
            Self::Gemm => "gemm",
        })
    }
}

/// How [`LipSync`] runs: which kernel per layer, and the GEMM kernel's arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GpuOptions {
    pub kernels: KernelPolicy,
    pub precision: Precision,
}

/// How [`LipSync`] picks each layer's kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KernelPolicy {
    /// Per layer, by the rule [`auto_kernel`] (measured; see docs/BENCHMARKS.md).
    #[default]
    Auto,
    /// Every layer on one kernel (for benchmarks and tests).
    All(ConvKernel),
}

/// The kernel [`KernelPolicy::Auto`] gives layer `def` producing `out_pixels` pixels a frame on
/// a `software` (CPU) adapter or a GPU.
///
/// - Software adapters (measured on lavapipe, `examples/bench.rs --layers`, docs/BENCHMARKS.md):
///   transposed layers run 1.6x faster as GEMM phases (no zero taps) and layers of <= 12 x 12
///   output pixels 1.1-1.7x faster as GEMM (the batch fills the pixel tiles); the 3 x 3
///   stride-1 layers at 24 x 24 and above run ~10% faster on the direct kernel, and layers
///   with fewer than 64 output channels 2-9x faster there (a GEMM tile is 64 channels).
/// - GPUs: GEMM wherever a layer fills at least half an M tile (>= 32 output channels), the
///   direct kernel below (the first face layer, 16 channels; the 3-channel output). This rule
///   has not been measured on a GPU yet: `cargo xtask device-check` prints the per-layer table
///   that settles it.
pub fn auto_kernel(def: &LayerDef, out_pixels: usize, software: bool) -> ConvKernel {
    let gemm = if software {
        def.cout >= crate::gemm::TILE_M && (def.transposed || out_pixels <= 12 * 12)
    } else {
        def.cout >= crate::gemm::TILE_M / 2
    };
    if gemm {
        ConvKernel::Gemm
    } else {
        ConvKernel::Direct
    }
}

#[derive(Debug)]
enum LayerKernel {
    Direct(GpuLayer),
    Gemm(GemmLayer),
}

impl LayerKernel {
    fn def(&self) -> &LayerDef {
        match self {
            Self::Direct(l) => &l.def,
            Self::Gemm(l) => &l.def,
        }
    }

    fn kind(&self) -> ConvKernel {
        match self {
            Self::Direct(_) => ConvKernel::Direct,
            Self::Gemm(_) => ConvKernel::Gemm,
        }
    }
}

/// Mirror of `ConvParams` in shaders/nn/conv2d.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct ConvParams {
    pub n: u32,
    pub cin: u32,
    pub cout: u32,
    pub cout_groups: u32,
    pub in_h: u32,
    pub in_w: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub kh: u32,
    pub kw: u32,
    pub sh: u32,
    pub sw: u32,
    pub ph: u32,
    pub pw: u32,
    pub transposed: u32,
    pub act: u32,
    pub in_ctot: u32,
    pub in_coff: u32,
    pub out_ctot: u32,
    pub out_coff: u32,
    pub residual: u32,
    pub _pad: [u32; 3],
}

#[derive(Debug)]
pub(crate) struct GpuLayer {
    pub(crate) def: crate::model::LayerDef,
    pub(crate) weights: wgpu::Buffer,
    pub(crate) bias: wgpu::Buffer,
    pub(crate) params: wgpu::Buffer,
}

/// The Wav2Lip generator on a wgpu device.
#[derive(Debug)]
pub struct LipSync {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    layers: Vec<LayerKernel>,
    steps: Vec<Step>,
    /// Floats per frame of each concat level and of a scratch buffer.
    concat: Vec<usize>,
    scratch: usize,
    max_batch: usize,
    /// Internal activation buffers and the batch they were sized for.
    buffers: HashMap<Buf, wgpu::Buffer>,
    capacity: usize,
}

impl LipSync {
    /// Uploads `model`'s folded weights to `device` and builds the pipelines (4 storage buffers
    /// per compute stage, which every device offers), each layer on the kernel
    /// [`KernelPolicy::Auto`] picks.
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        model: &Model,
    ) -> Result<Self, Wav2LipError> {
        Self::with_options(device, queue, model, GpuOptions::default())
    }

    /// [`Self::new`] with the kernels and precision of `options`.
    pub fn with_options(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        model: &Model,
        options: GpuOptions,
    ) -> Result<Self, Wav2LipError> {
        let policy = options.kernels;
        let limits = device.limits();
        if limits.max_storage_buffers_per_shader_stage < 4 {
            return Err(Wav2LipError::Gpu(format!(
                "the device allows {} storage buffers per shader stage; the generator needs 4",
                limits.max_storage_buffers_per_shader_stage
            )));
        }
        let (pipeline, layout) = create_pipeline(device)?;
        let (steps, concat, scratch) = plan(model);
        let mut gemm = GemmKernels::new(device, options.precision)?;
        let software = gpu::is_software_adapter(&device.adapter_info());
        let mut pixels = 1;
        let layers = model
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let out = steps
                    .iter()
                    .find(|s| s.layer == i)
                    .map_or(1, |s| s.out_hw.0 * s.out_hw.1);
                pixels = pixels.max(out);
                let kind = match policy {
                    KernelPolicy::Auto => auto_kernel(&l.def, out, software),
                    KernelPolicy::All(k) => k,
                };
                match kind {
                    ConvKernel::Direct => LayerKernel::Direct(upload_layer(device, queue, l)),
                    ConvKernel::Gemm => {
                        LayerKernel::Gemm(GemmLayer::new(device, queue, &mut gemm, l))
                    }
                }
            })
            .collect::<Vec<_>>();
        log::info!(
            "wav2lip generator: {} layers on the GEMM kernel ({} pipelines), {} direct",
            layers
                .iter()
                .filter(|l| l.kind() == ConvKernel::Gemm)
                .count(),
            gemm.pipelines(),
            layers
                .iter()
                .filter(|l| l.kind() == ConvKernel::Direct)
                .count(),
        );
        let largest = concat
            .iter()
            .copied()
            .chain([scratch, FACE_LEN, OUT_LEN])
            .max()
            .unwrap_or(FACE_LEN)
            * 4;
        let max_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size) as usize;
        let max_batch = (max_binding / largest)
            .min(crate::gemm::max_frames(&limits, pixels))
            .clamp(1, 65_535);
        Ok(Self {
            device: device.clone(),
            queue: queue.clone(),
            pipeline,
            layout,
            layers,
            steps,
            concat,
            scratch,
            max_batch,
            buffers: HashMap::new(),
            capacity: 0,
        })
    }

    /// Loads a checkpoint (legacy PyTorch `wav2lip.pth`, zip-format torch file or safetensors),
    /// folds its BatchNorms and uploads it to `device`.
    pub fn from_checkpoint(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        path: &std::path::Path,
    ) -> Result<Self, Wav2LipError> {
        let ckpt = crate::checkpoint::Checkpoint::load(path)?;
        let model = Model::from_checkpoint(&ckpt)?;
        Self::new(device, queue, &model)
    }

    /// Lowers the frames per dispatch (at least 1, at most what the device allows), e.g. to
    /// bound the activation memory.
    pub fn set_max_batch(&mut self, frames: usize) {
        self.max_batch = frames.clamp(1, self.max_batch);
    }

    /// Frames one dispatch of the whole network handles; larger batches are split.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    fn ensure_capacity(&mut self, frames: usize) {
        if frames <= self.capacity {
            return;
        }
        self.buffers.clear();
        let mut bufs = vec![Buf::Audio, Buf::Scratch(0), Buf::Scratch(1)];
        bufs.extend((0..7).map(Buf::Concat));
        for buf in bufs {
            let size = (frame_floats(buf, &self.concat, self.scratch) * frames * 4) as u64;
            let b = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("wav2lip.activations"),
                size,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            });
            self.buffers.insert(buf, b);
        }
        self.capacity = frames;
    }

    /// Runs the generator on `n` frames: `faces` holds n x (6, 96, 96) f32 (masked target in
    /// channels 0-2, reference in 3-5, BGR, 0..1), `mels` n x (1, 80, 16) f32, and `out`
    /// receives n x (3, 96, 96) f32 in 0..1. All three need `STORAGE` usage. Nothing is read
    /// back: the result stays on the GPU. Returns the last submission.
    pub fn infer(
        &mut self,
        faces: &wgpu::Buffer,
        mels: &wgpu::Buffer,
        out: &wgpu::Buffer,
        n: usize,
    ) -> Result<wgpu::SubmissionIndex, Wav2LipError> {
        let need = |b: &wgpu::Buffer, per: usize, what: &str| {
            if b.size() < (n * per * 4) as u64 {
                Err(Wav2LipError::Input(format!(
                    "the {what} buffer holds {} bytes; {n} frames need {}",
                    b.size(),
                    n * per * 4
                )))
            } else {
                Ok(())
            }
        };
        if n == 0 {
            return Err(Wav2LipError::Input("no frames to generate".into()));
        }
        need(faces, FACE_LEN, "faces")?;
        need(mels, MEL_LEN, "mels")?;
        need(out, OUT_LEN, "output")?;
        let chunk = self.max_batch.min(n);
        self.ensure_capacity(chunk);
        let mut last = None;
        let mut start = 0;
        while start < n {
            let m = chunk.min(n - start);
            let mut encoder = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("wav2lip.batch"),
                });
            for step in &self.steps {
                self.encode_step(&mut encoder, step, (faces, mels, out), start, m);
            }
            // The per-layer parameter writes above are applied before this submission; the
            // next chunk's writes happen after it was queued, so each chunk sees its own.
            last = Some(self.queue.submit([encoder.finish()]));
            start += m;
        }
        last.ok_or_else(|| Wav2LipError::Input("no frames to generate".into()))
    }

    /// Each layer's kernel, by state-dict key.
    pub fn kernels(&self) -> Vec<(String, ConvKernel)> {
        self.layers
            .iter()
            .map(|l| (l.def().key.clone(), l.kind()))
            .collect()
    }

    /// Records `step` on frames `start..start + m` of the external buffers.
    fn encode_step(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        step: &Step,
        (faces, mels, out): (&wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer),
        start: usize,
        m: usize,
    ) {
        let binding = |slot: Slot| -> wgpu::BindingResource<'_> {
            let (buffer, per) = match slot.buf {
                Buf::Faces => (faces, FACE_LEN),
                Buf::Mels => (mels, MEL_LEN),
                Buf::Out => (out, OUT_LEN),
                other => (
                    &self.buffers[&other],
                    frame_floats(other, &self.concat, self.scratch),
                ),
            };
            let external = matches!(slot.buf, Buf::Faces | Buf::Mels | Buf::Out);
            let offset = if external {
                (start * per * 4) as u64
            } else {
                0
            };
            wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer,
                offset,
                size: wgpu::BufferSize::new((m * per * 4) as u64),
            })
        };
        match &self.layers[step.layer] {
            LayerKernel::Gemm(g) => g.encode(
                (&self.device, &self.queue),
                encoder,
                m,
                (step.in_hw, step.out_hw),
                &Operand {
                    binding: binding(step.input),
                    ctot: step.input.ctot,
                    coff: step.input.coff,
                },
                &Operand {
                    binding: binding(step.output),
                    ctot: step.output.ctot,
                    coff: step.output.coff,
                },
            ),
            LayerKernel::Direct(d) => {
                let params = conv_params(
                    &d.def,
                    m,
                    (step.in_hw, step.out_hw),
                    (step.input.ctot, step.input.coff),
                    (step.output.ctot, step.output.coff),
                );
                self.queue
                    .write_buffer(&d.params, 0, bytemuck::bytes_of(&params));
                let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("wav2lip.step"),
                    layout: &self.layout,
                    entries: &[
                        wgpu::BindGroupEntry {
                            binding: 0,
                            resource: d.params.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 1,
                            resource: binding(step.input),
                        },
                        wgpu::BindGroupEntry {
                            binding: 2,
                            resource: d.weights.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 3,
                            resource: d.bias.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 4,
                            resource: binding(step.output),
                        },
                    ],
                });
                // One pass per layer: wgpu orders the passes' buffer accesses.
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("wav2lip.layer"),
                    timestamp_writes: None,
                });
                pass.set_pipeline(&self.pipeline);
                pass.set_bind_group(0, &bind_group, &[]);
                pass.dispatch_workgroups(workgroups_x(&params), params.cout_groups, m as u32);
            }
        }
    }

    /// Wall time of each layer on `n` frames (each layer submitted alone and waited for, after
    /// one warm-up pass of the whole network), with its kernel: the per-layer table of
    /// `examples/bench.rs --layers`. The inputs are whatever the buffers hold (timing only).
    pub fn profile(&mut self, n: usize) -> Result<Vec<LayerTime>, Wav2LipError> {
        let n = n.clamp(1, self.max_batch);
        self.ensure_capacity(n);
        let make = |per: usize, label| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: (n * per * 4) as u64,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        };
        let (faces, mels, out) = (
            make(FACE_LEN, "wav2lip.profile.faces"),
            make(MEL_LEN, "wav2lip.profile.mels"),
            make(OUT_LEN, "wav2lip.profile.out"),
        );
        let wait = |what: &str| -> Result<(), Wav2LipError> {
            self.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map(|_| ())
                .map_err(|e| Wav2LipError::Gpu(format!("waiting for {what}: {e}")))
        };
        let mut times = Vec::with_capacity(self.steps.len());
        for pass in 0..2 {
            for step in &self.steps {
                let t = std::time::Instant::now();
                let mut encoder = self.device.create_command_encoder(&Default::default());
                self.encode_step(&mut encoder, step, (&faces, &mels, &out), 0, n);
                self.queue.submit([encoder.finish()]);
                wait("a layer")?;
                if pass == 1 {
                    let l = &self.layers[step.layer];
                    let d = l.def();
                    let (oh, ow) = step.out_hw;
                    times.push(LayerTime {
                        key: d.key.clone(),
                        kernel: l.kind(),
                        out_hw: step.out_hw,
                        flops: 2 * n * d.cout * oh * ow * d.fan_in()
                            / if d.transposed {
                                d.stride.0 * d.stride.1
                            } else {
                                1
                            },
                        seconds: t.elapsed().as_secs_f64(),
                    });
                }
            }
        }
        Ok(times)
    }

    /// Uploads host data, runs [`Self::infer`], reads the result back (for tests, examples and
    /// parity checks; the renderer keeps everything on the GPU).
    pub fn infer_host(
        &mut self,
        faces: &[f32],
        mels: &[f32],
        n: usize,
    ) -> Result<Vec<f32>, Wav2LipError> {
        if faces.len() != n * FACE_LEN || mels.len() != n * MEL_LEN {
            return Err(Wav2LipError::Input(format!(
                "{n} frames need {} face and {} mel values, got {} and {}",
                n * FACE_LEN,
                n * MEL_LEN,
                faces.len(),
                mels.len()
            )));
        }
        let upload = |data: &[f32], label| {
            let b = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: (data.len() * 4) as u64,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            self.queue.write_buffer(&b, 0, bytemuck::cast_slice(data));
            b
        };
        let faces_buf = upload(faces, "wav2lip.faces");
        let mels_buf = upload(mels, "wav2lip.mels");
        let bytes = (n * OUT_LEN * 4) as u64;
        let out = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("wav2lip.out"),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        self.infer(&faces_buf, &mels_buf, &out, n)?;
        read_back(&self.device, &self.queue, &out, n * OUT_LEN)
    }
}

/// One layer's row of [`LipSync::profile`].
#[derive(Debug, Clone)]
pub struct LayerTime {
    pub key: String,
    pub kernel: ConvKernel,
    pub out_hw: (usize, usize),
    /// Multiply-adds x 2 on the batch (a transposed layer counts only the taps that read an
    /// input).
    pub flops: usize,
    pub seconds: f64,
}

/// The kernel's parameters for layer `l` on `n` frames of `in_hw` -> `out_hw`, reading channels
/// from (total, offset) `input` and writing to `output`.
pub(crate) fn conv_params(
    l: &crate::model::LayerDef,
    n: usize,
    (in_hw, out_hw): ((usize, usize), (usize, usize)),
    input: (usize, usize),
    output: (usize, usize),
) -> ConvParams {
    ConvParams {
        n: n as u32,
        cin: l.cin as u32,
        cout: l.cout as u32,
        cout_groups: l.cout.div_ceil(4) as u32,
        in_h: in_hw.0 as u32,
        in_w: in_hw.1 as u32,
        out_h: out_hw.0 as u32,
        out_w: out_hw.1 as u32,
        kh: l.k.0 as u32,
        kw: l.k.1 as u32,
        sh: l.stride.0 as u32,
        sw: l.stride.1 as u32,
        ph: l.pad.0 as u32,
        pw: l.pad.1 as u32,
        transposed: u32::from(l.transposed),
        act: l.act.code(),
        in_ctot: input.0 as u32,
        in_coff: input.1 as u32,
        out_ctot: output.0 as u32,
        out_coff: output.1 as u32,
        residual: u32::from(l.residual),
        _pad: [0; 3],
    }
}

/// Output pixels one invocation computes along x (`PX` in shaders/nn/conv2d.wgsl).
const PX: u32 = 4;

/// Workgroups along x: one invocation per strip of `PX` output pixels, 64 per workgroup.
pub(crate) fn workgroups_x(p: &ConvParams) -> u32 {
    (p.out_h * p.out_w.div_ceil(PX)).div_ceil(64)
}

/// The conv kernel's compute pipeline and bind group layout.
pub(crate) fn create_pipeline(
    device: &wgpu::Device,
) -> Result<(wgpu::ComputePipeline, wgpu::BindGroupLayout), Wav2LipError> {
    use crate::kernel::{Binding, Kernel};
    let read = Binding::Storage { read_only: true };
    let k = Kernel::new(
        device,
        "nn/conv2d.wgsl",
        "conv",
        &[
            Binding::Uniform,
            read,
            read,
            read,
            Binding::Storage { read_only: false },
        ],
    )?;
    Ok((k.pipeline, k.layout))
}

/// Runs one layer on the GPU with `kernel` (for per-layer tests against
/// [`crate::cpu::layer`]): `x` is (n, cin, h, w); returns (n, cout, oh, ow).
pub fn run_layer(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    layer: &FoldedLayer,
    x: &crate::cpu::Tensor4,
    kernel: ConvKernel,
) -> Result<Vec<f32>, Wav2LipError> {
    let d = &layer.def;
    let (oh, ow) = d.out_size(x.h, x.w);
    let input = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("wav2lip.test.input"),
        size: (x.data.len() * 4) as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    queue.write_buffer(&input, 0, bytemuck::cast_slice(&x.data));
    let len = x.n * d.cout * oh * ow;
    let output = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("wav2lip.test.output"),
        size: (len * 4) as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    match kernel {
        ConvKernel::Gemm => {
            let mut kernels = GemmKernels::new(device, Precision::F32)?;
            let g = GemmLayer::new(device, queue, &mut kernels, layer);
            g.encode(
                (device, queue),
                &mut encoder,
                x.n,
                ((x.h, x.w), (oh, ow)),
                &Operand {
                    binding: input.as_entire_binding(),
                    ctot: d.cin,
                    coff: 0,
                },
                &Operand {
                    binding: output.as_entire_binding(),
                    ctot: d.cout,
                    coff: 0,
                },
            );
        }
        ConvKernel::Direct => {
            let (pipeline, layout) = create_pipeline(device)?;
            let gl = upload_layer(device, queue, layer);
            let params = conv_params(d, x.n, ((x.h, x.w), (oh, ow)), (d.cin, 0), (d.cout, 0));
            queue.write_buffer(&gl.params, 0, bytemuck::bytes_of(&params));
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("wav2lip.test.layer"),
                layout: &layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: gl.params.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: input.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: gl.weights.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 3,
                        resource: gl.bias.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 4,
                        resource: output.as_entire_binding(),
                    },
                ],
            });
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(workgroups_x(&params), params.cout_groups, x.n as u32);
        }
    }
    queue.submit([encoder.finish()]);
    read_back(device, queue, &output, len)
}

/// Copies `len` floats of a storage buffer (with `COPY_SRC`) back to the host.
pub fn read_back(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    len: usize,
) -> Result<Vec<f32>, Wav2LipError> {
    let encoder = device.create_command_encoder(&Default::default());
    let bytes = gpu::read_buffers(
        device,
        queue,
        encoder,
        &[(buffer, (len * 4) as u64)],
        std::time::Duration::from_secs(600),
        "the generator's output",
    )?;
    Ok(bytemuck::cast_slice::<u8, f32>(&bytes[0]).to_vec())
}

pub(crate) fn upload_layer(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    l: &FoldedLayer,
) -> GpuLayer {
    let d = &l.def;
    let groups = d.cout.div_ceil(4);
    let taps = d.cin * d.k.0 * d.k.1;
    // [cout/4][cin][kh][kw][4]
    let mut w = vec![0.0f32; groups * taps * 4];
    for co in 0..d.cout {
        let (g, lane) = (co / 4, co % 4);
        for t in 0..taps {
            w[(g * taps + t) * 4 + lane] = l.weight[co * taps + t];
        }
    }
    // Biases, then (PReLU) the slopes, each padded to whole groups of four channels.
    let b = crate::gemm::bias_block(l, groups * 4);
    let make = |data: &[f32]| {
        crate::gemm::buffer_init(device, queue, &d.key, data, wgpu::BufferUsages::STORAGE)
    };
    GpuLayer {
        def: d.clone(),
        weights: make(&w),
        bias: make(&b),
        params: device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(&d.key),
            size: std::mem::size_of::<ConvParams>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }),
    }
}
