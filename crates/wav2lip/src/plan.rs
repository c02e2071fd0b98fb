//! The generator's execution plan, shared by both executors (the GPU kernels in [`crate::gpu`]
//! and the native CPU backend in [`crate::native`]): every layer's input and output buffer, with
//! encoder outputs written straight into the channel range of the decoder level that
//! concatenates them (so concatenation copies nothing), and two scratch buffers inside blocks.

use crate::model::{FACE, FACE_LEN, MEL_BINS, MEL_LEN, MEL_STEPS, Model, OUT_LEN};

/// Where a layer reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Buf {
    Faces,
    Mels,
    Out,
    Audio,
    /// Decoder level b: [decoder block b's output | encoder block 6 - b's output].
    Concat(usize),
    Scratch(usize),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) buf: Buf,
    pub(crate) ctot: usize,
    pub(crate) coff: usize,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Step {
    pub(crate) layer: usize,
    pub(crate) input: Slot,
    pub(crate) output: Slot,
    pub(crate) in_hw: (usize, usize),
    pub(crate) out_hw: (usize, usize),
}

/// Floats per frame of each internal buffer.
pub(crate) fn frame_floats(buf: Buf, concat: &[usize], scratch: usize) -> usize {
    match buf {
        Buf::Faces => FACE_LEN,
        Buf::Mels => MEL_LEN,
        Buf::Out => OUT_LEN,
        Buf::Audio => 512,
        Buf::Concat(b) => concat[b],
        Buf::Scratch(_) => scratch,
    }
}

/// The execution order: every layer's input and output slot and sizes, the floats per frame of
/// each concat level, and of a scratch buffer.
pub(crate) fn plan(model: &Model) -> (Vec<Step>, Vec<usize>, usize) {
    let arch = &model.arch;
    let side = |b: usize| crate::Architecture::level_side(b);
    let concat_c: Vec<usize> = (0..7)
        .map(|b| arch.dec_channels(b) + arch.enc_channels(6 - b))
        .collect();
    let concat: Vec<usize> = (0..7).map(|b| concat_c[b] * side(b) * side(b)).collect();
    let mut steps = Vec::new();
    let mut scratch = 0usize;
    let mut index = 0usize;
    let mut run = |steps: &mut Vec<Step>,
                   defs: &[crate::model::LayerDef],
                   input: Slot,
                   mut hw: (usize, usize),
                   last: Slot| {
        let mut from = input;
        for (j, def) in defs.iter().enumerate() {
            let out_hw = def.out_size(hw.0, hw.1);
            let to = if j + 1 == defs.len() {
                last
            } else {
                scratch = scratch.max(def.cout * out_hw.0 * out_hw.1);
                Slot {
                    buf: Buf::Scratch(j % 2),
                    ctot: def.cout,
                    coff: 0,
                }
            };
            steps.push(Step {
                layer: index,
                input: from,
                output: to,
                in_hw: hw,
                out_hw,
            });
            index += 1;
            from = to;
            hw = out_hw;
        }
    };
    // Face encoder: block b writes into decoder level 6 - b, after the decoder's channels.
    let mut prev = Slot {
        buf: Buf::Faces,
        ctot: 6,
        coff: 0,
    };
    let mut hw = (FACE, FACE);
    for (b, block) in arch.face.iter().enumerate() {
        let level = 6 - b;
        let dest = Slot {
            buf: Buf::Concat(level),
            ctot: concat_c[level],
            coff: arch.dec_channels(level),
        };
        run(&mut steps, block, prev, hw, dest);
        prev = dest;
        hw = (side(level), side(level));
    }
    run(
        &mut steps,
        &arch.audio,
        Slot {
            buf: Buf::Mels,
            ctot: 1,
            coff: 0,
        },
        (MEL_BINS, MEL_STEPS),
        Slot {
            buf: Buf::Audio,
            ctot: 512,
            coff: 0,
        },
    );
    let mut prev = Slot {
        buf: Buf::Audio,
        ctot: 512,
        coff: 0,
    };
    let mut hw = (1, 1);
    for (b, block) in arch.decoder.iter().enumerate() {
        let dest = Slot {
            buf: Buf::Concat(b),
            ctot: concat_c[b],
            coff: 0,
        };
        run(&mut steps, block, prev, hw, dest);
        prev = Slot {
            buf: Buf::Concat(b),
            ctot: concat_c[b],
            coff: 0,
        };
        hw = (side(b), side(b));
    }
    run(
        &mut steps,
        &arch.output,
        prev,
        hw,
        Slot {
            buf: Buf::Out,
            ctot: 3,
            coff: 0,
        },
    );
    (steps, concat, scratch)
}
