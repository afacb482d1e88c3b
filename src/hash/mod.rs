//! Password hashes: the crypt(3) schemes found in shadow files and Samba's NT hash.
//!
//! - SHA-256/512-crypt (`$5$`, `$6$`, with `rounds=`): the RustCrypto `sha-crypt` crate
//!   computes the digest; the crypt-style base64 with its byte permutation is ours
//!   (`b64.rs`), shared with MD5-crypt.
//! - MD5-crypt (`$1$`), including the empty-salt `$1$$…` QNAP firmware writes: hand-written
//!   on the `md-5` crate (`md5crypt.rs`), as no maintained crate implements it.
//! - Traditional DES crypt: verified (`descrypt.rs`), never generated.
//! - bcrypt / yescrypt and anything else: recognised and reported as unsupported.

mod b64;
mod descrypt;
mod md5crypt;
mod shacrypt;

use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Schemes recognised in a stored crypt(3) string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    Des,
    Md5,
    Sha256,
    Sha512,
    Bcrypt,
    Yescrypt,
    Unknown,
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Des => "des",
            Scheme::Md5 => "md5",
            Scheme::Sha256 => "sha256",
            Scheme::Sha512 => "sha512",
            Scheme::Bcrypt => "bcrypt",
            Scheme::Yescrypt => "yescrypt",
            Scheme::Unknown => "unknown",
        }
    }
}

/// What a stored password field holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HashInfo {
    /// `None` when there is no hash at all (`""`, `*`, `!`, `!!`, `x`).
    pub scheme: Option<Scheme>,
    /// Leading `!` (shadow-utils lock) or a field of only `*`/`!`.
    pub locked: bool,
    /// Empty field: no password needed.
    pub empty: bool,
    /// `$1$$…`: MD5-crypt with an empty salt.
    pub empty_salt: bool,
    /// Explicit `rounds=` of `$5$`/`$6$`.
    pub rounds: Option<u32>,
}

fn scheme_of(hash: &str) -> Option<Scheme> {
    if hash.is_empty() || hash == "x" || hash.chars().all(|c| c == '*' || c == '!') {
        return None;
    }
    Some(if hash.starts_with("$1$") {
        Scheme::Md5
    } else if hash.starts_with("$5$") {
        Scheme::Sha256
    } else if hash.starts_with("$6$") {
        Scheme::Sha512
    } else if ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .any(|p| hash.starts_with(p))
    {
        Scheme::Bcrypt
    } else if ["$y$", "$7$", "$gy$"].iter().any(|p| hash.starts_with(p)) {
        Scheme::Yescrypt
    } else if descrypt::looks_like(hash) {
        Scheme::Des
    } else {
        Scheme::Unknown
    })
}

/// Describe a stored password field.
pub fn inspect(field: &str) -> HashInfo {
    let locked = field.starts_with('!')
        || (!field.is_empty() && field.chars().all(|c| c == '*' || c == '!'));
    let hash = field.trim_start_matches('!');
    let scheme = scheme_of(hash);
    HashInfo {
        scheme,
        locked,
        empty: field.is_empty(),
        empty_salt: hash.starts_with("$1$$"),
        rounds: match scheme {
            Some(Scheme::Sha256 | Scheme::Sha512) => shacrypt::explicit_rounds(hash),
            _ => None,
        },
    }
}

/// Result of checking a password against a stored field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Match,
    Mismatch,
    Unsupported(Scheme),
    NoHash,
}

/// Constant-time equality of two byte strings of public length.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verify `password` against a stored field. A locked field (`!$6$…`) is checked against
/// the hash behind the `!` (the caller reports the lock).
pub fn verify(password: &[u8], field: &str) -> Verdict {
    let hash = field.trim_start_matches('!');
    let Some(scheme) = scheme_of(hash) else {
        return Verdict::NoHash;
    };
    let computed: Option<Zeroizing<String>> = match scheme {
        Scheme::Md5 => md5crypt::hash_setting(password, hash),
        Scheme::Sha256 | Scheme::Sha512 => shacrypt::hash_setting(password, hash),
        Scheme::Des => descrypt::hash_setting(password, hash),
        other => return Verdict::Unsupported(other),
    };
    match computed {
        Some(c) if ct_eq(c.as_bytes(), hash.as_bytes()) => Verdict::Match,
        Some(_) => Verdict::Mismatch,
        None => Verdict::Unsupported(Scheme::Unknown),
    }
}

/// Schemes qrescue can generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GenScheme {
    Sha512,
    Sha256,
    Md5,
}

const SALT_CHARS: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn random_salt(len: usize) -> Result<String> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw[..len]).map_err(|e| {
        Error::io(
            "random source",
            std::io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(nix::libc::EIO)),
        )
    })?;
    Ok(raw[..len]
        .iter()
        .map(|b| SALT_CHARS[usize::from(b & 63)] as char)
        .collect())
}

/// A new hash with a fresh salt from the kernel: 16 characters for SHA, 8 for MD5.
pub fn generate(password: &[u8], scheme: GenScheme, rounds: Option<u32>) -> Result<String> {
    let salt = random_salt(if scheme == GenScheme::Md5 { 8 } else { 16 })?;
    Ok(generate_with_salt(password, scheme, &salt, rounds))
}

