//! `device-check`: what the zero-copy NVENC path does on this machine, as table rows.
//!
//! Built by `cargo xtask device-check` into target/device-check/ (with run.sh, which prints
//! the table and adds the rows that need ffmpeg). Every check that cannot run here prints
//! "not available: <why>" instead of failing; the exit status is 0 unless a check that did run
//! gave a wrong result.
//!
//! Rows: the Vulkan adapter; Vulkan external memory and device UUID; CUDA and the UUID match;
//! the NV12 ring imported into CUDA and copied to the host (byte-exact against what Vulkan
//! wrote, within 1 of the CPU reference); NVENC H.264/HEVC sessions encoding a real sequence
//! (checked with the Annex-B reader; the stream and the source frames are written for run.sh
//! to decode and compare by PSNR); render + NV12 throughput at 1080p and 2160p into the
//! external ring, no readback (and with NVENC where it exists).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use gpu::{
    AdapterChoice, BackgroundParams, BarsParams, ExternalRing, FrameRenderer, FrameUniforms,
    GpuContext, LayerKind, LayerSpec, Nv12Layout, RendererConfig, rgb_to_nv12_reference, wgpu,
};
use nvenc::annexb::access_units;
use nvenc::{Codec, Cuda, CudaContext, EncodeSettings, NvencApi, RateControl, Session};

const BANDS: u32 = 64;

fn row(check: &str, result: &str) {
    println!("| {check} | {result} |");
    let _ = std::io::stdout().flush();
}

fn layers() -> Vec<LayerSpec> {
    let bg = LayerSpec::from(LayerKind::Background(BackgroundParams {
        color_a: [0.05, 0.08, 0.2, 1.0],
        color_b: [0.5, 0.1, 0.3, 1.0],
        direction: [0.6, 0.8],
        mode: 1,
        opacity: 1.0,
    }));
    let bars = LayerSpec::from(LayerKind::Bars(BarsParams {
        rect: [0.05, 0.2, 0.9, 0.7],
        color_a: [0.1, 0.8, 1.0, 1.0],
        color_b: [1.0, 0.3, 0.6, 1.0],
        peak_color: [1.0, 1.0, 1.0, 1.0],
        count: BANDS,
        gap: 0.3,
        radius: 0.2,
        align: 0,
        opacity: 1.0,
        min_height: 0.01,
        gradient: 1,
        symmetric: 0,
        caps: 1,
        cap_height: 0.01,
        _pad: [0.0; 2],
    }));
    // Rect is in pixels for the renderer: scaled per size in `renderer()`.
    vec![bg, bars]
}

fn renderer(ctx: &GpuContext, w: u32, h: u32) -> Result<FrameRenderer> {
    let mut specs = layers();
    if let LayerKind::Bars(b) = &mut specs[1].kind {
        let (fw, fh) = (w as f32, h as f32);
        b.rect = [0.05 * fw, 0.2 * fh, 0.9 * fw, 0.7 * fh];
    }
    Ok(FrameRenderer::new(
        ctx,
        RendererConfig {
            width: w,
            height: h,
            ring_slots: 2,
            chunk_frames: 1,
            frame_stride: BANDS,
            bands: BANDS,
            output: gpu::FrameOutput::Nv12,
            transparent: false,
        },
        &specs,
    )?)
}

/// Frame `i`: moving bar levels, so consecutive frames differ (a real encode).
fn frame(r: &FrameRenderer, w: u32, h: u32, i: u32) -> Result<FrameUniforms> {
    let levels: Vec<f32> = (0..BANDS)
        .map(|b| 0.5 + 0.45 * ((i as f32) * 0.15 + b as f32 * 0.4).sin())
        .collect();
    r.upload_spectrum(&levels)?;
    Ok(FrameUniforms {
        resolution: [w as f32, h as f32],
        time: i as f32 / 30.0,
        duration: 10.0,
        frame_index: i,
        spectrum_offset: 0,
        band_count: BANDS,
        peaks_offset: 0,
        waveform_offset: 0,
        waveform_points: 0,
        _pad: [0; 2],
        features: Default::default(),
    })
}

/// Copies `src` to the host through wgpu (a staging buffer): what Vulkan wrote.
fn read_back(ctx: &GpuContext, src: &wgpu::Buffer, size: u64) -> Result<Vec<u8>> {
    let encoder = ctx.device.create_command_encoder(&Default::default());
    let mut bytes = gpu::read_buffers(
        &ctx.device,
        &ctx.queue,
        encoder,
        &[(src, size)],
        std::time::Duration::from_secs(60),
        "an NV12 ring slot",
    )?;
    Ok(bytes.remove(0))
}

