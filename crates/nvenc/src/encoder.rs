//! NVENC, loaded at run time from libnvidia-encode.so.1: one encode session on a CUDA context,
//! CUDA device pointers (NV12, pitched) registered as inputs, one synchronous bitstream buffer.

use std::ffi::{CStr, c_void};
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use libloading::Library;

use crate::NvencError;
use crate::cuda::{CudaContext, symbol};
use crate::sys::{self, GUID, NVENCSTATUS, zeroed};

/// The NVENC library installed with the NVIDIA driver.
pub const NVENC_LIBRARY: &str = "libnvidia-encode.so.1";

/// Video codec NVENC produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    #[default]
    H264,
    Hevc,
}

impl Codec {
    fn guid(self) -> GUID {
        match self {
            Self::H264 => sys::NV_ENC_CODEC_H264_GUID,
            Self::Hevc => sys::NV_ENC_CODEC_HEVC_GUID,
        }
    }

    /// ffmpeg's name for the raw stream format (`-f h264` / `-f hevc`).
    pub fn ffmpeg_format(self) -> &'static str {
        match self {
            Self::H264 => "h264",
            Self::Hevc => "hevc",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ffmpeg_format())
    }
}

impl FromStr for Codec {
    type Err = NvencError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "h264" | "avc" => Ok(Self::H264),
            "hevc" | "h265" => Ok(Self::Hevc),
            other => Err(NvencError::Config(format!(
                "unknown codec \"{other}\": use \"h264\" or \"hevc\""
            ))),
        }
    }
}

/// How NVENC spends bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateControl {
    /// Constant QP (0..=51) for every frame.
    ConstQp(u8),
    /// VBR aiming at a constant quality level (1..=51, lower is better; like x264's CRF).
    Quality(u8),
    /// Constant bit rate, bits per second.
    Cbr { bitrate: u32 },
    /// Variable bit rate: average and peak, bits per second.
    Vbr { bitrate: u32, max_bitrate: u32 },
}

impl Default for RateControl {
    fn default() -> Self {
        Self::Quality(23)
    }
}

/// What one encode session produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeSettings {
    pub codec: Codec,
    pub width: u32,
    pub height: u32,
    /// Frame rate as a fraction.
    pub fps_num: u32,
    pub fps_den: u32,
    /// NVENC preset P1 (fastest) .. P7 (best).
    pub preset: u8,
    pub rate: RateControl,
    /// Frames from one IDR picture to the next (the GOP; no B-frames).
    pub idr_interval: u32,
}

impl EncodeSettings {
    pub fn validate(&self) -> Result<(), NvencError> {
        let bad = |m: String| Err(NvencError::Config(m));
        if self.width == 0
            || self.height == 0
            || !self.width.is_multiple_of(2)
            || !self.height.is_multiple_of(2)
        {
            return bad(format!(
                "frame size {}x{} must be even and non-zero for NV12",
                self.width, self.height
            ));
        }
        if !(1..=7).contains(&self.preset) {
            return bad(format!(
                "nvenc preset P{} is not one of P1..P7",
                self.preset
            ));
        }
        if self.fps_num == 0 || self.fps_den == 0 {
            return bad(format!(
                "frame rate {}/{} must be positive",
                self.fps_num, self.fps_den
            ));
        }
        if self.idr_interval == 0 {
            return bad("the IDR interval must be at least 1 frame".into());
        }
        match self.rate {
            RateControl::ConstQp(q) if q > 51 => bad(format!("QP {q} is out of range 0..=51")),
            RateControl::Quality(q) if !(1..=51).contains(&q) => {
                bad(format!("quality {q} is out of range 1..=51"))
            }
            RateControl::Cbr { bitrate: 0 } => bad("bitrate must be positive".into()),
            RateControl::Vbr {
                bitrate,
                max_bitrate,
            } if bitrate == 0 || max_bitrate < bitrate => bad(format!(
                "VBR bitrate {bitrate} must be positive and at most max bitrate {max_bitrate}"
            )),
            _ => Ok(()),
        }
    }
}

