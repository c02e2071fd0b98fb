//! Reactors: layer properties driven by the audio.
//!
//! Any fractional layer property in `job.toml` (an opacity, a scale, a position, ...) takes one
//! of three forms:
//!
//! ```toml
//! opacity = 0.8                                           # a constant
//! opacity = "0.5 + 0.5 * pulse"                           # an expression
//! scale = { feature = "bass", scale = 0.2, offset = 1.0 } # offset + scale * feature
//! ```
//!
//! An expression (or table) is evaluated once per video frame with that frame's audio features,
//! and the result is clamped to the property's range (an opacity to 0..1, for instance). A
//! string that uses no variable, such as `"2 * pi"`, is a constant and is range-checked when the
//! job is loaded, like a plain number.
//!
//! # Variables
//!
//! | name | value |
//! |---|---|
//! | `time` | seconds into the audio file |
//! | `duration` | seconds of video being rendered |
//! | `progress` | 0 at the first frame of the render, rising to 1 at its end |
//! | `frame` | frame index from the start of the render (0, 1, 2, ...) |
//! | `rms` | RMS level of the mono mix (a full-scale sine gives 0.707) |
//! | `peak` | largest absolute sample of the mono mix around the frame, 0..1 |
//! | `loudness` | momentary loudness in LUFS (about -23 for broadcast speech, -120 in silence) |
//! | `left`, `right` | level of the left / right channel, 0 (floor) ..1 (0 dBFS) |
//! | `onset` | onset strength (how sudden the sound is), 0..1 |
//! | `beat` | 1 on the frame of a beat, else 0 |
//! | `pulse` | 1 at a beat, decaying exponentially (120 ms) until the next |
//! | `bpm` | current tempo estimate, beats per minute (0 until two beats were heard) |
//! | `bass`, `mid`, `treble` | smoothed energy of 20-250 Hz, 250 Hz-4 kHz, 4-16 kHz, 0..1 |
//!
//! The constant `pi` is also available. Names are case-sensitive and written in lower case.
//!
//! # Numbers and operators
//!
//! Numbers are written `1`, `1.5`, `.5`, `1e-3` or `2.5E+2`. Operators, from the tightest
//! binding to the loosest:
//!
//! | operators | meaning |
//! |---|---|
//! | `( )`, `f(...)` | grouping, function calls |
//! | `^` | power; right-associative: `2 ^ 3 ^ 2` = `2 ^ 9` = 512, and `2 ^ -1` = 0.5 |
//! | `-x`, `+x` | sign; binds looser than `^` as in mathematics: `-2 ^ 2` = -4 |
//! | `*` `/` `%` | multiply, divide, modulo (floored, as GLSL `mod`: `-1 % 3` = 2) |
//! | `+` `-` | add, subtract |
//! | `<` `<=` `>` `>=` | comparisons: 1 when true, 0 when false |
//! | `==` `!=` | (in)equality, exact: 1 when true, 0 when false |
//!
//! Binary operators of one level associate to the left: `10 - 4 - 3` = 3, `64 / 4 / 2` = 8.
//!
//! # Functions
//!
//! | function | value |
//! |---|---|
//! | `sin(x)`, `cos(x)`, `tan(x)` | trigonometry, radians |
//! | `abs(x)`, `sign(x)` | absolute value; -1, 0 or 1 |
//! | `sqrt(x)`, `exp(x)`, `ln(x)`, `log10(x)`, `pow(a, b)` | roots, powers, logarithms |
//! | `floor(x)`, `ceil(x)`, `round(x)`, `fract(x)` | rounding (`round` takes halves away from zero); `fract(x)` = `x - floor(x)` |
//! | `min(a, b)`, `max(a, b)`, `clamp(x, lo, hi)` | limits; `clamp` is `min(max(x, lo), hi)` |
//! | `mix(a, b, t)` | `a + (b - a) * t` |
//! | `step(edge, x)` | 0 when `x < edge`, else 1 |
//! | `smoothstep(e0, e1, x)` | smooth 0..1 ramp between `e0` and `e1` (GLSL `smoothstep`) |
//!
//! # Evaluation
//!
//! Everything is computed in 32-bit floating point. Any operation whose result is not a finite
//! number gives 0 instead: a division by zero, `sqrt` of a negative number, `ln(0)`, an
//! overflow. So `1 / 0 + 1` is 1, and an expression always yields a finite value.
//!
//! Some useful patterns:
//!
//! ```toml
//! opacity = "0.3 + 0.7 * pulse"                 # flash on every beat
//! scale = "1 + 0.3 * smoothstep(0.2, 0.8, bass)" # grow with the bass, gently
//! rotation = "time * 45"                        # degrees: one turn every 8 seconds
//! opacity = "step(-30, loudness)"               # visible only when louder than -30 LUFS
//! opacity = "min(1, progress * 10)"             # fade in over the first tenth
//! ```
//!
//! # Limits and errors
//!
//! An expression may be at most [`MAX_SOURCE_CHARS`] characters long and nest at most
//! [`MAX_DEPTH`] levels of parentheses, function calls, signs and powers. A mistake is reported
//! with its 1-based character column inside the expression and what to write instead, e.g.
//! `unknown variable "bas" at column 7: did you mean "bass"? ...`; in a job file the TOML error
//! also names the line.
//!
//! # Where it lives
//!
//! Source text becomes tokens (`lexer`), tokens a reverse Polish program with constant
//! sub-expressions folded (`parser`, with the function table and the "did you mean" suggestions
//! in `names`), and the program runs once per frame on a small stack (`vm`: [`Expr`]).
//! [`Reactive`], the type a layer property has, wraps a constant or an [`Expr`]; `de` reads it
//! (and [`Var`]) from a job file. The tests are in `tests`.

