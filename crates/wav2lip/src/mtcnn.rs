//! The MTCNN face detector (P-Net, R-Net, O-Net; Zhang et al. 2016) on the GPU, with the real
//! weights that ship in the facenet-pytorch wheel (MIT): `pnet.pt`, `rnet.pt`, `onet.pt`.
//!
//! The networks run with the generator's convolution kernel (PReLU and linear heads added),
//! a max-pool kernel (ceil mode) and the resampling kernel, which builds the image pyramid and
//! the 24x24 / 48x48 candidate crops straight from the picture's texture. Only the networks'
//! scores and box offsets are read back; the candidate logic (thresholds, non-maximum
//! suppression, box regression, squaring) runs on the CPU over those few numbers, following
//! facenet-pytorch's `detect_face`: pyramid factor 0.709, thresholds 0.6 / 0.7 / 0.7, NMS 0.5
//! per scale then 0.7, final NMS 0.7 by the smaller box's area.

use std::path::{Path, PathBuf};

use bytemuck::{Pod, Zeroable};

use crate::Wav2LipError;
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::gpu::{GpuLayer, conv_params, upload_layer, workgroups_x};
use crate::kernel::{Binding, Kernel, storage, uniform};
use crate::model::{Act, FoldedLayer, LayerDef};
use crate::resample::{Filter, Layout, Resample, Resampler};

/// The weight files, in the order the stages run.
pub const WEIGHT_FILES: [&str; 3] = ["pnet.pt", "rnet.pt", "onet.pt"];

/// Pyramid scale step.
const FACTOR: f32 = 0.709;
/// Score thresholds of the three stages.
const THRESHOLDS: [f32; 3] = [0.6, 0.7, 0.7];
/// Channels of P-Net's widest activation (its first convolution): a pyramid level of `p`
/// pixels needs a `p x 10` float buffer.
const PNET_WIDEST: usize = 10;
/// Most pixels of the first pyramid level where nothing else bounds it (the CPU backend):
/// what a 128 MiB binding allows, about 1780 x 1780.
const DEFAULT_LEVEL_PIXELS: usize = (128 << 20) / (PNET_WIDEST * 4);
/// Candidates per R-Net / O-Net dispatch.
pub(crate) const CHUNK: usize = 128;

/// How to obtain the weights, for error messages.
pub fn weights_hint(dir: &Path) -> String {
    format!(
        "the MTCNN weights (pnet.pt, rnet.pt, onet.pt) ship in the facenet-pytorch wheel (MIT \
         licence): run `cargo xtask fetch-mtcnn {}` (needs python3 with pip), or `python3 -m pip \
         download --no-deps {} -d /tmp/fp` and unzip 'facenet_pytorch/data/*net.pt' from the \
         wheel into that folder",
        dir.display(),
        crate::fetch::FACENET_SPEC
    )
}

/// One detected face, in pixels of the picture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Face {
    /// x0, y0, x1, y1.
    pub rect: [f32; 4],
    /// O-Net's face probability.
    pub score: f32,
    /// Eyes (left, right), nose, mouth corners (left, right): x, y.
    pub landmarks: [[f32; 2]; 5],
}

impl Face {
    pub fn area(&self) -> f32 {
        (self.rect[2] - self.rect[0]).max(0.0) * (self.rect[3] - self.rect[1]).max(0.0)
    }
}

/// Intersection over union of two x0, y0, x1, y1 boxes.
pub fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: [f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// A step of a network on the host, before upload.
#[derive(Debug, Clone)]
pub(crate) enum HostOp {
    Conv(FoldedLayer),
    Pool { k: usize, s: usize },
}

/// The three networks' weights, folded into the kernel's form.
#[derive(Debug, Clone)]
pub struct MtcnnWeights {
    pub(crate) nets: [Vec<HostOp>; 3],
}

fn conv_def(key: &str, cin: usize, cout: usize, k: usize, act: Act) -> LayerDef {
    LayerDef {
        key: key.to_owned(),
        transposed: false,
        cin,
        cout,
        k: (k, k),
        stride: (1, 1),
        pad: (0, 0),
        out_pad: (0, 0),
        residual: false,
        bn: false,
        act,
    }
}

fn tensor<'a>(
    ckpt: &'a Checkpoint,
    key: &str,
    shape: &[usize],
) -> Result<&'a [f32], CheckpointError> {
    Ok(&ckpt.expect(key, shape)?.data)
}

