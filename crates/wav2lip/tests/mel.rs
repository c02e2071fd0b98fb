//! The mel front end against its definition and against librosa.
//!
//! The librosa tests need Python packages: the first test that needs them installs
//! `PIP_PACKAGES` with pip into `<target>/test-cache/` (once; about 30 s and 500 MB on a fresh
//! machine) and runs `tests/fixtures/librosa_ref.py` with them. When pip cannot reach the index
//! those tests print `SKIPPED` on stderr and pass, except under `CI=true`, where they fail.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use test_support::Scratch;
use wav2lip::mel::{self, MelSpectrogram, N_BINS, N_MELS, WINDOW_FRAMES};
use wav2lip::npy;

/// The reference packages, pinned: the numbers compared depend on them.
const PIP_PACKAGES: &[&str] = &[
    "librosa==0.10.2.post1",
    "numpy==2.4.6",
    "scipy==1.17.1",
    "soxr==1.1.0",
];

/// Largest difference allowed between our normalised mel and librosa's (on the -4..4 scale).
/// Both run the same float64 arithmetic from the same float32 samples with the same float32
/// filterbank; what differs is summation order (FFT, BLAS dot product) and libm, ~1e-12
/// relative, and the f32 rounding of our output (at most 2.4e-7 at |v| = 4). 1e-4 is 400 times
/// that and still far below any real mistake: a wrong window, padding mode, mel scale or
/// reference level moves values by 1e-2 or more.
const MEL_TOLERANCE: f32 = 1e-4;

/// Writes to the real stderr, past the test harness's capture, so that skips are seen.
fn note(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// Skips a test that needs Python, or fails it under `CI=true`.
fn skip<T>(reason: &str) -> Option<T> {
    if test_support::ci() {
        panic!("{reason} (CI=true: the Python reference is required)");
    }
    test_support::skip("wav2lip mel reference tests", reason);
    None
}

/// The folder holding the installed reference packages, installing them on first use.
fn pylibs() -> Option<&'static Path> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match DIR.get_or_init(install_pylibs) {
        Ok(dir) => Some(dir),
        Err(reason) => skip(reason),
    }
}

fn install_pylibs() -> Result<PathBuf, String> {
    let name = format!(
        "pylibs-{}",
        PIP_PACKAGES.join("_").replace("==", "-").replace('.', "_")
    );
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let cache_root = target.parent().unwrap_or(target).join("test-cache");
    let dir = cache_root.join(&name);
    if dir.join(".complete").exists() {
        return Ok(dir);
    }
    match Command::new("python3").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => return Err("python3 is not available to compute the librosa reference".into()),
    }
    std::fs::create_dir_all(&cache_root).map_err(|e| format!("{}: {e}", cache_root.display()))?;
    let partial = cache_root.join(format!("{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    let start = Instant::now();
    let out = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
        ])
        .args(["--retries", "2", "--timeout", "30", "--target"])
        .arg(&partial)
        .args(PIP_PACKAGES)
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .output()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&partial);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("ERROR")).collect();
        let last: Vec<&str> = stderr.lines().rev().take(3).collect();
        let why = if errors.is_empty() {
            last.into_iter().rev().collect::<Vec<_>>().join(" | ")
        } else {
            errors.join(" | ")
        };
        return Err(format!("pip could not install {PIP_PACKAGES:?}: {why}"));
    }
    std::fs::write(partial.join(".complete"), PIP_PACKAGES.join("\n"))
        .map_err(|e| format!("{}: {e}", partial.display()))?;
    if std::fs::rename(&partial, &dir).is_err() {
        // Another process finished first; use its copy.
        let _ = std::fs::remove_dir_all(&partial);
        if !dir.join(".complete").exists() {
            return Err(format!("cannot move the packages into {}", dir.display()));
        }
    }
    note(&format!(
        "installed {PIP_PACKAGES:?} into {} in {:.1} s",
        dir.display(),
        start.elapsed().as_secs_f64()
    ));
    Ok(dir)
}

