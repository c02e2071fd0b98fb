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

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

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

impl<'de> Deserialize<'de> for Var {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Var, D::Error> {
        struct VarVisitor;
        impl Visitor<'_> for VarVisitor {
            type Value = Var;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "the name of an audio feature ({})", var_list())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Var, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(VarVisitor)
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

fn bool_value(b: bool) -> f32 {
    if b { 1.0 } else { 0.0 }
}

/// One-argument operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Un {
    Neg,
    Sin,
    Cos,
    Tan,
    Abs,
    Sqrt,
    Exp,
    Ln,
    Log10,
    Floor,
    Ceil,
    Round,
    Fract,
    Sign,
}

impl Un {
    fn apply(self, x: f32) -> f32 {
        finite(match self {
            Un::Neg => -x,
            Un::Sin => x.sin(),
            Un::Cos => x.cos(),
            Un::Tan => x.tan(),
            Un::Abs => x.abs(),
            Un::Sqrt => x.sqrt(),
            Un::Exp => x.exp(),
            Un::Ln => x.ln(),
            Un::Log10 => x.log10(),
            Un::Floor => x.floor(),
            Un::Ceil => x.ceil(),
            Un::Round => x.round(),
            Un::Fract => x - x.floor(),
            Un::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
        })
    }
}

/// Two-argument operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Min,
    Max,
    Step,
}

impl Bin {
    fn apply(self, a: f32, b: f32) -> f32 {
        finite(match self {
            Bin::Add => a + b,
            Bin::Sub => a - b,
            Bin::Mul => a * b,
            Bin::Div => a / b,
            Bin::Mod => a - b * (a / b).floor(),
            Bin::Pow => a.powf(b),
            Bin::Lt => bool_value(a < b),
            Bin::Le => bool_value(a <= b),
            Bin::Gt => bool_value(a > b),
            Bin::Ge => bool_value(a >= b),
            Bin::Eq => bool_value(a == b),
            Bin::Ne => bool_value(a != b),
            Bin::Min => a.min(b),
            Bin::Max => a.max(b),
            // step(edge, x)
            Bin::Step => bool_value(b >= a),
        })
    }
}

/// Three-argument operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    Clamp,
    Mix,
    Smoothstep,
}

impl Tri {
    fn apply(self, a: f32, b: f32, c: f32) -> f32 {
        finite(match self {
            // Not f32::clamp, which panics when lo > hi.
            Tri::Clamp => a.max(b).min(c),
            Tri::Mix => a + (b - a) * c,
            Tri::Smoothstep => {
                if a == b {
                    bool_value(c >= a)
                } else {
                    let t = ((c - a) / (b - a)).clamp(0.0, 1.0);
                    t * t * (3.0 - 2.0 * t)
                }
            }
        })
    }
}

/// One instruction of the compiled (reverse Polish) program.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Const(f32),
    Var(Var),
    Un(Un),
    Bin(Bin),
    Tri(Tri),
}

impl Op {
    /// How many values the instruction takes from the stack (it always pushes one).
    const fn inputs(self) -> usize {
        match self {
            Op::Const(_) | Op::Var(_) => 0,
            Op::Un(_) => 1,
            Op::Bin(_) => 2,
            Op::Tri(_) => 3,
        }
    }

    /// Applies an operation to constant arguments (`Const` and `Var` are not operations).
    fn apply(self, args: [f32; 3]) -> Option<f32> {
        match self {
            Op::Const(_) | Op::Var(_) => None,
            Op::Un(u) => Some(u.apply(args[0])),
            Op::Bin(b) => Some(b.apply(args[0], args[1])),
            Op::Tri(t) => Some(t.apply(args[0], args[1], args[2])),
        }
    }
}

struct FuncDef {
    name: &'static str,
    op: Op,
    signature: &'static str,
}

const FUNCTIONS: &[FuncDef] = &[
    FuncDef {
        name: "sin",
        op: Op::Un(Un::Sin),
        signature: "sin(x)",
    },
    FuncDef {
        name: "cos",
        op: Op::Un(Un::Cos),
        signature: "cos(x)",
    },
    FuncDef {
        name: "tan",
        op: Op::Un(Un::Tan),
        signature: "tan(x)",
    },
    FuncDef {
        name: "abs",
        op: Op::Un(Un::Abs),
        signature: "abs(x)",
    },
    FuncDef {
        name: "sqrt",
        op: Op::Un(Un::Sqrt),
        signature: "sqrt(x)",
    },
    FuncDef {
        name: "exp",
        op: Op::Un(Un::Exp),
        signature: "exp(x)",
    },
    FuncDef {
        name: "ln",
        op: Op::Un(Un::Ln),
        signature: "ln(x)",
    },
    FuncDef {
        name: "log10",
        op: Op::Un(Un::Log10),
        signature: "log10(x)",
    },
    FuncDef {
        name: "floor",
        op: Op::Un(Un::Floor),
        signature: "floor(x)",
    },
    FuncDef {
        name: "ceil",
        op: Op::Un(Un::Ceil),
        signature: "ceil(x)",
    },
    FuncDef {
        name: "round",
        op: Op::Un(Un::Round),
        signature: "round(x)",
    },
    FuncDef {
        name: "fract",
        op: Op::Un(Un::Fract),
        signature: "fract(x)",
    },
    FuncDef {
        name: "sign",
        op: Op::Un(Un::Sign),
        signature: "sign(x)",
    },
    FuncDef {
        name: "min",
        op: Op::Bin(Bin::Min),
        signature: "min(a, b)",
    },
    FuncDef {
        name: "max",
        op: Op::Bin(Bin::Max),
        signature: "max(a, b)",
    },
    FuncDef {
        name: "pow",
        op: Op::Bin(Bin::Pow),
        signature: "pow(a, b)",
    },
    FuncDef {
        name: "step",
        op: Op::Bin(Bin::Step),
        signature: "step(edge, x)",
    },
    FuncDef {
        name: "clamp",
        op: Op::Tri(Tri::Clamp),
        signature: "clamp(x, lo, hi)",
    },
    FuncDef {
        name: "mix",
        op: Op::Tri(Tri::Mix),
        signature: "mix(a, b, t)",
    },
    FuncDef {
        name: "smoothstep",
        op: Op::Tri(Tri::Smoothstep),
        signature: "smoothstep(e0, e1, x)",
    },
];

/// Names people try for a variable, and the variable they probably mean.
const VAR_ALIASES: &[(&str, &str)] = &[
    ("t", "time"),
    ("seconds", "time"),
    ("index", "frame"),
    ("volume", "rms"),
    ("level", "rms"),
    ("amplitude", "rms"),
    ("lufs", "loudness"),
    ("loudness_lufs", "loudness"),
    ("level_left", "left"),
    ("level_right", "right"),
    ("beat_pulse", "pulse"),
    ("tempo", "bpm"),
    ("low", "bass"),
    ("lows", "bass"),
    ("mids", "mid"),
    ("middle", "mid"),
    ("high", "treble"),
    ("highs", "treble"),
];

