//! The rules for an account's secret, one implementation per file format that holds one:
//! how its entry is found, which field holds the secret, how a new one is written (keeping
//! or lifting the entry's lock), whether an entry holds a given one, and how an entry is
//! shown with its secret redacted. The account code never knows a field number.
//!
//! A crypt hash lives in field 2 of shadow (and of passwd on a system without shadow);
//! Samba's NT hash in field 4 of smbpasswd, beside the LM hash in field 3.

use super::colon::{self, Line, Lookup, Malformed};
use super::{passwd, shadow, smbpasswd};

/// The secret a password change writes, in the form each format takes.
#[derive(Clone, Copy, Debug)]
pub struct NewSecret<'a> {
    /// The crypt hash (shadow, passwd).
    pub crypt: &'a str,
    /// The NT hash as 32 hex digits (smbpasswd).
    pub nt_hex: &'a str,
}

/// How a new secret is written.
#[derive(Clone, Copy, Debug)]
pub struct Change {
    /// Lift the entry's lock (`!`, an expired entry, Samba's `D`) instead of keeping it.
    pub unlock: bool,
    /// Days since 1970-01-01 (shadow's last-change day).
    pub today: u64,
    /// Unix seconds (smbpasswd's last-change time).
    pub now: u64,
}

/// Which kind of secret a format holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// A crypt(3) hash.
    Crypt,
    /// Samba's NT hash.
    Nt,
}

/// The per-format rules for the entry that holds an account's secret.
pub trait SecretFormat {
    /// The kind of secret this format holds.
    fn kind(&self) -> SecretKind;

    /// The account's entry. `Err` when which entry is the account's is a guess (the message
    /// does not name the file: the caller does).
    fn find<'a>(&self, bytes: &'a [u8], user: &str) -> Result<Option<Line<'a>>, String> {
        find_exact(bytes, user)
    }

    /// The field holding the secret, as stored.
    fn secret<'a>(&self, line: &Line<'a>) -> Option<&'a [u8]>;

    /// Whether the entry holds exactly `new`'s secret (behind a lock the change kept).
    fn holds(&self, line: &Line<'_>, new: &NewSecret<'_>) -> bool;

    /// The entry with `new`'s secret, its lock kept or lifted as `how.unlock` says.
    /// `Err`: the entry is malformed (which line and why; the caller names the file).
    fn with_secret(
        &self,
        line: &Line<'_>,
        new: &NewSecret<'_>,
        how: Change,
    ) -> Result<Vec<u8>, Malformed>;

    /// An entry's text with its secret fields replaced by placeholders (a placeholder
    /// already there, `<…>`, stays).
    fn redact(&self, text: &[u8]) -> String;
}

/// The account's entry by its exact name; several of them make it a guess.
pub fn find_exact<'a>(bytes: &'a [u8], user: &str) -> Result<Option<Line<'a>>, String> {
    match colon::find(bytes, user) {
        Lookup::Found(l) => Ok(Some(l)),
        Lookup::Missing => Ok(None),
        Lookup::Ambiguous(lines) => Err(format!(
            "{user} appears on lines {lines:?}; fix the duplicates first"
        )),
    }
}

/// The new crypt field: the new hash, behind the old field's `!` lock (shadow-utils'
/// `passwd -l`, also a bare `!`) unless `unlock`. A `*` field never had a password: the
/// new one replaces it, as chpasswd does.
pub fn kept_lock(old_field: &str, crypt_hash: &str, unlock: bool) -> String {
    if !unlock && is_lock(old_field) {
        format!("!{crypt_hash}")
    } else {
        crypt_hash.to_string()
    }
}

/// Whether a crypt field carries a lock `passwd` keeps: a leading `!`.
pub fn is_lock(field: &str) -> bool {
    field.starts_with('!')
}

/// The fields of an entry's text, as strings to show.
fn shown_fields(text: &[u8]) -> Vec<String> {
    text.split(|&b| b == b':')
        .map(|x| String::from_utf8_lossy(x).into_owned())
        .collect()
}

