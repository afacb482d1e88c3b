//! SHA-256/512-crypt strings around the `sha-crypt` crate's digest functions: parsing of
//! the setting (`$5$`/`$6$`, optional `rounds=N$`, salt up to 16 characters), glibc's
//! clamping of rounds, and the output encoding.

use sha_crypt::Params;
use zeroize::Zeroizing;

use super::b64;

const DEFAULT_ROUNDS: u32 = 5000;
const ROUNDS_MIN: u32 = 1000;
const ROUNDS_MAX: u32 = 999_999_999;

/// The value of a `rounds=` field as glibc reads it (decimal digits, saturating like
/// `strtoul`), clamped to 1000..=999999999; `None` if it is not all digits.
fn parse_rounds(digits: &str) -> Option<u32> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = digits.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    });
    Some(n.clamp(u64::from(ROUNDS_MIN), u64::from(ROUNDS_MAX)) as u32)
}

/// The explicit `rounds=` of a `$5$`/`$6$` string, as the hash was computed with it
/// (clamped to 1000..=999999999 like glibc).
pub fn explicit_rounds(hash: &str) -> Option<u32> {
    let rest = hash.get(3..)?.strip_prefix("rounds=")?;
    parse_rounds(rest.split_once('$')?.0)
}

/// Compute the full hash string for `setting` (`$5$`/`$6$`, optional `rounds=N$`, salt up to
/// 16 characters ending at `$`); `None` if it is not SHA-crypt or the rounds are malformed.
pub fn hash_setting(password: &[u8], setting: &str) -> Option<Zeroizing<String>> {
    let (sha512, rest) = if let Some(r) = setting.strip_prefix("$6$") {
        (true, r)
    } else {
        (false, setting.strip_prefix("$5$")?)
    };
    let (rounds, rest, explicit) = match rest.strip_prefix("rounds=") {
        Some(r) => {
            let (n, after) = r.split_once('$')?;
            (parse_rounds(n)?, after, true)
        }
        None => (DEFAULT_ROUNDS, rest, false),
    };
    let salt = super::cut_salt(rest.split('$').next().unwrap_or(""), 16);
    let params = Params::new(rounds).ok()?;
    let mut out = Zeroizing::new(String::with_capacity(120));
    out.push_str(if sha512 { "$6$" } else { "$5$" });
    if explicit {
        out.push_str("rounds=");
        out.push_str(&rounds.to_string());
        out.push('$');
    }
    out.push_str(salt);
    out.push('$');
    if sha512 {
        let d = Zeroizing::new(sha_crypt::sha512_crypt(password, salt.as_bytes(), params));
        out.push_str(&b64::encode(&d[..], &SHA512_ORDER));
    } else {
        let d = Zeroizing::new(sha_crypt::sha256_crypt(password, salt.as_bytes(), params));
        out.push_str(&b64::encode(&d[..], &SHA256_ORDER));
    }
    Some(out)
}

type Group = (Option<usize>, Option<usize>, usize, usize);

const SHA256_ORDER: [Group; 11] = [
    (Some(0), Some(10), 20, 4),
    (Some(21), Some(1), 11, 4),
    (Some(12), Some(22), 2, 4),
    (Some(3), Some(13), 23, 4),
    (Some(24), Some(4), 14, 4),
    (Some(15), Some(25), 5, 4),
    (Some(6), Some(16), 26, 4),
    (Some(27), Some(7), 17, 4),
    (Some(18), Some(28), 8, 4),
    (Some(9), Some(19), 29, 4),
    (None, Some(31), 30, 3),
];

