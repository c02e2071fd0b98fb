//! NVIDIA's hardware video encoder (NVENC) and the CUDA driver, loaded at run time.
//!
//! Nothing here links against NVIDIA libraries: `libcuda.so.1` and `libnvidia-encode.so.1` are
//! opened with `dlopen` (libloading) when first needed, so the crate builds and its users run
//! on machines with no NVIDIA software at all; there every entry point returns an
//! [`NvencError`] that says why (no driver, no device, no encoder on this GPU, driver too old,
//! session limit), and nothing panics.
//!
//! * [`cuda`]: devices and UUIDs, a context, Vulkan memory imported from an opaque file
//!   descriptor ([`cuda::CudaContext::import_fd`]) and mapped as a device pointer.
//! * [`encoder`]: one NVENC session: H.264 or HEVC, presets P1..P7, constant QP / constant
//!   quality / CBR / VBR, IDR interval, BT.709 limited-range VUI; CUDA device pointers holding
//!   pitched NV12 registered as inputs, mapped per frame; Annex-B output.
//! * [`annexb`]: an Annex-B reader (NAL units, access units, key frames, parameter sets).
//! * [`probe`]: can NVENC be used here, and if not, why.
//!
//! ## Why not the `nvidia-video-codec-sdk` crate
//! Its build script links `libnvidia-encode` and `libnvcuvid` at build time (and fails where
//! they are absent, as on CI), and it pulls in cudarc, whose build wants `nvcc` unless a CUDA
//! version feature is chosen. Its `ci-check` feature skips the linking but then a binary that
//! calls the API no longer links. We need one binary that builds everywhere and decides at run
//! time, so the handful of NVENC 12.1 structures and constants used here are written out in
//! [`sys`] from the public `nvEncodeAPI.h` layout, with a test that pins every size and offset
//! we rely on to the values the C header gives.

pub mod annexb;
pub mod cuda;
pub mod encoder;
mod error;
pub mod sys;

pub use cuda::{Cuda, CudaContext, CudaDevice, ExternalBuffer, format_uuid};
pub use encoder::{Codec, EncodeSettings, EncodedFrame, NvencApi, RateControl, Session};
pub use error::NvencError;

use std::sync::Arc;

/// What [`probe`] found out.
#[derive(Debug)]
pub struct ProbeReport {
    /// CUDA driver version (major, minor), when libcuda loaded.
    pub cuda_driver: Option<(i32, i32)>,
    /// Every CUDA device.
    pub devices: Vec<CudaDevice>,
    /// The device NVENC would run on (matching the Vulkan UUID when one was given).
    pub device: Option<CudaDevice>,
    /// Newest NVENC API the driver supports.
    pub nvenc_api: Option<(u32, u32)>,
    /// Codecs an NVENC session on `device` offers, or why there is no session.
    pub status: Result<Vec<Codec>, NvencError>,
}

impl ProbeReport {
    /// Ok when NVENC can encode `codec` here; otherwise the reason, in words.
    pub fn check(&self, codec: Codec) -> Result<(), String> {
        match &self.status {
            Ok(codecs) if codecs.contains(&codec) => Ok(()),
            Ok(codecs) => Err(format!(
                "{} cannot encode {codec} with NVENC (it offers: {})",
                self.device.as_ref().map_or("this GPU", |d| d.name.as_str()),
                codecs
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The CUDA pieces NVENC runs on: the driver, a context on the device with `vulkan_uuid`
/// (or the first device), and the NVENC library.
pub fn open(
    vulkan_uuid: Option<[u8; 16]>,
) -> Result<(Arc<Cuda>, CudaContext, Arc<NvencApi>), NvencError> {
    let cuda = Cuda::load()?;
    let device = cuda.device_for(vulkan_uuid)?;
    let api = NvencApi::load()?;
    let ctx = CudaContext::new(cuda.clone(), device)?;
    Ok((cuda, ctx, api))
}

/// Checks, without side effects beyond opening and closing one session, whether NVENC works
/// on the GPU whose Vulkan device UUID is `vulkan_uuid` (any CUDA device when `None`).
pub fn probe(vulkan_uuid: Option<[u8; 16]>) -> ProbeReport {
    let mut report = ProbeReport {
        cuda_driver: None,
        devices: Vec::new(),
        device: None,
        nvenc_api: None,
        status: Ok(Vec::new()),
    };
    report.status = (|| {
        let cuda = Cuda::load()?;
        report.cuda_driver = cuda.driver_version().ok();
        report.devices = cuda.devices()?;
        let device = cuda.device_for(vulkan_uuid)?;
        report.device = Some(device.clone());
        let api = NvencApi::load()?;
        report.nvenc_api = Some(api.max_version());
        let ctx = CudaContext::new(cuda, device)?;
        Session::supported_codecs(&api, &ctx)
    })();
    report
}
