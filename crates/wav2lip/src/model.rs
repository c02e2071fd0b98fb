//! The generator's architecture (layer by layer, with state-dict keys) and its weights with
//! BatchNorm folded into the convolutions.
//!
//! Layer semantics (see ../shared/research/wav2lip.md): a `Conv2d` wrapper is conv (bias) ->
//! BatchNorm -> ReLU, with `residual` adding the block's input after the BatchNorm and before the
//! ReLU; a `Conv2dTranspose` wrapper is transposed conv -> BatchNorm -> ReLU; the output block
//! ends with a plain 1x1 conv and a sigmoid. Folding: `w' = w * g / sqrt(var + eps)`,
//! `b' = (b - mean) * g / sqrt(var + eps) + beta`, eps = 1e-5.

use std::collections::BTreeMap;

use crate::checkpoint::{Checkpoint, CheckpointError, Tensor};

/// Side of the square face crops the generator takes and returns.
pub const FACE: usize = 96;
/// Mel bins and frames of one audio window.
pub const MEL_BINS: usize = 80;
pub const MEL_STEPS: usize = 16;
/// Floats of one input face (6 channels: masked target, reference), one mel window, one output.
pub const FACE_LEN: usize = 6 * FACE * FACE;
pub const MEL_LEN: usize = MEL_BINS * MEL_STEPS;
pub const OUT_LEN: usize = 3 * FACE * FACE;

const BN_EPS: f32 = 1e-5;

/// What follows a layer's (folded) convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Relu,
    Sigmoid,
    /// Parametric ReLU with one slope per output channel ([`FoldedLayer::prelu`]).
    Prelu,
    /// No activation (linear heads).
    Linear,
}

impl Act {
    /// The `act` code of shaders/nn/conv2d.wgsl.
    pub fn code(self) -> u32 {
        match self {
            Self::Relu => 0,
            Self::Sigmoid => 1,
            Self::Prelu => 2,
            Self::Linear => 3,
        }
    }

    /// Applies the activation to `v` (`slope` is used by PReLU only).
    pub fn apply(self, v: f32, slope: f32) -> f32 {
        match self {
            Self::Relu => v.max(0.0),
            Self::Sigmoid => 1.0 / (1.0 + (-v).exp()),
            Self::Prelu if v < 0.0 => v * slope,
            Self::Prelu | Self::Linear => v,
        }
    }
}

/// One convolution of the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDef {
    /// State-dict prefix, e.g. `face_encoder_blocks.1.0` (its `conv_block.0` is the conv and
    /// `conv_block.1` the BatchNorm), or `output_block.1` for the final plain conv.
    pub key: String,
    pub transposed: bool,
    pub cin: usize,
    pub cout: usize,
    pub k: (usize, usize),
    pub stride: (usize, usize),
    pub pad: (usize, usize),
    pub out_pad: (usize, usize),
    /// Adds the layer's input before the activation (requires cin == cout, same size).
    pub residual: bool,
    /// A BatchNorm follows the conv (every wrapper; not the final plain conv).
    pub bn: bool,
    pub act: Act,
}

impl LayerDef {
    /// Output height and width for an input of `h` x `w`.
    pub fn out_size(&self, h: usize, w: usize) -> (usize, usize) {
        let (kh, kw) = self.k;
        let (sh, sw) = self.stride;
        let (ph, pw) = self.pad;
        if self.transposed {
            (
                (h - 1) * sh + kh + self.out_pad.0 - 2 * ph,
                (w - 1) * sw + kw + self.out_pad.1 - 2 * pw,
            )
        } else {
            ((h + 2 * ph - kh) / sh + 1, (w + 2 * pw - kw) / sw + 1)
        }
    }

    /// Weights per output channel.
    pub fn fan_in(&self) -> usize {
        self.cin * self.k.0 * self.k.1
    }

    /// (input step, output step) of the layer's phases (see [`Self::axis_taps`]): a
    /// convolution is one phase stepping its input by the stride; a transposed convolution is
    /// `stride^2` sub-pixel phases, each stepping its output by the stride.
    pub fn phase_steps(&self) -> ((usize, usize), (usize, usize)) {
        if self.transposed {
            ((1, 1), self.stride)
        } else {
            (self.stride, (1, 1))
        }
    }