/// conv{i} + prelu{i}: a k x k convolution followed by PReLU.
fn prelu_conv(
    ckpt: &Checkpoint,
    conv: &str,
    prelu: &str,
    cin: usize,
    cout: usize,
    k: usize,
) -> Result<HostOp, CheckpointError> {
    Ok(HostOp::Conv(FoldedLayer {
        def: conv_def(conv, cin, cout, k, Act::Prelu),
        weight: tensor(ckpt, &format!("{conv}.weight"), &[cout, cin, k, k])?.to_vec(),
        bias: tensor(ckpt, &format!("{conv}.bias"), &[cout])?.to_vec(),
        prelu: tensor(ckpt, &format!("{prelu}.weight"), &[cout])?.to_vec(),
    }))
}

/// A fully connected layer over a (c, side, side) input as a side x side convolution. The
/// networks flatten after permuting to (W, H, C), so input index (x * side + y) * c + ch.
fn dense_as_conv(
    ckpt: &Checkpoint,
    dense: &str,
    prelu: &str,
    c: usize,
    side: usize,
    out: usize,
) -> Result<HostOp, CheckpointError> {
    let fan_in = c * side * side;
    let d = tensor(ckpt, &format!("{dense}.weight"), &[out, fan_in])?;
    let mut weight = vec![0.0; out * fan_in];
    for o in 0..out {
        for ch in 0..c {
            for y in 0..side {
                for x in 0..side {
                    weight[((o * c + ch) * side + y) * side + x] =
                        d[o * fan_in + (x * side + y) * c + ch];
                }
            }
        }
    }
    Ok(HostOp::Conv(FoldedLayer {
        def: conv_def(dense, c, out, side, Act::Prelu),
        weight,
        bias: tensor(ckpt, &format!("{dense}.bias"), &[out])?.to_vec(),
        prelu: tensor(ckpt, &format!("{prelu}.weight"), &[out])?.to_vec(),
    }))
}

/// Several 1x1 heads (`(key, outputs)`, each a conv [n, cin, 1, 1] or a dense [n, cin]) as
/// one linear 1x1 convolution with their outputs stacked in order.
fn heads(
    ckpt: &Checkpoint,
    keys: &[(&str, usize)],
    cin: usize,
    conv: bool,
) -> Result<HostOp, CheckpointError> {
    let mut weight = Vec::new();
    let mut bias = Vec::new();
    for &(key, n) in keys {
        let shape: Vec<usize> = if conv {
            vec![n, cin, 1, 1]
        } else {
            vec![n, cin]
        };
        weight.extend_from_slice(tensor(ckpt, &format!("{key}.weight"), &shape)?);
        bias.extend_from_slice(tensor(ckpt, &format!("{key}.bias"), &[n])?);
    }
    let cout = bias.len();
    Ok(HostOp::Conv(FoldedLayer {
        def: conv_def(keys[0].0, cin, cout, 1, Act::Linear),
        weight,
        bias,
        prelu: Vec::new(),
    }))
}

