//! The Wav2Lip generator on the CPU: the same folded [`Model`] and the same execution plan
//! ([`crate::plan`]) as the GPU kernels, each layer a [`PackedConv`]. Encoder outputs land in
//! the channel range of the decoder level that concatenates them; activation buffers are sized
//! for the largest chunk seen and reused by every later batch.

use std::collections::HashMap;

use super::conv::{Nhwc, PackedConv, nchw_to_nhwc, nhwc_to_nchw};
use crate::Wav2LipError;
use crate::model::{FACE, FACE_LEN, MEL_BINS, MEL_LEN, MEL_STEPS, Model, OUT_LEN};
use crate::plan::{Buf, Step, frame_floats, plan};

/// Frames run through the network at once; larger batches are split (bounds the activation
/// memory at about 12 MB a frame).
pub const MAX_CHUNK: usize = 32;

/// The generator's weights packed for the CPU, and its reusable activation buffers.
#[derive(Debug)]
pub struct CpuGenerator {
    layers: Vec<PackedConv>,
    steps: Vec<Step>,
    concat: Vec<usize>,
    scratch: usize,
    buffers: HashMap<Buf, Vec<f32>>,
    capacity: usize,
    max_chunk: usize,
}

impl CpuGenerator {
    /// Packs `model`'s folded weights.
    pub fn new(model: &Model) -> Self {
        let (steps, concat, scratch) = plan(model);
        Self {
            layers: model.layers.iter().map(PackedConv::new).collect(),
            steps,
            concat,
            scratch,
            buffers: HashMap::new(),
            capacity: 0,
            max_chunk: MAX_CHUNK,
        }
    }

    /// Lowers the frames run at once (at least 1, at most [`MAX_CHUNK`]).
    pub fn set_max_batch(&mut self, frames: usize) {
        self.max_chunk = frames.clamp(1, MAX_CHUNK);
    }

    fn ensure_capacity(&mut self, frames: usize) {
        if frames <= self.capacity {
            return;
        }
        let mut bufs = vec![
            Buf::Faces,
            Buf::Mels,
            Buf::Out,
            Buf::Audio,
            Buf::Scratch(0),
            Buf::Scratch(1),
        ];
        bufs.extend((0..7).map(Buf::Concat));
        for buf in bufs {
            let len = frame_floats(buf, &self.concat, self.scratch) * frames;
            self.buffers.insert(buf, vec![0.0; len]);
        }
        self.capacity = frames;
    }

    /// Runs the generator on `n` frames: `faces` n x (6, 96, 96) and `mels` n x (1, 80, 16),
    /// as [`crate::LipSync::infer_host`] takes them; `out` receives n x (3, 96, 96) in 0..1.
    pub fn infer(
        &mut self,
        faces: &[f32],
        mels: &[f32],
        n: usize,
        out: &mut [f32],
    ) -> Result<(), Wav2LipError> {
        if n == 0 {
            return Err(Wav2LipError::Input("no frames to generate".into()));
        }
        if faces.len() != n * FACE_LEN || mels.len() != n * MEL_LEN || out.len() != n * OUT_LEN {
            return Err(Wav2LipError::Input(format!(
                "{n} frames need {} face, {} mel and {} output values, got {}, {} and {}",
                n * FACE_LEN,
                n * MEL_LEN,
                n * OUT_LEN,
                faces.len(),
                mels.len(),
                out.len()
            )));
        }
        let chunk = self.max_chunk.min(n);
        self.ensure_capacity(chunk);
        let mut start = 0;
        while start < n {
            let m = chunk.min(n - start);
            self.run_chunk(
                &faces[start * FACE_LEN..(start + m) * FACE_LEN],
                &mels[start * MEL_LEN..(start + m) * MEL_LEN],
                m,
                &mut out[start * OUT_LEN..(start + m) * OUT_LEN],
            );
            start += m;
        }
        Ok(())
    }

    fn run_chunk(&mut self, faces: &[f32], mels: &[f32], n: usize, out: &mut [f32]) {
        let plane = FACE * FACE;
        if let Some(buf) = self.buffers.get_mut(&Buf::Faces) {
            nchw_to_nhwc(faces, n, 6, plane, buf);
        }
        if let Some(buf) = self.buffers.get_mut(&Buf::Mels) {
            // One channel: NCHW and NHWC are the same.
            buf[..n * MEL_BINS * MEL_STEPS].copy_from_slice(mels);
        }
        for step in &self.steps {
            let layer = &self.layers[step.layer];
            // Input and output are always different buffers (see plan::plan).
            let mut dst = self.buffers.remove(&step.output.buf).unwrap_or_default();
            if let Some(src) = self.buffers.get(&step.input.buf) {
                let x = Nhwc {
                    data: src,
                    n,
                    h: step.in_hw.0,
                    w: step.in_hw.1,
                    ctot: step.input.ctot,
                    coff: step.input.coff,
                };
                layer.run(x, &mut dst, step.output.ctot, step.output.coff);
            }
            self.buffers.insert(step.output.buf, dst);
        }
        if let Some(buf) = self.buffers.get(&Buf::Out) {
            nhwc_to_nchw(&buf[..n * OUT_LEN], n, 3, plane, out);
        }
    }

    /// Convenience: allocates the output.
    pub fn infer_host(
        &mut self,
        faces: &[f32],
        mels: &[f32],
        n: usize,
    ) -> Result<Vec<f32>, Wav2LipError> {
        let mut out = vec![0.0; n * OUT_LEN];
        self.infer(faces, mels, n, &mut out)?;
        Ok(out)
    }
}

/// Runs one layer on the CPU backend (for per-layer tests against [`crate::cpu::layer`]): `x`
/// is (n, cin, h, w) NCHW; returns (n, cout, oh, ow) NCHW.
pub fn run_layer(layer: &crate::model::FoldedLayer, x: &crate::cpu::Tensor4) -> Vec<f32> {
    let d = &layer.def;
    let packed = PackedConv::new(layer);
    let mut input = Vec::new();
    nchw_to_nhwc(&x.data, x.n, x.c, x.h * x.w, &mut input);
    let (oh, ow) = d.out_size(x.h, x.w);
    let mut out = vec![0.0; x.n * oh * ow * d.cout];
    packed.run(
        Nhwc {
            data: &input,
            n: x.n,
            h: x.h,
            w: x.w,
            ctot: x.c,
            coff: 0,
        },
        &mut out,
        d.cout,
        0,
    );
    let mut nchw = vec![0.0; out.len()];
    nhwc_to_nchw(&out, x.n, d.cout, oh * ow, &mut nchw);
    nchw
}