/// The loaded NVENC library and its function table.
pub struct NvencApi {
    _lib: Library,
    fns: sys::NV_ENCODE_API_FUNCTION_LIST,
    max_version: (u32, u32),
}

// SAFETY: the function table is written once, by NvEncodeAPICreateInstance, and only read
// afterwards; the driver's entry points may be called from any thread (per session, one at a
// time, which `Session`'s `&mut self` methods ensure).
unsafe impl Send for NvencApi {}
// SAFETY: as above.
unsafe impl Sync for NvencApi {}

impl fmt::Debug for NvencApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NvencApi")
            .field("max_version", &self.max_version)
            .finish_non_exhaustive()
    }
}

/// The NVENC API version this crate needs, as text.
pub fn needed_version() -> String {
    format!(
        "{}.{}",
        sys::NVENCAPI_MAJOR_VERSION,
        sys::NVENCAPI_MINOR_VERSION
    )
}

fn status_name(s: NVENCSTATUS) -> String {
    usize::try_from(s)
        .ok()
        .and_then(|i| sys::STATUS_NAMES.get(i))
        .map(|n| (*n).to_owned())
        .unwrap_or_else(|| format!("NVENCSTATUS {s}"))
}

impl NvencApi {
    /// Loads the system's NVENC library (`libnvidia-encode.so.1`, or the file named by
    /// `NVENC_ENCODE_LIBRARY`).
    pub fn load() -> Result<Arc<Self>, NvencError> {
        match std::env::var_os("NVENC_ENCODE_LIBRARY") {
            Some(p) => Self::load_from(Path::new(&p)),
            None => Self::load_from(Path::new(NVENC_LIBRARY)),
        }
    }

    /// Loads NVENC from `path`, checks that the driver supports API 12.1 and fills the
    /// function table.
    pub fn load_from(path: &Path) -> Result<Arc<Self>, NvencError> {
        let library = path.display().to_string();
        // SAFETY: loading the NVIDIA driver's encode library; its initialisers have no
        // preconditions on us.
        let lib = unsafe { Library::new(path) }.map_err(|e| NvencError::NvencLibraryMissing {
            library: library.clone(),
            reason: e.to_string(),
        })?;
        // SAFETY: signatures as in nvEncodeAPI.h.
        let get_max: unsafe extern "C" fn(*mut u32) -> NVENCSTATUS =
            unsafe { symbol(&lib, &library, "NvEncodeAPIGetMaxSupportedVersion")? };
        // SAFETY: as above.
        let create: unsafe extern "C" fn(*mut sys::NV_ENCODE_API_FUNCTION_LIST) -> NVENCSTATUS =
            unsafe { symbol(&lib, &library, "NvEncodeAPICreateInstance")? };
        let mut v = 0u32;
        // SAFETY: `v` is a valid out-pointer.
        let s = unsafe { get_max(&mut v) };
        if s != sys::NV_ENC_SUCCESS {
            return Err(NvencError::Nvenc {
                call: "NvEncodeAPIGetMaxSupportedVersion",
                status: status_name(s),
                detail: String::new(),
            });
        }
        // The driver reports (major << 4) | minor.
        let max_version = (v >> 4, v & 0xf);
        if max_version < (sys::NVENCAPI_MAJOR_VERSION, sys::NVENCAPI_MINOR_VERSION) {
            return Err(NvencError::DriverTooOld {
                needed: needed_version(),
                found: format!("{}.{}", max_version.0, max_version.1),
            });
        }
        let mut fns: sys::NV_ENCODE_API_FUNCTION_LIST = zeroed();
        fns.version = sys::NV_ENCODE_API_FUNCTION_LIST_VER;
        // SAFETY: `fns` is a zeroed function list of the header's size with its version set.
        let s = unsafe { create(&mut fns) };
        if s == sys::NV_ENC_ERR_INVALID_VERSION {
            return Err(NvencError::DriverTooOld {
                needed: needed_version(),
                found: format!("{}.{}", max_version.0, max_version.1),
            });
        }
        if s != sys::NV_ENC_SUCCESS {
            return Err(NvencError::Nvenc {
                call: "NvEncodeAPICreateInstance",
                status: status_name(s),
                detail: String::new(),
            });
        }
        Ok(Arc::new(Self {
            _lib: lib,
            fns,
            max_version,
        }))
    }

