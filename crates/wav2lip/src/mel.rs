//! Wav2Lip's audio front end: the normalised log-mel spectrogram the network was trained on, and
//! the 80x16 window of it that goes with each video frame.
//!
//! The steps, as the original computes them (numbers from its `hparams.py`):
//!
//! 1. Mono at 16 kHz ([`resample_to_16k`]; [`mel_from_file`] decodes, averages the channels and
//!    resamples).
//! 2. Pre-emphasis `y[n] = x[n] - 0.97 x[n-1]`, `y[0] = x[0]`.
//! 3. STFT: periodic Hann window of 800 samples, FFT size 800, hop 200, centred: the signal is
//!    extended by 400 samples on each side by reflection about its first and last samples (NumPy's
//!    `reflect`, the default of the librosa 0.7 the original used); magnitude, not power.
//!    `T = 1 + floor(N / 200)` frames, 80 per second.
//! 4. Mel filterbank ([`mel_filterbank`]): 80 triangular bands between 55 Hz and 7600 Hz on
//!    Slaney's mel scale (linear below 1 kHz, logarithmic above), each scaled to unit area
//!    (`2 / (f_hi - f_lo)`), stored as `f32` as librosa does.
//! 5. `S = 20 log10(max(1e-5, mel)) - 20` (dB relative to the reference level 20 dB).
//! 6. `clip(8 (S + 100) / 100 - 4, -4, 4)`.
//!
//! Steps 2 to 6 run in `f64`, as NumPy runs them in the original (pre-emphasis there yields
//! float64), with the filterbank's `f32` weights; the result is stored as `f32`.

use std::path::{Path, PathBuf};

use audio::{AudioDecoder, AudioError};
use realfft::RealFftPlanner;
use realfft::num_complex::Complex;
use rubato::{FftFixedIn, Resampler};

/// Sample rate of the audio the mel spectrogram is computed from.
pub const SAMPLE_RATE: u32 = 16_000;
/// FFT size and window length of the STFT, in samples.
pub const N_FFT: usize = 800;
/// Hop between STFT frames, in samples (80 frames per second at 16 kHz).
pub const HOP: usize = 200;
/// Mel bands.
pub const N_MELS: usize = 80;
/// Mel frames in the window fed to the network with each video frame (0.2 s).
pub const WINDOW_FRAMES: usize = 16;
/// Frequency bins of one STFT frame (`N_FFT / 2 + 1`).
pub const N_BINS: usize = N_FFT / 2 + 1;
/// Lowest edge of the mel filterbank, in Hz.
pub const FMIN: f64 = 55.0;
/// Highest edge of the mel filterbank, in Hz.
pub const FMAX: f64 = 7600.0;
/// Pre-emphasis coefficient.
pub const PREEMPHASIS: f64 = 0.97;
/// Mel frames per second (`SAMPLE_RATE / HOP`).
pub const MEL_FRAMES_PER_SECOND: f64 = 80.0;
/// Smallest normalised value (silence).
pub const MIN_VALUE: f32 = -4.0;
/// Largest normalised value.
pub const MAX_VALUE: f32 = 4.0;

/// Magnitudes below this floor count as the floor before taking logarithms.
const AMP_FLOOR: f64 = 1e-5;
/// dB subtracted from every value (`ref_level_db`).
const REF_LEVEL_DB: f64 = 20.0;
/// dB mapped to [`MIN_VALUE`] (`min_level_db`).
const MIN_LEVEL_DB: f64 = -100.0;
/// Half the range of normalised values (`max_abs_value`).
const MAX_ABS_VALUE: f64 = 4.0;
/// Highest input sample rate accepted: the FFT resampler's buffers grow with the rate when it
/// shares no large factor with 16 kHz.
pub const MAX_INPUT_RATE: u32 = 2_000_000;
/// The FFT resampler produces at least this many output samples per FFT: longer FFTs give a
/// longer anti-aliasing filter, a higher cut-off (about 7.9 kHz at 1024) and a flatter passband.
const MIN_FFT_OUT: usize = 1024;

/// Why a mel spectrogram could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum MelError {
    /// The audio file could not be opened or decoded (the message names the file).
    #[error(transparent)]
    Decode(#[from] AudioError),
    /// The input sample rate is 0 or above [`MAX_INPUT_RATE`].
    #[error(
        "sample rate {rate} Hz is not supported: it must be between 1 Hz and {MAX_INPUT_RATE} Hz"
    )]
    InvalidRate { rate: u32 },
    /// The resampler failed.
    #[error("cannot resample audio from {rate} Hz to 16000 Hz: {reason}")]
    Resample { rate: u32, reason: String },
    /// Any other error while processing a file, with the file's name.
    #[error("audio file {}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: Box<MelError>,
    },
}

