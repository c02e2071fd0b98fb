//! Cue files: SubRip (`.srt`), WebVTT (`.vtt`, with `<00:00:01.500>` karaoke timestamps as
//! word times) and Whisper-style JSON transcripts (openai-whisper and faster-whisper's
//! `segments[].words[]`, whisper.cpp's `transcription[].tokens[]`), read into one model: cues
//! with a start, an end, their text and, where the file has them, word times.
//!
//! The format follows the file's extension, else its content (`WEBVTT` first, `{`/`[` first,
//! else SubRip). Errors name the line (and for JSON the column) where the file stops making
//! sense, and say what was expected. Markup (`<i>`, `<font ...>`, `{\an8}`, `<c.x>`, `<v Name>`)
//! is dropped; entities `&amp;` `&lt;` `&gt;` `&nbsp;` `&quot;` decoded.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;

/// A spoken word: its times and its characters in the cue's text.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub start: f64,
    pub end: f64,
    /// Character (not byte) indices into [`Cue::text`].
    pub chars: Range<usize>,
}

/// One caption: shown from `start` to `end` (seconds on the audio's clock).
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    /// The text; `'\n'` where the file breaks the line.
    pub text: String,
    /// Word times, in order; empty where the file has none.
    pub words: Vec<Word>,
}

/// The most cues a file may hold (a day of speech in 2-second cues), against absurd files.
const MAX_CUES: usize = 50_000;

/// Reads the cues of `text` (the contents of `path`), sorted by start.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Cue>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let first = text.trim_start();
    let mut cues = match ext.as_deref() {
        Some("srt") => parse_srt(text)?,
        Some("vtt") => parse_vtt(text)?,
        Some("json") => parse_json(text)?,
        _ if first.starts_with("WEBVTT") => parse_vtt(text)?,
        _ if first.starts_with('{') || first.starts_with('[') => parse_json(text)?,
        _ => parse_srt(text)?,
    };
    if cues.len() > MAX_CUES {
        return Err(format!(
            "{} cues; at most {MAX_CUES} are read (split the file)",
            cues.len()
        ));
    }
    cues.retain(|c| !c.text.trim().is_empty());
    cues.sort_by(|a, b| a.start.total_cmp(&b.start));
    Ok(cues)
}

/// A time `[HH:]MM:SS[,.]mmm` in seconds.
fn parse_time(s: &str) -> Option<f64> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (h.parse::<u64>().ok()?, m.parse::<u64>().ok()?, *s),
        [m, s] => (0, m.parse::<u64>().ok()?, *s),
        _ => return None,
    };
    let sec = sec.replace(',', ".");
    let (whole, frac) = sec.split_once('.').unwrap_or((&sec, "0"));
    if m >= 60 || whole.len() != 2 || frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    if whole >= 60 {
        return None;
    }
    let frac: f64 = format!("0.{frac}").parse().ok()?;
    Some((h * 3600 + m * 60 + whole) as f64 + frac)
}

/// `start --> end [settings]`: the two times, or None when the line is not a time line.
fn parse_timing(line: &str) -> Option<Result<(f64, f64), String>> {
    let (a, b) = line.split_once("-->")?;
    let b = b.split_whitespace().next().unwrap_or("");
    let times = match (parse_time(a), parse_time(b)) {
        (Some(start), Some(end)) if end >= start => Ok((start, end)),
        (Some(start), Some(end)) => Err(format!(
            "the cue ends ({end:.3} s) before it starts ({start:.3} s)"
        )),
        _ => Err(format!(
            "\"{}\" is not a time line: write 00:01:02,500 --> 00:01:04,000",
            line.trim()
        )),
    };
    Some(times)
}

/// The blocks of a cue file: runs of non-blank lines, each with its first line's number.
fn blocks(text: &str) -> Vec<(usize, Vec<&str>)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, Vec<&str>)> = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            if let Some(b) = current.take() {
                out.push(b);
            }
        } else {
            current
                .get_or_insert_with(|| (i + 1, Vec::new()))
                .1
                .push(line);
        }
    }
    out.extend(current);
    out
}

fn parse_srt(text: &str) -> Result<Vec<Cue>, String> {
    let mut cues = Vec::new();
    for (line_no, lines) in blocks(text) {
        let mut at = 0;
        // The cue number (optional in practice).
        if lines.len() > 1 && !lines[0].contains("-->") {
            at = 1;
        }
        let timing = parse_timing(lines[at]).unwrap_or_else(|| {
            Err(format!(
                "expected a time line such as 00:00:01,000 --> 00:00:03,500, got \"{}\"",
                clip(lines[at])
            ))
        });
        let (start, end) = timing.map_err(|e| format!("line {}: {e}", line_no + at))?;
        let body: Vec<String> = lines[at + 1..].iter().map(|l| strip_markup(l)).collect();
        cues.push(Cue {
            start,
            end,
            text: body.join("\n").trim().to_owned(),
            words: Vec::new(),
        });
    }
    Ok(cues)
}

