//! `kind = "bloom"` (alias "glow"): a glow around the bright parts of everything drawn before
//! it. The GPU side reads the frame so far (crates/gpu's bloom passes).

use gpu::{BloomParams, LayerKind};

use super::values::{Fraction, Scale, layer_struct};
use super::{Builder, Frame, LayerDef};
use crate::RenderError;

layer_struct!(
    /// `kind = "bloom"`: glow around bright parts of everything drawn before it.
    BloomLayer {
        /// Linear-light brightness above which pixels glow (0..1).
        threshold: Fraction = Fraction::from(0.6),
        intensity: Scale = Scale::from(1.0),
    }
);

impl LayerDef for BloomLayer {
    const KIND: &'static str = "bloom";
    const ALIASES: &'static [&'static str] = &["glow"];
    const DEFAULT_RECT: Option<[f32; 4]> = None;

    fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError> {
        b.push_plain(self, false, params);
        Ok(())
    }
}

fn params(l: &BloomLayer, f: &Frame<'_>) -> LayerKind {
    LayerKind::Bloom(BloomParams {
        threshold: l.threshold.at(f.vars),
        knee: 0.25,
        intensity: l.intensity.at(f.vars),
        opacity: l.opacity.at(f.vars),
        direction: [0.0; 2],
        texel: [0.0; 2],
    })
}