impl MtcnnWeights {
    /// Loads `pnet.pt`, `rnet.pt` and `onet.pt` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, Wav2LipError> {
        let path = |name: &str| -> Result<PathBuf, Wav2LipError> {
            let p = dir.join(name);
            if p.is_file() {
                Ok(p)
            } else {
                Err(Wav2LipError::Detector(format!(
                    "{} is missing: {}",
                    p.display(),
                    weights_hint(dir)
                )))
            }
        };
        let p = Checkpoint::load(&path("pnet.pt")?)?;
        let r = Checkpoint::load(&path("rnet.pt")?)?;
        let o = Checkpoint::load(&path("onet.pt")?)?;
        let pool = |k, s| HostOp::Pool { k, s };
        let pnet = vec![
            prelu_conv(&p, "conv1", "prelu1", 3, 10, 3)?,
            pool(2, 2),
            prelu_conv(&p, "conv2", "prelu2", 10, 16, 3)?,
            prelu_conv(&p, "conv3", "prelu3", 16, 32, 3)?,
            heads(&p, &[("conv4_1", 2), ("conv4_2", 4)], 32, true)?,
        ];
        let rnet = vec![
            prelu_conv(&r, "conv1", "prelu1", 3, 28, 3)?,
            pool(3, 2),
            prelu_conv(&r, "conv2", "prelu2", 28, 48, 3)?,
            pool(3, 2),
            prelu_conv(&r, "conv3", "prelu3", 48, 64, 2)?,
            dense_as_conv(&r, "dense4", "prelu4", 64, 3, 128)?,
            heads(&r, &[("dense5_1", 2), ("dense5_2", 4)], 128, false)?,
        ];
        let onet = vec![
            prelu_conv(&o, "conv1", "prelu1", 3, 32, 3)?,
            pool(3, 2),
            prelu_conv(&o, "conv2", "prelu2", 32, 64, 3)?,
            pool(3, 2),
            prelu_conv(&o, "conv3", "prelu3", 64, 64, 3)?,
            pool(2, 2),
            prelu_conv(&o, "conv4", "prelu4", 64, 128, 2)?,
            dense_as_conv(&o, "dense5", "prelu5", 128, 3, 256)?,
            heads(
                &o,
                &[("dense6_1", 2), ("dense6_2", 4), ("dense6_3", 10)],
                256,
                false,
            )?,
        ];
        Ok(Self {
            nets: [pnet, rnet, onet],
        })
    }
}

/// Mirror of `PoolParams` in shaders/nn/pool.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
struct PoolParams {
    n: u32,
    c: u32,
    in_h: u32,
    in_w: u32,
    out_h: u32,
    out_w: u32,
    k: u32,
    s: u32,
}

/// Output side of a ceil-mode pooling window (no padding).
pub(crate) fn pool_out(size: usize, k: usize, s: usize) -> usize {
    if size <= k {
        return 1;
    }
    let mut out = (size - k).div_ceil(s) + 1;
    // The last window must start inside the input.
    if (out - 1) * s >= size {
        out -= 1;
    }
    out
}

#[derive(Debug)]
enum GpuOp {
    Conv(GpuLayer),
    Pool { k: usize, s: usize },
}

/// P-Net's output planes for one pyramid level and their (height, width).
pub(crate) type ScoreMap = (Vec<f32>, (usize, usize));

/// A tensor shape: channels, height, width (per batch item).
type Chw = (usize, usize, usize);

/// A candidate box: x0, y0, x1, y1, score, regression (4), landmarks (5 x, then 5 y).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cand {
    b: [f32; 4],
    score: f32,
    reg: [f32; 4],
    lm: [f32; 10],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overlap {
    Union,
    Min,
}

/// Greedy non-maximum suppression: the best box wins over those overlapping it by more than
/// `threshold`.
fn nms(mut cands: Vec<Cand>, threshold: f32, mode: Overlap) -> Vec<Cand> {
    cands.sort_by(|a, b| b.score.total_cmp(&a.score));
    let area = |b: &[f32; 4]| match mode {
        Overlap::Union => (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0),
        Overlap::Min => (b[2] - b[0] + 1.0).max(0.0) * (b[3] - b[1] + 1.0).max(0.0),
    };
    let one = if mode == Overlap::Min { 1.0 } else { 0.0 };
    let mut keep: Vec<Cand> = Vec::new();
    'outer: for c in cands {
        for k in &keep {
            let w = (c.b[2].min(k.b[2]) - c.b[0].max(k.b[0]) + one).max(0.0);
            let h = (c.b[3].min(k.b[3]) - c.b[1].max(k.b[1]) + one).max(0.0);
            let inter = w * h;
            let denom = match mode {
                Overlap::Union => area(&c.b) + area(&k.b) - inter,
                Overlap::Min => area(&c.b).min(area(&k.b)),
            };
            if denom > 0.0 && inter / denom > threshold {
                continue 'outer;
            }
        }
        keep.push(c);
    }
    keep
}

/// Applies the regression offsets (scaled by the box's size plus one, as the original).
fn regress(c: &mut Cand) {
    let w = c.b[2] - c.b[0] + 1.0;
    let h = c.b[3] - c.b[1] + 1.0;
    c.b = [
        c.b[0] + c.reg[0] * w,
        c.b[1] + c.reg[1] * h,
        c.b[2] + c.reg[2] * w,
        c.b[3] + c.reg[3] * h,
    ];
}

