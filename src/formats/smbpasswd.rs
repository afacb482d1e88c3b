//! Samba's smbpasswd file:
//! `name:uid:LMHASH:NTHASH:[FLAGS      ]:LCT-XXXXXXXX:`
//! Hashes are 32 upper-case hex digits or 32 `X`; flags sit in an 11-character bracket;
//! LCT is the last-change time as 8 hex digits of Unix time.

use super::colon::{self, Line};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmbEntry {
    pub name: String,
    pub uid: u32,
    /// The NT hash as stored (32 hex digits), `None` when it is `XXXX…` or `NO PASSWORD…`.
    pub nt_hash: Option<String>,
    pub flags: String,
    /// Last change time (Unix seconds), if present.
    pub last_change: Option<u64>,
}

impl SmbEntry {
    pub fn disabled(&self) -> bool {
        self.flags.contains('D')
    }
    pub fn no_password(&self) -> bool {
        self.flags.contains('N')
    }
}

fn is_hash_field(f: &[u8]) -> bool {
    f.len() == 32 && (f.iter().all(u8::is_ascii_hexdigit) || f.iter().all(|&b| b == b'X'))
        || f.starts_with(b"NO PASSWORD")
}

pub fn parse(line: &Line<'_>) -> Result<SmbEntry, colon::Malformed> {
    let f = line.fields();
    // Modern layout has 7 fields, the last one empty (trailing ':').
    if f.len() != 7 || !f[6].iter().all(|b| b.is_ascii_whitespace()) {
        return Err(colon::Malformed::at(
            line,
            format!("{} fields, smbpasswd needs 6 and a final ':'", f.len() - 1),
        ));
    }
    let uid = colon::id(f[1], line, "uid")?;
    if !is_hash_field(f[2]) || !is_hash_field(f[3]) {
        return Err(colon::Malformed::at(
            line,
            "hash fields are not 32 hex digits",
        ));
    }
    let flags = f[4];
    if flags.len() != 13 || flags[0] != b'[' || flags[12] != b']' {
        return Err(colon::Malformed::at(
            line,
            "flags are not an [11-character] bracket",
        ));
    }
    let lct = f[5]
        .strip_prefix(b"LCT-")
        .filter(|h| h.len() == 8 && h.iter().all(u8::is_ascii_hexdigit))
        .and_then(|h| u64::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())
        .ok_or_else(|| colon::Malformed::at(line, "last-change field is not LCT-XXXXXXXX"))?;
    let nt = f[3];
    Ok(SmbEntry {
        name: String::from_utf8_lossy(f[0]).into_owned(),
        uid,
        nt_hash: nt
            .iter()
            .all(u8::is_ascii_hexdigit)
            .then(|| String::from_utf8_lossy(nt).to_ascii_uppercase()),
        flags: String::from_utf8_lossy(&flags[1..12]).trim().to_string(),
        last_change: Some(lct),
    })
}

/// The line with a new NT hash, no LM hash, the `N` (no password) flag cleared, and the
/// last-change time set — what `smbpasswd` itself writes (LANMAN is off by default).
pub fn with_nt_hash(line: &Line<'_>, nt_hex: &str, now: u64) -> Vec<u8> {
    let mut f = line.fields();
    let lm = [b'X'; 32];
    let mut flags: Vec<u8> = f[4][1..12]
        .iter()
        .copied()
        .filter(|&b| b != b'N' && b != b' ')
        .collect();
    if flags.is_empty() {
        flags.push(b'U');
    }
    let mut bracket = Vec::with_capacity(13);
    bracket.push(b'[');
    bracket.extend_from_slice(&flags);
    bracket.resize(12, b' ');
    bracket.push(b']');
    let lct = format!("LCT-{:08X}", now & 0xffff_ffff);
    f[2] = &lm;
    f[3] = nt_hex.as_bytes();
    f[4] = &bracket;
    f[5] = lct.as_bytes();
    colon::join(&f)
}

