//! Encoder selection: `auto` falls back to x264 (and says why) where NVENC cannot run;
//! `nvenc` there is a clear user error (exit 2) that leaves no output; the NVENC keys of
//! `[video]` are validated.

#[path = "../crates/nvenc/tests/fake/mod.rs"]
mod fake;
mod support;

use std::path::Path;

use renderer::Job;
use support::*;

/// True when this machine can run NVENC at all (some CUDA device with an encoder).
fn nvenc_possible() -> bool {
    nvenc::probe(None).status.is_ok()
}

#[test]
fn auto_falls_back_to_x264_and_logs_why() {
    if !require_ffmpeg("auto_falls_back_to_x264_and_logs_why")
        || !have_gpu("auto_falls_back_to_x264_and_logs_why")
    {
        return;
    }
    let dir = Scratch::new("enc-auto");
    make_audio(&dir.path("in.wav"), 1.0, 44_100, 1);
    let job = write_job(
        dir.dir(),
        "job.toml",
        "in.wav",
        "out.mp4",
        "encoder = \"auto\"",
    );
    let out = run_renderer(&[job.to_str().expect("path")], &[("RUST_LOG", "info")]);
    assert!(out.status.success(), "renderer failed: {}", stderr(&out));
    let log = stderr(&out);
    let summary = String::from_utf8_lossy(&out.stdout);
    if log.contains("encoder auto: NVENC") {
        // An NVIDIA GPU with NVENC renders here: auto must have used it.
        assert!(summary.contains("encoder nvenc"), "{summary}");
        return;
    }
    assert!(
        !test_support::ci() || !nvenc_possible(),
        "CI has no NVIDIA GPU"
    );
    let line = log
        .lines()
        .find(|l| l.contains("encoder auto: x264"))
        .unwrap_or_else(|| panic!("no line saying auto chose x264 in:\n{log}"));
    assert!(
        line.contains("NVENC not used: "),
        "the reason is given: {line}"
    );
    assert!(summary.contains("encoder x264"), "{summary}");
    assert!(dir.path("out.mp4").exists());
}

