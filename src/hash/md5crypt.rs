//! MD5-crypt (`$1$`, Poul-Henning Kamp's FreeBSD algorithm, also glibc's), hand-written on
//! the `md-5` crate. Salts are up to 8 characters, ending at `$`; an empty salt (`$1$$…`,
//! as QNAP firmware writes) is valid.

use md5::{Digest, Md5};
use zeroize::Zeroizing;

use super::b64;

/// Compute the full hash string for `setting` (`$1$salt[$…]`); `None` if it is not `$1$`.
pub fn hash_setting(password: &[u8], setting: &str) -> Option<Zeroizing<String>> {
    let rest = setting.strip_prefix("$1$")?;
    let salt = super::cut_salt(rest.split('$').next().unwrap_or(""), 8);
    let digest = md5crypt(password, salt.as_bytes());
    let groups = [
        (Some(0), Some(6), 12, 4),
        (Some(1), Some(7), 13, 4),
        (Some(2), Some(8), 14, 4),
        (Some(3), Some(9), 15, 4),
        (Some(4), Some(10), 5, 4),
        (None, None, 11, 2),
    ];
    let mut out = Zeroizing::new(String::with_capacity(34));
    out.push_str("$1$");
    out.push_str(salt);
    out.push('$');
    out.push_str(&b64::encode(&digest[..], &groups));
    Some(out)
}

fn md5crypt(pw: &[u8], salt: &[u8]) -> Zeroizing<[u8; 16]> {
    let mut alt = Md5::new();
    alt.update(pw);
    alt.update(salt);
    alt.update(pw);
    let alt: Zeroizing<[u8; 16]> = Zeroizing::new(alt.finalize().into());

    let mut ctx = Md5::new();
    ctx.update(pw);
    ctx.update(b"$1$");
    ctx.update(salt);
    let mut n = pw.len();
    while n > 0 {
        let k = n.min(16);
        ctx.update(&alt[..k]);
        n -= k;
    }
    let mut i = pw.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&pw[..1]);
        }
        i >>= 1;
    }
    let mut fin: Zeroizing<[u8; 16]> = Zeroizing::new(ctx.finalize().into());
    if 2 * pw.len() + salt.len() + 16 + 9 <= ROUND_BUF {
        rounds_direct(pw, salt, &mut fin);
    } else {
        rounds_hasher(pw, salt, &mut fin);
    }
    fin
}

/// The 1000 rounds: round `r` hashes `fin|pw`, then `salt` unless `r % 3 == 0`, then `pw`
/// unless `r % 7 == 0`, then `pw|fin` (`pw` first on odd rounds).
fn round_message(r: u32, pw: &[u8], salt: &[u8], fin: &[u8; 16], mut push: impl FnMut(&[u8])) {
    push(if r & 1 == 1 { pw } else { &fin[..] });
    if r % 3 != 0 {
        push(salt);
    }
    if r % 7 != 0 {
        push(pw);
    }
    push(if r & 1 == 1 { &fin[..] } else { pw });
}

/// Rounds through the `Digest` interface: any password length.
fn rounds_hasher(pw: &[u8], salt: &[u8], fin: &mut [u8; 16]) {
    for r in 0..1000 {
        let mut c = Md5::new();
        round_message(r, pw, salt, fin, |part| c.update(part));
        *fin = c.finalize().into();
    }
}

/// Room for one round's message and its MD5 padding, on the stack.
const ROUND_BUF: usize = 4 * 64;

