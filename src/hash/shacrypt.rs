//! SHA-256/512-crypt strings around the `sha-crypt` crate's digest functions: parsing of
//! the setting (`$5$`/`$6$`, optional `rounds=N$`, salt up to 16 characters), glibc's
//! clamping of rounds, and the output encoding.

use sha_crypt::Params;
use zeroize::Zeroizing;

use super::b64;

const DEFAULT_ROUNDS: u32 = 5000;

/// The explicit `rounds=` of a `$5$`/`$6$` string.
pub fn explicit_rounds(hash: &str) -> Option<u32> {
    let rest = hash.get(3..)?;
    rest.strip_prefix("rounds=")?
        .split('$')
        .next()?
        .parse()
        .ok()
}

/// Compute the full hash string for `setting`; `None` if it is not `$5$`/`$6$` or malformed.
pub fn hash_setting(password: &[u8], setting: &str) -> Option<Zeroizing<String>> {
    let (sha512, rest) = if let Some(r) = setting.strip_prefix("$6$") {
        (true, r)
    } else {
        (false, setting.strip_prefix("$5$")?)
    };
    let (rounds, rest, explicit) = match rest.strip_prefix("rounds=") {
        Some(r) => {
            let (n, after) = r.split_once('$')?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u64 = n.parse().ok()?;
            (n.clamp(1000, 999_999_999) as u32, after, true)
        }
        None => (DEFAULT_ROUNDS, rest, false),
    };
    let salt_end = rest.find('$').unwrap_or(rest.len()).min(16);
    let salt = &rest.as_bytes()[..salt_end];
    let params = Params::new(rounds).ok()?;
    let mut out = Zeroizing::new(String::with_capacity(120));
    out.push_str(if sha512 { "$6$" } else { "$5$" });
    if explicit {
        out.push_str(&format!("rounds={rounds}$"));
    }
    out.push_str(std::str::from_utf8(salt).ok()?);
    out.push('$');
    if sha512 {
        let d = Zeroizing::new(sha_crypt::sha512_crypt(password, salt, params));
        out.push_str(&b64::encode(&d[..], &SHA512_ORDER));
    } else {
        let d = Zeroizing::new(sha_crypt::sha256_crypt(password, salt, params));
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

    // Vectors of Ulrich Drepper's SHA-crypt specification, as glibc/libxcrypt compute them
    // (rounds=10 is clamped to 1000 by the specification; libxcrypt rejects it instead).
    #[test]
    fn drepper_vectors() {
        let cases = [
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
                "$5$rounds=10$roundstoolow",
                "the minimum number is still observed",
                "$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC",
            ),
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
                "$6$rounds=1400$anotherlongsaltstring",
                "a very much longer text to encrypt.  This one even stretches over morethan one line.",
                "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1",
            ),
        ];
        for (setting, pw, want) in cases {
            assert_eq!(
                hash_setting(pw.as_bytes(), setting).unwrap().as_str(),
                want,
                "{setting}"
            );
        }
        assert_eq!(explicit_rounds("$6$rounds=77777$short$"), Some(77777));
        assert_eq!(explicit_rounds("$6$short$x"), None);
    }
}
