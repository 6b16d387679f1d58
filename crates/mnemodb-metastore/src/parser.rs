//! The filter text syntax: a hand-written lexer and recursive-descent parser.
//!
//! ```text
//! filter     := or
//! or         := and ( "or" and )*
//! and        := unary ( "and" unary )*
//! unary      := "not" unary | primary                       precedence: not > and > or
//! primary    := "(" filter ")" | "*" | "exists" "(" field ")"
//!             | field op value | field "in" list | field "not" "in" list
//! op         := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
//! field      := segment ( "." segment )*                    segment := ident | `any text`
//! value      := literal | "[" strings "]"                   (a list value, for = and !=)
//! list       := "[" ( literal ( "," literal )* ","? )? "]"
//! literal    := "string" | int | float | timestamp | true | false | null | nan | inf | -inf
//! timestamp  := RFC 3339 (2026-01-01T00:00:00Z, 2026-01-01T09:30:00.25+02:00, 2026-01-01)
//!             | "@" int                                     (microseconds since the epoch)
//! ```
//!
//! Keywords are case-insensitive; a field that is a keyword or holds other characters is
//! written in backticks. Strings use `\" \\ \n \r \t \u{hex}` escapes. Numbers are `i64`
//! when they have no `.` or exponent, else `f64`. Errors carry the 1-based character
//! column; [`ParseError::display_with_source`] draws a caret under it.
#![deny(clippy::indexing_slicing, clippy::panic)]

use std::ops::Bound;

use crate::filter::Filter;
use crate::timestamp;
use crate::value::Value;

/// Deepest nesting of parentheses and `not`s accepted (bounds the recursion).
const MAX_DEPTH: usize = 128;

/// Why a filter text does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    /// 1-based character column of the offending token.
    pub column: usize,
    /// What is wrong there.
    pub message: String,
}

impl ParseError {
    /// The source line with a caret under the column and the message, e.g.
    ///
    /// ```text
    /// user = "u1" and created_at >= 2026-13-01
    ///                               ^ invalid number or timestamp `2026-13-01`
    /// ```
    pub fn display_with_source(&self, text: &str) -> String {
        let mut col = self.column.max(1);
        for line in text.split('\n') {
            let n = line.chars().count();
            if col <= n + 1 {
                let pad: String = line
                    .chars()
                    .take(col - 1)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                return format!("{line}\n{pad}^ {}", self.message);
            }
            col -= n + 1;
        }
        format!("{text}\n^ {}", self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A bare identifier or keyword (keywords are matched case-insensitively).
    Ident(String),
    /// A backtick-quoted field segment (never a keyword).
    Quoted(String),
    Lit(Value),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Star,
    Op(&'static str),
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Quoted(s) => format!("`{s}`"),
        Tok::Lit(v) => format!("value {v}"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::LBracket => "`[`".into(),
        Tok::RBracket => "`]`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Dot => "`.`".into(),
        Tok::Star => "`*`".into(),
        Tok::Op(o) => format!("`{o}`"),
        Tok::End => "end of input".into(),
    }
}

fn err<T>(column: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        column,
        message: message.into(),
    })
}

/// Split `text` into tokens with their 1-based columns.
fn lex(text: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            ',' => Some(Tok::Comma),
            '.' => Some(Tok::Dot),
            '*' => Some(Tok::Star),
            _ => None,
        };
        if let Some(t) = single {
            out.push((t, col));
            i += 1;
            continue;
        }
        match c {
            '=' | '!' | '<' | '>' => {
                let next = at(i + 1);
                let (op, len) = match (c, next) {
                    ('=', Some('=')) => ("=", 2),
                    ('=', _) => ("=", 1),
                    ('!', Some('=')) => ("!=", 2),
                    ('<', Some('=')) => ("<=", 2),
                    ('<', _) => ("<", 1),
                    ('>', Some('=')) => (">=", 2),
                    ('>', _) => (">", 1),
                    _ => return err(col, "expected `!=`"),
                };
                out.push((Tok::Op(op), col));
                i += len;
            }
            '"' => {
                let (s, end) = lex_string(&chars, i)?;
                out.push((Tok::Lit(Value::String(s)), col));
                i = end;
            }
            '`' => {
                let start = i + 1;
                let mut j = start;
                while at(j).is_some_and(|c| c != '`') {
                    j += 1;
                }
                if at(j).is_none() {
                    return err(col, "unterminated `quoted field`");
                }
                let seg: String = chars.get(start..j).unwrap_or_default().iter().collect();
                if seg.is_empty() || seg.contains('.') {
                    return err(col, "a quoted field segment is non-empty and has no `.`");
                }
                out.push((Tok::Quoted(seg), col));
                i = j + 1;
            }
            '@' => {
                let start = i + 1;
                let mut j = start;
                if at(j) == Some('-') {
                    j += 1;
                }
                while at(j).is_some_and(|c| c.is_ascii_digit()) {
                    j += 1;
                }
                let s: String = chars.get(start..j).unwrap_or_default().iter().collect();
                match s.parse::<i64>() {
                    Ok(v) => out.push((Tok::Lit(Value::Timestamp(v)), col)),
                    Err(_) => return err(col, "expected microseconds after `@`"),
                }
                i = j;
            }
            '-' if chars
                .get(i + 1..i + 4)
                .is_some_and(|w| w.iter().collect::<String>().eq_ignore_ascii_case("inf"))
                && !at(i + 4).is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                out.push((Tok::Lit(Value::Float(f64::NEG_INFINITY)), col));
                i += 4;
            }
            c if c.is_ascii_digit()
                || (c == '-' && at(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let mut j = i + 1;
                while at(j).is_some_and(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '+' | '-')
                }) {
                    // A `-`/`+` continues the token only after a digit or an exponent/date part.
                    j += 1;
                }
                let s: String = chars.get(i..j).unwrap_or_default().iter().collect();
                out.push((Tok::Lit(number_or_timestamp(&s, col)?), col));
                i = j;
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut j = i + 1;
                while at(j).is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    j += 1;
                }
                let s: String = chars.get(i..j).unwrap_or_default().iter().collect();
                out.push((Tok::Ident(s), col));
                i = j;
            }
            other => return err(col, format!("unexpected character `{other}`")),
        }
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

