//! Factory-default passwords, tested by hashing each candidate against the stored crypt
//! hash (crate::hash::verify) and Samba's NT hash. Candidates and hashes are never printed:
//! a finding names only the kind of default that matched.
//!
//! Defaults (QNAP; see docs/audit.md): QTS/QuTS hero 5.2.0 and later, the Cloud Key from the
//! label (upper case, special characters removed); QTS 4.4.2 to 5.1.x, the MAC address of
//! the first adapter (upper case, no separators) — every adapter's address is tried, since
//! "first" depends on the model; older firmware, `admin`; the built-in `guest`, `guest`.
//! The empty password is reported by the `empty-password` check.

use zeroize::Zeroizing;

use super::{Audited, Finding, Remedy, Severity};
use crate::hash::{self, Verdict};
use crate::info::Adapter;
use crate::stores::Kind;

struct Candidate {
    /// What the default is, as shown (never the value).
    what: String,
    secret: Zeroizing<Vec<u8>>,
}

fn candidates(user: &str, adapters: &[Adapter], cloud_key: Option<&[u8]>) -> Vec<Candidate> {
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
    let mut cands = candidates(crate::account::DEFAULT_USER, adapters, None);
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

/// Test every store holding a password for the account.
pub fn check(
    audited: &Audited,
    adapters: &[Adapter],
    cloud_key: Option<&[u8]>,
    findings: &mut Vec<Finding>,
) {
    let state = &audited.state;
    let user = state.user.as_str();
    let cands = candidates(user, adapters, cloud_key);
    let mut cache: Vec<(String, Option<usize>)> = Vec::new();
    for st in &state.stores {
        let Some(stored) = st.fingerprint.as_deref() else {
            continue;
        };
        if !st.present || stored.is_empty() {
            continue;
        }
        let matched = match st.kind {
            Kind::Smbpasswd => cands.iter().find(|c| {
                let nt = Zeroizing::new(hash::nt_hash_hex(&c.secret));
                nt.eq_ignore_ascii_case(stored)
            }),
            Kind::Shadow | Kind::Passwd => {
                let info = hash::inspect(stored);
                if let Verdict::TooCostly(r) = hash::verify(b"", stored) {
                    findings.push(Finding::new(
                        Severity::Medium,
                        "excessive-rounds",
                        Some(user),
                        Some(&st.path),
                        format!(
                            "the hash asks for {r} rounds, above qrescue's ceiling of {}: every login \
                             costs that much, and factory defaults were not tested",
                            hash::VERIFY_ROUNDS_MAX
                        ),
                        format!("qrescue passwd {user} (the new hash uses the default rounds)"),
                    )
                        .remedy(Remedy::SetPassword));
                    continue;
                }
                if let Some(scheme) = info.scheme
                    && matches!(hash::verify(b"", stored), Verdict::Unsupported(_))
                {
                    findings.push(Finding::new(
                        Severity::Info,
                        "unchecked-scheme",
                        Some(user),
                        Some(&st.path),
                        format!(
                            "hash scheme {} is not supported: factory defaults were not tested",
                            scheme.name()
                        ),
                        "test the default passwords by hand (qrescue verify cannot either)",
                    ));
                    continue;
                }
                // Copies with the same hash (QTS 4's runtime and persistent shadow) are
                // hashed once: SHA-512-crypt is slow on ARMv5 boxes.
                let index = match cache.iter().find(|(f, _)| f == stored) {
                    Some((_, i)) => *i,
                    None => {
                        let i = cands
                            .iter()
                            .position(|c| hash::verify(&c.secret, stored) == Verdict::Match);
                        cache.push((stored.to_string(), i));
                        i
                    }
                };
                index.map(|i| &cands[i])
            }
            Kind::Group => None,
        };
        let Some(c) = matched else { continue };
        let administrator = state.administrator || user == crate::account::DEFAULT_USER;
        let usable = !st.locked && !st.disabled;
        let severity = match (administrator, usable) {
            (true, true) => Severity::High,
            (true, false) | (false, true) => Severity::Medium,
            (false, false) => Severity::Low,
        };
        let locked = if usable {
            ""
        } else {
            " (the account is locked or disabled here)"
        };
        findings.push(
            Finding::new(
                severity,
                "default-password",
                Some(user),
                Some(&st.path),
                format!("the password is the factory default {}{locked}", c.what),
                format!("set a new password: qrescue passwd {user}"),
            )
            .remedy(Remedy::SetPassword),
        );
    }
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
