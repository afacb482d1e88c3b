//! DES-based crypt(3): the traditional form (2 salt characters, 11 of hash, the first 8
//! password characters) and BSDi's extended form (`_`, 4 characters of iteration count,
//! 4 of salt, 11 of hash, the whole password folded into the key). Only verified: old
//! firmware or hand-made accounts may still carry them; qrescue never writes them.
//!
//! Written from FIPS 46-3. crypt's twists on plain DES: the key is the password characters
//! shifted left one bit (parity bits ignored); each set bit of the salt swaps two outputs of
//! the E expansion (bit `i` with bit `i + 24`); the all-zero block is encrypted 25 times
//! (or `count` times) in a row, with no initial/final permutation between the iterations
//! since they cancel out.
//!
//! Speed: the S-boxes and P are folded at compile time into eight 64-entry tables of
//! 32-bit words, so a round is eight rotates, one masked swap for the salt and eight
//! lookups; the bit-by-bit permutation only runs for the key schedule and once at each end.

use zeroize::Zeroizing;

const ITOA64: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn a64(c: u8) -> Option<u32> {
    match c {
        b'.' | b'/' => Some(u32::from(c - b'.')),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 2),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 12),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 38),
        _ => None,
    }
}

fn all_a64(s: &[u8]) -> bool {
    s.iter().all(|&b| a64(b).is_some())
}

/// A traditional (13 characters) or BSDi extended (`_` and 19 characters) DES hash.
pub fn looks_like(hash: &str) -> bool {
    let b = hash.as_bytes();
    match b.first() {
        Some(b'_') => b.len() == 20 && all_a64(&b[1..]),
        _ => b.len() == 13 && all_a64(b),
    }
}

const IP: [u8; 64] = [
    58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6,
    64, 56, 48, 40, 32, 24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, 61,
    53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];
const FP: [u8; 64] = [
    40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31, 38, 6, 46, 14, 54, 22, 62, 30,
    37, 5, 45, 13, 53, 21, 61, 29, 36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
    34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
];
#[cfg(test)]
const E: [u8; 48] = [
    32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17, 16, 17, 18,
    19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
];
const P: [u8; 32] = [
    16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19,
    13, 30, 6, 22, 11, 4, 25,
];
const PC1: [u8; 56] = [
    57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60,
    52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29,
    21, 13, 5, 28, 20, 12, 4,
];
const PC2: [u8; 48] = [
    14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41, 52,
    31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];
const SHIFTS: [u32; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];
const S: [[u8; 64]; 8] = [
    [
        14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12,
        11, 9, 5, 3, 8, 4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2, 4, 9,
        1, 7, 5, 11, 3, 14, 10, 0, 6, 13,
    ],
    [
        15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1,
        10, 6, 9, 11, 5, 0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1, 3, 15,
        4, 2, 11, 6, 7, 12, 0, 5, 14, 9,
    ],
    [
        10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5,
        14, 12, 11, 15, 1, 13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13, 0, 6,
        9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12,
    ],
    [
        7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2,
        12, 1, 10, 14, 9, 10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6, 10, 1,
        13, 8, 9, 4, 5, 11, 12, 7, 2, 14,
    ],
    [
        2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15,
        10, 3, 9, 8, 6, 4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7, 1, 14,
        2, 13, 6, 15, 0, 9, 10, 4, 5, 3,
    ],
    [
        12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13,
        14, 0, 11, 3, 8, 9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12, 9, 5,
        15, 10, 11, 14, 1, 7, 6, 0, 8, 13,
    ],
    [
        4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5,
        12, 2, 15, 8, 6, 1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8, 1, 4,
        10, 7, 9, 5, 0, 15, 14, 2, 3, 12,
    ],
    [
        13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6,
        11, 0, 14, 9, 2, 7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7, 4, 10,
        8, 13, 15, 12, 9, 0, 3, 5, 6, 11,
    ],
];

/// Permute: output bit k (from the MSB of a `table.len()`-bit value) is input bit
/// `table[k]` (1-based from the MSB of a `width`-bit value).
fn permute(input: u64, width: u32, table: &[u8]) -> u64 {
    let out = table.len() as u32;
    let mut r = 0u64;
    for (k, &pos) in table.iter().enumerate() {
        let bit = (input >> (width - u32::from(pos))) & 1;
        r |= bit << (out - 1 - k as u32);
    }
    r
}

/// S-box `i` followed by P, for each 6-bit input: `SP[i][v]` is the 32-bit contribution
/// of S-box `i` to f's output.
const SP: [[u32; 64]; 8] = {
    let mut sp = [[0u32; 64]; 8];
    let mut i = 0;
    while i < 8 {
        let mut v = 0;
        while v < 64 {
            let row = ((v & 0x20) >> 4) | (v & 1);
            let col = (v >> 1) & 0xf;
            let s = (S[i][row * 16 + col] as u32) << (28 - 4 * i);
            let mut out = 0u32;
            let mut k = 0;
            while k < 32 {
                let bit = (s >> (32 - P[k] as u32)) & 1;
                out |= bit << (31 - k);
                k += 1;
            }
            sp[i][v] = out;
            v += 1;
        }
        i += 1;
    }
    sp
};

