//! EBU R128 measurement of a section of a file: integrated loudness (ITU-R BS.1770-4: K-weighted
//! mean square over 400 ms blocks every 100 ms, gated at -70 LUFS and then 10 LU below the
//! ungated mean), loudness range (EBU Tech 3342: 3 s short-term blocks, gated at -70 LUFS and
//! 20 LU below their mean, the 10th to 95th percentile) and true peak (BS.1770-4 Annex 2: 4x
//! oversampling through a 48-tap windowed-sinc interpolator).
//!
//! Decoding streams one packet at a time; what is kept is one energy per 100 ms (0.3 MB an hour),
//! so memory stays near-flat with the length.

use std::path::Path;

use crate::loudness::{KWeighting, channel_weight};
use crate::{AudioDecoder, AudioError};

/// What a measurement gives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoudnessStats {
    /// Integrated loudness, LUFS (`-inf` for silence).
    pub integrated: f64,
    /// Loudness range, LU.
    pub range: f64,
    /// True peak, dBTP.
    pub true_peak: f64,
    /// The relative gate of the integrated measurement, LUFS (what ffmpeg's `loudnorm` calls
    /// `measured_thresh`).
    pub threshold: f64,
}

/// Oversampling factor and taps per phase of the true-peak interpolator.
const OVERSAMPLE: usize = 4;
const TAPS: usize = 12;

/// A 4x polyphase interpolator: phase `p` of sample `n` estimates the signal between samples.
struct TruePeak {
    phases: [[f64; TAPS]; OVERSAMPLE],
    /// Per channel, the last `TAPS` samples (a ring).
    history: Vec<[f64; TAPS]>,
    at: usize,
    peak: f64,
}

impl TruePeak {
    fn new(channels: usize) -> Self {
        let n = OVERSAMPLE * TAPS;
        let centre = (n / 2) as f64;
        let mut phases = [[0.0; TAPS]; OVERSAMPLE];
        for (p, phase) in phases.iter_mut().enumerate() {
            for (k, tap) in phase.iter_mut().enumerate() {
                let t = (k * OVERSAMPLE + p) as f64;
                let x = (t - centre) / OVERSAMPLE as f64;
                let sinc = if x == 0.0 {
                    1.0
                } else {
                    (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                };
                let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * (t + 0.5) / n as f64).cos();
                *tap = sinc * hann;
            }
            // Unity gain at DC for every phase.
            let sum: f64 = phase.iter().sum();
            phase.iter_mut().for_each(|t| *t /= sum);
        }
        Self {
            phases,
            history: vec![[0.0; TAPS]; channels],
            at: 0,
            peak: 0.0,
        }
    }

    /// Takes one frame (a sample per channel).
    fn push(&mut self, frame: &[f32]) {
        self.at = (self.at + 1) % TAPS;
        for (h, &x) in self.history.iter_mut().zip(frame) {
            h[self.at] = f64::from(x);
            self.peak = self.peak.max(f64::from(x).abs());
            for phase in &self.phases {
                let mut y = 0.0;
                for (k, tap) in phase.iter().enumerate() {
                    y += tap * h[(self.at + TAPS - k) % TAPS];
                }
                self.peak = self.peak.max(y.abs());
            }
        }
    }
}

fn lufs(mean_square: f64) -> f64 {
    -0.691 + 10.0 * mean_square.log10()
}

/// Measures `duration` seconds (to the end when `None`) of `path` from `start`.
pub fn measure_loudness(
    path: &Path,
    start: f64,
    duration: Option<f64>,
) -> Result<LoudnessStats, AudioError> {
    let mut dec = AudioDecoder::open(path)?;
    let info = dec.info().clone();
    let rate = f64::from(info.sample_rate);
    let first = (start.max(0.0) * rate).round() as u64;
    let end = duration.map_or(u64::MAX, |d| first + (d.max(0.0) * rate).round() as u64);
    if first > 0 {
        dec.seek(first)?;
    }
    // Codecs that state their channel count only in the bitstream (AAC in MP4) report 0 until
    // a packet is decoded: the filters are made for the first block's channels.
    let mut channels = 0;
    let mut weights: Vec<f64> = Vec::new();
    let mut filters: Vec<KWeighting> = Vec::new();
    let mut peak = TruePeak::new(0);
    // Weighted sums of squares per 100 ms.
    let hop = (rate / 10.0).round().max(1.0) as usize;
    let mut hops: Vec<f64> = Vec::new();
    let (mut acc, mut filled) = (0.0_f64, 0_usize);
    while let Some(block) = dec.next_block()? {
        if block.channels != channels {
            channels = block.channels.max(1);
            weights = (0..channels)
                .map(|i| f64::from(channel_weight(i, channels)))
                .collect();
            filters = (0..channels)
                .map(|_| KWeighting::new(info.sample_rate))
                .collect();
            let seen = peak.peak;
            peak = TruePeak::new(channels);
            peak.peak = seen;
        }
        let frames = block.samples.len() / block.channels.max(1);
        for f in 0..frames {
            let index = block.first_frame + f as u64;
            if index < first {
                continue;
            }
            if index >= end {
                break;
            }
            let frame = &block.samples[f * block.channels..(f + 1) * block.channels];
            peak.push(frame);
            for (c, &x) in frame.iter().enumerate().take(channels) {
                let y = f64::from(filters[c].process(x));
                acc += weights[c] * y * y;
            }
            filled += 1;
            if filled == hop {
                hops.push(acc);
                acc = 0.0;
                filled = 0;
            }
        }
        if block.first_frame + frames as u64 >= end {
            break;
        }
    }
    // 400 ms blocks (4 hops) every 100 ms, and 3 s short-term blocks (30 hops).
    let blocks = |n: usize| -> Vec<f64> {
        hops.windows(n)
            .map(|w| w.iter().sum::<f64>() / (n * hop) as f64)
            .collect()
    };
    let momentary = blocks(4);
    let gated_mean = |values: &[f64], gate: f64| -> Option<f64> {
        let kept: Vec<f64> = values
            .iter()
            .copied()
            .filter(|&z| z > 0.0 && lufs(z) > gate)
            .collect();
        (!kept.is_empty()).then(|| kept.iter().sum::<f64>() / kept.len() as f64)
    };
    let (integrated, threshold) = match gated_mean(&momentary, -70.0) {
        Some(mean) => {
            let threshold = lufs(mean) - 10.0;
            let z = gated_mean(&momentary, threshold).unwrap_or(mean);
            (lufs(z), threshold)
        }
        None => (f64::NEG_INFINITY, -70.0),
    };
    let short: Vec<f64> = blocks(30);
    let range = match gated_mean(&short, -70.0) {
        Some(mean) => {
            let gate = lufs(mean) - 20.0;
            let mut kept: Vec<f64> = short
                .iter()
                .filter(|&&z| z > 0.0 && lufs(z) > gate && lufs(z) > -70.0)
                .map(|&z| lufs(z))
                .collect();
            kept.sort_by(f64::total_cmp);
            let at = |q: f64| kept[((kept.len() - 1) as f64 * q).round() as usize];
            if kept.is_empty() {
                0.0
            } else {
                at(0.95) - at(0.10)
            }
        }
        None => 0.0,
    };
    let true_peak = if peak.peak > 0.0 {
        20.0 * peak.peak.log10()
    } else {
        f64::NEG_INFINITY
    };
    Ok(LoudnessStats {
        integrated,
        range,
        true_peak,
        threshold,
    })
}
