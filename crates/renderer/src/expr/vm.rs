//! The compiled program and its evaluation: one-, two- and three-argument operations, the
//! reverse Polish instructions, and [`Expr`], which runs them on a small stack once per frame.
//! Every operation maps a non-finite result to 0.

use std::str::FromStr;

use super::{ExprError, Var, Vars, finite, parser};

fn bool_value(b: bool) -> f32 {
    if b { 1.0 } else { 0.0 }
}

/// One-argument operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Un {
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
pub(super) enum Bin {
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
pub(super) enum Tri {
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
pub(super) enum Op {
    Const(f32),
    Var(Var),
    Un(Un),
    Bin(Bin),
    Tri(Tri),
}

impl Op {
    /// How many values the instruction takes from the stack (it always pushes one).
    pub(super) const fn inputs(self) -> usize {
        match self {
            Op::Const(_) | Op::Var(_) => 0,
            Op::Un(_) => 1,
            Op::Bin(_) => 2,
            Op::Tri(_) => 3,
        }
    }

    /// Applies an operation to constant arguments (`Const` and `Var` are not operations).
    pub(super) fn apply(self, args: [f32; 3]) -> Option<f32> {
        match self {
            Op::Const(_) | Op::Var(_) => None,
            Op::Un(u) => Some(u.apply(args[0])),
            Op::Bin(b) => Some(b.apply(args[0], args[1])),
            Op::Tri(t) => Some(t.apply(args[0], args[1], args[2])),
        }
    }
}

/// A compiled expression: see the [module documentation](crate::expr) for the language.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// Reverse Polish program; constant sub-expressions are already folded.
    pub(super) ops: Vec<Op>,
    /// Largest number of values on the evaluation stack.
    pub(super) max_stack: usize,
}

impl Expr {
    /// Parses and compiles `src`; the error names the character column of the mistake.
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        parser::compile(src).map(Expr::from_ops)
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
    pub(super) fn feature(var: Var, scale: f32, offset: f32) -> Expr {
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
