//! Unit tests of the cue readers: each format, word times, markup, and the errors' lines.

use super::*;

fn srt(text: &str) -> Result<Vec<Cue>, String> {
    parse(Path::new("talk.srt"), text)
}

fn word_texts(cue: &Cue) -> Vec<String> {
    let chars: Vec<char> = cue.text.chars().collect();
    cue.words
        .iter()
        .map(|w| chars[w.chars.clone()].iter().collect())
        .collect()
}

#[test]
fn subrip_cues_with_numbers_crlf_bom_and_markup() {
    let text = "\u{feff}1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i> there,\r\n{\\an8}general &amp; co\r\n\r\n2\r\n00:00:03,250 --> 00:01:04,000 X1:10\r\nsecond\r\n";
    let cues = srt(text).unwrap();
    assert_eq!(cues.len(), 2);
    assert_eq!((cues[0].start, cues[0].end), (1.0, 2.5));
    assert_eq!(cues[0].text, "Hello there,\ngeneral & co");
    assert!(cues[0].words.is_empty());
    assert_eq!((cues[1].start, cues[1].end), (3.25, 64.0));
    assert_eq!(cues[1].text, "second");
}

#[test]
fn subrip_errors_name_the_line() {
    let bad_time =
        "1\n00:00:01,000 --> 00:00:02,500\nok\n\n2\n00:00:0x,000 --> 00:00:04,000\nbad\n";
    let e = srt(bad_time).unwrap_err();
    assert!(e.starts_with("line 6:"), "{e}");
    assert!(e.contains("00:00:0x,000"), "{e}");

    let backwards = "1\n00:00:05,000 --> 00:00:04,000\nbackwards\n";
    let e = srt(backwards).unwrap_err();
    assert!(
        e.starts_with("line 2:") && e.contains("before it starts"),
        "{e}"
    );

    let no_time = "1\nno time here\ntext\n";
    let e = srt(no_time).unwrap_err();
    assert!(e.starts_with("line 2:") && e.contains("time line"), "{e}");

    let minutes = "00:61:00,000 --> 00:62:00,000\nsixty-one minutes\n";
    assert!(srt(minutes).unwrap_err().starts_with("line 1:"));
}

#[test]
fn webvtt_skips_notes_reads_ids_settings_and_karaoke_timestamps() {
    let text = "WEBVTT - a talk\n\nNOTE written by hand\n\nintro\n00:01.000 --> 00:04.000 align:start\n<v Ann>Hello <00:01.500>big <00:02.000><c.hi>wide</c> <00:03.000>world\n\n00:05.000 --> 00:06.000\nplain &lt;cue&gt;\n";
    let cues = parse(Path::new("t.vtt"), text).unwrap();
    assert_eq!(cues.len(), 2);
    let c = &cues[0];
    assert_eq!((c.start, c.end), (1.0, 4.0));
    assert_eq!(c.text, "Hello big wide world");
    assert_eq!(word_texts(c), ["Hello", "big", "wide", "world"]);
    let times: Vec<(f64, f64)> = c.words.iter().map(|w| (w.start, w.end)).collect();
    assert_eq!(times, [(1.0, 1.5), (1.5, 2.0), (2.0, 3.0), (3.0, 4.0)]);
    assert_eq!(cues[1].text, "plain <cue>");
    assert!(cues[1].words.is_empty());
}

#[test]
fn webvtt_needs_its_header() {
    let e = parse(Path::new("t.vtt"), "00:01.000 --> 00:02.000\nhi\n").unwrap_err();
    assert!(e.starts_with("line 1:") && e.contains("WEBVTT"), "{e}");
}