/// The crypt field of a colon line (shadow, passwd): field 2.
const CRYPT_FIELD: usize = 1;

/// A colon file whose second field is a crypt hash: shadow, and passwd on a system without
/// shadow. They differ only in how the rest of the entry changes with the hash.
pub struct Crypt {
    edit: fn(&Line<'_>, &str, Change) -> Result<Vec<u8>, Malformed>,
}

/// `/etc/shadow`: the last-change day is set, and unlocking also lifts an expired entry's
/// block (as `usermod -e ''` does).
pub const SHADOW: Crypt = Crypt {
    edit: |line, crypt, how| {
        let e = shadow::parse(line)?;
        let field = kept_lock(&e.hash, crypt, how.unlock);
        let mut out = shadow::with_hash(line, field.as_bytes(), how.today);
        if how.unlock && e.expire.is_some_and(|exp| exp <= how.today) {
            out = shadow::without_expiry(&out);
        }
        Ok(out)
    },
};

/// `/etc/passwd`, which holds the crypt hash only on a system without shadow.
pub const PASSWD: Crypt = Crypt {
    edit: |line, crypt, how| {
        let e = passwd::parse(line)?;
        let field = kept_lock(&e.password, crypt, how.unlock);
        Ok(passwd::with_password(line, field.as_bytes()))
    },
};

impl SecretFormat for Crypt {
    fn kind(&self) -> SecretKind {
        SecretKind::Crypt
    }

    fn secret<'a>(&self, line: &Line<'a>) -> Option<&'a [u8]> {
        line.fields().get(CRYPT_FIELD).copied()
    }

    fn holds(&self, line: &Line<'_>, new: &NewSecret<'_>) -> bool {
        let got = self.secret(line).unwrap_or_default();
        got.strip_prefix(b"!").unwrap_or(got) == new.crypt.as_bytes()
    }

    fn with_secret(
        &self,
        line: &Line<'_>,
        new: &NewSecret<'_>,
        how: Change,
    ) -> Result<Vec<u8>, Malformed> {
        (self.edit)(line, new.crypt, how)
    }

    fn redact(&self, text: &[u8]) -> String {
        let mut f = shown_fields(text);
        if f.len() > CRYPT_FIELD && !f[CRYPT_FIELD].trim_start_matches('!').starts_with('<') {
            f[CRYPT_FIELD] = "<old hash>".into();
        }
        f.join(":")
    }
}

/// Samba's smbpasswd file.
pub struct Smbpasswd;

/// The LM and NT hash fields of an smbpasswd line: fields 3 and 4.
const LM_FIELD: usize = 2;
const NT_FIELD: usize = 3;

impl SecretFormat for Smbpasswd {
    fn kind(&self) -> SecretKind {
        SecretKind::Nt
    }

