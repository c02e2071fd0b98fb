//! MTCNN on the CPU: the same folded networks as the GPU detector ([`MtcnnWeights`]), each
//! convolution a [`PackedConv`] (PReLU and linear epilogues; fully connected layers are
//! full-size convolutions), ceil-mode max pooling, and the pyramid and candidate crops
//! resampled from the picture's RGBA bytes ([`resample_rgba`]). The candidate logic is
//! [`crate::mtcnn`]'s, shared with the GPU path.

use rayon::prelude::*;

use super::conv::{Nhwc, PackedConv, max_pool, nchw_to_nhwc, nhwc_to_nchw};
use crate::Wav2LipError;
use crate::mtcnn::{
    CHUNK, Face, HostOp, MtcnnWeights, NORM_OFFSET, NORM_SCALE, Nets, ScoreMap, detect_with,
};
use crate::resample::{Filter, Layout, Resample, resample_rgba};

#[derive(Debug)]
enum Op {
    Conv(PackedConv),
    Pool { k: usize, s: usize },
}

/// The face detector on the CPU.
#[derive(Debug)]
pub struct CpuMtcnn {
    nets: [Vec<Op>; 3],
    /// Smallest face searched for, in pixels of the picture (facenet-pytorch's default: 20).
    pub min_face: f32,
}

impl CpuMtcnn {
    /// Packs the three networks' weights.
    pub fn new(weights: &MtcnnWeights) -> Self {
        let pack = |ops: &Vec<HostOp>| -> Vec<Op> {
            ops.iter()
                .map(|op| match op {
                    HostOp::Conv(l) => Op::Conv(PackedConv::new(l)),
                    HostOp::Pool { k, s } => Op::Pool { k: *k, s: *s },
                })
                .collect()
        };
        Self {
            nets: [
                pack(&weights.nets[0]),
                pack(&weights.nets[1]),
                pack(&weights.nets[2]),
            ],
            min_face: 20.0,
        }
    }

    /// Finds the faces in an RGBA8 picture (`width` x `height`, rows packed), best first.
    pub fn detect(
        &self,
        pixels: &[u8],
        width: u32,
        height: u32,
    ) -> Result<Vec<Face>, Wav2LipError> {
        if pixels.len() < width as usize * height as usize * 4 {
            return Err(Wav2LipError::Input(format!(
                "a {width}x{height} RGBA picture needs {} bytes, got {}",
                width as usize * height as usize * 4,
                pixels.len()
            )));
        }
        detect_with(
            &CpuNets {
                mtcnn: self,
                pixels,
                size: (width, height),
            },
            self.min_face,
        )
    }

    /// Runs network `net` on `n` NCHW inputs of (c, h, w); returns NCHW outputs and their
    /// (c, h, w).
    fn run(
        &self,
        net: usize,
        input: &[f32],
        n: usize,
        (c, h, w): (usize, usize, usize),
    ) -> (Vec<f32>, (usize, usize, usize)) {
        let mut x = Vec::new();
        nchw_to_nhwc(input, n, c, h * w, &mut x);
        let mut y = Vec::new();
        let (mut c, mut h, mut w) = (c, h, w);
        for op in &self.nets[net] {
            let view = Nhwc {
                data: &x,
                n,
                h,
                w,
                ctot: c,
                coff: 0,
            };
            match op {
                Op::Conv(l) => {
                    let (oh, ow) = l.def.out_size(h, w);
                    y.clear();
                    y.resize(n * oh * ow * l.def.cout, 0.0);
                    l.run(view, &mut y, l.def.cout, 0);
                    (c, h, w) = (l.def.cout, oh, ow);
                }
                Op::Pool { k, s } => {
                    (h, w) = max_pool(view, *k, *s, &mut y);
                }
            }
            std::mem::swap(&mut x, &mut y);
        }
        let mut out = vec![0.0; x.len()];
        nhwc_to_nchw(&x, n, c, h * w, &mut out);
        (out, (c, h, w))
    }
}

struct CpuNets<'a> {
    mtcnn: &'a CpuMtcnn,
    pixels: &'a [u8],
    size: (u32, u32),
}

impl CpuNets<'_> {
    fn resample(&self, crops: &[[f32; 4]], out: (usize, usize)) -> Result<Vec<f32>, Wav2LipError> {
        let mut dst = vec![0.0; crops.len() * 3 * out.0 * out.1];
        resample_rgba(
            self.pixels,
            self.size,
            &Resample {
                crops,
                out: (out.0 as u32, out.1 as u32),
                filter: Filter::Area,
                layout: Layout::Rgb,
                scale: NORM_SCALE,
                offset: NORM_OFFSET,
            },
            &mut dst,
        )?;
        Ok(dst)
    }
}

impl Nets for CpuNets<'_> {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn pnet(&self, levels: &[(usize, usize)]) -> Result<Vec<ScoreMap>, Wav2LipError> {
        let (w, h) = self.size;
        // Levels are resampled side by side (each reads the whole picture), then run in turn
        // (each layer threads its own tiles).
        let inputs: Vec<Result<Vec<f32>, Wav2LipError>> = levels
            .par_iter()
            .map(|&(hs, ws)| self.resample(&[[0.0, 0.0, w as f32, h as f32]], (ws, hs)))
            .collect();
        let mut maps = Vec::with_capacity(levels.len());
        for (input, &(hs, ws)) in inputs.into_iter().zip(levels) {
            let (out, (_, oh, ow)) = self.mtcnn.run(0, &input?, 1, (3, hs, ws));
            maps.push((out, (oh, ow)));
        }
        Ok(maps)
    }

    fn refine(&self, crops: &[[f32; 4]], net: usize) -> Result<Vec<Vec<f32>>, Wav2LipError> {
        let side = if net == 1 { 24 } else { 48 };
        let mut result = Vec::with_capacity(crops.len());
        for chunk in crops.chunks(CHUNK) {
            let input = self.resample(chunk, (side, side))?;
            let (out, (c, oh, ow)) = self.mtcnn.run(net, &input, chunk.len(), (3, side, side));
            result.extend(out.chunks(c * oh * ow).map(<[f32]>::to_vec));
        }
        Ok(result)
    }
}