/// Makes a box square around its centre (the longer side).
fn square(c: &mut Cand) {
    let w = c.b[2] - c.b[0];
    let h = c.b[3] - c.b[1];
    let l = w.max(h);
    c.b[0] += 0.5 * (w - l);
    c.b[1] += 0.5 * (h - l);
    c.b[2] = c.b[0] + l;
    c.b[3] = c.b[1] + l;
}

/// The whole-texel crop a candidate reads, clamped to the picture (None when empty).
fn crop_of(c: &Cand, w: u32, h: u32) -> Option<[f32; 4]> {
    let x = (c.b[0].trunc() as i64).max(1);
    let y = (c.b[1].trunc() as i64).max(1);
    let ex = (c.b[2].trunc() as i64).min(i64::from(w));
    let ey = (c.b[3].trunc() as i64).min(i64::from(h));
    (ex > x - 1 && ey > y - 1).then(|| [(x - 1) as f32, (y - 1) as f32, ex as f32, ey as f32])
}

/// Probability of "face" from the two logits.
fn face_prob(l0: f32, l1: f32) -> f32 {
    1.0 / (1.0 + (l0 - l1).exp())
}

/// The detector on a wgpu device.
#[derive(Debug)]
pub struct Mtcnn {
    device: wgpu::Device,
    queue: wgpu::Queue,
    conv: Kernel,
    pool: Kernel,
    resampler: Resampler,
    nets: [Vec<GpuOp>; 3],
    /// Smallest face searched for, in pixels of the picture (facenet-pytorch's default: 20).
    pub min_face: f32,
}

/// Normalisation of the networks' input: (byte - 127.5) / 128.
pub(crate) const NORM_SCALE: f32 = 1.0 / 128.0;
pub(crate) const NORM_OFFSET: f32 = -127.5 / 128.0;

