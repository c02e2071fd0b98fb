//! Chapter marks for the MP4: written as an FFMETADATA file that ffmpeg reads as one more input
//! and maps with `-map_chapters` (MP4 chapter atoms, shown by players as chapters).

use std::path::{Path, PathBuf};

use crate::MediaError;

/// A chapter of the output, in seconds of the video.
#[derive(Debug, Clone, PartialEq)]
pub struct ChapterMark {
    pub start: f64,
    pub end: f64,
    pub title: String,
}

/// Escapes a value of an FFMETADATA file (`=`, `;`, `#`, `\` and newlines take a backslash).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '=' | ';' | '#' | '\\' | '\n') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The FFMETADATA text of `marks` (millisecond time base).
pub fn ffmetadata(marks: &[ChapterMark]) -> String {
    let mut text = String::from(";FFMETADATA1\n");
    for m in marks {
        text.push_str(&format!(
            "\n[CHAPTER]\nTIMEBASE=1/1000\nSTART={}\nEND={}\ntitle={}\n",
            (m.start * 1000.0).round() as u64,
            (m.end * 1000.0).round() as u64,
            escape(&m.title)
        ));
    }
    text
}

/// The metadata file beside a temporary output `temp`.
pub(crate) fn path_for(temp: &Path) -> PathBuf {
    temp.with_extension("chapters.txt")
}

/// Writes the metadata file for `marks` beside `temp` (none for no marks).
pub(crate) fn write(temp: &Path, marks: &[ChapterMark]) -> Result<Option<PathBuf>, MediaError> {
    if marks.is_empty() {
        return Ok(None);
    }
    let path = path_for(temp);
    std::fs::write(&path, ffmetadata(marks)).map_err(|source| MediaError::OutputNotWritable {
        path: path.clone(),
        source,
    })?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_escaped_and_times_in_milliseconds() {
        let text = ffmetadata(&[ChapterMark {
            start: 1.5,
            end: 62.25,
            title: "Q&A; part=2 #1".into(),
        }]);
        assert!(text.starts_with(";FFMETADATA1\n"));
        assert!(
            text.contains("START=1500\nEND=62250\ntitle=Q&A\\; part\\=2 \\#1\n"),
            "{text}"
        );
    }
}