    /// The newest API version the driver supports, (major, minor).
    pub fn max_version(&self) -> (u32, u32) {
        self.max_version
    }
}

/// Returns the function `f` of the table, or an error naming it.
macro_rules! func {
    ($api:expr, $f:ident) => {
        $api.fns.$f.ok_or(NvencError::Nvenc {
            call: stringify!($f),
            status: "missing from the driver's function table".into(),
            detail: String::new(),
        })?
    };
}

struct Registered {
    handle: *mut c_void,
    pitch: u32,
}

/// One NVENC encode session. Not shareable between threads at once; may move between them.
pub struct Session {
    api: Arc<NvencApi>,
    ctx: CudaContext,
    enc: *mut c_void,
    bitstream: *mut c_void,
    inputs: Vec<Registered>,
    settings: EncodeSettings,
    frame: u64,
}

// SAFETY: the session's handles belong to the driver and are used only through `&mut self`
// (one thread at a time), with the CUDA context pushed for each call.
unsafe impl Send for Session {}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("settings", &self.settings)
            .field("inputs", &self.inputs.len())
            .field("frame", &self.frame)
            .finish_non_exhaustive()
    }
}

/// What came out for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedFrame {
    pub bytes: usize,
    pub idr: bool,
}

impl Session {
    /// Opens a session on `ctx` without configuring it: what the probe and doctor use to learn
    /// whether this GPU has an encoder and which codecs it offers.
    pub fn supported_codecs(
        api: &Arc<NvencApi>,
        ctx: &CudaContext,
    ) -> Result<Vec<Codec>, NvencError> {
        let enc = open_raw(api, ctx)?;
        let guard = RawSession { api, ctx, enc };
        let codecs = list_codecs(api, enc);
        drop(guard);
        codecs
    }

