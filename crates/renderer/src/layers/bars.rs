//! `kind = "bars"`: spectrum bars (one per band), growing up, down or both ways, with
//! gradients, rounded tops and peak-hold caps.

use gpu::{BarsParams, LayerKind};
use serde::Deserialize;

use super::values::{Fraction, layer_struct, plain};
use super::{Builder, Frame, LayerDef, linear};
use crate::RenderError;
use crate::job::{BarCount, Color};

/// Which way bars grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    #[default]
    Bottom,
    Center,
    Top,
}

/// What a bar gradient follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GradientAlong {
    #[default]
    Height,
    X,
}

plain!(Align, GradientAlong);

layer_struct!(
    /// `kind = "bars"`: spectrum bars.
    BarsLayer {
        count: BarCount = BarCount(64),
        color: Color = Color([0x33, 0xcc, 0xff, 255]),
        color2: Option<Color> = None,
        gradient: GradientAlong = GradientAlong::Height,
        gap: Fraction = Fraction::from(0.25),
        radius: Fraction = Fraction::from(0.3),
        align: Align = Align::Bottom,
        /// Alias of align = "center" (kept from the first job format).
        mirror: bool = false,
        /// Spectrum mirrored left-right (lowest band in the middle).
        symmetric: bool = false,
        /// Peak-hold caps.
        peaks: bool = false,
        peak_color: Option<Color> = None,
    }
);

impl LayerDef for BarsLayer {
    const KIND: &'static str = "bars";
    const DEFAULT_RECT: Option<[f32; 4]> = Some([0.05, 0.2, 0.9, 0.6]);

    fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError> {
        b.push_plain(self, false, params);
        Ok(())
    }
}

fn params(l: &BarsLayer, f: &Frame<'_>) -> LayerKind {
    let (vars, px) = (f.vars, f.px);
    let a = linear(l.color);
    let align = match (l.align, l.mirror) {
        (_, true) | (Align::Center, _) => 1,
        (Align::Bottom, _) => 0,
        (Align::Top, _) => 2,
    };
    let caps = if l.peaks {
        l.count.0 * if align == 1 { 2 } else { 1 }
    } else {
        0
    };
    LayerKind::Bars(BarsParams {
        rect: f.rect(l),
        color_a: a,
        color_b: l.color2.map(linear).unwrap_or(a),
        peak_color: l.peak_color.map(linear).unwrap_or([1.0; 4]),
        count: l.count.0,
        gap: l.gap.at(vars).min(0.95),
        radius: l.radius.at(vars).min(0.5),
        align,
        opacity: l.opacity.at(vars),
        min_height: (4.0 * px).max(1.0),
        gradient: u32::from(l.gradient == GradientAlong::X),
        symmetric: u32::from(l.symmetric),
        caps,
        cap_height: (4.0 * px).max(1.0),
        _pad: [0.0; 2],
    })
}
