//! The part of NVIDIA's NVENC API 12.1 (`nvEncodeAPI.h`, Video Codec SDK 12.1) that this crate
//! calls, written out as `#[repr(C)]` Rust types.
//!
//! Only the structures we fill or read are spelled out field by field; fields we never touch are
//! kept as reserved arrays of the same size so that every structure has the header's size and
//! alignment. The sizes and field offsets below were taken from the public header compiled with
//! gcc on x86-64 Linux; `tests` at the end checks them, so a typo in a field list fails CI.
//! C bit fields are plain `u32` words here, with the bit positions named by constants.

#![allow(
    non_camel_case_types,
    non_snake_case,
    dead_code,
    missing_debug_implementations
)]

use std::ffi::{c_char, c_void};

/// API version this crate is written against (12.1: NVIDIA driver 530 or newer).
pub const NVENCAPI_MAJOR_VERSION: u32 = 12;
pub const NVENCAPI_MINOR_VERSION: u32 = 1;
pub const NVENCAPI_VERSION: u32 = NVENCAPI_MAJOR_VERSION | (NVENCAPI_MINOR_VERSION << 24);

/// `NVENCAPI_STRUCT_VERSION(ver)` of the header.
pub const fn struct_version(ver: u32) -> u32 {
    NVENCAPI_VERSION | (ver << 16) | (0x7 << 28)
}

pub const NV_ENC_CAPS_PARAM_VER: u32 = struct_version(1);
pub const NV_ENC_CREATE_BITSTREAM_BUFFER_VER: u32 = struct_version(1);
pub const NV_ENC_RC_PARAMS_VER: u32 = struct_version(1);
pub const NV_ENC_CONFIG_VER: u32 = struct_version(8) | (1 << 31);
pub const NV_ENC_INITIALIZE_PARAMS_VER: u32 = struct_version(6) | (1 << 31);
pub const NV_ENC_PRESET_CONFIG_VER: u32 = struct_version(4) | (1 << 31);
pub const NV_ENC_PIC_PARAMS_VER: u32 = struct_version(6) | (1 << 31);
pub const NV_ENC_LOCK_BITSTREAM_VER: u32 = struct_version(1) | (1 << 31);
pub const NV_ENC_MAP_INPUT_RESOURCE_VER: u32 = struct_version(4);
pub const NV_ENC_REGISTER_RESOURCE_VER: u32 = struct_version(4);
pub const NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER: u32 = struct_version(1);
pub const NV_ENCODE_API_FUNCTION_LIST_VER: u32 = struct_version(2);

pub type NVENCSTATUS = i32;
pub const NV_ENC_SUCCESS: NVENCSTATUS = 0;
pub const NV_ENC_ERR_NO_ENCODE_DEVICE: NVENCSTATUS = 1;
pub const NV_ENC_ERR_UNSUPPORTED_DEVICE: NVENCSTATUS = 2;
pub const NV_ENC_ERR_INVALID_ENCODERDEVICE: NVENCSTATUS = 3;
pub const NV_ENC_ERR_INVALID_DEVICE: NVENCSTATUS = 4;
pub const NV_ENC_ERR_DEVICE_NOT_EXIST: NVENCSTATUS = 5;
pub const NV_ENC_ERR_INVALID_PTR: NVENCSTATUS = 6;
pub const NV_ENC_ERR_INVALID_PARAM: NVENCSTATUS = 8;
pub const NV_ENC_ERR_INVALID_CALL: NVENCSTATUS = 9;
pub const NV_ENC_ERR_OUT_OF_MEMORY: NVENCSTATUS = 10;
pub const NV_ENC_ERR_UNSUPPORTED_PARAM: NVENCSTATUS = 12;
pub const NV_ENC_ERR_INVALID_VERSION: NVENCSTATUS = 15;
pub const NV_ENC_ERR_NEED_MORE_INPUT: NVENCSTATUS = 17;
pub const NV_ENC_ERR_GENERIC: NVENCSTATUS = 20;
pub const NV_ENC_ERR_UNIMPLEMENTED: NVENCSTATUS = 22;

