//! `restore ID --user NAME`: one account's entries from a backup edited into today's files,
//! instead of whole files that would also revert every other account's later changes (a
//! `useradd` after the backup would keep its passwd line and lose its shadow line).
//!
//! Per file, losslessly (every other byte kept): the account's passwd/shadow/smbpasswd line
//! is replaced by the backup's, or added at the end when today's file lacks it; in group
//! files only the account's membership of groups present in both versions changes. An
//! account absent from the backup is left as it is today (this never deletes an account).
//! Also: which accounts differ between two versions of a file, for dry runs and warnings.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::escape;
use crate::formats::colon::{self, Lookup};
use crate::formats::group;
use crate::stores::Kind;

/// The account's line in `bytes`, by the same rules the other commands use.
fn line_of<'a>(bytes: &'a [u8], user: &str, what: &str) -> Result<Option<colon::Line<'a>>> {
    match colon::find(bytes, user) {
        Lookup::Found(l) => Ok(Some(l)),
        Lookup::Missing => Ok(None),
        Lookup::Ambiguous(lines) => Err(Error::data(format!(
            "{what}: {} appears on lines {lines:?}; fix the duplicates first",
            escape::line(user)
        ))),
    }
}

/// `bytes` with `line` appended as a new last line (a missing final newline is added first).
fn append_line(bytes: &[u8], line: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.extend_from_slice(line);
    out.push(b'\n');
    out
}

/// Today's `current` with `user`'s entries as in `backup`; `None` when nothing changes.
/// `what` names the file in messages.
pub fn merge(
    kind: Kind,
    current: &[u8],
    backup: &[u8],
    user: &str,
    what: &str,
) -> Result<Option<Vec<u8>>> {
    let out = match kind {
        Kind::Group => merge_membership(current, backup, user),
        _ => {
            let Some(old) = line_of(backup, user, &format!("{what} (backup)"))? else {
                return Ok(None);
            };
            match line_of(current, user, what)? {
                Some(now) => colon::replace_line(current, &now.span, old.text),
                None => append_line(current, old.text),
            }
        }
    };
    Ok((out != current).then_some(out))
}

/// Group lines of today's file whose groups exist in the backup get the account's
/// membership from the backup; only the members field of those lines changes.
fn merge_membership(current: &[u8], backup: &[u8], user: &str) -> Vec<u8> {
    let was_member: Vec<(String, bool)> = group::all(backup)
        .into_iter()
        .map(|g| {
            let m = g.members.iter().any(|m| m.eq_ignore_ascii_case(user));
            (g.name, m)
        })
        .collect();
    let mut out = current.to_vec();
    // Edit from the last line up, so earlier spans stay valid.
    let lines: Vec<_> = colon::lines(current).filter(|l| l.is_entry()).collect();
    for l in lines.iter().rev() {
        let Ok(g) = group::parse(l) else { continue };
        let Some((_, want)) = was_member.iter().find(|(n, _)| *n == g.name) else {
            continue;
        };
        let is = g.members.iter().any(|m| m.eq_ignore_ascii_case(user));
        if is == *want {
            continue;
        }
        let f = l.fields();
        let members = f[3];
        // A `\r` before the newline stays where it was.
        let (members, cr) = match members.strip_suffix(b"\r") {
            Some(m) => (m, true),
            None => (members, false),
        };
        let mut list: Vec<&[u8]> = members
            .split(|&b| b == b',')
            .filter(|m| !m.is_empty())
            .collect();
        if *want {
            list.push(user.as_bytes());
        } else {
            list.retain(|m| !m.eq_ignore_ascii_case(user.as_bytes()));
        }
        let mut new_members = list.join(&b","[..]);
        if cr {
            new_members.push(b'\r');
        }
        let new_line = colon::join(&[f[0], f[1], f[2], &new_members]);
        out = colon::replace_line(&out, &l.span, &new_line);
    }
    out
}

/// An entry a restore changes: an account, or a group (shown as `group NAME`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Account(String),
    Group(String),
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entry::Account(name) => f.write_str(name),
            Entry::Group(name) => write!(f, "group {name}"),
        }
    }
}

/// Sorted as shown (`alice`, `group everyone`, `zed`), as the names were before they were typed.
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let rank = |e: &Entry| matches!(e, Entry::Group(_));
        (self.to_string(), rank(self)).cmp(&(other.to_string(), rank(other)))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl serde::Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Entries that differ between two versions of a file (for group files: the groups), sorted.
pub fn accounts_differing(kind: Kind, a: &[u8], b: &[u8]) -> BTreeSet<Entry> {
    let entries = |bytes: &[u8]| -> Vec<(String, Vec<u8>)> {
        colon::lines(bytes)
            .filter(|l| l.is_entry())
            .map(|l| {
                (
                    String::from_utf8_lossy(l.name()).into_owned(),
                    l.text.to_vec(),
                )
            })
            .collect()
    };
    let (ea, eb) = (entries(a), entries(b));
    let mut out = BTreeSet::new();
    for (name, _) in ea.iter().chain(eb.iter()) {
        let in_a = ea.iter().find(|(n, _)| n == name).map(|(_, t)| t);
        let in_b = eb.iter().find(|(n, _)| n == name).map(|(_, t)| t);
        if in_a != in_b {
            out.insert(if kind == Kind::Group {
                Entry::Group(name.clone())
            } else {
                Entry::Account(name.clone())
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_replaced_or_added_everything_else_kept() {
        let cur = b"a:1\nadmin:NEW\r\nz:9";
        let bak = b"admin:OLD\r\na:0\n";
        assert_eq!(
            merge(Kind::Shadow, cur, bak, "admin", "s")
                .unwrap()
                .unwrap(),
            b"a:1\nadmin:OLD\r\nz:9"
        );
        assert_eq!(
            merge(Kind::Shadow, b"a:1", bak, "admin", "s")
                .unwrap()
                .unwrap(),
            b"a:1\nadmin:OLD\r\n"
        );
        // Not in the backup: left alone.
        assert_eq!(
            merge(Kind::Shadow, cur, b"a:0\n", "admin", "s").unwrap(),
            None
        );
        assert_eq!(merge(Kind::Shadow, bak, bak, "admin", "s").unwrap(), None);
    }

    #[test]
    fn group_membership_only() {
        let cur = b"administrators:x:0:bob,admin\neveryone:x:100:\r\nnew:x:5:admin\n";
        let bak = b"administrators:x:0:bob\neveryone:x:100:admin\n";
        assert_eq!(
            merge(Kind::Group, cur, bak, "admin", "g").unwrap().unwrap(),
            b"administrators:x:0:bob\neveryone:x:100:admin\r\nnew:x:5:admin\n"
        );
    }

    #[test]
    fn differing_accounts() {
        let d = accounts_differing(Kind::Shadow, b"a:1\nb:2\n", b"a:1\nb:3\nc:4\n");
        assert_eq!(
            d.iter().map(Entry::to_string).collect::<Vec<_>>(),
            vec!["b", "c"]
        );
        let mut both = accounts_differing(Kind::Group, b"zz:x:1:\n", b"");
        both.extend(accounts_differing(Kind::Shadow, b"alice:1\nzed:1\n", b""));
        assert_eq!(
            both.iter().map(Entry::to_string).collect::<Vec<_>>(),
            vec!["alice", "group zz", "zed"]
        );
        assert_eq!(
            serde_json::to_string(&both).unwrap(),
            r#"["alice","group zz","zed"]"#
        );
    }
}
