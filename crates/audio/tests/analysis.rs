//! Decoding and spectrum analysis on signals whose answer is known.

use std::path::Path;
use std::process::Command;

use audio::{AnalysisConfig, AudioDecoder, FrameAnalyzer, FrameFeatures};
use test_support::Scratch;

/// Writes interleaved samples as a 16-bit PCM WAV.
fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[f32]) {
    std::fs::write(path, audio::wav::encode_i16(rate, channels, samples)).expect("write wav");
}

fn sine(rate: u32, hz: f32, seconds: f32, amp: f32) -> Vec<f32> {
    let n = (rate as f32 * seconds) as usize;
    (0..n)
        .map(|i| amp * (std::f32::consts::TAU * hz * i as f32 / rate as f32).sin())
        .collect()
}

/// Writes interleaved samples as a 32-bit float WAV (no quantisation: quiet signals stay exact).
fn write_wav_f32(path: &Path, rate: u32, channels: u16, samples: &[f32]) {
    std::fs::write(path, audio::wav::encode_f32(rate, channels, samples)).expect("write wav");
}

/// Every frame's features and smoothed band levels.
fn analyse_with(
    path: &Path,
    fps: f64,
    start: f64,
    duration: Option<f64>,
    config: AnalysisConfig,
) -> (FrameAnalyzer, Vec<(FrameFeatures, Vec<f32>)>) {
    let decoder = AudioDecoder::open(path).expect("open");
    let mut a = FrameAnalyzer::new(decoder, fps, start, duration, config).expect("analyzer");
    let mut frames = Vec::new();
    let mut buf = a.buffers();
    while let Some(f) = a.next_frame(&mut buf).expect("frame") {
        let scalars = [
            f.time,
            f.rms,
            f.peak,
            f.loudness_lufs,
            f.level_left,
            f.level_right,
            f.onset,
            f.beat,
            f.beat_pulse,
            f.bpm,
            f.bass,
            f.mid,
            f.treble,
        ];
        assert!(
            scalars.iter().all(|v| v.is_finite()),
            "non-finite feature: {f:?}"
        );
        assert!(
            buf.bands
                .iter()
                .chain(&buf.peaks)
                .chain(&buf.waveform)
                .all(|v| v.is_finite())
        );
        frames.push((f, buf.bands.clone()));
    }
    (a, frames)
}

/// Band levels per frame with the default settings.
fn analyse(
    path: &Path,
    fps: f64,
    start: f64,
    duration: Option<f64>,
) -> (FrameAnalyzer, Vec<Vec<f32>>) {
    let (a, frames) = analyse_with(path, fps, start, duration, AnalysisConfig::default());
    (a, frames.into_iter().map(|(_, b)| b).collect())
}

