//! Output formats beyond MP4, chosen by the output's extension or `[video] format`: WebM (VP9 +
//! Opus; AV1 + Opus where this ffmpeg has an AV1 encoder, else a clear error), an animated GIF
//! and an animated PNG (no sound); ffprobe reads back codec, frames and streams. NVENC and
//! segments refuse the formats they cannot write.

mod support;

use support::*;

fn job(dir: &Scratch, output: &str, extra_video: &str) -> std::path::PathBuf {
    std::fs::write(dir.path("tone.wav"), tone_wav(48_000, 2.0)).expect("write wav");
    let path = dir.path(&format!("{output}.toml"));
    std::fs::write(
        &path,
        format!(
            "audio = \"tone.wav\"\noutput = \"{output}\"\n\n[video]\nwidth = 160\nheight = 90\nfps = 10\n{extra_video}\n\n[[layer]]\nkind = \"background\"\ncolor = \"#203040\"\n\n[[layer]]\nkind = \"bars\"\ncount = 8\n"
        ),
    )
    .expect("write job");
    path
}

fn render(job: &std::path::Path) -> std::process::Output {
    run_renderer(&[job.to_str().expect("utf-8 path")], &[])
}

/// The codec of `path`'s first stream of `kind` ("v" or "a"), or None without one.
fn codec(path: &std::path::Path, kind: &str) -> Option<String> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", &format!("{kind}:0")])
        .args(["-show_entries", "stream=codec_name", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!name.is_empty()).then_some(name)
}

#[test]
fn webm_gif_and_apng_by_extension() {
    if !have_gpu("formats") || !require_ffmpeg("formats") {
        return;
    }
    let dir = Scratch::new("formats");
    for (output, video, audio) in [
        ("out.webm", "vp9", Some("opus")),
        ("out.gif", "gif", None),
        ("out.png", "apng", None),
    ] {
        let job = job(&dir, output, "");
        let out = render(&job);
        assert!(out.status.success(), "{output}: {}", stderr(&out));
        let path = dir.path(output);
        assert_eq!(codec(&path, "v").as_deref(), Some(video), "{output}");
        assert_eq!(codec(&path, "a").as_deref(), audio, "{output}");
        let p = probe(&path, "v");
        assert_eq!(p["nb_read_frames"], "20", "{output}: 2 s at 10 fps");
        assert_eq!((p["width"].as_str(), p["height"].as_str()), ("160", "90"));
    }
    // Nothing else was left in the folder (no temporary or chapter files).
    let mut left = dir.files();
    left.retain(|f| !f.ends_with(".toml") && f != "tone.wav");
    assert_eq!(left, ["out.gif", "out.png", "out.webm"]);
}

#[test]
fn av1_in_webm_or_a_clear_error() {
    if !have_gpu("av1") || !require_ffmpeg("av1") {
        return;
    }
    let dir = Scratch::new("formats-av1");
    let job = job(&dir, "out.webm", "format = \"webm-av1\"");
    let encoders = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-encoders"])
        .output()
        .expect("ffmpeg -encoders");
    let listed = String::from_utf8_lossy(&encoders.stdout);
    let has_av1 = listed.contains(" libsvtav1 ") || listed.contains(" libaom-av1 ");
    let out = render(&job);
    if has_av1 {
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(codec(&dir.path("out.webm"), "v").as_deref(), Some("av1"));
    } else {
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("AV1"), "{}", stderr(&out));
    }
}

#[test]
fn formats_refused_where_they_cannot_be_written() {
    if !have_gpu("formats refused") || !require_ffmpeg("formats refused") {
        return;
    }
    let dir = Scratch::new("formats-refused");
    // NVENC writes MP4 only: refused before any frame, whatever this machine has.
    let job_nvenc = job(&dir, "out.webm", "encoder = \"nvenc\"");
    let out = render(&job_nvenc);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("MP4 only"), "{}", stderr(&out));
    // A GIF is not split into segments.
    let job_gif = job(&dir, "out.gif", "");
    let out = run_renderer(
        &[job_gif.to_str().expect("utf-8 path"), "--segment", "0/2"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("GIF and APNG"), "{}", stderr(&out));
    assert!(!dir.path("out.gif").exists());
}

/// Where the alpha tests' patch lies in their 160x90 frames: a 40x40 picture at (20, 20),
/// its left half opaque, its right half half-transparent, both (200, 60, 30).
const PATCH: [u8; 3] = [200, 60, 30];
const OPAQUE_AT: (usize, usize) = (28, 40);
const HALF_AT: (usize, usize) = (52, 40);
const EMPTY_AT: (usize, usize) = (140, 10);

