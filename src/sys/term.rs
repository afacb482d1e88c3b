//! The terminal's echo, switched off for a password prompt and always put back.

use std::fs::File;
use std::os::fd::AsFd;

use nix::sys::termios::{self, LocalFlags, SetArg, Termios};

use super::Errno;

/// Echo off (newline still echoed) while it lives; the saved settings come back on drop.
pub struct EchoOff<'a> {
    pub tty: &'a File,
    saved: Termios,
}

impl<'a> EchoOff<'a> {
    /// Save the terminal's settings and switch echo off (`TCSAFLUSH`: typed-ahead input is
    /// dropped).
    pub fn new(tty: &'a File) -> Result<Self, Errno> {
        let saved = termios::tcgetattr(tty.as_fd())?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        quiet.local_flags.insert(LocalFlags::ECHONL);
        termios::tcsetattr(tty.as_fd(), SetArg::TCSAFLUSH, &quiet)?;
        Ok(EchoOff { tty, saved })
    }
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.tty.as_fd(), SetArg::TCSANOW, &self.saved);
    }
}
