//! Values shared by the `[[layer]]` tables, and `layer_struct!`, which declares a kind's table.
//!
//! Every value is checked while deserialising (so errors carry the line and column).
//! Properties typed [`Reactive`] (or a range newtype around it) accept a number, an expression
//! string or a `{ feature, scale, offset }` table (see [`crate::expr`]). Lengths in pixels ("px
//! at 1080p") are for a frame whose shorter side is 1080 pixels and scale with the frame's
//! shorter side, so a job looks the same at 720p and 4K, landscape or vertical.
//!
//! [`Reactivity`] says whether a value changes from frame to frame; `layer_struct!` derives a
//! table's `is_reactive` from its fields' types, so no kind lists its reactive fields by hand.

use std::path::PathBuf;

use serde::Deserialize;

use crate::expr::{Reactive, Vars};
use crate::job::{BarCount, Color};

/// Whether a value may change from frame to frame (a reactor), by its type: the reactive
/// types look at their contents, every plain type answers `false`.
pub trait Reactivity {
    fn is_reactive(&self) -> bool {
        false
    }
}

impl Reactivity for Reactive {
    fn is_reactive(&self) -> bool {
        Reactive::is_reactive(self)
    }
}

impl<T: Reactivity> Reactivity for Option<T> {
    fn is_reactive(&self) -> bool {
        self.as_ref().is_some_and(T::is_reactive)
    }
}

/// Plain (never reactive) value types.
macro_rules! plain {
    ($($ty:ty),* $(,)?) => { $(impl $crate::layers::values::Reactivity for $ty {})* };
}
pub(crate) use plain;

plain!(
    bool, f64, [f64; 2], String, PathBuf, Color, BarCount, Fit, Blend
);

macro_rules! reactive_range {
    ($(#[$meta:meta])* $name:ident, $min:expr, $max:expr, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[serde(try_from = "Reactive")]
        pub struct $name(pub Reactive);

        impl TryFrom<Reactive> for $name {
            type Error = String;
            fn try_from(r: Reactive) -> Result<Self, String> {
                r.check_const_range($min, $max, $what)?;
                Ok(Self(r))
            }
        }

        impl $name {
            /// The value for this frame, clamped to the property's range.
            pub fn at(&self, vars: &Vars) -> f32 {
                self.0.eval_clamped(vars, $min, $max)
            }

            pub fn is_reactive(&self) -> bool {
                self.0.is_reactive()
            }
        }

        impl From<f32> for $name {
            fn from(v: f32) -> Self {
                Self(Reactive::Const(v))
            }
        }

        impl Reactivity for $name {
            fn is_reactive(&self) -> bool {
                self.0.is_reactive()
            }
        }
    };
}

reactive_range!(
    /// 0..=1 (opacity, strengths).
    Fraction, 0.0, 1.0, "this value"
);
reactive_range!(
    /// A scale factor, 0..=10.
    Scale, 0.0, 10.0, "scale"
);
reactive_range!(
    /// A length in pixels at 1080p, 0..=2000.
    Pixels, 0.0, 2000.0, "length (px at 1080p)"
);
reactive_range!(
    /// An angle in degrees.
    Degrees, -1.0e6, 1.0e6, "angle (degrees)"
);
reactive_range!(
    /// A free multiplier, -100..=100 (gains, rates).
    Amount, -100.0, 100.0, "this value"
);
reactive_range!(
    /// A rate or speed, 0..=100000.
    Rate, 0.0, 100_000.0, "this value"
);

/// How a layer combines with what is below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Blend {
    #[default]
    Normal,
    Add,
    Screen,
    Multiply,
}

impl Blend {
    pub fn to_gpu(self) -> gpu::BlendMode {
        match self {
            Self::Normal => gpu::BlendMode::Normal,
            Self::Add => gpu::BlendMode::Add,
            Self::Screen => gpu::BlendMode::Screen,
            Self::Multiply => gpu::BlendMode::Multiply,
        }
    }
}

/// `[x, y, width, height]`, each a number or a reactor.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Vec<Reactive>")]
pub struct Rect(pub [Reactive; 4]);

impl TryFrom<Vec<Reactive>> for Rect {
    type Error = String;
    fn try_from(v: Vec<Reactive>) -> Result<Self, String> {
        let n = v.len();
        let arr: [Reactive; 4] = v.try_into().map_err(|_| {
            format!("a rect is [x, y, width, height] (e.g. [0.05, 0.2, 0.9, 0.6]); got {n} values")
        })?;
        for (i, r) in arr.iter().enumerate().skip(2) {
            if let Some(c) = r.constant()
                && c <= 0.0
            {
                return Err(format!(
                    "the rect's {} must be positive, got {c}",
                    if i == 2 { "width" } else { "height" }
                ));
            }
        }
        Ok(Self(arr))
    }
}

impl Reactivity for Rect {
    fn is_reactive(&self) -> bool {
        Rect::is_reactive(self)
    }
}

impl Rect {
    pub fn new(v: [f32; 4]) -> Self {
        Self(v.map(Reactive::Const))
    }

    pub fn is_reactive(&self) -> bool {
        self.0.iter().any(Reactive::is_reactive)
    }

    /// The rectangle for this frame: (x, y, w, h), each multiplied by `scale`.
    pub fn at(&self, vars: &Vars, scale: [f32; 2]) -> [f32; 4] {
        let v = |i: usize, lo: f32, hi: f32| self.0[i].eval_clamped(vars, lo, hi);
        [
            v(0, -1e5, 1e5) * scale[0],
            v(1, -1e5, 1e5) * scale[1],
            v(2, 0.0, 1e5) * scale[0],
            v(3, 0.0, 1e5) * scale[1],
        ]
    }
}

