//! One (transposed) convolution on the CPU as GEMM on packed weights.
//!
//! Activations are NHWC (channels innermost), so the K dimension of a tap is `cin` contiguous
//! floats and a channel slice of a concatenation buffer is a row stride plus an offset.
//!
//! Every layer kind becomes a set of *phases*. A phase is an ordinary gather convolution over
//! an output sub-grid `(a * out_step + py, b * out_step + px)` whose taps read the input at
//! `(a * in_step + dy, b * in_step + dx)`:
//! - a convolution is one phase (`out_step` 1, `in_step` the stride, `dy = ky - pad`);
//! - a transposed convolution of stride `s` is `s * s` sub-pixel phases (Shi et al.,
//!   arXiv 1609.05158): output row `oy = a * s + py` receives tap `ky` exactly when
//!   `ky = (py + pad) mod s`, from input row `a + (py + pad - ky) / s`. For k3 s2 p1 the four
//!   phases have 1, 2, 2 and 4 taps (9 in all): no multiply by an inserted zero.
//!
//! A phase's weights are packed once as a `(taps * cin) x cout` row-major matrix. Output rows
//! are cut into tiles across the whole batch (deep, small layers fold the batch into M); a tile
//! gathers its input rows into an im2row block (never the whole im2col matrix: at most
//! [`A_BUDGET`] floats), multiplies it with faer's GEMM, and the epilogue (folded bias,
//! residual, ReLU / PReLU / sigmoid) runs on the product while it is in cache, writing into the
//! output's channel range (so concatenation is a channel offset, not a copy). Tiles run on the
//! rayon pool when there are enough rows for every thread; otherwise one tile at a time with
//! the GEMM itself threaded.

use std::cell::RefCell;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::model::{Act, FoldedLayer, LayerDef};

/// Most floats of one im2row block (8 MiB): bounds each thread's scratch whatever the layer.
const A_BUDGET: usize = 2 << 20;
/// Below this many GEMM rows per thread, tiles are not split across threads; the GEMM is.
const MIN_ROWS_PER_THREAD: usize = 96;

/// An NHWC tensor (or the channel range `coff..coff + c` of one), read-only.
#[derive(Debug, Clone, Copy)]
pub struct Nhwc<'a> {
    pub data: &'a [f32],
    pub n: usize,
    pub h: usize,
    pub w: usize,
    /// Channels stored per pixel, and where this tensor's channels start among them.
    pub ctot: usize,
    pub coff: usize,
}

impl Nhwc<'_> {
    fn pixel(&self, img: usize, y: usize, x: usize) -> usize {
        ((img * self.h + y) * self.w + x) * self.ctot + self.coff
    }
}

#[derive(Debug, Clone)]
struct Phase {
    py: usize,
    px: usize,
    /// Input offsets of each tap.
    taps: Vec<(isize, isize)>,
    /// `(taps * cin) x cout`, row-major.
    weights: Vec<f32>,
}

/// A layer's weights packed for the CPU: one GEMM operand per phase, bias and PReLU slopes.
#[derive(Debug, Clone)]
pub struct PackedConv {
    pub def: LayerDef,
    in_step: (usize, usize),
    out_step: (usize, usize),
    phases: Vec<Phase>,
    bias: Vec<f32>,
    prelu: Vec<f32>,
}

impl PackedConv {
    /// Packs a folded layer (weights `[cout][cin][kh][kw]`, transposed ones too).
    pub fn new(l: &FoldedLayer) -> Self {
        let d = &l.def;
        let (kh, kw) = d.k;
        let (in_step, out_step) = d.phase_steps();
        let mut phases = Vec::new();
        for py in 0..out_step.0 {
            for px in 0..out_step.1 {
                let ys = d.axis_taps(0, py);
                let xs = d.axis_taps(1, px);
                let mut taps = Vec::new();
                let mut weights = Vec::with_capacity(ys.len() * xs.len() * d.cin * d.cout);
                for &(ky, dy) in &ys {
                    for &(kx, dx) in &xs {
                        taps.push((dy, dx));
                        for ci in 0..d.cin {
                            for co in 0..d.cout {
                                weights.push(l.weight[((co * d.cin + ci) * kh + ky) * kw + kx]);
                            }
                        }
                    }
                }
                phases.push(Phase {
                    py,
                    px,
                    taps,
                    weights,
                });
            }
        }
        Self {
            def: d.clone(),
            in_step,
            out_step,
            phases,
            bias: l.bias.clone(),
            prelu: l.prelu.clone(),
        }
    }

