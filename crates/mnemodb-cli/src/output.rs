//! Output: human tables on stdout, or JSON for scripts; a closed pipe is not an error.
use std::io::{self, Write};

use crate::error::{CliError, Result};

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned tables and `key: value` lines.
    Human,
    /// One JSON document on stdout.
    Json,
}

/// Write `text` to stdout (a closed pipe ends the command quietly).
pub fn print(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| {
            if e.kind() == io::ErrorKind::BrokenPipe {
                CliError::pipe()
            } else {
                CliError::runtime(format!("write to stdout: {e}"))
            }
        })
}

/// Print `text` followed by a newline.
pub fn println(text: &str) -> Result<()> {
    let mut s = String::with_capacity(text.len() + 1);
    s.push_str(text);
    s.push('\n');
    print(&s)
}

/// Print a JSON value, pretty.
pub fn print_json(value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::runtime(format!("encode JSON output: {e}")))?;
    println(&text)
}

/// A note for the human on stderr (progress, warnings); never part of the result.
pub fn note(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Left-aligned (text).
    Left,
    /// Right-aligned (numbers).
    Right,
}

/// An aligned text table.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers; a header starting with `>` is right-aligned
    /// (the `>` is not printed).
    pub fn new(headers: &[&str]) -> Self {
        let (headers, align) = headers
            .iter()
            .map(|h| match h.strip_prefix('>') {
                Some(rest) => (rest.to_string(), Align::Right),
                None => (h.to_string(), Align::Left),
            })
            .unzip();
        Table {
            headers,
            align,
            rows: Vec::new(),
        }
    }

    /// Add a row (missing cells are empty, extra cells are dropped).
    pub fn row(&mut self, cells: Vec<String>) -> &mut Self {
        self.rows.push(cells);
        self
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Render with two spaces between columns and no trailing spaces.
    pub fn render(&self) -> String {
        let n = self.headers.len();
        let mut width: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (w, c) in width.iter_mut().zip(r.iter().take(n)) {
                *w = (*w).max(c.chars().count());
            }
        }
        let empty = String::new();
        let mut out = String::new();
        let mut line = |cells: &mut dyn Iterator<Item = &String>| {
            let mut l = String::new();
            for (i, ((c, w), a)) in cells.zip(&width).zip(&self.align).enumerate() {
                if i > 0 {
                    l.push_str("  ");
                }
                let pad = w.saturating_sub(c.chars().count());
                match a {
                    Align::Left => {
                        l.push_str(c);
                        l.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        l.extend(std::iter::repeat_n(' ', pad));
                        l.push_str(c);
                    }
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(&mut self.headers.iter());
        for r in &self.rows {
            line(&mut r.iter().chain(std::iter::repeat(&empty)).take(n));
        }
        out
    }
}

/// `key: value` lines with the keys padded to one width.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let pad = w - k.chars().count();
        out.push_str(k);
        out.push(':');
        out.extend(std::iter::repeat_n(' ', pad + 1));
        out.push_str(v);
        out.push('\n');
    }
    out
}

/// `1536` → `1.5 KiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS.get(unit).copied().unwrap_or("B"))
    }
}

/// A duration in seconds, with a unit that keeps 3 significant digits.
pub fn secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// Shorten `s` to at most `max` characters, with an ellipsis.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The first `n` components of a vector, `[0.1, -0.2, …]`.
pub fn vector_preview(v: &[f32], n: usize) -> String {
    let mut s = String::from("[");
    for (i, x) in v.iter().take(n).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&format!("{x:.4}"));
    }
    if v.len() > n {
        s.push_str(", …");
    }
    s.push(']');
    s
}

/// Hex of the first `n` bytes.
pub fn hex_preview(b: &[u8], n: usize) -> String {
    let mut s: String = b.iter().take(n).map(|x| format!("{x:02x}")).collect();
    if b.len() > n {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns() {
        let mut t = Table::new(&["name", ">n"]);
        t.row(vec!["a".into(), "10".into()]);
        t.row(vec!["long".into(), "2".into()]);
        assert_eq!(t.render(), "name   n\na     10\nlong   2\n");
    }

    #[test]
    fn units() {
        assert_eq!(bytes(10), "10 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(secs(0.0123), "12.3 ms");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
