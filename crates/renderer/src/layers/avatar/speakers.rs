//! Who speaks when: a diarisation file (RTTM, as pyannote and NIST tools write it, or a JSON
//! list of turns) read for an avatar layer whose `speaker` names one of its speakers. The face
//! lip-syncs during that speaker's turns and keeps its own mouth otherwise.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// One speaker's turns: (start, end) in seconds of the speech track, sorted, not overlapping.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Turns(Vec<(f64, f64)>);

impl Turns {
    /// True when a turn covers `time`.
    pub(crate) fn speaking(&self, time: f64) -> bool {
        let i = self.0.partition_point(|&(start, _)| start <= time);
        i > 0 && time < self.0[i - 1].1
    }
}

/// A turn as read, with the line (1-based) it came from.
#[derive(Debug, Clone)]
struct Turn {
    speaker: String,
    start: f64,
    end: f64,
    line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonTurn {
    start: f64,
    end: f64,
    speaker: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonFile {
    Turns(Vec<JsonTurn>),
    Wrapped { segments: Vec<JsonTurn> },
}

/// `path`'s RTTM lines: `SPEAKER <file> <channel> <start> <duration> <NA> <NA> <name> ...`;
/// blank lines and `;;` comments skipped, other record types ignored.
fn parse_rttm(text: &str) -> Result<Vec<Turn>, String> {
    let mut turns = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.first() {
            None => continue,
            Some(f) if f.starts_with(";;") => continue,
            Some(&"SPEAKER") => {}
            Some(_) => continue,
        }
        if fields.len() < 8 {
            return Err(format!(
                "line {line_no}: a SPEAKER line has at least 8 fields (SPEAKER file channel \
                 start duration <NA> <NA> name), got {}",
                fields.len()
            ));
        }
        let number = |k: usize, what: &str| -> Result<f64, String> {
            fields[k]
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| {
                    format!(
                        "line {line_no}: the {what} \"{}\" is not a number of seconds",
                        fields[k]
                    )
                })
        };
        let (start, duration) = (number(3, "start")?, number(4, "duration")?);
        turns.push(Turn {
            speaker: fields[7].to_owned(),
            start,
            end: start + duration,
            line: line_no,
        });
    }
    Ok(turns)
}

/// A JSON list of `{"start", "end", "speaker"}` (or `{"segments": [...]}`); the n-th turn
/// reports as "turn n".
fn parse_json(text: &str) -> Result<Vec<Turn>, String> {
    let file: JsonFile = serde_json::from_str(text).map_err(|e| {
        format!(
            "line {}: {e}; expected a list of {{\"start\": s, \"end\": s, \"speaker\": name}}",
            e.line()
        )
    })?;
    let list = match file {
        JsonFile::Turns(t) | JsonFile::Wrapped { segments: t } => t,
    };
    list.into_iter()
        .enumerate()
        .map(|(i, t)| {
            if !(t.start.is_finite() && t.end.is_finite() && t.start >= 0.0 && t.end >= t.start) {
                return Err(format!(
                    "turn {}: start {} and end {} must be seconds with end >= start",
                    i + 1,
                    t.start,
                    t.end
                ));
            }
            Ok(Turn {
                speaker: t.speaker,
                start: t.start,
                end: t.end,
                line: i + 1,
            })
        })
        .collect()
}