/// The exact string glibc's crypt() gives for that setting.
pub fn generate_with_salt(
    password: &[u8],
    scheme: GenScheme,
    salt: &str,
    rounds: Option<u32>,
) -> String {
    let setting = match (scheme, rounds) {
        (GenScheme::Md5, _) => format!("$1${salt}"),
        (GenScheme::Sha256, None) => format!("$5${salt}"),
        (GenScheme::Sha512, None) => format!("$6${salt}"),
        (GenScheme::Sha256, Some(r)) => format!("$5$rounds={r}${salt}"),
        (GenScheme::Sha512, Some(r)) => format!("$6$rounds={r}${salt}"),
    };
    let out = match scheme {
        GenScheme::Md5 => md5crypt::hash_setting(password, &setting),
        _ => shacrypt::hash_setting(password, &setting),
    };
    out.expect("a setting built here is valid").to_string()
}

/// The scheme (and explicit rounds) that keeps an account's family: MD5 for `$1$`, SHA-256
/// for `$5$`, SHA-512 for everything else.
pub fn keep_family(info: &HashInfo) -> (GenScheme, Option<u32>) {
    match info.scheme {
        Some(Scheme::Md5) => (GenScheme::Md5, None),
        Some(Scheme::Sha256) => (GenScheme::Sha256, info.rounds),
        Some(Scheme::Sha512) => (GenScheme::Sha512, info.rounds),
        _ => (GenScheme::Sha512, None),
    }
}

/// Samba's NT hash: MD4 over the UTF-16LE password.
pub fn nt_hash(password: &[u8]) -> [u8; 16] {
    use md4::{Digest, Md4};
    let mut h = Md4::new();
    for &b in password {
        // Passwords are ASCII (checked on input); a byte is its own code unit.
        h.update([b, 0]);
    }
    h.finalize().into()
}

/// The NT hash as 32 upper-case hex digits (smbpasswd's form).
pub fn nt_hash_hex(password: &[u8]) -> String {
    nt_hash(password)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspects_fields() {
        let i = inspect("$1$$CoERg7ynjYLsj2j4glJ34.");
        assert_eq!(
            (i.scheme, i.empty_salt, i.locked),
            (Some(Scheme::Md5), true, false)
        );
        let i = inspect("!$6$rounds=10000$salt$hash");
        assert_eq!(
            (i.scheme, i.locked, i.rounds),
            (Some(Scheme::Sha512), true, Some(10000))
        );
        assert!(inspect("").empty);
        assert_eq!(inspect("*").scheme, None);
        assert!(inspect("!!").locked);
        assert_eq!(inspect("$y$j9T$abc$def").scheme, Some(Scheme::Yescrypt));
        assert_eq!(
            inspect("$2b$10$abcdefghijklmnopqrstuu").scheme,
            Some(Scheme::Bcrypt)
        );
        assert_eq!(inspect("abJnggxhB/yWI").scheme, Some(Scheme::Des));
        assert_eq!(inspect("$9$what").scheme, Some(Scheme::Unknown));
    }

    #[test]
    fn known_vectors() {
        assert_eq!(
            verify(b"admin", "$1$$CoERg7ynjYLsj2j4glJ34."),
            Verdict::Match
        );
        assert_eq!(
            verify(b"admin2", "$1$$CoERg7ynjYLsj2j4glJ34."),
            Verdict::Mismatch
        );
        assert_eq!(nt_hash_hex(b"password"), "8846F7EAEE8FB117AD06BDD830B7586C");
        assert_eq!(nt_hash_hex(b"admin"), "209C6174DA490CAEB422F3FA5A7AE634");
        assert_eq!(
            verify(b"x", "$y$j9T$abc$def"),
            Verdict::Unsupported(Scheme::Yescrypt)
        );
        assert_eq!(verify(b"x", "*"), Verdict::NoHash);
        assert_eq!(verify(b"x", "!"), Verdict::NoHash);
    }

    #[test]
    fn generated_hashes_verify() {
        for scheme in [GenScheme::Sha512, GenScheme::Sha256, GenScheme::Md5] {
            let h = generate(b"s3cret", scheme, None).unwrap();
            assert_eq!(verify(b"s3cret", &h), Verdict::Match, "{h}");
            assert_eq!(verify(b"s3cres", &h), Verdict::Mismatch, "{h}");
            assert_ne!(
                h,
                generate(b"s3cret", scheme, None).unwrap(),
                "fresh salt each time"
            );
        }
        let h = generate(b"pw", GenScheme::Sha256, Some(1234)).unwrap();
        assert!(h.starts_with("$5$rounds=1234$"));
        assert_eq!(keep_family(&inspect(&h)), (GenScheme::Sha256, Some(1234)));
        assert_eq!(keep_family(&inspect("$1$$x")), (GenScheme::Md5, None));
        assert_eq!(
            keep_family(&inspect("abJnggxhB/yWI")),
            (GenScheme::Sha512, None)
        );
    }
}
