//! Locating and probing ffmpeg, and what every ffmpeg child process shares: the spawn error,
//! the frame-rate argument, the thread that keeps the last lines of its stderr, and waiting for
//! it with its resource usage.

use std::collections::VecDeque;
use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::MediaError;

/// The ffmpeg program: `$FFMPEG` or `ffmpeg` on the PATH.
pub fn ffmpeg_program() -> String {
    std::env::var("FFMPEG").unwrap_or_else(|_| "ffmpeg".to_owned())
}

/// The ffprobe program: `$FFPROBE` or `ffprobe` on the PATH.
pub fn ffprobe_program() -> String {
    std::env::var("FFPROBE").unwrap_or_else(|_| "ffprobe".to_owned())
}

/// What the installed ffmpeg can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FfmpegInfo {
    /// First line of `ffmpeg -version`.
    pub version: String,
    pub has_libx264: bool,
    pub has_aac: bool,
    /// The names of every encoder `ffmpeg -encoders` lists.
    pub encoders: Vec<String>,
}

impl FfmpegInfo {
    /// True when this ffmpeg has the encoder `name` (e.g. "libvpx-vp9").
    pub fn has(&self, name: &str) -> bool {
        self.encoders.iter().any(|e| e == name)
    }
}

/// Runs `ffmpeg -version` and `ffmpeg -encoders`.
pub fn probe_ffmpeg() -> Result<FfmpegInfo, MediaError> {
    let program = ffmpeg_program();
    let run = |args: &[&str]| -> Result<String, MediaError> {
        let out = Command::new(&program)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|source| spawn_error(&program, source))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let version = run(&["-hide_banner", "-version"])?
        .lines()
        .next()
        .unwrap_or("unknown")
        .to_owned();
    let listed = run(&["-hide_banner", "-encoders"])?;
    // After the legend, each line is "FLAGS NAME DESCRIPTION" with 6 flag letters.
    let encoders: Vec<String> = listed
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let flags = words.next()?;
            let name = words.next()?;
            (flags.len() == 6 && name != "=").then(|| name.to_owned())
        })
        .collect();
    let has = |name: &str| encoders.iter().any(|e| e == name);
    Ok(FfmpegInfo {
        version,
        has_libx264: has("libx264"),
        has_aac: has("aac"),
        encoders,
    })
}

pub(crate) fn spawn_error(program: &str, source: std::io::Error) -> MediaError {
    if source.kind() == std::io::ErrorKind::NotFound {
        MediaError::FfmpegMissing {
            program: program.to_owned(),
        }
    } else {
        MediaError::Spawn {
            program: program.to_owned(),
            source,
        }
    }
}

/// `30` for whole numbers, else enough decimals for ffmpeg to get the rate right.
pub(crate) fn format_fps(fps: f64) -> String {
    if fps.fract() == 0.0 {
        format!("{}", fps as u64)
    } else {
        format!("{fps:.6}")
    }
}

/// The last lines of a child's stderr, for error messages; shared with the thread that reads
/// them ([`StderrTail::spawn_reader`]).
#[derive(Debug, Clone)]
pub(crate) struct StderrTail {
    lines: Arc<Mutex<VecDeque<String>>>,
    keep: usize,
}

impl StderrTail {
    /// An empty tail that keeps the last `keep` lines.
    pub(crate) fn new(keep: usize) -> StderrTail {
        StderrTail {
            lines: Arc::new(Mutex::new(VecDeque::with_capacity(keep))),
            keep,
        }
    }

    /// Starts a thread called `thread` that reads `stderr` as it comes until it ends, splitting
    /// on '\n' and '\r' (progress lines), logging each non-empty line at debug level after
    /// `label` (`"ffmpeg: ..."`) and keeping the last ones.
    pub(crate) fn spawn_reader(
        &self,
        thread: &str,
        label: &'static str,
        stderr: impl Read + Send + 'static,
    ) -> std::io::Result<JoinHandle<()>> {
        let tail = self.clone();
        std::thread::Builder::new()
            .name(thread.to_owned())
            .spawn(move || tail.read(stderr, label))
    }

    fn read(&self, mut stderr: impl Read, label: &str) {
        let keep = |line: &mut Vec<u8>| {
            let text = String::from_utf8_lossy(line).trim().to_owned();
            line.clear();
            if text.is_empty() {
                return;
            }
            log::debug!("{label}: {text}");
            if let Ok(mut t) = self.lines.lock() {
                if t.len() == self.keep {
                    t.pop_front();
                }
                t.push_back(text);
            }
        };
        let mut buf = [0u8; 4096];
        let mut line = Vec::new();
        loop {
            let n = match stderr.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            for &b in &buf[..n] {
                if b == b'\n' || b == b'\r' {
                    keep(&mut line);
                } else {
                    line.push(b);
                }
            }
        }
        keep(&mut line);
    }

    /// The lines kept so far, joined by '\n' (empty when there are none).
    pub(crate) fn text(&self) -> String {
        self.lines
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }
}

/// What a reaped child process used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChildUsage {
    /// Peak resident set size, bytes.
    pub peak_rss: u64,
    /// User + system CPU time, seconds (including its own waited-for children).
    pub cpu_seconds: f64,
}

/// Waits for the child process `pid` and returns its exit status with its resource usage.
///
/// std's `Child::wait` does not report resource usage, so this reaps the child with `wait4`;
/// the caller must not wait on (or kill) that child afterwards.
pub fn wait_with_usage(pid: u32) -> std::io::Result<(ExitStatus, ChildUsage)> {
    use std::os::unix::process::ExitStatusExt;
    let pid = pid as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is the caller's own unreaped child; `status` and `usage` are valid,
        // writable locals that outlive the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok((
        ExitStatus::from_raw(status),
        ChildUsage {
            // ru_maxrss is in kilobytes on Linux.
            peak_rss: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
            cpu_seconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        },
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fps_is_whole_or_six_decimals() {
        assert_eq!(format_fps(30.0), "30");
        assert_eq!(format_fps(60.0), "60");
        assert_eq!(format_fps(29.97), "29.970000");
        assert_eq!(format_fps(30000.0 / 1001.0), "29.970030");
    }

    #[test]
    fn stderr_tail_keeps_the_last_lines() {
        let tail = StderrTail::new(3);
        assert_eq!(tail.text(), "");
        let stderr: &[u8] = b"one\n\n  two  \nframe=1\rframe=2\r\nlast without newline";
        let reader = tail.spawn_reader("test-stderr", "test", stderr).unwrap();
        reader.join().unwrap();
        assert_eq!(tail.text(), "frame=1\nframe=2\nlast without newline");
        // Clones share the lines (the reader thread holds one).
        assert_eq!(tail.clone().text(), tail.text());
    }
}