/// The 16 round keys, each as the two 24-bit halves of its 48 bits (high half first), the
/// layout of the E expansion below.
struct Schedule(Zeroizing<[(u32, u32); 16]>);

impl Schedule {
    fn new(key: u64) -> Self {
        let cd = Zeroizing::new(permute(key, 64, &PC1));
        let (mut c, mut d) = (*cd >> 28, *cd & 0x0fff_ffff);
        let mut ks = Zeroizing::new([(0u32, 0u32); 16]);
        for (slot, &s) in ks.iter_mut().zip(&SHIFTS) {
            c = ((c << s) | (c >> (28 - s))) & 0x0fff_ffff;
            d = ((d << s) | (d >> (28 - s))) & 0x0fff_ffff;
            let k = permute((c << 28) | d, 56, &PC2);
            *slot = ((k >> 24) as u32, (k & 0xff_ffff) as u32);
        }
        Schedule(ks)
    }

    /// Run `count` DES encryptions from the halves `(l, r)` (already through IP), with the
    /// salt swapping E-expansion bits; returns the pre-output `R16 || L16` of the last one.
    fn encrypt(&self, mut l: u32, mut r: u32, saltbits: u32, count: u32) -> u64 {
        for _ in 0..count {
            for &(k0, k1) in self.0.iter() {
                let f = f(r, k0, k1, saltbits);
                (l, r) = (r, l ^ f);
            }
            // The next encryption's IP undoes this one's FP: just swap the halves.
            (l, r) = (r, l);
        }
        (u64::from(l) << 32) | u64::from(r)
    }
}

/// The round function: E expansion (salted), key mixing, S-boxes and P.
#[inline(always)]
fn f(r: u32, k0: u32, k1: u32, saltbits: u32) -> u32 {
    // E: group g (6 bits) is R's bits 4g..4g+5 (1-based from the MSB, cyclic, bit 0 = 32).
    let g = |n: u32| r.rotate_left(n) & 0x3f;
    let mut e0 = (g(5) << 18) | (g(9) << 12) | (g(13) << 6) | g(17);
    let mut e1 = (g(21) << 18) | (g(25) << 12) | (g(29) << 6) | g(1);
    let t = (e0 ^ e1) & saltbits;
    e0 ^= t ^ k0;
    e1 ^= t ^ k1;
    SP[0][(e0 >> 18) as usize]
        | SP[1][((e0 >> 12) & 0x3f) as usize]
        | SP[2][((e0 >> 6) & 0x3f) as usize]
        | SP[3][(e0 & 0x3f) as usize]
        | SP[4][(e1 >> 18) as usize]
        | SP[5][((e1 >> 12) & 0x3f) as usize]
        | SP[6][((e1 >> 6) & 0x3f) as usize]
        | SP[7][(e1 & 0x3f) as usize]
}

/// Salt bit `i` (from the least significant) swaps E bits `i` and `i + 24`: in the 24-bit
/// halves that is bit `23 - i` from the least significant.
fn saltbits(salt: u32) -> u32 {
    (salt & 0xff_ffff).reverse_bits() >> 8
}

/// Up to 8 password bytes shifted left one bit, big-endian; the rest of the password.
fn key_block(password: &[u8]) -> (u64, &[u8]) {
    let n = password.len().min(8);
    let mut key = 0u64;
    for i in 0..8 {
        let c = password.get(i).copied().unwrap_or(0);
        key = (key << 8) | u64::from(c << 1);
    }
    (key, &password[n..])
}

/// Value of `n` crypt-base64 characters, least significant first.
fn decode_le(s: &[u8]) -> Option<u32> {
    s.iter()
        .rev()
        .try_fold(0u32, |acc, &c| Some((acc << 6) | a64(c)?))
}

