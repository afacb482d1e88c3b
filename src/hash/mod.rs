//! Password hashes: the crypt(3) schemes found in shadow files and Samba's NT hash.
//!
//! - SHA-256/512-crypt (`$5$`, `$6$`, with `rounds=`): the RustCrypto `sha-crypt` crate
//!   computes the digest; the crypt-style base64 with its byte permutation is ours
//!   (`b64.rs`), shared with MD5-crypt.
//! - MD5-crypt (`$1$`), including the empty-salt `$1$$…` QNAP firmware writes: hand-written
//!   on the `md-5` crate (`md5crypt.rs`), as no maintained crate implements it.
//! - DES crypt, traditional (13 characters) and BSDi extended (`_…`, 20 characters):
//!   verified (`descrypt.rs`, a DES written from FIPS 46-3 since the RustCrypto `des`
//!   crate has no hook for crypt's salted E expansion), never generated.
//! - bcrypt / yescrypt / scrypt and anything else: recognised and reported as unsupported.
//!
//! Every computation returns the complete string crypt(3) would return for the stored
//! setting, and `verify` compares it with the stored field in constant time: the verdict is
//! the one the system's own login would reach (a malformed `rounds=05000` mismatches there
//! too). Buffers derived from the password are wiped (`zeroize`) when dropped.

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

/// A salt cut to at most `max` bytes, ending early at `$`. crypt cuts bytes; for a
/// non-ASCII salt (never in a real crypt string) this backs off to a character boundary.
fn cut_salt(rest: &str, max: usize) -> &str {
    let salt = rest.split('$').next().unwrap_or("");
    let mut end = salt.len().min(max);
    while !salt.is_char_boundary(end) {
        end -= 1;
    }
    &salt[..end]
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
    } else if ["$2$", "$2a$", "$2b$", "$2y$", "$2x$"]
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
    /// SHA-crypt with more rounds than [`VERIFY_ROUNDS_MAX`]: not computed.
    TooCostly(u32),
}

/// The most SHA-crypt rounds qrescue computes when checking a stored hash, and keeps when
/// rewriting one without `--rounds`. A stored `rounds=999999999` would otherwise take
/// minutes per check (`audit` tries several candidates) and be carried into the new hash.
/// 1,000,000 rounds is 200 times glibc's default: one SHA-512 check took 0.56 to 0.72 s on
/// the x86-64 development machine (docs/reliability.md); ARM NAS models are slower still.
pub const VERIFY_ROUNDS_MAX: u32 = 1_000_000;

/// Constant-time equality of two byte strings of public length.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| std::hint::black_box(acc | (x ^ y)));
    diff == 0
}

/// Verify `password` against a stored field. A locked field (`!$6$…`) is checked against
/// the hash behind the `!` (the caller reports the lock).
pub fn verify(password: &[u8], field: &str) -> Verdict {
    let hash = field.trim_start_matches('!');
    let Some(scheme) = scheme_of(hash) else {
        return Verdict::NoHash;
    };
    if let Some(r) = shacrypt::explicit_rounds(hash).filter(|&r| r > VERIFY_ROUNDS_MAX)
        && matches!(scheme, Scheme::Sha256 | Scheme::Sha512)
    {
        return Verdict::TooCostly(r);
    }
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
            std::io::Error::from_raw_os_error(
                e.raw_os_error().unwrap_or(crate::sys::Errno::EIO as i32),
            ),
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

/// The exact string glibc's crypt() gives for that setting: `$1$salt`, `$5$salt`, `$6$salt`,
/// or `$5$rounds=N$salt`/`$6$rounds=N$salt` with `N` clamped to 1000..=999999999 (MD5-crypt
/// has no rounds: `rounds` is ignored). The salt ends at a `$` and is cut to 16 characters
/// (8 for MD5), as crypt does.
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
        Some(Scheme::Sha256) => (GenScheme::Sha256, capped(info.rounds)),
        Some(Scheme::Sha512) => (GenScheme::Sha512, capped(info.rounds)),
        _ => (GenScheme::Sha512, None),
    }
}

/// Kept rounds above [`VERIFY_ROUNDS_MAX`] are dropped (the scheme's default then applies).
fn capped(rounds: Option<u32>) -> Option<u32> {
    rounds.filter(|&r| r <= VERIFY_ROUNDS_MAX)
}

