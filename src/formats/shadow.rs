//! `/etc/shadow`: `name:hash:lastchg:min:max:warn:inactive:expire:reserved`.

use super::colon::{self, Line};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowEntry {
    pub name: String,
    pub hash: String,
    /// Days since 1970-01-01 of the last change; `None` when empty.
    pub last_change: Option<u64>,
    /// Account expiry (days since epoch), if set.
    pub expire: Option<u64>,
}

pub fn parse(line: &Line<'_>) -> Result<ShadowEntry, colon::Malformed> {
    let f = line.fields();
    if f.len() != 9 {
        return Err(colon::Malformed::at(
            line,
            format!("{} fields, shadow needs 9", f.len()),
        ));
    }
    let opt_num = |i: usize, what: &str| -> Result<Option<u64>, colon::Malformed> {
        if f[i].is_empty() {
            Ok(None)
        } else {
            colon::number(f[i])
                .map(Some)
                .ok_or_else(|| colon::Malformed::at(line, format!("{what} is not a number")))
        }
    };
    Ok(ShadowEntry {
        name: String::from_utf8_lossy(f[0]).into_owned(),
        hash: String::from_utf8_lossy(f[1]).into_owned(),
        last_change: opt_num(2, "last change")?,
        expire: opt_num(7, "expiry")?,
    })
}

/// The line with a new hash and last-change day (as `chpasswd` does).
pub fn with_hash(line: &Line<'_>, hash: &[u8], today: u64) -> Vec<u8> {
    let mut f = line.fields();
    let day = today.to_string();
    f[1] = hash;
    f[2] = day.as_bytes();
    colon::join(&f)
}

/// A line (as built by [`with_hash`]) with its account expiry cleared: `passwd --unlock`
/// lifts an expired account's block, as `usermod -e ''` does.
pub fn without_expiry(line: &[u8]) -> Vec<u8> {
    let mut f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
    if f.len() == 9 {
        f[7] = b"";
    }
    f.join(&b':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::colon::{Lookup, find};

    #[test]
    fn parses_and_edits() {
        let f = b"admin:$1$$CoERg7ynjYLsj2j4glJ34.:14233:0:99999:7:::\n";
        let Lookup::Found(l) = find(f, "admin") else {
            panic!()
        };
        let e = parse(&l).unwrap();
        assert_eq!(e.last_change, Some(14233));
        assert_eq!(e.hash, "$1$$CoERg7ynjYLsj2j4glJ34.");
        assert_eq!(
            with_hash(&l, b"$6$s$h", 20000),
            b"admin:$6$s$h:20000:0:99999:7:::"
        );
    }

    #[test]
    fn rejects_bad_lines() {
        for bad in [&b"admin:h:1:0:99999:7::"[..], b"admin:h:x:0:99999:7:::"] {
            let Lookup::Found(l) = find(bad, "admin") else {
                panic!()
            };
            assert!(parse(&l).is_err());
        }
    }
}