    /// Runs the layer on `x` (its channels must be `cin`), writing channels
    /// `out_coff..out_coff + cout` of `out`, an NHWC buffer of `out_ctot` channels and at least
    /// `n * oh * ow` pixels. The residual, when the layer has one, is `x` itself.
    pub fn run(&self, x: Nhwc<'_>, out: &mut [f32], out_ctot: usize, out_coff: usize) {
        let d = &self.def;
        assert!(x.coff + d.cin <= x.ctot, "{}: input channels", d.key);
        assert!(out_coff + d.cout <= out_ctot, "{}: output channels", d.key);
        let (oh, ow) = d.out_size(x.h, x.w);
        let out = &mut out[..x.n * oh * ow * out_ctot];
        let osh = self.out_step.0;
        let a_rows = oh.div_ceil(osh);
        let groups = x.n * a_rows;
        // GEMM rows an a-row contributes to its largest phase, and the widest K.
        let cols = ow.div_ceil(self.out_step.1);
        let k_max = self
            .phases
            .iter()
            .map(|p| p.taps.len() * d.cin)
            .max()
            .unwrap_or(0)
            .max(1);
        let budget_rows = (A_BUDGET / (cols * k_max)).max(1);
        let threads = rayon::current_num_threads().max(1);
        let parallel_tiles = groups * cols >= threads * MIN_ROWS_PER_THREAD && threads > 1;
        let per_tile = if parallel_tiles {
            budget_rows.min(groups.div_ceil(threads))
        } else {
            budget_rows.min(groups)
        };
        // First output pixel of a-row group g (groups are contiguous in memory, across images).
        let pixel_of = |g: usize| (g / a_rows) * oh * ow + ((g % a_rows) * osh).min(oh) * ow;
        let mut tiles: Vec<(usize, usize, &mut [f32])> = Vec::new();
        let mut rest = out;
        let mut g = 0;
        while g < groups {
            let end = (g + per_tile).min(groups);
            let len = (pixel_of(end) - pixel_of(g)) * out_ctot;
            let (chunk, tail) = rest.split_at_mut(len);
            tiles.push((g, end, chunk));
            rest = tail;
            g = end;
        }
        let geometry = Geometry {
            oh,
            ow,
            a_rows,
            out_ctot,
            out_coff,
        };
        if parallel_tiles && tiles.len() > 1 {
            tiles.into_par_iter().for_each(|(g0, g1, chunk)| {
                let base = pixel_of(g0);
                self.tile(x, &geometry, (g0, g1), base, chunk, Par::Seq);
            });
        } else {
            let par = if threads > 1 {
                Par::rayon(threads)
            } else {
                Par::Seq
            };
            for (g0, g1, chunk) in tiles {
                let base = pixel_of(g0);
                self.tile(x, &geometry, (g0, g1), base, chunk, par);
            }
        }
    }

    /// Computes a-row groups `g0..g1` into `chunk` (whose first pixel is `base`).
    fn tile(
        &self,
        x: Nhwc<'_>,
        geo: &Geometry,
        (g0, g1): (usize, usize),
        base: usize,
        chunk: &mut [f32],
        par: Par,
    ) {
        let d = &self.def;
        let (osh, osw) = self.out_step;
        let (ish, isw) = self.in_step;
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            let Scratch { rows, a, c } = &mut *scratch;
            for phase in &self.phases {
                // This phase's output pixels in the tile: (image, a, b).
                rows.clear();
                for g in g0..g1 {
                    let (img, ar) = (g / geo.a_rows, g % geo.a_rows);
                    if ar * osh + phase.py >= geo.oh {
                        continue;
                    }
                    let mut b = 0;
                    while b * osw + phase.px < geo.ow {
                        rows.push((img as u32, ar as u32, b as u32));
                        b += 1;
                    }
                }
                let m = rows.len();
                if m == 0 {
                    continue;
                }
                let k = phase.taps.len() * d.cin;
                let n = d.cout;
                // Grown, never cleared: every value used below is written first.
                grow(c, m * n);
                let c = &mut c[..m * n];
                if k > 0 {
                    // im2row: each row holds its taps' input channels, zeros outside.
                    grow(a, m * k);
                    let a = &mut a[..m * k];
                    for (r, &(img, ar, b)) in rows.iter().enumerate() {
                        let row = &mut a[r * k..(r + 1) * k];
                        for (t, &(dy, dx)) in phase.taps.iter().enumerate() {
                            let dst = &mut row[t * d.cin..(t + 1) * d.cin];
                            let iy = (ar as usize * ish) as isize + dy;
                            let ix = (b as usize * isw) as isize + dx;
                            if iy < 0 || ix < 0 || iy >= x.h as isize || ix >= x.w as isize {
                                dst.fill(0.0);
                                continue;
                            }
                            let src = x.pixel(img as usize, iy as usize, ix as usize);
                            dst.copy_from_slice(&x.data[src..src + d.cin]);
                        }
                    }
                    matmul(
                        MatMut::from_row_major_slice_mut(c, m, n),
                        Accum::Replace,
                        MatRef::from_row_major_slice(a, m, k),
                        MatRef::from_row_major_slice(&phase.weights, k, n),
                        1.0f32,
                        par,
                    );
                } else {
                    // No tap reaches the input: the phase is its bias alone.
                    c.fill(0.0);
                }
                // Epilogue: bias, residual, activation, into the output's channel range.
                for (r, &(img, ar, b)) in rows.iter().enumerate() {
                    let (img, oy, ox) = (
                        img as usize,
                        ar as usize * osh + phase.py,
                        b as usize * osw + phase.px,
                    );
                    let pixel = (img * geo.oh + oy) * geo.ow + ox - base;
                    let dst = &mut chunk[pixel * geo.out_ctot + geo.out_coff..][..n];
                    let acc = &c[r * n..(r + 1) * n];
                    let residual = d.residual.then(|| {
                        let src = x.pixel(img, oy, ox);
                        &x.data[src..src + n]
                    });
                    epilogue(d.act, dst, acc, &self.bias, &self.prelu, residual);
                }
            }
        });
    }
}

