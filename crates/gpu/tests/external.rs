//! Exportable memory on whatever Vulkan adapter exists (Mesa lavapipe in CI): export to a file
//! descriptor, import again, compare; NV12 frames copied on the GPU into an external ring slot
//! with the layout NVENC reads (pitch multiple of 256, CbCr plane at pitch * height).

use gpu::{
    BackgroundParams, BarsParams, ExportableBuffer, ExternalRing, FrameRenderer, FrameUniforms,
    GpuContext, LayerKind, LayerSpec, Nv12Layout, RendererConfig, external_memory_info,
    rgb_to_nv12_reference,
};

/// One device for the file; a CPU adapter first. Without an adapter the tests skip visibly,
/// except under CI=true where they fail.
fn context() -> Option<&'static GpuContext> {
    test_support::gpu::context(
        "gpu external-memory tests",
        test_support::gpu::Adapter::CpuFirst,
    )
}

/// The context, if its device can export memory. lavapipe (CI) can, so there a missing
/// capability is a failure; elsewhere the test skips visibly.
fn exporting_context() -> Option<&'static GpuContext> {
    let ctx = context()?;
    let info = external_memory_info(ctx);
    if !info.fd_export {
        let lavapipe = ctx.adapter.name.to_ascii_lowercase().contains("llvmpipe");
        assert!(
            !(test_support::ci() && lavapipe),
            "lavapipe must offer VK_KHR_external_memory_fd: {:?}",
            info.why_not
        );
        test_support::skip(
            "gpu external-memory tests",
            &format!("{} cannot export memory: {:?}", ctx.adapter, info.why_not),
        );
        return None;
    }
    Some(ctx)
}

/// Copies `src` into a mappable buffer on the GPU and reads it.
fn read_back(ctx: &GpuContext, src: &wgpu::Buffer, size: u64) -> Vec<u8> {
    let encoder = ctx.device.create_command_encoder(&Default::default());
    gpu::read_buffers(
        &ctx.device,
        &ctx.queue,
        encoder,
        &[(src, size)],
        std::time::Duration::from_secs(60),
        "the test buffer",
    )
    .expect("read back")
    .remove(0)
}

use gpu::wgpu;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[test]
fn export_then_import_sees_the_same_bytes() {
    let Some(ctx) = exporting_context() else {
        return;
    };
    let info = external_memory_info(ctx);
    assert!(info.device_uuid.is_some(), "a Vulkan device has a UUID");
    let size = 3 * 4096 + 256;
    let ext = ExportableBuffer::new(ctx, size, "test.export").expect("exportable buffer");
    assert!(ext.allocation_size() >= size);
    // Known bytes, written by the GPU (a buffer-to-buffer copy), not by a CPU mapping.
    let pattern: Vec<u8> = (0..size).map(|i| (i * 7 + i / 251) as u8).collect();
    let src = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("test.pattern"),
        size,
        usage: wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: true,
    });
    src.slice(..)
        .get_mapped_range_mut()
        .expect("mapped")
        .copy_from_slice(&pattern);
    src.unmap();
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(&src, 0, ext.buffer(), 0, size);
    ctx.queue.submit([enc.finish()]);

    let fd = ext.export_fd().expect("vkGetMemoryFdKHR");
    let imported = ext
        .import_copy(ctx, fd)
        .expect("import as a second allocation");
    assert_eq!(
        read_back(ctx, &imported, size),
        pattern,
        "imported memory differs"
    );

    // Writes through the import are seen by the original: it is one memory, not a copy.
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    enc.clear_buffer(&imported, 0, Some(256));
    ctx.queue.submit([enc.finish()]);
    let back = read_back(ctx, ext.buffer(), size);
    assert!(back[..256].iter().all(|&b| b == 0));
    assert_eq!(back[256..], pattern[256..]);
    ctx.check().expect("no wgpu validation errors");
}

#[test]
fn exported_descriptors_and_buffers_are_released() {
    let Some(ctx) = exporting_context() else {
        return;
    };
    let ext = ExportableBuffer::new(ctx, 65536, "test.fds").expect("exportable buffer");
    let before = open_fds();
    for _ in 0..32 {
        let fd = ext.export_fd().expect("export");
        drop(fd);
    }
    // Other tests run in parallel and may hold a few descriptors; 32 leaks would show.
    assert!(
        open_fds() < before + 8,
        "descriptors leak: {before} -> {}",
        open_fds()
    );
    // Many buffers made and dropped: memory is freed by wgpu (no growth to an OOM).
    for _ in 0..64 {
        let b = ExportableBuffer::new(ctx, 4 << 20, "test.churn").expect("buffer");
        drop(b);
        ctx.device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("poll");
    }
    ctx.check().expect("no wgpu errors");
}

