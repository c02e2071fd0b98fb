//! `[[layer]]` tables: one struct per `kind`, every value checked while deserialising (so
//! errors carry the line and column). Properties typed [`Reactive`] (or a range newtype around
//! it) accept a number, an expression string or a `{ feature, scale, offset }` table (see
//! [`crate::expr`]). Lengths in pixels ("px at 1080p") are for a frame whose shorter side is
//! 1080 pixels and scale with the frame's shorter side, so a job looks the same at 720p and 4K,
//! landscape or vertical.

use std::path::PathBuf;

use serde::Deserialize;
use wav2lip::BackendChoice;
use wav2lip::gemm::Precision;

use super::{BarCount, Color};
use crate::expr::{Reactive, Vars};

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

    fn check(&self) -> Result<(), String> {
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

/// Shape an image is clipped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    #[default]
    Rect,
    Circle,
}

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

/// Waveform drawing style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaveStyle {
    #[default]
    Line,
    Filled,
}

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

/// Horizontal text alignment (anchor and multi-line alignment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextAlign {
    Left,
    #[default]
    Center,
    Right,
}

/// Vertical text anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextBaseline {
    Top,
    #[default]
    Middle,
    Bottom,
}

/// Particle capacity, 1..=65536.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct Capacity(pub u32);

impl TryFrom<i64> for Capacity {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        if (1..=65_536).contains(&v) {
            Ok(Self(v as u32))
        } else {
            Err(format!("count must be between 1 and 65536, got {v}"))
        }
    }
}

/// Seconds of spectrogram history, 0.5..=120.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub struct HistorySeconds(pub f32);

impl TryFrom<f64> for HistorySeconds {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && (0.5..=120.0).contains(&v) {
            Ok(Self(v as f32))
        } else {
            Err(format!("seconds must be between 0.5 and 120, got {v}"))
        }
    }
}

/// A font size in px at 1080p, 1..=1000 (a plain number: text is rasterised once).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub struct FontSize(pub f32);

impl TryFrom<f64> for FontSize {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && (1.0..=1000.0).contains(&v) {
            Ok(Self(v as f32))
        } else {
            Err(format!(
                "size must be a number of pixels between 1 and 1000, got {v} (to animate text, \
                 use scale)"
            ))
        }
    }
}

/// Seconds of particle life, 0.05..=30.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub struct LifeSeconds(pub f32);

impl TryFrom<f64> for LifeSeconds {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && (0.05..=30.0).contains(&v) {
            Ok(Self(v as f32))
        } else {
            Err(format!("life must be between 0.05 and 30 seconds, got {v}"))
        }
    }
}

/// Text, at most 4096 characters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct TextString(pub String);

impl TryFrom<String> for TextString {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.chars().count() > 4096 {
            return Err("text is longer than 4096 characters".into());
        }
        Ok(Self(s))
    }
}

/// `values` of a custom layer: up to 8 numbers or reactors.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(try_from = "Vec<Reactive>")]
pub struct Values(pub Vec<Reactive>);

impl TryFrom<Vec<Reactive>> for Values {
    type Error = String;
    fn try_from(v: Vec<Reactive>) -> Result<Self, String> {
        if v.len() > 8 {
            return Err(format!("values holds at most 8 numbers, got {}", v.len()));
        }
        Ok(Self(v))
    }
}

macro_rules! layer_struct {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty = $default:expr),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            /// Placement as fractions of the frame: [x, y, width, height].
            pub rect: Option<Rect>,
            /// Placement in pixels of the output: [x, y, width, height].
            pub rect_px: Option<Rect>,
            pub opacity: Fraction,
            /// Blend mode; default "normal" ("add" for particles).
            pub blend: Option<Blend>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    rect: None,
                    rect_px: None,
                    opacity: Fraction::from(1.0),
                    blend: None,
                    $($field: $default,)*
                }
            }
        }

        impl $name {
            pub fn placement(&self) -> Placement {
                Placement { rect: self.rect.clone(), rect_px: self.rect_px.clone() }
            }
        }
    };
}