    /// The taps of phase `p` along `axis` (0 = y, 1 = x): (kernel index, input offset).
    ///
    /// A phase is an ordinary gather convolution over the output sub-grid `a * out_step + p`
    /// whose tap reads input `a * in_step + offset`. For a transposed convolution of stride `s`
    /// (Shi et al., arXiv 1609.05158), output `o = a * s + p` receives kernel index `k` exactly
    /// when `k = (p + pad) mod s`, from input `a + (p + pad - k) / s`; for k3 s2 p1 the four
    /// phases have 1, 2, 2 and 4 taps (9 in all), so nothing is multiplied by an inserted
    /// zero. The offsets step by +1 (convolution) or -1 (transposed) from tap to tap.
    pub fn axis_taps(&self, axis: usize, p: usize) -> Vec<(usize, isize)> {
        let (k, stride, pad) = if axis == 0 {
            (self.k.0, self.stride.0, self.pad.0)
        } else {
            (self.k.1, self.stride.1, self.pad.1)
        };
        (0..k)
            .filter_map(|kk| {
                if self.transposed {
                    let d = p as isize + pad as isize - kk as isize;
                    (d.rem_euclid(stride as isize) == 0)
                        .then(|| (kk, d.div_euclid(stride as isize)))
                } else {
                    Some((kk, kk as isize - pad as isize))
                }
            })
            .collect()
    }
}

fn conv(key: String, cin: usize, cout: usize, k: usize, s: (usize, usize), p: usize) -> LayerDef {
    LayerDef {
        key,
        transposed: false,
        cin,
        cout,
        k: (k, k),
        stride: s,
        pad: (p, p),
        out_pad: (0, 0),
        residual: false,
        bn: true,
        act: Act::Relu,
    }
}

fn res(key: String, c: usize) -> LayerDef {
    LayerDef {
        residual: true,
        ..conv(key, c, c, 3, (1, 1), 1)
    }
}

fn convt(key: String, cin: usize, cout: usize, s: usize, p: usize, op: usize) -> LayerDef {
    LayerDef {
        transposed: true,
        stride: (s, s),
        pad: (p, p),
        out_pad: (op, op),
        ..conv(key, cin, cout, 3, (s, s), p)
    }
}

/// The generator: face encoder blocks, audio encoder, decoder blocks, output block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Architecture {
    pub face: Vec<Vec<LayerDef>>,
    pub audio: Vec<LayerDef>,
    pub decoder: Vec<Vec<LayerDef>>,
    pub output: Vec<LayerDef>,
}

impl Architecture {
    /// Wav2Lip's generator (models/wav2lip.py), as tabulated in the research notes.
    pub fn wav2lip() -> Self {
        let f = |b: usize, j: usize| format!("face_encoder_blocks.{b}.{j}");
        let a = |i: usize| format!("audio_encoder.{i}");
        let d = |b: usize, j: usize| format!("face_decoder_blocks.{b}.{j}");
        let face = vec![
            vec![conv(f(0, 0), 6, 16, 7, (1, 1), 3)],
            vec![
                conv(f(1, 0), 16, 32, 3, (2, 2), 1),
                res(f(1, 1), 32),
                res(f(1, 2), 32),
            ],
            vec![
                conv(f(2, 0), 32, 64, 3, (2, 2), 1),
                res(f(2, 1), 64),
                res(f(2, 2), 64),
                res(f(2, 3), 64),
            ],
            vec![
                conv(f(3, 0), 64, 128, 3, (2, 2), 1),
                res(f(3, 1), 128),
                res(f(3, 2), 128),
            ],
            vec![
                conv(f(4, 0), 128, 256, 3, (2, 2), 1),
                res(f(4, 1), 256),
                res(f(4, 2), 256),
            ],
            vec![conv(f(5, 0), 256, 512, 3, (2, 2), 1), res(f(5, 1), 512)],
            vec![
                conv(f(6, 0), 512, 512, 3, (1, 1), 0),
                conv(f(6, 1), 512, 512, 1, (1, 1), 0),
            ],
        ];
        let audio = vec![
            conv(a(0), 1, 32, 3, (1, 1), 1),
            res(a(1), 32),
            res(a(2), 32),
            conv(a(3), 32, 64, 3, (3, 1), 1),
            res(a(4), 64),
            res(a(5), 64),
            conv(a(6), 64, 128, 3, (3, 3), 1),
            res(a(7), 128),
            res(a(8), 128),
            conv(a(9), 128, 256, 3, (3, 2), 1),
            res(a(10), 256),
            conv(a(11), 256, 512, 3, (1, 1), 0),
            conv(a(12), 512, 512, 1, (1, 1), 0),
        ];
        let decoder = vec![
            vec![conv(d(0, 0), 512, 512, 1, (1, 1), 0)],
            vec![convt(d(1, 0), 1024, 512, 1, 0, 0), res(d(1, 1), 512)],
            vec![
                convt(d(2, 0), 1024, 512, 2, 1, 1),
                res(d(2, 1), 512),
                res(d(2, 2), 512),
            ],
            vec![
                convt(d(3, 0), 768, 384, 2, 1, 1),
                res(d(3, 1), 384),
                res(d(3, 2), 384),
            ],
            vec![
                convt(d(4, 0), 512, 256, 2, 1, 1),
                res(d(4, 1), 256),
                res(d(4, 2), 256),
            ],
            vec![
                convt(d(5, 0), 320, 128, 2, 1, 1),
                res(d(5, 1), 128),
                res(d(5, 2), 128),
            ],
            vec![
                convt(d(6, 0), 160, 64, 2, 1, 1),
                res(d(6, 1), 64),
                res(d(6, 2), 64),
            ],
        ];
        let output = vec![
            conv("output_block.0".into(), 80, 32, 3, (1, 1), 1),
            LayerDef {
                bn: false,
                act: Act::Sigmoid,
                ..conv("output_block.1".into(), 32, 3, 1, (1, 1), 0)
            },
        ];
        Self {
            face,
            audio,
            decoder,
            output,
        }
    }