/// A line (as built by [`with_nt_hash`]) with the `D` (disabled) flag cleared, as
/// `smbpasswd -e` does.
pub fn enabled(line: &[u8]) -> Vec<u8> {
    let mut f: Vec<Vec<u8>> = line.split(|&b| b == b':').map(<[u8]>::to_vec).collect();
    if let Some(flags) = f.get_mut(4)
        && flags.len() == 13
    {
        let mut inner: Vec<u8> = flags[1..12]
            .iter()
            .copied()
            .filter(|&b| b != b'D' && b != b' ')
            .collect();
        if inner.is_empty() {
            inner.push(b'U');
        }
        inner.resize(11, b' ');
        *flags = [&b"["[..], &inner, b"]"].concat();
    }
    f.join(&b':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::colon::{Lookup, find};

    const LINE: &[u8] = b"admin:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:209C6174DA490CAEB422F3FA5A7AE634:[U          ]:LCT-5A8D1F2B:\n";

    #[test]
    fn parses_and_edits() {
        let Lookup::Found(l) = find(LINE, "admin") else {
            panic!()
        };
        let e = parse(&l).unwrap();
        assert_eq!(
            e.nt_hash.as_deref(),
            Some("209C6174DA490CAEB422F3FA5A7AE634")
        );
        assert_eq!(e.flags, "U");
        assert_eq!(e.last_change, Some(0x5A8D1F2B));
        let new = with_nt_hash(&l, "8846F7EAEE8FB117AD06BDD830B7586C", 0x6000_0000);
        assert_eq!(
            new,
            b"admin:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:8846F7EAEE8FB117AD06BDD830B7586C:[U          ]:LCT-60000000:"
        );
    }

    #[test]
    fn clears_no_password_flag_keeps_disabled() {
        let l = b"bob:5:NO PASSWORDXXXXXXXXXXXXXXXXXXXXX:NO PASSWORDXXXXXXXXXXXXXXXXXXXXX:[NDU        ]:LCT-00000000:";
        let Lookup::Found(line) = find(l, "bob") else {
            panic!()
        };
        let e = parse(&line).unwrap();
        assert!(e.no_password() && e.disabled() && e.nt_hash.is_none());
        let new = with_nt_hash(&line, "8846F7EAEE8FB117AD06BDD830B7586C", 1);
        assert!(
            new.ends_with(b":[DU         ]:LCT-00000001:"),
            "{}",
            String::from_utf8_lossy(&new)
        );
    }

    #[test]
    fn rejects_bad_lines() {
        for bad in [&b"admin:0:XX:YY:[U          ]:LCT-00000000:"[..], b"admin:x:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:[U          ]:LCT-00000000:", b"admin:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:[U]:LCT-00000000:"] {
            let Lookup::Found(l) = find(bad, "admin") else { panic!() };
            assert!(parse(&l).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn an_enabled_account_with_a_password_has_neither_flag() {
        let Lookup::Found(l) = find(LINE, "admin") else {
            panic!()
        };
        let e = parse(&l).unwrap();
        assert!(!e.disabled() && !e.no_password(), "{e:?}");
    }

    #[test]
    fn each_field_is_checked_on_its_own() {
        const X: &str = "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";
        const NT: &str = "209C6174DA490CAEB422F3FA5A7AE634";
        let good = format!("admin:0:{X}:{NT}:[U          ]:LCT-5A8D1F2B:");
        let Lookup::Found(l) = find(good.as_bytes(), "admin") else {
            panic!()
        };
        assert!(parse(&l).is_ok());
        for bad in [
            // one hash field bad, the other good
            format!("admin:0:{X}:AB:[U          ]:LCT-5A8D1F2B:"),
            format!("admin:0:AB:{NT}:[U          ]:LCT-5A8D1F2B:"),
            // a short hex hash
            format!("admin:0:{X}:209C:[U          ]:LCT-5A8D1F2B:"),
            // a bracket wrong at one end only
            format!("admin:0:{X}:{NT}:(U          ]:LCT-5A8D1F2B:"),
            format!("admin:0:{X}:{NT}:[U          ):LCT-5A8D1F2B:"),
            // LCT of the wrong length
            format!("admin:0:{X}:{NT}:[U          ]:LCT-5A8D1F:"),
            format!("admin:0:{X}:{NT}:[U          ]:LCT-5A8D1F2B00:"),
            // something after the final ':' / no final ':'
            format!("admin:0:{X}:{NT}:[U          ]:LCT-5A8D1F2B:junk"),
            format!("admin:0:{X}:{NT}:[U          ]:LCT-5A8D1F2B"),
        ] {
            let Lookup::Found(l) = find(bad.as_bytes(), "admin") else {
                panic!()
            };
            assert!(parse(&l).is_err(), "{bad}");
        }
    }
}