/// Names of NVENCSTATUS values 0..=25, in the header's order.
pub const STATUS_NAMES: [&str; 26] = [
    "NV_ENC_SUCCESS",
    "NV_ENC_ERR_NO_ENCODE_DEVICE",
    "NV_ENC_ERR_UNSUPPORTED_DEVICE",
    "NV_ENC_ERR_INVALID_ENCODERDEVICE",
    "NV_ENC_ERR_INVALID_DEVICE",
    "NV_ENC_ERR_DEVICE_NOT_EXIST",
    "NV_ENC_ERR_INVALID_PTR",
    "NV_ENC_ERR_INVALID_EVENT",
    "NV_ENC_ERR_INVALID_PARAM",
    "NV_ENC_ERR_INVALID_CALL",
    "NV_ENC_ERR_OUT_OF_MEMORY",
    "NV_ENC_ERR_ENCODER_NOT_INITIALIZED",
    "NV_ENC_ERR_UNSUPPORTED_PARAM",
    "NV_ENC_ERR_LOCK_BUSY",
    "NV_ENC_ERR_NOT_ENOUGH_BUFFER",
    "NV_ENC_ERR_INVALID_VERSION",
    "NV_ENC_ERR_MAP_FAILED",
    "NV_ENC_ERR_NEED_MORE_INPUT",
    "NV_ENC_ERR_ENCODER_BUSY",
    "NV_ENC_ERR_EVENT_NOT_REGISTERD",
    "NV_ENC_ERR_GENERIC",
    "NV_ENC_ERR_INCOMPATIBLE_CLIENT_KEY",
    "NV_ENC_ERR_UNIMPLEMENTED",
    "NV_ENC_ERR_RESOURCE_REGISTER_FAILED",
    "NV_ENC_ERR_RESOURCE_NOT_REGISTERED",
    "NV_ENC_ERR_RESOURCE_NOT_MAPPED",
];

pub const NV_ENC_PARAMS_RC_CONSTQP: u32 = 0;
pub const NV_ENC_PARAMS_RC_VBR: u32 = 1;
pub const NV_ENC_PARAMS_RC_CBR: u32 = 2;
pub const NV_ENC_PIC_STRUCT_FRAME: u32 = 1;
pub const NV_ENC_PIC_TYPE_IDR: u32 = 3;
pub const NV_ENC_BUFFER_FORMAT_NV12: u32 = 1;
pub const NV_ENC_PIC_FLAG_EOS: u32 = 0x8;
pub const NV_ENC_INPUT_RESOURCE_TYPE_CUDADEVICEPTR: u32 = 1;
pub const NV_ENC_INPUT_IMAGE: u32 = 0;
pub const NV_ENC_DEVICE_TYPE_CUDA: u32 = 1;
pub const NV_ENC_TUNING_INFO_HIGH_QUALITY: u32 = 1;
pub const NV_ENC_MEMORY_HEAP_AUTOSELECT: u32 = 0;
pub const NV_ENC_VUI_VIDEO_FORMAT_UNSPECIFIED: u32 = 5;
pub const NV_ENC_VUI_BT709: u32 = 1;

/// `NV_ENC_CONFIG_H264` bit field word: outputAUD is bit 6, repeatSPSPPS bit 12.
pub const H264_OUTPUT_AUD: u32 = 1 << 6;
pub const H264_REPEAT_SPSPPS: u32 = 1 << 12;
/// `NV_ENC_CONFIG_HEVC` bit field word: outputAUD is bit 4, repeatSPSPPS bit 7.
pub const HEVC_OUTPUT_AUD: u32 = 1 << 4;
pub const HEVC_REPEAT_SPSPPS: u32 = 1 << 7;
/// `NV_ENC_RC_PARAMS` bit field word: enableAQ is bit 3.
pub const RC_ENABLE_AQ: u32 = 1 << 3;

/// Types that are valid when every byte is zero (plain C data: integers, raw pointers,
/// `Option` of function pointers).
///
/// # Safety
/// Implement only for such types.
pub unsafe trait Zeroable: Sized {}

/// An all-zero value, as the header's users get with `memset(&s, 0, sizeof s)`.
pub fn zeroed<T: Zeroable>() -> T {
    // SAFETY: `T: Zeroable` promises that the all-zero bit pattern is a valid `T`.
    unsafe { std::mem::zeroed() }
}

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GUID {
    pub data1: u32,
    pub data2: u16,
    pub data3: u16,
    pub data4: [u8; 8],
}

const fn guid(data1: u32, data2: u16, data3: u16, data4: [u8; 8]) -> GUID {
    GUID {
        data1,
        data2,
        data3,
        data4,
    }
}

