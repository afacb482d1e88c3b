//! The `default-password` check: each factory default of this box (crate::factory) hashed
//! against the stored crypt hash (crate::hash::verify) and Samba's NT hash. Candidates and
//! hashes are never printed: a finding names only the kind of default that matched. The
//! empty password is reported by the `empty-password` check.

use zeroize::Zeroizing;

use super::{Audited, Finding, Remedy, Severity};
use crate::factory::candidates;
use crate::hash::{self, Verdict};
use crate::info::Adapter;
use crate::stores::Kind;

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
