//! The lexer: expression text -> tokens, each with its 1-based character column. Malformed
//! numbers and characters that belong to no token are reported here.

use super::ExprError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sym {
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
pub(super) enum Tok {
    Num(f32),
    Ident(String),
    Op(Sym),
    LParen,
    RParen,
    Comma,
    End,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    /// 1-based character column of the first character.
    pub(super) col: usize,
    pub(super) text: String,
}

/// Splits `src` into tokens, ending with [`Tok::End`] at the column after the last character.
pub(super) fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
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
