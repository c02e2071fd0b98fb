//! `renderer studio`: the real server (the renderer binary) driven by a real browser (headless
//! Chromium over the DevTools Protocol), and refused requests sent by hand.
//!
//! Screenshots of the page are kept under `target/tmp/studio/` (the test prints where).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;
use test_support::browser::require_chromium;
use test_support::cdp::Page;

/// A studio process, stopped (SIGINT, as Ctrl-C) when dropped.
struct Studio {
    child: Child,
    url: String,
    port: u16,
    token: String,
}

impl Studio {
    fn start(job: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(renderer_bin())
            .arg("studio")
            .arg(job)
            .args(["--no-open", "--port", "0"])
            .args(extra)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start renderer studio");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the studio's URL line");
        let url = line
            .trim()
            .strip_prefix("studio: ")
            .unwrap_or_else(|| panic!("the first line is the URL, got {line:?}"))
            .to_owned();
        let rest = url.strip_prefix("http://127.0.0.1:").expect("on 127.0.0.1");
        let (port, token) = rest.split_once("/?token=").expect("a token in the URL");
        Self {
            port: port.parse().expect("port"),
            token: token.to_owned(),
            url: url.clone(),
            child,
        }
    }

    /// Sends a raw HTTP/1.1 request; returns the status code and body.
    fn raw(&self, request: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        s.write_all(request.as_bytes()).expect("send");
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = answer
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned();
        (status, body)
    }

    fn get(&self, target: &str, headers: &str) -> (u16, String) {
        let host = format!("127.0.0.1:{}", self.port);
        self.raw(&format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n"
        ))
    }
}

impl Drop for Studio {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid, which has not been waited for yet.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn job_text(color: &str) -> String {
    format!(
        r##"audio = "music.wav"
output = "out.mp4"

[video]
width = 320
height = 180
fps = 30
preset = "ultrafast"

[[layer]]
kind = "background"
color = "{color}"

[[layer]]
kind = "bars"
count = 16
color = "#33ccff"
"##
    )
}

fn setup(name: &str) -> (Scratch, PathBuf) {
    let dir = Scratch::new(name);
    make_audio(&dir.path("music.wav"), 3.0, 48_000, 2);
    let job = dir.path("job.toml");
    std::fs::write(&job, job_text("#102030")).expect("write job");
    (dir, job)
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("studio");
    std::fs::create_dir_all(&dir).expect("artifacts folder");
    dir
}

/// Largest difference of any channel between two RGBA images of one size.
fn max_diff(a: &[u8], b: &[u8]) -> u8 {
    assert_eq!(a.len(), b.len(), "image sizes differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0)
}

#[test]
fn studio_refuses_foreign_requests() {
    if !have_gpu("studio_refuses_foreign_requests") {
        return;
    }
    let (dir, job) = setup("studio-guard");
    std::fs::write(dir.path("notes.txt"), "hello").expect("write");
    let s = Studio::start(&job, &[]);
    let t = &s.token;
    // With the token, from the studio's own host: served.
    let (code, body) = s.get(&format!("/api/state?token={t}"), "");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"generation\":1"), "{body}");
    let (code, _) = s.get("/api/state", &format!("X-Studio-Token: {t}\r\n"));
    assert_eq!(code, 200, "the token may come as a header");
    // The timeline: a value per frame over the 3 s, and the beats of the test signal.
    let (code, body) = s.get(&format!("/api/timeline?token={t}"), "");
    assert_eq!(code, 200, "{body}");
    let timeline: serde_json::Value = serde_json::from_str(&body).expect("timeline JSON");
    assert_eq!(
        timeline["waveform"].as_array().map(Vec::len),
        Some(90),
        "{timeline}"
    );
    assert_eq!(timeline["loudness"].as_array().map(Vec::len), Some(90));
    assert!(
        timeline["waveform"].as_array().is_some_and(|w| w
            .iter()
            .all(|v| v.as_f64().is_some_and(|v| (0.05..=1.0).contains(&v)))),
        "the signal's peaks: {timeline}"
    );
    assert_eq!(timeline["end"], 3.0);
    let (code, body) = s.get(&format!("/files/notes.txt?token={t}"), "");
    assert_eq!((code, body.as_str()), (200, "hello"));
    // Refused: no token, a wrong one, a foreign Host (DNS rebinding), a foreign Origin, a path
    // out of the job's folder.
    for (target, headers, want) in [
        ("/api/state".to_owned(), String::new(), 401),
        ("/?token=0123".to_owned(), String::new(), 403),
        (
            format!("/api/state?token={t}"),
            "Origin: http://evil.example\r\n".into(),
            403,
        ),
        (
            format!("/api/state?token={t}"),
            "Origin: null\r\n".into(),
            403,
        ),
        (format!("/files/../job.toml?token={t}"), String::new(), 403),
        (
            format!("/files/%2e%2e/job.toml?token={t}"),
            String::new(),
            403,
        ),
        (
            format!("/files/..%2Fjob.toml?token={t}"),
            String::new(),
            403,
        ),
        (
            format!("/files/%2Fetc%2Fpasswd?token={t}"),
            String::new(),
            403,
        ),
    ] {
        let (code, body) = s.get(&target, &headers);
        assert_eq!(code, want, "{target} {headers:?}: {body}");
        assert!(!body.contains("root:"), "{target}");
    }
    let (code, _) = s.raw(&format!(
        "GET /api/state?token={t} HTTP/1.1\r\nHost: rebind.example:{}\r\nConnection: close\r\n\r\n",
        s.port
    ));
    assert_eq!(code, 403, "a foreign Host is refused even with the token");
    let (code, _) = s.raw(&format!(
        "POST /api/render?token={t} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nOrigin: http://evil.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        s.port
    ));
    assert_eq!(code, 403, "a cross-site POST is refused");
    assert!(!dir.path("out.mp4").exists(), "and started nothing");
}

