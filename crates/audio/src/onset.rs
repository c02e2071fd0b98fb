//! Onset strength (spectral flux on a log-mel spectrum), beat picking and tempo.

use std::collections::VecDeque;
use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex, num_complex::Complex};

/// Mel bands of the onset spectrum.
const MEL_BANDS: usize = 40;
/// Shortest allowed interval between beats (240 BPM).
const MIN_BEAT_INTERVAL_S: f64 = 0.25;
/// Seconds of onset history for the adaptive threshold.
const THRESHOLD_WINDOW_S: f64 = 1.0;

/// Computes the onset envelope at a fixed hop (~11.6 ms) and picks beats from it.
pub(crate) struct OnsetTracker {
    sample_rate: u32,
    pub(crate) window: usize,
    pub(crate) hop: usize,
    fft: Arc<dyn RealToComplex<f32>>,
    hann: Vec<f32>,
    input: Vec<f32>,
    output: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    /// Triangular mel filters: (first bin, weights).
    filters: Vec<(usize, Vec<f32>)>,
    previous: Vec<f32>,
    mel: Vec<f32>,
    /// (time in seconds, flux) of recent hops, oldest first.
    history: VecDeque<(f64, f32)>,
    /// Largest flux seen, for a 0..1 onset strength.
    max_flux: f32,
    /// Detected beat times, most recent last (bounded).
    pub(crate) beats: VecDeque<f64>,
    /// Absolute sample index where the next onset window starts.
    pub(crate) next_start: i64,
}

impl OnsetTracker {
    pub(crate) fn new(sample_rate: u32, first_sample: i64) -> Self {
        let sr = sample_rate as f32;
        let window = ((sr * 0.046) as usize).next_power_of_two().clamp(128, 8192);
        let hop = ((sr / 86.0) as usize)
            .next_power_of_two()
            .clamp(32, 4096)
            .min(window);
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(window);
        let hann = (0..window)
            .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / window as f32).cos())
            .collect();
        // Mel filters 30 Hz .. min(8 kHz, 0.95 Nyquist).
        let mel = |f: f32| 2595.0 * (1.0 + f / 700.0).log10();
        let hz = |m: f32| 700.0 * (10f32.powf(m / 2595.0) - 1.0);
        let (lo, hi) = (mel(30.0), mel((sr * 0.475).min(8000.0)));
        let points: Vec<f32> = (0..MEL_BANDS + 2)
            .map(|i| hz(lo + (hi - lo) * i as f32 / (MEL_BANDS + 1) as f32))
            .collect();
        let bin_hz = sr / window as f32;
        let filters = points
            .windows(3)
            .map(|p| {
                let first = (p[0] / bin_hz).floor() as usize;
                let last = ((p[2] / bin_hz).ceil() as usize).min(window / 2);
                let weights = (first..=last)
                    .map(|b| {
                        let f = b as f32 * bin_hz;
                        if f <= p[1] {
                            ((f - p[0]) / (p[1] - p[0]).max(1e-6)).max(0.0)
                        } else {
                            ((p[2] - f) / (p[2] - p[1]).max(1e-6)).max(0.0)
                        }
                    })
                    .collect();
                (first, weights)
            })
            .collect();
        Self {
            sample_rate,
            window,
            hop,
            input: fft.make_input_vec(),
            output: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            hann,
            filters,
            previous: vec![0.0; MEL_BANDS],
            mel: vec![0.0; MEL_BANDS],
            history: VecDeque::new(),
            max_flux: 0.0,
            beats: VecDeque::new(),
            next_start: first_sample,
        }
    }

    /// Processes one window of mono samples starting at `next_start`, then advances a hop.
    pub(crate) fn push_window(&mut self, samples: impl Iterator<Item = f32>) {
        for ((dst, s), w) in self.input.iter_mut().zip(samples).zip(&self.hann) {
            *dst = s * w;
        }
        if self
            .fft
            .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch)
            .is_err()
        {
            return;
        }
        let norm = 4.0 / self.window as f32;
        let mut flux = 0.0f32;
        for (i, (first, weights)) in self.filters.iter().enumerate() {
            let e: f32 = weights
                .iter()
                .zip(&self.output[*first..])
                .map(|(w, c)| w * c.norm_sqr() * norm * norm)
                .sum();
            let v = (1.0 + 1000.0 * e).ln();
            flux += (v - self.previous[i]).max(0.0);
            self.mel[i] = v;
        }
        std::mem::swap(&mut self.previous, &mut self.mel);
        let sr = f64::from(self.sample_rate);
        let time = (self.next_start as f64 + self.window as f64 / 2.0) / sr;
        self.next_start += self.hop as i64;
        self.max_flux = self.max_flux.max(flux);
        self.history.push_back((time, flux));
        let keep = (THRESHOLD_WINDOW_S * sr / self.hop as f64) as usize + 3;
        while self.history.len() > keep {
            self.history.pop_front();
        }
        self.pick();
    }

    /// Confirms the hop before the newest one as a beat if it is a clear local peak.
    fn pick(&mut self) {
        let n = self.history.len();
        if n < 3 {
            return;
        }
        let (t, v) = self.history[n - 2];
        let before = self.history[n - 3].1;
        let after = self.history[n - 1].1;
        if !(v > before && v >= after) {
            return;
        }
        let mean = self.history.iter().map(|h| h.1).sum::<f32>() / n as f32;
        let threshold = 1.5 * mean + 0.1 * self.max_flux;
        if v <= threshold || v <= 1e-3 {
            return;
        }
        if self
            .beats
            .back()
            .is_some_and(|&last| t - last < MIN_BEAT_INTERVAL_S)
        {
            return;
        }
        self.beats.push_back(t);
        while self.beats.len() > 16 {
            self.beats.pop_front();
        }
    }

    /// Onset strength near `time` (the largest flux within `half` seconds), 0..=1.
    pub(crate) fn strength(&self, time: f64, half: f64) -> f32 {
        if self.max_flux <= 0.0 {
            return 0.0;
        }
        let v = self
            .history
            .iter()
            .filter(|(t, _)| (t - time).abs() <= half)
            .map(|h| h.1)
            .fold(0.0f32, f32::max);
        (v / self.max_flux).clamp(0.0, 1.0)
    }

    /// Tempo from the median of the recent inter-beat intervals, folded into 60..200 BPM.
    pub(crate) fn bpm(&self, until: f64) -> f32 {
        let recent: Vec<f64> = self.beats.iter().copied().filter(|&b| b <= until).collect();
        if recent.len() < 2 {
            return 0.0;
        }
        let mut gaps: Vec<f64> = recent.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_by(f64::total_cmp);
        let median = gaps[gaps.len() / 2];
        let mut bpm = 60.0 / median;
        while bpm < 60.0 {
            bpm *= 2.0;
        }
        while bpm >= 200.0 {
            bpm /= 2.0;
        }
        bpm as f32
    }
}
