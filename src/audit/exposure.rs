//! Password hashes where others can read them: a crypt hash in a world-readable passwd file
//! (what a missing shadow leads to) can be guessed offline by any local user.

use super::{Finding, Remedy, Severity};
use crate::formats::colon;
use crate::hash;
use crate::snapshot::Snapshot;
use crate::stores::Kind;

pub fn check(snapshot: &Snapshot<'_>, findings: &mut Vec<Finding>) {
    for loaded in &snapshot.files {
        let (file, bytes) = (loaded.file, &loaded.bytes[..]);
        if !matches!(file.kind, Kind::Passwd | Kind::Group) {
            continue;
        }
        let Some(st) = file.resolved.stat.as_ref() else {
            continue;
        };
        if st.st_mode & 0o004 == 0 {
            continue;
        }
        let exposed: Vec<String> = colon::lines(bytes)
            .filter(|l| l.is_entry())
            .filter(|l| {
                let f = l.fields();
                f.get(1).is_some_and(|h| {
                    hash::inspect(&String::from_utf8_lossy(h))
                        .scheme
                        .is_some_and(|s| s != hash::Scheme::Unknown)
                })
            })
            .map(|l| String::from_utf8_lossy(l.name()).into_owned())
            .collect();
        if exposed.is_empty() {
            continue;
        }
        findings.push(
            Finding::new(
                Severity::High,
                "hash-exposed",
                None,
                Some(&file.display),
                format!(
                    "password hashes of {} are in a file every user can read (mode {:o})",
                    exposed.join(", "),
                    st.st_mode & 0o7777
                ),
                format!(
                    "move the hashes to a 0600 shadow file (pwconv), then set new passwords: {}",
                    exposed
                        .iter()
                        .map(|u| format!("qrescue passwd {}", crate::context::shell_quote(u)))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            )
            .remedy(Remedy::SetPassword),
        );
    }
}