#[test]
fn whisper_json_words_become_word_times() {
    let text = r#"{"text": " Hi there. Bye.", "segments": [
        {"id": 0, "start": 0.5, "end": 2.0, "text": " Hi there.",
         "words": [{"word": " Hi", "start": 0.5, "end": 0.9, "probability": 0.9},
                   {"word": " there.", "start": 1.0, "end": 1.8}]},
        {"id": 1, "start": 2.5, "end": 3.0, "text": " Bye."}]}"#;
    let cues = parse(Path::new("t.json"), text).unwrap();
    assert_eq!(cues.len(), 2);
    assert_eq!(cues[0].text, "Hi there.");
    assert_eq!(word_texts(&cues[0]), ["Hi", "there."]);
    assert_eq!(cues[0].words[1].chars, 3..9);
    assert_eq!((cues[0].words[1].start, cues[0].words[1].end), (1.0, 1.8));
    assert_eq!(cues[1].text, "Bye.");
    assert!(cues[1].words.is_empty());
    // faster-whisper's bare list of segments.
    let list = r#"[{"start": 1, "end": 2, "text": "x", "words": []}]"#;
    assert_eq!(parse(Path::new("t.json"), list).unwrap()[0].text, "x");
}

#[test]
fn whisper_cpp_tokens_join_into_words() {
    let text = r#"{"transcription": [{"timestamps": {"from": "00:00:00,000", "to": "00:00:02,000"},
        "offsets": {"from": 0, "to": 2000}, "text": " Hello world",
        "tokens": [{"text": "[_BEG_]", "offsets": {"from": 0, "to": 0}},
                   {"text": " Hel", "offsets": {"from": 0, "to": 400}},
                   {"text": "lo", "offsets": {"from": 400, "to": 700}},
                   {"text": " world", "offsets": {"from": 900, "to": 1600}}]}]}"#;
    let cues = parse(Path::new("out.json"), text).unwrap();
    assert_eq!(cues[0].text, "Hello world");
    assert_eq!(word_texts(&cues[0]), ["Hello", "world"]);
    assert_eq!((cues[0].words[0].start, cues[0].words[0].end), (0.0, 0.7));
    assert_eq!((cues[0].end), 2.0);
}

#[test]
fn json_errors_name_line_and_column() {
    let syntax = "{\n  \"segments\": [\n    {\"start\": 1,, \"end\": 2}\n  ]\n}";
    let e = parse(Path::new("t.json"), syntax).unwrap_err();
    assert!(e.starts_with("line 3, column"), "{e}");
    let missing = "{\n  \"segments\": [\n    {\"end\": 2, \"text\": \"x\"}\n  ]\n}";
    let e = parse(Path::new("t.json"), missing).unwrap_err();
    assert!(
        e.contains("missing field `start`") && e.starts_with("line 3"),
        "{e}"
    );
    let negative = r#"{"segments": [{"start": -1, "end": 2, "text": "x"}]}"#;
    let e = parse(Path::new("t.json"), negative).unwrap_err();
    assert!(e.starts_with("segments[0]:"), "{e}");
}

#[test]
fn the_format_follows_the_content_without_a_known_extension() {
    let vtt = "WEBVTT\n\n00:00.500 --> 00:01.000\nv\n";
    assert_eq!(parse(Path::new("captions.txt"), vtt).unwrap()[0].start, 0.5);
    let json = r#"{"segments": [{"start": 2, "end": 3, "text": "j"}]}"#;
    assert_eq!(parse(Path::new("captions"), json).unwrap()[0].text, "j");
    let subrip = "1\n00:00:02,000 --> 00:00:03,000\ns\n";
    assert_eq!(parse(Path::new("captions"), subrip).unwrap()[0].text, "s");
}

#[test]
fn cues_are_sorted_and_empty_ones_dropped() {
    let text = "00:00:05,000 --> 00:00:06,000\nlater\n\n00:00:01,000 --> 00:00:02,000\n<i></i>\n\n00:00:02,000 --> 00:00:03,000\nearlier\n";
    let cues = srt(text).unwrap();
    let texts: Vec<&str> = cues.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["earlier", "later"]);
}
