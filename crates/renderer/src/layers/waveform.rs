//! `kind = "waveform"`: an oscilloscope of the frame's samples (min/max per segment), as a
//! line or filled, mono or stereo, with an optional glow.

use gpu::{LayerKind, WaveformParams};
use serde::Deserialize;

use super::values::{Amount, Pixels, layer_struct, plain};
use super::{Builder, Frame, LayerDef, linear};
use crate::RenderError;
use crate::job::{BarCount, Color};

/// Waveform drawing style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaveStyle {
    #[default]
    Line,
    Filled,
}

plain!(WaveStyle);

layer_struct!(
    /// `kind = "waveform"`: oscilloscope of the frame's samples.
    WaveformLayer {
        color: Color = Color([0xff, 0xff, 0xff, 255]),
        style: WaveStyle = WaveStyle::Line,
        stereo: bool = false,
        /// Line thickness, px at 1080p.
        thickness: Pixels = Pixels::from(3.0),
        /// Glow radius, px at 1080p (0 = none).
        glow: Pixels = Pixels::from(0.0),
        glow_color: Option<Color> = None,
        gain: Amount = Amount::from(1.0),
        /// Segments drawn across the width (2..=512).
        points: BarCount = BarCount(256),
    }
);

impl LayerDef for WaveformLayer {
    const KIND: &'static str = "waveform";
    const DEFAULT_RECT: Option<[f32; 4]> = Some([0.05, 0.35, 0.9, 0.3]);

    fn check(&self) -> Result<(), String> {
        if !(2..=512).contains(&self.points.0) {
            return Err(format!(
                "points must be between 2 and 512, got {}",
                self.points.0
            ));
        }
        Ok(())
    }

    fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError> {
        b.push_plain(self, false, params);
        Ok(())
    }
}

fn params(l: &WaveformLayer, f: &Frame<'_>) -> LayerKind {
    let (vars, px) = (f.vars, f.px);
    let c = linear(l.color);
    LayerKind::Waveform(WaveformParams {
        rect: f.rect(l),
        color: c,
        glow_color: l.glow_color.map(linear).unwrap_or([c[0], c[1], c[2], 0.6]),
        opacity: l.opacity.at(vars),
        thickness: (l.thickness.at(vars) * px).max(0.5),
        glow: l.glow.at(vars) * px,
        gain: l.gain.at(vars),
        mode: u32::from(l.style == WaveStyle::Filled),
        stereo: u32::from(l.stereo),
        segments: l.points.0.clamp(2, 512),
        _pad: 0.0,
    })
}
