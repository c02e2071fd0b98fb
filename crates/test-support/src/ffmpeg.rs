//! ffmpeg presence: whether `ffmpeg` and `ffprobe` run (the programs `$FFMPEG` and `$FFPROBE`
//! name, as for the `media` crate, else the ones on `PATH`), and which encoders that ffmpeg has.

use std::process::{Command, Stdio};
use std::sync::OnceLock;

fn program(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// True when both ffmpeg and ffprobe run (asked once per process).
pub fn ffmpeg_available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| runs(&program("FFMPEG", "ffmpeg")) && runs(&program("FFPROBE", "ffprobe")))
}

/// [`ffmpeg_available`], or a visible skip of `test` (a failure under CI) when it is not.
pub fn require_ffmpeg(test: &str) -> bool {
    let ok = ffmpeg_available();
    if !ok {
        crate::skip_unless_ci(test, "ffmpeg/ffprobe not found (apt-get install ffmpeg)");
    }
    ok
}

/// True when ffmpeg runs and lists `encoder` (e.g. "libx264") in `ffmpeg -encoders`.
pub fn ffmpeg_has_encoder(encoder: &str) -> bool {
    Command::new(program("FFMPEG", "ffmpeg"))
        .args(["-hide_banner", "-encoders"])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(encoder))
        })
}