impl MelError {
    /// Adds the file's name to an error that lacks it.
    fn in_file(self, path: &Path) -> Self {
        match self {
            e @ (Self::Decode(_) | Self::File { .. }) => e,
            e => Self::File {
                path: path.to_owned(),
                source: Box::new(e),
            },
        }
    }
}

/// A normalised log-mel spectrogram: values in [`MIN_VALUE`]..=[`MAX_VALUE`].
#[derive(Debug, Clone, PartialEq)]
pub struct MelSpectrogram {
    /// Number of mel frames `T` (columns), 80 per second of audio.
    pub frames: usize,
    /// Row-major `(N_MELS, frames)`: band `m` (0 = lowest) at frame `t` is `data[m * frames + t]`.
    pub data: Vec<f32>,
}

impl MelSpectrogram {
    /// The value of band `mel` at frame `frame`. Panics when either is out of range.
    pub fn value(&self, mel: usize, frame: usize) -> f32 {
        assert!(
            mel < N_MELS && frame < self.frames,
            "mel index out of range"
        );
        self.data[mel * self.frames + frame]
    }

    /// Duration covered, in seconds (`frames / 80`).
    pub fn duration_secs(&self) -> f64 {
        self.frames as f64 / MEL_FRAMES_PER_SECOND
    }
}

/// Resamples mono audio at `rate` Hz to 16 kHz.
///
/// The output has `round(samples.len() * 16000 / rate)` samples and output sample `k` is the
/// band-limited input at time `k / 16000` s: the resampler's latency is removed, so sample 0 stays
/// at time 0. 16 kHz input is returned unchanged. Audio before the start and after the end counts
/// as silence.
///
/// The resampler is rubato's synchronous FFT resampler in `f64`: the rate ratio is reduced to
/// `p / q`, the input is cut into chunks of `q * k` samples (`k` even, with at least
/// [`MIN_FFT_OUT`] output samples per chunk) and each chunk is filtered in the frequency domain by a
/// Blackman-Harris²-windowed sinc as long as the chunk, cut off just below 8 kHz (or below the
/// input's Nyquist frequency when upsampling), with overlap-add. Its delay is exactly half a chunk
/// (`p * k / 2` output samples, a whole number because `k` is even), which is dropped.
pub fn resample_to_16k(samples: &[f32], rate: u32) -> Result<Vec<f32>, MelError> {
    let mut resampler = StreamResampler::new(rate)?;
    resampler.push(samples)?;
    resampler.finish()
}

/// Resamples a stream pushed block by block, keeping one FFT chunk of input in memory.
struct StreamResampler {
    rate: u32,
    /// Input samples pushed so far.
    in_len: u64,
    /// `None` at 16 kHz (no resampling).
    fft: Option<FftStage>,
    out: Vec<f32>,
    /// Output samples already handed out by [`Self::drain`].
    drained: usize,
}

