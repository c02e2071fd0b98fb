//! One interface over the two executors of the same networks: the GPU kernels ([`LipSync`],
//! [`Mtcnn`]) and the native CPU backend ([`CpuGenerator`], [`CpuMtcnn`]).
//!
//! [`BackendChoice::Auto`] picks the CPU backend when the adapter that draws the frames is a
//! software rasteriser (lavapipe, llvmpipe: there the CPU *is* the device, and the native code
//! runs the networks ~100x faster than WGSL through llvmpipe) and the GPU kernels otherwise (the
//! pixels then never leave the GPU).

use std::fmt;
use std::str::FromStr;

use crate::Wav2LipError;
use crate::gpu::LipSync;
use crate::model::Model;
use crate::mtcnn::{Face, Mtcnn, MtcnnWeights};
use crate::native::{CpuGenerator, CpuMtcnn};

/// Which executor runs the networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// WGSL compute passes on the wgpu device that draws the frames.
    Gpu,
    /// Native code on the host's cores (GEMM on packed weights).
    Cpu,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Gpu => "gpu",
            Self::Cpu => "cpu",
        })
    }
}

/// What a job or a command line asks for: `auto`, `gpu` or `cpu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// The CPU backend on a software adapter, the GPU kernels on a hardware one.
    #[default]
    Auto,
    Gpu,
    Cpu,
}

impl FromStr for BackendChoice {
    type Err = Wav2LipError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "gpu" => Ok(Self::Gpu),
            "cpu" => Ok(Self::Cpu),
            other => Err(Wav2LipError::UnknownBackend(other.to_owned())),
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Gpu => "gpu",
            Self::Cpu => "cpu",
        })
    }
}

impl BackendChoice {
    /// The backend for frames drawn on an adapter that is (`software`) or is not a CPU
    /// rasteriser, and why.
    pub fn resolve(self, software: bool) -> (Backend, &'static str) {
        match self {
            Self::Gpu => (Backend::Gpu, "asked for"),
            Self::Cpu => (Backend::Cpu, "asked for"),
            Self::Auto if software => (
                Backend::Cpu,
                "the adapter is a software rasteriser, so the CPU runs the networks natively",
            ),
            Self::Auto => (
                Backend::Gpu,
                "the adapter is a GPU, so the networks run beside the frames on it",
            ),
        }
    }
}

/// The Wav2Lip generator on either backend.
#[derive(Debug)]
pub enum Generator {
    Gpu(LipSync),
    Cpu(CpuGenerator),
}

impl Generator {
    /// Prepares `model` for `backend`; the GPU backend needs the device and queue.
    pub fn new(
        backend: Backend,
        model: &Model,
        gpu: Option<(&wgpu::Device, &wgpu::Queue)>,
    ) -> Result<Self, Wav2LipError> {
        match (backend, gpu) {
            (Backend::Cpu, _) => Ok(Self::Cpu(CpuGenerator::new(model))),
            (Backend::Gpu, Some((device, queue))) => {
                Ok(Self::Gpu(LipSync::new(device, queue, model)?))
            }
            (Backend::Gpu, None) => Err(Wav2LipError::Gpu(
                "the GPU backend needs a wgpu device; none was given".into(),
            )),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Gpu(_) => Backend::Gpu,
            Self::Cpu(_) => Backend::Cpu,
        }
    }

    /// Lowers the frames run at once.
    pub fn set_max_batch(&mut self, frames: usize) {
        match self {
            Self::Gpu(g) => g.set_max_batch(frames),
            Self::Cpu(c) => c.set_max_batch(frames),
        }
    }

    /// Runs `n` frames from host memory: faces n x (6, 96, 96), mels n x (1, 80, 16); returns
    /// n x (3, 96, 96) in 0..1.
    pub fn infer_host(
        &mut self,
        faces: &[f32],
        mels: &[f32],
        n: usize,
    ) -> Result<Vec<f32>, Wav2LipError> {
        match self {
            Self::Gpu(g) => g.infer_host(faces, mels, n),
            Self::Cpu(c) => c.infer_host(faces, mels, n),
        }
    }
}

/// A picture to search for faces: a texture on the device, or RGBA8 bytes on the host.
#[derive(Debug, Clone, Copy)]
pub enum Picture<'a> {
    Texture(&'a wgpu::Texture),
    Rgba {
        pixels: &'a [u8],
        width: u32,
        height: u32,
    },
}

/// The MTCNN face detector on either backend.
#[derive(Debug)]
pub enum Detector {
    Gpu(Mtcnn),
    Cpu(CpuMtcnn),
}

impl Detector {
    /// Prepares the weights for `backend`; the GPU backend needs the device and queue.
    pub fn new(
        backend: Backend,
        weights: &MtcnnWeights,
        gpu: Option<(&wgpu::Device, &wgpu::Queue)>,
    ) -> Result<Self, Wav2LipError> {
        match (backend, gpu) {
            (Backend::Cpu, _) => Ok(Self::Cpu(CpuMtcnn::new(weights))),
            (Backend::Gpu, Some((device, queue))) => {
                Ok(Self::Gpu(Mtcnn::new(device, queue, weights)?))
            }
            (Backend::Gpu, None) => Err(Wav2LipError::Gpu(
                "the GPU face detector needs a wgpu device; none was given".into(),
            )),
        }
    }

    /// Smallest face searched for, in pixels of the picture.
    pub fn set_min_face(&mut self, pixels: f32) {
        match self {
            Self::Gpu(g) => g.min_face = pixels,
            Self::Cpu(c) => c.min_face = pixels,
        }
    }

    /// Finds the faces in `picture`, best first. The GPU detector reads textures, the CPU one
    /// bytes.
    pub fn detect(&self, picture: Picture<'_>) -> Result<Vec<Face>, Wav2LipError> {
        match (self, picture) {
            (Self::Gpu(g), Picture::Texture(t)) => g.detect(t),
            (
                Self::Cpu(c),
                Picture::Rgba {
                    pixels,
                    width,
                    height,
                },
            ) => c.detect(pixels, width, height),
            (Self::Gpu(_), Picture::Rgba { .. }) => Err(Wav2LipError::Input(
                "the GPU face detector reads a texture, not host pixels".into(),
            )),
            (Self::Cpu(_), Picture::Texture(_)) => Err(Wav2LipError::Input(
                "the CPU face detector reads host pixels, not a texture".into(),
            )),
        }
    }
}
