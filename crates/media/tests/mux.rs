//! The NVENC mux path without NVIDIA hardware: an Annex-B stream made by libx264 (what NVENC
//! hands over has the same form) is streamed into the encoder sink in arbitrary chunks and
//! muxed with audio (`-c:v copy`, AAC, MP4); the MP4 is inspected with ffprobe.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use media::{AudioInput, EncoderSettings, FfmpegEncoder, VideoCodec};
use test_support::Scratch;

const FRAMES: u64 = 48;
const FPS: f64 = 24.0;

/// Whether ffmpeg has `encoder`; without it a visible skip (libx264 is required under CI).
fn have(encoder: &str) -> bool {
    let ok = test_support::ffmpeg_has_encoder(encoder);
    if !ok {
        assert!(
            !(test_support::ci() && encoder == "libx264"),
            "CI=true and ffmpeg has no libx264"
        );
        test_support::skip("media mux tests", &format!("ffmpeg has no {encoder}"));
    }
    ok
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `key=value` lines of ffprobe for one stream kind ("v" or "a").
fn probe(path: &Path, kind: &str) -> HashMap<String, String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", kind])
        .args([
            "-show_entries",
            "stream:format=duration",
            "-of",
            "default=nw=1",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn mux(codec: VideoCodec, encoder: &str, format: &str, extra: &[&str]) {
    if !have(encoder) {
        return;
    }
    let dir = Scratch::new(format);
    let stream = dir.path(&format!("in.{format}"));
    let wav = dir.path("tone.wav");
    let frames = FRAMES.to_string();
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=24",
        "-frames:v",
        &frames,
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        encoder,
        "-colorspace",
        "bt709",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        "-color_range",
        "tv",
    ];
    args.extend_from_slice(extra);
    let s = stream.to_str().expect("utf-8 path");
    args.extend_from_slice(&["-f", format, s]);
    ffmpeg(&args);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=3",
        wav.to_str().expect("path"),
    ]);
    let bytes = std::fs::read(&stream).expect("stream");

    let output = dir.path("out.mp4");
    let mut sink = FfmpegEncoder::spawn(&EncoderSettings {
        width: 320,
        height: 240,
        fps: FPS,
        codec,
        frames: media::RawFrames::Nv12,
        alpha: false,
        crf: 0,
        preset: String::new(),
        audio: Some(AudioInput {
            path: wav,
            start: 0.0,
            duration: FRAMES as f64 / FPS,
            filter: None,
        }),
        audio_kbps: 96,
        output: output.clone(),
        comment: None,
        chapters: Vec::new(),
    })
    .expect("ffmpeg starts");
    // Odd chunk sizes: the sink must not care where the writes split the stream.
    let chunks: Vec<&[u8]> = bytes.chunks(1000).collect();
    let per_chunk = FRAMES / chunks.len() as u64;
    for (i, c) in chunks.iter().enumerate() {
        let frames = if i + 1 == chunks.len() {
            FRAMES - per_chunk * (chunks.len() as u64 - 1)
        } else {
            per_chunk
        };
        sink.write_encoded(c, frames).expect("write");
    }
    let stats = sink.finish().expect("mux");
    assert_eq!(stats.frames, FRAMES);

    let v = probe(&output, "v");
    assert_eq!(v["codec_name"], format);
    assert_eq!(v["nb_read_frames"], FRAMES.to_string(), "video frames");
    assert_eq!(v["r_frame_rate"], "24/1");
    assert_eq!(v["avg_frame_rate"], "24/1");
    assert_eq!(v["color_primaries"], "bt709");
    assert_eq!(v["color_transfer"], "bt709");
    assert_eq!(v["color_space"], "bt709");
    assert_eq!(v["color_range"], "tv");
    let duration: f64 = v["duration"].parse().expect("video duration");
    assert!(
        (duration - FRAMES as f64 / FPS).abs() < 1.5 / FPS,
        "video duration {duration}"
    );
    let a = probe(&output, "a");
    assert_eq!(a["codec_name"], "aac", "audio stream");
    let ad: f64 = a["duration"].parse().expect("audio duration");
    assert!((ad - 2.0).abs() < 0.1, "audio trimmed to the video: {ad}");
    // Only the MP4 is left beside the inputs: the temporary file was renamed.
    let mut names: Vec<String> = std::fs::read_dir(dir.dir())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [format!("in.{format}"), "out.mp4".into(), "tone.wav".into()]
    );
}

#[test]
fn h264_annexb_stream_is_muxed_with_audio() {
    mux(
        VideoCodec::H264Stream,
        "libx264",
        "h264",
        &["-bsf:v", "h264_mp4toannexb", "-bf", "0"],
    );
}

#[test]
fn hevc_annexb_stream_is_muxed_with_audio() {
    mux(
        VideoCodec::HevcStream,
        "libx265",
        "hevc",
        &["-x265-params", "bframes=0:log-level=error"],
    );
}

#[test]
fn a_dead_ffmpeg_is_reported_and_leaves_no_file() {
    if !have("libx264") {
        return;
    }
    let dir = Scratch::new("dead");
    let output = dir.path("out.mp4");
    let mut sink = FfmpegEncoder::spawn(&EncoderSettings {
        width: 320,
        height: 240,
        fps: FPS,
        codec: VideoCodec::H264Stream,
        frames: media::RawFrames::Nv12,
        alpha: false,
        crf: 0,
        preset: String::new(),
        audio: None,
        audio_kbps: 96,
        output: output.clone(),
        comment: None,
        chapters: Vec::new(),
    })
    .expect("ffmpeg starts");
    // Not H.264: ffmpeg finds no stream and fails.
    let _ = sink.write_encoded(&[0x42; 5000], 1);
    assert!(sink.finish().is_err(), "garbage must not make an MP4");
    assert!(!output.exists());
    assert_eq!(
        std::fs::read_dir(dir.dir()).expect("dir").count(),
        0,
        "no temporary file left"
    );
}