/// Compute the hash string for `setting` (2 salt characters, or BSDi's 9-character
/// `_CCCCSSSS`); `None` for a malformed setting.
pub fn hash_setting(password: &[u8], setting: &str) -> Option<Zeroizing<String>> {
    let sb = setting.as_bytes();
    let (prefix_len, block) = if sb.first() == Some(&b'_') {
        let count = decode_le(sb.get(1..5)?)?;
        let salt = decode_le(sb.get(5..9)?)?;
        if count == 0 {
            return None;
        }
        let (first, mut rest) = key_block(password);
        let mut key = Zeroizing::new(first);
        // Fold longer passwords in: encrypt the key with itself (salt 0, one iteration,
        // with IP and FP), then XOR the next 8 characters in.
        while !rest.is_empty() {
            let ks = Schedule::new(*key);
            let ip = Zeroizing::new(permute(*key, 64, &IP));
            let pre = Zeroizing::new(ks.encrypt((*ip >> 32) as u32, *ip as u32, 0, 1));
            let (next, tail) = key_block(rest);
            *key = permute(*pre, 64, &FP) ^ next;
            rest = tail;
        }
        let ks = Schedule::new(*key);
        (9, ks.encrypt(0, 0, saltbits(salt), count))
    } else {
        let salt = a64(*sb.first()?)? | (a64(*sb.get(1)?)? << 6);
        let key = Zeroizing::new(key_block(password).0);
        let ks = Schedule::new(*key);
        (2, ks.encrypt(0, 0, saltbits(salt), 25))
    };
    let block = permute(block, 64, &FP);
    let mut out = Zeroizing::new(String::with_capacity(prefix_len + 11));
    out.push_str(setting.get(..prefix_len)?);
    for i in 0..11u32 {
        // 66 bits: the 64 of the block and two zero bits, 6 at a time from the top.
        let v = if i < 10 {
            block >> (58 - 6 * i)
        } else {
            block << 2
        };
        out.push(ITOA64[(v & 0x3f) as usize] as char);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cases: &[(&str, &str)]) {
        for &(pw, want) in cases {
            let setting = if want.starts_with('_') {
                &want[..9]
            } else {
                &want[..2]
            };
            let got = hash_setting(pw.as_bytes(), setting).unwrap();
            assert_eq!(got.as_str(), want, "{pw:?}");
            assert_eq!(hash_setting(pw.as_bytes(), want).unwrap().as_str(), want);
            assert!(looks_like(want));
        }
    }

    // Traditional DES: OpenSSL's `passwd -crypt` example and the vectors Openwall's
    // crypt_blowfish wrapper tests against (all reproduced by libxcrypt here).
    #[test]
    fn traditional_vectors() {
        check(&[
            ("password", "xxj31ZMTZzkVA"),
            ("password", "abJnggxhB/yWI"),
            ("U*U*U*U*", "CCNf8Sbh3HDfQ"),
            ("U*U***U", "CCX.K.MFy4Ois"),
            ("U*U***U*", "CC4rMpbg9AMZ."),
            ("*U*U*U*U", "XXxzOu6maQKqQ"),
            ("", "SDbsugeBiC58A"),
            // Only the first 8 characters count.
            ("*U*U*U*Uanything", "XXxzOu6maQKqQ"),
        ]);
    }

    #[test]
    fn bsdi_vectors() {
        check(&[
            ("U*U*U*U*", "_J9..CCCCXBrJUJV154M"),
            ("U*U***U", "_J9..CCCCXUhOBTXzaiE"),
            ("U*U***U*", "_J9..CCCC4gQ.mB/PffM"),
            ("*U*U*U*U", "_J9..XXXXvlzQGqpPPdk"),
            ("*U*U*U*U*", "_J9..XXXXsqM/YSSP..Y"),
            ("*U*U*U*U*U*U*U*U", "_J9..XXXXVL7qJCnku0I"),
            ("*U*U*U*U*U*U*U*U*", "_J9..XXXXAj8cFbP5scI"),
            ("ab1234567", "_J9..SDizh.vll5VED9g"),
            ("cr1234567", "_J9..SDizRjWQ/zePPHc"),
            ("zxyDPWgydbQjgq", "_J9..SDizxmRI1GjnQuE"),
            ("726 even", "_K9..SaltNrQgIYUAeoY"),
            ("", "_J9..SDSD5YGyRCr4W4c"),
        ]);
    }

    #[test]
    fn malformed_settings() {
        assert!(hash_setting(b"pw", "a").is_none());
        assert!(hash_setting(b"pw", "a!").is_none());
        assert!(hash_setting(b"pw", "_J9..CCC").is_none());
        assert!(hash_setting(b"pw", "_....CCCC").is_none(), "count 0");
        assert!(!looks_like("abJnggxhB/yW"));
        assert!(!looks_like("abJnggxhB/yW:"));
        assert!(!looks_like("_J9..CCCCXBrJUJV154"));
    }

    /// The rotate-and-mask E expansion and the folded S/P tables agree with the bit-level
    /// FIPS tables.
    #[test]
    fn fast_round_matches_tables() {
        let mut x = 0x9e37_79b9_u32;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let r = x;
            let e = permute(u64::from(r), 32, &E);
            let k = (u64::from(x.rotate_left(7)) << 16) ^ u64::from(x);
            let k = k & 0xffff_ffff_ffff;
            let mut s_out = 0u64;
            for (i, sbox) in S.iter().enumerate() {
                let six = ((e ^ k) >> (42 - 6 * i)) & 0x3f;
                let row = ((six & 0x20) >> 4) | (six & 1);
                let col = (six >> 1) & 0xf;
                s_out = (s_out << 4) | u64::from(sbox[(row * 16 + col) as usize]);
            }
            let want = permute(s_out, 32, &P) as u32;
            assert_eq!(f(r, (k >> 24) as u32, (k & 0xff_ffff) as u32, 0), want);
        }
    }
}