/// Runs the fixture script; a failure here (packages installed) is a test failure.
fn run_fixture(pylibs: &Path, args: &[&Path]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/librosa_ref.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .env("PYTHONPATH", pylibs)
        .env("PYTHONNOUSERSITE", "1")
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{stdout}\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Deterministic uniform noise in [-1, 1) (xorshift64*).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (r >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// 3 s + 137 samples at 16 kHz, 16-bit: silence, a 60 Hz -> 7.8 kHz chirp, white noise, a very
/// quiet tone in faint noise (values near the -4 floor) and a loud harmonic tone (near +4).
fn test_signal_i16() -> Vec<i16> {
    let sr = 16_000.0;
    let n = 3 * 16_000 + 137;
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let two_pi = 2.0 * std::f64::consts::PI;
    (0..n)
        .map(|i| {
            let t = i as f64 / sr;
            let x = if t < 0.5 {
                0.0
            } else if t < 1.7 {
                let tau = t - 0.5;
                let (f0, f1, d) = (60.0, 7800.0, 1.2);
                0.6 * (two_pi * (f0 * tau + (f1 - f0) / (2.0 * d) * tau * tau)).sin()
            } else if t < 2.3 {
                0.3 * noise.next()
            } else if t < 2.6 {
                1e-3 * (two_pi * 300.0 * t).sin() + 1e-4 * noise.next()
            } else {
                (1..=5)
                    .map(|h| 0.9 / f64::from(h) * (two_pi * 150.0 * f64::from(h) * t).sin())
                    .sum::<f64>()
                    .clamp(-1.0, 1.0)
            };
            (x * 32767.0).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

fn wav_i16(rate: u32, samples: &[i16]) -> Vec<u8> {
    let mut bytes = audio::wav::header(rate, 1, 16, false, (samples.len() * 2) as u32);
    for s in samples {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    bytes
}

/// The librosa reference for [`test_signal_i16`]: (our samples, WAV path, reference mel
/// (80, T), reference filterbank (80, 401)). Computed once for the tests that use it.
struct MelReference {
    /// The folder of `wav` (a static: never dropped, so it stays for the process).
    _dir: Scratch,
    samples: Vec<f32>,
    wav: PathBuf,
    mel: (Vec<usize>, Vec<f32>),
    basis: (Vec<usize>, Vec<f32>),
}

fn mel_reference() -> Option<&'static MelReference> {
    static REF: OnceLock<Option<MelReference>> = OnceLock::new();
    let pylibs = pylibs()?;
    REF.get_or_init(|| {
        let dir = Scratch::new("librosa_mel");
        let q = test_signal_i16();
        let wav = dir.join("signal.wav");
        std::fs::write(&wav, wav_i16(16_000, &q)).expect("write wav");
        let (mel_path, basis_path) = (dir.join("mel_ref.npy"), dir.join("basis_ref.npy"));
        let start = Instant::now();
        let stdout = run_fixture(pylibs, &[Path::new("mel"), &wav, &mel_path, &basis_path]);
        note(&format!(
            "{} ({:.1} s)",
            stdout.trim(),
            start.elapsed().as_secs_f64()
        ));
        Some(MelReference {
            _dir: dir,
            samples: q.iter().map(|&s| f32::from(s) / 32768.0).collect(),
            wav,
            mel: npy::read_f32(&mel_path).expect("read reference mel"),
            basis: npy::read_f32(&basis_path).expect("read reference basis"),
        })
    })
    .as_ref()
}

#[test]
fn mel_matches_librosa() {
    let Some(r) = mel_reference() else { return };
    let ours = mel::mel_from_16k(&r.samples);
    let t = 1 + r.samples.len() / 200;
    assert_eq!(ours.frames, t);
    assert_eq!(r.mel.0, vec![N_MELS, t]);
    let (mut max, mut sum, mut at) = (0f32, 0f64, 0);
    for (i, (a, b)) in ours.data.iter().zip(&r.mel.1).enumerate() {
        let d = (a - b).abs();
        sum += f64::from(d);
        if d > max {
            (max, at) = (d, i);
        }
    }
    note(&format!(
        "mel vs librosa: max |diff| {max:.3e} (band {}, frame {}), mean {:.3e} over {} values",
        at / t,
        at % t,
        sum / ours.data.len() as f64,
        ours.data.len()
    ));
    assert!(
        max < MEL_TOLERANCE,
        "max |diff| {max} at band {}, frame {}",
        at / t,
        at % t
    );
    // The signal covers the whole scale, so the comparison does too.
    let floor = r.mel.1.iter().filter(|&&v| v == -4.0).count();
    let inside = r.mel.1.iter().filter(|&&v| v > -3.9 && v < 3.9).count();
    let top = r.mel.1.iter().cloned().fold(f32::MIN, f32::max);
    assert!(
        floor > 1000 && inside > 5000 && top > 3.0,
        "{floor} {inside} {top}"
    );
}

/// The same comparison without Python: librosa's mel of [`test_signal_i16`] (librosa
/// 0.10.2.post1 through tests/fixtures/librosa_ref.py `mel`, the float64 result rounded to
/// float32) is committed as tests/fixtures/oracle/librosa-mel-test-signal.npy, so CI checks the
/// front end against an independent implementation even where pip cannot reach the index.
#[test]
fn mel_matches_the_committed_librosa_output() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/oracle/librosa-mel-test-signal.npy");
    let (shape, want) = npy::read_f32(&path).expect("the committed librosa mel");
    let samples: Vec<f32> = test_signal_i16()
        .iter()
        .map(|&s| f32::from(s) / 32768.0)
        .collect();
    let ours = mel::mel_from_16k(&samples);
    assert_eq!(shape, vec![N_MELS, ours.frames]);
    let max = ours
        .data
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    note(&format!(
        "mel vs committed librosa output: max |diff| {max:.3e}"
    ));
    // Rounding librosa's float64 to float32 adds at most 2.4e-7 at |v| = 4.
    assert!(max < MEL_TOLERANCE, "max |diff| {max:e}");
    let spread = want
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    assert!(
        spread.0 <= -3.99 && spread.1 > 3.0,
        "reference range {spread:?}"
    );
}

#[test]
fn mel_from_wav_file_matches_the_in_memory_path() {
    let Some(r) = mel_reference() else { return };
    // 16 kHz: decoding and the identity resampler must give the very same samples.
    let from_file = mel::mel_from_file(&r.wav).expect("mel of the WAV");
    assert_eq!(from_file, mel::mel_from_16k(&r.samples));
}

#[test]
fn filterbank_matches_librosa() {
    let Some(r) = mel_reference() else { return };
    let ours = mel::mel_filterbank();
    assert_eq!(r.basis.0, vec![N_MELS, N_BINS]);
    let mut worst = 0f64;
    for (i, (&a, &b)) in ours.iter().zip(&r.basis.1).enumerate() {
        let (a, b) = (f64::from(a), f64::from(b));
        let rel = (a - b).abs() / b.abs().max(1e-30);
        if a != b {
            worst = worst.max(rel);
        }
        assert!(
            (a - b).abs() <= 1e-6 * b.abs(),
            "weight [{}, {}]: ours {a:e}, librosa {b:e}",
            i / N_BINS,
            i % N_BINS
        );
    }
    let identical = ours.iter().zip(&r.basis.1).filter(|(a, b)| a == b).count();
    note(&format!(
        "filterbank vs librosa: {identical}/{} weights bit-identical, worst relative diff {worst:.2e}",
        ours.len()
    ));
}

/// Least-squares fit of `A sin(2 pi f (k / 16000 - tau))` over `range` (a whole number of
/// periods): (A, tau in seconds, RMS of the residual).
fn fit_sine(x: &[f32], f: f64, range: Range<usize>) -> (f64, f64, f64) {
    let w = 2.0 * std::f64::consts::PI * f / 16_000.0;
    let n = range.len() as f64;
    let (mut s, mut c) = (0.0, 0.0);
    for k in range.clone() {
        s += f64::from(x[k]) * (w * k as f64).sin();
        c += f64::from(x[k]) * (w * k as f64).cos();
    }
    let (a_cos, a_sin) = (2.0 * s / n, -2.0 * c / n);
    let amp = a_cos.hypot(a_sin);
    let tau = a_sin.atan2(a_cos) / (2.0 * std::f64::consts::PI * f);
    let mut err = 0.0;
    for k in range {
        let model = amp * (w * k as f64 - 2.0 * std::f64::consts::PI * f * tau).sin();
        err += (f64::from(x[k]) - model).powi(2);
    }
    (amp, tau, (err / n).sqrt())
}

/// Frequency from the mean spacing of rising zero crossings (linearly interpolated).
fn zero_crossing_frequency(x: &[f32], range: Range<usize>) -> f64 {
    let crossings: Vec<f64> = range
        .clone()
        .skip(1)
        .filter(|&k| x[k - 1] < 0.0 && x[k] >= 0.0)
        .map(|k| {
            let (a, b) = (f64::from(x[k - 1]), f64::from(x[k]));
            (k - 1) as f64 + a / (a - b)
        })
        .collect();
    let (first, last) = (crossings[0], crossings[crossings.len() - 1]);
    16_000.0 * (crossings.len() - 1) as f64 / (last - first)
}

fn expected_len(n: usize, rate: u32) -> usize {
    ((n as f64) * 16_000.0 / f64::from(rate)).round() as usize
}

#[test]
fn resampled_sine_keeps_frequency_amplitude_and_phase() {
    let f = 1000.0;
    for rate in [44_100u32, 48_000, 22_050, 96_000, 8_000, 11_127] {
        let n = 2 * rate as usize + 77;
        let x: Vec<f32> = (0..n)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * f * i as f64 / f64::from(rate)).sin()) as f32
            })
            .collect();
        let y = mel::resample_to_16k(&x, rate).expect("resample");
        assert_eq!(y.len(), expected_len(n, rate), "{rate} Hz: length");
        // Away from the abrupt start and end: 0.25 s .. 1.75 s, 1500 whole periods.
        let range = 4000..28_000;
        let (amp, tau, rms) = fit_sine(&y, f, range.clone());
        let gain_db = 20.0 * (amp / 0.5).log10();
        let freq = zero_crossing_frequency(&y, range.clone());
        note(&format!(
            "resample {rate} Hz -> 16 kHz: gain {gain_db:+.2e} dB, shift {:+.2e} us, \
             residual {:.1} dB, zero-crossing frequency {freq:.5} Hz",
            tau * 1e6,
            20.0 * (rms / amp).log10()
        ));
        assert!(gain_db.abs() < 0.1, "{rate} Hz: gain {gain_db} dB");
        // One output sample is 62.5 us; an uncompensated latency would be whole samples.
        assert!(tau.abs() < 1e-6, "{rate} Hz: time shift {tau} s");
        assert!(rms / amp < 1e-4, "{rate} Hz: residual {rms}");
        assert!((freq - f).abs() < 0.01, "{rate} Hz: frequency {freq}");
        // The value at a known time, directly: t = 1.0003125 s (k = 16005).
        let k = 16_005;
        let want = 0.5 * (2.0 * std::f64::consts::PI * f * k as f64 / 16_000.0).sin();
        assert!(
            (f64::from(y[k]) - want).abs() < 1e-4,
            "{rate} Hz: y[{k}] = {}",
            y[k]
        );
    }
}

