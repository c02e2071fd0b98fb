//! The Annex-B reader on real streams made at test time by ffmpeg (libx264, libx265 where this
//! ffmpeg has it), compared with what ffprobe says; and on garbage.

use std::path::{Path, PathBuf};
use std::process::Command;

use nvenc::Codec;
use nvenc::annexb::{AccessUnitReader, access_units, nal_units};
use test_support::Scratch;

const FRAMES: usize = 47;
const GOP: usize = 10;

/// Encodes FRAMES frames of testsrc with a fixed GOP, B-frames on, as a raw Annex-B stream
/// in `dir`.
fn make_stream(dir: &Scratch, codec: Codec) -> Option<(PathBuf, Vec<u8>)> {
    let encoder = match codec {
        Codec::H264 => "libx264",
        Codec::Hevc => "libx265",
    };
    if !test_support::ffmpeg_has_encoder(encoder) {
        // libx264 is required on CI (the renderer's own fallback needs it); libx265 is not.
        assert!(
            !(test_support::ci() && codec == Codec::H264),
            "CI=true and ffmpeg has no libx264"
        );
        test_support::skip("nvenc annexb tests", &format!("ffmpeg has no {encoder}"));
        return None;
    }
    let out = dir.path(&format!("out.{}", codec.ffmpeg_format()));
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
    ])
    .arg(format!(
        "testsrc=size=320x240:rate=25:duration={}",
        FRAMES as f64 / 25.0
    ))
    .args([
        "-frames:v",
        &FRAMES.to_string(),
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        encoder,
    ]);
    match codec {
        Codec::H264 => {
            cmd.args(["-g", &GOP.to_string(), "-keyint_min", &GOP.to_string()])
                .args([
                    "-sc_threshold",
                    "0",
                    "-bf",
                    "2",
                    "-bsf:v",
                    "h264_mp4toannexb",
                ]);
        }
        Codec::Hevc => {
            cmd.args([
                "-x265-params",
                &format!(
                    "keyint={GOP}:min-keyint={GOP}:scenecut=0:open-gop=0:bframes=2:log-level=error"
                ),
            ]);
        }
    }
    cmd.args(["-f", codec.ffmpeg_format()]).arg(&out);
    let status = cmd.status().expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg failed to make the test stream");
    let bytes = std::fs::read(&out).expect("stream written");
    Some((out, bytes))
}

fn ffprobe_frames(path: &Path, format: &str) -> usize {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-f",
            format,
            "-count_frames",
            "-select_streams",
            "v:0",
        ])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("ffprobe prints a frame count")
}

fn check_stream(codec: Codec) {
    let dir = Scratch::new("nvenc-annexb");
    let Some((path, bytes)) = make_stream(&dir, codec) else {
        return;
    };
    let aus = access_units(codec, &bytes);
    let probed = ffprobe_frames(&path, codec.ffmpeg_format());
    assert_eq!(probed, FRAMES, "ffprobe's own count of the stream");
    assert_eq!(aus.len(), probed, "access units vs ffprobe's frame count");
    // Contiguous, covering the whole stream.
    assert_eq!(aus[0].start, 0);
    for w in aus.windows(2) {
        assert_eq!(w[0].end, w[1].start);
    }
    assert_eq!(aus.last().map(|a| a.end), Some(bytes.len()));
    let keys: Vec<usize> = aus
        .iter()
        .enumerate()
        .filter(|(_, a)| a.key)
        .map(|(i, _)| i)
        .collect();
    let expected: Vec<usize> = (0..FRAMES).step_by(GOP).collect();
    assert_eq!(keys, expected, "IDR/IRAP positions (decode order)");
    assert!(
        aus[0].has_sps && aus[0].has_pps,
        "parameter sets in the first access unit"
    );
    if codec == Codec::Hevc {
        assert!(aus[0].has_vps);
    }
    assert!(aus.iter().all(|a| a.slices >= 1));

    // The streaming reader gives the same units, whatever the chunking.
    for chunk in [1usize, 7, 4096] {
        let mut reader = AccessUnitReader::new(codec);
        let mut got = Vec::new();
        for c in bytes.chunks(chunk) {
            got.extend(reader.push(c));
        }
        got.extend(reader.finish());
        assert_eq!(got.len(), aus.len(), "chunk {chunk}");
        for ((au, data), whole) in got.iter().zip(&aus) {
            assert_eq!(
                data.as_slice(),
                &bytes[whole.start..whole.end],
                "chunk {chunk}"
            );
            assert_eq!(au.key, whole.key);
        }
    }
}

#[test]
fn h264_stream_from_libx264() {
    check_stream(Codec::H264);
}

#[test]
fn hevc_stream_from_libx265() {
    check_stream(Codec::Hevc);
}

/// xorshift64*: a small seeded generator, so failures are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn garbage_and_truncated_input_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let dir = Scratch::new("nvenc-annexb");
    let real = make_stream(&dir, Codec::H264).map(|(_, b)| b);
    for round in 0..2000 {
        let len = (rng.next() % 300) as usize;
        // Bytes biased towards 0 and 1, so start codes are frequent.
        let mut data: Vec<u8> = (0..len)
            .map(|_| match rng.next() % 4 {
                0 => 0,
                1 => 1,
                _ => rng.next() as u8,
            })
            .collect();
        if let Some(real) = &real
            && round % 2 == 0
        {
            // A truncated or corrupted piece of a real stream.
            let a = (rng.next() as usize) % real.len();
            let b = (a + (rng.next() as usize) % 2000).min(real.len());
            data = real[a..b].to_vec();
            if !data.is_empty() && round % 4 == 0 {
                let i = (rng.next() as usize) % data.len();
                data[i] ^= rng.next() as u8;
            }
        }
        for codec in [Codec::H264, Codec::Hevc] {
            let nals = nal_units(&data);
            for n in &nals {
                assert!(!n.data.is_empty());
                assert!(n.start < data.len());
            }
            let aus = access_units(codec, &data);
            for a in &aus {
                assert!(a.start <= a.end && a.end <= data.len());
            }
            let mut r = AccessUnitReader::new(codec);
            let mut total = 0;
            for c in data.chunks(13) {
                total += r.push(c).len();
            }
            total += usize::from(r.finish().is_some());
            assert_eq!(total, aus.len(), "round {round}");
        }
    }
}
