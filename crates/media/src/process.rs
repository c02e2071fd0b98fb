//! Locating and probing ffmpeg, and waiting for a child with its resource usage.

use std::process::{Command, ExitStatus, Stdio};

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
    let encoders = run(&["-hide_banner", "-encoders"])?;
    let has = |name: &str| {
        encoders
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(name))
    };
    Ok(FfmpegInfo {
        version,
        has_libx264: has("libx264"),
        has_aac: has("aac"),
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
