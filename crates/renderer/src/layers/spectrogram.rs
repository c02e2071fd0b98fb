//! `kind = "spectrogram"`: a scrolling time x frequency image. The GPU keeps the history in a
//! ring texture, one column per frame (crates/gpu), so it needs `seconds` of warm-up.

use gpu::{LayerKind, SpectrogramParams};
use serde::Deserialize;

use super::values::{Scale, checked, layer_struct, plain};
use super::{Builder, Frame, LayerDef};
use crate::RenderError;

/// Spectrogram colour maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Palette {
    #[default]
    Viridis,
    Magma,
    Inferno,
    Grey,
}

checked!(
    /// Seconds of spectrogram history, 0.5..=120.
    HistorySeconds(f32) from f64 = "f64",
    |v| v.is_finite() && (0.5..=120.0).contains(&v),
    |v| format!("seconds must be between 0.5 and 120, got {v}"),
);

plain!(Palette);

layer_struct!(
    /// `kind = "spectrogram"`: scrolling time x frequency image.
    SpectrogramLayer {
        palette: Palette = Palette::Viridis,
        /// Seconds of history across the width.
        seconds: HistorySeconds = HistorySeconds(8.0),
        /// Contrast: shown = level ^ gamma.
        gamma: Scale = Scale::from(1.0),
    }
);

impl LayerDef for SpectrogramLayer {
    const KIND: &'static str = "spectrogram";
    const DEFAULT_RECT: Option<[f32; 4]> = Some([0.0, 0.0, 1.0, 1.0]);

    fn preroll_seconds(&self, _fps: f64) -> f64 {
        f64::from(self.seconds.0)
    }

    fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError> {
        b.push_plain(self, false, params);
        Ok(())
    }
}

fn params(l: &SpectrogramLayer, f: &Frame<'_>) -> LayerKind {
    LayerKind::Spectrogram(SpectrogramParams {
        rect: f.rect(l),
        opacity: l.opacity.at(f.vars),
        columns: ((f64::from(l.seconds.0) * f.fps).round() as u32).clamp(2, 8192),
        palette: match l.palette {
            Palette::Viridis => 0,
            Palette::Magma => 1,
            Palette::Inferno => 2,
            Palette::Grey => 3,
        },
        gamma: l.gamma.at(f.vars).max(0.01),
    })
}