    /// Opens and initialises a session for `settings`.
    pub fn open(
        api: Arc<NvencApi>,
        ctx: CudaContext,
        settings: EncodeSettings,
    ) -> Result<Self, NvencError> {
        settings.validate()?;
        let enc = open_raw(&api, &ctx)?;
        // From here on `Drop` releases what exists.
        let mut s = Self {
            api,
            ctx,
            enc,
            bitstream: std::ptr::null_mut(),
            inputs: Vec::new(),
            settings,
            frame: 0,
        };
        let codecs = list_codecs(&s.api, enc)?;
        if !codecs.contains(&s.settings.codec) {
            return Err(NvencError::CodecUnsupported {
                device: s.ctx.device().name.clone(),
                codec: s.settings.codec.to_string(),
                supported: codecs
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        s.initialize()?;
        let _bound = s.ctx.bind()?;
        let mut p: sys::NV_ENC_CREATE_BITSTREAM_BUFFER = zeroed();
        p.version = sys::NV_ENC_CREATE_BITSTREAM_BUFFER_VER;
        let f = func!(s.api, nvEncCreateBitstreamBuffer);
        // SAFETY: `enc` is a live, initialised session; `p` is a zeroed, versioned struct.
        let st = unsafe { f(s.enc, &mut p) };
        s.check("nvEncCreateBitstreamBuffer", st)?;
        s.bitstream = p.bitstreamBuffer;
        Ok(s)
    }

    fn check(&self, call: &'static str, st: NVENCSTATUS) -> Result<(), NvencError> {
        check(&self.api, self.enc, call, st)
    }

    fn initialize(&mut self) -> Result<(), NvencError> {
        let st = &self.settings;
        let preset = sys::NV_ENC_PRESET_GUIDS[usize::from(st.preset - 1)];
        let mut pc: sys::NV_ENC_PRESET_CONFIG = zeroed();
        pc.version = sys::NV_ENC_PRESET_CONFIG_VER;
        pc.presetCfg.version = sys::NV_ENC_CONFIG_VER;
        let _bound = self.ctx.bind()?;
        let f = func!(self.api, nvEncGetEncodePresetConfigEx);
        // SAFETY: live session; `pc` zeroed with both versions set, as the header requires.
        let r = unsafe {
            f(
                self.enc,
                st.codec.guid(),
                preset,
                sys::NV_ENC_TUNING_INFO_HIGH_QUALITY,
                &mut pc,
            )
        };
        self.check("nvEncGetEncodePresetConfigEx", r)?;
        let mut cfg = pc.presetCfg;
        cfg.version = sys::NV_ENC_CONFIG_VER;
        cfg.gopLength = st.idr_interval;
        // I and P frames only: every frame's bitstream comes out as soon as it is encoded, and
        // the raw stream's timestamps stay trivial for ffmpeg's `-c:v copy`.
        cfg.frameIntervalP = 1;
        let rc = &mut cfg.rcParams;
        match st.rate {
            RateControl::ConstQp(q) => {
                rc.rateControlMode = sys::NV_ENC_PARAMS_RC_CONSTQP;
                let q = u32::from(q);
                rc.constQP = sys::NV_ENC_QP {
                    qpInterP: q,
                    qpInterB: q,
                    qpIntra: q,
                };
            }
            RateControl::Quality(q) => {
                rc.rateControlMode = sys::NV_ENC_PARAMS_RC_VBR;
                rc.averageBitRate = 0;
                rc.maxBitRate = 0;
                rc.targetQuality = q;
                rc.targetQualityLSB = 0;
            }
            RateControl::Cbr { bitrate } => {
                rc.rateControlMode = sys::NV_ENC_PARAMS_RC_CBR;
                rc.averageBitRate = bitrate;
                rc.maxBitRate = bitrate;
            }
            RateControl::Vbr {
                bitrate,
                max_bitrate,
            } => {
                rc.rateControlMode = sys::NV_ENC_PARAMS_RC_VBR;
                rc.averageBitRate = bitrate;
                rc.maxBitRate = max_bitrate;
            }
        }
        let vui = |v: &mut sys::NV_ENC_VUI_PARAMETERS| {
            // BT.709, limited ("TV") range: what shaders/color/nv12.wgsl writes.
            v.videoSignalTypePresentFlag = 1;
            v.videoFormat = sys::NV_ENC_VUI_VIDEO_FORMAT_UNSPECIFIED;
            v.videoFullRangeFlag = 0;
            v.colourDescriptionPresentFlag = 1;
            v.colourPrimaries = sys::NV_ENC_VUI_BT709;
            v.transferCharacteristics = sys::NV_ENC_VUI_BT709;
            v.colourMatrix = sys::NV_ENC_VUI_BT709;
        };
        match st.codec {
            Codec::H264 => {
                cfg.profileGUID = sys::NV_ENC_H264_PROFILE_HIGH_GUID;
                // SAFETY: the union member matching the codec the preset was queried for.
                let h = unsafe { &mut cfg.encodeCodecConfig.h264Config };
                h.idrPeriod = st.idr_interval;
                h.flags |= sys::H264_REPEAT_SPSPPS | sys::H264_OUTPUT_AUD;
                vui(&mut h.h264VUIParameters);
            }
            Codec::Hevc => {
                cfg.profileGUID = sys::NV_ENC_HEVC_PROFILE_MAIN_GUID;
                // SAFETY: as above, for HEVC.
                let h = unsafe { &mut cfg.encodeCodecConfig.hevcConfig };
                h.idrPeriod = st.idr_interval;
                h.flags |= sys::HEVC_REPEAT_SPSPPS | sys::HEVC_OUTPUT_AUD;
                vui(&mut h.hevcVUIParameters);
            }
        }
        let mut init: sys::NV_ENC_INITIALIZE_PARAMS = zeroed();
        init.version = sys::NV_ENC_INITIALIZE_PARAMS_VER;
        init.encodeGUID = st.codec.guid();
        init.presetGUID = preset;
        init.encodeWidth = st.width;
        init.encodeHeight = st.height;
        init.darWidth = st.width;
        init.darHeight = st.height;
        init.frameRateNum = st.fps_num;
        init.frameRateDen = st.fps_den;
        init.enableEncodeAsync = 0;
        init.enablePTD = 1;
        init.encodeConfig = &mut cfg;
        init.maxEncodeWidth = st.width;
        init.maxEncodeHeight = st.height;
        init.tuningInfo = sys::NV_ENC_TUNING_INFO_HIGH_QUALITY;
        init.bufferFormat = sys::NV_ENC_BUFFER_FORMAT_NV12;
        let f = func!(self.api, nvEncInitializeEncoder);
        // SAFETY: live session; `init` points at `cfg`, which outlives the call.
        let r = unsafe { f(self.enc, &mut init) };
        self.check("nvEncInitializeEncoder", r)
    }

    /// Registers an NV12 frame at CUDA device pointer `ptr` (luma rows of `pitch` bytes, the
    /// CbCr plane at `pitch * height`) as an input; returns its index for [`Self::encode`].
    pub fn register_input(&mut self, ptr: u64, pitch: u32) -> Result<usize, NvencError> {
        if pitch < self.settings.width || !pitch.is_multiple_of(4) {
            return Err(NvencError::Config(format!(
                "pitch {pitch} must be a multiple of 4 and at least the width {}",
                self.settings.width
            )));
        }
        let _bound = self.ctx.bind()?;
        let mut r: sys::NV_ENC_REGISTER_RESOURCE = zeroed();
        r.version = sys::NV_ENC_REGISTER_RESOURCE_VER;
        r.resourceType = sys::NV_ENC_INPUT_RESOURCE_TYPE_CUDADEVICEPTR;
        r.width = self.settings.width;
        r.height = self.settings.height;
        r.pitch = pitch;
        r.resourceToRegister = ptr as usize as *mut c_void;
        r.bufferFormat = sys::NV_ENC_BUFFER_FORMAT_NV12;
        r.bufferUsage = sys::NV_ENC_INPUT_IMAGE;
        let f = func!(self.api, nvEncRegisterResource);
        // SAFETY: live session; `ptr` is a device pointer of at least pitch*height*3/2 bytes
        // that the caller keeps mapped until this session is dropped.
        let st = unsafe { f(self.enc, &mut r) };
        self.check("nvEncRegisterResource", st)?;
        self.inputs.push(Registered {
            handle: r.registeredResource,
            pitch,
        });
        Ok(self.inputs.len() - 1)
    }

    /// Encodes the frame held by registered input `input` (its GPU writes must be complete)
    /// and appends its Annex-B bytes to `out`.
    pub fn encode(&mut self, input: usize, out: &mut Vec<u8>) -> Result<EncodedFrame, NvencError> {
        let Some(reg) = self.inputs.get(input) else {
            return Err(NvencError::Config(format!("no registered input {input}")));
        };
        let (handle, pitch) = (reg.handle, reg.pitch);
        let _bound = self.ctx.bind()?;
        let mut map: sys::NV_ENC_MAP_INPUT_RESOURCE = zeroed();
        map.version = sys::NV_ENC_MAP_INPUT_RESOURCE_VER;
        map.registeredResource = handle;
        let f = func!(self.api, nvEncMapInputResource);
        // SAFETY: live session; `handle` is one of our registrations.
        let st = unsafe { f(self.enc, &mut map) };
        self.check("nvEncMapInputResource", st)?;
        let result = self.encode_mapped(map.mappedResource, pitch, out);
        let f = func!(self.api, nvEncUnmapInputResource);
        // SAFETY: unmaps what was mapped above, once.
        let st = unsafe { f(self.enc, map.mappedResource) };
        let frame = result?;
        self.check("nvEncUnmapInputResource", st)?;
        Ok(frame)
    }

    fn encode_mapped(
        &mut self,
        mapped: *mut c_void,
        pitch: u32,
        out: &mut Vec<u8>,
    ) -> Result<EncodedFrame, NvencError> {
        let mut p: sys::NV_ENC_PIC_PARAMS = zeroed();
        p.version = sys::NV_ENC_PIC_PARAMS_VER;
        p.inputWidth = self.settings.width;
        p.inputHeight = self.settings.height;
        p.inputPitch = pitch;
        p.frameIdx = self.frame as u32;
        p.inputTimeStamp = self.frame;
        p.inputBuffer = mapped;
        p.outputBitstream = self.bitstream;
        p.bufferFmt = sys::NV_ENC_BUFFER_FORMAT_NV12;
        p.pictureStruct = sys::NV_ENC_PIC_STRUCT_FRAME;
        let f = func!(self.api, nvEncEncodePicture);
        // SAFETY: live session; `mapped` is a mapped input, `bitstream` our output buffer.
        let st = unsafe { f(self.enc, &mut p) };
        self.frame += 1;
        if st == sys::NV_ENC_ERR_NEED_MORE_INPUT {
            return Ok(EncodedFrame {
                bytes: 0,
                idr: false,
            });
        }
        self.check("nvEncEncodePicture", st)?;
        self.drain(out)
    }

    fn drain(&mut self, out: &mut Vec<u8>) -> Result<EncodedFrame, NvencError> {
        let mut lock: sys::NV_ENC_LOCK_BITSTREAM = zeroed();
        lock.version = sys::NV_ENC_LOCK_BITSTREAM_VER;
        lock.outputBitstream = self.bitstream;
        let f = func!(self.api, nvEncLockBitstream);
        // SAFETY: live session; waits for the frame in `bitstream` (synchronous mode).
        let st = unsafe { f(self.enc, &mut lock) };
        self.check("nvEncLockBitstream", st)?;
        let n = lock.bitstreamSizeInBytes as usize;
        if n > 0 && !lock.bitstreamBufferPtr.is_null() {
            // SAFETY: while locked, `bitstreamBufferPtr` points to `n` readable bytes.
            let bytes = unsafe { std::slice::from_raw_parts(lock.bitstreamBufferPtr.cast(), n) };
            out.extend_from_slice(bytes);
        }
        let f = func!(self.api, nvEncUnlockBitstream);
        // SAFETY: unlocks the buffer locked above.
        let st = unsafe { f(self.enc, self.bitstream) };
        self.check("nvEncUnlockBitstream", st)?;
        Ok(EncodedFrame {
            bytes: n,
            idr: lock.pictureType == sys::NV_ENC_PIC_TYPE_IDR,
        })
    }

    /// Signals the end of the stream (flushes the encoder).
    pub fn finish(&mut self) -> Result<(), NvencError> {
        let _bound = self.ctx.bind()?;
        let mut p: sys::NV_ENC_PIC_PARAMS = zeroed();
        p.version = sys::NV_ENC_PIC_PARAMS_VER;
        p.encodePicFlags = sys::NV_ENC_PIC_FLAG_EOS;
        let f = func!(self.api, nvEncEncodePicture);
        // SAFETY: live session; an EOS picture carries no buffers.
        let st = unsafe { f(self.enc, &mut p) };
        self.check("nvEncEncodePicture(EOS)", st)
    }

    pub fn settings(&self) -> &EncodeSettings {
        &self.settings
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let Ok(_bound) = self.ctx.bind() else {
            return;
        };
        let fns = &self.api.fns;
        // SAFETY: each handle was created by this session and is released once, before the
        // session itself is destroyed.
        unsafe {
            if let Some(f) = fns.nvEncUnregisterResource {
                for r in self.inputs.drain(..) {
                    f(self.enc, r.handle);
                }
            }
            if !self.bitstream.is_null()
                && let Some(f) = fns.nvEncDestroyBitstreamBuffer
            {
                f(self.enc, self.bitstream);
            }
            if let Some(f) = fns.nvEncDestroyEncoder {
                f(self.enc);
            }
        }
    }
}

/// A session that is only opened (for probing); destroyed on drop.
struct RawSession<'a> {
    api: &'a NvencApi,
    ctx: &'a CudaContext,
    enc: *mut c_void,
}

impl Drop for RawSession<'_> {
    fn drop(&mut self) {
        if let (Ok(_b), Some(f)) = (self.ctx.bind(), self.api.fns.nvEncDestroyEncoder) {
            // SAFETY: `enc` was opened by `open_raw` and is destroyed once.
            unsafe { f(self.enc) };
        }
    }
}

fn check(
    api: &NvencApi,
    enc: *mut c_void,
    call: &'static str,
    st: NVENCSTATUS,
) -> Result<(), NvencError> {
    if st == sys::NV_ENC_SUCCESS {
        return Ok(());
    }
    let detail = match (enc.is_null(), api.fns.nvEncGetLastErrorString) {
        (false, Some(f)) => {
            // SAFETY: live session; returns a NUL-terminated string owned by the driver.
            let p = unsafe { f(enc) };
            if p.is_null() {
                String::new()
            } else {
                // SAFETY: non-null, NUL-terminated (see above).
                let s = unsafe { CStr::from_ptr(p) }.to_string_lossy();
                if s.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", s.trim())
                }
            }
        }
        _ => String::new(),
    };
    Err(NvencError::Nvenc {
        call,
        status: status_name(st),
        detail,
    })
}

