//! What every command gets: the root it works in (which also knows how it was reached on
//! the command line) and the output mode.

use crate::sys::root::Root;

#[derive(Debug)]
pub struct Context {
    /// The root everything is resolved in (`--root DIR`, or `/`).
    pub root: Root,
    /// `--json`: print one JSON document instead of human text.
    pub json: bool,
}

impl Context {
    /// The command line prefix that reaches this same root (`qrescue`, `qrescue --root DIR`,
    /// `qrescue --disk DEV`), shell-quoted: every command printed as advice starts with it,
    /// so pasting it acts on the same root and never on the live system by accident.
    pub fn invocation(&self) -> &str {
        self.root.invocation()
    }
}

/// `qrescue` with the global options that choose the root, each value shell-quoted.
pub fn invocation(root: Option<&std::path::Path>, disks: &[String]) -> String {
    let mut s = String::from("qrescue");
    if let Some(dir) = root {
        s.push_str(" --root ");
        s.push_str(&shell_quote(&dir.to_string_lossy()));
    }
    for d in disks {
        s.push_str(" --disk ");
        s.push_str(&shell_quote(d));
    }
    s
}

/// One word for a POSIX shell: unchanged when it holds only safe characters, else in single
/// quotes (a single quote inside written as `'\''`).
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocation_quotes_what_the_shell_would_split() {
        assert_eq!(invocation(None, &[]), "qrescue");
        assert_eq!(
            invocation(Some(std::path::Path::new("/mnt/md9")), &[]),
            "qrescue --root /mnt/md9"
        );
        assert_eq!(
            invocation(Some(std::path::Path::new("/tmp/my root's")), &[]),
            "qrescue --root '/tmp/my root'\\''s'"
        );
        assert_eq!(
            invocation(None, &["auto".into(), "/dev/sdb".into()]),
            "qrescue --disk auto --disk /dev/sdb"
        );
    }
}
