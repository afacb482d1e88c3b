//! The shared machinery: a colon-separated file as bytes plus located lines.

use std::ops::Range;

/// One line of a colon file (without its `\n`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number, for messages.
    pub number: usize,
    /// Byte range of the line's content (excluding the newline) in the file.
    pub span: Range<usize>,
    pub text: &'a [u8],
}

impl<'a> Line<'a> {
    /// The fields separated by `:`.
    pub fn fields(&self) -> Vec<&'a [u8]> {
        self.text.split(|&b| b == b':').collect()
    }

    /// The first field (the account name).
    pub fn name(&self) -> &'a [u8] {
        self.text.split(|&b| b == b':').next().unwrap_or_default()
    }

    /// Whether this line can be an entry at all (not blank, not a comment, not NIS `+`/`-`).
    pub fn is_entry(&self) -> bool {
        !matches!(
            self.text.first(),
            None | Some(b'#') | Some(b'+') | Some(b'-')
        ) && self.text.iter().any(|&b| !b.is_ascii_whitespace())
    }
}

/// Iterate over the lines of `bytes`.
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = Line<'_>> {
    let mut start = 0usize;
    let mut number = 0usize;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let end = memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        number += 1;
        let line = Line {
            number,
            span: start..end,
            text: &bytes[start..end],
        };
        start = end + 1;
        Some(line)
    })
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Result of looking an account up.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    Found(Line<'a>),
    Missing,
    /// More than one line names the account (exactly, or case-insensitively when no exact
    /// match exists): editing would be a guess.
    Ambiguous(Vec<usize>),
}

/// Find the entry for `name`. QTS user names are case-insensitive: an exact match wins;
/// otherwise a single case-insensitive match is used.
pub fn find<'a>(bytes: &'a [u8], name: &str) -> Lookup<'a> {
    let name = name.as_bytes();
    let mut exact: Vec<Line<'a>> = Vec::new();
    let mut folded: Vec<Line<'a>> = Vec::new();
    for line in lines(bytes) {
        // Fast path: the name must be followed by ':' (or end the line).
        let t = line.text;
        if t.len() < name.len() || !line.is_entry() {
            continue;
        }
        let n = line.name();
        if n.len() != name.len() {
            continue;
        }
        if n == name {
            exact.push(line);
        } else if n.eq_ignore_ascii_case(name) {
            folded.push(line);
        }
    }
    let pick = if exact.is_empty() { folded } else { exact };
    match pick.len() {
        0 => Lookup::Missing,
        1 => Lookup::Found(pick.into_iter().next().expect("one")),
        _ => Lookup::Ambiguous(pick.iter().map(|l| l.number).collect()),
    }
}

/// Line numbers of every entry whose name equals `name` ignoring ASCII case (Samba's
/// `strequal`), exact spelling included.
pub fn find_any_case(bytes: &[u8], name: &str) -> Vec<usize> {
    lines(bytes)
        .filter(|l| l.is_entry() && l.name().eq_ignore_ascii_case(name.as_bytes()))
        .map(|l| l.number)
        .collect()
}

/// A copy of `bytes` with the line at `span` replaced by `new_line` (no newline in it).
pub fn replace_line(bytes: &[u8], span: &Range<usize>, new_line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + new_line.len());
    out.extend_from_slice(&bytes[..span.start]);
    out.extend_from_slice(new_line);
    out.extend_from_slice(&bytes[span.end..]);
    out
}

/// Join fields with `:`.
pub fn join(fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        out.extend_from_slice(f);
    }
    out
}

/// Whether a field is a non-negative decimal number.
pub fn is_number(field: &[u8]) -> bool {
    !field.is_empty() && field.len() <= 10 && field.iter().all(u8::is_ascii_digit)
}

