//! The password in memory: zeroed when dropped, never `Debug`-printed, validated against
//! QTS's rules (1 to 64 printable ASCII characters).

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// QTS's maximum password length.
pub const MAX_LEN: usize = 64;

/// A password. Its bytes are wiped on drop; `Debug` shows only its length.
pub struct Password(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Password(<{} bytes>)", self.0.len())
    }
}

impl Password {
    /// Validate and wrap. The error message never contains the password.
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Result<Password> {
        if bytes.is_empty() {
            return Err(Error::usage(
                "the password is empty (QTS needs 1 to 64 characters)",
            ));
        }
        if bytes.len() > MAX_LEN {
            return Err(Error::usage(format!(
                "the password has {} characters; QTS accepts at most {MAX_LEN}",
                bytes.len()
            )));
        }
        if let Some(pos) = bytes.iter().position(|&b| !(0x20..=0x7e).contains(&b)) {
            return Err(Error::usage(format!(
                "character {} of the password is not printable ASCII; QTS accepts only those",
                pos + 1
            )));
        }
        Ok(Password(bytes))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Strip one trailing `\n` or `\r\n` from a line read from stdin or the terminal.
pub fn strip_newline(buf: &mut Zeroizing<Vec<u8>>) {
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
}

/// Alphabet for generated passwords: no look-alikes (0/O, 1/l/I), nothing a shell or the
/// QTS web form treats specially.
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A random password of `len` characters from the kernel's random source (unbiased).
pub fn random(len: usize) -> Result<Password> {
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    let mut pool = Zeroizing::new([0u8; 64]);
    let limit = 256 - (256 % ALPHABET.len()); // reject bytes that would bias the choice
    while out.len() < len {
        getrandom::fill(&mut pool[..]).map_err(|e| {
            Error::io(
                "random source",
                std::io::Error::from_raw_os_error(
                    e.raw_os_error().unwrap_or(crate::sys::Errno::EIO as i32),
                ),
            )
        })?;
        for &b in pool.iter() {
            if (b as usize) < limit && out.len() < len {
                out.push(ALPHABET[b as usize % ALPHABET.len()]);
            }
        }
    }
    Password::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(Password::new(Zeroizing::new(b"a".to_vec())).is_ok());
        assert!(Password::new(Zeroizing::new(vec![b'x'; 64])).is_ok());
        assert_eq!(
            Password::new(Zeroizing::new(vec![b'x'; 65]))
                .unwrap_err()
                .exit(),
            crate::error::Exit::Usage
        );
        assert!(Password::new(Zeroizing::new(Vec::new())).is_err());
        let e = Password::new(Zeroizing::new(b"secr\xc3\xa9t".to_vec())).unwrap_err();
        assert!(!e.to_string().contains("secr"), "{e}");
        assert!(Password::new(Zeroizing::new(b"tab\there".to_vec())).is_err());
        assert_eq!(
            format!(
                "{:?}",
                Password::new(Zeroizing::new(b"hunter2".to_vec())).unwrap()
            ),
            "Password(<7 bytes>)"
        );
    }

    #[test]
    fn random_is_in_alphabet_and_varies() {
        let a = random(20).unwrap();
        let b = random(20).unwrap();
        assert_eq!(a.bytes().len(), 20);
        assert!(a.bytes().iter().all(|c| ALPHABET.contains(c)));
        assert_ne!(a.bytes(), b.bytes());
    }
}