layer_struct!(
    /// `kind = "background"`: a colour, a gradient, an image or a looping video, optionally
    /// zooming slowly or pulsing on beats.
    BackgroundLayer {
        color: Color = Color([0x10, 0x12, 0x1c, 255]),
        color2: Option<Color> = None,
        angle: f64 = 90.0,
        /// A PNG or JPEG drawn over the colour.
        image: Option<PathBuf> = None,
        /// A video (any format ffmpeg reads), looped, drawn over the colour.
        video: Option<PathBuf> = None,
        fit: Fit = Fit::Cover,
        /// Slow zoom: the image grows by this fraction over the whole render.
        zoom: Fraction = Fraction::from(0.0),
        /// Beat pulse: the image grows by this fraction on each beat, then settles.
        pulse: Fraction = Fraction::from(0.0),
    }
);

layer_struct!(
    /// `kind = "image"`: a picture or logo (PNG with alpha, JPEG), or a looping video.
    ImageLayer {
        path: Option<PathBuf> = None,
        video: Option<PathBuf> = None,
        fit: Fit = Fit::Contain,
        shape: Shape = Shape::Rect,
        /// Corner radius, px at 1080p.
        corner: Pixels = Pixels::from(0.0),
        /// Scale around the rectangle's centre.
        scale: Scale = Scale::from(1.0),
    }
);

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

layer_struct!(
    /// `kind = "text"`: a title, an artist or any string; `{elapsed}`, `{remaining}` and
    /// `{total}` are replaced by times (m:ss).
    TextLayer {
        text: TextString = TextString(String::new()),
        /// A TTF/OTF file; default: the embedded DejaVu Sans.
        font: Option<PathBuf> = None,
        /// Font size, px at 1080p (fixed; animate `scale` instead).
        size: FontSize = FontSize(64.0),
        color: Color = Color([0xff, 0xff, 0xff, 255]),
        /// Anchor point as fractions of the layer's rect (the frame by default).
        position: Point = Point::new(0.5, 0.1),
        align: TextAlign = TextAlign::Center,
        baseline: TextBaseline = TextBaseline::Middle,
        shadow: Option<Color> = None,
        /// Shadow offset [x, y], px at 1080p.
        shadow_offset: [f64; 2] = [3.0, 3.0],
        /// Shadow softness, px at 1080p.
        shadow_blur: f64 = 4.0,
        scale: Scale = Scale::from(1.0),
    }
);

layer_struct!(
    /// `kind = "progress"`: a bar filling up over the render.
    ProgressLayer {
        color: Color = Color([0xff, 0xff, 0xff, 255]),
        track: Color = Color([0xff, 0xff, 0xff, 0x40]),
        /// Corner radius, px at 1080p.
        radius: Pixels = Pixels::from(4.0),
    }
);

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

layer_struct!(
    /// `kind = "bloom"`: glow around bright parts of everything drawn before it.
    BloomLayer {
        /// Linear-light brightness above which pixels glow (0..1).
        threshold: Fraction = Fraction::from(0.6),
        intensity: Scale = Scale::from(1.0),
    }
);

layer_struct!(
    /// `kind = "custom"`: your own WGSL `fn shade(input: ShadeInput) -> vec4<f32>`.
    CustomLayer {
        shader: PathBuf = PathBuf::new(),
        values: Values = Values::default(),
    }
);

/// Wav2Lip's crop padding around the detected face, in pixels of the face picture:
/// [top, bottom, left, right].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<i64>")]
pub struct Pads(pub [u32; 4]);

impl TryFrom<Vec<i64>> for Pads {
    type Error = String;
    fn try_from(v: Vec<i64>) -> Result<Self, String> {
        match v.as_slice() {
            &[t, b, l, r] if [t, b, l, r].iter().all(|p| (0..=2000).contains(p)) => {
                Ok(Self([t as u32, b as u32, l as u32, r as u32]))
            }
            _ => Err(format!(
                "pads must be [top, bottom, left, right], each 0..=2000 pixels, got {v:?}"
            )),
        }
    }
}

