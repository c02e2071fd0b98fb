//! Wav2Lip's lip-sync generator, in process, on the same wgpu device that draws the frames.
//!
//! - [`mel`]: the audio front end exactly as the original computes it (16 kHz, pre-emphasis,
//!   STFT 800/200, Slaney mel 80 bands, dB, normalisation) and the per-frame 80x16 windows.
//! - [`checkpoint`]: tensors from legacy PyTorch pickles (`wav2lip.pth`), zip-format torch files
//!   and safetensors.
//! - [`npy`]: NumPy `.npy` files (float32, C order) for the parity examples.

pub mod backend;
pub mod checkpoint;
pub mod cpu;
pub mod fetch;
pub mod gemm;
pub mod gpu;
mod kernel;
pub mod mel;
pub mod model;
pub mod mtcnn;
pub mod native;
pub mod npy;
mod plan;
pub mod resample;

pub use backend::{Backend, BackendChoice, Detector, Generator, Picture};
pub use gpu::LipSync;
pub use model::{Architecture, Model};

/// Everything the generator can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Wav2LipError {
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error(transparent)]
    Mel(#[from] mel::MelError),
    #[error(transparent)]
    Shader(#[from] ::gpu::GpuError),
    #[error("wav2lip on the GPU: {0}")]
    Gpu(String),
    #[error("wav2lip input: {0}")]
    Input(String),
    #[error("face detector: {0}")]
    Detector(String),
    #[error("unknown lip-sync backend {0:?}: use \"auto\", \"gpu\" or \"cpu\"")]
    UnknownBackend(String),
}
