//! The run-time loader on machines without NVIDIA software (CI): every path returns an error
//! that says why; nothing panics.

use std::path::Path;

use nvenc::{Codec, Cuda, NvencApi, NvencError};

#[test]
fn missing_cuda_library_is_a_no_driver_error() {
    let e = Cuda::load_from(Path::new("/nonexistent/libcuda.so.1")).expect_err("must fail");
    assert!(matches!(e, NvencError::NoDriver { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("/nonexistent/libcuda.so.1"), "{text}");
    assert!(
        text.contains("proprietary driver"),
        "the message says what is missing: {text}"
    );
}

#[test]
fn missing_nvenc_library_is_named() {
    let e = NvencApi::load_from(Path::new("/nonexistent/libnvidia-encode.so.1"))
        .expect_err("must fail");
    assert!(matches!(e, NvencError::NvencLibraryMissing { .. }), "{e:?}");
    assert!(e.to_string().contains("libnvidia-encode"), "{e}");
}

#[test]
fn a_library_that_is_not_cuda_is_a_missing_symbol_error() {
    // libc is on every Linux machine and has none of CUDA's or NVENC's symbols.
    let e = Cuda::load_from(Path::new("libc.so.6")).expect_err("must fail");
    match e {
        NvencError::MissingSymbol { symbol, .. } => assert_eq!(symbol, "cuInit"),
        other => panic!("expected MissingSymbol, got {other:?}"),
    }
    let e = NvencApi::load_from(Path::new("libc.so.6")).expect_err("must fail");
    match e {
        NvencError::MissingSymbol { symbol, .. } => {
            assert_eq!(symbol, "NvEncodeAPIGetMaxSupportedVersion")
        }
        other => panic!("expected MissingSymbol, got {other:?}"),
    }
}

#[test]
fn probe_never_panics_and_explains_itself() {
    let report = nvenc::probe(None);
    match &report.status {
        Ok(codecs) => {
            // An NVIDIA machine with NVENC: the report must name a device.
            assert!(report.device.is_some());
            eprintln!("NVENC available: {codecs:?} on {:?}", report.device);
        }
        Err(e) => {
            let text = e.to_string();
            assert!(!text.is_empty());
            assert!(report.check(Codec::H264).is_err());
            eprintln!("NVENC not available here (expected without NVIDIA): {text}");
        }
    }
}

#[test]
fn probe_with_a_uuid_no_device_has() {
    // Without libcuda this is the no-driver error; with it, no CUDA device has this UUID.
    let report = nvenc::probe(Some([0xee; 16]));
    let e = report.status.expect_err("no GPU has UUID eeee…");
    assert!(
        matches!(
            e,
            NvencError::NoDriver { .. }
                | NvencError::NoCudaDevice { .. }
                | NvencError::NoMatchingDevice { .. }
        ),
        "{e:?}"
    );
}

#[test]
fn settings_are_validated_before_any_driver_call() {
    let ok = nvenc::EncodeSettings {
        codec: Codec::Hevc,
        width: 1920,
        height: 1080,
        fps_num: 30,
        fps_den: 1,
        preset: 4,
        rate: nvenc::RateControl::Quality(23),
        idr_interval: 60,
    };
    assert!(ok.validate().is_ok());
    for bad in [
        nvenc::EncodeSettings {
            width: 1919,
            ..ok.clone()
        },
        nvenc::EncodeSettings {
            preset: 8,
            ..ok.clone()
        },
        nvenc::EncodeSettings {
            preset: 0,
            ..ok.clone()
        },
        nvenc::EncodeSettings {
            idr_interval: 0,
            ..ok.clone()
        },
        nvenc::EncodeSettings {
            rate: nvenc::RateControl::ConstQp(52),
            ..ok.clone()
        },
        nvenc::EncodeSettings {
            rate: nvenc::RateControl::Vbr {
                bitrate: 10,
                max_bitrate: 5,
            },
            ..ok.clone()
        },
    ] {
        let e = bad.validate().expect_err("must fail");
        assert!(matches!(e, NvencError::Config(_)), "{bad:?}: {e:?}");
    }
    assert_eq!("HEVC".parse::<Codec>().expect("hevc parses"), Codec::Hevc);
    assert!("vp9".parse::<Codec>().is_err());
}