/// Names people try for a function, and the function they probably mean.
const FUNCTION_ALIASES: &[(&str, &str)] = &[
    ("log", "ln"),
    ("lerp", "mix"),
    ("power", "pow"),
    ("saturate", "clamp"),
    ("minimum", "min"),
    ("maximum", "max"),
];

fn var_list() -> String {
    Var::ALL.map(Var::name).join(", ")
}

fn function_list() -> String {
    FUNCTIONS
        .iter()
        .map(|f| f.signature)
        .collect::<Vec<_>>()
        .join(", ")
}

fn suggestion_hint(suggestion: Option<&str>, list: &str) -> String {
    match suggestion {
        Some(s) => format!("did you mean \"{s}\"? Use one of {list}"),
        None => format!("use one of {list}"),
    }
}

fn suggest_var(name: &str, with_pi: bool) -> Option<&'static str> {
    let mut names: Vec<&'static str> = Var::ALL.map(Var::name).to_vec();
    if with_pi {
        names.push("pi");
    }
    suggest(name, &names, VAR_ALIASES)
}

/// The candidate closest to `name`, when one is close: a known alias, a different case, or at
/// most one (short names) or two edits (insertion, deletion, change, swap of neighbours) away.
fn suggest(
    name: &str,
    candidates: &[&'static str],
    aliases: &[(&str, &'static str)],
) -> Option<&'static str> {
    let lower = name.to_lowercase();
    if let Some(&(_, to)) = aliases.iter().find(|(from, _)| *from == lower) {
        return Some(to);
    }
    if let Some(&c) = candidates.iter().find(|c| **c == lower) {
        return Some(c);
    }
    let limit = if lower.chars().count() <= 4 { 1 } else { 2 };
    candidates
        .iter()
        .map(|&c| (edit_distance(&lower, c), c))
        .filter(|&(d, c)| d <= limit && d < c.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of
/// neighbouring characters each count 1.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sym {
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Caret,
    Lt,
    Le,
    Gt,
    Ge,
    EqEq,
    Ne,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f32),
    Ident(String),
    Op(Sym),
    LParen,
    RParen,
    Comma,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// 1-based character column of the first character.
    col: usize,
    text: String,
}

const VALUE_HINT: &str = "expected a number, variable, function or \"(\"";

fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let is_digit = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let col = i + 1;
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = if c.is_ascii_digit() || (c == '.' && is_digit(i + 1)) {
            while is_digit(i) {
                i += 1;
            }
            if chars.get(i) == Some(&'.') {
                i += 1;
                while is_digit(i) {
                    i += 1;
                }
            }
            if matches!(chars.get(i), Some('e' | 'E')) {
                let mut j = i + 1;
                if matches!(chars.get(j), Some('+' | '-')) {
                    j += 1;
                }
                if is_digit(j) {
                    i = j;
                    while is_digit(i) {
                        i += 1;
                    }
                } else if j > i + 1
                    || !chars
                        .get(i + 1)
                        .is_some_and(|c| c.is_alphanumeric() || *c == '_')
                {
                    // "1e", "1e+": an exponent without digits ("1exp" is left to the parser).
                    let text: String = chars[start..j].iter().collect();
                    return Err(ExprError::new(
                        col,
                        format!("number \"{text}\" has no digits after its exponent"),
                        "write for example 1e-3 or 2.5e2",
                    ));
                }
            }
            let text: String = chars[start..i].iter().collect();
            let value = text.parse::<f64>().map(|v| v as f32).unwrap_or(f32::NAN);
            if !value.is_finite() {
                return Err(ExprError::new(
                    col,
                    format!("number \"{text}\" is too large"),
                    "numbers must lie within -3.4e38..3.4e38",
                ));
            }
            Tok::Num(value)
        } else if c.is_ascii_alphabetic() || c == '_' {
            while chars
                .get(i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                i += 1;
            }
            Tok::Ident(chars[start..i].iter().collect())
        } else {
            let next = chars.get(i + 1).copied();
            let (tok, len) = match (c, next) {
                ('<', Some('=')) => (Tok::Op(Sym::Le), 2),
                ('>', Some('=')) => (Tok::Op(Sym::Ge), 2),
                ('=', Some('=')) => (Tok::Op(Sym::EqEq), 2),
                ('!', Some('=')) => (Tok::Op(Sym::Ne), 2),
                ('*', Some('*')) => {
                    return Err(ExprError::new(
                        col,
                        "\"**\" is not an operator",
                        "write ^ for a power, e.g. 2 ^ 3",
                    ));
                }
                ('=', _) => {
                    return Err(ExprError::new(
                        col,
                        "\"=\" is not an operator",
                        "write == to compare two values",
                    ));
                }
                ('!', _) => {
                    return Err(ExprError::new(
                        col,
                        "\"!\" is not an operator",
                        "write != to compare two values, or 1 - x to invert a 0/1 value",
                    ));
                }
                ('<', _) => (Tok::Op(Sym::Lt), 1),
                ('>', _) => (Tok::Op(Sym::Gt), 1),
                ('+', _) => (Tok::Op(Sym::Plus), 1),
                ('-', _) => (Tok::Op(Sym::Minus), 1),
                ('*', _) => (Tok::Op(Sym::Star), 1),
                ('/', _) => (Tok::Op(Sym::Slash), 1),
                ('%', _) => (Tok::Op(Sym::Percent), 1),
                ('^', _) => (Tok::Op(Sym::Caret), 1),
                ('(', _) => (Tok::LParen, 1),
                (')', _) => (Tok::RParen, 1),
                (',', _) => (Tok::Comma, 1),
                _ => {
                    return Err(ExprError::new(
                        col,
                        format!("unexpected character \"{c}\""),
                        "expressions are made of numbers, variable names, + - * / % ^, \
                         comparisons (< <= > >= == !=), parentheses and functions such as sin(x)",
                    ));
                }
            };
            i += len;
            tok
        };
        out.push(Token {
            tok,
            col,
            text: chars[start..i].iter().collect(),
        });
    }
    out.push(Token {
        tok: Tok::End,
        col: chars.len() + 1,
        text: String::new(),
    });
    Ok(out)
}

