//! Bounded waits for tests that can block (children, FIFOs): a test that would hang fails
//! instead, after killing what it started.
#![allow(dead_code)]

use std::io::Read;
use std::path::Path;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

/// Wait for `child` at most `limit`, collecting its stdout and stderr (if piped). On
/// timeout the child is killed and the test fails, naming `what`.
pub fn output_within(mut child: Child, limit: Duration, what: &str) -> Output {
    let out = child.stdout.take().map(reader);
    let err = child.stderr.take().map(reader);
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let collect = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
        h.map(|h| h.join().expect("reader")).unwrap_or_default()
    };
    Output {
        status,
        stdout: collect(out),
        stderr: collect(err),
    }
}

fn reader(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

/// Open the FIFO `path` for writing once `reader` has opened it for reading, at most
/// `limit` (a plain open would block for ever if the reader exited first: then the test
/// fails with the reader's exit status). `O_NONBLOCK` is cleared after the open.
pub fn open_fifo_writer(path: &Path, reader: &mut Child, limit: Duration) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    let start = Instant::now();
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(path)
        {
            Ok(f) => {
                let fd = std::os::fd::AsFd::as_fd(&f);
                let fl = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL).expect("F_GETFL");
                let mut fl = nix::fcntl::OFlag::from_bits_truncate(fl);
                fl.remove(nix::fcntl::OFlag::O_NONBLOCK);
                nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(fl)).expect("F_SETFL");
                return f;
            }
            Err(e) if e.raw_os_error() == Some(nix::libc::ENXIO) => {}
            Err(e) => panic!("open {}: {e}", path.display()),
        }
        if let Some(st) = reader.try_wait().expect("try_wait") {
            panic!(
                "the reader of {} exited ({st}) before opening it",
                path.display()
            );
        }
        assert!(
            start.elapsed() < limit,
            "{} not opened for reading within {limit:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
