//! Helpers shared by the wav2lip integration tests: seeded layers and inputs, the list of
//! layer kinds every executor is checked on, and the error measures with their tolerances.
#![allow(dead_code)]

use wav2lip::cpu::{Tensor4, layer};
use wav2lip::model::{Act, FACE_LEN, FoldedLayer, LayerDef, MEL_LEN, OUT_LEN, Rng};

/// (max abs error, relative L2 error) of `got` against `want`.
pub fn errors(got: &[f32], want: &[f32]) -> (f32, f32) {
    assert_eq!(got.len(), want.len(), "lengths");
    let mut max = 0.0f32;
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (g, w) in got.iter().zip(want) {
        max = max.max((g - w).abs());
        num += f64::from(g - w).powi(2);
        den += f64::from(*w).powi(2);
    }
    (max, (num / den.max(1e-30)).sqrt() as f32)
}

pub fn random_layer(rng: &mut Rng, def: LayerDef) -> FoldedLayer {
    let n = def.cout * def.fan_in();
    let a = (3.0 / def.fan_in() as f32).sqrt();
    FoldedLayer {
        weight: (0..n).map(|_| rng.sym(a)).collect(),
        bias: (0..def.cout).map(|_| rng.sym(0.1)).collect(),
        prelu: if def.act == Act::Prelu {
            (0..def.cout).map(|_| 0.1 + rng.uniform() * 0.3).collect()
        } else {
            Vec::new()
        },
        def,
    }
}

pub fn def(
    cin: usize,
    cout: usize,
    k: (usize, usize),
    stride: (usize, usize),
    pad: (usize, usize),
) -> LayerDef {
    LayerDef {
        key: "test".into(),
        transposed: false,
        cin,
        cout,
        k,
        stride,
        pad,
        out_pad: (0, 0),
        residual: false,
        bn: true,
        act: Act::Relu,
    }
}

/// Every layer kind the networks use, with an input size: (name, layer, (h, w)).
pub fn layer_cases() -> Vec<(&'static str, LayerDef, (usize, usize))> {
    vec![
        (
            "conv 3x3 s1 p1",
            def(5, 12, (3, 3), (1, 1), (1, 1)),
            (13, 11),
        ),
        (
            "conv 7x7 s1 p3",
            def(6, 16, (7, 7), (1, 1), (3, 3)),
            (20, 20),
        ),
        (
            "conv 3x3 s2 p1",
            def(16, 32, (3, 3), (2, 2), (1, 1)),
            (24, 24),
        ),
        (
            "conv rect stride (3,1)",
            def(8, 8, (3, 3), (3, 1), (1, 1)),
            (80, 16),
        ),
        (
            "conv rect stride (3,2)",
            def(8, 12, (3, 3), (3, 2), (1, 1)),
            (9, 6),
        ),
        (
            "conv 3x3 p0 to 1x1",
            def(16, 8, (3, 3), (1, 1), (0, 0)),
            (3, 3),
        ),
        ("conv 1x1", def(16, 20, (1, 1), (1, 1), (0, 0)), (5, 5)),
        (
            "conv over several tiles of every GEMM dimension (70 in, 80 out)",
            def(70, 80, (3, 3), (1, 1), (1, 1)),
            (11, 9),
        ),
        (
            "transposed s2 p1 op1, 72 out",
            LayerDef {
                transposed: true,
                out_pad: (1, 1),
                ..def(40, 72, (3, 3), (2, 2), (1, 1))
            },
            (5, 7),
        ),
        (
            "residual conv",
            LayerDef {
                residual: true,
                ..def(12, 12, (3, 3), (1, 1), (1, 1))
            },
            (10, 9),
        ),
        (
            "transposed s2 p1 op1",
            LayerDef {
                transposed: true,
                out_pad: (1, 1),
                ..def(10, 6, (3, 3), (2, 2), (1, 1))
            },
            (6, 6),
        ),
        (
            "transposed s2 p1 op1, tiles across threads",
            LayerDef {
                transposed: true,
                out_pad: (1, 1),
                ..def(24, 16, (3, 3), (2, 2), (1, 1))
            },
            (12, 13),
        ),
        (
            "transposed s1 p0",
            LayerDef {
                transposed: true,
                ..def(8, 8, (3, 3), (1, 1), (0, 0))
            },
            (1, 1),
        ),
        (
            "sigmoid output, 3 channels",
            LayerDef {
                act: Act::Sigmoid,
                bn: false,
                ..def(32, 3, (1, 1), (1, 1), (0, 0))
            },
            (12, 12),
        ),
        (
            "PReLU, unpadded (MTCNN), 10 channels",
            LayerDef {
                act: Act::Prelu,
                bn: false,
                ..def(3, 10, (3, 3), (1, 1), (0, 0))
            },
            (15, 17),
        ),
        (
            "linear head (MTCNN), 6 channels",
            LayerDef {
                act: Act::Linear,
                bn: false,
                ..def(32, 6, (1, 1), (1, 1), (0, 0))
            },
            (7, 5),
        ),
    ]
}