#[test]
fn resampled_lengths_and_identity() {
    for rate in [44_100u32, 48_000, 8_000, 11_127, 16_001] {
        // Including whole numbers of the resampler's input chunks (3528 at 44.1 kHz, 3072 at
        // 48 kHz), which leave nothing pending at the end.
        for n in [
            0usize, 1, 2, 3, 441, 999, 3072, 3528, 7056, 44_100, 44_101, 100_003, 141_120,
        ] {
            let x = vec![0.25f32; n];
            let y = mel::resample_to_16k(&x, rate).expect("resample");
            assert_eq!(y.len(), expected_len(n, rate), "{rate} Hz, {n} samples");
        }
    }
    let x: Vec<f32> = (0..12_345)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    assert_eq!(mel::resample_to_16k(&x, 16_000).expect("identity"), x);
    // A constant level stays that level (unit DC gain), away from the edges.
    let y = mel::resample_to_16k(&vec![0.25f32; 44_100], 44_100).expect("dc");
    assert!(y[2000..14_000].iter().all(|&v| (v - 0.25).abs() < 1e-6));
}

/// A 1.5 s signal of tones and a chirp, all below 6.5 kHz (in both resamplers' passbands).
fn band_limited_signal(rate: u32) -> Vec<f32> {
    let sr = f64::from(rate);
    let two_pi = 2.0 * std::f64::consts::PI;
    (0..(sr * 1.5) as usize)
        .map(|i| {
            let t = i as f64 / sr;
            let tones: f64 = [200.0, 440.0, 1000.0, 2500.0, 5000.0, 6500.0]
                .iter()
                .map(|f| 0.08 * (two_pi * f * t).sin())
                .sum();
            let chirp = 0.2 * (two_pi * (100.0 * t + 5900.0 / 3.0 * t * t)).sin();
            (tones + chirp) as f32
        })
        .collect()
}

