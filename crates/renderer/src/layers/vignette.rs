//! `kind = "vignette"`: darkens the frame's edges (always the whole frame).

use gpu::{LayerKind, VignetteParams};

use super::values::{Fraction, layer_struct};
use super::{Builder, Frame, LayerDef, linear};
use crate::RenderError;
use crate::job::Color;

layer_struct!(
    /// `kind = "vignette"`: darkens the edges.
    VignetteLayer {
        color: Color = Color([0, 0, 0, 255]),
        strength: Fraction = Fraction::from(0.6),
        /// Where darkening starts, fraction of the half-diagonal.
        radius: Fraction = Fraction::from(0.55),
        softness: Fraction = Fraction::from(0.5),
    }
);

impl LayerDef for VignetteLayer {
    const KIND: &'static str = "vignette";
    const DEFAULT_RECT: Option<[f32; 4]> = None;

    fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError> {
        b.push_plain(self, false, params);
        Ok(())
    }
}

fn params(l: &VignetteLayer, f: &Frame<'_>) -> LayerKind {
    LayerKind::Vignette(VignetteParams {
        color: linear(l.color),
        strength: l.strength.at(f.vars),
        radius: l.radius.at(f.vars),
        softness: l.softness.at(f.vars),
        opacity: l.opacity.at(f.vars),
    })
}