#[test]
fn nvenc_where_it_cannot_run_is_a_user_error_without_output() {
    if !require_ffmpeg("nvenc_where_it_cannot_run_is_a_user_error_without_output")
        || !have_gpu("nvenc_where_it_cannot_run_is_a_user_error_without_output")
    {
        return;
    }
    if nvenc_possible() {
        test_support::skip(
            "nvenc_where_it_cannot_run_is_a_user_error_without_output",
            "this machine has a working NVENC",
        );
        return;
    }
    let dir = Scratch::new("enc-nvenc");
    make_audio(&dir.path("in.wav"), 1.0, 44_100, 1);
    let job = write_job(
        dir.dir(),
        "job.toml",
        "in.wav",
        "out.mp4",
        "encoder = \"nvenc\"",
    );
    let out = run_renderer(&[job.to_str().expect("path")], &[]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("encoder = \"nvenc\" cannot run here"), "{err}");
    assert!(err.contains("x264"), "the way out is named: {err}");
    assert_eq!(
        dir.files(),
        ["in.wav", "job.toml"],
        "no output, no temporary file"
    );

    // The same through --encoder on the command line.
    let out = run_renderer(&[job.to_str().expect("path"), "--encoder", "nvenc"], &[]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert_eq!(dir.files(), ["in.wav", "job.toml"]);
}

#[test]
fn hevc_with_auto_and_no_nvenc_is_a_user_error() {
    if !require_ffmpeg("hevc_with_auto_and_no_nvenc_is_a_user_error")
        || !have_gpu("hevc_with_auto_and_no_nvenc_is_a_user_error")
        || nvenc_possible()
    {
        return;
    }
    let dir = Scratch::new("enc-hevc");
    make_audio(&dir.path("in.wav"), 1.0, 44_100, 1);
    let job = write_job(
        dir.dir(),
        "job.toml",
        "in.wav",
        "out.mp4",
        "codec = \"hevc\"",
    );
    let out = run_renderer(&[job.to_str().expect("path")], &[]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("codec = \"hevc\" needs NVENC"),
        "{}",
        stderr(&out)
    );
    assert_eq!(dir.files(), ["in.wav", "job.toml"]);
}

fn parse(video: &str) -> Result<Job, String> {
    let text = format!("audio = \"a.wav\"\n[video]\n{video}\n[[layer]]\nkind = \"background\"\n");
    Job::from_toml_str(&text, "job.toml", Path::new(".")).map_err(|e| e.to_string())
}

#[test]
fn nvenc_keys_parse_and_are_checked() {
    let job = parse(
        "encoder = \"nvenc\"\ncodec = \"hevc\"\nnvenc_preset = \"P7\"\nrate_control = \"vbr\"\n\
         bitrate = 8000\nkeyint = 48",
    )
    .expect("valid");
    let v = &job.video;
    assert_eq!(v.encoder.to_string(), "nvenc");
    assert_eq!(v.nvenc_preset.0, 7);
    assert_eq!(v.keyint_frames(), 48);
    // Default IDR interval: two seconds of frames.
    assert_eq!(parse("fps = 25").expect("valid").video.keyint_frames(), 50);
    for (bad, says) in [
        (
            "encoder = \"x264\"\ncodec = \"hevc\"",
            "x264 encodes H.264 only",
        ),
        ("rate_control = \"cbr\"", "needs a bitrate"),
        ("bitrate = 5000", "cbr\" or \"vbr\" only"),
        ("nvenc_preset = \"p8\"", "p1 (fastest) .. p7"),
        ("codec = \"vp9\"", "unknown variant"),
        ("keyint = 0", "keyint"),
        ("encoder = \"nvidia\"", "unknown variant"),
    ] {
        let e = parse(bad).expect_err(bad);
        assert!(e.contains(says), "{bad}: {e}");
    }
}

/// Compiles crates/nvenc/tests/fake/<name>.c (a stand-in driver library) with `defines`.
fn build_fake(dir: &Path, name: &str, defines: &[String]) -> Option<std::path::PathBuf> {
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nvenc/tests/fake");
    fake::build(&sources, dir, name, defines)
}

/// The whole NVENC path of the renderer (ring of exportable buffers, CUDA import, NVENC
/// session, Annex-B to ffmpeg, MP4) with stand-in CUDA/NVENC libraries: the "encoder" reads
/// each frame through the imported pointer (its luma/chroma means are logged and checked) and
/// answers with the access units of a real x264 stream, which ffmpeg then muxes.
#[test]
fn nvenc_path_end_to_end_with_a_stand_in_driver() {
    let name = "nvenc_path_end_to_end_with_a_stand_in_driver";
    if !require_ffmpeg(name) || !have_gpu(name) {
        return;
    }
    // The adapter the renderer will pick (adapter = "auto"), and its UUID.
    let ctx = gpu::GpuContext::new(&gpu::AdapterChoice::Auto).expect("adapter");
    let info = gpu::external_memory_info(&ctx);
    let Some(uuid) = info.device_uuid.filter(|_| info.fd_export) else {
        assert!(
            !test_support::ci(),
            "lavapipe exports memory: {:?}",
            info.why_not
        );
        test_support::skip(name, &format!("no memory export: {:?}", info.why_not));
        return;
    };
    drop(ctx);
    let dir = Scratch::new("enc-fake");
    let (frames, w, h) = (30u32, 160u32, 90u32);
    // The bitstream the stand-in hands back: x264, one access unit delimiter per frame.
    let stream = dir.path("x264.h264");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc=size={w}x{h}:rate=30"),
        "-frames:v",
        &frames.to_string(),
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
        "-bf",
        "0",
        "-g",
        "15",
        "-x264-params",
        "aud=1",
        "-colorspace",
        "bt709",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        "-f",
        "h264",
        stream.to_str().expect("path"),
    ]);
    let libs = Scratch::new("enc-fake-libs");
    let Some(cuda) = build_fake(libs.dir(), "fake_cuda", &[fake::uuid_define(&uuid)]) else {
        return;
    };
    let log = libs.path("frames.log");
    let Some(encode) = build_fake(
        libs.dir(),
        "fake_nvenc",
        &[
            format!("STREAM=\"{}\"", stream.display()),
            format!("LOG=\"{}\"", log.display()),
        ],
    ) else {
        return;
    };
    make_audio(&dir.path("in.wav"), 1.0, 44_100, 2);
    let job = dir.path("job.toml");
    std::fs::write(
        &job,
        format!(
            "audio = \"in.wav\"\noutput = \"out.mp4\"\n[video]\nwidth = {w}\nheight = {h}\n\
             fps = 30\nencoder = \"nvenc\"\nkeyint = 15\n\n[[layer]]\nkind = \"background\"\n\
             color = \"#102030\"\n"
        ),
    )
    .expect("job");
    let out = run_renderer(
        &[job.to_str().expect("path")],
        &[
            ("NVENC_CUDA_LIBRARY", cuda.to_str().expect("path")),
            ("NVENC_ENCODE_LIBRARY", encode.to_str().expect("path")),
        ],
    );
    assert!(out.status.success(), "renderer failed: {}", stderr(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("encoder nvenc h264"), "{summary}");

    let mp4 = dir.path("out.mp4");
    let v = probe(&mp4, "v");
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(v["nb_read_frames"], frames.to_string());
    assert_eq!(v["r_frame_rate"], "30/1");
    assert_eq!(v["color_primaries"], "bt709");
    assert_eq!(v["color_range"], "tv");
    assert_eq!(probe(&mp4, "a")["codec_name"], "aac");
    assert_eq!(dir.files(), ["in.wav", "job.toml", "out.mp4", "x264.h264"]);

    // What the encoder read through CUDA: every frame, the job's background colour in NV12.
    let reference = gpu::rgb_to_nv12_reference(&[0x10, 0x20, 0x30, 0xff].repeat(4), 2, 2);
    let (ey, eu, ev) = (
        f64::from(reference[0]),
        f64::from(reference[4]),
        f64::from(reference[5]),
    );
    let lines = std::fs::read_to_string(&log).expect("stand-in log");
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(lines.len(), frames as usize, "frames handed to the encoder");
    for (i, line) in lines.iter().enumerate() {
        let field = |k: &str| -> f64 {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(k))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {k} in {line}"))
        };
        assert_eq!(field("frame=") as usize, i, "{line}");
        for (got, want, what) in [
            (field("y="), ey, "Y"),
            (field("u="), eu, "Cb"),
            (field("v="), ev, "Cr"),
        ] {
            assert!(
                (got - want).abs() <= 1.0,
                "frame {i}: mean {what} {got} read through CUDA, background is {want}"
            );
        }
    }
}