impl Mtcnn {
    /// Uploads the weights and builds the kernels.
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        weights: &MtcnnWeights,
    ) -> Result<Self, Wav2LipError> {
        let (pipeline, layout) = crate::gpu::create_pipeline(device)?;
        let conv = Kernel { pipeline, layout };
        let pool = Kernel::new(
            device,
            "nn/pool.wgsl",
            "pool",
            &[
                Binding::Uniform,
                Binding::Storage { read_only: true },
                Binding::Storage { read_only: false },
            ],
        )?;
        let upload = |ops: &Vec<HostOp>| -> Vec<GpuOp> {
            ops.iter()
                .map(|op| match op {
                    HostOp::Conv(l) => GpuOp::Conv(upload_layer(device, queue, l)),
                    HostOp::Pool { k, s } => GpuOp::Pool { k: *k, s: *s },
                })
                .collect()
        };
        Ok(Self {
            device: device.clone(),
            queue: queue.clone(),
            conv,
            pool,
            resampler: Resampler::new(device)?,
            nets: [
                upload(&weights.nets[0]),
                upload(&weights.nets[1]),
                upload(&weights.nets[2]),
            ],
            min_face: 20.0,
        })
    }

    /// Records network `net` on `n` inputs of `shape` in `input`; returns the output buffer
    /// and its shape.
    fn encode_net(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        net: usize,
        input: wgpu::Buffer,
        n: usize,
        shape: Chw,
    ) -> (wgpu::Buffer, Chw) {
        let mut x = input;
        let (mut c, mut h, mut w) = shape;
        for op in &self.nets[net] {
            match op {
                GpuOp::Conv(l) => {
                    let d = &l.def;
                    let (oh, ow) = d.out_size(h, w);
                    let out = storage(&self.device, "mtcnn.activations", n * d.cout * oh * ow);
                    let p = conv_params(d, n, ((h, w), (oh, ow)), (d.cin, 0), (d.cout, 0));
                    let params = uniform(&self.device, "mtcnn.conv", &p);
                    let bg = self.conv.bind(
                        &self.device,
                        "mtcnn.conv",
                        &[
                            params.as_entire_binding(),
                            x.as_entire_binding(),
                            l.weights.as_entire_binding(),
                            l.bias.as_entire_binding(),
                            out.as_entire_binding(),
                        ],
                    );
                    self.conv
                        .dispatch(encoder, &bg, [workgroups_x(&p), p.cout_groups, n as u32]);
                    (x, c, h, w) = (out, d.cout, oh, ow);
                }
                GpuOp::Pool { k, s } => {
                    let (oh, ow) = (pool_out(h, *k, *s), pool_out(w, *k, *s));
                    let out = storage(&self.device, "mtcnn.activations", n * c * oh * ow);
                    let p = PoolParams {
                        n: n as u32,
                        c: c as u32,
                        in_h: h as u32,
                        in_w: w as u32,
                        out_h: oh as u32,
                        out_w: ow as u32,
                        k: *k as u32,
                        s: *s as u32,
                    };
                    let params = uniform(&self.device, "mtcnn.pool", &p);
                    let bg = self.pool.bind(
                        &self.device,
                        "mtcnn.pool",
                        &[
                            params.as_entire_binding(),
                            x.as_entire_binding(),
                            out.as_entire_binding(),
                        ],
                    );
                    self.pool.dispatch(
                        encoder,
                        &bg,
                        [((oh * ow) as u32).div_ceil(64), c as u32, n as u32],
                    );
                    (x, h, w) = (out, oh, ow);
                }
            }
        }
        (x, (c, h, w))
    }

    /// Submits `encoder` after copying `outputs` into one staging buffer; returns their floats.
    fn read(
        &self,
        encoder: wgpu::CommandEncoder,
        outputs: &[(wgpu::Buffer, usize)],
    ) -> Result<Vec<Vec<f32>>, Wav2LipError> {
        let sources: Vec<(&wgpu::Buffer, u64)> = outputs
            .iter()
            .map(|(buffer, len)| (buffer, (*len * 4) as u64))
            .collect();
        let bytes = gpu::read_buffers(
            &self.device,
            &self.queue,
            encoder,
            &sources,
            std::time::Duration::from_secs(600),
            "the face detector's scores",
        )?;
        Ok(bytes
            .iter()
            .map(|b| bytemuck::cast_slice::<u8, f32>(b).to_vec())
            .collect())
    }

    fn encoder(&self) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("mtcnn"),
            })
    }

    /// Runs R-Net (`net` 1, 24x24) or O-Net (`net` 2, 48x48) on `crops` of the picture;
    /// returns each crop's outputs.
    fn refine(
        &self,
        picture: &wgpu::Texture,
        crops: &[[f32; 4]],
        net: usize,
    ) -> Result<Vec<Vec<f32>>, Wav2LipError> {
        let side = if net == 1 { 24 } else { 48 };
        let mut result = Vec::with_capacity(crops.len());
        for chunk in crops.chunks(CHUNK) {
            let n = chunk.len();
            let input = storage(&self.device, "mtcnn.crops", n * 3 * side * side);
            let mut encoder = self.encoder();
            self.resampler.encode(
                &self.device,
                &mut encoder,
                picture,
                &Resample {
                    crops: chunk,
                    out: (side as u32, side as u32),
                    filter: Filter::Area,
                    layout: Layout::Rgb,
                    scale: NORM_SCALE,
                    offset: NORM_OFFSET,
                },
                &input,
            )?;
            let (out, (c, oh, ow)) = self.encode_net(&mut encoder, net, input, n, (3, side, side));
            let per = c * oh * ow;
            let values = self.read(encoder, &[(out, n * per)])?;
            result.extend(values[0].chunks(per).map(<[f32]>::to_vec));
        }
        Ok(result)
    }

    /// Finds the faces in `picture` (an RGBA8 texture, sRGB or not, with `TEXTURE_BINDING`),
    /// best first.
    pub fn detect(&self, picture: &wgpu::Texture) -> Result<Vec<Face>, Wav2LipError> {
        detect_with(
            &GpuNets {
                mtcnn: self,
                picture,
            },
            self.min_face,
        )
    }

    /// P-Net over the pyramid levels (height, width), one submission.
    fn pnet(
        &self,
        picture: &wgpu::Texture,
        levels: &[(usize, usize)],
    ) -> Result<Vec<ScoreMap>, Wav2LipError> {
        let (w, h) = (picture.width(), picture.height());
        let mut encoder = self.encoder();
        let mut outputs = Vec::new();
        let mut shapes = Vec::new();
        for &(hs, ws) in levels {
            let input = storage(&self.device, "mtcnn.pyramid", 3 * hs * ws);
            self.resampler.encode(
                &self.device,
                &mut encoder,
                picture,
                &Resample {
                    crops: &[[0.0, 0.0, w as f32, h as f32]],
                    out: (ws as u32, hs as u32),
                    filter: Filter::Area,
                    layout: Layout::Rgb,
                    scale: NORM_SCALE,
                    offset: NORM_OFFSET,
                },
                &input,
            )?;
            let (out, shape) = self.encode_net(&mut encoder, 0, input, 1, (3, hs, ws));
            outputs.push((out, shape.0 * shape.1 * shape.2));
            shapes.push((shape.1, shape.2));
        }
        let maps = self.read(encoder, &outputs)?;
        Ok(maps.into_iter().zip(shapes).collect())
    }
}