fn parse_vtt(text: &str) -> Result<Vec<Cue>, String> {
    let mut all = blocks(text).into_iter();
    match all.next() {
        Some((_, lines)) if lines[0].starts_with("WEBVTT") => {}
        _ => return Err("line 1: a WebVTT file starts with \"WEBVTT\"".into()),
    }
    let mut cues = Vec::new();
    for (line_no, lines) in all {
        let head = lines[0].trim_start();
        if head.starts_with("NOTE") || head.starts_with("STYLE") || head.starts_with("REGION") {
            continue;
        }
        // An optional cue identifier before the time line.
        let at = usize::from(!lines[0].contains("-->") && lines.len() > 1);
        let timing = parse_timing(lines[at]).unwrap_or_else(|| {
            Err(format!(
                "expected a time line such as 00:01.000 --> 00:03.500, got \"{}\"",
                clip(lines[at])
            ))
        });
        let (start, end) = timing.map_err(|e| format!("line {}: {e}", line_no + at))?;
        let raw = lines[at + 1..].join("\n");
        cues.push(vtt_cue(start, end, &raw));
    }
    Ok(cues)
}

/// A WebVTT cue's text, with word times from its inline `<mm:ss.mmm>` timestamps (each marks
/// the start of the text after it).
fn vtt_cue(start: f64, end: f64, raw: &str) -> Cue {
    // Split at inline timestamps: (time the piece starts, piece).
    let mut pieces: Vec<(f64, String)> = vec![(start, String::new())];
    let mut rest = raw;
    let mut timed = false;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let tag = &rest[open + 1..open + close];
        let last = pieces.len() - 1;
        pieces[last].1.push_str(&rest[..open]);
        match parse_time(tag) {
            Some(t) => {
                timed = true;
                pieces.push((t.clamp(start, end), String::new()));
            }
            // Other tags are markup: kept for strip_markup to drop.
            None => pieces[last].1.push_str(&rest[open..=open + close]),
        }
        rest = &rest[open + close + 1..];
    }
    let last = pieces.len() - 1;
    pieces[last].1.push_str(rest);
    if !timed {
        return Cue {
            start,
            end,
            text: strip_markup(raw).trim().to_owned(),
            words: Vec::new(),
        };
    }
    // The words of a piece share its times: from its timestamp to the next one (or the end).
    let mut words: Vec<(f64, f64, String)> = Vec::new();
    for (i, (t, piece)) in pieces.iter().enumerate() {
        let until = pieces.get(i + 1).map_or(end, |p| p.0);
        for w in strip_markup(piece).split_whitespace() {
            words.push((*t, until, w.to_owned()));
        }
    }
    let spans: Vec<(f64, f64, &str)> = words.iter().map(|(s, e, w)| (*s, *e, w.as_str())).collect();
    join_words(start, end, &spans)
}

/// A cue whose text is `words` joined by single spaces, each with its times.
fn join_words(start: f64, end: f64, words: &[(f64, f64, &str)]) -> Cue {
    let mut text = String::new();
    let mut out = Vec::new();
    let mut chars = 0;
    for &(s, e, w) in words {
        let w = w.trim();
        if w.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push(' ');
            chars += 1;
        }
        let n = w.chars().count();
        text.push_str(w);
        out.push(Word {
            start: s,
            end: e.max(s),
            chars: chars..chars + n,
        });
        chars += n;
    }
    Cue {
        start,
        end,
        text,
        words: out,
    }
}

/// openai-whisper / faster-whisper: `{"segments": [...]}` or a bare list of segments.
#[derive(Deserialize)]
struct WhisperDoc {
    segments: Vec<WhisperSegment>,
}

#[derive(Deserialize)]
struct WhisperSegment {
    start: f64,
    end: f64,
    #[serde(default)]
    text: String,
    #[serde(default)]
    words: Vec<WhisperWord>,
}

#[derive(Deserialize)]
struct WhisperWord {
    word: String,
    start: f64,
    end: f64,
}

/// whisper.cpp (`-oj`, `-ojf`): `{"transcription": [...]}` with offsets in milliseconds.
#[derive(Deserialize)]
struct CppDoc {
    transcription: Vec<CppSegment>,
}

