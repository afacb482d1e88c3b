//! Factory-default passwords of a QNAP box, computable without the owner: what `audit`
//! tests stored hashes against (audit/defaults.rs), what `passwd` refuses as a new password,
//! and what the store watch calls `factory-default`. Candidates are never printed: callers
//! name only the kind of default (`Candidate::what`).
//!
//! Defaults (QNAP; see docs/audit.md): QTS/QuTS hero 5.2.0 and later, the Cloud Key from the
//! label (upper case, special characters removed); QTS 4.4.2 to 5.1.x, the MAC address of
//! the first adapter (upper case, no separators) — every adapter's address is tried, since
//! "first" depends on the model; older firmware, `admin`; the built-in `guest`, `guest`.

use zeroize::Zeroizing;

use crate::account::DEFAULT_USER;
use crate::hash::{self, Verdict};
use crate::info::Adapter;
use crate::stores::Kind;

/// One factory default: what it is (shown) and its value (never shown).
pub struct Candidate {
    /// What the default is, as shown (never the value).
    pub what: String,
    pub secret: Zeroizing<Vec<u8>>,
}

/// Every factory default of this box for `user`, in the order QTS versions used them.
pub fn candidates(user: &str, adapters: &[Adapter], cloud_key: Option<&[u8]>) -> Vec<Candidate> {
    let mut out = Vec::new();
    if let Some(key) = cloud_key {
        out.push(Candidate {
            what: "of QTS/QuTS hero 5.2.0 and later: the Cloud Key from the label".into(),
            secret: Zeroizing::new(key.to_vec()),
        });
    }
    for a in adapters {
        let mac: Vec<u8> = a.mac.bytes().filter(|b| *b != b':').collect();
        if out.iter().any(|c: &Candidate| *c.secret == mac) {
            continue;
        }
        out.push(Candidate {
            what: format!("of QTS 4.4.2 to 5.1: the MAC address of {}", a.name),
            secret: Zeroizing::new(mac),
        });
    }
    out.push(Candidate {
        what: "of firmware before QTS 4.4.2".into(),
        secret: Zeroizing::new(b"admin".to_vec()),
    });
    if user.eq_ignore_ascii_case("guest") {
        out.push(Candidate {
            what: "documented for this built-in account".into(),
            secret: Zeroizing::new(b"guest".to_vec()),
        });
    }
    out
}

/// Whether a stored password field (crypt hash, or Samba NT hash) holds a factory default
/// this box's firmware leaves behind and that is computable without the owner: `admin`,
/// every adapter's MAC in QTS's form, or empty (the store watch's `factory-default` class).
pub fn is_factory_default(kind: Kind, stored: &str, adapters: &[Adapter]) -> bool {
    let mut cands = candidates(DEFAULT_USER, adapters, None);
    cands.push(Candidate {
        what: "empty".into(),
        secret: Zeroizing::new(Vec::new()),
    });
    let stored = stored.trim_start_matches('!');
    cands.iter().any(|c| match kind {
        Kind::Smbpasswd => {
            let nt = Zeroizing::new(hash::nt_hash_hex(&c.secret));
            nt.eq_ignore_ascii_case(stored)
        }
        Kind::Shadow | Kind::Passwd => {
            (stored.is_empty() && c.secret.is_empty())
                || hash::verify(&c.secret, stored) == Verdict::Match
        }
        Kind::Group => false,
    })
}

/// Which factory default of this box a new password for `user` would be, if any (`passwd`
/// refuses it, as QTS's own UI does): `admin`, every adapter's MAC in QTS's form, the Cloud
/// Key when given, `guest` for the guest account. The answer names the kind, never the value.
pub fn default_of(
    user: &str,
    password: &[u8],
    adapters: &[Adapter],
    cloud_key: Option<&[u8]>,
) -> Option<String> {
    candidates(user, adapters, cloud_key)
        .into_iter()
        .find(|c| *c.secret == *password)
        .map(|c| c.what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_cover_every_mac_once_and_never_show_values() {
        let a = |n: &str, m: &str| Adapter {
            name: n.into(),
            mac: m.into(),
            is_virtual: false,
            source: String::new(),
        };
        let ads = [
            a("eth0", "00:08:9B:F1:23:34"),
            a("eth1", "00:08:9B:F1:23:35"),
            a("br0", "00:08:9B:F1:23:34"),
        ];
        let c = candidates("guest", &ads, Some(b"Q12345678"));
        let secrets: Vec<&[u8]> = c.iter().map(|c| &c.secret[..]).collect();
        assert_eq!(
            secrets,
            vec![
                &b"Q12345678"[..],
                b"00089BF12334",
                b"00089BF12335",
                b"admin",
                b"guest"
            ]
        );
        for c in &c {
            let shown = String::from_utf8_lossy(&c.secret).into_owned();
            assert!(!c.what.contains(&shown), "{}", c.what);
        }
        assert_eq!(candidates("admin", &[], None).len(), 1);
    }
}
