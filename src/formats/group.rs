//! `/etc/group`: `name:password:gid:member,member`.

use super::colon::{self, Line};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

pub fn parse(line: &Line<'_>) -> Result<GroupEntry, colon::Malformed> {
    let f = line.fields();
    if f.len() != 4 {
        return Err(colon::Malformed::at(
            line,
            format!("{} fields, group needs 4", f.len()),
        ));
    }
    let gid = colon::id(f[2], line, "gid")?;
    let members = f[3]
        .split(|&b| b == b',')
        .filter(|m| !m.is_empty())
        .map(|m| String::from_utf8_lossy(m).trim().to_string())
        .collect();
    Ok(GroupEntry {
        name: String::from_utf8_lossy(f[0]).into_owned(),
        gid,
        members,
    })
}

/// Every parseable group.
pub fn all(bytes: &[u8]) -> Vec<GroupEntry> {
    colon::lines(bytes)
        .filter(|l| l.is_entry())
        .filter_map(|l| parse(&l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_members() {
        let g = all(b"administrators:x:0:admin,bob\neveryone:x:100:\nbad line\n");
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].members, vec!["admin", "bob"]);
        assert!(g[1].members.is_empty());
    }

    #[test]
    fn empty_and_padded_members_are_dropped_or_trimmed() {
        let g = all(b"users:x:100:,admin,, bob ,\n");
        assert_eq!(g[0].members, vec!["admin", "bob"]);
        assert_eq!((g[0].name.as_str(), g[0].gid), ("users", 100));
    }
}