/// Rounds with the message laid out and padded in a stack buffer and fed straight to the
/// MD5 compression function: the same bytes as [`rounds_hasher`] without the streaming
/// hasher's bookkeeping, which costs more than the compression for short messages. Used
/// whenever the message fits (passwords up to about 100 bytes; QTS allows 64).
fn rounds_direct(pw: &[u8], salt: &[u8], fin: &mut [u8; 16]) {
    const IV: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let mut blocks_buf = Zeroizing::new([[0u8; 64]; ROUND_BUF / 64]);
    let mut state = Zeroizing::new(IV);
    for r in 0..1000 {
        let buf = blocks_buf.as_flattened_mut();
        let mut len = 0;
        round_message(r, pw, salt, fin, |part| {
            buf[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        });
        // Padding (RFC 1321): 0x80, zeros up to 56 mod 64, the bit length little-endian.
        let blocks = (len + 9).div_ceil(64);
        buf[len] = 0x80;
        buf[len + 1..blocks * 64 - 8].fill(0);
        buf[blocks * 64 - 8..blocks * 64].copy_from_slice(&((len as u64) * 8).to_le_bytes());
        *state = IV;
        md5::block_api::compress(&mut state, &blocks_buf[..blocks]);
        for (out, word) in fin.chunks_exact_mut(4).zip(state.iter()) {
            out.copy_from_slice(&word.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_vectors() {
        for (pw, setting, want) in [
            // `openssl passwd -1 -salt '' admin`: the QNAP firmware default.
            ("admin", "$1$$", "$1$$CoERg7ynjYLsj2j4glJ34."),
            // The example of OpenSSL's passwd(1) manual.
            (
                "password",
                "$1$xxxxxxxx",
                "$1$xxxxxxxx$UYCIxa628.9qXjpQCjM4a.",
            ),
            // Salts stop at 8 characters (libxcrypt's output).
            ("x", "$1$abcdefghijk", "$1$abcdefgh$znAnv9M.XU2pRYfmSs46h/"),
        ] {
            assert_eq!(hash_setting(pw.as_bytes(), setting).unwrap().as_str(), want);
            assert_eq!(hash_setting(pw.as_bytes(), want).unwrap().as_str(), want);
        }
    }

    #[test]
    fn settings() {
        assert!(hash_setting(b"x", "$5$abc").is_none());
        let h = hash_setting(b"", "$1$").unwrap();
        assert!(h.starts_with("$1$$") && h.len() == 26, "{}", h.as_str());
        let long = [b'a'; 100];
        let h = hash_setting(&long, "$1$salt$").unwrap();
        assert!(h.starts_with("$1$salt$") && h.len() == 30);
        assert_ne!(hash_setting(&long[..99], "$1$salt").unwrap()[..], h[..]);
    }

    /// Which rounds run is decided by whether a round's padded message fits the stack buffer:
    /// every password length, on both sides of that limit and far past it, hashes (a wrong
    /// limit overruns the buffer and panics).
    #[test]
    fn every_password_length_hashes_on_the_right_side_of_the_buffer_limit() {
        let pw: Vec<u8> = (0..=255u8).map(|i| b'!' + i % 90).collect();
        for n in 0..=pw.len() {
            for salt in [&b""[..], b"ab", b"abcdefgh"] {
                let digest = md5crypt(&pw[..n], salt);
                assert_eq!(digest.len(), 16, "password of {n} bytes, salt {salt:?}");
            }
        }
    }

    /// The stack-buffer rounds and the streaming-hasher rounds agree for every message
    /// length up to the buffer's limit (all padding cases: 1, 2, 3 and 4 blocks).
    #[test]
    fn direct_rounds_match_hasher() {
        let pw: Vec<u8> = (0..120u8).map(|i| b' ' + i % 95).collect();
        for n in 0..=111 {
            for salt in [&b""[..], b"ab", b"abcdefgh"] {
                if 2 * n + salt.len() + 16 + 9 > ROUND_BUF {
                    continue;
                }
                let mut a = [n as u8; 16];
                let mut b = a;
                rounds_direct(&pw[..n], salt, &mut a);
                rounds_hasher(&pw[..n], salt, &mut b);
                assert_eq!(a, b, "password of {n} bytes, salt {salt:?}");
            }
        }
    }
}
