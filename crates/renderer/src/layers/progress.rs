//! `kind = "progress"`: a bar filling up over the render (its parameters change every frame).

use gpu::{LayerKind, ProgressParams};

use super::values::{Pixels, layer_struct};
use super::{Builder, Frame, LayerDef, linear};
use crate::RenderError;
use crate::expr::Var;
use crate::job::Color;

layer_struct!(
    /// `kind = "progress"`: a bar filling up over the render.
    ProgressLayer {
        color: Color = Color([0xff, 0xff, 0xff, 255]),
        track: Color = Color([0xff, 0xff, 0xff, 0x40]),
        /// Corner radius, px at 1080p.
        radius: Pixels = Pixels::from(4.0),
    }
);

impl LayerDef for ProgressLayer {
    const KIND: &'static str = "progress";
    const DEFAULT_RECT: Option<[f32; 4]> = Some([0.05, 0.92, 0.9, 0.012]);

    fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError> {
        // The fill follows the render's progress.
        b.push_plain(self, true, params);
        Ok(())
    }
}

fn params(l: &ProgressLayer, f: &Frame<'_>) -> LayerKind {
    LayerKind::Progress(ProgressParams {
        rect: f.rect(l),
        track: linear(l.track),
        fill: linear(l.color),
        value: f.vars.get(Var::Progress),
        radius: l.radius.at(f.vars) * f.px,
        opacity: l.opacity.at(f.vars),
        _pad: 0.0,
    })
}
