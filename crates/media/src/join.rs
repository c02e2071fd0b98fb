//! Joining video-only segments without re-encoding, and muxing the source audio once over the
//! whole (no per-segment AAC, so no encoder priming gaps at the seams).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{AudioInput, MediaError, ffmpeg_program, ffprobe_program, temp_path_for};

/// The MP4 `comment` tag of `path` (None when it has none).
pub fn probe_comment(path: &Path) -> Result<Option<String>, MediaError> {
    let program = ffprobe_program();
    let out = Command::new(&program)
        .args(["-v", "error", "-show_entries", "format_tags=comment", "-of"])
        .arg("default=noprint_wrappers=1:nokey=1")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => MediaError::FfprobeMissing {
                program: program.clone(),
            },
            _ => MediaError::Spawn {
                program: program.clone(),
                source: e,
            },
        })?;
    if !out.status.success() {
        return Err(MediaError::VideoProbe {
            path: path.to_owned(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok((!text.is_empty()).then_some(text))
}

/// Concatenates `segments` (H.264 MP4s with identical encoder settings, in order, each with its
/// exact duration in seconds) into `output` with `-c:v copy`, muxing `audio` encoded once as AAC
/// at `audio_kbps`. The durations are written into the concat list so each segment starts exactly
/// where the previous one ends (the containers' own durations are rounded to their timescale,
/// which would drift by a fraction of a millisecond per seam). Written to a temporary file beside
/// `output` and renamed into place on success.
pub fn join_segments(
    segments: &[(PathBuf, f64)],
    audio: Option<&AudioInput>,
    audio_kbps: u32,
    chapters: &[crate::ChapterMark],
    output: &Path,
) -> Result<(), MediaError> {
    if segments.is_empty() {
        return Err(MediaError::Config("no segments to join".into()));
    }
    let temp = temp_path_for(output);
    let list = temp.with_extension("concat.txt");
    let mut text = String::from("ffconcat version 1.0\n");
    for (seg, duration) in segments {
        let abs = std::fs::canonicalize(seg).map_err(|e| {
            MediaError::Config(format!("cannot read segment {}: {e}", seg.display()))
        })?;
        // The concat format quotes with single quotes; a quote inside is written '\''.
        let quoted = abs.to_string_lossy().replace('\'', "'\\''");
        text.push_str(&format!("file '{quoted}'\nduration {duration:.9}\n"));
    }
    std::fs::write(&list, text).map_err(|e| MediaError::OutputNotWritable {
        path: list.clone(),
        source: e,
    })?;
    let program = ffmpeg_program();
    let mut cmd = Command::new(&program);
    cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(["-f", "concat", "-safe", "0", "-i"])
        .arg(&list);
    if let Some(a) = audio {
        cmd.args([
            "-ss",
            &format!("{:.6}", a.start),
            "-t",
            &format!("{:.6}", a.duration),
        ])
        .arg("-i")
        .arg(&a.path);
    }
    let chapter_file = crate::chapters::write(&temp, chapters)?;
    if let Some(file) = &chapter_file {
        cmd.args(["-f", "ffmetadata", "-i"]).arg(file);
    }
    cmd.args(["-map", "0:v:0"]);
    if chapter_file.is_some() {
        let input = 1 + usize::from(audio.is_some());
        cmd.args(["-map_chapters", &input.to_string()]);
    }
    if let Some(a) = audio {
        cmd.args(a.filter_args());
        cmd.args([
            "-map",
            "1:a:0",
            "-c:a",
            "aac",
            "-b:a",
            &format!("{audio_kbps}k"),
        ]);
    }
    cmd.args(["-c:v", "copy", "-movflags", "+faststart", "-f", "mp4"])
        .arg(&temp)
        .stdin(Stdio::null());
    let result = cmd.output();
    let _ = std::fs::remove_file(&list);
    if let Some(file) = &chapter_file {
        let _ = std::fs::remove_file(file);
    }
    let out = result.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => MediaError::FfmpegMissing {
            program: program.clone(),
        },
        _ => MediaError::Spawn {
            program: program.clone(),
            source: e,
        },
    })?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&temp);
        return Err(MediaError::EncoderFailed {
            status: out.status.to_string(),
            hint: " while joining segments".into(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    std::fs::rename(&temp, output).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        MediaError::Rename {
            path: output.to_owned(),
            source: e,
        }
    })
}
