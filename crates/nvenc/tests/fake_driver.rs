//! The CUDA and NVENC call sequences against stand-in driver libraries (tests/fake/*.c,
//! compiled here with `cc`): no NVIDIA hardware needed. The fake CUDA maps imported file
//! descriptors into memory (lavapipe exports memfds), so the "device pointer" NVENC reads is the
//! very memory the Vulkan device wrote; the fake NVENC checks struct versions and the fields it
//! is given, and reads every frame through the registered pointer.
//!
//! What this cannot show: that the real driver accepts these calls. That needs an NVIDIA GPU
//! (`cargo xtask device-check`).

use std::path::{Path, PathBuf};

use nvenc::annexb::access_units;
use nvenc::{Codec, Cuda, CudaContext, EncodeSettings, NvencApi, NvencError, RateControl, Session};
use test_support::Scratch;

mod fake;

use fake::uuid_define;

/// Builds the stand-in library `name` (tests/fake/<name>.c) into a fresh scratch folder, left
/// in place: the library is loaded into this process.
fn build(name: &str, defines: &[String]) -> Option<PathBuf> {
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake");
    fake::build(&sources, &Scratch::new("nvenc-fake").keep(), name, defines)
}

fn settings(codec: Codec, w: u32, h: u32, idr: u32) -> EncodeSettings {
    EncodeSettings {
        codec,
        width: w,
        height: h,
        fps_num: 30,
        fps_den: 1,
        preset: 4,
        rate: RateControl::Quality(23),
        idr_interval: idr,
    }
}

fn fake_context(defines: &[String]) -> Option<CudaContext> {
    let lib = build("fake_cuda", defines)?;
    let cuda = Cuda::load_from(&lib).expect("fake libcuda loads");
    let dev = cuda.device_for(None).expect("one device");
    Some(CudaContext::new(cuda, dev).expect("context"))
}

#[test]
fn driver_answers_become_the_right_errors() {
    let Some(ctx) = fake_context(&[]) else { return };
    let open = |defines: &[&str], codec: Codec| -> Result<Session, NvencError> {
        let defines: Vec<String> = defines.iter().map(|s| s.to_string()).collect();
        let lib = build("fake_nvenc", &defines).expect("built");
        let api = NvencApi::load_from(&lib)?;
        Session::open(api, ctx.clone(), settings(codec, 64, 32, 10))
    };
    // Data-centre GPUs without an encoder (A100/H100/H200) answer NO_ENCODE_DEVICE.
    let e = open(&["FAKE_OPEN_STATUS=1"], Codec::H264).expect_err("no encoder");
    assert!(matches!(e, NvencError::NoEncoder { .. }), "{e:?}");
    assert!(e.to_string().contains("H200"), "{e}");
    let e = open(&["FAKE_OPEN_STATUS=2"], Codec::H264).expect_err("unsupported device");
    assert!(matches!(e, NvencError::NoEncoder { .. }), "{e:?}");
    // GeForce session limit: OUT_OF_MEMORY at open.
    let e = open(&["FAKE_OPEN_STATUS=10"], Codec::H264).expect_err("no session");
    assert!(matches!(e, NvencError::SessionLimit { .. }), "{e:?}");
    assert!(e.to_string().contains("sessions"), "{e}");
    // A driver that supports only API 11.1.
    let e = open(&["FAKE_MAX_VERSION=0xB1"], Codec::H264).expect_err("old driver");
    match &e {
        NvencError::DriverTooOld { needed, found } => {
            assert_eq!((needed.as_str(), found.as_str()), ("12.1", "11.1"));
        }
        other => panic!("expected DriverTooOld, got {other:?}"),
    }
    // HEVC on an encoder that offers only H.264.
    let e = open(&["FAKE_H264_ONLY"], Codec::Hevc).expect_err("no HEVC");
    assert!(matches!(e, NvencError::CodecUnsupported { .. }), "{e:?}");
    assert!(
        e.to_string().contains("hevc") && e.to_string().contains("h264"),
        "{e}"
    );
    assert!(open(&["FAKE_H264_ONLY"], Codec::H264).is_ok());

    // CUDA without a device, and a device that is not the rendering GPU.
    let lib = build("fake_cuda", &["FAKE_NO_DEVICE".into()]).expect("built");
    let e = Cuda::load_from(&lib).expect_err("no device");
    assert!(matches!(e, NvencError::NoCudaDevice { .. }), "{e:?}");
    let lib = build("fake_cuda", &[uuid_define(&[7; 16])]).expect("built");
    let cuda = Cuda::load_from(&lib).expect("loads");
    let e = cuda.device_for(Some([8; 16])).expect_err("other UUID");
    assert!(matches!(e, NvencError::NoMatchingDevice { .. }), "{e:?}");
    assert_eq!(
        cuda.device_for(Some([7; 16])).expect("same UUID").uuid,
        [7; 16]
    );
}

