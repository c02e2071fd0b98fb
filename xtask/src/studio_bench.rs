//! The studio's figures for `cargo xtask bench`: `renderer studio` on a copy of the demo job
//! (1920x1080), driven over HTTP as the page drives it.
//!
//! - save -> frame: the job file is rewritten (another background colour) and the time runs until
//!   the reloaded job's frame (preview scale 0.5) has arrived;
//! - playback: successive frames requested one after another as fast as they arrive (the page
//!   asks for the frame at the audio clock; this is the rate it can be served), at scale 0.5
//!   and 1;
//! - memory: the studio's peak RSS idle (after its first frame) and during playback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// What the studio measured.
#[derive(Debug, Clone)]
pub struct StudioFigures {
    /// Save -> frame, ms: median, min, max over the saves.
    pub save_ms: (f64, f64, f64),
    pub saves: usize,
    /// A seek (a frame far from the last one: a new stream), ms, median.
    pub seek_ms: f64,
    /// Frames per second delivered during playback at scale 0.5 and at full size.
    pub play_fps_half: f64,
    pub play_fps_full: f64,
    /// Peak RSS, bytes: idle after the first frame, and over playback.
    pub rss_idle: u64,
    pub rss_play: u64,
}

struct Server {
    child: Child,
    port: u16,
    token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid, not yet waited for.
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

impl Server {
    /// GET `target` with the token; the status and body.
    fn get(&self, target: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(120)))?;
        write!(
            s,
            "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Studio-Token: {}\r\nConnection: close\r\n\r\n",
            self.port, self.token
        )?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer)?;
        let head_end = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .context("no HTTP header in the studio's answer")?;
        let status = String::from_utf8_lossy(&answer[..head_end])
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Ok((status, answer[head_end + 4..].to_vec()))
    }

    fn frame(&self, t: f64, scale: f64) -> anyhow::Result<()> {
        let (status, body) = self.get(&format!("/api/frame?t={t:.4}&scale={scale}"))?;
        if status != 200 {
            bail!(
                "frame at {t} s: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(())
    }

    fn generation(&self) -> anyhow::Result<u64> {
        let (_, body) = self.get("/api/state")?;
        let text = String::from_utf8_lossy(&body);
        text.split("\"generation\":")
            .nth(1)
            .and_then(|r| {
                r.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|n| n.parse().ok())
            })
            .context("no generation in /api/state")
    }
}

/// `cargo xtask bench-studio`: a release build, then [`measure`], printed.
pub fn run(root: &Path) -> anyhow::Result<()> {
    let status = crate::cargo(&["build", "--release", "--quiet", "-p", "renderer"]).status()?;
    anyhow::ensure!(status.success(), "cargo build --release -p renderer failed");
    let work = root.join("bench/out");
    let f = measure(
        &root.join("target/release/renderer"),
        &root.join("assets"),
        &work,
    )?;
    println!(
        "save -> frame {:.0} ms median [{:.0}-{:.0}] over {} saves; seek {:.0} ms; playback {:.1} \
         frames/s at scale 0.5, {:.1} at full size; peak RSS {:.0} MB idle, {:.0} MB during playback",
        f.save_ms.0,
        f.save_ms.1,
        f.save_ms.2,
        f.saves,
        f.seek_ms,
        f.play_fps_half,
        f.play_fps_full,
        f.rss_idle as f64 / 1e6,
        f.rss_play as f64 / 1e6
    );
    Ok(())
}

/// Runs the studio on a copy of `demo` (with its audio) in `work`.
pub fn measure(bin: &Path, demo_dir: &Path, work: &Path) -> anyhow::Result<StudioFigures> {
    let dir = work.join("studio");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let text = std::fs::read_to_string(demo_dir.join("demo.toml"))?;
    std::fs::copy(demo_dir.join("demo.flac"), dir.join("demo.flac"))?;
    let job = dir.join("demo.toml");
    std::fs::write(&job, &text)?;
    let mut child = Command::new(bin)
        .arg("studio")
        .arg(&job)
        .args(["--no-open", "--port", "0"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("start renderer studio")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let url = line.trim().strip_prefix("studio: ").map(str::to_owned);
    let server_of = |url: &str| -> Option<(u16, String)> {
        let rest = url.strip_prefix("http://127.0.0.1:")?;
        let (port, token) = rest.split_once("/?token=")?;
        Some((port.parse().ok()?, token.to_owned()))
    };
    let Some((port, token)) = url.as_deref().and_then(server_of) else {
        let _ = child.kill();
        bail!("renderer studio printed {line:?}, not its URL");
    };
    let server = Server { child, port, token };
    let pid = server.child.id();

    server.frame(4.0, 0.5)?;
    std::thread::sleep(Duration::from_millis(300));
    let rss_idle = crate::bench::tree_rss(pid).0;

    // Seeks: frames far apart (each a new stream).
    let mut seeks = Vec::new();
    for t in [7.0, 1.0, 5.5, 2.5, 8.0, 3.0] {
        let started = Instant::now();
        server.frame(t, 0.5)?;
        seeks.push(started.elapsed().as_secs_f64() * 1e3);
    }

    // Save -> frame.
    let mut saves = Vec::new();
    for i in 0..10u32 {
        let before = server.generation()?;
        let edited = text.replacen(
            "color = \"#",
            &format!("color = \"#{:02x}{:02x}", 0x20 + i * 8, 0x10 + i * 4),
            1,
        );
        // Keep a valid 6-digit colour: the inserted digits replace the first four.
        let edited = fix_colour(&edited);
        let started = Instant::now();
        let tmp = dir.join(".demo.toml.tmp");
        std::fs::write(&tmp, edited)?;
        std::fs::rename(&tmp, &job)?;
        let deadline = started + Duration::from_secs(10);
        while server.generation()? == before {
            if Instant::now() > deadline {
                bail!("the studio did not reload the job within 10 s of a save");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        server.frame(4.0, 0.5)?;
        saves.push(started.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(150));
    }

    // Playback, with memory sampled alongside.
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(
                    crate::bench::tree_rss(pid).0,
                    std::sync::atomic::Ordering::Relaxed,
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    // Successive frames (1/30 s apart, as the demo's grid) asked for as fast as they come: the
    // rate playback can deliver (the page shows at most the job's frame rate of them).
    let play = |scale: f64, seconds: f64| -> anyhow::Result<f64> {
        let started = Instant::now();
        let mut frames = 0u32;
        while started.elapsed().as_secs_f64() < seconds {
            server.frame(1.0 + f64::from(frames) / 30.0, scale)?;
            frames += 1;
        }
        Ok(f64::from(frames) / started.elapsed().as_secs_f64())
    };
    let play_fps_half = play(0.5, 6.0);
    let play_fps_full = play(1.0, 4.0);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = sampler.join();
    Ok(StudioFigures {
        save_ms: crate::bench::stat(saves.clone()),
        saves: saves.len(),
        seek_ms: crate::bench::median(seeks),
        play_fps_half: play_fps_half?,
        play_fps_full: play_fps_full?,
        rss_idle,
        rss_play: peak.load(std::sync::atomic::Ordering::Relaxed),
    })
}

/// `#RRGGxxxxxx` after the insertion -> `#RRGGxx` (six hex digits, the rest of the line kept).
fn fix_colour(text: &str) -> String {
    let Some(at) = text.find("color = \"#") else {
        return text.to_owned();
    };
    let digits = at + "color = \"#".len();
    let end = text[digits..].find('"').map_or(text.len(), |e| digits + e);
    format!("{}{}", &text[..digits + 6], &text[end..])
}