mod de;
mod lexer;
mod names;
mod parser;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
mod vm;

use std::fmt;
use std::str::FromStr;

use names::{suggest_var, suggestion_hint, var_list};
pub use vm::Expr;

/// Longest expression accepted, in characters.
pub const MAX_SOURCE_CHARS: usize = 1000;

/// Deepest nesting of parentheses, function calls, signs and powers accepted.
pub const MAX_DEPTH: usize = 64;

/// An input of an expression: an audio feature of the current frame or a timing value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Var {
    /// Seconds into the audio file.
    Time,
    /// Seconds of video being rendered.
    Duration,
    /// 0..1 through the render.
    Progress,
    /// Frame index from the start of the render.
    Frame,
    /// RMS level of the mono mix.
    Rms,
    /// Peak level of the mono mix.
    Peak,
    /// Momentary loudness, LUFS.
    Loudness,
    /// Left channel level, 0..1.
    Left,
    /// Right channel level, 0..1.
    Right,
    /// Onset strength, 0..1.
    Onset,
    /// 1 on a beat frame, else 0.
    Beat,
    /// 1 at a beat, decaying until the next.
    Pulse,
    /// Tempo estimate, beats per minute.
    Bpm,
    /// Bass energy, 0..1.
    Bass,
    /// Mid energy, 0..1.
    Mid,
    /// Treble energy, 0..1.
    Treble,
}

impl Var {
    /// Number of variables.
    pub const COUNT: usize = 16;

    /// Every variable, in a fixed order (the order of [`Vars`]' storage).
    pub const ALL: [Var; Var::COUNT] = [
        Var::Time,
        Var::Duration,
        Var::Progress,
        Var::Frame,
        Var::Rms,
        Var::Peak,
        Var::Loudness,
        Var::Left,
        Var::Right,
        Var::Onset,
        Var::Beat,
        Var::Pulse,
        Var::Bpm,
        Var::Bass,
        Var::Mid,
        Var::Treble,
    ];

