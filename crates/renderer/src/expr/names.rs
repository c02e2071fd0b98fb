//! The names an expression may use besides the variables: the function table, the aliases
//! people try for variables and functions, and the "did you mean" suggestions built from them.

use super::Var;
use super::vm::{Bin, Op, Tri, Un};

/// A function: its name, the operation it compiles to, and how to call it (for messages).
pub(super) struct FuncDef {
    pub(super) name: &'static str,
    pub(super) op: Op,
    pub(super) signature: &'static str,
}

/// Every function an expression may call.
pub(super) const FUNCTIONS: &[FuncDef] = &[
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
pub(super) const FUNCTION_ALIASES: &[(&str, &str)] = &[
    ("log", "ln"),
    ("lerp", "mix"),
    ("power", "pow"),
    ("saturate", "clamp"),
    ("minimum", "min"),
    ("maximum", "max"),
];

pub(super) fn var_list() -> String {
    Var::ALL.map(Var::name).join(", ")
}

pub(super) fn function_list() -> String {
    FUNCTIONS
        .iter()
        .map(|f| f.signature)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn suggestion_hint(suggestion: Option<&str>, list: &str) -> String {
    match suggestion {
        Some(s) => format!("did you mean \"{s}\"? Use one of {list}"),
        None => format!("use one of {list}"),
    }
}

pub(super) fn suggest_var(name: &str, with_pi: bool) -> Option<&'static str> {
    let mut names: Vec<&'static str> = Var::ALL.map(Var::name).to_vec();
    if with_pi {
        names.push("pi");
    }
    suggest(name, &names, VAR_ALIASES)
}

/// The candidate closest to `name`, when one is close: a known alias, a different case, or at
/// most one (short names) or two edits (insertion, deletion, change, swap of neighbours) away:
/// the optimal-string-alignment distance, which counts a swap as one edit where Levenshtein's
/// counts two.
pub(super) fn suggest(
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
        .map(|&c| (strsim::osa_distance(&lower, c), c))
        .filter(|&(d, c)| d <= limit && d < c.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}