#[test]
fn resample_matches_librosa_soxr_hq() {
    let Some(pylibs) = pylibs() else { return };
    let dir = Scratch::new("librosa_resample");
    for rate in [44_100u32, 48_000, 22_050] {
        let x = band_limited_signal(rate);
        let input = dir.join(format!("in_{rate}.npy"));
        let output = dir.join(format!("soxr_{rate}.npy"));
        npy::write_f32(&input, &[x.len()], &x).expect("write input");
        let rate_text = PathBuf::from(rate.to_string());
        run_fixture(
            pylibs,
            &[Path::new("resample"), &input, &rate_text, &output],
        );
        let (_, reference) = npy::read_f32(&output).expect("read soxr output");
        let ours = mel::resample_to_16k(&x, rate).expect("resample");
        // Compare away from the edges (0.1 s in from each end).
        let end = ours.len().min(reference.len()) - 1600;
        let (mut signal, mut noise) = (0.0, 0.0);
        for k in 1600..end {
            signal += f64::from(reference[k]).powi(2);
            noise += f64::from(ours[k] - reference[k]).powi(2);
        }
        let snr = 10.0 * (signal / noise).log10();
        note(&format!(
            "resample {rate} Hz vs librosa soxr_hq: SNR {snr:.1} dB; lengths ours {} soxr {}",
            ours.len(),
            reference.len()
        ));
        assert!(snr > 60.0, "{rate} Hz: SNR {snr} dB");
    }
}

