//! `loudness = -16`: the output's audio track is normalised to the target within 0.5 LU with its
//! true peak under the ceiling, measured by ffmpeg's own `ebur128` filter on the finished MP4, for
//! a music-like track (scaled linearly) and a quiet, bursty speech-like one (whose gain would
//! push peaks over the ceiling: limited instead), and a stereo AAC input; the summary reports
//! both loudnesses.

mod support;

use std::path::Path;

use support::*;

/// ffmpeg's integrated loudness and true peak of `path`'s audio (its `ebur128` filter, run by
/// the media crate's `filtered_loudness` with no filter of ours in front).
fn ebur128(path: &Path) -> (f64, f64) {
    media::filtered_loudness(&media::AudioInput {
        path: path.to_owned(),
        start: 0.0,
        duration: 3600.0,
        filter: None,
    })
    .expect("ffmpeg measures the output")
}

fn render_normalised(dir: &Scratch, audio: &str, extra: &str) -> (f64, f64, String) {
    let job = dir.path(&format!("{audio}.toml"));
    let out = format!("{audio}.mp4");
    std::fs::write(
        &job,
        format!(
            "audio = \"{audio}\"\noutput = \"{out}\"\nloudness = -16\n{extra}\n[video]\nwidth = 160\nheight = 90\nfps = 10\npreset = \"ultrafast\"\n\n[[layer]]\nkind = \"background\"\n"
        ),
    )
    .expect("write job");
    let run = run_renderer(&[job.to_str().expect("utf-8 path")], &[]);
    assert!(run.status.success(), "render failed:\n{}", stderr(&run));
    let (i, tp) = ebur128(&dir.path(&out));
    (i, tp, String::from_utf8_lossy(&run.stdout).into_owned())
}

#[test]
fn the_audio_track_is_normalised_to_the_target_under_the_ceiling() {
    if !have_gpu("loudness") || !require_ffmpeg("loudness") {
        return;
    }
    let dir = Scratch::new("loudness");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=color=pink:amplitude=0.25:duration=12:seed=7,aformat=channel_layouts=stereo",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=220:duration=12",
        "-filter_complex",
        "[0][1]amix=inputs=2:normalize=0,volume='if(lt(t,6),0.3,1.0)':eval=frame,aresample=48000",
        "-c:a",
        "flac",
        dir.path("music.flac").to_str().expect("utf-8 path"),
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=color=brown:amplitude=0.5:duration=12:seed=3",
        "-af",
        "volume='0.2*gt(sin(2*PI*3*t),0.2)*gt(sin(2*PI*0.25*t),-0.5)':eval=frame,aresample=44100",
        "-ac",
        "1",
        dir.path("speech.wav").to_str().expect("utf-8 path"),
    ]);
    // Stereo AAC in an M4A: its channel count is known only once a packet is decoded.
    ffmpeg(&[
        "-i",
        dir.path("music.flac").to_str().expect("utf-8 path"),
        "-c:a",
        "aac",
        "-b:a",
        "160k",
        dir.path("music.m4a").to_str().expect("utf-8 path"),
    ]);
    for audio in ["music.flac", "speech.wav", "music.m4a"] {
        let (i, tp, summary) = render_normalised(&dir, audio, "");
        eprintln!("{audio}: ffmpeg measures {i} LUFS, {tp} dBTP; summary: {summary}");
        assert!((i + 16.0).abs() <= 0.5, "{audio}: {i} LUFS, target -16");
        assert!(
            tp <= -1.0,
            "{audio}: true peak {tp} dBTP over the -1 dBTP ceiling"
        );
        assert!(
            summary.contains("loudness") && summary.contains("-> -1"),
            "{summary}"
        );
    }
    // A lower ceiling is kept too.
    let (i, tp, _) = render_normalised(&dir, "music.flac", "true_peak = -6");
    assert!(tp <= -6.0, "true peak {tp} over -6");
    assert!((i + 16.0).abs() <= 1.0, "{i} LUFS");
}

#[test]
fn a_bad_loudness_target_is_a_job_error() {
    let dir = Scratch::new("loudness-bad");
    let job = dir.path("job.toml");
    std::fs::write(&job, "audio = \"a.wav\"\nloudness = 3\n").expect("write job");
    let out = run_renderer(&[job.to_str().expect("utf-8 path")], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("loudness must be a target in LUFS"),
        "{}",
        stderr(&out)
    );
}