/// Parse a decimal field.
pub fn number(field: &[u8]) -> Option<u64> {
    if !is_number(field) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// Why a line cannot be used as an entry: which line, and what is wrong with it
/// (shown as `line N: problem`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub line: usize,
    pub problem: String,
}

impl Malformed {
    pub fn at(line: &Line<'_>, problem: impl Into<String>) -> Malformed {
        Malformed {
            line: line.number,
            problem: problem.into(),
        }
    }
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

/// Parse a uid/gid field; the error names the line and the field.
pub fn id(field: &[u8], line: &Line<'_>, what: &str) -> Result<u32, Malformed> {
    number(field)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| Malformed::at(line, format!("{what} is not a number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_cover_every_byte() {
        for input in [
            &b""[..],
            b"a",
            b"a\n",
            b"\n\n",
            b"a:b\r\n#c\nlast",
            b"x\n\n",
        ] {
            let mut rebuilt = Vec::new();
            let ls: Vec<_> = lines(input).collect();
            for (i, l) in ls.iter().enumerate() {
                rebuilt.extend_from_slice(l.text);
                if i + 1 < ls.len() || input.ends_with(b"\n") {
                    rebuilt.push(b'\n');
                }
            }
            assert_eq!(rebuilt, input, "{input:?}");
        }
    }

    #[test]
    fn find_prefers_exact_then_unique_case_insensitive() {
        let f = b"#admin:x\nAdmin:1\nadmin:2\nbob:3\nBOB2:4\n";
        assert!(matches!(find(f, "admin"), Lookup::Found(l) if l.text == b"admin:2"));
        assert!(matches!(find(f, "ADMIN"), Lookup::Ambiguous(v) if v == vec![2, 3]));
        assert!(matches!(find(f, "Bob"), Lookup::Found(l) if l.text == b"bob:3"));
        assert_eq!(find(f, "carol"), Lookup::Missing);
        assert_eq!(
            find(b"admin:1\nadmin:2\n", "admin"),
            Lookup::Ambiguous(vec![1, 2])
        );
        // Comment and NIS lines are never entries.
        assert_eq!(
            find(b"+admin:x\n-admin\n# admin\n", "admin"),
            Lookup::Missing
        );
    }

    #[test]
    fn replace_keeps_everything_else() {
        let f = b"a:1\nb:2\r\nc:3";
        let Lookup::Found(l) = find(f, "b") else {
            panic!()
        };
        assert_eq!(replace_line(f, &l.span, b"b:9\r"), b"a:1\nb:9\r\nc:3");
        let Lookup::Found(l) = find(f, "c") else {
            panic!()
        };
        assert_eq!(replace_line(f, &l.span, b"c:0"), b"a:1\nb:2\r\nc:0");
    }

    #[test]
    fn a_line_that_is_only_the_name_is_found() {
        // Malformed (no fields), but it names the account: callers must see it and refuse,
        // not treat the account as missing.
        assert!(matches!(find(b"admin\n", "admin"), Lookup::Found(l) if l.text == b"admin"));
        assert!(matches!(find(b"ADMIN\n", "admin"), Lookup::Found(l) if l.number == 1));
    }

    #[test]
    fn nis_and_comment_lines_are_never_entries_even_for_such_names() {
        assert_eq!(find(b"+bob:x:1:1::/:/bin/sh\n", "+bob"), Lookup::Missing);
        assert_eq!(find(b"-bob:x\n", "-bob"), Lookup::Missing);
        assert_eq!(find(b"#bob:x\n", "#bob"), Lookup::Missing);
    }

    #[test]
    fn numbers_are_at_most_ten_ascii_digits() {
        assert!(is_number(b"0") && is_number(b"4294967295"));
        for bad in [&b""[..], b"zero", b"-1", b"1a", b" 1", b"12345678901"] {
            assert!(!is_number(bad), "{bad:?}");
            assert_eq!(number(bad), None, "{bad:?}");
        }
        assert_eq!(number(b"0042"), Some(42));
    }
}
