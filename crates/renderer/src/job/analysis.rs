//! `[analysis]`: how audio becomes per-frame features (bands, scale, range, floor, weighting,
//! normalisation, smoothing, peak hold), each checked while deserialising, and its translation
//! into the audio crate's `AnalysisConfig`.

use serde::Deserialize;

macro_rules! ranged_f32 {
    ($(#[$meta:meta])* $name:ident, $min:expr, $max:expr, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
        #[serde(try_from = "f64")]
        pub struct $name(pub f32);

        impl TryFrom<f64> for $name {
            type Error = String;
            fn try_from(v: f64) -> Result<Self, String> {
                if v.is_finite() && ($min..=$max).contains(&v) {
                    Ok(Self(v as f32))
                } else {
                    Err(format!("{} must be between {} and {}, got {v}", $what, $min, $max))
                }
            }
        }
    };
}

ranged_f32!(
    /// A frequency in Hz for band edges.
    Hz, 1.0, 96_000.0, "frequency (Hz)"
);
ranged_f32!(
    /// Level floor in dB below the reference.
    FloorDb, -150.0, -6.0, "floor_db"
);
ranged_f32!(
    /// Tilt compensation in dB per octave.
    Tilt, -12.0, 12.0, "tilt (dB per octave)"
);
ranged_f32!(
    /// Normalisation percentile.
    Percentile, 50.0, 100.0, "percentile"
);
ranged_f32!(
    /// A time constant in milliseconds.
    Millis, 0.0, 60_000.0, "time (ms)"
);
ranged_f32!(
    /// Peak fall-off rate in levels per second.
    FallRate, 0.0, 1000.0, "peak_fall (levels per second)"
);

/// Number of analysis bands, 8..=512.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct BandCount(pub u32);

impl TryFrom<i64> for BandCount {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        if (8..=512).contains(&v) {
            Ok(Self(v as u32))
        } else {
            Err(format!("bands must be between 8 and 512, got {v}"))
        }
    }
}

/// Band spacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    #[default]
    Log,
    Mel,
    Linear,
}

/// `[analysis]`: how audio becomes per-frame features. Defaults suit music and speech.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisSettings {
    /// Number of bands; default: the largest bars `count` (clamped to 8..=512).
    pub bands: Option<BandCount>,
    pub scale: Scale,
    pub min_hz: Hz,
    pub max_hz: Hz,
    pub floor_db: FloorDb,
    pub a_weighting: bool,
    pub tilt: Tilt,
    pub normalize: bool,
    pub percentile: Percentile,
    pub attack_ms: Millis,
    pub release_ms: Millis,
    pub peak_hold_ms: Millis,
    pub peak_fall: FallRate,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        let d = audio::AnalysisConfig::default();
        Self {
            bands: None,
            scale: Scale::Log,
            min_hz: Hz(d.min_hz),
            max_hz: Hz(d.max_hz),
            floor_db: FloorDb(d.floor_db),
            a_weighting: d.a_weighting,
            tilt: Tilt(d.tilt_db_per_octave),
            normalize: d.normalize,
            percentile: Percentile(d.percentile),
            attack_ms: Millis(d.attack_ms),
            release_ms: Millis(d.release_ms),
            peak_hold_ms: Millis(d.peak_hold_ms),
            peak_fall: FallRate(d.peak_fall_per_s),
        }
    }
}

impl AnalysisSettings {
    /// Seconds the per-frame smoothing needs to forget where it started: a warm-up that
    /// replays state (spectrogram history, particles, peaks) starts this much earlier, so its
    /// first recorded frame equals a whole render's. Eight release (or attack) time
    /// constants (e^-8: under a thousandth of a level), the peak hold and a full peak fall.
    pub fn settle_seconds(&self) -> f64 {
        let tau = f64::from(self.attack_ms.0.max(self.release_ms.0)) / 1000.0;
        let fall = if self.peak_fall.0 > 0.0 {
            1.0 / f64::from(self.peak_fall.0)
        } else {
            0.0
        };
        8.0 * tau + f64::from(self.peak_hold_ms.0) / 1000.0 + fall
    }

    /// The analysis configuration for a job whose largest bars layer has `bars` bars.
    pub fn to_config(&self, bars: Option<u32>) -> audio::AnalysisConfig {
        let bands = self
            .bands
            .map(|b| b.0)
            .or(bars.map(|b| b.clamp(8, 512)))
            .unwrap_or(64);
        audio::AnalysisConfig {
            bands: bands as usize,
            scale: match self.scale {
                Scale::Log => audio::BandScale::Log,
                Scale::Mel => audio::BandScale::Mel,
                Scale::Linear => audio::BandScale::Linear,
            },
            min_hz: self.min_hz.0,
            max_hz: self.max_hz.0,
            floor_db: self.floor_db.0,
            a_weighting: self.a_weighting,
            tilt_db_per_octave: self.tilt.0,
            normalize: self.normalize,
            percentile: self.percentile.0,
            attack_ms: self.attack_ms.0,
            release_ms: self.release_ms.0,
            peak_hold_ms: self.peak_hold_ms.0,
            peak_fall_per_s: self.peak_fall.0,
            ..audio::AnalysisConfig::default()
        }
    }
}
