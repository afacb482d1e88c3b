//! crypt(3)'s base64: `./0-9A-Za-z`, least significant 6 bits first, over groups of three
//! bytes taken in a scheme-specific order.

const ITOA64: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Append `n` characters encoding the 24-bit value `b2 b1 b0`.
pub fn push(out: &mut String, b2: u8, b1: u8, b0: u8, n: usize) {
    let mut w = (u32::from(b2) << 16) | (u32::from(b1) << 8) | u32::from(b0);
    for _ in 0..n {
        out.push(ITOA64[(w & 0x3f) as usize] as char);
        w >>= 6;
    }
}

/// Encode `digest` with the permutation `order` (triples of indices, the last group may be
/// shorter: `(a, b, c)` with `None` meaning a zero byte), as the SHA/MD5-crypt specs list it.
pub fn encode(digest: &[u8], groups: &[(Option<usize>, Option<usize>, usize, usize)]) -> String {
    let mut out = String::with_capacity(digest.len() * 4 / 3 + 2);
    let at = |i: Option<usize>| i.map_or(0, |i| digest[i]);
    for &(a, b, c, n) in groups {
        push(&mut out, at(a), at(b), digest[c], n);
    }
    out
}
