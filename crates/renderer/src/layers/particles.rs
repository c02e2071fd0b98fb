//! `kind = "particles"`: sparks born on beats (and at a steady rate), simulated on the GPU in
//! a fixed ring of `count` slots. The host only says, each frame, where in the ring the new
//! particles start and how many there are; warm-up frames run too, so the first drawn frame
//! has particles in flight.

use gpu::{LayerKind, LayerSpec, ParticlesParams};
use serde::Deserialize;

use super::values::{Degrees, Fraction, Pixels, Point, Rate, checked, layer_struct, plain};
use super::{Builder, Frame, LayerDef, Part, Slot, blend_of, linear};
use crate::RenderError;
use crate::expr::Var;
use crate::job::Color;

/// Where particles are born.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Emitter {
    /// At `emitter` (a point).
    #[default]
    Point,
    /// Anywhere in the layer's rectangle.
    Area,
    /// Along the rectangle's bottom edge.
    Bottom,
}

checked!(
    /// Particle capacity, 1..=65536.
    Capacity(u32) from i64 = "i64",
    |v| (1..=65_536).contains(&v),
    |v| format!("count must be between 1 and 65536, got {v}"),
);

checked!(
    /// Seconds of particle life, 0.05..=30.
    LifeSeconds(f32) from f64 = "f64",
    |v| v.is_finite() && (0.05..=30.0).contains(&v),
    |v| format!("life must be between 0.05 and 30 seconds, got {v}"),
);

plain!(Emitter);

layer_struct!(
    /// `kind = "particles"`: sparks emitted on beats, simulated on the GPU.
    ParticlesLayer {
        /// Most particles alive at once.
        count: Capacity = Capacity(2000),
        emitter: Emitter = Emitter::Point,
        /// Emitter position (emitter = "point") as fractions of the layer's rect (the frame by
        /// default).
        position: Point = Point::new(0.5, 0.5),
        /// Particles born per beat.
        burst: Rate = Rate::from(80.0),
        /// Particles born per second regardless of beats.
        rate: Rate = Rate::from(0.0),
        color: Color = Color([0xff, 0xd0, 0x80, 255]),
        color2: Option<Color> = None,
        /// Radius, px at 1080p.
        size: Pixels = Pixels::from(4.0),
        /// Initial speed, px per second at 1080p.
        speed: Rate = Rate::from(300.0),
        life: LifeSeconds = LifeSeconds(1.5),
        /// Gravity [x, y], px per second squared at 1080p (y down).
        gravity: [f64; 2] = [0.0, 200.0],
        /// Direction in degrees (0 = up) and half-angle of the cone.
        direction: Degrees = Degrees::from(0.0),
        spread: Degrees = Degrees::from(180.0),
        /// Fraction of velocity lost per second.
        drag: Fraction = Fraction::from(0.3),
    }
);

impl LayerDef for ParticlesLayer {
    const KIND: &'static str = "particles";
    const DEFAULT_RECT: Option<[f32; 4]> = Some([0.0, 0.0, 1.0, 1.0]);
    /// Particles add light (order-independent) unless asked otherwise.
    const DEFAULT_BLEND: gpu::BlendMode = gpu::BlendMode::Add;

    /// Long enough for the first drawn frame to show particles born before it.
    fn preroll_seconds(&self, _fps: f64) -> f64 {
        f64::from(self.life.0) * 1.4 + 0.1
    }

    fn build(&self, b: &mut Builder<'_>) -> Result<(), RenderError> {
        let spec = LayerSpec {
            kind: params(self, &b.frame()),
            blend: blend_of(self),
            image: None,
            dynamic_alpha: true,
        };
        let part = Emission {
            layer: self.clone(),
            cursor: 0,
            carry: 0.0,
        };
        b.push(part, spec);
        Ok(())
    }
}

/// The frame's parameters, emitting nothing.
fn params(l: &ParticlesLayer, f: &Frame<'_>) -> LayerKind {
    let (vars, px) = (f.vars, f.px);
    let rect = f.rect(l);
    let c = linear(l.color);
    let end = l.color2.map(linear).unwrap_or([c[0], c[1], c[2], 0.0]);
    LayerKind::Particles(ParticlesParams {
        rect,
        color_a: c,
        color_b: end,
        emitter: {
            let p = l.position.at(vars, [rect[2], rect[3]]);
            [rect[0] + p[0], rect[1] + p[1]]
        },
        gravity: [l.gravity[0] as f32 * px, l.gravity[1] as f32 * px],
        capacity: l.count.0,
        emit_start: 0,
        emit_count: 0,
        shape: match l.emitter {
            Emitter::Point => 0,
            Emitter::Area => 1,
            Emitter::Bottom => 2,
        },
        speed: l.speed.at(vars) * px,
        life: l.life.0,
        size: (l.size.at(vars) * px).max(0.5),
        dt: (1.0 / f.fps) as f32,
        opacity: l.opacity.at(vars),
        drag: l.drag.at(vars),
        spread: l.spread.at(vars).to_radians(),
        direction: l.direction.at(vars).to_radians(),
    })
}

/// Emission state: the ring cursor and the fractional carry of `rate`.
#[derive(Debug)]
struct Emission {
    layer: ParticlesLayer,
    cursor: u32,
    carry: f64,
}

impl Part for Emission {
    /// Emission changes every frame.
    fn is_dynamic(&self) -> bool {
        true
    }

    fn warms_up(&self) -> bool {
        true
    }

    fn update(&mut self, f: &Frame<'_>, slot: &mut Slot<'_>) -> Result<(), RenderError> {
        let l = &self.layer;
        let mut kind = params(l, f);
        if let LayerKind::Particles(p) = &mut kind {
            // Multiplied by the frame time (not divided by fps): emission counts stay bit-exact.
            let dt = 1.0 / f.fps;
            self.carry += f64::from(l.rate.at(f.vars)) * dt;
            let mut n = self.carry.floor();
            self.carry -= n;
            if f.vars.get(Var::Beat) > 0.5 {
                n += f64::from(l.burst.at(f.vars));
            }
            let n = (n as u32).min(p.capacity);
            p.emit_start = self.cursor;
            p.emit_count = n;
            self.cursor = (self.cursor + n) % p.capacity.max(1);
        }
        slot.set_params(&kind)
    }
}
