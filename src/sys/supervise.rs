//! Running a piece of work in a child process that the parent outlives: `--disk` mounts the
//! NAS's system partition in the child's private mount namespace, so however the child ends
//! (an error, SIGINT, SIGTERM, even SIGKILL) the mount goes with it, and the parent, which
//! only waits, can always sync, stop the array and remove the mount point.
//!
//! From [`Deferred::install`] on, SIGINT, SIGTERM and SIGHUP no longer end the parent: while
//! a child runs they are passed on to it, before that they are remembered, so the parent can
//! undo what it set up (an assembled array) and then report the interruption.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};

use crate::error::{Error, Result};

/// The child signals are passed on to (0: none).
static CHILD: AtomicI32 = AtomicI32::new(0);
/// The last signal received while no child ran (0: none).
static PENDING: AtomicI32 = AtomicI32::new(0);

const DEFERRED: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

extern "C" fn on_signal(sig: nix::libc::c_int) {
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe; it only sends a signal.
        unsafe { nix::libc::kill(pid, sig) };
    } else {
        PENDING.store(sig, Ordering::SeqCst);
    }
}

/// SIGINT, SIGTERM and SIGHUP deferred (remembered, or passed on to the child) until dropped.
pub struct Deferred {
    old: Vec<(Signal, SigHandler)>,
}

impl Deferred {
    pub fn install() -> Deferred {
        let mut old = Vec::new();
        for sig in DEFERRED {
            // SAFETY: the handler only reads and writes atomics and calls kill(2), all
            // async-signal-safe.
            if let Ok(prev) = unsafe { signal::signal(sig, SigHandler::Handler(on_signal)) } {
                old.push((sig, prev));
            }
        }
        Deferred { old }
    }

    /// The signal received while no child ran, if any.
    pub fn pending(&self) -> Option<Signal> {
        Signal::try_from(PENDING.load(Ordering::SeqCst)).ok()
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        for (sig, prev) in self.old.drain(..) {
            // SAFETY: puts back the disposition that was there before.
            let _ = unsafe { signal::signal(sig, prev) };
        }
    }
}

/// How the child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Killed(Signal),
}

/// Run `work` in a child process and wait for it. The child starts with the default
/// dispositions of the deferred signals, and is killed if the parent dies
/// (PR_SET_PDEATHSIG), so nothing runs on unsupervised.
pub fn run_in_child(_deferred: &Deferred, work: impl FnOnce() -> i32) -> Result<Ended> {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: qrescue is single-threaded here (no thread was started before `--disk` runs),
    // so the child may run any code, not only async-signal-safe functions.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::io("fork", e))? {
        ForkResult::Child => {
            for sig in DEFERRED {
                // SAFETY: restores the default disposition; no handler code involved.
                let _ = unsafe { signal::signal(sig, SigHandler::SigDfl) };
            }
            let parent = nix::unistd::getppid();
            // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and changes only this
            // process's attributes.
            unsafe { nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGKILL) };
            if nix::unistd::getppid() != parent {
                std::process::exit(128 + nix::libc::SIGKILL);
            }
            let code = work();
            let _ = std::io::stdout().flush();
            let _ = std::io::stderr().flush();
            std::process::exit(code);
        }
        ForkResult::Parent { child } => {
            CHILD.store(child.as_raw(), Ordering::SeqCst);
            // A signal that came between the last check and now still reaches the child.
            if let Ok(sig) = Signal::try_from(PENDING.swap(0, Ordering::SeqCst)) {
                let _ = signal::kill(child, sig);
            }
            let ended = wait(child);
            CHILD.store(0, Ordering::SeqCst);
            ended
        }
    }
}

fn wait(child: Pid) -> Result<Ended> {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(Ended::Exited(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(Ended::Killed(sig)),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::io("wait for the child", e)),
        }
    }
}