/// What runs MTCNN's three networks on one picture: the GPU kernels ([`Mtcnn`]) or the native
/// CPU backend ([`crate::native::CpuMtcnn`]). The candidate logic ([`detect_with`]) is shared.
pub(crate) trait Nets {
    /// Width and height of the picture.
    fn size(&self) -> (u32, u32);
    /// P-Net's output maps (2 logits, 4 offsets; planes of (height, width)) for each pyramid
    /// level, given as the picture resized to (height, width).
    fn pnet(&self, levels: &[(usize, usize)]) -> Result<Vec<ScoreMap>, Wav2LipError>;
    /// R-Net (`net` 1, 24x24 crops) or O-Net (`net` 2, 48x48) outputs for each crop (x0, y0,
    /// x1, y1 in whole texels, end exclusive).
    fn refine(&self, crops: &[[f32; 4]], net: usize) -> Result<Vec<Vec<f32>>, Wav2LipError>;
    /// Most pixels one pyramid level may have (the first level is scaled down to fit; the
    /// smallest face found then grows with the picture).
    fn max_level_pixels(&self) -> usize {
        DEFAULT_LEVEL_PIXELS
    }
}

struct GpuNets<'a> {
    mtcnn: &'a Mtcnn,
    picture: &'a wgpu::Texture,
}

impl Nets for GpuNets<'_> {
    fn size(&self) -> (u32, u32) {
        (self.picture.width(), self.picture.height())
    }

    fn pnet(&self, levels: &[(usize, usize)]) -> Result<Vec<ScoreMap>, Wav2LipError> {
        self.mtcnn.pnet(self.picture, levels)
    }

    fn refine(&self, crops: &[[f32; 4]], net: usize) -> Result<Vec<Vec<f32>>, Wav2LipError> {
        self.mtcnn.refine(self.picture, crops, net)
    }

    /// P-Net's widest activation must fit one storage binding of this device.
    fn max_level_pixels(&self) -> usize {
        let limits = self.mtcnn.device.limits();
        let bytes = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        (bytes / (PNET_WIDEST as u64 * 4)).min(usize::MAX as u64) as usize
    }
}

/// Runs `nets` over the candidates of `cands` that have a crop; pairs each with its outputs.
fn refine_cands(
    nets: &dyn Nets,
    cands: &[Cand],
    net: usize,
) -> Result<Vec<(Cand, Vec<f32>)>, Wav2LipError> {
    let (w, h) = nets.size();
    let usable: Vec<(Cand, [f32; 4])> = cands
        .iter()
        .filter_map(|c| crop_of(c, w, h).map(|r| (*c, r)))
        .collect();
    if usable.is_empty() {
        return Ok(Vec::new());
    }
    let crops: Vec<[f32; 4]> = usable.iter().map(|(_, r)| *r).collect();
    let outputs = nets.refine(&crops, net)?;
    Ok(usable.into_iter().map(|(c, _)| c).zip(outputs).collect())
}

/// The pyramid's levels (height, width) and scales for a `w` x `h` picture.
fn pyramid(w: u32, h: u32, min_face: f32, max_pixels: usize) -> Vec<((usize, usize), f32)> {
    let shorter = w.min(h) as f32;
    let mut m = 12.0 / min_face.max(12.0);
    let first = (f64::from(w) * f64::from(m) + 1.0) * (f64::from(h) * f64::from(m) + 1.0);
    if first > max_pixels as f64 {
        m = ((max_pixels as f64 / (f64::from(w) * f64::from(h))).sqrt() as f32) * 0.999;
    }
    let mut levels = Vec::new();
    let mut side = shorter * m;
    let mut s = m;
    while side >= 12.0 {
        let hs = (h as f32 * s + 1.0) as usize;
        let ws = (w as f32 * s + 1.0) as usize;
        levels.push(((hs, ws), s));
        s *= FACTOR;
        side *= FACTOR;
    }
    levels
}

