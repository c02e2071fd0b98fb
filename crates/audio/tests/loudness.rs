//! EBU R128 measurements against ffmpeg's `ebur128` filter (peak=true) on files ffmpeg makes:
//! integrated loudness within 0.2 LU, loudness range within 1 LU, true peak within 0.5 dB, and a
//! section (start, duration) measured on its own.

use std::path::Path;
use std::process::Command;

use audio::measure_loudness;
use test_support::Scratch;

fn ffmpeg_program() -> String {
    std::env::var("FFMPEG").unwrap_or_else(|_| "ffmpeg".into())
}

fn make(args: &[&str], out: &Path) {
    let status = Command::new(ffmpeg_program())
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(out)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

/// ffmpeg's integrated loudness, loudness range and true peak of `path` (from `start`, for
/// `duration` seconds).
fn ebur128(path: &Path, start: f64, duration: f64) -> (f64, f64, f64) {
    let out = Command::new(ffmpeg_program())
        .args(["-hide_banner", "-nostats", "-ss", &start.to_string(), "-t"])
        .arg(duration.to_string())
        .arg("-i")
        .arg(path)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = &text[text.rfind("Summary:").expect("an ebur128 summary")..];
    let value = |label: &str| -> f64 {
        let at = summary.find(label).expect(label) + label.len();
        summary[at..]
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .expect("a number")
    };
    (value("I:"), value("LRA:"), value("Peak:"))
}

#[test]
fn integrated_loudness_range_and_true_peak_match_ffmpeg() {
    if !test_support::require_ffmpeg("r128 vs ebur128") {
        return;
    }
    let dir = Scratch::new("r128");
    // Music-like: pink noise and a swelling tone, louder in the second half (a range to
    // measure), stereo 48 kHz; and a quiet mono 44.1 kHz speech-like signal (bursts and gaps).
    let music = dir.path("music.flac");
    make(
        &[
            "-f",
            "lavfi",
            "-i",
            "anoisesrc=color=pink:amplitude=0.25:duration=24:seed=7,aformat=channel_layouts=stereo",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=220:duration=24",
            "-filter_complex",
            "[0][1]amix=inputs=2:normalize=0,volume='if(lt(t,12),0.3,1.0)':eval=frame,aresample=48000",
            "-c:a",
            "flac",
        ],
        &music,
    );
    let speech = dir.path("speech.wav");
    make(
        &[
            "-f",
            "lavfi",
            "-i",
            "anoisesrc=color=brown:amplitude=0.5:duration=20:seed=3",
            "-af",
            "volume='0.2*gt(sin(2*PI*3*t),0.2)*gt(sin(2*PI*0.25*t),-0.5)':eval=frame,aresample=44100",
            "-ac",
            "1",
        ],
        &speech,
    );
    // Stereo AAC in an M4A: the container does not state the channels (0 until a packet is
    // decoded); every channel must count.
    let m4a = dir.path("music.m4a");
    make(
        &[
            "-i",
            music.to_str().expect("utf-8"),
            "-c:a",
            "aac",
            "-b:a",
            "160k",
        ],
        &m4a,
    );
    for path in [&music, &speech, &m4a] {
        let ours = measure_loudness(path, 0.0, None).expect("measure");
        let (i, lra, tp) = ebur128(path, 0.0, 1000.0);
        let name = path.display();
        eprintln!("{name}: ours {ours:?} ffmpeg I {i} LRA {lra} TP {tp}");
        assert!(
            (ours.integrated - i).abs() < 0.2,
            "{name}: I {} vs {i}",
            ours.integrated
        );
        assert!(
            (ours.range - lra).abs() < 1.0,
            "{name}: LRA {} vs {lra}",
            ours.range
        );
        assert!(
            (ours.true_peak - tp).abs() < 0.5,
            "{name}: TP {} vs {tp}",
            ours.true_peak
        );
        assert!(ours.threshold < ours.integrated && ours.threshold > ours.integrated - 20.0);
    }
    // A section: the loud second half alone is louder than the whole.
    let whole = measure_loudness(&music, 0.0, None).expect("whole");
    let half = measure_loudness(&music, 12.0, Some(12.0)).expect("half");
    let (i, _, _) = ebur128(&music, 12.0, 12.0);
    assert!(
        (half.integrated - i).abs() < 0.3,
        "section I {} vs {i}",
        half.integrated
    );
    assert!(half.integrated > whole.integrated + 1.0);
}

#[test]
fn silence_has_no_loudness() {
    if !test_support::require_ffmpeg("r128 silence") {
        return;
    }
    let dir = Scratch::new("r128-silence");
    let silent = dir.path("silent.wav");
    make(
        &["-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "2"],
        &silent,
    );
    let s = measure_loudness(&silent, 0.0, None).expect("measure");
    assert!(s.integrated.is_infinite() && s.integrated < 0.0, "{s:?}");
    assert!(s.true_peak.is_infinite() && s.true_peak < 0.0, "{s:?}");
}