    /// Every layer, in state-dict order of blocks.
    pub fn layers(&self) -> impl Iterator<Item = &LayerDef> {
        self.face
            .iter()
            .flatten()
            .chain(&self.audio)
            .chain(self.decoder.iter().flatten())
            .chain(&self.output)
    }

    /// Channels of encoder block `b`'s output.
    pub fn enc_channels(&self, b: usize) -> usize {
        self.face[b].last().map_or(0, |l| l.cout)
    }

    /// Channels of decoder block `b`'s own output (before the concatenation).
    pub fn dec_channels(&self, b: usize) -> usize {
        self.decoder[b].last().map_or(0, |l| l.cout)
    }

    /// Spatial side of decoder level `b` (1, 3, 6, ..., 96).
    pub fn level_side(b: usize) -> usize {
        [1, 3, 6, 12, 24, 48, 96][b]
    }
}

/// A layer with BatchNorm folded in: weights `[cout][cin][kh][kw]` (transposed convs too, so
/// every kernel indexes them the same way) and one bias per output channel.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldedLayer {
    pub def: LayerDef,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    /// One negative-side slope per output channel for [`Act::Prelu`]; empty otherwise.
    pub prelu: Vec<f32>,
}

/// The generator's weights, folded, ready for the CPU reference or the GPU.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub arch: Architecture,
    /// Layers in [`Architecture::layers`] order.
    pub layers: Vec<FoldedLayer>,
}

/// A deterministic generator for test weights and inputs (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [-a, a).
    pub fn sym(&mut self, a: f32) -> f32 {
        (2.0 * self.uniform() - 1.0) * a
    }
}

impl Model {
    /// Loads and folds the generator's weights from a checkpoint (keys as in Wav2Lip's state
    /// dict; a "module." prefix is already stripped by the loader). A missing, mis-shaped, non-finite or
    /// unexpected tensor is an error naming it.
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<Self, CheckpointError> {
        let arch = Architecture::wav2lip();
        let mut layers = Vec::new();
        let mut used = std::collections::BTreeSet::new();
        for def in arch.layers() {
            let (kh, kw) = def.k;
            let (conv_w, conv_b) = if def.bn {
                (
                    format!("{}.conv_block.0.weight", def.key),
                    format!("{}.conv_block.0.bias", def.key),
                )
            } else {
                (format!("{}.weight", def.key), format!("{}.bias", def.key))
            };
            let w_shape = if def.transposed {
                [def.cin, def.cout, kh, kw]
            } else {
                [def.cout, def.cin, kh, kw]
            };
            let w = ckpt.expect(&conv_w, &w_shape)?;
            let b = ckpt.expect(&conv_b, &[def.cout])?;
            used.insert(conv_w);
            used.insert(conv_b);
            let bn = if def.bn {
                let mut p = |name: &str| {
                    let key = format!("{}.conv_block.1.{name}", def.key);
                    let t = ckpt.expect(&key, &[def.cout]);
                    used.insert(key);
                    t
                };
                Some((
                    p("weight")?,
                    p("bias")?,
                    p("running_mean")?,
                    p("running_var")?,
                ))
            } else {
                None
            };
            layers.push(fold(def, w, b, bn));
        }
        ckpt.expect_only(&used)?;
        Ok(Self { arch, layers })
    }

