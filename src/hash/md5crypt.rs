//! MD5-crypt (`$1$`, Poul-Henning Kamp's FreeBSD algorithm, also glibc's), hand-written on
//! the `md-5` crate. Salts are up to 8 characters, ending at `$`; an empty salt (`$1$$…`,
//! as QNAP firmware writes) is valid.

use md5::{Digest, Md5};
use zeroize::Zeroizing;

use super::b64;

/// Compute the full hash string for `setting` (`$1$salt[$…]`); `None` if it is not `$1$`.
pub fn hash_setting(password: &[u8], setting: &str) -> Option<Zeroizing<String>> {
    let rest = setting.strip_prefix("$1$")?;
    let salt_end = rest.find('$').unwrap_or(rest.len()).min(8);
    let salt = &rest.as_bytes()[..salt_end];
    let digest = md5crypt(password, salt);
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
    out.push_str(std::str::from_utf8(salt).ok()?);
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
    for r in 0..1000 {
        let mut c = Md5::new();
        if r & 1 == 1 {
            c.update(pw);
        } else {
            c.update(&fin[..]);
        }
        if r % 3 != 0 {
            c.update(salt);
        }
        if r % 7 != 0 {
            c.update(pw);
        }
        if r & 1 == 1 {
            c.update(&fin[..]);
        } else {
            c.update(pw);
        }
        *fin = c.finalize().into();
    }
    fin
}