/// The resampler proper and its buffers.
struct FftStage {
    resampler: FftFixedIn<f64>,
    /// Input samples per call (one FFT chunk).
    chunk: usize,
    /// Input not yet processed (less than `chunk` between calls).
    pending: Vec<f64>,
    /// Output samples still to drop to remove the latency.
    skip: usize,
    out_buf: Vec<Vec<f64>>,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl StreamResampler {
    fn new(rate: u32) -> Result<Self, MelError> {
        if rate == 0 || rate > MAX_INPUT_RATE {
            return Err(MelError::InvalidRate { rate });
        }
        let fft = if rate == SAMPLE_RATE {
            None
        } else {
            let g = gcd(u64::from(rate), u64::from(SAMPLE_RATE)) as usize;
            let p = SAMPLE_RATE as usize / g;
            let q = rate as usize / g;
            // An even number of ratio periods per chunk makes the delay a whole number of
            // output samples.
            let mut k = MIN_FFT_OUT.div_ceil(p);
            k += k % 2;
            let chunk = k * q;
            let resampler =
                FftFixedIn::<f64>::new(rate as usize, SAMPLE_RATE as usize, chunk, 1, 1).map_err(
                    |e| MelError::Resample {
                        rate,
                        reason: e.to_string(),
                    },
                )?;
            let out_buf = resampler.output_buffer_allocate(true);
            let skip = resampler.output_delay();
            Some(FftStage {
                resampler,
                chunk,
                pending: Vec::with_capacity(chunk),
                skip,
                out_buf,
            })
        };
        Ok(Self {
            rate,
            in_len: 0,
            fft,
            out: Vec::new(),
            drained: 0,
        })
    }

    /// Moves the output produced so far to the end of `into`.
    fn drain(&mut self, into: &mut Vec<f32>) {
        self.drained += self.out.len();
        into.append(&mut self.out);
    }

    /// Output length for the input so far: `round(in_len * 16000 / rate)`.
    fn expected_len(&self) -> usize {
        let num = u128::from(self.in_len) * u128::from(SAMPLE_RATE) * 2 + u128::from(self.rate);
        (num / (2 * u128::from(self.rate))) as usize
    }

    fn push(&mut self, samples: &[f32]) -> Result<(), MelError> {
        self.in_len += samples.len() as u64;
        let Some(stage) = &mut self.fft else {
            self.out.extend_from_slice(samples);
            return Ok(());
        };
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (stage.chunk - stage.pending.len()).min(rest.len());
            stage
                .pending
                .extend(rest[..take].iter().map(|&s| f64::from(s)));
            rest = &rest[take..];
            if stage.pending.len() == stage.chunk {
                let (_, n) = stage
                    .resampler
                    .process_into_buffer(&[&stage.pending], &mut stage.out_buf, None)
                    .map_err(|e| resample_error(self.rate, &e))?;
                stage.pending.clear();
                emit(&stage.out_buf[0][..n], &mut stage.skip, &mut self.out);
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<f32>, MelError> {
        let expected = self.expected_len();
        if let Some(stage) = &mut self.fft {
            // The partial last chunk, zero-padded, then silence until the delayed output is out.
            // (rubato reads an empty input slice as a missing channel: pass none instead.)
            let last = [stage.pending.as_slice()];
            let mut input = (!stage.pending.is_empty()).then_some(&last[..]);
            // Each call yields a whole chunk of output; this bounds the loop.
            let max_calls = 2 + (expected + stage.skip) / stage.out_buf[0].len().max(1);
            let mut calls = 0;
            while self.drained + self.out.len() < expected {
                if calls > max_calls {
                    return Err(MelError::Resample {
                        rate: self.rate,
                        reason: "the resampler stopped producing output".into(),
                    });
                }
                calls += 1;
                let (_, n) = stage
                    .resampler
                    .process_partial_into_buffer(input.take(), &mut stage.out_buf, None)
                    .map_err(|e| resample_error(self.rate, &e))?;
                emit(&stage.out_buf[0][..n], &mut stage.skip, &mut self.out);
            }
        }
        self.out.truncate(expected.saturating_sub(self.drained));
        Ok(self.out)
    }
}

fn resample_error(rate: u32, e: &rubato::ResampleError) -> MelError {
    MelError::Resample {
        rate,
        reason: e.to_string(),
    }
}

/// Appends `block` to `out` after dropping the first `*skip` samples (counted down across calls).
fn emit(block: &[f64], skip: &mut usize, out: &mut Vec<f32>) {
    let drop = (*skip).min(block.len());
    *skip -= drop;
    out.extend(block[drop..].iter().map(|&s| s as f32));
}

/// Slaney's mel scale (librosa's default, `htk=False`): linear below 1 kHz (3 mels per 200 Hz),
/// logarithmic above (27 mels per factor 6.4).
fn hz_to_mel(hz: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= min_log_hz {
        min_log_mel + (hz / min_log_hz).ln() / logstep
    } else {
        hz / f_sp
    }
}

/// The inverse of [`hz_to_mel`].
fn mel_to_hz(mel: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        min_log_hz * (logstep * (mel - min_log_mel)).exp()
    } else {
        f_sp * mel
    }
}

/// The mel filterbank, row-major `(N_MELS, N_BINS)`: weight of FFT bin `k` (frequency
/// `k * 20` Hz) in band `m` at `[m * N_BINS + k]`.
///
/// Band edges: `N_MELS + 2` points evenly spaced on the mel scale from `hz_to_mel(55)` to
/// `hz_to_mel(7600)`, converted back to Hz (`f[0..82]`). Band `m` is the triangle rising from
/// `f[m]` to 1 at `f[m+1]` and falling to `f[m+2]`, evaluated at each bin's frequency, then
/// multiplied by `2 / (f[m+2] - f[m])` so that every band has the same area. The arithmetic
/// follows librosa step by step (including the rounding of the triangle to `f32` before the area
/// factor is applied), so the weights agree with `librosa.filters.mel` to the last bit or so.
pub fn mel_filterbank() -> Vec<f32> {
    let sr = f64::from(SAMPLE_RATE);
    // Bin frequencies as NumPy's rfftfreq computes them.
    let bin_step = 1.0 / (N_FFT as f64 * (1.0 / sr));
    let fft_freqs: Vec<f64> = (0..N_BINS).map(|k| k as f64 * bin_step).collect();
    // Band edges: a linspace on the mel scale (endpoint exact, as NumPy sets it).
    let n_points = N_MELS + 2;
    let (min_mel, max_mel) = (hz_to_mel(FMIN), hz_to_mel(FMAX));
    let step = (max_mel - min_mel) / (n_points - 1) as f64;
    let edges: Vec<f64> = (0..n_points)
        .map(|i| {
            let mel = if i == n_points - 1 {
                max_mel
            } else {
                i as f64 * step + min_mel
            };
            mel_to_hz(mel)
        })
        .collect();

    let mut weights = vec![0f32; N_MELS * N_BINS];
    for (m, row) in weights.chunks_exact_mut(N_BINS).enumerate() {
        let (lo, mid, hi) = (edges[m], edges[m + 1], edges[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for (w, &f) in row.iter_mut().zip(&fft_freqs) {
            let lower = -(lo - f) / (mid - lo);
            let upper = (hi - f) / (hi - mid);
            let tri = 0f64.max(lower.min(upper)) as f32;
            *w = (f64::from(tri) * enorm) as f32;
        }
    }
    weights
}

/// The periodic Hann window of [`N_FFT`] samples, as SciPy's `get_window('hann', 800)` computes
/// it: `0.5 + 0.5 cos(x)` for `x` from -pi in steps of `2 pi / 800`.
fn hann_window() -> Vec<f64> {
    // linspace(-pi, pi, 801)[:800]
    let step = 2.0 * std::f64::consts::PI / N_FFT as f64;
    (0..N_FFT)
        .map(|n| 0.5 + 0.5 * (n as f64 * step - std::f64::consts::PI).cos())
        .collect()
}

/// Index into `0..n` of position `i` of the signal extended by reflection about its first and
/// last samples (NumPy's `reflect`: `x[-1] = x[1]`, `x[n] = x[n-2]`, repeated periodically for
/// padding longer than the signal).
fn reflect(i: isize, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let j = i.rem_euclid(period);
    if j >= n as isize {
        (period - j) as usize
    } else {
        j as usize
    }
}

/// Computes one mel column at a time (the STFT frame, its magnitude, the filterbank, the
/// normalisation), with its buffers made once.
struct MelColumns {
    bands: Vec<(usize, Vec<f64>)>,
    window: Vec<f64>,
    fft: std::sync::Arc<dyn realfft::RealToComplex<f64>>,
    frame: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    magnitude: Vec<f64>,
}

impl MelColumns {
    fn new() -> Self {
        // Each band's non-zero weights, widened to f64 (the dot product runs in f64).
        let bank = mel_filterbank();
        let bands = bank
            .chunks_exact(N_BINS)
            .map(|row| {
                let first = row.iter().position(|&w| w != 0.0).unwrap_or(0);
                let last = row.iter().rposition(|&w| w != 0.0).map_or(0, |l| l + 1);
                let weights = row[first..last.max(first)]
                    .iter()
                    .map(|&w| f64::from(w))
                    .collect();
                (first, weights)
            })
            .collect();
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
        Self {
            bands,
            window: hann_window(),
            frame: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            magnitude: vec![0f64; N_BINS],
            fft,
        }
    }

    /// Column `t` of the pre-emphasised signal `y` (`y(i)` for `i` in `t*200-400 ..
    /// t*200+400`, already reflected at the ends), written to `out[b * stride]` for band `b`.
    fn column(&mut self, t: usize, y: impl Fn(isize) -> f64, out: &mut [f32], stride: usize) {
        let origin = (t * HOP) as isize - (N_FFT / 2) as isize;
        for (k, (x, w)) in self.frame.iter_mut().zip(&self.window).enumerate() {
            *x = y(origin + k as isize) * w;
        }
        // The buffers were made by the plan, so their lengths are right and this cannot fail.
        self.fft
            .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
            .expect("FFT buffers sized by their plan");
        for (m, c) in self.magnitude.iter_mut().zip(&self.spectrum) {
            *m = magnitude_of(*c);
        }
        for (b, (first, weights)) in self.bands.iter().enumerate() {
            let mel: f64 = weights
                .iter()
                .zip(&self.magnitude[*first..])
                .map(|(w, m)| w * m)
                .sum();
            out[b * stride] = normalize(mel);
        }
    }
}

/// Wav2Lip's normalised mel spectrogram of mono 16 kHz audio (see the module documentation).
///
/// `T = 1 + floor(N / 200)` frames. Empty input gives one frame of silence ([`MIN_VALUE`]).
pub fn mel_from_16k(samples: &[f32]) -> MelSpectrogram {
    let n = samples.len();
    let frames = 1 + n / HOP;
    if n == 0 {
        return MelSpectrogram {
            frames,
            data: vec![MIN_VALUE; N_MELS * frames],
        };
    }
    // Pre-emphasis, in f64 like scipy.signal.lfilter with float64 coefficients.
    let mut y = Vec::with_capacity(n);
    y.push(f64::from(samples[0]));
    y.extend(
        samples
            .windows(2)
            .map(|w| f64::from(w[1]) - PREEMPHASIS * f64::from(w[0])),
    );
    let mut columns = MelColumns::new();
    let mut data = vec![0f32; N_MELS * frames];
    for t in 0..frames {
        columns.column(t, |i| y[reflect(i, n)], &mut data[t..], frames);
    }
    MelSpectrogram { frames, data }
}

fn magnitude_of(c: Complex<f64>) -> f64 {
    c.re.hypot(c.im)
}

/// dB above the reference, then scaled and clipped to -4..=4.
fn normalize(mel: f64) -> f32 {
    let db = 20.0 * mel.max(AMP_FLOOR).log10() - REF_LEVEL_DB;
    let scaled = (2.0 * MAX_ABS_VALUE) * ((db - MIN_LEVEL_DB) / -MIN_LEVEL_DB) - MAX_ABS_VALUE;
    scaled.clamp(-MAX_ABS_VALUE, MAX_ABS_VALUE) as f32
}

/// An audio file decoded, mixed to mono (mean of the channels) and resampled to 16 kHz, block
/// by block; a stretch the decoder skipped as damaged is filled with silence so that the
/// timeline is kept.
struct Mono16k {
    path: PathBuf,
    decoder: AudioDecoder,
    resampler: Option<StreamResampler>,
    /// Frame index the next decoded frame should have.
    next: u64,
    mono: Vec<f32>,
}

impl Mono16k {
    fn open(path: &Path) -> Result<Self, MelError> {
        let decoder = AudioDecoder::open(path)?;
        let rate = decoder.info().sample_rate;
        let resampler = StreamResampler::new(rate).map_err(|e| e.in_file(path))?;
        Ok(Self {
            path: path.to_owned(),
            decoder,
            resampler: Some(resampler),
            next: 0,
            mono: Vec::new(),
        })
    }

    /// Appends the next 16 kHz samples to `out`; false once the file is exhausted (the
    /// resampler's tail included).
    fn pull(&mut self, out: &mut Vec<f32>) -> Result<bool, MelError> {
        let Some(resampler) = self.resampler.as_mut() else {
            return Ok(false);
        };
        match self.decoder.next_block()? {
            Some(block) => {
                let channels = block.channels.max(1);
                let frames = (block.samples.len() / channels) as u64;
                self.mono.clear();
                if block.first_frame > self.next {
                    let gap = (block.first_frame - self.next) as usize;
                    self.mono.resize(gap, 0.0);
                }
                // Frames already seen (a block that overlaps the previous one) are not repeated.
                let overlap = self.next.saturating_sub(block.first_frame) as usize;
                let inv = 1.0 / channels as f32;
                self.mono.extend(
                    block
                        .samples
                        .chunks_exact(channels)
                        .skip(overlap)
                        .map(|f| f.iter().sum::<f32>() * inv),
                );
                self.next = self.next.max(block.first_frame + frames);
                resampler
                    .push(&self.mono)
                    .map_err(|e| e.in_file(&self.path))?;
                resampler.drain(out);
                Ok(true)
            }
            None => {
                if let Some(r) = self.resampler.take() {
                    out.extend(r.finish().map_err(|e| e.in_file(&self.path))?);
                }
                Ok(true)
            }
        }
    }
}

/// Decodes an audio file (any format [`audio::AudioDecoder`] reads), mixes it to mono (mean of
/// the channels), resamples it to 16 kHz ([`resample_to_16k`]) and returns its mel spectrogram.
///
/// The whole spectrogram is kept (80 values per 1/80 s); [`MelStream`] computes the same
/// windows with memory that does not grow with the duration.
pub fn mel_from_file(path: &Path) -> Result<MelSpectrogram, MelError> {
    let mut source = Mono16k::open(path)?;
    let mut samples = Vec::new();
    while source.pull(&mut samples)? {}
    Ok(mel_from_16k(&samples))
}

/// The per-frame windows of an audio file's mel spectrogram, computed as the frames ask for
/// them, in increasing order: the file is decoded and resampled as far as the window needs, and
/// only the samples and mel columns later windows can still need are kept, so memory stays flat
/// however long the audio is. Window `i` equals [`frame_windows`]' window `i` of
/// [`mel_from_file`]'s spectrogram, bit for bit.
pub struct MelStream {
    source: Mono16k,
    /// Pre-emphasised 16 kHz samples from index `base` on.
    y: std::collections::VecDeque<f64>,
    base: usize,
    /// The last raw sample (pre-emphasis), once there is one.
    last: Option<f32>,
    /// Samples in the file, once it is exhausted.
    total: Option<usize>,
    /// Mel columns from frame `first_col` on, each `N_MELS` values.
    cols: std::collections::VecDeque<[f32; N_MELS]>,
    first_col: usize,
    columns: MelColumns,
    chunk: Vec<f32>,
    window: Vec<f32>,
}

impl std::fmt::Debug for MelStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelStream")
            .field("path", &self.source.path)
            .field("base", &self.base)
            .field("buffered_samples", &self.y.len())
            .field("first_col", &self.first_col)
            .finish()
    }
}

impl MelStream {
    /// Opens `path` (any format [`audio::AudioDecoder`] reads).
    pub fn open(path: &Path) -> Result<Self, MelError> {
        Ok(Self {
            source: Mono16k::open(path)?,
            y: std::collections::VecDeque::new(),
            base: 0,
            last: None,
            total: None,
            cols: std::collections::VecDeque::new(),
            first_col: 0,
            columns: MelColumns::new(),
            chunk: Vec::new(),
            window: vec![MIN_VALUE; N_MELS * WINDOW_FRAMES],
        })
    }

    /// Samples and columns held (for tests of the memory bound).
    pub fn buffered(&self) -> (usize, usize) {
        (self.y.len(), self.cols.len())
    }

    /// Number of mel frames `T`, once the file has been read to its end.
    pub fn frames(&self) -> Option<usize> {
        self.total.map(|n| 1 + n / HOP)
    }

    /// Decodes until sample `upto` exists or the file ends.
    fn fill(&mut self, upto: usize) -> Result<(), MelError> {
        while self.total.is_none() && self.base + self.y.len() <= upto {
            self.chunk.clear();
            let more = self.source.pull(&mut self.chunk)?;
            for &x in &self.chunk {
                let v = match self.last {
                    None => f64::from(x),
                    Some(prev) => f64::from(x) - PREEMPHASIS * f64::from(prev),
                };
                self.last = Some(x);
                self.y.push_back(v);
            }
            if !more {
                self.total = Some(self.base + self.y.len());
            }
        }
        Ok(())
    }

    /// The window of video frame `i` at `fps` (row-major `(N_MELS, WINDOW_FRAMES)`), as
    /// [`frame_window`] gives it for the whole file's spectrogram; `None` once the window would
    /// start after the audio's last mel frame (the speech has ended). Frames must come in
    /// increasing order.
    pub fn window(&mut self, i: usize, fps: f64) -> Result<Option<&[f32]>, MelError> {
        let wanted = (i as f64 * (MEL_FRAMES_PER_SECOND / fps)) as usize;
        // The last sample the window's columns read, before the file's end is known.
        let last_col = wanted + WINDOW_FRAMES - 1;
        self.fill(last_col * HOP + N_FFT / 2)?;
        let n = self.total.unwrap_or(self.base + self.y.len());
        let t_total = 1 + n / HOP;
        if self.total.is_some() && wanted >= t_total {
            return Ok(None);
        }
        let start = window_start(i, fps, t_total);
        let pad = WINDOW_FRAMES.saturating_sub(t_total);
        let width = WINDOW_FRAMES - pad;
        if start < self.first_col {
            return Err(MelError::Resample {
                rate: SAMPLE_RATE,
                reason: format!(
                    "mel windows must be asked for in order: frame {i} needs column {start}, \
                     already dropped"
                ),
            });
        }
        // Columns before this window are never needed again.
        while self.first_col < start && !self.cols.is_empty() {
            self.cols.pop_front();
            self.first_col += 1;
        }
        if self.cols.is_empty() {
            self.first_col = start;
        }
        while self.first_col + self.cols.len() < start + width {
            let t = self.first_col + self.cols.len();
            let mut col = [0f32; N_MELS];
            if n == 0 {
                col = [MIN_VALUE; N_MELS];
            } else {
                let (y, base) = (&self.y, self.base);
                self.columns
                    .column(t, |k| y[reflect(k, n) - base], &mut col, 1);
            }
            self.cols.push_back(col);
        }
        // Samples before the next window's first STFT frame are never read again (the start's
        // reflection reads samples 1..=400, so those stay until column 2 is done).
        let keep_from = (start * HOP).saturating_sub(N_FFT / 2);
        if keep_from > N_FFT / 2 {
            while self.base < keep_from && !self.y.is_empty() {
                self.y.pop_front();
                self.base += 1;
            }
        }
        for (m, row) in self.window.chunks_exact_mut(WINDOW_FRAMES).enumerate() {
            row[..pad].fill(MIN_VALUE);
            for (k, v) in row[pad..].iter_mut().enumerate() {
                *v = self.cols[start - self.first_col + k][m];
            }
        }
        Ok(Some(&self.window))
    }
}

/// Index of the first mel frame of video frame `i`'s window, for a spectrogram of `total_frames`
/// frames: `int(i * (80 / fps))` as the original computes it (in `f64`, truncated), and
/// `total_frames - 16` once the window would run past the end (the original stops at that frame
/// and uses the last 16 frames; frames after it get the same last window here). With fewer than 16
/// mel frames this is 0 (see [`frame_windows`]).
///
/// `fps` must be positive and finite; a NaN gives 0 and a non-positive or infinite rate the last
/// window (the conversion saturates), never a panic.
pub fn window_start(i: usize, fps: f64, total_frames: usize) -> usize {
    let start = (i as f64 * (MEL_FRAMES_PER_SECOND / fps)) as usize;
    start.min(total_frames.saturating_sub(WINDOW_FRAMES))
}

/// The network's audio input for `frames` video frames at `fps`: row-major
/// `(frames, 1, N_MELS, WINDOW_FRAMES)`, where window `i` is `mel[:, s..s + 16]` with
/// `s = window_start(i, fps, mel.frames)`.
///
/// A spectrogram shorter than 16 frames (under 0.2 s of audio) gives every window the `T` frames
/// right-aligned after `16 - T` columns of [`MIN_VALUE`] (silence), i.e. the window "last 16
/// columns" with the missing ones before the start of the audio read as silence.
pub fn frame_windows(mel: &MelSpectrogram, fps: f64, frames: usize) -> Vec<f32> {
    let per_window = N_MELS * WINDOW_FRAMES;
    let mut out = vec![MIN_VALUE; frames * per_window];
    for (i, window) in out.chunks_exact_mut(per_window).enumerate() {
        frame_window(mel, i, fps, window);
    }
    out
}

/// Window `i` of [`frame_windows`] written into `out` (`N_MELS * WINDOW_FRAMES` floats,
/// row-major `(N_MELS, WINDOW_FRAMES)`).
pub fn frame_window(mel: &MelSpectrogram, i: usize, fps: f64, out: &mut [f32]) {
    let t_total = mel.frames;
    // Columns of silence on the left when T < 16.
    let pad = WINDOW_FRAMES.saturating_sub(t_total);
    let start = window_start(i, fps, t_total);
    let width = WINDOW_FRAMES - pad;
    for (m, row) in out.chunks_exact_mut(WINDOW_FRAMES).take(N_MELS).enumerate() {
        row[..pad].fill(MIN_VALUE);
        row[pad..].copy_from_slice(&mel.data[m * t_total + start..m * t_total + start + width]);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
