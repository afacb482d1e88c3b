//! `/etc/passwd`: `name:password:uid:gid:gecos:home:shell`.

use super::colon::{self, Line, Lookup};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    /// Field 2: `x` when the hash lives in shadow, else the hash itself (or empty).
    pub password: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

/// Why a line cannot be used as an entry.
pub use super::colon::Malformed;

pub fn parse(line: &Line<'_>) -> Result<PasswdEntry, Malformed> {
    let f = line.fields();
    if f.len() != 7 {
        return Err(colon::Malformed::at(
            line,
            format!("{} fields, passwd needs 7", f.len()),
        ));
    }
    Ok(PasswdEntry {
        name: String::from_utf8_lossy(f[0]).into_owned(),
        password: String::from_utf8_lossy(f[1]).into_owned(),
        uid: colon::id(f[2], line, "uid")?,
        gid: colon::id(f[3], line, "gid")?,
        home: String::from_utf8_lossy(f[5]).into_owned(),
        shell: String::from_utf8_lossy(f[6]).into_owned(),
    })
}

/// Look `name` up and parse its line.
pub fn lookup<'a>(bytes: &'a [u8], name: &str) -> Lookup<'a> {
    colon::find(bytes, name)
}

/// Every entry whose primary group is `gid` (for group membership checks).
pub fn names_with_gid(bytes: &[u8], gid: u32) -> Vec<String> {
    colon::lines(bytes)
        .filter(|l| l.is_entry())
        .filter_map(|l| parse(&l).ok())
        .filter(|e| e.gid == gid)
        .map(|e| e.name)
        .collect()
}

/// The line with field 2 (password) replaced.
pub fn with_password(line: &Line<'_>, password: &[u8]) -> Vec<u8> {
    let mut f = line.fields();
    f[1] = password;
    colon::join(&f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qts_admin() {
        let f = b"admin:x:0:0:administrator:/share/homes/admin:/bin/sh\n";
        let Lookup::Found(l) = lookup(f, "admin") else {
            panic!()
        };
        let e = parse(&l).unwrap();
        assert_eq!((e.uid, e.gid, e.password.as_str()), (0, 0, "x"));
        assert_eq!(
            with_password(&l, b"$1$$abc"),
            b"admin:$1$$abc:0:0:administrator:/share/homes/admin:/bin/sh"
        );
    }

    #[test]
    fn rejects_bad_lines() {
        for bad in [
            &b"admin:x:0:0:a:/h"[..],
            b"admin:x:zero:0:a:/h:/bin/sh",
            b"admin:x:0:0:a:/h:/bin/sh:extra",
        ] {
            let Lookup::Found(l) = lookup(bad, "admin") else {
                panic!()
            };
            assert!(parse(&l).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn names_with_a_primary_group() {
        let f = b"admin:x:0:0:a:/h:/bin/sh\nbob:x:1000:100:b:/h:/bin/sh\n\
                  # carol:x:1001:100:c:/h:/bin/sh\nbroken:100\ndave:x:1002:100:d:/h:/bin/sh\n";
        assert_eq!(names_with_gid(f, 100), vec!["bob", "dave"]);
        assert_eq!(names_with_gid(f, 0), vec!["admin"]);
        assert!(names_with_gid(f, 7).is_empty());
    }
}