/// Runs `run` (an executor of one layer: NCHW in, NCHW out) on every layer kind with seeded
/// weights and inputs, against the plain-Rust reference: max abs <= 1e-4 x the output's largest
/// magnitude and relative L2 <= 1e-5 (f32 sums in another order differ by rounding only; a
/// wrong index, stride, padding or epilogue gives errors of order 1).
pub fn check_every_layer_kind(run: impl Fn(&FoldedLayer, &Tensor4) -> Vec<f32>) {
    let mut rng = Rng::new(7);
    let cases = layer_cases();
    for (name, d, (h, w)) in cases {
        let l = random_layer(&mut rng, d);
        let n = 2;
        let x = Tensor4::from_vec(
            n,
            l.def.cin,
            h,
            w,
            (0..n * l.def.cin * h * w).map(|_| rng.sym(1.0)).collect(),
        );
        let want = layer(&x, &l);
        let got = run(&l, &x);
        let scale = want
            .data
            .iter()
            .fold(0.0f32, |m, v| m.max(v.abs()))
            .max(1e-6);
        let (max, rel) = errors(&got, &want.data);
        assert!(
            max <= 1e-4 * scale && rel <= 1e-5,
            "{name}: max abs {max:e} (scale {scale}), rel L2 {rel:e}"
        );
        // Not trivially zero: ReLU must leave a good share of positive outputs.
        let positive = want.data.iter().filter(|v| **v > 0.0).count();
        assert!(
            positive * 5 > want.data.len(),
            "{name}: degenerate test data"
        );
        // PReLU and linear heads must also be exercised on the negative side.
        if matches!(l.def.act, Act::Prelu | Act::Linear) {
            let negative = want.data.iter().filter(|v| **v < 0.0).count();
            assert!(
                negative * 5 > want.data.len(),
                "{name}: no negative outputs"
            );
        }
    }
}

/// Seeded faces (0..1) and mel windows (-4..4) of `n` frames.
pub fn inputs(seed: u64, n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let faces = (0..n * FACE_LEN).map(|_| rng.uniform()).collect();
    let mels = (0..n * MEL_LEN).map(|_| rng.sym(4.0)).collect();
    (faces, mels)
}

/// Whole generator outputs against the reference, frame by frame: max abs <= 2e-4 and relative
/// L2 <= 1e-5 (sigmoid output in 0..1, 50 layers deep), and the output is not flat.
pub fn check_frames(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "output length");
    for (i, (g, w)) in got.chunks(OUT_LEN).zip(want.chunks(OUT_LEN)).enumerate() {
        let (max, rel) = errors(g, w);
        assert!(
            max <= 2e-4 && rel <= 1e-5,
            "frame {i}: max abs {max:e}, rel L2 {rel:e}"
        );
    }
    let spread = want
        .iter()
        .fold((1.0f32, 0.0f32), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    assert!(spread.1 - spread.0 > 0.05, "output range {spread:?}");
}
