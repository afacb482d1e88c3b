//! Traditional DES-based crypt(3): 2 salt characters and 11 of hash. Only verified (old
//! firmware or hand-made accounts may still carry it); never generated.
//!
//! A straightforward bit-level DES from the tables of FIPS 46-3, with crypt's twist: each
//! set bit of the 12-bit salt swaps two outputs of the E expansion; the key is the first 8
//! password characters shifted left one bit; the zero block is encrypted 25 times.

use zeroize::Zeroizing;

const ITOA64: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn a64(c: u8) -> Option<u32> {
    ITOA64.iter().position(|&x| x == c).map(|p| p as u32)
}

/// 13 characters of the crypt alphabet.
pub fn looks_like(hash: &str) -> bool {
    hash.len() == 13 && hash.bytes().all(|b| a64(b).is_some())
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

/// Permute: output bit k (from the MSB of an `out`-bit value) is input bit `table[k]`
/// (1-based from the MSB of an `width`-bit value).
fn permute(input: u64, width: u32, table: &[u8]) -> u64 {
    let out = table.len() as u32;
    let mut r = 0u64;
    for (k, &pos) in table.iter().enumerate() {
        let bit = (input >> (width - u32::from(pos))) & 1;
        r |= bit << (out - 1 - k as u32);
    }
    r
}

fn rotl28(x: u64, n: u32) -> u64 {
    ((x << n) | (x >> (28 - n))) & 0x0fff_ffff
}

fn feistel(r: u64, k: u64, e: &[u8; 48]) -> u64 {
    let x = permute(r, 32, e) ^ k;
    let mut s_out = 0u64;
    for (i, sbox) in S.iter().enumerate() {
        let six = (x >> (42 - 6 * i)) & 0x3f;
        let row = ((six & 0x20) >> 4) | (six & 1);
        let col = (six >> 1) & 0xf;
        s_out = (s_out << 4) | u64::from(sbox[(row * 16 + col) as usize]);
    }
    permute(s_out, 32, &P)
}

/// Compute the 13-character hash for the salt in `setting`; `None` for a bad salt.
pub fn hash_setting(password: &[u8], setting: &str) -> Option<Zeroizing<String>> {
    let sb = setting.as_bytes();
    if sb.len() < 2 {
        return None;
    }
    let (s0, s1) = (a64(sb[0])?, a64(sb[1])?);
    let salt = s0 | (s1 << 6);
    let mut e = E;
    for i in 0..12 {
        if (salt >> i) & 1 == 1 {
            e.swap(i, i + 24);
        }
    }
    let mut key = 0u64;
    for i in 0..8 {
        let c = password.get(i).copied().unwrap_or(0);
        key = (key << 8) | u64::from(c << 1);
    }
    let key = Zeroizing::new(key);
    let cd = permute(*key, 64, &PC1);
    let (mut c, mut d) = (cd >> 28, cd & 0x0fff_ffff);
    let mut subkeys = Zeroizing::new([0u64; 16]);
    for (i, &s) in SHIFTS.iter().enumerate() {
        c = rotl28(c, s);
        d = rotl28(d, s);
        subkeys[i] = permute((c << 28) | d, 56, &PC2);
    }
    let mut block = 0u64;
    for _ in 0..25 {
        let ip = permute(block, 64, &IP);
        let (mut l, mut r) = (ip >> 32, ip & 0xffff_ffff);
        for k in subkeys.iter() {
            let next = l ^ feistel(r, *k, &e);
            l = r;
            r = next;
        }
        block = permute((r << 32) | l, 64, &FP);
    }
    let mut out = Zeroizing::new(String::with_capacity(13));
    out.push(sb[0] as char);
    out.push(sb[1] as char);
    for i in 0..11i32 {
        // 66 bits: the 64 of the block and two zero bits, 6 at a time from the top.
        let shift = 64i32 - 6 * (i + 1);
        let v = if shift >= 0 {
            (block >> shift) & 0x3f
        } else {
            (block << -shift) & 0x3f
        };
        out.push(ITOA64[v as usize] as char);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Produced by glibc's crypt() (Python's crypt module); the oracle test cross-checks more.
    #[test]
    fn glibc_vectors() {
        for (pw, setting, want) in [
            ("password", "ab", "abJnggxhB/yWI"),
            ("", "..", "..X8NBuQ4l6uQ"),
            ("longpassword1", "zZ", "zZq3RWy/G71sk"),
        ] {
            assert_eq!(hash_setting(pw.as_bytes(), setting).unwrap().as_str(), want);
        }
    }
}
