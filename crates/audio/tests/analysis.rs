//! Decoding and spectrum analysis on signals whose answer is known.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use audio::{AudioDecoder, FrameAnalyzer, SpectrumConfig};

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "audio-test-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes interleaved f32 samples as a 16-bit PCM WAV.
fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[f32]) {
    let data_len = (samples.len() * 2) as u32;
    let mut w = Vec::with_capacity(44 + samples.len() * 2);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&channels.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
    w.extend_from_slice(&(channels * 2).to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        w.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
    }
    std::fs::write(path, w).expect("write wav");
}

fn sine(rate: u32, hz: f32, seconds: f32, amp: f32) -> Vec<f32> {
    let n = (rate as f32 * seconds) as usize;
    (0..n)
        .map(|i| amp * (std::f32::consts::TAU * hz * i as f32 / rate as f32).sin())
        .collect()
}

/// All frames' band levels of a file, analysed at `fps` from `start`.
fn analyse(
    path: &Path,
    fps: f64,
    start: f64,
    duration: Option<f64>,
) -> (FrameAnalyzer, Vec<Vec<f32>>) {
    let decoder = AudioDecoder::open(path).expect("open");
    let mut a = FrameAnalyzer::new(decoder, fps, start, duration, SpectrumConfig::default())
        .expect("analyzer");
    let mut frames = Vec::new();
    let mut bands = vec![0.0; a.band_count()];
    while let Some(f) = a.next_frame(&mut bands).expect("frame") {
        assert!(f.rms.is_finite() && f.peak.is_finite());
        frames.push(bands.clone());
    }
    (a, frames)
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .expect("non-empty")
}

#[test]
fn a_440_hz_sine_peaks_in_the_band_containing_440_hz() {
    let dir = Scratch::new("sine");
    let path = dir.path("a440.wav");
    write_wav(&path, 44_100, 1, &sine(44_100, 440.0, 2.0, 0.5));
    let (a, frames) = analyse(&path, 30.0, 0.0, None);
    assert_eq!(frames.len(), 60);
    let want = a.layout().band_of(440.0).expect("440 Hz is in range");
    // Skip the first and last frames, whose windows reach past the ends of the signal.
    for (i, f) in frames.iter().enumerate().skip(2).take(56) {
        assert_eq!(argmax(f), want, "frame {i}: levels {f:?}");
        assert!(
            f[want] > 0.5,
            "frame {i}: a -6 dBFS sine is loud: {}",
            f[want]
        );
    }
}

#[test]
fn silence_gives_zero_levels_and_no_nan() {
    let dir = Scratch::new("silence");
    let path = dir.path("silence.wav");
    write_wav(&path, 48_000, 2, &vec![0.0; 48_000 * 2]);
    let (_, frames) = analyse(&path, 25.0, 0.0, None);
    assert_eq!(frames.len(), 25);
    for f in &frames {
        assert!(f.iter().all(|v| v.is_finite() && *v == 0.0), "{f:?}");
    }
}

#[test]
fn stereo_channels_are_mixed_and_levels_stay_in_range() {
    let dir = Scratch::new("stereo");
    let path = dir.path("stereo.wav");
    // 300 Hz on the left, 5 kHz on the right, with DC offset and hard clipping.
    let l = sine(22_050, 300.0, 1.0, 2.0);
    let r = sine(22_050, 5_000.0, 1.0, 0.5);
    let interleaved: Vec<f32> = l.iter().zip(&r).flat_map(|(a, b)| [a + 0.3, *b]).collect();
    write_wav(&path, 22_050, 2, &interleaved);
    let (a, frames) = analyse(&path, 30.0, 0.0, None);
    let low = a.layout().band_of(300.0).expect("band");
    let high = a.layout().band_of(5_000.0).expect("band");
    let mid = &frames[15];
    assert!(mid.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(
        mid[low] > 0.5 && mid[high] > 0.3,
        "both channels heard: {mid:?}"
    );
}

#[test]
fn a_section_sees_the_same_spectrum_as_the_whole_file() {
    // The seek must be sample-exact: frame k of a render starting at 1 s is frame 30 + k of a
    // render starting at 0 (30 fps).
    let dir = Scratch::new("section");
    let path = dir.path("sweep.wav");
    let rate = 32_000;
    let samples: Vec<f32> = (0..rate * 3)
        .map(|i| {
            let t = i as f32 / rate as f32;
            0.5 * (std::f32::consts::TAU * (100.0 * t + 400.0 * t * t)).sin()
        })
        .collect();
    write_wav(&path, rate, 1, &samples);
    let (_, whole) = analyse(&path, 30.0, 0.0, None);
    let (_, part) = analyse(&path, 30.0, 1.0, Some(1.0));
    assert_eq!(part.len(), 30);
    for (k, f) in part.iter().enumerate() {
        let diff = f
            .iter()
            .zip(&whole[30 + k])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-4, "frame {k} differs by {diff}");
    }
}

