//! `watch --replay FILE`: recorded raw `input_event` records in this binary's own layout
//! (what `cat /dev/input/eventN > FILE` captures on the same box), or a FIFO fed live.
//! Classification uses the records' own timestamps; the end of the file (or the last
//! writer closing the FIFO) ends the watch.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use crate::sys::Errno;
use crate::sys::fs::open_read;

use super::evdev::KeyFilter;
use super::records::InputLayout;
use super::source::{Clock, Ev, Info, Source};
use crate::error::{Error, Result};

pub struct Replay {
    file: File,
    info: Info,
    filter: KeyFilter,
}

impl Replay {
    pub fn open(path: &Path, key: u16) -> Result<Replay> {
        let disp = path.display().to_string();
        // Blocking: a FIFO open waits for its writer, like `cat` would.
        let fd = open_read(path).map_err(|e| match e {
            Errno::ENOENT => Error::usage(format!("--replay {disp}: no such file")),
            e => Error::io(&disp, e),
        })?;
        Ok(Replay {
            file: File::from(fd),
            info: Info {
                kind: super::source::SourceKind::Replay,
                path: disp,
                name: None,
                code: key as u32,
            },
            filter: KeyFilter::new(key, InputLayout::native()),
        })
    }
}

impl Source for Replay {
    fn info(&self) -> &Info {
        &self.info
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    fn clock(&self) -> Clock {
        Clock::Own
    }

    fn key_state(&mut self) -> Option<bool> {
        None
    }

    fn read(&mut self, out: &mut Vec<Ev>) -> Result<()> {
        let mut chunk = [0u8; 64 * 24];
        loop {
            match crate::sys::fs::read(&self.file, &mut chunk) {
                Ok(0) => {
                    if self.filter.partial() > 0 {
                        log::warn!(
                            "{}: {} trailing bytes do not make a whole {}-byte record (ignored)",
                            self.info.path,
                            self.filter.partial(),
                            InputLayout::native().size()
                        );
                    }
                    out.push(Ev::Eof {
                        ts: self.filter.last_ts(),
                    });
                    return Ok(());
                }
                Ok(n) => {
                    self.filter.feed(&chunk[..n], out, || None);
                    return Ok(());
                }
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::io(&self.info.path, e)),
            }
        }
    }
}