/// Recursive-descent parser emitting reverse Polish instructions.
struct Parser {
    toks: Vec<Token>,
    /// Index of the current token; never past the final `End`.
    pos: usize,
    depth: usize,
    ops: Vec<Op>,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.toks[self.pos]
    }

    fn advance(&mut self) {
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            // Point at the "(", sign or "^" that opened the level, when there is one.
            let col = match self.pos.checked_sub(1).and_then(|p| self.toks.get(p)) {
                Some(prev) => prev.col,
                None => self.peek().col,
            };
            return Err(ExprError::new(
                col,
                "expression nests too deeply",
                format!(
                    "at most {MAX_DEPTH} levels of parentheses, function calls, signs and \
                     powers are allowed; simplify it"
                ),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Appends an instruction, folding it when all its inputs are constants (in reverse Polish
    /// order the inputs of the newest operation are then exactly the last instructions).
    fn emit(&mut self, op: Op) {
        let n = op.inputs();
        if n > 0 && self.ops.len() >= n {
            let base = self.ops.len() - n;
            let mut args = [0.0f32; 3];
            let all_const = self.ops[base..]
                .iter()
                .zip(args.iter_mut())
                .all(|(o, a)| match o {
                    Op::Const(c) => {
                        *a = *c;
                        true
                    }
                    _ => false,
                });
            if all_const && let Some(value) = op.apply(args) {
                self.ops.truncate(base);
                self.ops.push(Op::Const(value));
                return;
            }
        }
        self.ops.push(op);
    }

    fn after_previous(&self) -> String {
        match self.pos.checked_sub(1).and_then(|p| self.toks.get(p)) {
            Some(prev) => format!("after \"{}\"", prev.text),
            None => "at the start".to_owned(),
        }
    }

    /// The error for a token standing where a value should start.
    fn expected_value(&self) -> ExprError {
        let t = self.peek();
        match t.tok {
            Tok::End if self.pos == 0 => ExprError::new(
                1,
                "empty expression",
                "write a number such as 0.5 or an expression such as \"0.5 + 0.5 * pulse\"",
            ),
            Tok::End => ExprError::new(
                t.col,
                "expression ends too early",
                format!("{VALUE_HINT} {}", self.after_previous()),
            ),
            Tok::RParen | Tok::Comma => ExprError::new(
                t.col,
                format!("missing value before \"{}\"", t.text),
                format!("{VALUE_HINT} {}", self.after_previous()),
            ),
            _ => ExprError::new(
                t.col,
                format!("unexpected \"{}\"", t.text),
                format!("{VALUE_HINT} {}", self.after_previous()),
            ),
        }
    }

    /// The error for a token standing where an operator (or the end) should be.
    fn expected_operator(&self) -> ExprError {
        let t = self.peek();
        match t.tok {
            Tok::RParen => ExprError::new(
                t.col,
                "unbalanced \")\"",
                "there is no \"(\" for it to close; remove it or add the missing \"(\"",
            ),
            Tok::Comma => ExprError::new(
                t.col,
                "unexpected \",\"",
                "commas only separate the arguments of a function, as in min(a, b)",
            ),
            _ => {
                let prev = self
                    .pos
                    .checked_sub(1)
                    .and_then(|p| self.toks.get(p))
                    .map_or("2", |p| p.text.as_str());
                ExprError::new(
                    t.col,
                    format!("missing operator before \"{}\"", t.text),
                    format!(
                        "write an operator such as + - * / between two values, e.g. \"{prev} * {}\"",
                        t.text
                    ),
                )
            }
        }
    }

    fn expr(&mut self) -> Result<(), ExprError> {
        self.enter()?;
        self.equality()?;
        self.leave();
        Ok(())
    }

    /// One left-associative level of binary operators.
    fn level(
        &mut self,
        operand: fn(&mut Parser) -> Result<(), ExprError>,
        operator: fn(Sym) -> Option<Bin>,
    ) -> Result<(), ExprError> {
        operand(self)?;
        loop {
            let op = match self.peek().tok {
                Tok::Op(sym) => match operator(sym) {
                    Some(op) => op,
                    None => return Ok(()),
                },
                _ => return Ok(()),
            };
            self.advance();
            operand(self)?;
            self.emit(Op::Bin(op));
        }
    }

    fn equality(&mut self) -> Result<(), ExprError> {
        self.level(Parser::comparison, |s| match s {
            Sym::EqEq => Some(Bin::Eq),
            Sym::Ne => Some(Bin::Ne),
            _ => None,
        })
    }

    fn comparison(&mut self) -> Result<(), ExprError> {
        self.level(Parser::additive, |s| match s {
            Sym::Lt => Some(Bin::Lt),
            Sym::Le => Some(Bin::Le),
            Sym::Gt => Some(Bin::Gt),
            Sym::Ge => Some(Bin::Ge),
            _ => None,
        })
    }

    fn additive(&mut self) -> Result<(), ExprError> {
        self.level(Parser::term, |s| match s {
            Sym::Plus => Some(Bin::Add),
            Sym::Minus => Some(Bin::Sub),
            _ => None,
        })
    }

    fn term(&mut self) -> Result<(), ExprError> {
        self.level(Parser::unary, |s| match s {
            Sym::Star => Some(Bin::Mul),
            Sym::Slash => Some(Bin::Div),
            Sym::Percent => Some(Bin::Mod),
            _ => None,
        })
    }

    fn unary(&mut self) -> Result<(), ExprError> {
        match self.peek().tok {
            Tok::Op(sym @ (Sym::Minus | Sym::Plus)) => {
                self.advance();
                self.enter()?;
                self.unary()?;
                self.leave();
                if sym == Sym::Minus {
                    self.emit(Op::Un(Un::Neg));
                }
                Ok(())
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<(), ExprError> {
        self.primary()?;
        if self.peek().tok == Tok::Op(Sym::Caret) {
            self.advance();
            self.enter()?;
            // The exponent may carry a sign (2 ^ -1) and is itself a power (right-associative).
            self.unary()?;
            self.leave();
            self.emit(Op::Bin(Bin::Pow));
        }
        Ok(())
    }

    fn primary(&mut self) -> Result<(), ExprError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Num(v) => {
                self.advance();
                self.emit(Op::Const(v));
                Ok(())
            }
            Tok::Ident(name) => {
                self.advance();
                if self.peek().tok == Tok::LParen {
                    self.call(&name, t.col)
                } else {
                    self.name(&name, t.col)
                }
            }
            Tok::LParen => {
                self.advance();
                self.expr()?;
                self.close(t.col, None)
            }
            _ => Err(self.expected_value()),
        }
    }

    /// Expects the ")" matching the "(" at `open_col`.
    fn close(&mut self, open_col: usize, function: Option<&str>) -> Result<(), ExprError> {
        match self.peek().tok {
            Tok::RParen => {
                self.advance();
                Ok(())
            }
            Tok::End => Err(ExprError::new(
                open_col,
                match function {
                    Some(f) => format!("unclosed \"(\" of {f}("),
                    None => "unclosed \"(\"".to_owned(),
                },
                "add the missing \")\"",
            )),
            _ => Err(self.expected_operator()),
        }
    }

    fn name(&mut self, name: &str, col: usize) -> Result<(), ExprError> {
        if name == "pi" {
            self.emit(Op::Const(std::f32::consts::PI));
            return Ok(());
        }
        if let Some(var) = Var::from_name(name) {
            self.emit(Op::Var(var));
            return Ok(());
        }
        if let Some(f) = FUNCTIONS.iter().find(|f| f.name == name) {
            return Err(ExprError::new(
                col,
                format!("\"{name}\" is a function"),
                format!("call it with its arguments in parentheses: {}", f.signature),
            ));
        }
        Err(ExprError::new(
            col,
            format!("unknown variable \"{name}\""),
            suggestion_hint(
                suggest_var(name, true),
                &format!("{}, or the constant pi", var_list()),
            ),
        ))
    }

    fn call(&mut self, name: &str, col: usize) -> Result<(), ExprError> {
        let Some(f) = FUNCTIONS.iter().find(|f| f.name == name) else {
            if name == "pi" || Var::from_name(name).is_some() {
                return Err(ExprError::new(
                    col,
                    format!("\"{name}\" is a value, not a function"),
                    format!("remove the parentheses, or multiply: {name} * (...)"),
                ));
            }
            if matches!(name, "mod" | "fmod") {
                return Err(ExprError::new(
                    col,
                    format!("unknown function \"{name}\""),
                    "use the % operator for a remainder, e.g. time % 2",
                ));
            }
            let names: Vec<&'static str> = FUNCTIONS.iter().map(|f| f.name).collect();
            return Err(ExprError::new(
                col,
                format!("unknown function \"{name}\""),
                suggestion_hint(suggest(name, &names, FUNCTION_ALIASES), &function_list()),
            ));
        };
        let open_col = self.peek().col;
        self.advance();
        let mut given = 0;
        if self.peek().tok != Tok::RParen {
            loop {
                self.expr()?;
                given += 1;
                match self.peek().tok {
                    Tok::Comma => self.advance(),
                    _ => break,
                }
            }
        }
        self.close(open_col, Some(name))?;
        let wanted = f.op.inputs();
        if given != wanted {
            return Err(ExprError::new(
                col,
                format!(
                    "{name} takes {wanted} argument{} but was given {given}",
                    if wanted == 1 { "" } else { "s" }
                ),
                format!("write {}", f.signature),
            ));
        }
        self.emit(f.op);
        Ok(())
    }
}

/// A compiled expression: see the [module documentation](self) for the language.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// Reverse Polish program; constant sub-expressions are already folded.
    ops: Vec<Op>,
    /// Largest number of values on the evaluation stack.
    max_stack: usize,
}

impl Expr {
    /// Parses and compiles `src`; the error names the character column of the mistake.
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        if src.chars().count() > MAX_SOURCE_CHARS {
            return Err(ExprError::new(
                MAX_SOURCE_CHARS + 1,
                "expression is too long",
                format!("at most {MAX_SOURCE_CHARS} characters are allowed; shorten it"),
            ));
        }
        let mut parser = Parser {
            toks: lex(src)?,
            pos: 0,
            depth: 0,
            ops: Vec::new(),
        };
        parser.expr()?;
        if parser.peek().tok != Tok::End {
            return Err(parser.expected_operator());
        }
        Ok(Expr::from_ops(parser.ops))
    }

    fn from_ops(ops: Vec<Op>) -> Expr {
        let mut depth = 0usize;
        let mut max_stack = 0;
        for op in &ops {
            depth = (depth + 1).saturating_sub(op.inputs());
            max_stack = max_stack.max(depth);
        }
        Expr { ops, max_stack }
    }

    /// `offset + scale * var`, written as the equivalent expression would compile.
    fn feature(var: Var, scale: f32, offset: f32) -> Expr {
        let mut ops = Vec::with_capacity(5);
        if scale != 1.0 {
            ops.push(Op::Const(finite(scale)));
        }
        ops.push(Op::Var(var));
        if scale != 1.0 {
            ops.push(Op::Bin(Bin::Mul));
        }
        if offset != 0.0 {
            ops.push(Op::Const(finite(offset)));
            ops.push(Op::Bin(Bin::Add));
        }
        Expr::from_ops(ops)
    }

    /// Evaluates the expression; the result is always finite (see the module documentation).
    pub fn eval(&self, vars: &Vars) -> f32 {
        const INLINE: usize = 32;
        if self.max_stack <= INLINE {
            self.run(vars, &mut [0.0; INLINE])
        } else {
            self.run(vars, &mut vec![0.0; self.max_stack])
        }
    }

    fn run(&self, vars: &Vars, stack: &mut [f32]) -> f32 {
        // `stack` holds at least `max_stack` values and the program is well formed, so the
        // indices below stay in bounds.
        let mut sp = 0usize;
        for op in &self.ops {
            match *op {
                Op::Const(c) => {
                    stack[sp] = c;
                    sp += 1;
                }
                Op::Var(v) => {
                    stack[sp] = vars.get(v);
                    sp += 1;
                }
                Op::Un(u) => stack[sp - 1] = u.apply(stack[sp - 1]),
                Op::Bin(b) => {
                    sp -= 1;
                    stack[sp - 1] = b.apply(stack[sp - 1], stack[sp]);
                }
                Op::Tri(t) => {
                    sp -= 2;
                    stack[sp - 1] = t.apply(stack[sp - 1], stack[sp], stack[sp + 1]);
                }
            }
        }
        finite(stack.first().copied().unwrap_or(0.0))
    }

    /// Whether the expression uses no variable (its value never changes).
    pub fn is_constant(&self) -> bool {
        !self.ops.iter().any(|op| matches!(op, Op::Var(_)))
    }

    /// The variables the expression reads, each once, in [`Var::ALL`] order.
    pub fn variables(&self) -> Vec<Var> {
        let mut vars: Vec<Var> = self
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Var(v) => Some(*v),
                _ => None,
            })
            .collect();
        vars.sort_unstable();
        vars.dedup();
        vars
    }
}