#[test]
fn frame_count_is_duration_times_fps_rounded() {
    let dir = Scratch::new("count");
    let path = dir.path("short.wav");
    write_wav(&path, 8_000, 1, &sine(8_000, 500.0, 1.01, 0.5));
    let (a, frames) = analyse(&path, 24.0, 0.0, None);
    assert_eq!(a.frames(), (1.01f64 * 24.0).round() as u64);
    assert_eq!(frames.len() as u64, a.frames());
}

#[test]
fn bad_settings_are_errors_not_panics() {
    let dir = Scratch::new("bad");
    let path = dir.path("x.wav");
    write_wav(&path, 8_000, 1, &sine(8_000, 500.0, 0.5, 0.5));
    let open = || AudioDecoder::open(&path).expect("open");
    for (fps, start, dur) in [
        (0.0, 0.0, None),
        (f64::NAN, 0.0, None),
        (30.0, 5.0, None),
        (30.0, 0.0, Some(-1.0)),
    ] {
        assert!(FrameAnalyzer::new(open(), fps, start, dur, SpectrumConfig::default()).is_err());
    }
    let bad = SpectrumConfig {
        bands: 0,
        ..SpectrumConfig::default()
    };
    assert!(FrameAnalyzer::new(open(), 30.0, 0.0, None, bad).is_err());
}

fn have_ffmpeg() -> bool {
    let ok = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "CI=true and ffmpeg is missing (apt-get install ffmpeg)"
        );
        eprintln!("SKIPPED: ffmpeg not found; format fixtures cannot be generated");
    }
    ok
}

#[test]
fn every_listed_format_decodes_with_the_right_spectrum() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Scratch::new("formats");
    // (file, encoder args, sample rate, channels)
    let cases: [(&str, &[&str], u32, u32); 6] = [
        ("tone.wav", &["-c:a", "pcm_s16le"], 44_100, 2),
        ("tone.flac", &["-c:a", "flac"], 48_000, 1),
        (
            "tone.mp3",
            &["-c:a", "libmp3lame", "-b:a", "192k"],
            44_100,
            2,
        ),
        ("tone.ogg", &["-c:a", "libvorbis", "-q:a", "5"], 48_000, 2),
        ("tone.m4a", &["-c:a", "aac", "-b:a", "160k"], 44_100, 2),
        ("tone6.flac", &["-c:a", "flac"], 96_000, 6),
    ];
    for (name, codec, rate, channels) in cases {
        let path = dir.path(name);
        let src = format!("sine=frequency=1000:sample_rate={rate}:duration=2");
        let out = Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                &src,
            ])
            .args(["-ac", &channels.to_string()])
            .args(codec)
            .arg(&path)
            .output()
            .expect("ffmpeg");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let decoder = AudioDecoder::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let info = decoder.info().clone();
        assert_eq!(info.sample_rate, rate, "{name}");
        let seconds = info.duration_secs();
        // Lossy codecs add encoder delay/padding; within 60 ms of 2 s.
        assert!((seconds - 2.0).abs() < 0.06, "{name}: {seconds} s");
        let (a, frames) = analyse(&path, 30.0, 0.0, None);
        assert_eq!(a.decoder().info().channels, channels as usize, "{name}");
        let want = a.layout().band_of(1000.0).expect("band");
        let f = &frames[frames.len() / 2];
        assert_eq!(argmax(f), want, "{name}: {f:?}");
    }
}
