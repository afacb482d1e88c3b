//! Getting a password from the owner: the terminal without echo (asked twice for a new
//! one), one line of standard input (`--password-stdin`), or generated (`--random`).
//! Never from argv or the environment.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsFd;

use nix::sys::termios::{self, LocalFlags, SetArg};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::secret::{self, Password};

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
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
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

/// Restores the terminal's echo when dropped (also on error).
struct EchoOff<'a> {
    tty: &'a File,
    saved: termios::Termios,
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.tty.as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

fn prompt(tty: &mut File, text: &str) -> Result<Zeroizing<Vec<u8>>> {
    tty.write_all(text.as_bytes())
        .map_err(|e| Error::io("/dev/tty", e))?;
    let saved = termios::tcgetattr(tty.as_fd()).map_err(|e| Error::io("/dev/tty", e))?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    termios::tcsetattr(tty.as_fd(), SetArg::TCSAFLUSH, &quiet)
        .map_err(|e| Error::io("/dev/tty", e))?;
    let guard = EchoOff { tty, saved };
    let mut line = read_line(guard.tty).map_err(|e| Error::io("/dev/tty", e))?;
    drop(guard);
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