#[test]
fn studio_in_a_browser() {
    if !have_gpu("studio_in_a_browser") || !require_ffmpeg("studio_in_a_browser") {
        return;
    }
    let Some(chromium) = require_chromium("studio_in_a_browser") else {
        return;
    };
    let (dir, job) = setup("studio-browser");
    let shots = artifacts();
    let s = Studio::start(&job, &[]);
    let mut page = Page::open(&chromium, &s.url, (1400, 900)).expect("open the page");
    let secs = Duration::from_secs;
    page.wait_for(
        "window.studio && studio.ready === true",
        secs(60),
        "the first frame",
    )
    .expect("first frame");
    // The frame at preview scale 0.5 of 320x180.
    let (w, h, _) = page.canvas_rgba("#frame").expect("read the frame");
    assert_eq!((w, h), (160, 90));
    page.screenshot(&shots.join("loaded.png"))
        .expect("screenshot");

    // Scrubbing to 1.5 s shows that frame: the same pixels `--preview 1.5 --scale 0.5` writes.
    page.eval("(() => { const r = document.getElementById('scrub'); r.value = 1.5; r.dispatchEvent(new Event('input')); })()")
        .expect("scrub");
    page.wait_for(
        "Math.abs(Number(document.getElementById('frame').dataset.time) - 1.5) < 0.001",
        secs(30),
        "the frame at 1.5 s",
    )
    .expect("scrubbed frame");
    let (_, _, shown) = page.canvas_rgba("#frame").expect("read the frame");
    let still = dir.path("still.png");
    let out = run_renderer(
        &[
            job.to_str().expect("utf-8"),
            "--preview",
            "1.5",
            "--scale",
            "0.5",
            "--output",
            still.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let reference = image::open(&still).expect("read the still").to_rgba8();
    assert_eq!(reference.dimensions(), (160, 90));
    let diff = max_diff(&shown, reference.as_raw());
    assert!(
        diff <= 1,
        "the page's frame differs from --preview by {diff}"
    );
    // And a different time shows a different picture (the bars move).
    let (_, _, at_start) = {
        page.eval("studio.seek(0.2)").expect("seek");
        page.wait_for(
            "Math.abs(Number(document.getElementById('frame').dataset.time) - 0.2) < 0.02",
            secs(30),
            "the frame at 0.2 s",
        )
        .expect("frame at 0.2");
        page.canvas_rgba("#frame").expect("read")
    };
    assert!(
        max_diff(&at_start, &shown) > 20,
        "scrubbing changed nothing"
    );

    // A broken job file shows its error with line and column within two seconds; the last
    // good frame stays.
    let generation = page.eval("studio.state.generation").expect("generation");
    let broken = job_text("#102030").replace("fps = 30", "fps = = 30");
    let saved = Instant::now();
    std::fs::write(&job, &broken).expect("break the job");
    page.wait_for(
        "!document.getElementById('error').hidden && document.getElementById('error').textContent.includes('line 7, column')",
        secs(2),
        "the error with its line and column",
    )
    .expect("error shown");
    let error_ms = saved.elapsed().as_millis();
    let text = page
        .eval("document.getElementById('error').textContent")
        .expect("error text");
    assert!(
        text.as_str().is_some_and(|t| t.contains("fps = = 30")),
        "{text}"
    );
    page.screenshot(&shots.join("error.png"))
        .expect("screenshot");
    let (_, _, kept) = page.canvas_rgba("#frame").expect("read");
    assert_eq!(kept, at_start, "the last good frame stays");

    // Fixed, with another background: the error goes and the frame is redrawn in the new colour.
    let saved = Instant::now();
    std::fs::write(&job, job_text("#a02030")).expect("fix the job");
    page.wait_for(
        &format!(
            "document.getElementById('error').hidden && Number(document.getElementById('frame').dataset.generation) > {generation}"
        ),
        secs(10),
        "the fixed job's frame",
    )
    .expect("fixed");
    let update_ms = saved.elapsed().as_millis();
    let (_, _, fixed) = page.canvas_rgba("#frame").expect("read");
    let top_left = &fixed[..4];
    assert!(
        top_left[0] > 120 && top_left[2] < 80,
        "the new red background is drawn: {top_left:?}"
    );
    eprintln!("studio: error shown {error_ms} ms after the save; fixed frame {update_ms} ms after");

    // Hiding the bars layer: its pixels go, only the background is left.
    page.eval("(() => { const c = document.querySelector('#layers input[data-index=\"1\"]'); c.click(); })()")
        .expect("toggle");
    page.wait_for(
        "(() => { const c = document.getElementById('frame'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - d[0]) > 2 || Math.abs(d[i + 2] - d[2]) > 2) return false; return true; })()",
        secs(30),
        "a frame without the bars",
    )
    .expect("bars hidden");
    page.eval("document.querySelector('#layers input[data-index=\"1\"]').click()")
        .expect("toggle back");

    // Play: frames follow the audio clock.
    page.eval("document.getElementById('play').click()")
        .expect("play");
    page.wait_for(
        "studio.playFrames >= 5",
        secs(30),
        "five frames during play",
    )
    .expect("play frames");
    let sample = page
        .eval("[document.getElementById('audio').currentTime, Number(document.getElementById('frame').dataset.time), studio.playing]")
        .expect("sample");
    let (clock, shown_time) = (
        sample[0].as_f64().expect("clock"),
        sample[1].as_f64().expect("time"),
    );
    assert!(clock > 0.1, "the audio clock advanced: {sample}");
    assert!(
        (clock - shown_time).abs() < 1.0,
        "the frame shown follows the audio clock: {sample}"
    );
    let fps = page
        .eval("document.getElementById('fps').textContent")
        .expect("fps");
    eprintln!("studio: during play {fps} ({sample})");
    page.eval("studio.pause()").expect("pause");

    // Editing in the page: Save writes the file atomically.
    let edited = job_text("#20a030");
    page.eval(&format!(
        "(() => {{ const e = document.getElementById('editor'); e.value = {}; e.dispatchEvent(new Event('input')); document.getElementById('save').click(); }})()",
        serde_json::json!(edited)
    ))
    .expect("edit and save");
    let deadline = Instant::now() + secs(10);
    while std::fs::read_to_string(&job).expect("read job") != edited {
        assert!(
            Instant::now() < deadline,
            "the page's save never reached the file"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A change on disk while the page has unsaved edits: saving warns instead of overwriting.
    page.wait_for(
        "studio.state.text.includes('#20a030')",
        secs(10),
        "the saved state",
    )
    .expect("saved state");
    page.eval("(() => { const e = document.getElementById('editor'); e.value = e.value + '\\n# page edit\\n'; e.dispatchEvent(new Event('input')); })()")
        .expect("unsaved edit");
    std::thread::sleep(Duration::from_millis(20));
    let outside = job_text("#2030a0");
    std::fs::write(&job, &outside).expect("edit on disk");
    page.wait_for(
        "!document.getElementById('conflict').hidden",
        secs(10),
        "the conflict warning",
    )
    .expect("conflict shown");
    page.eval("document.getElementById('save').click()")
        .expect("save");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        std::fs::read_to_string(&job).expect("read job"),
        outside,
        "the file changed on disk was not overwritten"
    );
    page.screenshot(&shots.join("conflict.png"))
        .expect("screenshot");
    page.eval("document.getElementById('reload-disk').click()")
        .expect("reload from disk");

    // Render: the MP4 is written, the page reports 100% and plays it.
    page.eval("document.getElementById('render').click()")
        .expect("render");
    page.wait_for(
        "document.getElementById('render-status').textContent.includes('100%')",
        secs(180),
        "the render to finish",
    )
    .expect("render done");
    page.wait_for(
        "(() => { const v = document.getElementById('output'); return !!v && v.readyState >= 1 && v.duration > 2.5; })()",
        secs(30),
        "the rendered video in the page",
    )
    .expect("video plays in the page");
    page.screenshot(&shots.join("rendered.png"))
        .expect("screenshot");
    let p = probe(&dir.path("out.mp4"), "v");
    assert_eq!(p["nb_read_frames"], "90", "3 s at 30 fps");
    eprintln!("studio: screenshots in {}", shots.display());
}

/// `renderer::Preview`, the studio's drawing: a frame reached by playing on (the frames between
/// stepped through the stateful layers, not drawn) and a frame reached by seeking (a fresh
/// stream, warmed up) are the frame `render_still` writes, spectrogram history and particles
/// included.
#[test]
fn preview_frames_equal_stills_whether_played_or_sought() {
    let Some(ctx) =
        test_support::gpu::context("preview_frames", test_support::gpu::Adapter::Cpu).cloned()
    else {
        return;
    };
    if !require_ffmpeg("preview_frames") {
        return;
    }
    let dir = Scratch::new("studio-preview");
    // A sweep with bursts: no two moments sound alike (a periodic signal would hide a skipped
    // spectrogram column behind an identical older one).
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "aevalsrc='0.4*sin(2*PI*(80+700*t)*t)*(0.3+0.7*gt(sin(2*PI*1.7*t*t),0))':s=48000:d=3",
        dir.path("music.wav").to_str().expect("utf-8"),
    ]);
    let path = dir.path("job.toml");
    std::fs::write(
        &path,
        r##"audio = "music.wav"
output = "out.mp4"

[video]
width = 192
height = 108
fps = 30

[[layer]]
kind = "spectrogram"
seconds = 1

[[layer]]
kind = "particles"
count = 400

[[layer]]
kind = "bars"
count = 12
"##,
    )
    .expect("write job");
    let job = renderer::Job::from_file(&path).expect("job");
    let still = |t: f64| {
        let png = dir.path(&format!("still-{t}.png"));
        renderer::render_still(&job, t, &png, Some(ctx.clone())).expect("still");
        image::open(&png).expect("read still").to_rgba8().into_raw()
    };
    let mut preview = renderer::Preview::new(Some(ctx.clone()));
    // Played: 0.5 s, then on to 1.5 s a frame or a few at a time.
    let first = preview.frame(&job, 1, 0.5).expect("frame at 0.5");
    assert_eq!((first.width, first.height), (192, 108));
    assert!(max_diff(&first.rgba, &still(0.5)) <= 1, "the first frame");
    for step in 1..10 {
        preview
            .frame(&job, 1, 0.5 + 0.1 * f64::from(step))
            .expect("playing");
    }
    let played = preview.frame(&job, 1, 1.5).expect("frame at 1.5");
    assert!((played.time - 1.5).abs() < 1e-3, "{}", played.time);
    let reference = still(1.5);
    let diff = max_diff(&played.rgba, &reference);
    assert!(diff <= 1, "a played frame differs from the still by {diff}");
    // Sought backwards (a new stream) and to the same time with another revision.
    let back = preview.frame(&job, 1, 0.9).expect("frame at 0.9");
    assert!(
        max_diff(&back.rgba, &still(0.9)) <= 1,
        "a frame sought backwards"
    );
    let again = preview
        .frame(&job, 2, 1.5)
        .expect("frame at 1.5, new revision");
    assert!(max_diff(&again.rgba, &reference) <= 1, "a fresh stream");
    assert!(
        max_diff(&first.rgba, &reference) > 20,
        "the frames differ over time"
    );
}

/// The `/api/state` JSON, parsed.
fn state(s: &Studio) -> serde_json::Value {
    let (code, body) = s.get(&format!("/api/state?token={}", s.token), "");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).expect("state JSON")
}