/// Output geometry shared by a layer's tiles.
#[derive(Debug)]
struct Geometry {
    oh: usize,
    ow: usize,
    a_rows: usize,
    out_ctot: usize,
    out_coff: usize,
}

/// Makes `v` at least `len` long (new values zero; old ones kept, to be overwritten).
fn grow(v: &mut Vec<f32>, len: usize) {
    if v.len() < len {
        v.resize(len, 0.0);
    }
}

/// Per-thread buffers, reused by every tile and every batch.
#[derive(Debug, Default)]
struct Scratch {
    rows: Vec<(u32, u32, u32)>,
    a: Vec<f32>,
    c: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// `dst = act(acc + bias (+ residual))`, one pixel's channels.
fn epilogue(
    act: Act,
    dst: &mut [f32],
    acc: &[f32],
    bias: &[f32],
    prelu: &[f32],
    residual: Option<&[f32]>,
) {
    let pre = |i: usize| acc[i] + bias[i] + residual.map_or(0.0, |r| r[i]);
    match act {
        Act::Relu => {
            for (i, v) in dst.iter_mut().enumerate() {
                *v = pre(i).max(0.0);
            }
        }
        Act::Linear => {
            for (i, v) in dst.iter_mut().enumerate() {
                *v = pre(i);
            }
        }
        Act::Sigmoid => {
            for (i, v) in dst.iter_mut().enumerate() {
                *v = 1.0 / (1.0 + (-pre(i)).exp());
            }
        }
        Act::Prelu => {
            for (i, v) in dst.iter_mut().enumerate() {
                let t = pre(i);
                *v = if t < 0.0 { t * prelu[i] } else { t };
            }
        }
    }
}

/// Ceil-mode max pooling (no padding; a window must start inside the input) of an NHWC
/// tensor with `x.ctot == c`; returns the pooled tensor and its height and width.
pub fn max_pool(x: Nhwc<'_>, k: usize, s: usize, out: &mut Vec<f32>) -> (usize, usize) {
    let (oh, ow) = (
        crate::mtcnn::pool_out(x.h, k, s),
        crate::mtcnn::pool_out(x.w, k, s),
    );
    let c = x.ctot;
    out.clear();
    out.resize(x.n * oh * ow * c, f32::NEG_INFINITY);
    out.par_chunks_mut(ow * c)
        .enumerate()
        .for_each(|(row, dst)| {
            let (img, oy) = (row / oh, row % oh);
            for ox in 0..ow {
                let d = &mut dst[ox * c..(ox + 1) * c];
                for y in oy * s..(oy * s + k).min(x.h) {
                    for xx in ox * s..(ox * s + k).min(x.w) {
                        let src = &x.data[((img * x.h + y) * x.w + xx) * c..][..c];
                        for (o, v) in d.iter_mut().zip(src) {
                            *o = o.max(*v);
                        }
                    }
                }
            }
        });
    (oh, ow)
}

/// NCHW planes of `n` items to NHWC.
pub fn nchw_to_nhwc(src: &[f32], n: usize, c: usize, plane: usize, dst: &mut Vec<f32>) {
    dst.clear();
    dst.resize(n * c * plane, 0.0);
    for img in 0..n {
        let s = &src[img * c * plane..(img + 1) * c * plane];
        let d = &mut dst[img * c * plane..(img + 1) * c * plane];
        for ch in 0..c {
            for (p, v) in s[ch * plane..(ch + 1) * plane].iter().enumerate() {
                d[p * c + ch] = *v;
            }
        }
    }
}

/// NHWC pixels of `n` items to NCHW planes.
pub fn nhwc_to_nchw(src: &[f32], n: usize, c: usize, plane: usize, dst: &mut [f32]) {
    for img in 0..n {
        let s = &src[img * c * plane..(img + 1) * c * plane];
        let d = &mut dst[img * c * plane..(img + 1) * c * plane];
        for p in 0..plane {
            for ch in 0..c {
                d[ch * plane + p] = s[p * c + ch];
            }
        }
    }
}