#[derive(Deserialize)]
struct CppSegment {
    offsets: CppOffsets,
    text: String,
    #[serde(default)]
    tokens: Vec<CppToken>,
}

#[derive(Deserialize)]
struct CppOffsets {
    from: f64,
    to: f64,
}

#[derive(Deserialize)]
struct CppToken {
    text: String,
    offsets: CppOffsets,
}

fn json_error(e: serde_json::Error) -> String {
    format!(
        "line {}, column {}: {e} (expected a Whisper transcript: {{\"segments\": [{{\"start\", \
         \"end\", \"text\", \"words\": [{{\"word\", \"start\", \"end\"}}]}}]}}, or whisper.cpp's \
         {{\"transcription\": [...]}})",
        e.line(),
        e.column()
    )
}

fn parse_json(text: &str) -> Result<Vec<Cue>, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(json_error)?;
    let is_cpp = value.get("transcription").is_some();
    let check = |x: f64, what: &str| {
        if x.is_finite() && x >= 0.0 {
            Ok(x)
        } else {
            Err(format!("a {what} of {x} seconds is not a time"))
        }
    };
    let mut cues = Vec::new();
    if is_cpp {
        let doc: CppDoc = serde_json::from_str(text).map_err(json_error)?;
        for (i, seg) in doc.transcription.iter().enumerate() {
            let start = check(seg.offsets.from / 1000.0, "start")
                .map_err(|e| format!("transcription[{i}]: {e}"))?;
            let end = check(seg.offsets.to / 1000.0, "end")
                .map_err(|e| format!("transcription[{i}]: {e}"))?
                .max(start);
            // Tokens: a leading space starts a word; "[_BEG_]"-style tokens are not text.
            let mut words: Vec<(f64, f64, String)> = Vec::new();
            for t in seg.tokens.iter().filter(|t| !t.text.starts_with("[_")) {
                let (s, e) = (t.offsets.from / 1000.0, t.offsets.to / 1000.0);
                match words.last_mut() {
                    Some(w) if !t.text.starts_with(' ') => {
                        w.2.push_str(&t.text);
                        w.1 = e;
                    }
                    _ => words.push((s, e, t.text.clone())),
                }
            }
            if words.is_empty() {
                cues.push(Cue {
                    start,
                    end,
                    text: seg.text.trim().to_owned(),
                    words: Vec::new(),
                });
            } else {
                let spans: Vec<(f64, f64, &str)> =
                    words.iter().map(|(s, e, w)| (*s, *e, w.as_str())).collect();
                cues.push(join_words(start, end, &spans));
            }
        }
        return Ok(cues);
    }
    let doc: WhisperDoc = if value.is_array() {
        WhisperDoc {
            segments: serde_json::from_str(text).map_err(json_error)?,
        }
    } else {
        serde_json::from_str(text).map_err(json_error)?
    };
    for (i, seg) in doc.segments.iter().enumerate() {
        let start = check(seg.start, "start").map_err(|e| format!("segments[{i}]: {e}"))?;
        let end = check(seg.end, "end")
            .map_err(|e| format!("segments[{i}]: {e}"))?
            .max(start);
        if seg.words.is_empty() {
            cues.push(Cue {
                start,
                end,
                text: seg.text.trim().to_owned(),
                words: Vec::new(),
            });
            continue;
        }
        let mut spans = Vec::with_capacity(seg.words.len());
        for (k, w) in seg.words.iter().enumerate() {
            let s = check(w.start, "word start")
                .map_err(|e| format!("segments[{i}].words[{k}]: {e}"))?;
            let e =
                check(w.end, "word end").map_err(|e| format!("segments[{i}].words[{k}]: {e}"))?;
            spans.push((s, e, w.word.as_str()));
        }
        cues.push(join_words(start, end, &spans));
    }
    Ok(cues)
}

/// Drops markup (`<...>` tags, `{\...}` override blocks) and decodes the common entities.
fn strip_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let next = rest.find(['<', '{']);
        let Some(i) = next else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..i]);
        let (open, close) = if rest[i..].starts_with('<') {
            ('<', '>')
        } else {
            ('{', '}')
        };
        // `{` that does not start an override (`{\`) is text.
        if open == '{' && !rest[i + 1..].starts_with('\\') {
            out.push('{');
            rest = &rest[i + 1..];
            continue;
        }
        match rest[i..].find(close) {
            Some(j) => rest = &rest[i + j + 1..],
            None => {
                out.push_str(&rest[i..]);
                break;
            }
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// A line shortened for a message.
fn clip(s: &str) -> String {
    let mut t: String = s.chars().take(60).collect();
    if s.chars().count() > 60 {
        t.push('…');
    }
    t
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
