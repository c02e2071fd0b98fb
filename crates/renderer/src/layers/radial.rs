//! `kind = "radial"`: spectrum bars around a circle, optionally with cover art in the middle
//! (a second GPU layer, a circular image that grows with the bass).

use std::path::PathBuf;

use gpu::{ImageParams, LayerKind, LayerSpec, RadialParams};

use super::picture::{Picture, fit_uv};
use super::values::{Degrees, Fit, Fraction, Point, layer_struct};
use super::{Builder, Frame, LayerDef, Part, Slot, linear};
use crate::RenderError;
use crate::expr::Var;
use crate::job::{BarCount, Color};

layer_struct!(
    /// `kind = "radial"`: bars around a circle, optionally with cover art in the middle.
    RadialLayer {
        count: BarCount = BarCount(96),
        /// Centre as fractions of the layer's rect (the frame by default).
        center: Point = Point::new(0.5, 0.5),
        /// Inner radius as a fraction of the frame's smaller side.
        radius: Fraction = Fraction::from(0.18),
        /// Length of a full-level bar, same unit.
        length: Fraction = Fraction::from(0.2),
        color: Color = Color([0x33, 0xcc, 0xff, 255]),
        color2: Option<Color> = None,
        gap: Fraction = Fraction::from(0.3),
        /// Degrees clockwise from 12 o'clock.
        rotation: Degrees = Degrees::from(0.0),
        symmetric: bool = true,
        /// Image shown in the circle (cropped to it).
        cover: Option<PathBuf> = None,
        /// How much the cover grows with the bass (fraction of its size).
        cover_pulse: Fraction = Fraction::from(0.08),
    }
);

impl LayerDef for RadialLayer {
    const KIND: &'static str = "radial";
    const DEFAULT_RECT: Option<[f32; 4]> = Some([0.0, 0.0, 1.0, 1.0]);

    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        self.cover.iter_mut().collect()
    }

    fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError> {
        b.push_plain(self, false, bars);
        let Some(path) = &self.cover else {
            return Ok(());
        };
        let (picture, image) = Picture::open(path, false, Fit::Cover, [0.0; 4])?;
        let part = Cover {
            layer: self.clone(),
            size: picture.size,
        };
        let spec = LayerSpec {
            kind: part.params(&b.frame()),
            blend: gpu::BlendMode::Normal,
            image: Some(image),
            dynamic_alpha: true,
        };
        b.push(part, spec);
        Ok(())
    }
}

/// The circle's centre (pixels) and inner radius for this frame.
fn circle(l: &RadialLayer, f: &Frame<'_>) -> ([f32; 2], f32) {
    let rect = f.rect(l);
    let side = f.size[0].min(f.size[1]);
    let centre = l.center.at(f.vars, f.size);
    let centre = [
        rect[0] + centre[0] * rect[2] / f.size[0],
        rect[1] + centre[1] * rect[3] / f.size[1],
    ];
    (centre, l.radius.at(f.vars) * side)
}

fn bars(l: &RadialLayer, f: &Frame<'_>) -> LayerKind {
    let vars = f.vars;
    let (centre, inner) = circle(l, f);
    let side = f.size[0].min(f.size[1]);
    let a = linear(l.color);
    LayerKind::Radial(RadialParams {
        centre,
        inner,
        length: l.length.at(vars) * side,
        color_a: a,
        color_b: l.color2.map(linear).unwrap_or(a),
        count: l.count.0,
        gap: l.gap.at(vars).min(0.95),
        rotation: l.rotation.at(vars).to_radians(),
        opacity: l.opacity.at(vars),
        symmetric: u32::from(l.symmetric),
        min_length: (2.0 * f.px).max(1.0),
        radius: 0.5,
        _pad: 0.0,
    })
}

/// The cover art in the circle, growing with the bass.
#[derive(Debug)]
struct Cover {
    layer: RadialLayer,
    size: (u32, u32),
}

impl Cover {
    fn params(&self, f: &Frame<'_>) -> LayerKind {
        let l = &self.layer;
        let (centre, inner) = circle(l, f);
        let d = 2.0 * inner * (1.0 + l.cover_pulse.at(f.vars) * f.vars.get(Var::Bass));
        let r = [centre[0] - 0.5 * d, centre[1] - 0.5 * d, d, d];
        LayerKind::Image(ImageParams {
            rect: r,
            uv_transform: fit_uv(Fit::Cover, self.size, r, 1.0),
            tint: [1.0; 4],
            opacity: l.opacity.at(f.vars),
            shape: 1,
            corner: 0.0,
            _pad: 0.0,
        })
    }
}

impl Part for Cover {
    fn is_dynamic(&self) -> bool {
        true
    }

    fn update(&mut self, f: &Frame<'_>, slot: &mut Slot<'_>) -> Result<(), RenderError> {
        slot.set_params(&self.params(f))
    }
}
