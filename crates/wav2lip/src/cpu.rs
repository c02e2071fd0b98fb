//! Plain-Rust CPU reference of every layer kind and of the whole generator. Deliberately simple
//! (direct loops, real concatenation), so the GPU path is checked against something obviously
//! right; runs output channels on all cores with scoped threads.

use crate::model::{FACE, FACE_LEN, FoldedLayer, MEL_BINS, MEL_LEN, MEL_STEPS, Model};

/// An (N, C, H, W) tensor, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor4 {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

impl Tensor4 {
    pub fn zeros(n: usize, c: usize, h: usize, w: usize) -> Self {
        Self {
            n,
            c,
            h,
            w,
            data: vec![0.0; n * c * h * w],
        }
    }

    pub fn from_vec(n: usize, c: usize, h: usize, w: usize, data: Vec<f32>) -> Self {
        assert_eq!(data.len(), n * c * h * w, "tensor data length");
        Self { n, c, h, w, data }
    }

    fn plane(&self) -> usize {
        self.h * self.w
    }

    /// Concatenation on channels: `self` first, then `other`.
    pub fn concat(&self, other: &Tensor4) -> Tensor4 {
        assert_eq!((self.n, self.h, self.w), (other.n, other.h, other.w));
        let mut out = Tensor4::zeros(self.n, self.c + other.c, self.h, self.w);
        let (a, b, p) = (self.c * self.plane(), other.c * self.plane(), self.plane());
        for n in 0..self.n {
            let dst = &mut out.data[n * (a + b)..(n + 1) * (a + b)];
            dst[..a].copy_from_slice(&self.data[n * a..(n + 1) * a]);
            dst[a..].copy_from_slice(&other.data[n * b..(n + 1) * b]);
        }
        let _ = p;
        out
    }
}

/// Valid range of `o` (0..out) for which `o * stride + shift` lies in 0..size.
fn valid_range(out: usize, stride: usize, shift: isize, size: usize) -> std::ops::Range<usize> {
    let s = stride as isize;
    // o * s + shift >= 0  <=>  o >= ceil(-shift / s)
    let lo = if shift >= 0 { 0 } else { (-shift + s - 1) / s };
    // o * s + shift <= size - 1  <=>  o <= floor((size - 1 - shift) / s)
    let top = size as isize - 1 - shift;
    let hi = if top < 0 { -1 } else { top / s };
    let lo = lo.max(0) as usize;
    let hi = (hi + 1).clamp(0, out as isize) as usize;
    lo..hi.max(lo)
}

/// One layer: (transposed) convolution with folded bias, optional residual (the input itself),
/// then the activation. A convolution gathers (`out[o] += w * x[o*s + k - p]`), a transposed
/// one scatters by its definition (`out[i*s - p + k] += w * x[i]`): a different formulation
/// from the GPU kernel's gather, so the two check each other. Inner loops run along rows.
pub fn layer(x: &Tensor4, l: &FoldedLayer) -> Tensor4 {
    let d = &l.def;
    assert_eq!(x.c, d.cin, "{}: input channels", d.key);
    let (oh, ow) = d.out_size(x.h, x.w);
    let mut out = Tensor4::zeros(x.n, d.cout, oh, ow);
    let (kh, kw) = d.k;
    let (sh, sw) = d.stride;
    let (ph, pw) = (d.pad.0 as isize, d.pad.1 as isize);
    let (ih, iw) = (x.h, x.w);
    let plane_in = x.plane();
    let plane_out = oh * ow;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    for n in 0..x.n {
        let input = &x.data[n * x.c * plane_in..(n + 1) * x.c * plane_in];
        let output = &mut out.data[n * d.cout * plane_out..(n + 1) * d.cout * plane_out];
        let per = d.cout.div_ceil(threads).max(1);
        std::thread::scope(|s| {
            for (chunk, block) in output.chunks_mut(per * plane_out).enumerate() {
                s.spawn(move || {
                    for (j, dst) in block.chunks_mut(plane_out).enumerate() {
                        let co = chunk * per + j;
                        dst.fill(l.bias[co]);
                        for ci in 0..d.cin {
                            let src = &input[ci * plane_in..(ci + 1) * plane_in];
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let w = l.weight[((co * d.cin + ci) * kh + ky) * kw + kx];
                                    if d.transposed {
                                        // out[iy*sh - ph + ky][ix*sw - pw + kx] += w * x[iy][ix]
                                        let oys = valid_range(ih, sh, ky as isize - ph, oh);
                                        let oxs = valid_range(iw, sw, kx as isize - pw, ow);
                                        for iy in oys {
                                            let oy = (iy * sh) as isize - ph + ky as isize;
                                            let orow = oy as usize * ow;
                                            for ix in oxs.clone() {
                                                let ox = (ix * sw) as isize - pw + kx as isize;
                                                dst[orow + ox as usize] += w * src[iy * iw + ix];
                                            }
                                        }
                                    } else {
                                        // out[oy][ox] += w * x[oy*sh + ky - ph][ox*sw + kx - pw]
                                        let oys = valid_range(oh, sh, ky as isize - ph, ih);
                                        let oxs = valid_range(ow, sw, kx as isize - pw, iw);
                                        for oy in oys {
                                            let iy = (oy * sh) as isize + ky as isize - ph;
                                            let irow = iy as usize * iw;
                                            let orow = &mut dst[oy * ow..(oy + 1) * ow];
                                            for ox in oxs.clone() {
                                                let ix = (ox * sw) as isize + kx as isize - pw;
                                                orow[ox] += w * src[irow + ix as usize];
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        for (o, v) in dst.iter_mut().enumerate() {
                            let mut t = *v;
                            if d.residual {
                                t += input[co * plane_in + o];
                            }
                            *v = d.act.apply(t, l.prelu.get(co).copied().unwrap_or(0.0));
                        }
                    }
                });
            }
        });
    }
    out
}

/// The whole generator: `faces` (N, 6, 96, 96) and `mels` (N, 1, 80, 16), both row-major, give
/// (N, 3, 96, 96) in [0, 1].
pub fn forward(model: &Model, faces: &[f32], mels: &[f32], n: usize) -> Vec<f32> {
    assert_eq!(faces.len(), n * FACE_LEN, "faces length");
    assert_eq!(mels.len(), n * MEL_LEN, "mels length");
    let mut layers = model.layers.iter();
    let mut next = || layers.next().unwrap_or_else(|| unreachable!("layer count"));
    // Face encoder: keep every block's output.
    let mut x = Tensor4::from_vec(n, 6, FACE, FACE, faces.to_vec());
    let mut enc = Vec::new();
    for block in &model.arch.face {
        for _ in block {
            x = layer(&x, next());
        }
        enc.push(x.clone());
    }
    // Audio encoder.
    let mut a = Tensor4::from_vec(n, 1, MEL_BINS, MEL_STEPS, mels.to_vec());
    for _ in &model.arch.audio {
        a = layer(&a, next());
    }
    // Decoder: each block's output, then the matching encoder output on channels.
    let mut x = a;
    for (b, block) in model.arch.decoder.iter().enumerate() {
        for _ in block {
            x = layer(&x, next());
        }
        x = x.concat(&enc[6 - b]);
    }
    for _ in &model.arch.output {
        x = layer(&x, next());
    }
    x.data
}
