//! Wav2Lip's lip-sync generator, in process, on the same wgpu device that draws the frames.
//!
//! - [`mel`]: the audio front end exactly as the original computes it (16 kHz, pre-emphasis,
//!   STFT 800/200, Slaney mel 80 bands, dB, normalisation) and the per-frame 80x16 windows.
//! - [`checkpoint`]: tensors from legacy PyTorch pickles (`wav2lip.pth`), zip-format torch files
//!   and safetensors.
//! - [`npy`]: NumPy `.npy` files (float32, C order) for the parity examples.

pub mod checkpoint;
pub mod mel;
pub mod npy;
