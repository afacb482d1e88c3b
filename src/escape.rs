//! Text from the stores (account names, paths, file contents in messages) printed for a
//! human: a control character in an account name (an escape sequence, a carriage return)
//! could otherwise clear or rewrite a line of `audit` output on the owner's terminal. The one
//! human output path (`cli::output`) prints every line through [`line`]; JSON output is
//! escaped by the serializer already.

use std::borrow::Cow;
use std::fmt::Write;

/// `s` with every control character (C0, DEL, C1) shown as `\xNN` (`\t`, `\n`, `\r` by
/// name); anything else unchanged.
pub fn line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A line of progress or advice (a note, a warning) on standard error, escaped by [`line`]:
/// the one writer for lines said while a command works, so they come in order with the
/// work. Best effort, as `eprintln!` was.
pub fn advise(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{}", line(text));
}

#[cfg(test)]
mod tests {
    use super::line;

    #[test]
    fn controls_are_escaped_and_the_rest_kept() {
        assert_eq!(line("admin"), "admin");
        assert_eq!(line("a\u{1b}[2Kb"), "a\\x1b[2Kb");
        assert_eq!(line("x\ry\n\t\u{7f}\u{9b}"), "x\\ry\\n\\t\\x7f\\x9b");
        assert_eq!(line("Zoë"), "Zoë");
    }
}