#[test]
fn sessions_configure_and_encode_in_both_codecs() {
    let Some(ctx) = fake_context(&[]) else { return };
    for codec in [Codec::H264, Codec::Hevc] {
        let lib = build("fake_nvenc", &[]).expect("built");
        let api = NvencApi::load_from(&lib).expect("loads");
        assert_eq!(api.max_version(), (12, 2));
        // The fake checks gop == idrPeriod, no B-frames and the BT.709 VUI at init.
        let mut s = Session::open(api, ctx.clone(), settings(codec, 64, 32, 5))
            .unwrap_or_else(|e| panic!("{codec}: {e}"));
        // Host memory stands in for device memory with this fake.
        let frame = vec![100u8; 256 * 48];
        let input = s
            .register_input(frame.as_ptr() as u64, 256)
            .expect("register");
        let mut stream = Vec::new();
        let mut idr = Vec::new();
        for _ in 0..12 {
            idr.push(s.encode(input, &mut stream).expect("encode").idr);
        }
        s.finish().expect("end of stream");
        drop(s);
        let aus = access_units(codec, &stream);
        assert_eq!(aus.len(), 12, "{codec}: one access unit per frame");
        let keys: Vec<bool> = aus.iter().map(|a| a.key).collect();
        let expected: Vec<bool> = (0..12).map(|i| i % 5 == 0).collect();
        assert_eq!(keys, expected, "{codec}: IDR every 5 frames");
        assert_eq!(idr, expected, "{codec}: the picture type NVENC reports");
        // A bad registration is refused by our own checks before the driver sees it.
        let api = NvencApi::load_from(&lib).expect("loads");
        let mut s = Session::open(api, ctx.clone(), settings(codec, 64, 32, 5)).expect("open");
        assert!(matches!(
            s.register_input(frame.as_ptr() as u64, 62),
            Err(NvencError::Config(_))
        ));
    }
}

/// One device for the GPU test; lavapipe in CI.
fn gpu_context() -> Option<&'static gpu::GpuContext> {
    test_support::gpu::context(
        "nvenc fake-driver GPU test",
        test_support::gpu::Adapter::CpuFirst,
    )
}

#[test]
fn vulkan_memory_reaches_the_encoder_through_cuda_import() {
    let Some(g) = gpu_context() else { return };
    let info = gpu::external_memory_info(g);
    if !info.fd_export {
        assert!(
            !test_support::ci(),
            "lavapipe exports memory: {:?}",
            info.why_not
        );
        test_support::skip(
            "nvenc fake-driver GPU test",
            &format!("no memory export: {:?}", info.why_not),
        );
        return;
    }
    let uuid = info.device_uuid.expect("UUID");
    let Some(ctx) = fake_context(&[uuid_define(&uuid)]) else {
        return;
    };
    // The CUDA device chosen by the Vulkan device's UUID.
    assert_eq!(ctx.device().uuid, uuid);
    let dir = Scratch::new("nvenc-fake");
    let log = dir.join("frames.log");
    let lib = build("fake_nvenc", &[format!("LOG=\"{}\"", log.display())]).expect("built");
    let api = NvencApi::load_from(&lib).expect("loads");

    let (w, h) = (100u32, 50u32);
    let layout = gpu::Nv12Layout::new(w, h).expect("layout");
    let ring = gpu::ExternalRing::new(g, layout, 3).expect("ring");
    // Slot s holds NV12 with Y = 40 + 10 s, Cb = 100 + s, Cr = 150 + s in the visible area,
    // and 255 in the row padding (which NVENC must skip).
    let mut patterns = Vec::new();
    for s in 0..ring.len() {
        let mut bytes = vec![255u8; layout.size as usize];
        for y in 0..h as usize {
            let row = y * layout.pitch as usize;
            bytes[row..row + w as usize].fill(40 + 10 * s as u8);
        }
        for y in 0..h as usize / 2 {
            let row = layout.uv_offset as usize + y * layout.pitch as usize;
            for x in 0..w as usize / 2 {
                bytes[row + 2 * x] = 100 + s as u8;
                bytes[row + 2 * x + 1] = 150 + s as u8;
            }
        }
        let src = g.device.create_buffer(&gpu::wgpu::BufferDescriptor {
            label: Some("test.pattern"),
            size: layout.size,
            usage: gpu::wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: true,
        });
        src.slice(..)
            .get_mapped_range_mut()
            .expect("mapped")
            .copy_from_slice(&bytes);
        src.unmap();
        let mut enc = g.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&src, 0, ring.slot(s).buffer(), 0, layout.size);
        g.queue.submit([enc.finish()]);
        patterns.push(bytes);
    }
    g.device
        .poll(gpu::wgpu::PollType::wait_indefinitely())
        .expect("poll");

    let mut imports = Vec::new();
    for (s, pattern) in patterns.iter().enumerate() {
        let slot = ring.slot(s);
        let fd = slot.export_fd().expect("export");
        let imp = ctx
            .import_fd(fd, slot.allocation_size(), 0, layout.size)
            .expect("import");
        let mut host = vec![0u8; layout.size as usize];
        imp.copy_to_host(&mut host).expect("device to host");
        assert!(
            host == *pattern,
            "slot {s}: CUDA sees other bytes than Vulkan wrote"
        );
        imports.push(imp);
    }
    let mut session =
        Session::open(api, ctx.clone(), settings(Codec::H264, w, h, 4)).expect("session");
    for imp in &imports {
        session
            .register_input(imp.device_ptr(), layout.pitch)
            .expect("register");
    }
    let mut stream = Vec::new();
    for f in 0..6 {
        session.encode(f % 3, &mut stream).expect("encode");
    }
    session.finish().expect("eos");
    drop(session);
    drop(imports);
    assert_eq!(access_units(Codec::H264, &stream).len(), 6);
    let lines = std::fs::read_to_string(&log).expect("fake NVENC log");
    let got: Vec<&str> = lines.lines().collect();
    assert_eq!(got.len(), 6, "{lines}");
    for (f, line) in got.iter().enumerate() {
        let s = f % 3;
        let expected = format!(
            "frame={f} y={:.3} u={:.3} v={:.3}",
            40.0 + 10.0 * s as f64,
            100.0 + s as f64,
            150.0 + s as f64
        );
        assert_eq!(
            *line, expected,
            "what the encoder read through the CUDA pointer"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