/// A fixed face box in pixels of the face picture: [x0, y0, x1, y1].
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "Vec<f64>")]
pub struct FaceBox(pub [f32; 4]);

impl TryFrom<Vec<f64>> for FaceBox {
    type Error = String;
    fn try_from(v: Vec<f64>) -> Result<Self, String> {
        match v.as_slice() {
            &[x0, y0, x1, y1]
                if [x0, y0, x1, y1].iter().all(|c| c.is_finite() && *c >= 0.0)
                    && x1 - x0 >= 8.0
                    && y1 - y0 >= 8.0 =>
            {
                Ok(Self([x0 as f32, y0 as f32, x1 as f32, y1 as f32]))
            }
            _ => Err(format!(
                "box must be [x0, y0, x1, y1] in pixels of the face picture, x1 >= x0 + 8 and \
                 y1 >= y0 + 8, got {v:?}"
            )),
        }
    }
}

/// An integer within a range, for counts of frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct FrameCount(pub u32);

impl TryFrom<i64> for FrameCount {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        if (1..=10_000).contains(&v) {
            Ok(Self(v as u32))
        } else {
            Err(format!(
                "must be a number of frames between 1 and 10000, got {v}"
            ))
        }
    }
}

/// Frames of a still face generated per run of the lip-sync generator (1..=256).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct Batch(pub u32);

impl TryFrom<i64> for Batch {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        if (1..=256).contains(&v) {
            Ok(Self(v as u32))
        } else {
            Err(format!(
                "batch must be a number of frames between 1 and 256, got {v}"
            ))
        }
    }
}

/// The smallest face searched for, in pixels of the face picture (12..=4000).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub struct MinFace(pub f32);

impl TryFrom<f64> for MinFace {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && (12.0..=4000.0).contains(&v) {
            Ok(Self(v as f32))
        } else {
            Err(format!(
                "min_face must be between 12 and 4000 pixels, got {v}"
            ))
        }
    }
}

/// What an avatar does on a frame where no face is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoFace {
    /// Stop with an error naming the frame.
    #[default]
    Error,
    /// Keep the last box found (the picture is shown unchanged until a first face is found).
    Hold,
}

/// `backend = "auto" | "gpu" | "cpu"`: which executor runs an avatar's networks, read by
/// wav2lip's own parser (one list of names for the job key and the CLI option).
fn lipsync_backend<'de, D: serde::Deserializer<'de>>(de: D) -> Result<BackendChoice, D::Error> {
    String::deserialize(de)?
        .parse()
        .map_err(serde::de::Error::custom)
}

/// `precision = "f32" | "f16"`: the GPU backend's GEMM arithmetic, read by wav2lip's parser.
fn lipsync_precision<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Precision, D::Error> {
    String::deserialize(de)?
        .parse()
        .map_err(serde::de::Error::custom)
}

