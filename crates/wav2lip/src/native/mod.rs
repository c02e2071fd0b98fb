//! The native CPU backend: the same networks as [`crate::gpu`] and [`crate::mtcnn`], executed
//! on the host's cores with GEMM on packed weights (faer), for machines whose only adapter is a
//! software rasteriser (lavapipe, llvmpipe), where the CPU is the device.
//!
//! - [`conv`]: one layer as im2row tiles x packed weights, transposed convolutions as sub-pixel
//!   phases, fused epilogues; ceil-mode max pooling; NCHW <-> NHWC.
//! - [`generator`]: the Wav2Lip generator ([`CpuGenerator`]) on the shared execution plan.
//! - [`detector`]: MTCNN's three networks ([`CpuMtcnn`]) on pixels the CPU already has.
//!
//! GEMM library (measured here, 2-core AMD EPYC, AVX2/FMA, conv-shaped products from 36x4608x512
//! to 9216x294x16, docs/BENCHMARKS.md): faer 0.24 reached 122-170 GFLOP/s on two threads
//! where `gemm` 0.19 reached 91-170 and `matrixmultiply` 0.3 (threading capped) 34-82; faer
//! also has a safe, strided API, so no `unsafe` is needed here.

pub mod conv;
pub mod detector;
pub mod generator;

pub use detector::CpuMtcnn;
pub use generator::CpuGenerator;