fn open_raw(api: &NvencApi, ctx: &CudaContext) -> Result<*mut c_void, NvencError> {
    let _bound = ctx.bind()?;
    let mut p: sys::NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS = zeroed();
    p.version = sys::NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER;
    p.deviceType = sys::NV_ENC_DEVICE_TYPE_CUDA;
    p.device = ctx.raw();
    p.apiVersion = sys::NVENCAPI_VERSION;
    let mut enc: *mut c_void = std::ptr::null_mut();
    let f = func!(api, nvEncOpenEncodeSessionEx);
    // SAFETY: `p` is zeroed and versioned, `device` a live CUDA context; `enc` an out-pointer.
    let st = unsafe { f(&mut p, &mut enc) };
    let device = ctx.device().name.clone();
    match st {
        sys::NV_ENC_SUCCESS => Ok(enc),
        sys::NV_ENC_ERR_NO_ENCODE_DEVICE | sys::NV_ENC_ERR_UNSUPPORTED_DEVICE => {
            Err(NvencError::NoEncoder {
                device,
                status: status_name(st),
            })
        }
        sys::NV_ENC_ERR_OUT_OF_MEMORY => Err(NvencError::SessionLimit {
            device,
            status: status_name(st),
        }),
        sys::NV_ENC_ERR_INVALID_VERSION => Err(NvencError::DriverTooOld {
            needed: needed_version(),
            found: format!("{}.{}", api.max_version.0, api.max_version.1),
        }),
        _ => Err(NvencError::Nvenc {
            call: "nvEncOpenEncodeSessionEx",
            status: status_name(st),
            detail: String::new(),
        }),
    }
}

fn list_codecs(api: &NvencApi, enc: *mut c_void) -> Result<Vec<Codec>, NvencError> {
    let mut n = 0u32;
    let f = func!(api, nvEncGetEncodeGUIDCount);
    // SAFETY: live session; `n` is an out-pointer.
    check(api, enc, "nvEncGetEncodeGUIDCount", unsafe {
        f(enc, &mut n)
    })?;
    let mut guids = vec![
        GUID {
            data1: 0,
            data2: 0,
            data3: 0,
            data4: [0; 8]
        };
        n as usize
    ];
    let mut got = 0u32;
    let f = func!(api, nvEncGetEncodeGUIDs);
    // SAFETY: `guids` holds `n` GUIDs; `got` is an out-pointer.
    check(api, enc, "nvEncGetEncodeGUIDs", unsafe {
        f(enc, guids.as_mut_ptr(), n, &mut got)
    })?;
    guids.truncate(got as usize);
    Ok([Codec::H264, Codec::Hevc]
        .into_iter()
        .filter(|c| guids.contains(&c.guid()))
        .collect())
}
