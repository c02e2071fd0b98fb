//! Band layout and magnitude-to-level mapping for one FFT frame.

use crate::AudioError;

/// How a spectrum is reduced to bars.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrumConfig {
    /// Number of log-spaced bands (1..=1024).
    pub bands: usize,
    /// Lowest band edge in Hz.
    pub min_hz: f32,
    /// Highest band edge in Hz (clamped to 95% of Nyquist).
    pub max_hz: f32,
    /// Level in dB (relative to a full-scale sine) that maps to 0; 0 dB maps to 1.
    pub floor_db: f32,
    /// Spectral tilt compensation in dB per octave around 1 kHz. Music falls by roughly 3 dB per
    /// octave; +3 keeps treble bars visible next to the bass.
    pub tilt_db_per_octave: f32,
}

impl Default for SpectrumConfig {
    fn default() -> Self {
        Self {
            bands: 64,
            min_hz: 30.0,
            max_hz: 16_000.0,
            floor_db: -60.0,
            tilt_db_per_octave: 3.0,
        }
    }
}

impl SpectrumConfig {
    pub fn validate(&self) -> Result<(), AudioError> {
        if !(1..=1024).contains(&self.bands) {
            return Err(AudioError::Config(format!(
                "band count {} is out of range 1..=1024",
                self.bands
            )));
        }
        let finite = [
            self.min_hz,
            self.max_hz,
            self.floor_db,
            self.tilt_db_per_octave,
        ]
        .iter()
        .all(|v| v.is_finite());
        if !finite || self.min_hz <= 0.0 || self.max_hz <= self.min_hz {
            return Err(AudioError::Config(format!(
                "frequency range {}..{} Hz is invalid: need 0 < min < max",
                self.min_hz, self.max_hz
            )));
        }
        if self.floor_db >= 0.0 {
            return Err(AudioError::Config(format!(
                "floor {} dB must be negative",
                self.floor_db
            )));
        }
        Ok(())
    }
}

/// FFT window length for a sample rate: the power of two covering ~50 ms (4096 at 44.1/48 kHz),
/// which resolves ~11 Hz bins (enough for a 30 Hz lowest band) while keeping one video frame of
/// time resolution at 30 fps.
pub fn window_len_for(sample_rate: u32) -> usize {
    ((f64::from(sample_rate) * 0.05).ceil() as usize)
        .next_power_of_two()
        .clamp(256, 16384)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BandBins {
    /// Mean power over bins `start..end`.
    Range { start: usize, end: usize },
    /// Band narrower than a bin: interpolate power between `bin` and `bin + 1`.
    Interp { bin: usize, frac: f32 },
}

/// Precomputed mapping from FFT bins to log-spaced bands.
#[derive(Debug, Clone)]
pub struct BandLayout {
    edges_hz: Vec<f32>,
    bins: Vec<BandBins>,
    /// Per-band gain in dB from the tilt compensation.
    tilt_db: Vec<f32>,
    floor_db: f32,
}

impl BandLayout {
    /// Builds the layout for an FFT of `window_len` samples at `sample_rate`.
    pub fn new(
        config: &SpectrumConfig,
        sample_rate: u32,
        window_len: usize,
    ) -> Result<Self, AudioError> {
        config.validate()?;
        let nyquist = sample_rate as f32 / 2.0;
        let max_hz = config.max_hz.min(nyquist * 0.95);
        if max_hz <= config.min_hz {
            return Err(AudioError::Config(format!(
                "lowest band {} Hz is above what a {} Hz sample rate can represent",
                config.min_hz, sample_rate
            )));
        }
        let n = config.bands;
        let ratio = (max_hz / config.min_hz).ln();
        let edges_hz: Vec<f32> = (0..=n)
            .map(|i| config.min_hz * (ratio * i as f32 / n as f32).exp())
            .collect();
        let bin_hz = sample_rate as f32 / window_len as f32;
        let last_bin = window_len / 2;
        let mut bins = Vec::with_capacity(n);
        let mut tilt_db = Vec::with_capacity(n);
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
            tilt_db.push(config.tilt_db_per_octave * (centre / 1000.0).log2());
        }
        Ok(Self {
            edges_hz,
            bins,
            tilt_db,
            floor_db: config.floor_db,
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

    /// Reduces normalised bin powers (a full-scale sine's peak bin is 1.0) to levels in 0..=1.
    pub fn levels(&self, power: &[f32], out: &mut [f32]) {
        for ((b, tilt), o) in self.bins.iter().zip(&self.tilt_db).zip(out.iter_mut()) {
            let p = match *b {
                BandBins::Range { start, end } => {
                    power[start..end].iter().sum::<f32>() / (end - start) as f32
                }
                BandBins::Interp { bin, frac } => {
                    power[bin] * (1.0 - frac) + power[(bin + 1).min(power.len() - 1)] * frac
                }
            };
            let db = 10.0 * p.max(1e-20).log10() + tilt;
            let level = (db - self.floor_db) / -self.floor_db;
            *o = if level.is_finite() {
                level.clamp(0.0, 1.0)
            } else {
                0.0
            };
        }
    }
}