const SHA512_ORDER: [Group; 22] = [
    (Some(0), Some(21), 42, 4),
    (Some(22), Some(43), 1, 4),
    (Some(44), Some(2), 23, 4),
    (Some(3), Some(24), 45, 4),
    (Some(25), Some(46), 4, 4),
    (Some(47), Some(5), 26, 4),
    (Some(6), Some(27), 48, 4),
    (Some(28), Some(49), 7, 4),
    (Some(50), Some(8), 29, 4),
    (Some(9), Some(30), 51, 4),
    (Some(31), Some(52), 10, 4),
    (Some(53), Some(11), 32, 4),
    (Some(12), Some(33), 54, 4),
    (Some(34), Some(55), 13, 4),
    (Some(56), Some(14), 35, 4),
    (Some(15), Some(36), 57, 4),
    (Some(37), Some(58), 16, 4),
    (Some(59), Some(17), 38, 4),
    (Some(18), Some(39), 60, 4),
    (Some(40), Some(61), 19, 4),
    (Some(62), Some(20), 41, 4),
    (None, None, 63, 2),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cases: &[(&str, &str, &str)]) {
        for &(setting, pw, want) in cases {
            let got = hash_setting(pw.as_bytes(), setting).unwrap();
            assert_eq!(got.as_str(), want, "{setting}");
            // The full string is also a valid setting that reproduces itself.
            assert_eq!(hash_setting(pw.as_bytes(), want).unwrap().as_str(), want);
        }
    }

    // The test vectors of Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512"
    // (rounds=10 is clamped to 1000 as the specification and glibc do; libxcrypt rejects it).
    #[test]
    fn drepper_sha256_vectors() {
        check(&[
            (
                "$5$saltstring",
                "Hello world!",
                "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
            ),
            (
                "$5$rounds=10000$saltstringsaltstring",
                "Hello world!",
                "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA",
            ),
            (
                "$5$rounds=5000$toolongsaltstring",
                "This is just a test",
                "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5",
            ),
            (
                "$5$rounds=1400$anotherlongsaltstring",
                "a very much longer text to encrypt.  This one even stretches over morethan one line.",
                "$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1",
            ),
            (
                "$5$rounds=77777$short",
                "we have a short salt string but not a short password",
                "$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/",
            ),
            (
                "$5$rounds=123456$asaltof16chars..",
                "a short string",
                "$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD",
            ),
            (
                "$5$rounds=10$roundstoolow",
                "the minimum number is still observed",
                "$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC",
            ),
        ]);
    }

    #[test]
    fn drepper_sha512_vectors() {
        check(&[
            (
                "$6$saltstring",
                "Hello world!",
                "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
            ),
            (
                "$6$rounds=10000$saltstringsaltstring",
                "Hello world!",
                "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
            ),
            (
                "$6$rounds=5000$toolongsaltstring",
                "This is just a test",
                "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0",
            ),
            (
                "$6$rounds=1400$anotherlongsaltstring",
                "a very much longer text to encrypt.  This one even stretches over morethan one line.",
                "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1",
            ),
            (
                "$6$rounds=77777$short",
                "we have a short salt string but not a short password",
                "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0",
            ),
            (
                "$6$rounds=123456$asaltof16chars..",
                "a short string",
                "$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1",
            ),
            (
                "$6$rounds=10$roundstoolow",
                "the minimum number is still observed",
                "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.",
            ),
        ]);
    }

    #[test]
    fn rounds_field() {
        assert_eq!(explicit_rounds("$6$rounds=77777$short$"), Some(77777));
        assert_eq!(explicit_rounds("$5$rounds=5000$s$h"), Some(5000));
        assert_eq!(explicit_rounds("$6$rounds=10$s$h"), Some(1000));
        assert_eq!(
            explicit_rounds("$6$rounds=99999999999999999999999$s$h"),
            Some(999_999_999)
        );
        assert_eq!(explicit_rounds("$6$short$x"), None);
        assert_eq!(explicit_rounds("$6$rounds=$s$h"), None);
        assert_eq!(explicit_rounds("$6$rounds=12a$s$h"), None);
        assert_eq!(explicit_rounds("$6$rounds=-5$s$h"), None);
        assert_eq!(explicit_rounds("$6$rounds=5000"), None);
        // An explicit default is written back explicitly; leading zeros are not kept.
        let h = hash_setting(b"pw", "$5$rounds=5000$salt").unwrap();
        assert!(h.starts_with("$5$rounds=5000$salt$"), "{}", h.as_str());
        let h0 = hash_setting(b"pw", "$5$rounds=05000$salt").unwrap();
        assert_eq!(h.as_str(), h0.as_str());
        assert_ne!(
            hash_setting(b"pw", "$5$salt").unwrap()[..],
            h[..],
            "implicit and explicit rounds differ in the string"
        );
        assert!(hash_setting(b"pw", "$6$rounds=x$salt").is_none());
        assert!(hash_setting(b"pw", "$6$rounds=1000").is_none());
        assert!(hash_setting(b"pw", "$1$salt").is_none());
    }

    #[test]
    fn salt_edges() {
        // Empty salt, salt ending at '$', and a stored hash used as the setting.
        let e = hash_setting(b"pw", "$6$").unwrap();
        assert!(e.starts_with("$6$$"), "{}", e.as_str());
        assert_eq!(hash_setting(b"pw", "$6$$").unwrap().as_str(), e.as_str());
        let a = hash_setting(b"pw", "$5$abc$whatever").unwrap();
        assert_eq!(hash_setting(b"pw", "$5$abc").unwrap().as_str(), a.as_str());
        // Non-ASCII salt: cut on a character boundary, never a panic.
        let u = hash_setting(b"pw", "$6$abcdefghijklmno\u{e9}x").unwrap();
        assert!(u.starts_with("$6$abcdefghijklmno$"), "{}", u.as_str());
    }
}
