//! Arbitrary bytes through the checkpoint loader (legacy PyTorch pickle, torch zip, safetensors,
//! told apart by their first bytes) and, when they load, through the generator's key, shape and
//! value checks: errors, never a panic, a hang or an allocation beyond the loader's budget.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wav2lip::checkpoint::Checkpoint;

fuzz_target!(|data: &[u8]| {
    let Ok(ckpt) = Checkpoint::from_bytes(Path::new("fuzz.pth"), data) else {
        return;
    };
    for key in ckpt.keys() {
        let t = ckpt.get(key).expect("listed key");
        assert_eq!(t.shape.iter().product::<usize>(), t.data.len(), "{key}");
    }
    let _ = wav2lip::Model::from_checkpoint(&ckpt);
});