/// A job drawing only the patch, over `background` ("transparent" or "black").
fn alpha_job(
    dir: &Scratch,
    output: &str,
    background: &str,
    extra_video: &str,
) -> std::path::PathBuf {
    std::fs::write(dir.path("tone.wav"), tone_wav(48_000, 2.0)).expect("write wav");
    let patch = image::RgbaImage::from_fn(40, 40, |x, _| {
        let [r, g, b] = PATCH;
        image::Rgba([r, g, b, if x < 20 { 255 } else { 128 }])
    });
    patch.save(dir.path("patch.png")).expect("write patch");
    let path = dir.path(&format!("{output}.toml"));
    std::fs::write(
        &path,
        format!(
            "audio = \"tone.wav\"\noutput = \"{output}\"\n\n[video]\nwidth = 160\nheight = 90\n\
             fps = 10\nbackground = \"{background}\"\n{extra_video}\n\n[[layer]]\nkind = \
             \"image\"\npath = \"patch.png\"\nfit = \"stretch\"\nrect = [0.125, {y}, 0.25, {h}]\n",
            y = 20.0 / 90.0,
            h = 40.0 / 90.0,
        ),
    )
    .expect("write job");
    path
}

/// Frame 5 of `path` decoded by ffmpeg to 160x90 RGBA (VP9 through libvpx, whose decoder
/// reads WebM's alpha stream; ffmpeg's own VP9 decoder drops it). YUV is converted with the
/// BT.709 matrix the files are tagged with (ffmpeg's command line would assume BT.601; players
/// read the tags).
fn decode_rgba(path: &std::path::Path) -> Vec<u8> {
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args(["-v", "error"]);
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext == "webm" {
        cmd.args(["-c:v", "libvpx-vp9"]);
    }
    let to_rgb = if matches!(ext, "webm" | "mov") {
        ",scale=in_color_matrix=bt709:in_range=tv"
    } else {
        ""
    };
    let out = cmd
        .arg("-i")
        .arg(path)
        .args([
            "-vf",
            &format!("select=eq(n\\,5){to_rgb}"),
            "-frames:v",
            "1",
        ])
        .args(["-f", "rawvideo", "-pix_fmt", "rgba", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), 160 * 90 * 4, "{}", path.display());
    out.stdout
}

fn pixel(rgba: &[u8], (x, y): (usize, usize)) -> [u8; 4] {
    let i = (y * 160 + x) * 4;
    [rgba[i], rgba[i + 1], rgba[i + 2], rgba[i + 3]]
}

/// The patch's pixels where `tol` allows: alpha 0 where nothing is drawn, 255 on the opaque
/// half, ~128 on the other with the straight (not darkened) colour.
fn assert_patch(what: &str, rgba: &[u8], tol: u8, half_alpha: bool) {
    let near = |a: u8, b: u8, t: u8| a.abs_diff(b) <= t;
    let empty = pixel(rgba, EMPTY_AT);
    assert_eq!(
        empty[3], 0,
        "{what}: alpha where nothing is drawn: {empty:?}"
    );
    let opaque = pixel(rgba, OPAQUE_AT);
    assert!(
        opaque[3] == 255 && (0..3).all(|c| near(opaque[c], PATCH[c], tol)),
        "{what}: opaque half {opaque:?}, want {PATCH:?} at alpha 255 (+-{tol})"
    );
    if half_alpha {
        let half = pixel(rgba, HALF_AT);
        assert!(
            near(half[3], 128, tol.max(4)) && (0..3).all(|c| near(half[c], PATCH[c], tol)),
            "{what}: half-transparent half {half:?}, want {PATCH:?} at alpha ~128 (+-{tol}): \
             colour straight, not premultiplied"
        );
    }
}

