//! Chapters: `[[chapter]]` tables (`start` in seconds of the audio, `title`) or a `chapters`
//! file of YouTube-style lines (`0:00 Intro`, `1:02:03 Outro`; `#` comments). They are
//! written into the MP4 as chapter metadata (relative to the video's start, cut to the rendered
//! range) and shown by text layers as `{chapter}`.

use serde::Deserialize;

/// One chapter: where it starts, in seconds of the audio, and its title.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chapter {
    pub start: f64,
    pub title: String,
}

/// The most chapters a job may have.
const MAX_CHAPTERS: usize = 1000;

/// Checks a chapter list (start finite and >= 0, a title of at most 200 characters, no two
/// chapters at the same time) and sorts it by start.
pub fn check(chapters: &mut [Chapter]) -> Result<(), String> {
    if chapters.len() > MAX_CHAPTERS {
        return Err(format!(
            "{} chapters; at most {MAX_CHAPTERS}",
            chapters.len()
        ));
    }
    for c in chapters.iter() {
        if !(c.start.is_finite() && c.start >= 0.0) {
            return Err(format!(
                "chapter \"{}\": start must be seconds >= 0, got {}",
                c.title, c.start
            ));
        }
        if c.title.trim().is_empty() || c.title.chars().count() > 200 {
            return Err(format!(
                "chapter at {} s: the title must have 1 to 200 characters",
                c.start
            ));
        }
    }
    chapters.sort_by(|a, b| a.start.total_cmp(&b.start));
    if let Some(w) = chapters.windows(2).find(|w| w[0].start == w[1].start) {
        return Err(format!(
            "chapters \"{}\" and \"{}\" both start at {} s",
            w[0].title, w[1].title, w[0].start
        ));
    }
    Ok(())
}

/// `[HH:]MM:SS[.fff]` in seconds.
fn timestamp(s: &str) -> Option<f64> {
    let parts: Vec<&str> = s.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (h.parse::<u64>().ok()?, m.parse::<u64>().ok()?, *s),
        [m, s] => (0, m.parse::<u64>().ok()?, *s),
        _ => return None,
    };
    let sec: f64 = sec.parse().ok()?;
    (sec.is_finite() && (0.0..60.0).contains(&sec) && (parts.len() == 2 || m < 60))
        .then(|| (h * 3600 + m * 60) as f64 + sec)
}

/// Reads a chapters file: one `TIME TITLE` per line (`0:00 Intro`), blank lines and `#`
/// comments skipped. Errors name the line.
pub fn parse_file(text: &str) -> Result<Vec<Chapter>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (time, title) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let start = timestamp(time).ok_or_else(|| {
            format!(
                "line {}: \"{time}\" is not a time; write lines such as \"0:00 Intro\" or \
                 \"1:02:03 Outro\"",
                i + 1
            )
        })?;
        let title = title.trim_start_matches(['-', '–', '—', ' ']).trim();
        if title.is_empty() {
            return Err(format!(
                "line {}: the chapter at {time} has no title",
                i + 1
            ));
        }
        out.push(Chapter {
            start,
            title: title.to_owned(),
        });
    }
    check(&mut out).map_err(|e| format!("{e} (in the chapters file)"))?;
    Ok(out)
}

/// The chapter playing at `t` seconds of the audio (the last that started), if any.
pub fn at(chapters: &[Chapter], t: f64) -> Option<&Chapter> {
    let started = chapters.partition_point(|c| c.start <= t);
    started.checked_sub(1).map(|i| &chapters[i])
}

/// The chapters within a render of `duration` seconds from `start` (seconds of the audio), as
/// (start, end, title) in seconds of the video: the chapter playing at `start` begins at 0.
pub fn spans(chapters: &[Chapter], start: f64, duration: f64) -> Vec<(f64, f64, String)> {
    let end = start + duration;
    let mut out: Vec<(f64, f64, String)> = Vec::new();
    for (i, c) in chapters.iter().enumerate() {
        let next = chapters.get(i + 1).map_or(end, |n| n.start.min(end));
        if next <= start || c.start >= end {
            continue;
        }
        out.push((c.start.max(start) - start, next - start, c.title.clone()));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ch(start: f64, title: &str) -> Chapter {
        Chapter {
            start,
            title: title.into(),
        }
    }

    #[test]
    fn a_chapters_file_reads_youtube_style_lines() {
        let text = "# show notes\n0:00 Intro\n\n1:30 - The interview\n1:02:03.5 Outro\n";
        let c = parse_file(text).unwrap();
        assert_eq!(
            c,
            [
                ch(0.0, "Intro"),
                ch(90.0, "The interview"),
                ch(3723.5, "Outro")
            ]
        );
        let e = parse_file("0:00 Intro\n1:7x Bad\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        let e = parse_file("0:00 Intro\n2:00\n").unwrap_err();
        assert!(e.starts_with("line 2:") && e.contains("no title"), "{e}");
        let e = parse_file("0:00 A\n0:00 B\n").unwrap_err();
        assert!(e.contains("both start at 0"), "{e}");
        assert!(parse_file("1:75 Too many seconds\n").is_err());
    }

    #[test]
    fn the_chapter_playing_and_the_spans_of_a_section() {
        let c = [ch(0.0, "A"), ch(10.0, "B"), ch(20.0, "C")];
        assert_eq!(at(&c, 9.99).unwrap().title, "A");
        assert_eq!(at(&c, 10.0).unwrap().title, "B");
        assert!(at(&[ch(5.0, "late")], 1.0).is_none());
        // A render of 12 s from 5 s: A from 0 to 5, B from 5 to 12; C is not in it.
        assert_eq!(
            spans(&c, 5.0, 12.0),
            [(0.0, 5.0, "A".into()), (5.0, 12.0, "B".into())]
        );
    }

    #[test]
    fn bad_chapters_are_refused() {
        assert!(check(&mut [ch(-1.0, "x")]).is_err());
        assert!(check(&mut [ch(1.0, " ")]).is_err());
        let mut unsorted = [ch(5.0, "b"), ch(1.0, "a")];
        check(&mut unsorted).unwrap();
        assert_eq!(unsorted[0].title, "a");
    }
}