/// Software adapters make NV12 on the CPU from RGBA read back (`RENDERER_NV12`, default there);
/// the GPU's conversion pass is the other way. Both are encoded losslessly here and decoded: the
/// same planes within one level (their rounding differs), every frame, both planes.
#[test]
fn nv12_made_on_the_cpu_matches_the_gpu_pass() {
    if !have_gpu("nv12_cpu_vs_gpu") || !require_ffmpeg("nv12_cpu_vs_gpu") {
        return;
    }
    let dir = Scratch::new("nv12-cpu-gpu");
    make_audio(&dir.path("music.wav"), 1.0, 48_000, 2);
    // 200 x 112: rows of 800 bytes, padded to 1024 in the readback (the CPU path must skip it).
    let job = |out: &str| {
        let path = dir.path(&format!("{out}.toml"));
        std::fs::write(
            &path,
            format!(
                "audio = \"music.wav\"\noutput = \"{out}.mp4\"\n\n[video]\nwidth = 200\nheight = 112\nfps = 10\npreset = \"ultrafast\"\nquality = 0\n\n[[layer]]\nkind = \"background\"\ncolor = \"#0b1020\"\ncolor2 = \"#ff5030\"\n\n[[layer]]\nkind = \"bars\"\ncount = 12\ncolor = \"#33ccff\"\ncolor2 = \"#ff5fd2\"\n"
            ),
        )
        .expect("write job");
        path
    };
    let decode = |video: &Path| {
        let video = video.to_str().expect("utf-8 path");
        ffmpeg_output(&["-i", video, "-f", "rawvideo", "-pix_fmt", "nv12", "-"])
    };
    let mut planes = Vec::new();
    for way in ["gpu", "cpu"] {
        let path = job(way);
        let out = run_renderer(&[path.to_str().expect("utf-8")], &[("RENDERER_NV12", way)]);
        assert!(out.status.success(), "{way}: {}", stderr(&out));
        planes.push(decode(&dir.path(&format!("{way}.mp4"))));
    }
    let frame = 200 * 112 * 3 / 2;
    assert_eq!(planes[0].len(), 10 * frame, "ten frames");
    assert_eq!(planes[0].len(), planes[1].len());
    let worst = planes[0]
        .iter()
        .zip(&planes[1])
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap_or(0);
    assert!(
        worst <= 1,
        "the CPU's NV12 differs from the GPU pass's by {worst}"
    );
    // And the picture is not flat (both ways drew the gradient and the bars).
    let y = &planes[1][..200 * 112];
    let (lo, hi) = (y.iter().min(), y.iter().max());
    assert!(
        hi.zip(lo).is_some_and(|(h, l)| h - l > 60),
        "{lo:?}..{hi:?}"
    );
}