#[test]
fn transparent_background_keeps_alpha_in_mov_webm_apng_gif_and_stills() {
    if !have_gpu("alpha") || !require_ffmpeg("alpha") {
        return;
    }
    let dir = Scratch::new("formats-alpha");
    // (output, video codec, audio codec, colour tolerance, half alpha kept)
    for (output, video, audio, tol, half) in [
        ("out.mov", "prores", Some("pcm_s24le"), 6, true),
        ("out.webm", "vp9", Some("opus"), 16, true),
        ("out.png", "apng", None, 3, true),
        // GIF has one transparent palette entry: pixels under half opacity.
        ("out.gif", "gif", None, 24, false),
    ] {
        let job = alpha_job(&dir, output, "transparent", "");
        let out = render(&job);
        assert!(out.status.success(), "{output}: {}", stderr(&out));
        let path = dir.path(output);
        assert_eq!(codec(&path, "v").as_deref(), Some(video), "{output}");
        assert_eq!(codec(&path, "a").as_deref(), audio, "{output}");
        assert_patch(output, &decode_rgba(&path), tol, half);
    }
    let p = probe(&dir.path("out.mov"), "v");
    assert!(
        p["pix_fmt"].starts_with("yuva444p"),
        "ProRes 4444 with alpha: {p:?}"
    );
    for (file, key) in [("out.mov", "color_space"), ("out.webm", "color_space")] {
        let p = probe(&dir.path(file), "v");
        assert_eq!(
            p.get(key).map(String::as_str),
            Some("bt709"),
            "{file}: {p:?}"
        );
    }
    // The preview still is straight RGBA from the GPU, no encoder between.
    let job = alpha_job(&dir, "out.mov", "transparent", "");
    let still = dir.path("still.png");
    let out = run_renderer(
        &[
            job.to_str().expect("utf-8 path"),
            "--preview",
            "0.5",
            "-o",
            still.to_str().expect("utf-8 path"),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let png = image::open(&still).expect("read still").to_rgba8();
    assert_patch("--preview", png.as_raw(), 2, true);
    // Over the default black background the same MOV is opaque everywhere.
    let job = alpha_job(&dir, "opaque.mov", "black", "");
    let out = render(&job);
    assert!(out.status.success(), "{}", stderr(&out));
    let rgba = decode_rgba(&dir.path("opaque.mov"));
    assert_eq!(pixel(&rgba, EMPTY_AT)[3], 255, "black background: opaque");
}

#[test]
fn transparent_background_refused_where_alpha_cannot_be_kept() {
    if !have_gpu("alpha refused") || !require_ffmpeg("alpha refused") {
        return;
    }
    let dir = Scratch::new("formats-alpha-refused");
    let job = alpha_job(&dir, "out.mp4", "transparent", "");
    let out = render(&job);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("alpha channel") && stderr(&out).contains(".mov"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path("out.mp4").exists());
    // Segments are MP4: refused before any frame.
    let job = alpha_job(&dir, "seg.webm", "transparent", "");
    let out = run_renderer(
        &[job.to_str().expect("utf-8 path"), "--segment", "0/2"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no alpha channel"),
        "{}",
        stderr(&out)
    );
    // An unknown background is a job error naming the choices.
    let job = alpha_job(&dir, "out.webm", "checkerboard", "");
    let out = render(&job);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("transparent"), "{}", stderr(&out));
}

/// The page the browser test opens: draws the video's first frame on a canvas and reports
/// the alpha at the test's three points.
const ALPHA_PAGE: &str = r#"<!doctype html><html><body>
<video id="v" src="/video.webm" muted playsinline preload="auto"></video>
<canvas id="c" width="160" height="90"></canvas>
<script>
const v = document.getElementById('v');
const report = (q) => fetch('/report?' + q).catch(() => {});
v.addEventListener('error', () => report('error=' + (v.error ? v.error.code : 'unknown')));
v.addEventListener('loadeddata', () => { v.currentTime = 0.5; });
v.addEventListener('seeked', () => {
  const c = document.getElementById('c').getContext('2d');
  c.clearRect(0, 0, 160, 90);
  c.drawImage(v, 0, 0, 160, 90);
  const at = (x, y) => c.getImageData(x, y, 1, 1).data[3];
  report('width=' + v.videoWidth + '&empty=' + at(140, 10) + '&opaque=' + at(28, 40) +
    '&half=' + at(52, 40));
});
</script></body></html>"#;

#[test]
fn transparent_webm_plays_with_alpha_in_headless_chromium() {
    if !have_gpu("alpha chromium") || !require_ffmpeg("alpha chromium") {
        return;
    }
    let Some(chromium) = test_support::browser::require_chromium("alpha chromium") else {
        return;
    };
    let dir = Scratch::new("formats-alpha-chromium");
    for (background, empty) in [("transparent", 0), ("black", 255)] {
        let output = format!("{background}.webm");
        let job = alpha_job(&dir, &output, background, "");
        let out = render(&job);
        assert!(out.status.success(), "{}", stderr(&out));
        let seen = test_support::browser::open_and_wait_for_report(
            &chromium,
            ALPHA_PAGE,
            &[("/video.webm", dir.path(&output))],
            std::time::Duration::from_secs(60),
        )
        .unwrap_or_else(|e| panic!("{background}: {e}"));
        let get = |k: &str| -> i32 {
            seen.get(k)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{background}: no {k} in the page's report {seen:?}"))
        };
        assert_eq!(get("width"), 160, "{seen:?}");
        assert_eq!(
            get("empty"),
            empty,
            "{background}: alpha where nothing is drawn {seen:?}"
        );
        assert_eq!(get("opaque"), 255, "{background}: {seen:?}");
        if background == "transparent" {
            assert!((get("half") - 128).abs() <= 12, "{seen:?}");
        }
    }
}
