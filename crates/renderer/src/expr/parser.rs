//! The parser: tokens -> a reverse Polish program, by recursive descent over the precedence
//! levels in the module documentation. Constant sub-expressions are folded as they are emitted;
//! the length and nesting limits are enforced here, and every mistake is reported with its
//! column and what to write instead.

use super::lexer::{Sym, Tok, Token, lex};
use super::names::{
    FUNCTION_ALIASES, FUNCTIONS, function_list, suggest, suggest_var, suggestion_hint, var_list,
};
use super::vm::{Bin, Op, Un};
use super::{ExprError, MAX_DEPTH, MAX_SOURCE_CHARS, Var};

const VALUE_HINT: &str = "expected a number, variable, function or \"(\"";

/// Parses `src` into a reverse Polish program (constant sub-expressions folded); the error
/// names the character column of the mistake.
pub(super) fn compile(src: &str) -> Result<Vec<Op>, ExprError> {
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
    Ok(parser.ops)
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