/// A `"..."` string starting at `chars[start]`; returns it and the index after the quote.
fn lex_string(chars: &[char], start: usize) -> Result<(String, usize), ParseError> {
    let mut s = String::new();
    let mut i = start + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return err(start + 1, "unterminated string");
        };
        match c {
            '"' => return Ok((s, i + 1)),
            '\\' => {
                let esc = chars.get(i + 1).copied();
                match esc {
                    Some('"') => s.push('"'),
                    Some('\\') => s.push('\\'),
                    Some('n') => s.push('\n'),
                    Some('r') => s.push('\r'),
                    Some('t') => s.push('\t'),
                    Some('u') if chars.get(i + 2) == Some(&'{') => {
                        let mut j = i + 3;
                        let mut hex = String::new();
                        while let Some(&h) = chars.get(j) {
                            if h == '}' {
                                break;
                            }
                            hex.push(h);
                            j += 1;
                        }
                        let ch = (hex.len() <= 6)
                            .then(|| u32::from_str_radix(&hex, 16).ok())
                            .flatten()
                            .and_then(char::from_u32);
                        match (ch, chars.get(j)) {
                            (Some(ch), Some('}')) => s.push(ch),
                            _ => return err(i + 1, "invalid `\\u{..}` escape"),
                        }
                        i = j + 1;
                        continue;
                    }
                    _ => return err(i + 1, "unknown escape (use \\\" \\\\ \\n \\r \\t \\u{hex})"),
                }
                i += 2;
            }
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
}