impl FromStr for Expr {
    type Err = ExprError;
    fn from_str(s: &str) -> Result<Expr, ExprError> {
        Expr::parse(s)
    }
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

/// A number that fits a finite `f32`.
fn finite_f32(v: f64) -> Result<f32, String> {
    if !v.is_finite() {
        return Err(format!("expected a finite number, got {v}"));
    }
    let f = v as f32;
    if !f.is_finite() {
        return Err(format!(
            "{v} is too large: numbers must lie within -3.4e38..3.4e38"
        ));
    }
    Ok(f)
}

/// A finite number in a reactor table (its own type so that errors point at the value).
struct TableNumber(f32);

impl<'de> Deserialize<'de> for TableNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TableNumber, D::Error> {
        struct NumberVisitor;
        impl Visitor<'_> for NumberVisitor {
            type Value = TableNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TableNumber, E> {
                finite_f32(v).map(TableNumber).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TableNumber, E> {
                Ok(TableNumber(v as f32))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TableNumber, E> {
                Ok(TableNumber(v as f32))
            }
        }
        deserializer.deserialize_f64(NumberVisitor)
    }
}

const TABLE_FIELDS: &[&str] = &["feature", "scale", "offset"];

struct ReactiveVisitor;

impl<'de> Visitor<'de> for ReactiveVisitor {
    type Value = Reactive;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a number, an expression string such as \"0.5 + 0.5 * pulse\", or a table such as \
             { feature = \"bass\", scale = 0.2, offset = 1.0 }",
        )
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Reactive, E> {
        finite_f32(v).map(Reactive::Const).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Reactive, E> {
        Ok(Reactive::Const(v as f32))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Reactive, E> {
        Ok(Reactive::Const(v as f32))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Reactive, E> {
        Reactive::parse(v).map_err(|e| {
            if v.chars().count() <= 80 {
                E::custom(format!("invalid expression \"{v}\": {e}"))
            } else {
                E::custom(format!("invalid expression: {e}"))
            }
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Reactive, A::Error> {
        let mut feature = None;
        let mut scale = None;
        let mut offset = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "feature" if feature.is_none() => feature = Some(map.next_value::<Var>()?),
                "scale" if scale.is_none() => scale = Some(map.next_value::<TableNumber>()?.0),
                "offset" if offset.is_none() => offset = Some(map.next_value::<TableNumber>()?.0),
                "feature" => return Err(de::Error::duplicate_field("feature")),
                "scale" => return Err(de::Error::duplicate_field("scale")),
                "offset" => return Err(de::Error::duplicate_field("offset")),
                other => return Err(de::Error::unknown_field(other, TABLE_FIELDS)),
            }
        }
        let Some(feature) = feature else {
            return Err(de::Error::custom(format!(
                "a reactor table needs feature = \"NAME\", one of {}",
                var_list()
            )));
        };
        Ok(Reactive::feature(
            feature,
            scale.unwrap_or(1.0),
            offset.unwrap_or(0.0),
        ))
    }
}

impl<'de> Deserialize<'de> for Reactive {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Reactive, D::Error> {
        deserializer.deserialize_any(ReactiveVisitor)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn eval(src: &str) -> f32 {
        match Expr::parse(src) {
            Ok(e) => e.eval(&Vars::default()),
            Err(e) => panic!("{src:?} failed to parse: {e}"),
        }
    }

    fn eval_with(src: &str, vars: &Vars) -> f32 {
        Expr::parse(src).unwrap().eval(vars)
    }

    fn err(src: &str) -> ExprError {
        match Expr::parse(src) {
            Ok(e) => panic!("{src:?} parsed as {e:?}"),
            Err(e) => e,
        }
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() <= 1e-5 * (1.0 + b.abs())
    }

    #[track_caller]
    fn assert_eval(src: &str, want: f32) {
        let got = eval(src);
        assert!(close(got, want), "{src:?} = {got}, want {want}");
    }

    #[test]
    fn numbers() {
        assert_eval("1", 1.0);
        assert_eval("1.5", 1.5);
        assert_eval(".5", 0.5);
        assert_eval("1.", 1.0);
        assert_eval("1e-3", 0.001);
        assert_eval("2.5E+2", 250.0);
        assert_eval("3e2", 300.0);
        assert_eval("  42  ", 42.0);
        assert_eval("pi", std::f32::consts::PI);
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eval("1 + 2 * 3", 7.0);
        assert_eval("(1 + 2) * 3", 9.0);
        assert_eval("2 * 3 + 4 * 5", 26.0);
        assert_eval("10 - 4 - 3", 3.0);
        assert_eval("64 / 4 / 2", 8.0);
        assert_eval("2 ^ 3 ^ 2", 512.0);
        assert_eval("(2 ^ 3) ^ 2", 64.0);
        assert_eval("-2 ^ 2", -4.0);
        assert_eval("(-2) ^ 2", 4.0);
        assert_eval("2 ^ -1", 0.5);
        assert_eval("-2 ^ -2", -0.25);
        assert_eval("2 * 3 ^ 2", 18.0);
        assert_eval("-3 * 2", -6.0);
        assert_eval("2 - -1", 3.0);
        assert_eval("--1", 1.0);
        assert_eval("+-+1", -1.0);
        assert_eval("7 % 3", 1.0);
        assert_eval("-7 % 3", 2.0);
        assert_eval("7.5 % 2", 1.5);
        assert_eval("1 + 7 % 3 * 2", 3.0);
        assert_eval("1 + 2 < 4", 1.0);
        assert_eval("1 + 2 < 3", 0.0);
        assert_eval("3 > 2 > 1", 0.0);
        assert_eval("1 < 2 == 1", 1.0);
        assert_eval("2 == 2", 1.0);
        assert_eval("2 != 2", 0.0);
        assert_eval("1 <= 1", 1.0);
        assert_eval("1 >= 2", 0.0);
        assert_eval("1 + 2 == 3", 1.0);
        assert_eval("((((1))))", 1.0);
        assert_eval("1e-3 * 1000", 1.0);
        assert_eval(".5 + .25", 0.75);
    }

    #[test]
    fn functions() {
        assert_eval("sin(pi / 2)", 1.0);
        assert_eval("cos(pi)", -1.0);
        assert_eval("tan(pi / 4)", 1.0);
        assert_eval("abs(-3)", 3.0);
        assert_eval("sqrt(16)", 4.0);
        assert_eval("exp(1)", std::f32::consts::E);
        assert_eval("ln(exp(2))", 2.0);
        assert_eval("log10(1000)", 3.0);
        assert_eval("floor(-1.5)", -2.0);
        assert_eval("ceil(-1.5)", -1.0);
        assert_eval("round(2.5)", 3.0);
        assert_eval("round(-2.5)", -3.0);
        assert_eval("round(2.4)", 2.0);
        assert_eval("fract(2.75)", 0.75);
        assert_eval("fract(-0.25)", 0.75);
        assert_eval("sign(-4)", -1.0);
        assert_eval("sign(0)", 0.0);
        assert_eval("sign(0.1)", 1.0);
        assert_eval("min(3, -2)", -2.0);
        assert_eval("max(3, -2)", 3.0);
        assert_eval("clamp(5, 0, 1)", 1.0);
        assert_eval("clamp(-5, 0, 1)", 0.0);
        assert_eval("clamp(0.3, 0, 1)", 0.3);
        assert_eval("clamp(0.5, 1, 0)", 0.0); // lo > hi: min(max(x, lo), hi), no panic
        assert_eval("mix(2, 4, 0.25)", 2.5);
        assert_eval("mix(2, 4, 2)", 6.0);
        assert_eval("smoothstep(0, 1, 0.5)", 0.5);
        assert_eval("smoothstep(0, 1, 0.25)", 0.15625);
        assert_eval("smoothstep(0, 1, -1)", 0.0);
        assert_eval("smoothstep(0, 1, 2)", 1.0);
        assert_eval("smoothstep(2, 2, 1)", 0.0);
        assert_eval("smoothstep(2, 2, 3)", 1.0);
        assert_eval("step(0.5, 0.4)", 0.0);
        assert_eval("step(0.5, 0.5)", 1.0);
        assert_eval("pow(2, 10)", 1024.0);
        assert_eval("pow(9, 0.5)", 3.0);
        assert_eval("max(1, min(5, 3)) + clamp(2 * 2, 0, 3)", 6.0);
        assert_eval("sin(0) + cos(0)", 1.0);
    }

    #[test]
    fn variable_names_round_trip() {
        assert_eq!(Var::ALL.len(), Var::COUNT);
        for (i, var) in Var::ALL.into_iter().enumerate() {
            assert_eq!(var.index(), i);
            assert_eq!(Var::from_name(var.name()), Some(var));
            assert_eq!(var.name().parse::<Var>(), Ok(var));
            assert_eq!(var.to_string(), var.name());
            assert!(!var.description().is_empty());
        }
        let names = [
            "time", "duration", "progress", "frame", "rms", "peak", "loudness", "left", "right",
            "onset", "beat", "pulse", "bpm", "bass", "mid", "treble",
        ];
        assert_eq!(Var::ALL.map(Var::name), names);
        assert_eq!(Var::from_name("Bass"), None);
        let e = "bas".parse::<Var>().unwrap_err();
        assert!(e.contains("did you mean \"bass\""), "{e}");
    }

    #[test]
    fn vars_from_features() {
        let f = audio::FrameFeatures {
            time: 12.0,
            frame: 7,
            rms: 0.11,
            peak: 0.22,
            loudness_lufs: -23.5,
            level_left: 0.33,
            level_right: 0.44,
            onset: 0.55,
            beat: 1.0,
            beat_pulse: 0.66,
            bpm: 128.0,
            bass: 0.77,
            mid: 0.88,
            treble: 0.99,
            _pad: [0.0; 2],
        };
        let vars = Vars::from_features(&f, 10.0, 4.0);
        let want = [
            (Var::Time, 12.0),
            (Var::Duration, 4.0),
            (Var::Progress, 0.5),
            (Var::Frame, 7.0),
            (Var::Rms, 0.11),
            (Var::Peak, 0.22),
            (Var::Loudness, -23.5),
            (Var::Left, 0.33),
            (Var::Right, 0.44),
            (Var::Onset, 0.55),
            (Var::Beat, 1.0),
            (Var::Pulse, 0.66),
            (Var::Bpm, 128.0),
            (Var::Bass, 0.77),
            (Var::Mid, 0.88),
            (Var::Treble, 0.99),
        ];
        assert_eq!(want.len(), Var::COUNT);
        for (var, value) in want {
            assert_eq!(vars.get(var), value, "{var}");
            // And through an expression naming it.
            assert_eq!(eval_with(var.name(), &vars), value, "{var}");
            assert_eq!(Expr::parse(var.name()).unwrap().variables(), vec![var]);
        }
        let at = |time: f32, start: f64, duration: f64| {
            Vars::from_features(
                &audio::FrameFeatures {
                    time,
                    ..Default::default()
                },
                start,
                duration,
            )
            .get(Var::Progress)
        };
        assert_eq!(at(20.0, 10.0, 4.0), 1.0);
        assert_eq!(at(5.0, 10.0, 4.0), 0.0);
        assert_eq!(at(11.0, 10.0, 4.0), 0.25);
        assert_eq!(at(11.0, 10.0, 0.0), 0.0);
    }

    #[test]
    fn expressions_read_variables() {
        let mut vars = Vars::default();
        vars.set(Var::Pulse, 0.5);
        vars.set(Var::Bass, 0.25);
        vars.set(Var::Time, 3.0);
        assert_eq!(eval_with("0.5 + 0.5 * pulse", &vars), 0.75);
        assert_eq!(eval_with("bass * 4 + time % 2", &vars), 2.0);
        assert_eq!(eval_with("step(0.3, bass)", &vars), 0.0);
        assert_eq!(eval_with("pulse > bass", &vars), 1.0);
        let e = Expr::parse("bass + bass * time - 1").unwrap();
        assert_eq!(e.variables(), vec![Var::Time, Var::Bass]);
        assert!(!e.is_constant());
        let c = Expr::parse("2 * pi + sin(1) * 3").unwrap();
        assert!(c.is_constant());
        assert!(c.variables().is_empty());
        // Constant sub-expressions are folded to one instruction.
        assert_eq!(c.ops.len(), 1);
        assert_eq!(Expr::parse("bass * (2 + 3)").unwrap().ops.len(), 3);
    }

    #[test]
    fn non_finite_results_become_zero() {
        assert_eq!(eval("1 / 0"), 0.0);
        assert_eq!(eval("0 / 0"), 0.0);
        assert_eq!(eval("1 / 0 + 1"), 1.0);
        assert_eq!(eval("5 % 0"), 0.0);
        assert_eq!(eval("sqrt(-1)"), 0.0);
        assert_eq!(eval("ln(0)"), 0.0);
        assert_eq!(eval("ln(-1) + 2"), 2.0);
        assert_eq!(eval("log10(0)"), 0.0);
        assert_eq!(eval("exp(1000)"), 0.0);
        assert_eq!(eval("10 ^ 40"), 0.0);
        assert_eq!(eval("pow(-8, 1 / 3)"), 0.0);
        assert_eq!(eval("3e38 * 10"), 0.0);
        // Also when the division happens at run time.
        let mut vars = Vars::default();
        assert_eq!(eval_with("1 / bass", &vars), 0.0);
        assert_eq!(eval_with("max(1 / bass, 2)", &vars), 2.0);
        vars.set(Var::Bass, f32::NAN);
        assert_eq!(vars.get(Var::Bass), 0.0);
        vars.set(Var::Mid, f32::INFINITY);
        assert_eq!(vars.get(Var::Mid), 0.0);
        assert_eq!(Reactive::Const(f32::NAN).eval(&vars), 0.0);
    }

    #[test]
    fn error_columns_and_messages() {
        let e = err("0.5 + bas");
        assert_eq!(e.column, 7);
        assert!(
            e.message
                .starts_with("unknown variable \"bas\" at column 7: did you mean \"bass\"?"),
            "{e}"
        );
        assert!(e.message.contains("time, duration, progress"), "{e}");
        assert_eq!(e.to_string(), e.message);

        let e = err("trebel");
        assert!(e.message.contains("did you mean \"treble\""), "{e}");
        let e = err("Bass * 2");
        assert!(e.message.contains("did you mean \"bass\""), "{e}");
        let e = err("beat_pulse");
        assert!(e.message.contains("did you mean \"pulse\""), "{e}");
        let e = err("1 + PI");
        assert_eq!(e.column, 5);
        assert!(e.message.contains("did you mean \"pi\""), "{e}");
        let e = err("xyzzy");
        assert!(!e.message.contains("did you mean"), "{e}");
        assert!(e.message.contains("use one of time"), "{e}");

        let e = err("2 * sinn(time)");
        assert_eq!(e.column, 5);
        assert!(
            e.message
                .starts_with("unknown function \"sinn\" at column 5: did you mean \"sin\"?"),
            "{e}"
        );
        assert!(e.message.contains("smoothstep(e0, e1, x)"), "{e}");
        let e = err("lerp(0, 1, bass)");
        assert!(e.message.contains("did you mean \"mix\""), "{e}");
        let e = err("mod(time, 2)");
        assert!(e.message.contains("% operator"), "{e}");

        let e = err("1 + min(1)");
        assert_eq!(e.column, 5);
        assert!(
            e.message
                .starts_with("min takes 2 arguments but was given 1 at column 5: write min(a, b)"),
            "{e}"
        );
        let e = err("sin(1, 2)");
        assert!(
            e.message
                .starts_with("sin takes 1 argument but was given 2"),
            "{e}"
        );
        let e = err("clamp()");
        assert!(
            e.message
                .starts_with("clamp takes 3 arguments but was given 0"),
            "{e}"
        );

        let e = err("(1 + 2");
        assert_eq!(e.column, 1);
        assert!(e.message.starts_with("unclosed \"(\" at column 1"), "{e}");
        let e = err("max(1, (2)");
        assert_eq!(e.column, 4);
        assert!(e.message.contains("unclosed \"(\" of max("), "{e}");
        let e = err("1 + 2)");
        assert_eq!(e.column, 6);
        assert!(e.message.starts_with("unbalanced \")\" at column 6"), "{e}");

        let e = err("1 +");
        assert_eq!(e.column, 4);
        assert!(
            e.message
                .starts_with("expression ends too early at column 4"),
            "{e}"
        );
        assert!(e.message.contains("after \"+\""), "{e}");
        let e = err("   ");
        assert_eq!(e.column, 1);
        assert!(e.message.starts_with("empty expression"), "{e}");
        let e = err("()");
        assert_eq!(e.column, 2);
        assert!(e.message.starts_with("missing value before \")\""), "{e}");
        let e = err("min(1,)");
        assert_eq!(e.column, 7);
        let e = err("1 * * 2");
        assert_eq!(e.column, 5);
        assert!(e.message.starts_with("unexpected \"*\" at column 5"), "{e}");

        let e = err("2 pi");
        assert_eq!(e.column, 3);
        assert!(e.message.contains("\"2 * pi\""), "{e}");
        let e = err("1 , 2");
        assert_eq!(e.column, 3);
        assert!(e.message.contains("commas only separate"), "{e}");
        let e = err("1 $ 2");
        assert_eq!(e.column, 3);
        assert!(
            e.message
                .starts_with("unexpected character \"$\" at column 3"),
            "{e}"
        );
        let e = err("bass = 1");
        assert_eq!(e.column, 6);
        assert!(e.message.contains("write =="), "{e}");
        let e = err("!beat");
        assert!(e.message.contains("1 - x"), "{e}");
        let e = err("2 ** 3");
        assert_eq!(e.column, 3);
        assert!(e.message.contains("^"), "{e}");
        let e = err("sin + 1");
        assert!(
            e.message.starts_with("\"sin\" is a function at column 1"),
            "{e}"
        );
        let e = err("bass(1)");
        assert!(e.message.contains("is a value, not a function"), "{e}");
        let e = err("1 + 1e");
        assert_eq!(e.column, 5);
        assert!(e.message.contains("no digits after its exponent"), "{e}");
        let e = err("1e+ 2");
        assert!(e.message.contains("no digits after its exponent"), "{e}");
        let e = err("1e400");
        assert!(e.message.contains("too large"), "{e}");
        // Columns count characters, not bytes.
        let e = err("\"é\" + 1");
        assert_eq!(e.column, 1);
        let e = err("1 + é");
        assert_eq!(e.column, 5);
    }

    #[test]
    fn length_and_depth_limits() {
        let ok = format!("{}1", "1+".repeat((MAX_SOURCE_CHARS - 1) / 2));
        assert!(ok.len() <= MAX_SOURCE_CHARS);
        assert_eq!(eval(&ok), ((MAX_SOURCE_CHARS - 1) / 2 + 1) as f32);
        let long = format!("{ok}+1");
        assert!(long.len() > MAX_SOURCE_CHARS);
        let e = err(&long);
        assert_eq!(e.column, MAX_SOURCE_CHARS + 1);
        assert!(e.message.contains("too long"), "{e}");

        let nested = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(eval(&nested(MAX_DEPTH - 1)), 1.0);
        let e = err(&nested(MAX_DEPTH));
        assert!(e.message.contains("nests too deeply"), "{e}");
        assert_eq!(e.column, MAX_DEPTH);
        assert!(err(&nested(400)).message.contains("nests too deeply"));
        assert!(err(&"-".repeat(500)).message.contains("nests too deeply"));
        assert!(
            err(&format!("{}2", "2^".repeat(200)))
                .message
                .contains("nests too deeply")
        );
        assert!(
            err(&format!("{}1{}", "sin(".repeat(100), ")".repeat(100)))
                .message
                .contains("nests too deeply")
        );
        assert_eq!(
            eval(&format!("{}1{}", "abs(".repeat(40), ")".repeat(40))),
            1.0
        );
    }

    #[test]
    fn deep_stacks_evaluate() {
        // Right-nested sums keep every left operand on the stack: more than the inline stack.
        let mut vars = Vars::default();
        vars.set(Var::Bass, 1.0);
        let n = 50;
        let src = format!("{}bass{}", "bass+(".repeat(n), ")".repeat(n));
        let e = Expr::parse(&src).unwrap();
        assert!(e.max_stack > 32, "{}", e.max_stack);
        assert_eq!(e.eval(&vars), (n + 1) as f32);
        let src = format!("{}bass{}", "mix(bass, bass, ".repeat(30), ")".repeat(30));
        assert_eq!(eval_with(&src, &vars), 1.0);
    }

    /// Random token soups: whatever parses must evaluate to a finite value without panicking.
    #[test]
    fn random_inputs_never_panic() {
        let pieces = [
            "1",
            "0",
            ".5",
            "2e3",
            "pi",
            "bass",
            "time",
            "-",
            "+",
            "*",
            "/",
            "%",
            "^",
            "<",
            "<=",
            "==",
            "!=",
            "(",
            ")",
            ",",
            "sin(",
            "min(",
            "clamp(",
            "smoothstep(",
            " ",
            "1e",
            "ln(",
            "pow(",
            "step(",
        ];
        let mut vars = Vars::default();
        for (i, var) in Var::ALL.into_iter().enumerate() {
            vars.set(var, i as f32 - 3.5);
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut parsed = 0;
        for _ in 0..20_000 {
            let mut src = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = 1 + (state % 12) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                src.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            match Expr::parse(&src) {
                Ok(e) => {
                    parsed += 1;
                    assert!(e.eval(&vars).is_finite(), "{src:?}");
                }
                Err(e) => {
                    assert!(
                        e.column >= 1 && e.column <= src.chars().count() + 1,
                        "{src:?}: {e}"
                    );
                    assert!(
                        e.message.contains(&format!("at column {}", e.column)),
                        "{e}"
                    );
                }
            }
        }
        assert!(parsed > 500, "only {parsed} parsed");
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Layer {
        #[serde(default)]
        name: String,
        opacity: Reactive,
    }

    fn layer(doc: &str) -> Result<Layer, String> {
        toml::from_str::<Layer>(doc).map_err(|e| e.to_string())
    }

    #[test]
    fn reactive_from_toml() {
        let mut vars = Vars::default();
        vars.set(Var::Pulse, 0.5);
        vars.set(Var::Bass, 0.5);

        let l = layer("name = \"a\"\nopacity = 0.8\n").unwrap();
        assert_eq!(l.name, "a");
        assert_eq!(l.opacity, Reactive::Const(0.8));
        assert_eq!(l.opacity.constant(), Some(0.8));
        assert!(!l.opacity.is_reactive());

        let l = layer("opacity = 1").unwrap();
        assert_eq!(l.opacity, Reactive::Const(1.0));
        let l = layer("opacity = -3").unwrap();
        assert_eq!(l.opacity, Reactive::Const(-3.0));

        let l = layer("opacity = \"0.5 + 0.5 * pulse\"").unwrap();
        assert!(l.opacity.is_reactive());
        assert_eq!(l.opacity.constant(), None);
        assert_eq!(l.opacity.eval(&vars), 0.75);
        assert_eq!(l.opacity.variables(), vec![Var::Pulse]);
        assert_eq!(l.opacity, Reactive::parse("0.5 + 0.5 * pulse").unwrap());
        assert_eq!(l.opacity.to_string(), "0.5 + 0.5 * pulse");
        assert_eq!(format!("{:?}", l.opacity), "Expr(\"0.5 + 0.5 * pulse\")");

        // A constant expression folds.
        let l = layer("opacity = \"2 * pi\"").unwrap();
        assert_eq!(l.opacity, Reactive::Const(2.0 * std::f32::consts::PI));

        let l = layer("opacity = { feature = \"bass\", scale = 0.2, offset = 1.0 }").unwrap();
        assert!(l.opacity.is_reactive());
        assert!(close(l.opacity.eval(&vars), 1.1));
        assert_eq!(l.opacity.to_string(), "0.2 * bass + 1");
        // The table form compiles like the expression it stands for.
        match (&l.opacity, Reactive::parse("0.2 * bass + 1").unwrap()) {
            (Reactive::Expr { expr: a, .. }, Reactive::Expr { expr: b, .. }) => assert_eq!(*a, b),
            other => panic!("{other:?}"),
        }
        let l = layer("[opacity]\nfeature = \"pulse\"\n").unwrap();
        assert_eq!(l.opacity.eval(&vars), 0.5);
        assert_eq!(l.opacity.to_string(), "pulse");
        let l = layer("opacity = { feature = \"bass\", offset = -1 }").unwrap();
        assert_eq!(l.opacity.eval(&vars), -0.5);
        let l = layer("opacity = { feature = \"bass\", scale = 0, offset = 2 }").unwrap();
        assert_eq!(l.opacity, Reactive::Const(2.0));
    }

    #[test]
    fn reactive_toml_errors_name_the_line() {
        let e = layer("name = \"a\"\nopacity = { feature = \"bas\" }\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        assert!(e.contains("unknown audio feature \"bas\""), "{e}");
        assert!(e.contains("did you mean \"bass\""), "{e}");

        let e = layer("name = \"a\"\n\nopacity = \"0.5 + bas\"\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("invalid expression \"0.5 + bas\""), "{e}");
        assert!(e.contains("unknown variable \"bas\" at column 7"), "{e}");

        let e = layer("opacity = { feature = \"bass\", gain = 2 }").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        assert!(e.contains("gain"), "{e}");
        assert!(e.contains("feature") && e.contains("offset"), "{e}");

        let e = layer("opacity = { scale = 2 }").unwrap_err();
        assert!(e.contains("needs feature"), "{e}");
        let e = layer("opacity = { feature = \"bass\", scale = \"x\" }").unwrap_err();
        assert!(e.contains("expected a number"), "{e}");
        let e = layer("opacity = nan").unwrap_err();
        assert!(e.contains("finite"), "{e}");
        let e = layer("opacity = 1e300").unwrap_err();
        assert!(e.contains("too large"), "{e}");
        let e = layer("opacity = true").unwrap_err();
        assert!(e.contains("an expression string"), "{e}");
        let e = layer("opacity = \"\"").unwrap_err();
        assert!(e.contains("empty expression"), "{e}");
    }

    #[test]
    fn reactive_helpers() {
        let vars = Vars::default();
        let r = Reactive::from(0.5);
        assert_eq!(r, Reactive::Const(0.5));
        assert!(r.check_const_range(0.0, 1.0, "opacity").is_ok());
        let e = Reactive::from(1.5)
            .check_const_range(0.0, 1.0, "opacity")
            .unwrap_err();
        assert_eq!(e, "opacity must be between 0 and 1, got 1.5");
        assert!(
            Reactive::Const(f32::NAN)
                .check_const_range(0.0, 1.0, "x")
                .is_err()
        );
        let r: Reactive = "2 + time".parse().unwrap();
        assert!(r.check_const_range(0.0, 1.0, "opacity").is_ok());
        assert_eq!(r.eval(&vars), 2.0);
        assert_eq!(r.eval_clamped(&vars, 0.0, 1.0), 1.0);
        let r: Reactive = "time - 5".parse().unwrap();
        assert_eq!(r.eval_clamped(&vars, 0.0, 1.0), 0.0);
        assert_ne!(r, Reactive::Const(-5.0));
        assert_ne!(r, "time - 4".parse::<Reactive>().unwrap());
        assert_eq!(format!("{:?}", Reactive::Const(0.5)), "Const(0.5)");
    }
}