/// MTCNN's candidate logic over whichever executor runs the networks, following
/// facenet-pytorch's `detect_face`; faces best first.
pub(crate) fn detect_with(nets: &dyn Nets, min_face: f32) -> Result<Vec<Face>, Wav2LipError> {
    let (w, h) = nets.size();
    if w < 12 || h < 12 {
        return Err(Wav2LipError::Input(format!(
            "a {w}x{h} picture is too small to search for faces (12x12 at least)"
        )));
    }
    let levels = pyramid(w, h, min_face, nets.max_level_pixels());
    let sizes: Vec<(usize, usize)> = levels.iter().map(|(s, _)| *s).collect();

    // Stage 1: P-Net over the pyramid.
    let maps = nets.pnet(&sizes)?;
    let mut cands = Vec::new();
    for ((map, (oh, ow)), &(_, scale)) in maps.iter().zip(&levels) {
        let (oh, ow) = (*oh, *ow);
        let plane = oh * ow;
        let mut level = Vec::new();
        for y in 0..oh {
            for x in 0..ow {
                let i = y * ow + x;
                let score = face_prob(map[i], map[plane + i]);
                if score < THRESHOLDS[0] {
                    continue;
                }
                let (fx, fy) = (x as f32, y as f32);
                level.push(Cand {
                    b: [
                        ((2.0 * fx + 1.0) / scale).floor(),
                        ((2.0 * fy + 1.0) / scale).floor(),
                        ((2.0 * fx + 12.0) / scale).floor(),
                        ((2.0 * fy + 12.0) / scale).floor(),
                    ],
                    score,
                    reg: [
                        map[2 * plane + i],
                        map[3 * plane + i],
                        map[4 * plane + i],
                        map[5 * plane + i],
                    ],
                    lm: [0.0; 10],
                });
            }
        }
        cands.extend(nms(level, 0.5, Overlap::Union));
    }
    let mut cands = nms(cands, 0.7, Overlap::Union);
    for c in &mut cands {
        // Stage 1 scales its offsets by the box size without the +1.
        let bw = c.b[2] - c.b[0];
        let bh = c.b[3] - c.b[1];
        c.b = [
            c.b[0] + c.reg[0] * bw,
            c.b[1] + c.reg[1] * bh,
            c.b[2] + c.reg[2] * bw,
            c.b[3] + c.reg[3] * bh,
        ];
        square(c);
    }
    if cands.is_empty() {
        return Ok(Vec::new());
    }

    // Stage 2: R-Net on 24x24 crops.
    let mut next = Vec::new();
    for (mut c, out) in refine_cands(nets, &cands, 1)? {
        let score = face_prob(out[0], out[1]);
        if score > THRESHOLDS[1] {
            c.score = score;
            c.reg = [out[2], out[3], out[4], out[5]];
            next.push(c);
        }
    }
    let mut cands = nms(next, 0.7, Overlap::Union);
    for c in &mut cands {
        regress(c);
        square(c);
    }
    if cands.is_empty() {
        return Ok(Vec::new());
    }

    // Stage 3: O-Net on 48x48 crops, with landmarks.
    let mut next = Vec::new();
    for (mut c, out) in refine_cands(nets, &cands, 2)? {
        let score = face_prob(out[0], out[1]);
        if score > THRESHOLDS[2] {
            c.score = score;
            c.reg = [out[2], out[3], out[4], out[5]];
            let bw = c.b[2] - c.b[0] + 1.0;
            let bh = c.b[3] - c.b[1] + 1.0;
            for k in 0..5 {
                c.lm[k] = bw * out[6 + k] + c.b[0] - 1.0;
                c.lm[5 + k] = bh * out[11 + k] + c.b[1] - 1.0;
            }
            regress(&mut c);
            next.push(c);
        }
    }
    Ok(nms(next, 0.7, Overlap::Min)
        .into_iter()
        .map(|c| Face {
            rect: c.b,
            score: c.score,
            landmarks: std::array::from_fn(|k| [c.lm[k], c.lm[5 + k]]),
        })
        .collect())
}

#[cfg(test)]
mod tests;