/// The turns of `speaker` in the diarisation file `path` (contents `text`). Errors name the
/// line (RTTM) or turn (JSON): a malformed entry, a speaker not in the file (listing those that
/// are), or two overlapping turns of the same speaker. Turns of different speakers may overlap
/// (both faces speak).
pub(crate) fn read(path: &Path, text: &str, speaker: &str) -> Result<Turns, String> {
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let (turns, unit) = if json {
        (parse_json(text)?, "turn")
    } else {
        (parse_rttm(text)?, "line")
    };
    let mut by_speaker: BTreeMap<&str, Vec<&Turn>> = BTreeMap::new();
    for t in &turns {
        by_speaker.entry(t.speaker.as_str()).or_default().push(t);
    }
    let Some(mine) = by_speaker.get_mut(speaker) else {
        let names: Vec<&str> = by_speaker.keys().copied().collect();
        return Err(if names.is_empty() {
            "the file holds no speaker turns".to_owned()
        } else {
            format!(
                "speaker \"{speaker}\" has no turns in it; its speakers are: {}",
                names.join(", ")
            )
        });
    };
    mine.sort_by(|a, b| a.start.total_cmp(&b.start));
    for pair in mine.windows(2) {
        if pair[1].start < pair[0].end {
            let (a, b) = (pair[0], pair[1]);
            return Err(format!(
                "{unit} {}: speaker \"{speaker}\"'s turn at {:.3} s overlaps their turn of {unit} \
                 {} ({:.3}-{:.3} s); merge or trim them",
                b.line, b.start, a.line, a.start, a.end
            ));
        }
    }
    Ok(Turns(mine.iter().map(|t| (t.start, t.end)).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RTTM: &str = "\
;; two speakers
SPEAKER talk 1 0.00 1.50 <NA> <NA> alice <NA> <NA>
SPEAKER talk 1 1.50 2.00 <NA> <NA> bob <NA> <NA>

SPEAKER talk 1 3.20 0.80 <NA> <NA> alice <NA> <NA>
";

    #[test]
    fn rttm_turns_say_who_speaks_when() {
        let alice = read(Path::new("t.rttm"), RTTM, "alice").expect("alice");
        let bob = read(Path::new("t.rttm"), RTTM, "bob").expect("bob");
        for (t, a, b) in [(0.0, true, false), (1.49, true, false), (1.5, false, true)] {
            assert_eq!((alice.speaking(t), bob.speaking(t)), (a, b), "at {t} s");
        }
        assert!(!alice.speaking(3.0) && alice.speaking(3.5) && !alice.speaking(4.0));
    }

    #[test]
    fn json_turns_in_either_shape() {
        let list = r#"[{"start": 0.5, "end": 1.0, "speaker": "A"}]"#;
        let wrapped = r#"{"segments": [{"start": 0.5, "end": 1.0, "speaker": "A"}]}"#;
        for text in [list, wrapped] {
            let a = read(Path::new("t.json"), text, "A").expect("A");
            assert!(a.speaking(0.7) && !a.speaking(1.2));
        }
    }

    #[test]
    fn errors_name_the_line_and_what_to_do() {
        let e = read(Path::new("t.rttm"), RTTM, "carol").expect_err("unknown");
        assert!(e.contains("\"carol\"") && e.contains("alice, bob"), "{e}");
        let overlap = "SPEAKER t 1 0.0 2.0 <NA> <NA> a <NA> <NA>\n\
                       SPEAKER t 1 1.0 1.0 <NA> <NA> a <NA> <NA>\n";
        let e = read(Path::new("t.rttm"), overlap, "a").expect_err("overlap");
        assert!(e.starts_with("line 2:") && e.contains("line 1"), "{e}");
        let short = "SPEAKER t 1 0.0 2.0\n";
        let e = read(Path::new("t.rttm"), short, "a").expect_err("short");
        assert!(e.starts_with("line 1:"), "{e}");
        let bad = "SPEAKER t 1 zero 2.0 <NA> <NA> a <NA> <NA>\n";
        let e = read(Path::new("t.rttm"), bad, "a").expect_err("bad number");
        assert!(e.contains("\"zero\""), "{e}");
        let e = read(Path::new("t.json"), "[{\"start\": 1}", "a").expect_err("json");
        assert!(e.starts_with("line 1:"), "{e}");
        // Different speakers may overlap: both speak.
        let both = "SPEAKER t 1 0.0 2.0 <NA> <NA> a <NA> <NA>\n\
                    SPEAKER t 1 1.0 2.0 <NA> <NA> b <NA> <NA>\n";
        assert!(read(Path::new("t.rttm"), both, "a").is_ok());
    }
}