    /// Samba matches smbpasswd names case-insensitively and takes the first: `ADMIN` before
    /// `admin` is the entry it uses. Any second spelling makes the target a guess.
    fn find<'a>(&self, bytes: &'a [u8], user: &str) -> Result<Option<Line<'a>>, String> {
        let spellings = colon::find_any_case(bytes, user);
        if spellings.len() > 1 {
            return Err(format!(
                "{} is on lines {spellings:?} in different letter cases; Samba matches names \
                 case-insensitively, so which one it uses is not {user}'s alone: merge them first",
                crate::escape::line(user)
            ));
        }
        find_exact(bytes, user)
    }

    fn secret<'a>(&self, line: &Line<'a>) -> Option<&'a [u8]> {
        line.fields().get(NT_FIELD).copied()
    }

    fn holds(&self, line: &Line<'_>, new: &NewSecret<'_>) -> bool {
        self.secret(line) == Some(new.nt_hex.as_bytes())
    }

    /// Also clears the `D` (disabled) flag when unlocking, as `smbpasswd -e` does.
    fn with_secret(
        &self,
        line: &Line<'_>,
        new: &NewSecret<'_>,
        how: Change,
    ) -> Result<Vec<u8>, Malformed> {
        smbpasswd::parse(line)?;
        let mut out = smbpasswd::with_nt_hash(line, new.nt_hex, how.now);
        if how.unlock {
            out = smbpasswd::enabled(&out);
        }
        Ok(out)
    }

    fn redact(&self, text: &[u8]) -> String {
        let mut f = shown_fields(text);
        if f.len() > NT_FIELD && !f[NT_FIELD].starts_with('<') {
            f[LM_FIELD] = "<old LM>".into();
            f[NT_FIELD] = "<old NT hash>".into();
        }
        f.join(":")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: NewSecret<'static> = NewSecret {
        crypt: "$1$$new",
        nt_hex: "209C6174DA490CAEB422F3FA5A7AE634",
    };
    const KEEP: Change = Change {
        unlock: false,
        today: 20000,
        now: 0x5A8D_1F2B,
    };

    fn line(bytes: &[u8]) -> Line<'_> {
        find_exact(bytes, "admin").unwrap().unwrap()
    }

    #[test]
    fn shadow_keeps_a_lock_and_lifts_it_with_an_expiry_on_unlock() {
        let old = b"admin:!$1$$old:14233:0:99999:7::1:\n";
        let kept = SHADOW.with_secret(&line(old), &NEW, KEEP).unwrap();
        assert_eq!(kept, b"admin:!$1$$new:20000:0:99999:7::1:");
        assert!(SHADOW.holds(&line(&kept), &NEW));
        // The old line does not hold the new hash (the check after a change relies on it).
        assert!(!SHADOW.holds(&line(old), &NEW));
        let lifted = Change {
            unlock: true,
            ..KEEP
        };
        let open = SHADOW.with_secret(&line(old), &NEW, lifted).unwrap();
        assert_eq!(open, b"admin:$1$$new:20000:0:99999:7:::");
        assert_eq!(SHADOW.secret(&line(&open)), Some(&b"$1$$new"[..]));
        assert!(
            SHADOW
                .with_secret(&line(b"admin:x:1\n"), &NEW, KEEP)
                .is_err()
        );
    }

    #[test]
    fn smbpasswd_writes_the_nt_field_and_clears_disabled_on_unlock() {
        let old = b"admin:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:00000000000000000000000000000000:[DU         ]:LCT-00000001:\n";
        let kept = Smbpasswd.with_secret(&line(old), &NEW, KEEP).unwrap();
        assert!(Smbpasswd.holds(&line(&kept), &NEW));
        assert!(String::from_utf8_lossy(&kept).contains("[DU         ]:LCT-5A8D1F2B:"));
        let lifted = Change {
            unlock: true,
            ..KEEP
        };
        let open = Smbpasswd.with_secret(&line(old), &NEW, lifted).unwrap();
        assert!(String::from_utf8_lossy(&open).contains("[U          ]"));
        assert!(!Smbpasswd.holds(&line(old), &NEW));
    }

    #[test]
    fn redacted_secrets_and_placeholders_kept() {
        assert_eq!(SHADOW.redact(b"admin:!$1$$x:1:2"), "admin:<old hash>:1:2");
        assert_eq!(PASSWD.redact(b"admin:!<new hash>:0"), "admin:!<new hash>:0");
        assert_eq!(
            Smbpasswd.redact(b"admin:0:LM:NT:[U]:LCT-1:"),
            "admin:0:<old LM>:<old NT hash>:[U]:LCT-1:"
        );
        assert_eq!(
            Smbpasswd.redact(b"admin:0:X:<new NT hash>:[U]:"),
            "admin:0:X:<new NT hash>:[U]:"
        );
        // A line that is only a name has no secret to hide, and is shown as it is.
        assert_eq!(SHADOW.redact(b"admin"), "admin");
        assert_eq!(Smbpasswd.redact(b"admin:0:LM"), "admin:0:LM");
    }

    #[test]
    fn samba_entries_in_two_letter_cases_are_a_guess() {
        let bytes = b"ADMIN:0:x\nadmin:0:y\n";
        assert!(Smbpasswd.find(bytes, "admin").is_err());
        assert!(SHADOW.find(bytes, "admin").unwrap().is_some());
    }
}