/// Samba's NT hash: MD4 over the UTF-16LE password. A password that is not UTF-8 (never
/// accepted on input) is taken as Latin-1, one code unit per byte.
pub fn nt_hash(password: &[u8]) -> [u8; 16] {
    use md4::{Digest, Md4};
    let mut h = Md4::new();
    match std::str::from_utf8(password) {
        Ok(s) => s.encode_utf16().for_each(|u| h.update(u.to_le_bytes())),
        Err(_) => password.iter().for_each(|&b| h.update([b, 0])),
    }
    h.finalize().into()
}

/// The NT hash as 32 upper-case hex digits (smbpasswd's form).
pub fn nt_hash_hex(password: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(32);
    for b in nt_hash(password) {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(scheme: Option<Scheme>, locked: bool, empty: bool) -> HashInfo {
        HashInfo {
            scheme,
            locked,
            empty,
            empty_salt: false,
            rounds: None,
        }
    }

    #[test]
    fn ct_eq_sees_differences_that_cancel_out_under_xor() {
        // b"ab" and b"ba" differ by the same bits in both bytes: OR-ing the differences
        // keeps them, XOR-ing would cancel them out.
        assert!(!ct_eq(b"ab", b"ba"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"ab", b"abc"));
        assert!(ct_eq(b"ab", b"ab"));
    }

    #[test]
    fn verify_computes_exactly_the_round_limit_and_refuses_one_more() {
        let at_limit = format!(
            "$5$rounds={VERIFY_ROUNDS_MAX}$saltsalt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        );
        assert_eq!(verify(b"x", &at_limit), Verdict::Mismatch);
        let above = format!(
            "$5$rounds={}$saltsalt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            VERIFY_ROUNDS_MAX + 1
        );
        assert_eq!(
            verify(b"x", &above),
            Verdict::TooCostly(VERIFY_ROUNDS_MAX + 1)
        );
    }

    #[test]
    fn inspects_no_hash_fields() {
        assert_eq!(inspect(""), info(None, false, true));
        assert_eq!(inspect("*"), info(None, true, false));
        assert_eq!(inspect("!"), info(None, true, false));
        assert_eq!(inspect("!!"), info(None, true, false));
        assert_eq!(inspect("x"), info(None, false, false));
        assert_eq!(inspect("!x"), info(None, true, false));
    }

    #[test]
    fn inspects_schemes() {
        let i = inspect("$1$$CoERg7ynjYLsj2j4glJ34.");
        assert_eq!(
            (i.scheme, i.empty_salt, i.locked, i.empty),
            (Some(Scheme::Md5), true, false, false)
        );
        assert!(!inspect("$1$xxxxxxxx$UYCIxa628.9qXjpQCjM4a.").empty_salt);
        let i = inspect("!$6$rounds=10000$salt$hash");
        assert_eq!(
            (i.scheme, i.locked, i.rounds),
            (Some(Scheme::Sha512), true, Some(10000))
        );
        let i = inspect("!!$1$$CoERg7ynjYLsj2j4glJ34.");
        assert_eq!(
            (i.scheme, i.locked, i.empty_salt),
            (Some(Scheme::Md5), true, true)
        );
        assert_eq!(inspect("$5$rounds=77777$short$x").rounds, Some(77777));
        assert_eq!(inspect("$5$rounds=10$short$x").rounds, Some(1000));
        assert_eq!(inspect("$5$short$x").rounds, None);
        assert_eq!(inspect("$1$rounds=9$x").rounds, None);
        for (field, scheme) in [
            ("$y$j9T$abc$def", Scheme::Yescrypt),
            ("$gy$j9T$abc$def", Scheme::Yescrypt),
            ("$7$CU..../....abc$def", Scheme::Yescrypt),
            ("$2b$10$abcdefghijklmnopqrstuu", Scheme::Bcrypt),
            ("$2a$10$abcdefghijklmnopqrstuu", Scheme::Bcrypt),
            ("$2y$10$abcdefghijklmnopqrstuu", Scheme::Bcrypt),
            ("abJnggxhB/yWI", Scheme::Des),
            ("_J9..CCCCXBrJUJV154M", Scheme::Des),
            ("$9$what", Scheme::Unknown),
            ("$md5$salt$hash", Scheme::Unknown),
            ("abJnggxhB/yW", Scheme::Unknown),
            ("abJnggxhB/yW-", Scheme::Unknown),
            ("*LK*", Scheme::Unknown),
        ] {
            assert_eq!(inspect(field).scheme, Some(scheme), "{field}");
        }
    }

    #[test]
    fn scheme_names_and_serde() {
        for (s, n) in [
            (Scheme::Des, "des"),
            (Scheme::Md5, "md5"),
            (Scheme::Sha256, "sha256"),
            (Scheme::Sha512, "sha512"),
            (Scheme::Bcrypt, "bcrypt"),
            (Scheme::Yescrypt, "yescrypt"),
            (Scheme::Unknown, "unknown"),
        ] {
            assert_eq!(s.name(), n);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{n}\""));
        }
        assert_eq!(serde_json::to_string(&GenScheme::Md5).unwrap(), "\"md5\"");
    }

    #[test]
    fn verifies_every_scheme() {
        let admin = "$1$$CoERg7ynjYLsj2j4glJ34.";
        assert_eq!(verify(b"admin", admin), Verdict::Match);
        assert_eq!(verify(b"admin2", admin), Verdict::Mismatch);
        assert_eq!(verify(b"Admin", admin), Verdict::Mismatch);
        assert_eq!(verify(b"admin", &format!("!{admin}")), Verdict::Match);
        assert_eq!(verify(b"admin", &format!("!!{admin}")), Verdict::Match);
        let sha = "$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/";
        let pw: &[u8] = b"we have a short salt string but not a short password";
        assert_eq!(verify(pw, sha), Verdict::Match);
        assert_eq!(verify(&pw[1..], sha), Verdict::Mismatch);
        // A wrong character in the stored digest, or one character too many, never matches.
        assert_eq!(verify(pw, &sha.replace("Rd/", "Rd.")), Verdict::Mismatch);
        assert_eq!(verify(pw, &format!("{sha}x")), Verdict::Mismatch);
        // glibc writes rounds without leading zeros, so such a string never verifies there.
        assert_eq!(
            verify(pw, &sha.replace("rounds=77777", "rounds=077777")),
            Verdict::Mismatch
        );
        assert_eq!(verify(b"password", "abJnggxhB/yWI"), Verdict::Match);
        assert_eq!(verify(b"passwore", "abJnggxhB/yWI"), Verdict::Mismatch);
        assert_eq!(verify(b"password-longer", "abJnggxhB/yWI"), Verdict::Match);
        assert_eq!(verify(b"U*U*U*U*", "_J9..CCCCXBrJUJV154M"), Verdict::Match);
        assert_eq!(
            verify(b"U*U*U*U*U", "_J9..CCCCXBrJUJV154M"),
            Verdict::Mismatch
        );
        assert_eq!(
            verify(b"x", "$y$j9T$abc$def"),
            Verdict::Unsupported(Scheme::Yescrypt)
        );
        assert_eq!(
            verify(b"x", "$2b$10$abcdefghijklmnopqrstuu"),
            Verdict::Unsupported(Scheme::Bcrypt)
        );
        assert_eq!(
            verify(b"x", "$9$what"),
            Verdict::Unsupported(Scheme::Unknown)
        );
        assert_eq!(
            verify(b"x", "$6$rounds=abc$s$h"),
            Verdict::Unsupported(Scheme::Unknown)
        );
        for none in ["", "*", "!", "!!", "x"] {
            assert_eq!(verify(b"x", none), Verdict::NoHash, "{none:?}");
            assert_eq!(verify(b"", none), Verdict::NoHash, "{none:?}");
        }
    }

    #[test]
    fn nt_hashes() {
        // The well-known NT hashes of "password", "admin" and the empty password.
        assert_eq!(nt_hash_hex(b"password"), "8846F7EAEE8FB117AD06BDD830B7586C");
        assert_eq!(nt_hash_hex(b"admin"), "209C6174DA490CAEB422F3FA5A7AE634");
        assert_eq!(nt_hash_hex(b""), "31D6CFE0D16AE931B73C59D7E0C089C0");
        assert_eq!(nt_hash(b"password")[0], 0x88);
        // Non-ASCII is UTF-16LE of the UTF-8 text, not byte-per-unit.
        assert_ne!(nt_hash("\u{e9}".as_bytes()), nt_hash(b"\xc3\xa9\x00"));
        assert_eq!(nt_hash("\u{e9}".as_bytes()), nt_hash(b"\xe9"));
    }

    #[test]
    fn generates() {
        for scheme in [GenScheme::Sha512, GenScheme::Sha256, GenScheme::Md5] {
            let h = generate(b"s3cret", scheme, None).unwrap();
            assert_eq!(verify(b"s3cret", &h), Verdict::Match, "{h}");
            assert_eq!(verify(b"s3cres", &h), Verdict::Mismatch, "{h}");
            let salt = h[3..].split('$').next().unwrap();
            let want_len = if scheme == GenScheme::Md5 { 8 } else { 16 };
            assert_eq!(salt.len(), want_len, "{h}");
            assert!(salt.bytes().all(|b| SALT_CHARS.contains(&b)), "{h}");
            assert!(!h.contains("rounds="), "{h}");
            assert_ne!(
                h,
                generate(b"s3cret", scheme, None).unwrap(),
                "fresh salt each time"
            );
        }
        let h = generate(b"pw", GenScheme::Sha256, Some(1234)).unwrap();
        assert!(h.starts_with("$5$rounds=1234$"));
        assert_eq!(verify(b"pw", &h), Verdict::Match);
    }

    #[test]
    fn generate_with_salt_matches_crypt() {
        assert_eq!(
            generate_with_salt(b"admin", GenScheme::Md5, "", None),
            "$1$$CoERg7ynjYLsj2j4glJ34."
        );
        assert_eq!(
            generate_with_salt(b"password", GenScheme::Md5, "xxxxxxxx", Some(9000)),
            "$1$xxxxxxxx$UYCIxa628.9qXjpQCjM4a.",
            "MD5-crypt has no rounds"
        );
        assert_eq!(
            generate_with_salt(b"Hello world!", GenScheme::Sha512, "saltstring", None),
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        );
        assert_eq!(
            generate_with_salt(
                b"the minimum number is still observed",
                GenScheme::Sha256,
                "roundstoolow",
                Some(10)
            ),
            "$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC"
        );
        assert_eq!(
            generate_with_salt(
                b"Hello world!",
                GenScheme::Sha256,
                "saltstringsaltstring",
                Some(10000)
            ),
            "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"
        );
        // A salt with '$' ends there; a non-ASCII one is cut without panicking.
        assert_eq!(
            generate_with_salt(b"admin", GenScheme::Md5, "$junk", None),
            "$1$$CoERg7ynjYLsj2j4glJ34."
        );
        let h = generate_with_salt(b"x", GenScheme::Md5, "abcdefg\u{e9}", None);
        assert!(h.starts_with("$1$abcdefg$"), "{h}");
    }

    #[test]
    fn keeps_family() {
        let k = |f: &str| keep_family(&inspect(f));
        assert_eq!(k("$1$$CoERg7ynjYLsj2j4glJ34."), (GenScheme::Md5, None));
        assert_eq!(k("$5$salt$x"), (GenScheme::Sha256, None));
        assert_eq!(k("$5$rounds=1234$salt$x"), (GenScheme::Sha256, Some(1234)));
        assert_eq!(k("!$6$rounds=77777$s$x"), (GenScheme::Sha512, Some(77777)));
        assert_eq!(k("$6$rounds=999999999$s$x"), (GenScheme::Sha512, None));
        assert_eq!(
            verify(b"x", "$6$rounds=999999999$s$x"),
            Verdict::TooCostly(999_999_999)
        );
        assert_eq!(k("$6$salt$x"), (GenScheme::Sha512, None));
        for other in [
            "abJnggxhB/yWI",
            "_J9..CCCCXBrJUJV154M",
            "$2b$10$abcdefghijklmnopqrstuu",
            "$y$j9T$abc$def",
            "$9$x",
            "",
            "*",
            "!!",
        ] {
            assert_eq!(k(other), (GenScheme::Sha512, None), "{other}");
        }
    }
}
