/// Everything that can go wrong on the GPU side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GpuError {
    #[error(
        "no GPU adapter found (Vulkan/Metal/DX12/GL). Install a driver for your GPU, or Mesa's \
         software Vulkan driver on CPU-only machines: `apt-get install mesa-vulkan-drivers`"
    )]
    NoAdapter,
    #[error("no adapter matches adapter = \"{wanted}\": {why}. Adapters seen: {seen}")]
    AdapterNotFound {
        wanted: String,
        why: String,
        seen: String,
    },
    #[error("cannot create a device on adapter {adapter}: {reason}")]
    RequestDevice { adapter: String, reason: String },
    #[error("shader {file}: {message}")]
    Shader { file: String, message: String },
    #[error("GPU error: {0}")]
    Validation(String),
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),
    #[error("the GPU did not finish frame {frame} within {seconds} s")]
    Timeout { frame: u64, seconds: u64 },
    #[error("reading frame {frame} back from the GPU failed: {reason}")]
    Readback { frame: u64, reason: String },
    #[error("reading {what} back from the GPU failed: {reason}")]
    BufferReadback { what: String, reason: String },
    #[error("sharing GPU memory with CUDA: {0}")]
    External(String),
    #[error("invalid render setting: {0}")]
    Config(String),
}
