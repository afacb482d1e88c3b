//! Getting a password from the owner: the terminal without echo (asked twice for a new
//! one), one line of standard input (`--password-stdin`), or generated (`--random`).
//! Never from argv or the environment.
//!
//! SIGINT/SIGTERM/SIGHUP while the terminal's echo is off are caught only to put the
//! terminal back first (busybox ash, QTS's shell, does not restore it): then the signal is
//! raised again with its default action, so the exit status says what happened.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};

use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::secret::{self, Password};
use crate::sys::signal::{self, Signal};
use crate::sys::term::EchoOff;

/// Read one line (at most 4 KiB) byte by byte, so nothing after it is consumed.
fn read_line(mut input: impl Read) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(80));
    let mut byte = [0u8; 1];
    loop {
        match input.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => {
                buf.push(byte[0]);
                if byte[0] == b'\n' || buf.len() > 4096 {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                if signal::noted() != 0 {
                    byte.zeroize();
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
    byte.zeroize();
    Ok(buf)
}

/// One line from standard input.
pub fn from_stdin() -> Result<Password> {
    let mut buf = read_line(std::io::stdin().lock()).map_err(|e| Error::io("standard input", e))?;
    if buf.is_empty() {
        return Err(Error::usage("--password-stdin: standard input is empty"));
    }
    secret::strip_newline(&mut buf);
    Password::new(buf)
}

/// `--password-stdin` for a new password: exactly one line (more is refused: a second line
/// would otherwise be dropped without a word), and a warning when it looks like chpasswd's
/// `USER:PASSWORD` for the target user.
pub fn from_stdin_one_line(user: &str) -> Result<Password> {
    let mut stdin = std::io::stdin().lock();
    let mut buf = read_line(&mut stdin).map_err(|e| Error::io("standard input", e))?;
    if buf.is_empty() {
        return Err(Error::usage("--password-stdin: standard input is empty"));
    }
    let mut more = [0u8; 1];
    let extra = loop {
        match stdin.read(&mut more) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("standard input", e)),
        }
    };
    more.zeroize();
    if extra > 0 || (buf.len() > 4096 && buf.last() != Some(&b'\n')) {
        return Err(Error::usage(
            "--password-stdin takes exactly one line, and standard input has more: nothing was changed",
        ));
    }
    secret::strip_newline(&mut buf);
    if buf.len() > user.len() && buf[..user.len()] == *user.as_bytes() && buf[user.len()] == b':' {
        super::output::advise(&format!(
            "qrescue: warning: the password read starts with \"{user}:\": --password-stdin takes the \
             password alone, not chpasswd's USER:PASSWORD (it is used as read)"
        ));
    }
    Password::new(buf)
}

/// Caught while the echo is off, to put the terminal back before dying of them.
const CAUGHT: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// The prompt is written to `/dev/tty` itself, not through `output::advise`: it belongs to
/// the terminal the password is typed on, whatever stderr is.
fn prompt(tty: &mut File, text: &str) -> Result<Zeroizing<Vec<u8>>> {
    tty.write_all(text.as_bytes())
        .map_err(|e| Error::io("/dev/tty", e))?;
    let guard = EchoOff::new(tty).map_err(|e| Error::io("/dev/tty", e))?;
    let signals = signal::Noting::install(&CAUGHT);
    let read = read_line(guard.tty);
    let mut tty_ref: &File = guard.tty;
    drop(guard);
    drop(signals);
    if signal::noted() != 0 {
        let _ = tty_ref.write_all(b"\n");
        signal::die_of_noted();
    }
    let mut line = read.map_err(|e| Error::io("/dev/tty", e))?;
    secret::strip_newline(&mut line);
    Ok(line)
}

fn open_tty() -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| {
            Error::usage("no terminal to ask for the password: use --password-stdin or --random")
        })
}

/// Ask on the terminal; `confirm` asks twice and requires both to match.
pub fn from_tty(user: &str, confirm: bool) -> Result<Password> {
    let mut tty = open_tty()?;
    let first = prompt(&mut tty, &format!("New password for {user}: "))?;
    let first = Password::new(first)?;
    if confirm {
        let again = prompt(&mut tty, &format!("Retype new password for {user}: "))?;
        if again.as_slice() != first.bytes() {
            return Err(Error::usage(
                "the two passwords differ; nothing was changed",
            ));
        }
    }
    Ok(first)
}

/// Ask once on the terminal, without echo, with the prompt as given (a Cloud Key…).
pub fn ask_hidden(text: &str) -> Result<Password> {
    let mut tty = open_tty()?;
    let line = prompt(&mut tty, text)?;
    Password::new(line)
}

/// Ask once for a password to check.
pub fn ask_existing(user: &str) -> Result<Password> {
    let mut tty = open_tty()?;
    let pw = prompt(&mut tty, &format!("Password for {user}: "))?;
    Password::new(pw)
}
