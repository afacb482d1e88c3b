//! The one output path. Every command returns a report (a `Serialize` document with a
//! human renderer); [`finish`], called once from the dispatch, decides JSON or text, escapes
//! human text once and writes it with one write. A closed pipe is handled as the command's
//! signal disposition says (see `cli::run`): read commands end quietly on SIGPIPE; `passwd`
//! and `restore` ignore it and see EPIPE as an I/O error (one line, exit 74).
//!
//! Lines a command prints while it works (a note before a change, the backup id shown
//! before the commit) go through [`advise`] or [`emit`] at that point, so they keep their
//! order relative to the work, and through the same escaping.

use std::io::Write;

use serde::Serialize;

use super::vocab::SCHEMA;
use crate::error::{Error, Result};

/// A command's result: one JSON document, or human text.
pub trait Report: Serialize {
    /// The human form, line by line (escaped when printed).
    fn render_text(&self, out: &mut Text);
}

/// Human output as lines. `writeln!(out, …)` adds one line; a line break inside a value
/// (an account name, a file's text) stays inside its line and is shown escaped (`\n`), so
/// a value cannot start a line of its own.
#[derive(Debug, Default)]
pub struct Text {
    lines: Vec<String>,
}

impl Text {
    /// Add one line.
    pub fn line(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }
    /// `writeln!(text, …)`: one line (the macro's `\n` ends it).
    pub fn write_fmt(&mut self, args: std::fmt::Arguments<'_>) -> std::fmt::Result {
        let s = args.to_string();
        self.line(s.strip_suffix('\n').unwrap_or(&s));
        Ok(())
    }
    /// Every line escaped, each ending in `\n`.
    fn shown(&self) -> String {
        self.lines
            .iter()
            .map(|l| format!("{}\n", crate::escape::line(l)))
            .collect()
    }
}

/// What a command hands back to the dispatch.
pub struct Outcome {
    /// The report to print (`None`: already printed while the command worked).
    pub report: Option<Box<dyn Emit>>,
    /// The exit code.
    pub code: i32,
    /// Said before a printing error (`passwd`: the password was changed, but …).
    pub printed_after: Option<String>,
}

impl Outcome {
    /// A report and exit code 0.
    pub fn ok<R: Report + 'static>(report: R) -> Outcome {
        Outcome::code(report, 0)
    }
    /// A report and an exit code.
    pub fn code<R: Report + 'static>(report: R, code: i32) -> Outcome {
        Outcome {
            report: Some(Box::new(report)),
            code,
            printed_after: None,
        }
    }
}

/// A report behind a pointer (the dispatch does not know the command's type).
pub trait Emit {
    fn emit(&self, json: bool) -> Result<()>;
}

impl<R: Report> Emit for R {
    fn emit(&self, json: bool) -> Result<()> {
        emit(json, self)
    }
}

/// The JSON document: `"schema"` first, then the report's keys.
#[derive(Serialize)]
struct Document<'a, R: Serialize + ?Sized> {
    schema: u32,
    #[serde(flatten)]
    report: &'a R,
}

/// Print `report` as one JSON document (with `"schema"`) or as escaped human text.
pub fn emit<R: Report + ?Sized>(json: bool, report: &R) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let written = if json {
        serde_json::to_writer_pretty(
            &mut out,
            &Document {
                schema: SCHEMA,
                report,
            },
        )
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
    } else {
        let mut text = Text::default();
        report.render_text(&mut text);
        out.write_all(text.shown().as_bytes())
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("stdout", e))
}

/// Print the outcome's report (if any) and return its exit code.
pub fn finish(json: bool, outcome: Outcome) -> Result<i32> {
    if let Some(report) = &outcome.report {
        report
            .emit(json)
            .map_err(|e| match &outcome.printed_after {
                Some(what) => e.context(what.clone()),
                None => e,
            })?;
    }
    Ok(outcome.code)
}

pub use crate::escape::advise;

/// Column alignment in [`table`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Rows as aligned columns, each as wide as its widest cell (counted in characters, after
/// escaping, as they will be shown), two spaces apart, `indent` in front; the last column
/// is not padded. One line per row, without `\n`.
pub fn table(indent: &str, align: &[Align], rows: &[Vec<String>]) -> Vec<String> {
    let shown = |c: &str| crate::escape::line(c).chars().count();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| shown(c))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = Vec::new();
    for row in rows {
        let mut line = String::from(indent);
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = widths[i].saturating_sub(shown(cell));
            let last = i + 1 == row.len();
            match align.get(i).copied().unwrap_or(Align::Left) {
                Align::Right => {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                }
                Align::Left if last => line.push_str(cell),
                Align::Left => {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                }
            }
        }
        out.push(line.trim_end().to_string());
    }
    out
}

/// [`table`] appended to `out`.
#[cfg(test)]
fn push_table(out: &mut Text, indent: &str, align: &[Align], rows: &[Vec<String>]) {
    for line in table(indent, align, rows) {
        out.line(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_the_widest_cell() {
        let long = format!("/{}", "r".repeat(200));
        let rows = vec![
            vec!["store".to_string(), "kind".into(), "state".into()],
            vec![long.clone(), "shadow".into(), "ok".into()],
        ];
        let lines = table("  ", &[Align::Left, Align::Left, Align::Left], &rows);
        let col = lines[1].find("shadow").unwrap();
        assert_eq!(lines[0].find("kind").unwrap(), col, "{lines:?}");
        assert_eq!(lines[1], format!("  {long}  shadow  ok"));
        let mut text = Text::default();
        let _ = writeln!(text, "a\nb{}", 1);
        assert_eq!(
            text.shown(),
            "a\\nb1\n",
            "a line break in a value stays escaped"
        );
    }

    #[test]
    fn right_aligned_and_escaped_width() {
        let rows = vec![
            vec!["a\u{1b}".to_string(), "1".into()],
            vec!["bbbbb".into(), "22".into()],
        ];
        let mut out = Text::default();
        push_table(&mut out, "", &[Align::Left, Align::Right], &rows);
        assert_eq!(out.shown(), "a\\x1b   1\nbbbbb  22\n");
    }
}
