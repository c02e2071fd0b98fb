//! The native CPU backend (crates/wav2lip/src/native) against the plain-Rust scatter-form
//! reference (crates/wav2lip/src/cpu.rs), which shares no code with it but the folded weights:
//! every layer kind, then the whole generator in chunks with its buffers reused, and MTCNN on a
//! real photograph with facenet-pytorch's weights. No GPU is needed.

mod common;

use common::{errors, inputs};
use wav2lip::cpu::forward;
use wav2lip::model::{FACE_LEN, MEL_LEN, Model, OUT_LEN};
use wav2lip::native::CpuGenerator;
use wav2lip::native::generator::run_layer;

#[test]
fn every_layer_kind_matches_the_reference() {
    common::check_every_layer_kind(run_layer);
}

#[test]
fn the_whole_generator_matches_the_reference_in_chunks_of_2() {
    let model = Model::random(42);
    let (faces, mels) = inputs(3, 3);
    let want = forward(&model, &faces, &mels, 3);
    let mut generator = CpuGenerator::new(&model);
    // Three frames in chunks of at most two: a chunk of 2, then one, in the same buffers.
    generator.set_max_batch(2);
    let got = generator.infer_host(&faces, &mels, 3).expect("infer");
    assert_eq!(got.len(), 3 * OUT_LEN);
    common::check_frames(&got, &want);
    // A second call with one frame reuses the buffers and gives frame 0 again (to rounding:
    // another batch size tiles the GEMMs differently).
    let again = generator
        .infer_host(&faces[..FACE_LEN], &mels[..MEL_LEN], 1)
        .expect("infer one");
    let (max, _) = errors(&again, &got[..OUT_LEN]);
    assert!(max <= 1e-5, "frame 0 alone: max abs {max:e}");
    let e = generator
        .infer_host(&faces[..10], &mels, 3)
        .expect_err("short input");
    assert!(e.to_string().contains("3 frames need"), "{e}");
}