#[test]
fn mel_from_file_mixes_channels_and_resamples() {
    let dir = Scratch::new("stereo");
    let rate = 44_100u32;
    let left = band_limited_signal(rate);
    let right: Vec<f32> = left
        .iter()
        .enumerate()
        .map(|(i, &v)| 0.5 * v - (i % 7) as f32 * 0.01)
        .collect();
    let interleaved: Vec<f32> = left
        .iter()
        .zip(&right)
        .flat_map(|(&l, &r)| [l, r])
        .collect();
    let path = dir.join("stereo.wav");
    std::fs::write(&path, audio::wav::encode_f32(rate, 2, &interleaved)).expect("write wav");
    let mono: Vec<f32> = left
        .iter()
        .zip(&right)
        .map(|(&l, &r)| (l + r) * 0.5)
        .collect();
    let want = mel::mel_from_16k(&mel::resample_to_16k(&mono, rate).expect("resample"));
    let got = mel::mel_from_file(&path).expect("mel of the file");
    assert_eq!(got.frames, 1 + expected_len(left.len(), rate) / 200);
    let max = got
        .data
        .iter()
        .zip(&want.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(max < 1e-5, "streamed vs in-memory: {max}");
}

#[test]
fn mel_from_file_errors_name_the_file() {
    let dir = Scratch::new("errors");
    let missing = dir.join("missing.wav");
    let err = mel::mel_from_file(&missing).unwrap_err().to_string();
    assert!(err.contains("missing.wav"), "{err}");
    let junk = dir.join("junk.wav");
    std::fs::write(&junk, b"this is not audio at all, just text").expect("write");
    let err = mel::mel_from_file(&junk).unwrap_err().to_string();
    assert!(err.contains("junk.wav"), "{err}");
}

#[test]
fn window_starts_follow_the_original_formula() {
    // T for 1 s of 16 kHz audio: 1 + 16000 / 200 = 81; the last window starts at 65.
    let t = mel::mel_from_16k(&vec![0.0; 16_000]).frames;
    assert_eq!(t, 81);
    // 25 fps: 3.2 mel frames per video frame.
    let starts: Vec<usize> = (0..8).map(|i| mel::window_start(i, 25.0, 10_000)).collect();
    assert_eq!(starts, [0, 3, 6, 9, 12, 16, 19, 22]);
    assert_eq!(mel::window_start(20, 25.0, t), 64); // 64 + 16 <= 81: still its own
    assert_eq!(mel::window_start(21, 25.0, t), 65); // 67 + 16 > 81: the last window
    assert_eq!(mel::window_start(1000, 25.0, t), 65);
    // 30 fps: 2.666.. per frame; 3 * 80 / 30 = 8 exactly.
    let starts: Vec<usize> = (0..9).map(|i| mel::window_start(i, 30.0, 10_000)).collect();
    assert_eq!(starts, [0, 2, 5, 8, 10, 13, 16, 18, 21]);
    assert_eq!(mel::window_start(300, 30.0, 100_000), 800);
    // 29.97 fps: 2.66933.. per frame.
    let starts: Vec<usize> = (0..10)
        .map(|i| mel::window_start(i, 29.97, 10_000))
        .collect();
    assert_eq!(starts, [0, 2, 5, 8, 10, 13, 16, 18, 21, 24]);
    assert_eq!(mel::window_start(100, 29.97, 100_000), 266);
    assert_eq!(mel::window_start(1000, 29.97, 100_000), 2669);
    // NTSC as a ratio: 30000 frames at 30000/1001 fps are exactly 1001 s = 80080 mel frames.
    assert_eq!(
        mel::window_start(30_000, 30_000.0 / 1001.0, 200_000),
        80_080
    );
    // Fewer than 16 mel frames: 0.
    assert_eq!(mel::window_start(3, 25.0, 10), 0);
}

#[test]
fn frame_windows_shape_content_and_last_window() {
    let frames = 81;
    let data: Vec<f32> = (0..N_MELS * frames)
        .map(|i| (i % 997) as f32 / 997.0)
        .collect();
    let mel = MelSpectrogram { frames, data };
    let video_frames = 30;
    let windows = mel::frame_windows(&mel, 25.0, video_frames);
    assert_eq!(windows.len(), video_frames * N_MELS * WINDOW_FRAMES);
    for i in 0..video_frames {
        let start = mel::window_start(i, 25.0, frames);
        assert!(start + WINDOW_FRAMES <= frames);
        if i >= 21 {
            assert_eq!(start, frames - WINDOW_FRAMES, "frame {i}: the last window");
        }
        for m in 0..N_MELS {
            for j in 0..WINDOW_FRAMES {
                let got = windows[((i * N_MELS) + m) * WINDOW_FRAMES + j];
                assert_eq!(
                    got,
                    mel.value(m, start + j),
                    "frame {i}, band {m}, column {j}"
                );
            }
        }
    }
    assert!(mel::frame_windows(&mel, 25.0, 0).is_empty());
}

#[test]
fn npy_files_round_trip_through_numpy() {
    let Some(pylibs) = pylibs() else { return };
    let ours = Scratch::new("npy_ours");
    let theirs = Scratch::new("npy_numpy");
    let pattern = |n: usize| (0..n).map(|i| i as f32 * 0.5 - 3.0).collect::<Vec<f32>>();
    for (name, shape) in [
        ("a.npy", vec![3, 4, 5]),
        ("b.npy", vec![7]),
        ("c.npy", vec![]),
        ("d.npy", vec![80, 201]),
    ] {
        let n = shape.iter().product();
        npy::write_f32(&ours.join(name), &shape, &pattern(n)).expect("write npy");
    }
    run_fixture(pylibs, &[Path::new("npy"), &ours, &theirs]);
    for (name, shape) in [
        ("np_f4.npy", vec![2, 3, 4]),
        ("np_f8.npy", vec![5, 6]),
        ("np_scalar.npy", vec![]),
        ("np_1d.npy", vec![9]),
        ("np_v2.npy", vec![4, 2]),
    ] {
        let (s, d) = npy::read_f32(&theirs.join(name)).expect(name);
        assert_eq!(s, shape, "{name}");
        assert_eq!(d, pattern(shape.iter().product()), "{name}");
    }
    for (name, needle) in [
        ("np_fortran.npy", "Fortran"),
        ("np_i4.npy", "'<i4'"),
        ("np_be.npy", "'>f4'"),
    ] {
        let err = npy::read_f32(&theirs.join(name)).unwrap_err().to_string();
        assert!(err.contains(needle) && err.contains(name), "{name}: {err}");
    }
}

/// The streamed windows equal the whole-file windows bit for bit, for several rates, channel
/// counts and frame rates, up to and past the end of the audio; the stream's buffers stay
/// bounded for a long file.
#[test]
fn streamed_windows_equal_the_whole_file_windows() {
    let dir = Scratch::new("stream");
    for (rate, channels, seconds) in [
        (44_100u32, 2usize, 3.3f32),
        (16_000, 1, 2.0),
        (48_000, 1, 0.15),
    ] {
        let n = (rate as f32 * seconds) as usize;
        let samples: Vec<f32> = (0..n * channels)
            .map(|i| {
                let t = (i / channels) as f32 / rate as f32;
                0.3 * (t * 2.0 * std::f32::consts::PI * (180.0 + 400.0 * t)).sin()
                    + 0.05 * ((i * 7919 % 101) as f32 / 101.0 - 0.5)
            })
            .collect();
        let path = dir.join(format!("s{rate}-{channels}.wav"));
        std::fs::write(
            &path,
            audio::wav::encode_f32(rate, channels as u16, &samples),
        )
        .expect("write wav");
        let whole = mel::mel_from_file(&path).expect("mel");
        for fps in [25.0, 30_000.0 / 1001.0, 60.0] {
            let frames = (f64::from(seconds) * fps) as usize + 3;
            let want = mel::frame_windows(&whole, fps, frames);
            let mut stream = mel::MelStream::open(&path).expect("stream");
            for i in 0..frames {
                let start = (i as f64 * (80.0 / fps)) as usize;
                let got = stream.window(i, fps).expect("window");
                if start >= whole.frames {
                    assert!(
                        got.is_none(),
                        "{rate} Hz, {fps} fps, frame {i}: after the end"
                    );
                    continue;
                }
                let got = got.expect("a window before the end");
                let per = N_MELS * WINDOW_FRAMES;
                assert!(
                    got == &want[i * per..(i + 1) * per],
                    "{rate} Hz x{channels}, {fps} fps, frame {i}: streamed window differs"
                );
            }
            assert_eq!(stream.frames(), Some(whole.frames));
        }
    }
    // A minute of audio: the stream holds about one window's worth of samples and columns.
    let rate = 16_000u32;
    let long: Vec<f32> = (0..rate as usize * 60)
        .map(|i| ((i % 160) as f32 / 80.0) - 1.0)
        .collect();
    let path = dir.join("long.wav");
    std::fs::write(&path, audio::wav::encode_f32(rate, 1, &long)).expect("write wav");
    let mut stream = mel::MelStream::open(&path).expect("stream");
    let mut most = (0, 0);
    for i in 0..60 * 25 {
        stream.window(i, 25.0).expect("window");
        let (s, c) = stream.buffered();
        most = (most.0.max(s), most.1.max(c));
    }
    assert!(most.0 < rate as usize, "held {} samples", most.0);
    assert!(most.1 <= 2 * WINDOW_FRAMES, "held {} columns", most.1);
}