fn number_or_timestamp(s: &str, col: usize) -> Result<Value, ParseError> {
    if let Some(t) = timestamp::parse_rfc3339(s) {
        return Ok(Value::Timestamp(t));
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<i64>() {
            Ok(v) => Ok(Value::Int(v)),
            Err(_) => err(col, format!("integer `{s}` does not fit in 64 bits")),
        };
    }
    let numeric = digits
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if numeric && let Ok(x) = s.parse::<f64>() {
        if x.is_finite() {
            return Ok(Value::Float(x));
        }
        return err(col, format!("number `{s}` is out of range"));
    }
    if s.contains(':') || s.matches('-').count() >= 2 {
        return err(
            col,
            format!("invalid timestamp `{s}` (expected RFC 3339, e.g. 2026-01-01T00:00:00Z)"),
        );
    }
    err(col, format!("invalid number `{s}`"))
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map_or(&Tok::End, |(t, _)| t)
    }
    fn col(&self) -> usize {
        self.toks.get(self.pos).map_or(1, |(_, c)| *c)
    }
    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        self.pos += 1;
        t
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }
    fn expect(&mut self, want: Tok, what: &str) -> Result<(), ParseError> {
        if *self.peek() == want {
            self.pos += 1;
            Ok(())
        } else {
            err(
                self.col(),
                format!("expected {what}, found {}", describe(self.peek())),
            )
        }
    }

    fn or(&mut self) -> Result<Filter, ParseError> {
        let first = self.and()?;
        if !self.is_kw("or") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.is_kw("or") {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(Filter::Or(items))
    }

    fn and(&mut self) -> Result<Filter, ParseError> {
        let first = self.unary()?;
        if !self.is_kw("and") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.is_kw("and") {
            self.pos += 1;
            items.push(self.unary()?);
        }
        Ok(Filter::And(items))
    }

    fn nest(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(self.col(), format!("nested deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Filter, ParseError> {
        if self.is_kw("not") {
            self.pos += 1;
            self.nest()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Filter, ParseError> {
        match self.peek() {
            Tok::LParen => {
                self.pos += 1;
                self.nest()?;
                let inner = self.or()?;
                self.depth -= 1;
                self.expect(Tok::RParen, "`)`")?;
                Ok(inner)
            }
            Tok::Star => {
                self.pos += 1;
                Ok(Filter::All)
            }
            Tok::Ident(s) if s.eq_ignore_ascii_case("exists") => {
                self.pos += 1;
                self.expect(Tok::LParen, "`(` after exists")?;
                let field = self.field()?;
                self.expect(Tok::RParen, "`)`")?;
                Ok(Filter::Exists(field))
            }
            _ => self.comparison(),
        }
    }

    fn field(&mut self) -> Result<String, ParseError> {
        let mut path = String::new();
        loop {
            let col = self.col();
            match self.bump() {
                Tok::Quoted(s) => path.push_str(&s),
                Tok::Ident(s) if crate::filter::is_plain_ident(&s) => path.push_str(&s),
                Tok::Ident(s) => {
                    return err(
                        col,
                        format!("`{s}` is a keyword; write the field as `{s}` in backticks"),
                    );
                }
                other => {
                    return err(
                        col,
                        format!("expected a field name, found {}", describe(&other)),
                    );
                }
            }
            if *self.peek() != Tok::Dot {
                return Ok(path);
            }
            self.pos += 1;
            path.push('.');
        }
    }

    fn comparison(&mut self) -> Result<Filter, ParseError> {
        let field = self.field()?;
        let col = self.col();
        match self.bump() {
            Tok::Op(op) => {
                let vcol = self.col();
                let value = if *self.peek() == Tok::LBracket {
                    let items = self.list()?;
                    let mut strings = Vec::with_capacity(items.len());
                    for v in items {
                        match v {
                            Value::String(s) => strings.push(s),
                            other => {
                                return err(
                                    vcol,
                                    format!(
                                        "a list value holds strings only, found {}",
                                        other.type_name()
                                    ),
                                );
                            }
                        }
                    }
                    if !matches!(op, "=" | "!=") {
                        return err(col, format!("`{op}` cannot compare with a list"));
                    }
                    Value::List(strings)
                } else {
                    self.literal()?
                };
                Ok(match op {
                    "=" => Filter::Eq(field, value),
                    "!=" => Filter::Ne(field, value),
                    "<" => range(field, Bound::Unbounded, Bound::Excluded(value)),
                    "<=" => range(field, Bound::Unbounded, Bound::Included(value)),
                    ">" => range(field, Bound::Excluded(value), Bound::Unbounded),
                    _ => range(field, Bound::Included(value), Bound::Unbounded),
                })
            }
            Tok::Ident(s) if s.eq_ignore_ascii_case("in") => Ok(Filter::In(field, self.list()?)),
            Tok::Ident(s) if s.eq_ignore_ascii_case("not") => {
                if !self.is_kw("in") {
                    return err(self.col(), "expected `in` after `not`");
                }
                self.pos += 1;
                Ok(Filter::Not(Box::new(Filter::In(field, self.list()?))))
            }
            other => err(
                col,
                format!(
                    "expected an operator (= != < <= > >= in) after field `{field}`, found {}",
                    describe(&other)
                ),
            ),
        }
    }

    fn list(&mut self) -> Result<Vec<Value>, ParseError> {
        self.expect(Tok::LBracket, "`[`")?;
        let mut items = Vec::new();
        loop {
            if *self.peek() == Tok::RBracket {
                self.pos += 1;
                return Ok(items);
            }
            items.push(self.literal()?);
            match self.peek() {
                Tok::Comma => self.pos += 1,
                Tok::RBracket => {}
                other => {
                    return err(
                        self.col(),
                        format!("expected `,` or `]`, found {}", describe(other)),
                    );
                }
            }
        }
    }

    fn literal(&mut self) -> Result<Value, ParseError> {
        let col = self.col();
        match self.bump() {
            Tok::Lit(v) => Ok(v),
            Tok::Ident(s) => match s.to_ascii_lowercase().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                "null" => Ok(Value::Null),
                "nan" => Ok(Value::Float(f64::NAN)),
                "inf" => Ok(Value::Float(f64::INFINITY)),
                _ => err(
                    col,
                    format!("expected a value, found `{s}` (strings are quoted: \"{s}\")"),
                ),
            },
            other => err(col, format!("expected a value, found {}", describe(&other))),
        }
    }
}

fn range(field: String, lower: Bound<Value>, upper: Bound<Value>) -> Filter {
    Filter::Range {
        field,
        lower,
        upper,
    }
}

/// Parse a filter text (see the module doc).
pub fn parse(text: &str) -> Result<Filter, ParseError> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    if *p.peek() == Tok::End {
        return err(1, "empty filter (use `*` to match everything)");
    }
    let f = p.or()?;
    if *p.peek() != Tok::End {
        return err(
            p.col(),
            format!(
                "expected `and`, `or` or the end, found {}",
                describe(p.peek())
            ),
        );
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_not_and_or() {
        let f = parse("a = 1 or not b = 2 and c = 3").unwrap();
        assert_eq!(
            f,
            Filter::Or(vec![
                Filter::Eq("a".into(), Value::Int(1)),
                Filter::And(vec![
                    Filter::Not(Box::new(Filter::Eq("b".into(), Value::Int(2)))),
                    Filter::Eq("c".into(), Value::Int(3)),
                ]),
            ])
        );
        let f = parse("NOT (a = 1 OR b = 2)").unwrap();
        assert!(matches!(f, Filter::Not(_)));
    }

    #[test]
    fn literals() {
        let f = parse(
            r#"x in [1, -2, 0.5, -1e3, true, null, "s\u{e9}\n", 2026-01-01, @-5, -inf, nan]"#,
        )
        .unwrap();
        let Filter::In(_, vs) = f else { unreachable!() };
        assert_eq!(vs[0], Value::Int(1));
        assert_eq!(vs[1], Value::Int(-2));
        assert_eq!(vs[2], Value::Float(0.5));
        assert_eq!(vs[3], Value::Float(-1000.0));
        assert_eq!(vs[6], Value::String("sé\n".into()));
        assert_eq!(vs[7], Value::Timestamp(1_767_225_600_000_000));
        assert_eq!(vs[8], Value::Timestamp(-5));
        assert_eq!(vs[9], Value::Float(f64::NEG_INFINITY));
        assert!(matches!(vs[10], Value::Float(x) if x.is_nan()));
        assert_eq!(
            parse("a.b.`c d` = 1").unwrap(),
            Filter::Eq("a.b.c d".into(), Value::Int(1))
        );
        assert_eq!(
            parse("n not in [1]").unwrap(),
            Filter::Not(Box::new(Filter::In("n".into(), vec![Value::Int(1)])))
        );
    }

    #[test]
    fn errors_point_at_the_column() {
        let cases = [
            ("user = ", 8, "expected a value"),
            ("user = u1", 8, "strings are quoted"),
            ("user = \"u1", 8, "unterminated string"),
            ("a = 1 and", 10, "expected a field"),
            ("created_at >= 2026-13-01", 15, "invalid timestamp"),
            ("(a = 1", 7, "expected `)`"),
            ("a ~ 1", 3, "unexpected character"),
            ("a = 1 b = 2", 7, "expected `and`"),
            ("n = 99999999999999999999", 5, "64 bits"),
            ("x = 1e999", 5, "out of range"),
            ("and = 1", 1, "keyword"),
            ("", 1, "empty filter"),
            ("a < [\"x\"]", 3, "cannot compare with a list"),
        ];
        for (text, col, msg) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.column, col, "{text}: {e}");
            assert!(e.message.contains(msg), "{text}: {e}");
        }
        let e = parse("user = \"u1\" and created_at >= 2026-13-01").unwrap_err();
        assert_eq!(
            e.display_with_source("user = \"u1\" and created_at >= 2026-13-01"),
            "user = \"u1\" and created_at >= 2026-13-01\n                              ^ invalid timestamp `2026-13-01` (expected RFC 3339, e.g. 2026-01-01T00:00:00Z)"
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let text = "(".repeat(10_000) + "a = 1" + &")".repeat(10_000);
        assert!(parse(&text).unwrap_err().message.contains("nested deeper"));
        let text = "not ".repeat(10_000) + "a = 1";
        assert!(parse(&text).is_err());
    }
}
