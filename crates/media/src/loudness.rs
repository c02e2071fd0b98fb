//! Measuring what an audio filter chain does to loudness, with ffmpeg's own `ebur128` filter
//! (EBU R128, true peak on): the check a normaliser runs before it commits to a gain.

use std::process::{Command, Stdio};

use crate::process::{ffmpeg_program, spawn_error};
use crate::{AudioInput, MediaError};

/// Integrated loudness (LUFS) and true peak (dBTP) of `audio`'s section through its filter.
pub fn filtered_loudness(audio: &AudioInput) -> Result<(f64, f64), MediaError> {
    let program = ffmpeg_program();
    let chain = match &audio.filter {
        Some(f) => format!("{f},ebur128=peak=true"),
        None => "ebur128=peak=true".into(),
    };
    let out = Command::new(&program)
        .args(["-hide_banner", "-nostdin", "-nostats", "-ss"])
        .arg(format!("{:.6}", audio.start))
        .arg("-t")
        .arg(format!("{:.6}", audio.duration))
        .arg("-i")
        .arg(&audio.path)
        .args(["-map", "0:a:0", "-af", &chain, "-f", "null", "-"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(&program, e))?;
    let text = String::from_utf8_lossy(&out.stderr);
    let failed = || MediaError::EncoderFailed {
        status: out.status.to_string(),
        hint: ": measuring the audio's loudness failed".into(),
        stderr: text.lines().rev().take(8).collect::<Vec<_>>().join("\n"),
    };
    if !out.status.success() {
        return Err(failed());
    }
    let summary = &text[text.rfind("Summary:").ok_or_else(failed)?..];
    let value = |label: &str| -> Option<f64> {
        let at = summary.find(label)? + label.len();
        let word = summary[at..].split_whitespace().next()?;
        match word {
            "-inf" => Some(f64::NEG_INFINITY),
            w => w.parse().ok(),
        }
    };
    match (value("I:"), value("Peak:")) {
        (Some(i), Some(tp)) => Ok((i, tp)),
        _ => Err(failed()),
    }
}