    /// The name written in expressions and in `feature = "..."`.
    pub const fn name(self) -> &'static str {
        match self {
            Var::Time => "time",
            Var::Duration => "duration",
            Var::Progress => "progress",
            Var::Frame => "frame",
            Var::Rms => "rms",
            Var::Peak => "peak",
            Var::Loudness => "loudness",
            Var::Left => "left",
            Var::Right => "right",
            Var::Onset => "onset",
            Var::Beat => "beat",
            Var::Pulse => "pulse",
            Var::Bpm => "bpm",
            Var::Bass => "bass",
            Var::Mid => "mid",
            Var::Treble => "treble",
        }
    }

    /// One line saying what the value is.
    pub const fn description(self) -> &'static str {
        match self {
            Var::Time => "seconds into the audio file",
            Var::Duration => "seconds of video being rendered",
            Var::Progress => "0 at the first frame of the render, rising to 1 at its end",
            Var::Frame => "frame index from the start of the render",
            Var::Rms => "RMS level of the mono mix (a full-scale sine gives 0.707)",
            Var::Peak => "largest absolute sample of the mono mix around the frame, 0..1",
            Var::Loudness => "momentary loudness in LUFS (-120 in silence)",
            Var::Left => "level of the left channel, 0..1",
            Var::Right => "level of the right channel, 0..1",
            Var::Onset => "onset strength, 0..1",
            Var::Beat => "1 on the frame of a beat, else 0",
            Var::Pulse => "1 at a beat, decaying exponentially until the next",
            Var::Bpm => "current tempo estimate in beats per minute (0 until known)",
            Var::Bass => "smoothed energy of 20-250 Hz, 0..1",
            Var::Mid => "smoothed energy of 250 Hz-4 kHz, 0..1",
            Var::Treble => "smoothed energy of 4-16 kHz, 0..1",
        }
    }

    /// The variable called `name` (exact, lower-case spelling).
    pub fn from_name(name: &str) -> Option<Var> {
        Var::ALL.into_iter().find(|v| v.name() == name)
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Var {
    type Err = String;

    /// Parses a variable name; the error says which names exist and suggests a close one.
    fn from_str(s: &str) -> Result<Var, String> {
        Var::from_name(s).ok_or_else(|| {
            format!(
                "unknown audio feature \"{s}\": {}",
                suggestion_hint(suggest_var(s, false), &var_list())
            )
        })
    }
}

/// The values of every [`Var`] for one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Vars {
    values: [f32; Var::COUNT],
}

impl Vars {
    /// The value of `var` (0 unless set).
    pub fn get(&self, var: Var) -> f32 {
        self.values[var.index()]
    }

    /// Sets `var`; a value that is not finite is stored as 0.
    pub fn set(&mut self, var: Var, value: f32) {
        self.values[var.index()] = finite(value);
    }

    /// The variables of one frame: `start` is where in the audio the render begins and
    /// `duration` how many seconds it renders (`progress` is 0 when `duration` is 0).
    pub fn from_features(f: &audio::FrameFeatures, start: f64, duration: f64) -> Vars {
        let progress = if duration > 0.0 {
            ((f64::from(f.time) - start) / duration).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let mut vars = Vars::default();
        for var in Var::ALL {
            let value = match var {
                Var::Time => f.time,
                Var::Duration => duration as f32,
                Var::Progress => progress as f32,
                Var::Frame => f.frame as f32,
                Var::Rms => f.rms,
                Var::Peak => f.peak,
                Var::Loudness => f.loudness_lufs,
                Var::Left => f.level_left,
                Var::Right => f.level_right,
                Var::Onset => f.onset,
                Var::Beat => f.beat,
                Var::Pulse => f.beat_pulse,
                Var::Bpm => f.bpm,
                Var::Bass => f.bass,
                Var::Mid => f.mid,
                Var::Treble => f.treble,
            };
            vars.set(var, value);
        }
        vars
    }
}

/// A mistake in an expression.
///
/// `message` is the whole sentence, column included, e.g.
/// `unknown variable "bas" at column 7: did you mean "bass"? ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// 1-based character column in the expression where the problem is.
    pub column: usize,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl ExprError {
    fn new(column: usize, what: impl fmt::Display, hint: impl fmt::Display) -> ExprError {
        ExprError {
            column,
            message: format!("{what} at column {column}: {hint}"),
        }
    }
}

/// Maps a non-finite value to 0.
fn finite(x: f32) -> f32 {
    if x.is_finite() { x } else { 0.0 }
}

/// A fractional layer property: a constant, or an expression of the audio features evaluated
/// every frame.
///
/// Deserialises from a number, an expression string, or a table
/// `{ feature = "bass", scale = 0.2, offset = 1.0 }` (`scale` defaults to 1, `offset` to 0),
/// reporting mistakes at the value's place in the TOML. A string that uses no variable is folded
/// to [`Reactive::Const`].
#[derive(Clone)]
pub enum Reactive {
    /// A fixed value.
    Const(f32),
    /// An expression, with the text it was written as (used for display and comparison).
    Expr { source: String, expr: Expr },
}

impl Reactive {
    /// Parses an expression string, folding a constant one to [`Reactive::Const`].
    pub fn parse(source: &str) -> Result<Reactive, ExprError> {
        let expr = Expr::parse(source)?;
        Ok(if expr.is_constant() {
            Reactive::Const(expr.eval(&Vars::default()))
        } else {
            Reactive::Expr {
                source: source.to_owned(),
                expr,
            }
        })
    }