    /// Floating-point operations (2 x multiply-adds of the convolutions) of one frame.
    pub fn flops_per_frame(&self) -> f64 {
        let (steps, _, _) = crate::plan::plan(self);
        steps
            .iter()
            .map(|s| {
                let d = &self.layers[s.layer].def;
                // A transposed convolution multiplies every input pixel by every tap.
                let (h, w) = if d.transposed { s.in_hw } else { s.out_hw };
                2.0 * (d.fan_in() * d.cout * h * w) as f64
            })
            .sum()
    }

    /// Seeded random weights with BatchNorm statistics near identity, scaled so activations
    /// neither vanish nor explode through the network (for tests and benchmarks).
    pub fn random(seed: u64) -> Self {
        Self::from_checkpoint(&random_checkpoint(seed))
            .unwrap_or_else(|e| unreachable!("random checkpoint matches the architecture: {e}"))
    }
}

/// The raw (unfolded) state dict of seeded random weights, as a checkpoint would hold it.
pub fn random_checkpoint(seed: u64) -> Checkpoint {
    let mut rng = Rng::new(seed);
    let arch = Architecture::wav2lip();
    let mut t = BTreeMap::new();
    let mut put = |k: String, shape: Vec<usize>, data: Vec<f32>| {
        t.insert(k, Tensor { shape, data });
    };
    for def in arch.layers() {
        let (kh, kw) = def.k;
        // He-style scale; residual branches smaller so sums stay bounded.
        let gain = if def.residual { 0.5 } else { 1.0 };
        let a = gain * (6.0 / def.fan_in() as f32).sqrt();
        let n = def.cin * def.cout * kh * kw;
        let w: Vec<f32> = (0..n).map(|_| rng.sym(a)).collect();
        let b: Vec<f32> = (0..def.cout).map(|_| rng.sym(0.05)).collect();
        let w_shape = if def.transposed {
            vec![def.cin, def.cout, kh, kw]
        } else {
            vec![def.cout, def.cin, kh, kw]
        };
        if def.bn {
            put(format!("{}.conv_block.0.weight", def.key), w_shape, w);
            put(format!("{}.conv_block.0.bias", def.key), vec![def.cout], b);
            let c = def.cout;
            let g: Vec<f32> = (0..c).map(|_| 0.8 + 0.4 * rng.uniform()).collect();
            let beta: Vec<f32> = (0..c).map(|_| rng.sym(0.1)).collect();
            let mean: Vec<f32> = (0..c).map(|_| rng.sym(0.1)).collect();
            let var: Vec<f32> = (0..c).map(|_| 0.5 + rng.uniform()).collect();
            put(format!("{}.conv_block.1.weight", def.key), vec![c], g);
            put(format!("{}.conv_block.1.bias", def.key), vec![c], beta);
            put(
                format!("{}.conv_block.1.running_mean", def.key),
                vec![c],
                mean,
            );
            put(
                format!("{}.conv_block.1.running_var", def.key),
                vec![c],
                var,
            );
        } else {
            put(format!("{}.weight", def.key), w_shape, w);
            put(format!("{}.bias", def.key), vec![def.cout], b);
        }
    }
    Checkpoint::from_tensors(t)
}

type Bn<'a> = (&'a Tensor, &'a Tensor, &'a Tensor, &'a Tensor);

fn fold(def: &LayerDef, w: &Tensor, b: &Tensor, bn: Option<Bn<'_>>) -> FoldedLayer {
    let (kh, kw) = def.k;
    let k = kh * kw;
    let mut weight = vec![0.0f32; def.cout * def.cin * k];
    for co in 0..def.cout {
        for ci in 0..def.cin {
            for i in 0..k {
                let src = if def.transposed {
                    (ci * def.cout + co) * k + i
                } else {
                    (co * def.cin + ci) * k + i
                };
                weight[(co * def.cin + ci) * k + i] = w.data[src];
            }
        }
    }
    let mut bias = b.data.clone();
    if let Some((g, beta, mean, var)) = bn {
        for co in 0..def.cout {
            let s = g.data[co] / (var.data[co] + BN_EPS).sqrt();
            for v in &mut weight[co * def.cin * k..(co + 1) * def.cin * k] {
                *v *= s;
            }
            bias[co] = (bias[co] - mean.data[co]) * s + beta.data[co];
        }
    }
    FoldedLayer {
        def: def.clone(),
        weight,
        bias,
        prelu: Vec::new(),
    }
}
