//! `cargo xtask doctor`: are the prerequisites here, and if not, what exactly fixes them.

use std::process::Command;

fn version_of(program: &str, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next().map(str::to_owned)
}

fn report(ok: bool, what: &str, detail: &str, fix: &str) -> bool {
    if ok {
        println!("  ok    {what}: {detail}");
    } else {
        println!("  MISSING {what}: {detail}\n        fix: {fix}");
    }
    ok
}

/// Prints one line per prerequisite; returns whether all required ones are present.
pub fn run() -> anyhow::Result<bool> {
    println!("doctor: checking prerequisites");
    let mut all = true;

    let rustc = version_of("rustc", "--version");
    all &= report(
        rustc.is_some(),
        "Rust toolchain",
        rustc.as_deref().unwrap_or("rustc not found"),
        "install Rust from https://rustup.rs",
    );

    let apt = "apt-get install -y ffmpeg   (macOS: brew install ffmpeg)";
    match media::probe_ffmpeg() {
        Ok(info) => {
            all &= report(true, "ffmpeg", &info.version, apt);
            all &= report(
                info.has_libx264,
                "ffmpeg libx264 encoder",
                if info.has_libx264 {
                    "present"
                } else {
                    "absent"
                },
                "install an ffmpeg built with --enable-libx264 (Debian/Ubuntu's ffmpeg has it)",
            );
            all &= report(
                info.has_aac,
                "ffmpeg AAC encoder",
                if info.has_aac { "present" } else { "absent" },
                apt,
            );
        }
        Err(e) => all &= report(false, "ffmpeg", &e.to_string(), apt),
    }
    let ffprobe = version_of(&media::ffprobe_program(), "-version");
    all &= report(
        ffprobe.is_some(),
        "ffprobe (tests)",
        ffprobe.as_deref().unwrap_or("not found"),
        apt,
    );

    // The wav2lip tests fetch their fixtures with pip (librosa for the mel reference, the
    // facenet-pytorch wheel for real legacy checkpoints) into target/test-cache.
    let pip = Command::new("python3")
        .args(["-m", "pip", "--version"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    all &= report(
        pip.is_some(),
        "python3 with pip (test fixtures)",
        pip.as_deref().unwrap_or("not found"),
        "apt-get install -y python3 python3-pip",
    );

    // The browser test plays a transparent WebM in headless Chromium (skipped visibly without
    // it locally, a failure under CI=true).
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find_map(|name| version_of(name, "--version"));
    all &= report(
        chromium.is_some(),
        "headless Chromium (tests)",
        chromium.as_deref().unwrap_or("not found"),
        "apt-get install -y chromium",
    );

    let adapters = gpu::list_adapters();
    let listing = if adapters.is_empty() {
        "none".to_owned()
    } else {
        adapters
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    all &= report(
        !adapters.is_empty(),
        "GPU adapter (Vulkan/Metal/DX12)",
        &listing,
        "install your GPU's Vulkan driver, or Mesa's software Vulkan on CPU-only machines: \
         apt-get install -y mesa-vulkan-drivers",
    );
    if !adapters.is_empty() && adapters.iter().all(|a| a.software) {
        println!(
            "  note  only software adapters: renders run on the CPU (fine for tests; install a \
             GPU driver for speed)"
        );
    }
    hardware_encoder();
    avatar_weights();
    println!(
        "doctor: {}",
        if all {
            "all prerequisites present"
        } else {
            "some prerequisites are missing (see fix lines above)"
        }
    );
    Ok(all)
}

/// The face detector's weights that avatar layers need: informational (only avatar jobs need
/// them, and the tests fetch their own copy).
fn avatar_weights() {
    let dir = wav2lip::fetch::default_weights_dir();
    match wav2lip::mtcnn::MtcnnWeights::load(&dir) {
        Ok(_) => info(
            "MTCNN weights (avatar layers)",
            &format!("present in {}", dir.display()),
        ),
        Err(_) => info(
            "MTCNN weights (avatar layers)",
            &format!(
                "not in {}: run `cargo xtask fetch-mtcnn` before rendering jobs with an avatar \
                 layer (or give the layer's `detector` folder)",
                dir.display()
            ),
        ),
    }
}

fn info(what: &str, detail: &str) {
    println!("  info  {what}: {detail}");
}

/// The zero-copy NVENC path: informational only (a machine without it renders with x264).
fn hardware_encoder() {
    let ctx = match gpu::GpuContext::new(&gpu::AdapterChoice::Auto) {
        Ok(c) => c,
        Err(e) => {
            info("NVENC", &format!("not checked: no GPU device ({e})"));
            return;
        }
    };
    info(
        "render adapter (encoder = \"auto\")",
        &format!("{} [{}]", ctx.adapter, ctx.adapter.driver),
    );
    let ext = gpu::external_memory_info(&ctx);
    let uuid = ext
        .device_uuid
        .as_ref()
        .map_or_else(|| "none".into(), nvenc::format_uuid);
    match &ext.why_not {
        None => info(
            "Vulkan external memory",
            &format!("exportable as fd (VK_KHR_external_memory_fd); device UUID {uuid}"),
        ),
        Some(why) => info(
            "Vulkan external memory",
            &format!("not available: {why}; device UUID {uuid}"),
        ),
    }
    let report = nvenc::probe(ext.device_uuid);
    match report.cuda_driver {
        Some((major, minor)) => {
            let devices: Vec<String> = report
                .devices
                .iter()
                .map(|d| format!("{} {}", d.name, nvenc::format_uuid(&d.uuid)))
                .collect();
            info(
                "CUDA",
                &format!(
                    "driver API {major}.{minor}; devices: {}",
                    if devices.is_empty() {
                        "none".to_owned()
                    } else {
                        devices.join("; ")
                    }
                ),
            );
            info(
                "CUDA device = render adapter (UUID)",
                match &report.device {
                    Some(_) if ext.device_uuid.is_some() => "yes",
                    _ => "no",
                },
            );
        }
        None => info(
            "CUDA",
            &match &report.status {
                Err(e) => format!("not available: {e}"),
                Ok(_) => "not available".to_owned(),
            },
        ),
    }
    if let Some((major, minor)) = report.nvenc_api {
        info(
            "NVENC API",
            &format!(
                "driver supports {major}.{minor} (this build needs {})",
                nvenc::encoder::needed_version()
            ),
        );
    }
    match &report.status {
        Ok(codecs) => info(
            "NVENC",
            &format!(
                "available ({}): encoder = \"auto\" uses it",
                codecs
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Err(_) if report.cuda_driver.is_none() => info(
            "NVENC",
            "not available (no CUDA, see above): encoder = \"auto\" uses x264",
        ),
        Err(e) => info(
            "NVENC",
            &format!("not available, encoder = \"auto\" uses x264: {e}"),
        ),
    }
}
