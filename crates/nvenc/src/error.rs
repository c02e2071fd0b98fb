/// Everything that can go wrong between us, the CUDA driver and NVENC. Each message says why and
/// what to do; none of these is raised by a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NvencError {
    #[error(
        "no NVIDIA driver: {library} could not be loaded ({reason}). NVENC needs an NVIDIA GPU \
         with NVIDIA's proprietary driver"
    )]
    NoDriver { library: String, reason: String },
    #[error(
        "the NVIDIA video encoder library {library} could not be loaded ({reason}). Install the \
         driver's encode package (e.g. Debian/Ubuntu `libnvidia-encode-<version>`; in containers \
         set NVIDIA_DRIVER_CAPABILITIES to include `video`)"
    )]
    NvencLibraryMissing { library: String, reason: String },
    #[error("{library} has no symbol {symbol} ({reason}): the NVIDIA driver is too old or broken")]
    MissingSymbol {
        library: String,
        symbol: String,
        reason: String,
    },
    #[error("no CUDA device: the NVIDIA driver is loaded but sees no GPU ({detail})")]
    NoCudaDevice { detail: String },
    #[error(
        "no CUDA device is the GPU that renders (Vulkan device UUID {wanted}); CUDA sees: {seen}. \
         Render on the NVIDIA GPU (adapter = \"gpu\" or its name)"
    )]
    NoMatchingDevice { wanted: String, seen: String },
    #[error("CUDA call {call} failed: {name} ({code})")]
    Cuda {
        call: &'static str,
        code: i32,
        name: String,
    },
    #[error(
        "the NVIDIA driver is too old for NVENC API {needed}: it supports up to {found}. Update \
         the driver to 530 or newer"
    )]
    DriverTooOld { needed: String, found: String },
    #[error(
        "GPU {device} has no NVENC video encoder ({status}); data-centre GPUs such as the A100, \
         H100 and H200 have none"
    )]
    NoEncoder { device: String, status: String },
    #[error(
        "no NVENC session could be opened on {device} ({status}): the GPU is out of encoder \
         sessions or memory. GeForce cards allow a few concurrent sessions (8 with current \
         drivers); close other encoders (OBS, ffmpeg -c:v h264_nvenc, other renders) and retry"
    )]
    SessionLimit { device: String, status: String },
    #[error("{device} cannot encode {codec} with NVENC (its encoder lists: {supported})")]
    CodecUnsupported {
        device: String,
        codec: String,
        supported: String,
    },
    #[error("NVENC call {call} failed: {status}{detail}")]
    Nvenc {
        call: &'static str,
        status: String,
        /// The driver's own last-error text, prefixed with ": ", or empty.
        detail: String,
    },
    #[error("invalid NVENC setting: {0}")]
    Config(String),
}