layer_struct!(
    /// `kind = "avatar"`: a talking face. The face picture or video (looped) is drawn like an
    /// image; its lower face is replaced by Wav2Lip's lip-synced face, blended through a
    /// feathered mask. Faces are found by MTCNN unless `box` is given.
    AvatarLayer {
        /// The face: a PNG/JPEG still or a video (any format ffmpeg reads; looped).
        face: PathBuf = PathBuf::new(),
        /// The Wav2Lip generator's weights (wav2lip.pth, wav2lip_gan.pth, or safetensors).
        checkpoint: PathBuf = PathBuf::new(),
        /// The voice the lips follow; the job's audio by default.
        speech: Option<PathBuf> = None,
        /// Folder holding the MTCNN weights (pnet.pt, rnet.pt, onet.pt); default: the cache
        /// folder (`cargo xtask fetch-mtcnn` fills it).
        detector: Option<PathBuf> = None,
        fit: Fit = Fit::Cover,
        /// Crop padding around the face: [top, bottom, left, right], pixels of the picture.
        pads: Pads = Pads([0, 10, 0, 0]),
        /// A fixed face box [x0, y0, x1, y1] (pixels of the picture): no detection.
        #[serde(rename = "box")]
        face_box: Option<FaceBox> = None,
        /// Mean of the last N boxes found (video).
        smooth: FrameCount = FrameCount(5),
        /// Run the detector on every N-th frame of a video (the box is held in between).
        detect_every: FrameCount = FrameCount(1),
        /// Smallest face searched for, in pixels of the picture.
        min_face: MinFace = MinFace(40.0),
        /// "error" (default) or "hold" (keep the last box).
        on_no_face: NoFace = NoFace::Error,
        /// Width of the mask's soft edge, fraction of the face box.
        feather: Fraction = Fraction::from(0.15),
        /// Where the blended region starts, fraction of the face box's height from its top.
        mouth_top: Fraction = Fraction::from(0.45),
        /// Which executor runs the networks: "auto" (the CPU on a software adapter, else the
        /// GPU), "gpu" or "cpu".
        #[serde(deserialize_with = "lipsync_backend")]
        backend: BackendChoice = BackendChoice::Auto,
        /// Frames of a still face generated per run of the generator, ahead of the drawn frame
        /// (on the absolute frame grid, so segments and previews match a whole render); each
        /// drawn frame shows its slice. Default: 16 on the CPU backend (as fast as 32, ~170 MB
        /// less memory at 720p), 64 on the GPU. Video faces run one frame at a time.
        batch: Option<Batch> = None,
        /// The GPU backend's arithmetic: "f32" (default), or "f16" operands with f32
        /// accumulation on tensor cores (cooperative matrices; unverified, never run on a GPU
        /// yet; the job fails where the adapter lacks them).
        #[serde(deserialize_with = "lipsync_precision")]
        precision: Precision = Precision::F32,
    }
);

/// Checks across fields of one layer (called after deserialising it).
pub(super) fn check_layer(layer: &super::Layer) -> Result<(), String> {
    use super::Layer as L;
    let placement = match layer {
        L::Background(l) => l.placement(),
        L::Image(l) => l.placement(),
        L::Bars(l) => l.placement(),
        L::Radial(l) => l.placement(),
        L::Waveform(l) => l.placement(),
        L::Spectrogram(l) => l.placement(),
        L::Particles(l) => l.placement(),
        L::Text(l) => l.placement(),
        L::Progress(l) => l.placement(),
        L::Vignette(l) => l.placement(),
        L::Bloom(l) => l.placement(),
        L::Custom(l) => l.placement(),
        L::Avatar(l) => l.placement(),
    };
    placement.check()?;
    let full_frame = matches!(layer, L::Background(_) | L::Vignette(_) | L::Bloom(_));
    if full_frame && (placement.rect.is_some() || placement.rect_px.is_some()) {
        return Err("this kind always covers the whole frame: remove rect / rect_px".into());
    }
    match layer {
        L::Background(b) if b.image.is_some() && b.video.is_some() => {
            Err("give either image or video, not both".into())
        }
        L::Image(i) if i.path.is_some() == i.video.is_some() => {
            Err("an image layer needs exactly one of path (PNG/JPEG) or video".into())
        }
        L::Waveform(w) if !(2..=512).contains(&w.points.0) => Err(format!(
            "points must be between 2 and 512, got {}",
            w.points.0
        )),
        L::Custom(c) if c.shader.as_os_str().is_empty() => {
            Err("a custom layer needs shader = \"path/to/file.wgsl\"".into())
        }
        L::Avatar(a) if a.face.as_os_str().is_empty() => {
            Err("an avatar layer needs face = \"face.mp4\" (a video) or a PNG/JPEG".into())
        }
        L::Avatar(a) if a.checkpoint.as_os_str().is_empty() => Err(
            "an avatar layer needs checkpoint = \"wav2lip.pth\" (the Wav2Lip generator's \
             weights; none ships with this tool)"
                .into(),
        ),
        L::Avatar(a) if a.feather.is_reactive() || a.mouth_top.is_reactive() => {
            Err("feather and mouth_top take plain numbers".into())
        }
        _ => Ok(()),
    }
}