fn encoded(c: [u8; 3]) -> [f32; 4] {
    [
        f32::from(c[0]) / 255.0,
        f32::from(c[1]) / 255.0,
        f32::from(c[2]) / 255.0,
        1.0,
    ]
}

#[test]
fn nv12_frame_lands_in_an_external_slot_with_the_nvenc_layout() {
    let Some(ctx) = exporting_context() else {
        return;
    };
    // 100 px wide: the pitch (256) is not the width, so row padding is exercised.
    let (w, h) = (100u32, 50u32);
    let layout = Nv12Layout::new(w, h).expect("layout");
    assert_eq!(layout.pitch % 256, 0);
    assert_eq!(layout.uv_offset, u64::from(layout.pitch) * u64::from(h));
    let gradient = LayerSpec::from(LayerKind::Background(BackgroundParams {
        color_a: encoded([0xff, 0x80, 0x10]),
        color_b: encoded([0x10, 0x30, 0xf0]),
        direction: [0.6, 0.8],
        mode: 1,
        opacity: 1.0,
    }));
    let bars = LayerSpec::from(LayerKind::Bars(BarsParams {
        rect: [0.0, 0.0, 100.0, 50.0],
        color_a: [1.0, 1.0, 0.0, 1.0],
        color_b: [1.0, 1.0, 0.0, 1.0],
        peak_color: [0.0; 4],
        count: 4,
        gap: 0.5,
        radius: 0.0,
        align: 0,
        opacity: 1.0,
        min_height: 0.0,
        gradient: 0,
        symmetric: 0,
        caps: 0,
        cap_height: 0.0,
        _pad: [0.0; 2],
    }));
    let config = RendererConfig {
        width: w,
        height: h,
        ring_slots: 2,
        chunk_frames: 1,
        frame_stride: 4,
        bands: 4,
        output: gpu::FrameOutput::Nv12,
        transparent: false,
    };
    let mut r = FrameRenderer::new(ctx, config, &[gradient, bars]).expect("renderer");
    r.upload_spectrum(&[0.9, 0.1, 0.5, 0.7]).expect("upload");
    let u = FrameUniforms {
        resolution: [w as f32, h as f32],
        time: 0.0,
        duration: 1.0,
        frame_index: 0,
        spectrum_offset: 0,
        band_count: 4,
        peaks_offset: 0,
        waveform_offset: 0,
        waveform_points: 0,
        _pad: [0; 2],
        features: Default::default(),
    };
    let rgba = r.render_rgba(&u).expect("rgba");
    let reference = rgb_to_nv12_reference(&rgba, w as usize, h as usize);

    let ring = ExternalRing::new(ctx, layout, 2).expect("external ring");
    // Slot 1, with slot 0 left alone: the copy targets the slot asked for.
    let submission = r.submit_into(&u, ring.slot(1).buffer()).expect("submit");
    r.wait(submission).expect("wait");
    // Read what an importer (CUDA) sees: through a second mapping of the exported memory.
    let fd = ring.slot(1).export_fd().expect("export");
    let imported = ring.slot(1).import_copy(ctx, fd).expect("import");
    let padded = read_back(ctx, &imported, layout.size);
    let untouched = read_back(ctx, ring.slot(0).buffer(), layout.size);
    assert!(
        untouched.iter().all(|&b| b == 0) || untouched != padded,
        "slot 0 must not receive slot 1's frame"
    );
    let (pitch, wu, hu) = (layout.pitch as usize, w as usize, h as usize);
    let mut worst = 0u8;
    for y in 0..hu {
        for x in 0..wu {
            let g = padded[y * pitch + x];
            let c = reference[y * wu + x];
            worst = worst.max(g.abs_diff(c));
            assert!(g.abs_diff(c) <= 1, "Y({x},{y}): gpu {g} cpu {c}");
        }
    }
    let uv = layout.uv_offset as usize;
    for y in 0..hu / 2 {
        for x in 0..wu {
            let g = padded[uv + y * pitch + x];
            let c = reference[wu * hu + y * wu + x];
            worst = worst.max(g.abs_diff(c));
            assert!(g.abs_diff(c) <= 1, "CbCr byte ({x},{y}): gpu {g} cpu {c}");
        }
    }
    // The planes really hold a picture (not a uniform fill that matched by accident).
    let ys: std::collections::HashSet<u8> = (0..hu).map(|y| padded[y * pitch + 2]).collect();
    assert!(
        ys.len() > 5,
        "the gradient must show in the Y plane (column 2 lies in a gap between bars)"
    );
    eprintln!("external NV12 vs CPU reference: worst difference {worst}");
    ctx.check().expect("no wgpu errors");
}