/// Renders frames 0..slots into the ring's slots and waits for them.
fn fill_ring(r: &mut FrameRenderer, ring: &ExternalRing, w: u32, h: u32, first: u32) -> Result<()> {
    for s in 0..ring.len() {
        let u = frame(r, w, h, first + s as u32)?;
        let sub = r.submit_into(&u, ring.slot(s).buffer())?;
        r.wait(sub)?;
    }
    Ok(())
}

struct Cli {
    out: PathBuf,
    quick: bool,
}

fn parse() -> Result<Cli> {
    let mut out = PathBuf::from("device-check-out");
    let mut quick = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().context("--out needs a folder")?.into(),
            "--quick" => quick = true,
            "-h" | "--help" => {
                println!(
                    "device-check [--out DIR] [--quick]: checks the Vulkan -> CUDA -> NVENC path \
                     and prints table rows; writes encoded streams and source frames to DIR"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}; see --help"),
        }
    }
    Ok(Cli { out, quick })
}

fn main() -> Result<()> {
    let cli = parse()?;
    std::fs::create_dir_all(&cli.out)
        .with_context(|| format!("cannot create {}", cli.out.display()))?;
    let mut wrong = Vec::new();
    for var in ["NVENC_CUDA_LIBRARY", "NVENC_ENCODE_LIBRARY"] {
        if let Some(v) = std::env::var_os(var) {
            row(
                "NOTE: driver library override",
                &format!(
                    "{var}={} (not the system's NVIDIA library; results below are not a \
                     hardware measurement)",
                    Path::new(&v).display()
                ),
            );
        }
    }

    let ctx = match GpuContext::new(&AdapterChoice::Auto) {
        Ok(c) => c,
        Err(e) => {
            row("Vulkan adapter", &format!("not available: {e}"));
            return Ok(());
        }
    };
    let nvidia = ctx.adapter.name.to_ascii_lowercase().contains("nvidia");
    row(
        "Vulkan adapter is the NVIDIA GPU",
        &format!(
            "{}: {} [{}]",
            if nvidia { "yes" } else { "no" },
            ctx.adapter,
            ctx.adapter.driver
        ),
    );
    let ext = gpu::external_memory_info(&ctx);
    let uuid_text = ext
        .device_uuid
        .as_ref()
        .map_or_else(|| "none".into(), nvenc::format_uuid);
    match &ext.why_not {
        None => row(
            "Vulkan external memory (opaque fd)",
            &format!("yes; device UUID {uuid_text}"),
        ),
        Some(why) => row(
            "Vulkan external memory (opaque fd)",
            &format!("not available: {why}"),
        ),
    }

    // CUDA on the same physical GPU.
    let cuda = Cuda::load().and_then(|c| {
        let dev = c.device_for(ext.device_uuid)?;
        let v = c.driver_version()?;
        Ok((c, dev, v))
    });
    let cuda_ctx = match cuda {
        Ok((c, dev, (major, minor))) => {
            row(
                "Vulkan and CUDA device UUIDs match",
                &format!(
                    "yes: CUDA device {} ({}), UUID {}, CUDA driver API {major}.{minor}",
                    dev.ordinal,
                    dev.name,
                    nvenc::format_uuid(&dev.uuid)
                ),
            );
            match CudaContext::new(c, dev) {
                Ok(x) => Some(x),
                Err(e) => {
                    row("CUDA context", &format!("failed: {e}"));
                    wrong.push("CUDA context");
                    None
                }
            }
        }
        Err(e) => {
            row(
                "Vulkan and CUDA device UUIDs match",
                &format!("not available: {e}"),
            );
            None
        }
    };

    // The NV12 ring: Vulkan writes, CUDA reads.
    let (w, h) = (1280u32, 720u32);
    let layout = Nv12Layout::new(w, h)?;
    let ring = if ext.why_not.is_none() {
        Some(ExternalRing::new(&ctx, layout, 3)?)
    } else {
        None
    };
    match (&ring, &cuda_ctx) {
        (Some(ring), Some(cctx)) => {
            let mut r = renderer(&ctx, w, h)?;
            fill_ring(&mut r, ring, w, h, 0)?;
            let mut exact = true;
            let mut worst_ref = 0u8;
            for s in 0..ring.len() {
                let slot = ring.slot(s);
                let vk = read_back(&ctx, slot.buffer(), layout.size)?;
                let imported =
                    cctx.import_fd(slot.export_fd()?, slot.allocation_size(), 0, layout.size)?;
                let mut host = vec![0u8; layout.size as usize];
                imported.copy_to_host(&mut host)?;
                exact &= host == vk;
                // Against the CPU reference of the same frame (the NV12 pass is within 1).
                let u = frame(&r, w, h, s as u32)?;
                let rgba = r.render_rgba(&u)?;
                let reference = rgb_to_nv12_reference(&rgba, w as usize, h as usize);
                let mut packed = Vec::new();
                layout.pack(&host, &mut packed);
                let d = packed
                    .iter()
                    .zip(&reference)
                    .map(|(a, b)| a.abs_diff(*b))
                    .max()
                    .unwrap_or(0);
                worst_ref = worst_ref.max(d);
            }
            let ok = exact && worst_ref <= 1;
            if !ok {
                wrong.push("CUDA import");
            }
            row(
                "CUDA imports the NV12 ring; device-to-host copy",
                &format!(
                    "{}: {} slots of {}x{} (pitch {}, CbCr at {}): CUDA bytes {} Vulkan's; \
                     max difference to the CPU NV12 reference {worst_ref}",
                    if ok { "ok" } else { "WRONG" },
                    ring.len(),
                    w,
                    h,
                    layout.pitch,
                    layout.uv_offset,
                    if exact { "equal" } else { "DIFFER FROM" }
                ),
            );
        }
        (None, _) => row(
            "CUDA imports the NV12 ring; device-to-host copy",
            "not available: no exportable Vulkan memory on this adapter",
        ),
        (_, None) => row(
            "CUDA imports the NV12 ring; device-to-host copy",
            "not available: no CUDA device for this adapter (see above)",
        ),
    }

    // NVENC: a real encode per codec.
    let api = NvencApi::load();
    let frames = if cli.quick { 60 } else { 120 };
    match (&ring, &cuda_ctx, &api) {
        (Some(ring), Some(cctx), Ok(api)) => {
            for codec in [Codec::H264, Codec::Hevc] {
                match encode(&ctx, ring, cctx, api, codec, layout, frames, &cli.out) {
                    Ok(text) => row(&format!("NVENC {codec} session"), &text),
                    Err(e) => row(&format!("NVENC {codec} session"), &format!("{e:#}")),
                }
            }
        }
        (_, _, Err(e)) => row("NVENC session", &format!("not available: {e}")),
        _ => {
            let status = nvenc::probe(ext.device_uuid).status;
            row(
                "NVENC session",
                &match status {
                    Ok(_) => "not run: no exportable memory on this adapter".to_owned(),
                    Err(e) => format!("not available: {e}"),
                },
            )
        }
    }

    // Throughput into the external ring (no readback), 1080p and 2160p.
    for (tw, th, n) in [(1920u32, 1080u32, 120u32), (3840, 2160, 60)] {
        let n = if cli.quick || ctx.adapter.software {
            n / 6
        } else {
            n
        };
        match throughput(&ctx, tw, th, n, cuda_ctx.as_ref(), api.as_ref().ok()) {
            Ok(text) => row(&format!("render + NV12 {tw}x{th}, no readback"), &text),
            Err(e) => row(
                &format!("render + NV12 {tw}x{th}, no readback"),
                &format!("not available: {e:#}"),
            ),
        }
    }
    if !wrong.is_empty() {
        bail!("wrong results: {}", wrong.join(", "));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn encode(
    ctx: &GpuContext,
    ring: &ExternalRing,
    cctx: &CudaContext,
    api: &std::sync::Arc<NvencApi>,
    codec: Codec,
    layout: Nv12Layout,
    frames: u32,
    out: &Path,
) -> Result<String> {
    let gop = 30;
    let mut session = Session::open(
        api.clone(),
        cctx.clone(),
        EncodeSettings {
            codec,
            width: layout.width,
            height: layout.height,
            fps_num: 30,
            fps_den: 1,
            preset: 4,
            rate: RateControl::Quality(23),
            idr_interval: gop,
        },
    )
    .map_err(|e| anyhow::anyhow!("not available: {e}"))?;
    let mut imports = Vec::new();
    for s in 0..ring.len() {
        let slot = ring.slot(s);
        let imp = cctx.import_fd(slot.export_fd()?, slot.allocation_size(), 0, layout.size)?;
        session.register_input(imp.device_ptr(), layout.pitch)?;
        imports.push(imp);
    }
    let mut r = renderer(ctx, layout.width, layout.height)?;
    let stream_path = out.join(format!("nvenc.{}", codec.ffmpeg_format()));
    let ref_path = out.join(format!("source_{}.nv12", codec.ffmpeg_format()));
    let mut stream = std::io::BufWriter::new(std::fs::File::create(&stream_path)?);
    let mut source = std::io::BufWriter::new(std::fs::File::create(&ref_path)?);
    let mut bytes = Vec::new();
    let mut packed = Vec::new();
    let started = Instant::now();
    for i in 0..frames {
        let s = i as usize % ring.len();
        let u = frame(&r, layout.width, layout.height, i)?;
        let sub = r.submit_into(&u, ring.slot(s).buffer())?;
        r.wait(sub)?;
        bytes.clear();
        session.encode(s, &mut bytes)?;
        stream.write_all(&bytes)?;
        // The source frame exactly as NVENC read it (through CUDA), for PSNR in run.sh.
        let mut host = vec![0u8; layout.size as usize];
        imports[s].copy_to_host(&mut host)?;
        layout.pack(&host, &mut packed);
        source.write_all(&packed)?;
    }
    session.finish()?;
    let seconds = started.elapsed().as_secs_f64();
    drop(session);
    stream.flush()?;
    source.flush()?;
    drop(stream);
    let data = std::fs::read(&stream_path)?;
    let aus = access_units(codec, &data);
    let keys: Vec<usize> = aus
        .iter()
        .enumerate()
        .filter(|(_, a)| a.key)
        .map(|(i, _)| i)
        .collect();
    let expected: Vec<usize> = (0..frames as usize).step_by(gop as usize).collect();
    let ps = aus.first().is_some_and(|a| a.has_sps && a.has_pps);
    let ok = aus.len() == frames as usize && keys == expected && ps;
    Ok(format!(
        "{}: {} frames {}x{} -> {} bytes, {} access units, IDR at {:?}, parameter sets {}; \
         {:.0} frames/s incl. CUDA readback of the source; stream {}",
        if ok { "ok" } else { "WRONG STREAM" },
        frames,
        layout.width,
        layout.height,
        data.len(),
        aus.len(),
        keys,
        if ps { "present" } else { "MISSING" },
        f64::from(frames) / seconds,
        stream_path.display()
    ))
}

fn throughput(
    ctx: &GpuContext,
    w: u32,
    h: u32,
    frames: u32,
    cctx: Option<&CudaContext>,
    api: Option<&std::sync::Arc<NvencApi>>,
) -> Result<String> {
    let layout = Nv12Layout::new(w, h)?;
    let ring = ExternalRing::new(ctx, layout, 3)?;
    let mut r = renderer(ctx, w, h)?;
    // Warm-up (pipelines, first-use costs).
    fill_ring(&mut r, &ring, w, h, 0)?;
    let started = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    for i in 0..frames {
        let s = i as usize % ring.len();
        let u = frame(&r, w, h, i)?;
        pending.push_back(r.submit_into(&u, ring.slot(s).buffer())?);
        // Keep at most ring-1 frames in flight, as the encode path does.
        if pending.len() >= ring.len() - 1
            && let Some(sub) = pending.pop_front()
        {
            r.wait(sub)?;
        }
    }
    while let Some(sub) = pending.pop_front() {
        r.wait(sub)?;
    }
    let fps = f64::from(frames) / started.elapsed().as_secs_f64();
    let mut text = format!("{fps:.1} frames/s ({frames} frames, {})", ctx.adapter.name);
    if let (Some(cctx), Some(api)) = (cctx, api) {
        match encode_throughput(&mut r, &ring, cctx, api, layout, frames) {
            Ok(f) => text.push_str(&format!("; with NVENC H.264 P4: {f:.1} frames/s")),
            Err(e) => text.push_str(&format!("; with NVENC: not available: {e}")),
        }
    }
    Ok(text)
}

fn encode_throughput(
    r: &mut FrameRenderer,
    ring: &ExternalRing,
    cctx: &CudaContext,
    api: &std::sync::Arc<NvencApi>,
    layout: Nv12Layout,
    frames: u32,
) -> Result<f64> {
    let mut session = Session::open(
        api.clone(),
        cctx.clone(),
        EncodeSettings {
            codec: Codec::H264,
            width: layout.width,
            height: layout.height,
            fps_num: 30,
            fps_den: 1,
            preset: 4,
            rate: RateControl::Quality(23),
            idr_interval: 60,
        },
    )?;
    let mut imports = Vec::new();
    for s in 0..ring.len() {
        let slot = ring.slot(s);
        let imp = cctx.import_fd(slot.export_fd()?, slot.allocation_size(), 0, layout.size)?;
        session.register_input(imp.device_ptr(), layout.pitch)?;
        imports.push(imp);
    }
    let mut bytes = Vec::new();
    let started = Instant::now();
    let mut pending: Option<(usize, wgpu::SubmissionIndex)> = None;
    for i in 0..frames {
        let s = i as usize % ring.len();
        let u = frame(r, layout.width, layout.height, i)?;
        let sub = r.submit_into(&u, ring.slot(s).buffer())?;
        if let Some((ps, psub)) = pending.replace((s, sub)) {
            r.wait(psub)?;
            bytes.clear();
            session.encode(ps, &mut bytes)?;
        }
    }
    if let Some((ps, psub)) = pending.take() {
        r.wait(psub)?;
        session.encode(ps, &mut bytes)?;
    }
    session.finish()?;
    Ok(f64::from(frames) / started.elapsed().as_secs_f64())
}
