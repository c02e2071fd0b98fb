//! GPU side of the renderer: device selection, the WGSL shader library, layer passes,
//! RGB -> NV12 conversion and the asynchronous readback ring.
//!
//! Everything here runs on one [`GpuContext`] (one wgpu device). A [`FrameRenderer`] owns the
//! per-size resources: the render target, the layer pipelines, the NV12 planes and the readback
//! ring. Frames are submitted one by one and come back, in order, as padded NV12 (or, for
//! formats that keep alpha or full chroma, RGBA) bytes.
//! This crate knows nothing about ffmpeg or audio decoding.

mod context;
mod error;
mod external;
mod frame;
mod layers;
mod nv12;
mod readback;
mod renderer;
mod rgba;
pub mod shaders;
mod source_pass;
pub mod text;

pub use context::{
    AdapterChoice, AdapterSummary, COOPERATIVE_MATRIX_FEATURES, ContextOptions, GpuContext,
    MAX_BINDING_BYTES, device_limits, is_software_adapter, list_adapters,
};
pub use error::GpuError;
pub use external::{ExportableBuffer, ExternalMemoryInfo, ExternalRing, external_memory_info};
pub use frame::{FrameFeatures, FrameUniforms};
pub use layers::{
    AVATAR_FACE_FLOATS, AvatarParams, BackgroundParams, BarsParams, BlendMode, BloomParams,
    CustomParams, CustomShader, ImageParams, LayerImage, LayerKind, LayerSpec, PARTICLE_BYTES,
    ParticlesParams, ProgressParams, RadialParams, Rgba, SpectrogramParams, TextParams,
    VignetteParams, WaveformParams, avatar_mask, srgb_to_linear,
};
pub use nv12::{Nv12Layout, rgb_to_nv12_reference, rgba_to_nv12};
pub use readback::read_buffers;
pub use renderer::{FrameRenderer, RendererConfig};
pub use rgba::{FrameLayout, FrameOutput, RgbaLayout, straight_alpha_reference};

/// Receives finished frames, in order: the frame index and the padded frame's bytes (NV12 or
/// RGBA, see [`FrameLayout`]). An error stops the render.
pub type FrameSink<'a, E> = dyn FnMut(u64, &[u8]) -> Result<(), E> + 'a;

/// Re-exported so embedders can build a [`GpuContext`] from their own device.
pub use wgpu;