/// `[x, y]` as fractions of the frame.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Vec<Reactive>")]
pub struct Point(pub [Reactive; 2]);

impl TryFrom<Vec<Reactive>> for Point {
    type Error = String;
    fn try_from(v: Vec<Reactive>) -> Result<Self, String> {
        let n = v.len();
        v.try_into()
            .map(Self)
            .map_err(|_| format!("a point is [x, y] (e.g. [0.5, 0.5]); got {n} values"))
    }
}

impl Reactivity for Point {
    fn is_reactive(&self) -> bool {
        Point::is_reactive(self)
    }
}

impl Point {
    pub fn new(x: f32, y: f32) -> Self {
        Self([Reactive::Const(x), Reactive::Const(y)])
    }

    pub fn is_reactive(&self) -> bool {
        self.0.iter().any(Reactive::is_reactive)
    }

    pub fn at(&self, vars: &Vars, scale: [f32; 2]) -> [f32; 2] {
        [
            self.0[0].eval_clamped(vars, -1e5, 1e5) * scale[0],
            self.0[1].eval_clamped(vars, -1e5, 1e5) * scale[1],
        ]
    }
}

/// Where a layer is drawn: `rect` in fractions of the frame, or `rect_px` in pixels (of the
/// actual output size). Neither: the whole frame.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Placement {
    pub rect: Option<Rect>,
    pub rect_px: Option<Rect>,
}

impl Placement {
    pub fn is_reactive(&self) -> bool {
        self.rect.as_ref().is_some_and(Rect::is_reactive)
            || self.rect_px.as_ref().is_some_and(Rect::is_reactive)
    }

    /// Pixel rectangle for a `size` frame.
    pub fn at(&self, vars: &Vars, size: [f32; 2], default: [f32; 4]) -> [f32; 4] {
        match (&self.rect_px, &self.rect) {
            (Some(px), _) => px.at(vars, [1.0, 1.0]),
            (None, Some(r)) => r.at(vars, size),
            (None, None) => [
                default[0] * size[0],
                default[1] * size[1],
                default[2] * size[0],
                default[3] * size[1],
            ],
        }
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        if self.rect.is_some() && self.rect_px.is_some() {
            return Err(
                "give either rect (fractions of the frame) or rect_px (pixels), not both".into(),
            );
        }
        Ok(())
    }
}

/// How an image fills its rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    /// Fill the rectangle, cropping the image's overflow.
    #[default]
    Cover,
    /// Show the whole image inside the rectangle (transparent bands).
    Contain,
    /// Distort the image to the rectangle.
    Stretch,
}

/// What every `[[layer]]` table has, generated by `layer_struct!`.
pub trait LayerTable {
    fn placement(&self) -> Placement;
    fn blend(&self) -> Option<Blend>;
    /// Some value of the table is a reactor (derived from the fields' types).
    fn is_reactive(&self) -> bool;
}

/// Declares a kind's table: the common keys (rect, rect_px, opacity, blend) and the kind's own,
/// each with its default; derives `Deserialize` (unknown keys refused), `Default` and
/// [`LayerTable`].
macro_rules! layer_struct {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty = $default:expr),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            /// Placement as fractions of the frame: [x, y, width, height].
            pub rect: Option<$crate::layers::values::Rect>,
            /// Placement in pixels of the output: [x, y, width, height].
            pub rect_px: Option<$crate::layers::values::Rect>,
            pub opacity: $crate::layers::values::Fraction,
            /// Blend mode; default "normal" ("add" for particles).
            pub blend: Option<$crate::layers::values::Blend>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    rect: None,
                    rect_px: None,
                    opacity: $crate::layers::values::Fraction::from(1.0),
                    blend: None,
                    $($field: $default,)*
                }
            }
        }

        impl $name {
            pub fn placement(&self) -> $crate::layers::values::Placement {
                $crate::layers::values::Placement {
                    rect: self.rect.clone(),
                    rect_px: self.rect_px.clone(),
                }
            }
        }

        impl $crate::layers::values::LayerTable for $name {
            fn placement(&self) -> $crate::layers::values::Placement {
                $name::placement(self)
            }
            fn blend(&self) -> Option<$crate::layers::values::Blend> {
                self.blend
            }
            fn is_reactive(&self) -> bool {
                use $crate::layers::values::Reactivity;
                self.rect.is_reactive()
                    || self.rect_px.is_reactive()
                    || self.opacity.is_reactive()
                    $(|| self.$field.is_reactive())*
            }
        }
    };
}
pub(crate) use layer_struct;

/// A plain number checked while deserialising: `$name(pub $ty)` read from `$from` (named again
/// as a string for serde), accepted where `$ok` holds, else the error `$message` formats.
macro_rules! checked {
    (
        $(#[$meta:meta])*
        $name:ident($ty:ty) from $from:ty = $from_name:literal,
        $ok:expr,
        $message:expr $(,)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, serde::Deserialize)]
        #[serde(try_from = $from_name)]
        pub struct $name(pub $ty);

        impl TryFrom<$from> for $name {
            type Error = String;
            fn try_from(v: $from) -> Result<Self, String> {
                let ok: fn($from) -> bool = $ok;
                let message: fn($from) -> String = $message;
                if ok(v) { Ok(Self(v as $ty)) } else { Err(message(v)) }
            }
        }

        impl $crate::layers::values::Reactivity for $name {}
    };
}
pub(crate) use checked;