/// Settings without smoothing, to see the raw per-frame spectrum.
fn raw_config() -> AnalysisConfig {
    AnalysisConfig {
        attack_ms: 0.0,
        release_ms: 0.0,
        ..AnalysisConfig::default()
    }
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
    let (_, all) = analyse_with(&path, 25.0, 0.0, None, AnalysisConfig::default());
    for (f, _) in &all {
        assert_eq!(f.loudness_lufs, -120.0);
        assert_eq!(
            (f.rms, f.beat, f.bpm, f.bass, f.level_left),
            (0.0, 0.0, 0.0, 0.0, 0.0)
        );
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
        // The section's analysis warms up on the 3 s before it; smoothing has converged.
        assert!(diff < 1e-3, "frame {k} differs by {diff}");
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
        assert!(FrameAnalyzer::new(open(), fps, start, dur, AnalysisConfig::default()).is_err());
    }
    for bad in [
        AnalysisConfig {
            bands: 4,
            ..AnalysisConfig::default()
        },
        AnalysisConfig {
            bands: 1000,
            ..AnalysisConfig::default()
        },
        AnalysisConfig {
            min_hz: 500.0,
            max_hz: 100.0,
            ..AnalysisConfig::default()
        },
        AnalysisConfig {
            floor_db: 3.0,
            ..AnalysisConfig::default()
        },
        AnalysisConfig {
            attack_ms: f32::NAN,
            ..AnalysisConfig::default()
        },
        AnalysisConfig {
            percentile: 10.0,
            ..AnalysisConfig::default()
        },
        // 3 kHz lowest band is above what 8 kHz audio holds up to 95% of Nyquist... and beyond.
        AnalysisConfig {
            min_hz: 3900.0,
            max_hz: 16000.0,
            ..AnalysisConfig::default()
        },
    ] {
        assert!(
            FrameAnalyzer::new(open(), 30.0, 0.0, None, bad.clone()).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn every_listed_format_decodes_with_the_right_spectrum() {
    if !test_support::require_ffmpeg("audio format tests") {
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

#[test]
fn a_log_sweep_moves_the_peak_band_monotonically() {
    let dir = Scratch::new("sweep");
    let path = dir.path("sweep.wav");
    let (rate, seconds, f0, f1) = (44_100u32, 4.0f32, 50.0f32, 12_000.0f32);
    let k = (f1 / f0).ln() / seconds;
    let samples: Vec<f32> = (0..(rate as f32 * seconds) as usize)
        .map(|i| {
            let t = i as f32 / rate as f32;
            // Phase of an exponential sweep: 2 pi f0 (e^(k t) - 1) / k.
            0.5 * (std::f32::consts::TAU * f0 * ((k * t).exp() - 1.0) / k).sin()
        })
        .collect();
    write_wav_f32(&path, rate, 1, &samples);
    let (_, frames) = analyse_with(&path, 30.0, 0.0, None, raw_config());
    let peaks: Vec<usize> = frames[3..frames.len() - 3]
        .iter()
        .map(|(_, b)| argmax(b))
        .collect();
    assert!(
        peaks.windows(2).all(|w| w[1] >= w[0]),
        "peak band went down: {peaks:?}"
    );
    assert!(
        peaks.last() > peaks.first().map(|p| p + 40).as_ref(),
        "{peaks:?}"
    );
}

#[test]
fn a_click_track_at_120_bpm_gives_beats_on_the_clicks_and_tempo_120() {
    let dir = Scratch::new("clicks");
    let path = dir.path("clicks.wav");
    let rate = 44_100u32;
    let clicks: Vec<f64> = (0..20).map(|i| 0.3 + 0.5 * i as f64).collect();
    let mut samples = vec![0.0f32; rate as usize * 11];
    for &c in &clicks {
        // A 4 ms decaying 2 kHz burst.
        let at = (c * f64::from(rate)) as usize;
        for j in 0..(rate as usize / 250) {
            let t = j as f32 / rate as f32;
            samples[at + j] = 0.8 * (std::f32::consts::TAU * 2000.0 * t).sin() * (-t * 800.0).exp();
        }
    }
    write_wav_f32(&path, rate, 1, &samples);
    for fps in [30.0, 60.0] {
        let (_, frames) = analyse_with(&path, fps, 0.0, None, AnalysisConfig::default());
        let beats: Vec<f64> = frames
            .iter()
            .filter(|(f, _)| f.beat > 0.5)
            .map(|(f, _)| f64::from(f.time))
            .collect();
        // Every click has a beat frame within one frame, and every beat is near a click.
        for &c in &clicks {
            assert!(
                beats.iter().any(|b| (b - c).abs() <= 1.0 / fps + 1e-6),
                "{fps} fps: no beat near the click at {c} s; beats {beats:?}"
            );
        }
        for &b in &beats {
            assert!(
                clicks.iter().any(|c| (b - c).abs() <= 1.0 / fps + 1e-6),
                "{fps} fps: beat at {b} s is not near a click"
            );
        }
        let last = &frames.last().expect("frames").0;
        assert!(
            (last.bpm - 120.0).abs() <= 1.0,
            "{fps} fps: tempo {}",
            last.bpm
        );
        // The pulse is 1 on a beat frame and decays between beats.
        let on = frames.iter().find(|(f, _)| f.beat > 0.5).expect("a beat").0;
        assert!(on.beat_pulse > 0.7, "pulse on the beat: {}", on.beat_pulse);
        let mid = frames
            .iter()
            .find(|(f, _)| (f64::from(f.time) - (clicks[4] + 0.25)).abs() < 0.5 / fps)
            .expect("frame between beats")
            .0;
        assert!(
            mid.beat_pulse < 0.2,
            "pulse between beats: {}",
            mid.beat_pulse
        );
    }
}

#[test]
fn quiet_and_loud_versions_normalise_to_the_same_levels() {
    let dir = Scratch::new("gain");
    let rate = 44_100u32;
    let music: Vec<f32> = (0..rate * 4)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let beat = (-(t % 0.5) * 8.0).exp();
            0.3 * (std::f32::consts::TAU * 110.0 * t).sin() * beat
                + 0.2 * (std::f32::consts::TAU * 440.0 * t).sin()
                + 0.1 * (std::f32::consts::TAU * 1320.0 * t).sin() * (1.0 - beat)
                + 0.05 * (std::f32::consts::TAU * 5000.0 * t).sin()
        })
        .collect();
    let quiet: Vec<f32> = music.iter().map(|s| s * 10f32.powf(-30.0 / 20.0)).collect();
    write_wav_f32(&dir.path("loud.wav"), rate, 1, &music);
    write_wav_f32(&dir.path("quiet.wav"), rate, 1, &quiet);
    let (_, loud) = analyse(&dir.path("loud.wav"), 30.0, 0.0, None);
    let (_, soft) = analyse(&dir.path("quiet.wav"), 30.0, 0.0, None);
    assert_eq!(loud.len(), soft.len());
    let mut worst = 0.0f32;
    for (a, b) in loud.iter().zip(&soft) {
        for (x, y) in a.iter().zip(b) {
            worst = worst.max((x - y).abs() / x.max(*y).max(0.1));
        }
    }
    assert!(
        worst <= 0.10,
        "levels differ by {:.1}% after normalisation",
        worst * 100.0
    );
    // And the loud version does fill the frame.
    let top = loud.iter().flatten().fold(0.0f32, |m, v| m.max(*v));
    assert!(top > 0.9, "loudest level {top}");
}

#[test]
fn the_smoothed_envelope_is_the_same_in_seconds_at_any_fps() {
    let dir = Scratch::new("burst");
    let path = dir.path("burst.wav");
    let rate = 48_000u32;
    let samples: Vec<f32> = (0..rate * 3)
        .map(|i| {
            let t = i as f32 / rate as f32;
            if (1.0..1.5).contains(&t) {
                0.5 * (std::f32::consts::TAU * 1000.0 * t).sin()
            } else {
                0.0
            }
        })
        .collect();
    write_wav_f32(&path, rate, 1, &samples);
    // Envelope of the 1 kHz band, sampled at multiples of 1/6 s (a frame time at 24, 30 and 60 fps).
    let envelope = |fps: f64| -> Vec<f32> {
        let (a, frames) = analyse_with(&path, fps, 0.0, None, AnalysisConfig::default());
        let band = a.layout().band_of(1000.0).expect("band");
        let step = (fps / 6.0).round() as usize;
        frames.iter().step_by(step).map(|(_, b)| b[band]).collect()
    };
    let (e24, e30, e60) = (envelope(24.0), envelope(30.0), envelope(60.0));
    assert_eq!(e24.len(), e30.len());
    for (i, ((a, b), c)) in e24.iter().zip(&e30).zip(&e60).enumerate() {
        let spread = a.max(*b).max(*c) - a.min(*b).min(*c);
        assert!(spread <= 0.08, "t = {:.3} s: {a} {b} {c}", i as f64 / 6.0);
    }
    // The release is visible: 200 ms after the burst the level is still up, 1 s after it is gone.
    let at = |t: f64| e30[(t * 6.0).round() as usize];
    assert!(
        at(1.333) > 0.8 && at(1.667) > 0.1 && at(2.667) < 0.05,
        "{e30:?}"
    );
}

#[test]
fn channels_and_sample_rates_from_8_to_192_khz() {
    let dir = Scratch::new("layouts");
    for rate in [8_000u32, 22_050, 44_100, 96_000, 192_000] {
        for channels in [1u16, 2, 6] {
            let n = rate as usize; // one second
            let mut samples = Vec::with_capacity(n * channels as usize);
            for i in 0..n {
                let s = 0.5 * (std::f32::consts::TAU * 1000.0 * i as f32 / rate as f32).sin();
                for c in 0..channels {
                    // Left louder than right, to see the per-channel levels.
                    samples.push(if c == 1 { s * 0.25 } else { s });
                }
            }
            let path = dir.path(&format!("t{rate}-{channels}.wav"));
            write_wav_f32(&path, rate, channels, &samples);
            let (a, frames) = analyse_with(&path, 30.0, 0.0, None, AnalysisConfig::default());
            let what = format!("{rate} Hz, {channels} ch");
            assert_eq!(frames.len(), 30, "{what}");
            let (f, bands) = &frames[15];
            let want = a.layout().band_of(1000.0).expect("band");
            assert_eq!(argmax(bands), want, "{what}: {bands:?}");
            if channels == 1 {
                // BS.1770: a 1 kHz sine at -6 dBFS on one channel reads about -9 LUFS.
                assert!(
                    (f.loudness_lufs + 9.0).abs() < 0.7,
                    "{what}: {} LUFS",
                    f.loudness_lufs
                );
                assert_eq!(f.level_left, f.level_right, "{what}");
            } else {
                assert!(f.level_left > f.level_right + 0.1, "{what}: {f:?}");
            }
            assert!(
                f.mid > f.bass && f.mid > f.treble,
                "{what}: 1 kHz is mid: {f:?}"
            );
        }
    }
}

#[test]
fn the_waveform_traces_the_frame_samples() {
    let dir = Scratch::new("wave");
    let path = dir.path("wave.wav");
    write_wav_f32(&path, 44_100, 1, &sine(44_100, 220.0, 1.0, 0.6));
    let decoder = AudioDecoder::open(&path).expect("open");
    let mut a =
        FrameAnalyzer::new(decoder, 30.0, 0.0, None, AnalysisConfig::default()).expect("analyzer");
    let mut buf = a.buffers();
    assert_eq!(buf.waveform.len(), 2 * 512);
    for _ in 0..15 {
        a.next_frame(&mut buf).expect("frame").expect("some");
    }
    let (mn, mx) = buf
        .waveform
        .chunks(2)
        .fold((1.0f32, -1.0f32), |(a, b), p| (a.min(p[0]), b.max(p[1])));
    assert!(
        (mn + 0.6).abs() < 0.01 && (mx - 0.6).abs() < 0.01,
        "{mn} {mx}"
    );
    assert!(buf.waveform.chunks(2).all(|p| p[0] <= p[1]));
}

#[test]
fn very_low_sample_rates_keep_loudness_finite() {
    // Found by fuzzing: at 1 kHz the K-weighting shelf (1.7 kHz) lies above Nyquist.
    let dir = Scratch::new("lowrate");
    let path = dir.path("low.wav");
    let samples: Vec<f32> = (0..2000)
        .map(|i| ((i * 7919) % 200) as f32 / 100.0 - 1.0)
        .collect();
    write_wav_f32(&path, 1_000, 2, &samples);
    let (_, frames) = analyse_with(&path, 30.0, 0.0, None, AnalysisConfig::default());
    assert!(
        frames
            .iter()
            .all(|(f, _)| f.loudness_lufs > -121.0 && f.loudness_lufs < 10.0)
    );
}

/// A damaged header's sample rate is refused when the file is opened, naming the rate, instead
/// of making every video frame millions of samples long (the fuzzer's slow and crashing inputs
/// were 16-bit WAVs claiming about 4.29 GHz).
#[test]
fn implausible_sample_rates_are_refused_with_the_rate_named() {
    let tone = sine(8_000, 440.0, 0.25, 0.5);
    for rate in [0xffff_4000_u32, 2_000_000, 999] {
        let bytes = audio::wav::encode_i16(rate, 1, &tone);
        let err = AudioDecoder::from_bytes(Path::new("forged.wav"), bytes)
            .map(|_| ())
            .expect_err("an implausible rate must be refused");
        let msg = err.to_string();
        assert!(
            matches!(err, audio::AudioError::Unsupported { .. }) && msg.contains(&rate.to_string()),
            "{rate}: {msg}"
        );
    }
    // The ends of the accepted range still open.
    for rate in [*audio::SAMPLE_RATES.start(), *audio::SAMPLE_RATES.end()] {
        let bytes = audio::wav::encode_i16(rate, 1, &tone);
        AudioDecoder::from_bytes(Path::new("edge.wav"), bytes)
            .unwrap_or_else(|e| panic!("{rate} Hz must open: {e}"));
    }
}

/// An M4A whose time-to-sample table gives a damaged packet 4.28 billion frames (found by the
/// fuzzer, which then ran out of memory): the packet is reported as corruption instead of
/// being replaced by 17 GB of silence.
#[test]
fn a_damaged_packet_claiming_billions_of_frames_is_corruption_not_silence() {
    // The fuzz corpus file starts with the fuzz target's format selector byte.
    let input =
        include_bytes!("../../../fuzz/corpus/audio_containers/damaged-stts-4g-frame-packet.m4a");
    let mut decoder = AudioDecoder::from_bytes(Path::new("damaged.m4a"), input[1..].to_vec())
        .expect("the header itself is readable");
    let err = loop {
        match decoder.next_block() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the damaged packet must be reported"),
            Err(e) => break e,
        }
    };
    let msg = err.to_string();
    assert!(
        matches!(err, audio::AudioError::Corrupt { .. }) && msg.contains("frames"),
        "{msg}"
    );
}