pub const NV_ENC_CODEC_H264_GUID: GUID = guid(
    0x6bc8_2762,
    0x4e63,
    0x4ca4,
    [0xaa, 0x85, 0x1e, 0x50, 0xf3, 0x21, 0xf6, 0xbf],
);
pub const NV_ENC_CODEC_HEVC_GUID: GUID = guid(
    0x790c_dc88,
    0x4522,
    0x4d7b,
    [0x94, 0x25, 0xbd, 0xa9, 0x97, 0x5f, 0x76, 0x03],
);
pub const NV_ENC_CODEC_AV1_GUID: GUID = guid(
    0x0a35_2289,
    0x0aa7,
    0x4759,
    [0x86, 0x2d, 0x5d, 0x15, 0xcd, 0x16, 0xd2, 0x54],
);
pub const NV_ENC_H264_PROFILE_HIGH_GUID: GUID = guid(
    0xe7cb_c309,
    0x4f7a,
    0x4b89,
    [0xaf, 0x2a, 0xd5, 0x37, 0xc9, 0x2b, 0xe3, 0x10],
);
pub const NV_ENC_HEVC_PROFILE_MAIN_GUID: GUID = guid(
    0xb514_c39a,
    0xb55b,
    0x40fa,
    [0x87, 0x8f, 0xf1, 0x25, 0x3b, 0x4d, 0xfd, 0xec],
);
/// Presets P1 (fastest) .. P7 (best quality).
pub const NV_ENC_PRESET_GUIDS: [GUID; 7] = [
    guid(
        0xfc0a_8d3e,
        0x45f8,
        0x4cf8,
        [0x80, 0xc7, 0x29, 0x88, 0x71, 0x59, 0x0e, 0xbf],
    ),
    guid(
        0xf581_cfb8,
        0x88d6,
        0x4381,
        [0x93, 0xf0, 0xdf, 0x13, 0xf9, 0xc2, 0x7d, 0xab],
    ),
    guid(
        0x3685_0110,
        0x3a07,
        0x441f,
        [0x94, 0xd5, 0x36, 0x70, 0x63, 0x1f, 0x91, 0xf6],
    ),
    guid(
        0x90a7_b826,
        0xdf06,
        0x4862,
        [0xb9, 0xd2, 0xcd, 0x6d, 0x73, 0xa0, 0x86, 0x81],
    ),
    guid(
        0x21c6_e6b4,
        0x297a,
        0x4cba,
        [0x99, 0x8f, 0xb6, 0xcb, 0xde, 0x72, 0xad, 0xe3],
    ),
    guid(
        0x8e75_c279,
        0x6299,
        0x4ab6,
        [0x83, 0x02, 0x0b, 0x21, 0x5a, 0x33, 0x5c, 0xf5],
    ),
    guid(
        0x8484_8c12,
        0x6f71,
        0x4c13,
        [0x93, 0x1b, 0x53, 0xe2, 0x83, 0xf5, 0x79, 0x74],
    ),
];

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NV_ENC_QP {
    pub qpInterP: u32,
    pub qpInterB: u32,
    pub qpIntra: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NV_ENC_RC_PARAMS {
    pub version: u32,
    pub rateControlMode: u32,
    pub constQP: NV_ENC_QP,
    pub averageBitRate: u32,
    pub maxBitRate: u32,
    pub vbvBufferSize: u32,
    pub vbvInitialDelay: u32,
    /// enableMinQP .. reservedBitFields (see `RC_*` constants).
    pub flags: u32,
    pub minQP: NV_ENC_QP,
    pub maxQP: NV_ENC_QP,
    pub initialRCQP: NV_ENC_QP,
    pub temporallayerIdxMask: u32,
    pub temporalLayerQP: [u8; 8],
    pub targetQuality: u8,
    pub targetQualityLSB: u8,
    pub lookaheadDepth: u16,
    pub lowDelayKeyFrameScale: u8,
    pub yDcQPIndexOffset: i8,
    pub uDcQPIndexOffset: i8,
    pub vDcQPIndexOffset: i8,
    pub qpMapMode: u32,
    pub multiPass: u32,
    pub alphaLayerBitrateRatio: u32,
    pub cbQPIndexOffset: i8,
    pub crQPIndexOffset: i8,
    pub reserved2: u16,
    pub reserved: [u32; 4],
}

/// `NV_ENC_CONFIG_H264_VUI_PARAMETERS` (HEVC uses the same structure).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NV_ENC_VUI_PARAMETERS {
    pub overscanInfoPresentFlag: u32,
    pub overscanInfo: u32,
    pub videoSignalTypePresentFlag: u32,
    pub videoFormat: u32,
    pub videoFullRangeFlag: u32,
    pub colourDescriptionPresentFlag: u32,
    pub colourPrimaries: u32,
    pub transferCharacteristics: u32,
    pub colourMatrix: u32,
    pub chromaSampleLocationFlag: u32,
    pub chromaSampleLocationTop: u32,
    pub chromaSampleLocationBot: u32,
    pub bitstreamRestrictionFlag: u32,
    pub timingInfoPresentFlag: u32,
    pub numUnitInTicks: u32,
    pub timeScale: u32,
    pub reserved: [u32; 12],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NV_ENC_CONFIG_H264 {
    /// enableTemporalSVC .. reservedBitFields (see `H264_*` constants).
    pub flags: u32,
    pub level: u32,
    pub idrPeriod: u32,
    pub separateColourPlaneFlag: u32,
    pub disableDeblockingFilterIDC: u32,
    pub numTemporalLayers: u32,
    pub spsId: u32,
    pub ppsId: u32,
    pub adaptiveTransformMode: u32,
    pub fmoMode: u32,
    pub bdirectMode: u32,
    pub entropyCodingMode: u32,
    pub stereoMode: u32,
    pub intraRefreshPeriod: u32,
    pub intraRefreshCnt: u32,
    pub maxNumRefFrames: u32,
    pub sliceMode: u32,
    pub sliceModeData: u32,
    pub h264VUIParameters: NV_ENC_VUI_PARAMETERS,
    pub ltrNumFrames: u32,
    pub ltrTrustMode: u32,
    pub chromaFormatIDC: u32,
    pub maxTemporalLayers: u32,
    pub useBFramesAsRef: u32,
    pub numRefL0: u32,
    pub numRefL1: u32,
    pub reserved1: [u32; 267],
    pub reserved2: [*mut c_void; 64],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NV_ENC_CONFIG_HEVC {
    pub level: u32,
    pub tier: u32,
    pub minCUSize: u32,
    pub maxCUSize: u32,
    /// useConstrainedIntraPred .. reserved (see `HEVC_*` constants).
    pub flags: u32,
    pub idrPeriod: u32,
    pub intraRefreshPeriod: u32,
    pub intraRefreshCnt: u32,
    pub maxNumRefFramesInDPB: u32,
    pub ltrNumFrames: u32,
    pub vpsId: u32,
    pub spsId: u32,
    pub ppsId: u32,
    pub sliceMode: u32,
    pub sliceModeData: u32,
    pub maxTemporalLayersMinus1: u32,
    pub hevcVUIParameters: NV_ENC_VUI_PARAMETERS,
    pub ltrTrustMode: u32,
    pub useBFramesAsRef: u32,
    pub numRefL0: u32,
    pub numRefL1: u32,
    pub reserved1: [u32; 214],
    pub reserved2: [*mut c_void; 64],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub union NV_ENC_CODEC_CONFIG {
    pub h264Config: NV_ENC_CONFIG_H264,
    pub hevcConfig: NV_ENC_CONFIG_HEVC,
    pub reserved: [u32; 320],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct NV_ENC_CONFIG {
    pub version: u32,
    pub profileGUID: GUID,
    pub gopLength: u32,
    pub frameIntervalP: i32,
    pub monoChromeEncoding: u32,
    pub frameFieldMode: u32,
    pub mvPrecision: u32,
    pub rcParams: NV_ENC_RC_PARAMS,
    pub encodeCodecConfig: NV_ENC_CODEC_CONFIG,
    pub reserved: [u32; 278],
    pub reserved2: [*mut c_void; 64],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct NV_ENC_PRESET_CONFIG {
    pub version: u32,
    pub presetCfg: NV_ENC_CONFIG,
    pub reserved1: [u32; 255],
    pub reserved2: [*mut c_void; 64],
}

/// `NVENC_EXTERNAL_ME_HINT_COUNTS_PER_BLOCKTYPE`: not used, kept for the layout.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MeHintCounts {
    pub counts: u32,
    pub reserved1: [u32; 3],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NV_ENC_INITIALIZE_PARAMS {
    pub version: u32,
    pub encodeGUID: GUID,
    pub presetGUID: GUID,
    pub encodeWidth: u32,
    pub encodeHeight: u32,
    pub darWidth: u32,
    pub darHeight: u32,
    pub frameRateNum: u32,
    pub frameRateDen: u32,
    pub enableEncodeAsync: u32,
    pub enablePTD: u32,
    /// reportSliceOffsets .. reservedBitFields.
    pub flags: u32,
    pub privDataSize: u32,
    pub privData: *mut c_void,
    pub encodeConfig: *mut NV_ENC_CONFIG,
    pub maxEncodeWidth: u32,
    pub maxEncodeHeight: u32,
    pub maxMEHintCountsPerBlock: [MeHintCounts; 2],
    pub tuningInfo: u32,
    pub bufferFormat: u32,
    pub numStateBuffers: u32,
    pub outputStatsLevel: u32,
    pub reserved: [u32; 285],
    pub reserved2: [*mut c_void; 64],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NV_ENC_PIC_PARAMS {
    pub version: u32,
    pub inputWidth: u32,
    pub inputHeight: u32,
    pub inputPitch: u32,
    pub encodePicFlags: u32,
    pub frameIdx: u32,
    pub inputTimeStamp: u64,
    pub inputDuration: u64,
    pub inputBuffer: *mut c_void,
    pub outputBitstream: *mut c_void,
    pub completionEvent: *mut c_void,
    pub bufferFmt: u32,
    pub pictureStruct: u32,
    pub pictureType: u32,
    /// `NV_ENC_CODEC_PIC_PARAMS` (a union of 1552 bytes): left zero.
    pub codecPicParams: [u64; 194],
    pub meHintCountsPerBlock: [MeHintCounts; 2],
    pub meExternalHints: *mut c_void,
    pub reserved1: [u32; 6],
    pub reserved2: [*mut c_void; 2],
    pub qpDeltaMap: *mut i8,
    pub qpDeltaMapSize: u32,
    pub reservedBitFields: u32,
    pub meHintRefPicDist: [u16; 2],
    pub alphaBuffer: *mut c_void,
    pub meExternalSbHints: *mut c_void,
    pub meSbHintsCount: u32,
    pub stateBufferIdx: u32,
    pub outputReconBuffer: *mut c_void,
    pub reserved3: [u32; 284],
    pub reserved4: [*mut c_void; 57],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NV_ENC_LOCK_BITSTREAM {
    pub version: u32,
    /// doNotWait, ltrFrame, getRCStats, reservedBitFields.
    pub flags: u32,
    pub outputBitstream: *mut c_void,
    pub sliceOffsets: *mut u32,
    pub frameIdx: u32,
    pub hwEncodeStatus: u32,
    pub numSlices: u32,
    pub bitstreamSizeInBytes: u32,
    pub outputTimeStamp: u64,
    pub outputDuration: u64,
    pub bitstreamBufferPtr: *mut c_void,
    pub pictureType: u32,
    pub pictureStruct: u32,
    pub frameAvgQP: u32,
    pub frameSatd: u32,
    pub ltrFrameIdx: u32,
    pub ltrFrameBitmap: u32,
    pub temporalId: u32,
    pub intraMBCount: u32,
    pub interMBCount: u32,
    pub averageMVX: i32,
    pub averageMVY: i32,
    pub alphaLayerSizeInBytes: u32,
    pub outputStatsPtrSize: u32,
    pub outputStatsPtr: *mut c_void,
    pub frameIdxDisplay: u32,
    pub reserved1: [u32; 220],
    pub reserved2: [*mut c_void; 63],
    pub reservedInternal: [u32; 8],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NV_ENC_MAP_INPUT_RESOURCE {
    pub version: u32,
    pub subResourceIndex: u32,
    pub inputResource: *mut c_void,
    pub registeredResource: *mut c_void,
    pub mappedResource: *mut c_void,
    pub mappedBufferFmt: u32,
    pub reserved1: [u32; 251],
    pub reserved2: [*mut c_void; 63],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NV_ENC_REGISTER_RESOURCE {
    pub version: u32,
    pub resourceType: u32,
    pub width: u32,
    pub height: u32,
    pub pitch: u32,
    pub subResourceIndex: u32,
    pub resourceToRegister: *mut c_void,
    pub registeredResource: *mut c_void,
    pub bufferFormat: u32,
    pub bufferUsage: u32,
    pub pInputFencePoint: *mut c_void,
    pub chromaOffset: [u32; 2],
    pub reserved1: [u32; 245],
    pub reserved2: [*mut c_void; 61],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NV_ENC_CREATE_BITSTREAM_BUFFER {
    pub version: u32,
    pub size: u32,
    pub memoryHeap: u32,
    pub reserved: u32,
    pub bitstreamBuffer: *mut c_void,
    pub bitstreamBufferPtr: *mut c_void,
    pub reserved1: [u32; 58],
    pub reserved2: [*mut c_void; 64],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS {
    pub version: u32,
    pub deviceType: u32,
    pub device: *mut c_void,
    pub reserved: *mut c_void,
    pub apiVersion: u32,
    pub reserved1: [u32; 253],
    pub reserved2: [*mut c_void; 64],
}

type Enc = *mut c_void;
type Fn0 = Option<unsafe extern "C" fn()>;

/// `NV_ENCODE_API_FUNCTION_LIST`: filled by `NvEncodeAPICreateInstance`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NV_ENCODE_API_FUNCTION_LIST {
    pub version: u32,
    pub reserved: u32,
    pub nvEncOpenEncodeSession: Fn0,
    pub nvEncGetEncodeGUIDCount: Option<unsafe extern "C" fn(Enc, *mut u32) -> NVENCSTATUS>,
    pub nvEncGetEncodeProfileGUIDCount: Fn0,
    pub nvEncGetEncodeProfileGUIDs: Fn0,
    pub nvEncGetEncodeGUIDs:
        Option<unsafe extern "C" fn(Enc, *mut GUID, u32, *mut u32) -> NVENCSTATUS>,
    pub nvEncGetInputFormatCount: Fn0,
    pub nvEncGetInputFormats: Fn0,
    pub nvEncGetEncodeCaps: Fn0,
    pub nvEncGetEncodePresetCount: Fn0,
    pub nvEncGetEncodePresetGUIDs: Fn0,
    pub nvEncGetEncodePresetConfig: Fn0,
    pub nvEncInitializeEncoder:
        Option<unsafe extern "C" fn(Enc, *mut NV_ENC_INITIALIZE_PARAMS) -> NVENCSTATUS>,
    pub nvEncCreateInputBuffer: Fn0,
    pub nvEncDestroyInputBuffer: Fn0,
    pub nvEncCreateBitstreamBuffer:
        Option<unsafe extern "C" fn(Enc, *mut NV_ENC_CREATE_BITSTREAM_BUFFER) -> NVENCSTATUS>,
    pub nvEncDestroyBitstreamBuffer: Option<unsafe extern "C" fn(Enc, *mut c_void) -> NVENCSTATUS>,
    pub nvEncEncodePicture:
        Option<unsafe extern "C" fn(Enc, *mut NV_ENC_PIC_PARAMS) -> NVENCSTATUS>,
    pub nvEncLockBitstream:
        Option<unsafe extern "C" fn(Enc, *mut NV_ENC_LOCK_BITSTREAM) -> NVENCSTATUS>,
    pub nvEncUnlockBitstream: Option<unsafe extern "C" fn(Enc, *mut c_void) -> NVENCSTATUS>,
    pub nvEncLockInputBuffer: Fn0,
    pub nvEncUnlockInputBuffer: Fn0,
    pub nvEncGetEncodeStats: Fn0,
    pub nvEncGetSequenceParams: Fn0,
    pub nvEncRegisterAsyncEvent: Fn0,
    pub nvEncUnregisterAsyncEvent: Fn0,
    pub nvEncMapInputResource:
        Option<unsafe extern "C" fn(Enc, *mut NV_ENC_MAP_INPUT_RESOURCE) -> NVENCSTATUS>,
    pub nvEncUnmapInputResource: Option<unsafe extern "C" fn(Enc, *mut c_void) -> NVENCSTATUS>,
    pub nvEncDestroyEncoder: Option<unsafe extern "C" fn(Enc) -> NVENCSTATUS>,
    pub nvEncInvalidateRefFrames: Fn0,
    pub nvEncOpenEncodeSessionEx: Option<
        unsafe extern "C" fn(*mut NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS, *mut Enc) -> NVENCSTATUS,
    >,
    pub nvEncRegisterResource:
        Option<unsafe extern "C" fn(Enc, *mut NV_ENC_REGISTER_RESOURCE) -> NVENCSTATUS>,
    pub nvEncUnregisterResource: Option<unsafe extern "C" fn(Enc, *mut c_void) -> NVENCSTATUS>,
    pub nvEncReconfigureEncoder: Fn0,
    pub reserved1: *mut c_void,
    pub nvEncCreateMVBuffer: Fn0,
    pub nvEncDestroyMVBuffer: Fn0,
    pub nvEncRunMotionEstimationOnly: Fn0,
    pub nvEncGetLastErrorString: Option<unsafe extern "C" fn(Enc) -> *const c_char>,
    pub nvEncSetIOCudaStreams: Fn0,
    pub nvEncGetEncodePresetConfigEx: Option<
        unsafe extern "C" fn(Enc, GUID, GUID, u32, *mut NV_ENC_PRESET_CONFIG) -> NVENCSTATUS,
    >,
    pub nvEncGetSequenceParamEx: Fn0,
    pub nvEncRestoreEncoderState: Fn0,
    pub nvEncLookaheadPicture: Fn0,
    pub reserved2: [*mut c_void; 275],
}

// Each impl below: these are plain C structs of integers, raw pointers, arrays of those,
// `GUID`s and `Option`s of function pointers; all-zero bytes are a valid value of each (null
// pointers, `None`), exactly what the NVENC samples get with memset.
// SAFETY: see above.
unsafe impl Zeroable for NV_ENC_CONFIG {}
// SAFETY: see above.
unsafe impl Zeroable for NV_ENC_PRESET_CONFIG {}
// SAFETY: see above.
unsafe impl Zeroable for NV_ENC_INITIALIZE_PARAMS {}
// SAFETY: see above.
unsafe impl Zeroable for NV_ENC_PIC_PARAMS {}
// SAFETY: see above.
unsafe impl Zeroable for NV_ENC_LOCK_BITSTREAM {}
// SAFETY: see above.
unsafe impl Zeroable for NV_ENC_MAP_INPUT_RESOURCE {}
// SAFETY: see above.
unsafe impl Zeroable for NV_ENC_REGISTER_RESOURCE {}
// SAFETY: see above.
unsafe impl Zeroable for NV_ENC_CREATE_BITSTREAM_BUFFER {}
// SAFETY: see above.
unsafe impl Zeroable for NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS {}
// SAFETY: see above.
unsafe impl Zeroable for NV_ENCODE_API_FUNCTION_LIST {}

#[cfg(all(test, target_pointer_width = "64", target_os = "linux"))]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    /// Sizes and offsets printed by a C program including nvEncodeAPI.h (SDK 12.1), gcc,
    /// x86-64 Linux. If one of these fails, the Rust field list above differs from the header.
    #[test]
    fn layouts_match_the_sdk_12_1_header() {
        assert_eq!(size_of::<NV_ENC_RC_PARAMS>(), 128);
        assert_eq!(offset_of!(NV_ENC_RC_PARAMS, minQP), 40);
        assert_eq!(offset_of!(NV_ENC_RC_PARAMS, targetQuality), 88);
        assert_eq!(offset_of!(NV_ENC_RC_PARAMS, multiPass), 100);
        assert_eq!(size_of::<NV_ENC_VUI_PARAMETERS>(), 112);
        assert_eq!(size_of::<NV_ENC_CONFIG_H264>(), 1792);
        assert_eq!(offset_of!(NV_ENC_CONFIG_H264, idrPeriod), 8);
        assert_eq!(offset_of!(NV_ENC_CONFIG_H264, h264VUIParameters), 72);
        assert_eq!(offset_of!(NV_ENC_CONFIG_H264, numRefL1), 208);
        assert_eq!(size_of::<NV_ENC_CONFIG_HEVC>(), 1560);
        assert_eq!(offset_of!(NV_ENC_CONFIG_HEVC, idrPeriod), 20);
        assert_eq!(offset_of!(NV_ENC_CONFIG_HEVC, hevcVUIParameters), 64);
        assert_eq!(size_of::<NV_ENC_CODEC_CONFIG>(), 1792);
        assert_eq!(size_of::<NV_ENC_CONFIG>(), 3584);
        assert_eq!(offset_of!(NV_ENC_CONFIG, gopLength), 20);
        assert_eq!(offset_of!(NV_ENC_CONFIG, rcParams), 40);
        assert_eq!(offset_of!(NV_ENC_CONFIG, encodeCodecConfig), 168);
        assert_eq!(size_of::<NV_ENC_PRESET_CONFIG>(), 5128);
        assert_eq!(size_of::<NV_ENC_INITIALIZE_PARAMS>(), 1808);
        assert_eq!(offset_of!(NV_ENC_INITIALIZE_PARAMS, privData), 80);
        assert_eq!(offset_of!(NV_ENC_INITIALIZE_PARAMS, encodeConfig), 88);
        assert_eq!(offset_of!(NV_ENC_INITIALIZE_PARAMS, tuningInfo), 136);
        assert_eq!(offset_of!(NV_ENC_INITIALIZE_PARAMS, bufferFormat), 140);
        assert_eq!(size_of::<NV_ENC_PIC_PARAMS>(), 3360);
        assert_eq!(offset_of!(NV_ENC_PIC_PARAMS, inputBuffer), 40);
        assert_eq!(offset_of!(NV_ENC_PIC_PARAMS, bufferFmt), 64);
        assert_eq!(offset_of!(NV_ENC_PIC_PARAMS, codecPicParams), 80);
        assert_eq!(offset_of!(NV_ENC_PIC_PARAMS, outputReconBuffer), 1760);
        assert_eq!(size_of::<NV_ENC_LOCK_BITSTREAM>(), 1552);
        assert_eq!(offset_of!(NV_ENC_LOCK_BITSTREAM, bitstreamSizeInBytes), 36);
        assert_eq!(offset_of!(NV_ENC_LOCK_BITSTREAM, bitstreamBufferPtr), 56);
        assert_eq!(offset_of!(NV_ENC_LOCK_BITSTREAM, pictureType), 64);
        assert_eq!(offset_of!(NV_ENC_LOCK_BITSTREAM, frameIdxDisplay), 128);
        assert_eq!(size_of::<NV_ENC_MAP_INPUT_RESOURCE>(), 1544);
        assert_eq!(offset_of!(NV_ENC_MAP_INPUT_RESOURCE, mappedResource), 24);
        assert_eq!(offset_of!(NV_ENC_MAP_INPUT_RESOURCE, mappedBufferFmt), 32);
        assert_eq!(size_of::<NV_ENC_REGISTER_RESOURCE>(), 1536);
        assert_eq!(offset_of!(NV_ENC_REGISTER_RESOURCE, resourceToRegister), 24);
        assert_eq!(offset_of!(NV_ENC_REGISTER_RESOURCE, registeredResource), 32);
        assert_eq!(offset_of!(NV_ENC_REGISTER_RESOURCE, bufferUsage), 44);
        assert_eq!(offset_of!(NV_ENC_REGISTER_RESOURCE, chromaOffset), 56);
        assert_eq!(size_of::<NV_ENC_CREATE_BITSTREAM_BUFFER>(), 776);
        assert_eq!(
            offset_of!(NV_ENC_CREATE_BITSTREAM_BUFFER, bitstreamBuffer),
            16
        );
        assert_eq!(size_of::<NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS>(), 1552);
        assert_eq!(
            offset_of!(NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS, apiVersion),
            24
        );
        assert_eq!(size_of::<NV_ENCODE_API_FUNCTION_LIST>(), 2552);
        assert_eq!(
            offset_of!(NV_ENCODE_API_FUNCTION_LIST, nvEncOpenEncodeSessionEx),
            240
        );
        assert_eq!(
            offset_of!(NV_ENCODE_API_FUNCTION_LIST, nvEncGetLastErrorString),
            304
        );
        assert_eq!(
            offset_of!(NV_ENCODE_API_FUNCTION_LIST, nvEncGetEncodePresetConfigEx),
            320
        );
        assert_eq!(align_of::<NV_ENC_CONFIG>(), 8);
    }

    #[test]
    fn struct_versions_match_the_header_macros() {
        // Values of the header's *_VER macros, printed by the same C program.
        assert_eq!(NV_ENC_CONFIG_VER, 0xf108_000c);
        assert_eq!(NV_ENC_INITIALIZE_PARAMS_VER, 0xf106_000c);
        assert_eq!(NV_ENC_PIC_PARAMS_VER, 0xf106_000c);
        assert_eq!(NV_ENC_LOCK_BITSTREAM_VER, 0xf101_000c);
        assert_eq!(NV_ENC_PRESET_CONFIG_VER, 0xf104_000c);
        assert_eq!(NV_ENCODE_API_FUNCTION_LIST_VER, 0x7102_000c);
        assert_eq!(
            STATUS_NAMES[NV_ENC_ERR_OUT_OF_MEMORY as usize],
            "NV_ENC_ERR_OUT_OF_MEMORY"
        );
        assert_eq!(
            STATUS_NAMES[NV_ENC_ERR_NEED_MORE_INPUT as usize],
            "NV_ENC_ERR_NEED_MORE_INPUT"
        );
    }
}
