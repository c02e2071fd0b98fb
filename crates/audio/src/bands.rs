//! Band layout (log, mel or linear) over FFT bins, A-weighting and window sizing.

use crate::{AnalysisConfig, AudioError};

/// How band edges are spaced between `min_hz` and `max_hz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BandScale {
    /// Equal ratios (octave-like): the default, musical.
    #[default]
    Log,
    /// Equal steps on the mel scale (Slaney/HTK-style 2595 log10(1 + f/700)).
    Mel,
    /// Equal steps in Hz.
    Linear,
}

impl std::str::FromStr for BandScale {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "log" => Ok(Self::Log),
            "mel" => Ok(Self::Mel),
            "linear" => Ok(Self::Linear),
            _ => Err(format!(
                "unknown band scale \"{s}\": use \"log\", \"mel\" or \"linear\""
            )),
        }
    }
}

fn hz_to_mel(f: f32) -> f32 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz(m: f32) -> f32 {
    700.0 * (10f32.powf(m / 2595.0) - 1.0)
}

/// A-weighting gain in dB at `f` Hz (IEC 61672-1), 0 dB at 1 kHz.
pub fn a_weighting_db(f: f32) -> f32 {
    let f2 = f64::from(f) * f64::from(f);
    let num = 12194.0f64.powi(2) * f2 * f2;
    let den = (f2 + 20.6f64.powi(2))
        * ((f2 + 107.7f64.powi(2)) * (f2 + 737.9f64.powi(2))).sqrt()
        * (f2 + 12194.0f64.powi(2));
    if den <= 0.0 || num <= 0.0 {
        return -200.0;
    }
    (20.0 * (num / den).log10() + 2.0) as f32
}

/// FFT window length for a sample rate, frame rate and lowest band: long enough for bins of at
/// most half the lowest frequency (so 30 Hz is resolved) and for two frames of audio, at most
/// 200 ms (time resolution), a power of two.
pub fn window_len_for(sample_rate: u32, fps: f64, min_hz: f32) -> usize {
    let sr = f64::from(sample_rate);
    let for_band = 2.0 * sr / f64::from(min_hz.max(1.0));
    let for_frames = 2.0 * sr / fps.max(1.0);
    let cap = (0.2 * sr).max(256.0);
    (for_band.max(for_frames).min(cap).ceil() as usize)
        .next_power_of_two()
        .clamp(256, 65536)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BandBins {
    /// Mean power over bins `start..end`.
    Range { start: usize, end: usize },
    /// Band narrower than a bin: interpolate power between `bin` and `bin + 1`.
    Interp { bin: usize, frac: f32 },
}

/// Precomputed mapping from FFT bins to bands, with per-band gain (tilt, A-weighting).
#[derive(Debug, Clone)]
pub struct BandLayout {
    edges_hz: Vec<f32>,
    bins: Vec<BandBins>,
    gain_db: Vec<f32>,
}

impl BandLayout {
    /// Bands (`config`'s count, scale, range, tilt and weighting) for an FFT of `window_len`
    /// samples at `sample_rate`.
    pub fn new(
        config: &AnalysisConfig,
        sample_rate: u32,
        window_len: usize,
    ) -> Result<Self, AudioError> {
        let (scale, count, min_hz) = (config.scale, config.bands, config.min_hz);
        let (tilt_db_per_octave, a_weighting) = (config.tilt_db_per_octave, config.a_weighting);
        let max_hz = config.max_hz;
        let nyquist = sample_rate as f32 / 2.0;
        let max_hz = max_hz.min(nyquist * 0.95);
        if !(min_hz > 0.0 && max_hz > min_hz) {
            return Err(AudioError::Config(format!(
                "band range {min_hz}..{max_hz} Hz is empty at a {sample_rate} Hz sample rate \
                 (the top is limited to 95% of {nyquist} Hz)"
            )));
        }
        let n = count;
        let edges_hz: Vec<f32> = (0..=n)
            .map(|i| {
                let x = i as f32 / n as f32;
                match scale {
                    BandScale::Log => min_hz * ((max_hz / min_hz).ln() * x).exp(),
                    BandScale::Mel => {
                        mel_to_hz(hz_to_mel(min_hz) + (hz_to_mel(max_hz) - hz_to_mel(min_hz)) * x)
                    }
                    BandScale::Linear => min_hz + (max_hz - min_hz) * x,
                }
            })
            .collect();
        let bin_hz = sample_rate as f32 / window_len as f32;
        let last_bin = window_len / 2;
        let mut bins = Vec::with_capacity(n);
        let mut gain_db = Vec::with_capacity(n);
        for w in edges_hz.windows(2) {
            let (lo, hi) = (w[0], w[1]);
            let start = (lo / bin_hz).ceil() as usize;
            let end = ((hi / bin_hz).ceil() as usize).min(last_bin + 1);
            let centre = (lo * hi).sqrt();
            if end > start {
                bins.push(BandBins::Range { start, end });
            } else {
                let pos = (centre / bin_hz).min(last_bin as f32 - 1.0);
                bins.push(BandBins::Interp {
                    bin: pos.floor() as usize,
                    frac: pos.fract(),
                });
            }
            let mut g = tilt_db_per_octave * (centre / 1000.0).log2();
            if a_weighting {
                g += a_weighting_db(centre);
            }
            gain_db.push(g);
        }
        Ok(Self {
            edges_hz,
            bins,
            gain_db,
        })
    }

    pub fn len(&self) -> usize {
        self.bins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bins.is_empty()
    }

    /// Lower and upper edge of band `i` in Hz.
    pub fn band_edges(&self, i: usize) -> (f32, f32) {
        (self.edges_hz[i], self.edges_hz[i + 1])
    }

    /// Index of the band containing `hz`, if any.
    pub fn band_of(&self, hz: f32) -> Option<usize> {
        (0..self.len()).find(|&i| {
            let (lo, hi) = self.band_edges(i);
            hz >= lo && hz < hi
        })
    }

    /// Band levels in dB (relative to a full-scale sine, gains applied) from normalised bin
    /// powers (a full-scale sine's peak bin is 1.0). Silence gives -200 dB.
    pub fn levels_db(&self, power: &[f32], out: &mut [f32]) {
        for ((b, gain), o) in self.bins.iter().zip(&self.gain_db).zip(out.iter_mut()) {
            let p = match *b {
                BandBins::Range { start, end } => {
                    power[start..end].iter().sum::<f32>() / (end - start) as f32
                }
                BandBins::Interp { bin, frac } => {
                    power[bin] * (1.0 - frac) + power[(bin + 1).min(power.len() - 1)] * frac
                }
            };
            *o = if p > 1e-20 && p.is_finite() {
                10.0 * p.log10() + gain
            } else {
                -200.0
            };
        }
    }
}

/// Mean power of the bins between `lo` and `hi` Hz, in dB (-200 for silence).
pub(crate) fn range_db(power: &[f32], bin_hz: f32, lo: f32, hi: f32) -> f32 {
    let start = ((lo / bin_hz).ceil() as usize).min(power.len() - 1);
    let end = ((hi / bin_hz).ceil() as usize).clamp(start + 1, power.len());
    let p = power[start..end].iter().sum::<f32>() / (end - start) as f32;
    if p > 1e-20 && p.is_finite() {
        10.0 * p.log10()
    } else {
        -200.0
    }
}