    /// `offset + scale * feature`: the table form. A `scale` of 0 gives a constant.
    pub fn feature(feature: Var, scale: f32, offset: f32) -> Reactive {
        if scale == 0.0 {
            return Reactive::Const(finite(offset));
        }
        let mut source = if scale == 1.0 {
            feature.name().to_owned()
        } else {
            format!("{scale} * {feature}")
        };
        if offset != 0.0 {
            source = format!("{source} + {offset}");
        }
        Reactive::Expr {
            source,
            expr: Expr::feature(feature, scale, offset),
        }
    }

    /// The value for one frame (always finite).
    pub fn eval(&self, vars: &Vars) -> f32 {
        match self {
            Reactive::Const(c) => finite(*c),
            Reactive::Expr { expr, .. } => expr.eval(vars),
        }
    }

    /// The value for one frame, limited to `min..=max`.
    pub fn eval_clamped(&self, vars: &Vars, min: f32, max: f32) -> f32 {
        self.eval(vars).max(min).min(max)
    }

    /// The value when it never changes.
    pub fn constant(&self) -> Option<f32> {
        match self {
            Reactive::Const(c) => Some(*c),
            Reactive::Expr { .. } => None,
        }
    }

    /// Whether the value follows the audio (is an expression).
    pub fn is_reactive(&self) -> bool {
        matches!(self, Reactive::Expr { .. })
    }

    /// The variables the value reads (none for a constant).
    pub fn variables(&self) -> Vec<Var> {
        match self {
            Reactive::Const(_) => Vec::new(),
            Reactive::Expr { expr, .. } => expr.variables(),
        }
    }

    /// Checks a constant against `min..=max`; `what` names the property in the message.
    /// Expressions always pass: they are clamped when evaluated ([`Reactive::eval_clamped`]).
    pub fn check_const_range(&self, min: f32, max: f32, what: &str) -> Result<(), String> {
        match self {
            Reactive::Const(c) if !(*c >= min && *c <= max) => {
                Err(format!("{what} must be between {min} and {max}, got {c}"))
            }
            _ => Ok(()),
        }
    }
}

impl From<f32> for Reactive {
    fn from(value: f32) -> Reactive {
        Reactive::Const(value)
    }
}

impl FromStr for Reactive {
    type Err = ExprError;
    fn from_str(s: &str) -> Result<Reactive, ExprError> {
        Reactive::parse(s)
    }
}

impl PartialEq for Reactive {
    fn eq(&self, other: &Reactive) -> bool {
        match (self, other) {
            (Reactive::Const(a), Reactive::Const(b)) => a == b,
            (Reactive::Expr { source: a, .. }, Reactive::Expr { source: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for Reactive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reactive::Const(c) => f.debug_tuple("Const").field(c).finish(),
            Reactive::Expr { source, .. } => f.debug_tuple("Expr").field(source).finish(),
        }
    }
}

impl fmt::Display for Reactive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reactive::Const(c) => write!(f, "{c}"),
            Reactive::Expr { source, .. } => f.write_str(source),
        }
    }
}