/// Polls the state until `done` holds (or panics after `timeout`, with the last state).
fn wait_state(
    s: &Studio,
    timeout: Duration,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + timeout;
    loop {
        let st = state(s);
        if done(&st) {
            return st;
        }
        assert!(Instant::now() < deadline, "{what}: still {st}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A broken custom shader (a file the job names) is watched too: its error points at the
/// shader's own line and column, and fixing the shader alone brings the job back.
#[test]
fn studio_shows_shader_errors_at_the_users_line() {
    if !have_gpu("studio_shader_errors") {
        return;
    }
    let (dir, job) = setup("studio-shader");
    let good = "fn shade(input: ShadeInput) -> vec4<f32> {\n    return vec4<f32>(input.uv, 0.5, 1.0);\n}\n";
    std::fs::write(dir.path("glow.wgsl"), good).expect("write shader");
    let text = job_text("#102030") + "\n[[layer]]\nkind = \"custom\"\nshader = \"glow.wgsl\"\n";
    std::fs::write(&job, text).expect("write job");
    let s = Studio::start(&job, &[]);
    let first = state(&s);
    assert!(first["error"].is_null(), "{first}");
    let layers = first["info"]["layers"].as_array().expect("layers").len();
    assert_eq!(layers, 3);
    // Line 2, column 32 is the unknown name `nope`.
    let broken = "fn shade(input: ShadeInput) -> vec4<f32> {\n    return vec4<f32>(input.uv, nope, 1.0);\n}\n";
    std::fs::write(dir.path("glow.wgsl"), broken).expect("break the shader");
    let st = wait_state(&s, Duration::from_secs(5), "the shader's error", |st| {
        !st["error"].is_null()
    });
    let e = &st["error"];
    assert!(
        e["file"].as_str().is_some_and(|f| f.ends_with("glow.wgsl")),
        "the error names the shader: {e}"
    );
    assert_eq!(e["line"], 2, "{e}");
    assert_eq!(e["column"], 32, "{e}");
    assert_eq!(
        e["source_line"],
        "    return vec4<f32>(input.uv, nope, 1.0);"
    );
    assert!(
        st["info"]["layers"]
            .as_array()
            .is_some_and(|l| l.len() == 3),
        "the last good job stays"
    );
    let (code, body) = s.raw(&format!(
        "POST /api/render?token={} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        s.token, s.port
    ));
    assert_eq!(
        code, 409,
        "no render of a broken job's last good version: {body}"
    );
    std::fs::write(dir.path("glow.wgsl"), good).expect("fix the shader");
    let fixed = wait_state(&s, Duration::from_secs(5), "the fixed shader", |st| {
        st["error"].is_null()
    });
    assert!(fixed["generation"].as_u64() > first["generation"].as_u64());
}

/// Render from the API, cancelled: the state says so and no output file is left.
#[test]
fn studio_render_can_be_cancelled() {
    if !have_gpu("studio_render_cancel") || !require_ffmpeg("studio_render_cancel") {
        return;
    }
    let dir = Scratch::new("studio-cancel");
    make_audio(&dir.path("music.wav"), 60.0, 48_000, 2);
    let job = dir.path("job.toml");
    std::fs::write(
        &job,
        job_text("#102030")
            .replace("320", "640")
            .replace("180", "360"),
    )
    .expect("write job");
    let s = Studio::start(&job, &[]);
    let post = |path: &str| {
        s.raw(&format!(
            "POST {path}?token={} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nOrigin: http://127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            s.token, s.port, s.port
        ))
    };
    assert_eq!(post("/api/render").0, 202);
    assert_eq!(post("/api/render").0, 409, "one render at a time");
    let running = wait_state(&s, Duration::from_secs(60), "progress", |st| {
        st["render"]["done"].as_u64().is_some_and(|d| d > 0)
    });
    assert_eq!(running["render"]["state"], "running", "{running}");
    assert_eq!(running["render"]["total"], 1800, "60 s at 30 fps");
    assert_eq!(post("/api/render/cancel").0, 202);
    let st = wait_state(&s, Duration::from_secs(30), "the cancel", |st| {
        st["render"]["state"] != "running"
    });
    assert_eq!(st["render"]["state"], "cancelled", "{st}");
    assert!(
        !dir.path("out.mp4").exists(),
        "a cancelled render leaves no file"
    );
    let (code, _) = s.get(&format!("/api/output?token={}", s.token), "");
    assert_eq!(code, 404, "and offers no output");
}
