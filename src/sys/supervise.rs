//! Running a piece of work in a child process that the parent outlives: `--disk` mounts the
//! NAS's system partition in the child's private mount namespace, so however the child ends
//! (an error, SIGINT, SIGTERM, even SIGKILL) the mount goes with it, and the parent, which
//! only waits, can always sync, stop the array and remove the mount point.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};

use crate::error::{Error, Result};

/// The child SIGINT/SIGTERM/SIGHUP are passed on to (0: none).
static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: nix::libc::c_int) {
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe; it only sends a signal.
        unsafe { nix::libc::kill(pid, sig) };
    }
}

/// How the child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Killed(Signal),
}

/// Run `work` in a child process and wait for it; meanwhile SIGINT, SIGTERM and SIGHUP sent
/// to this process are passed on to the child instead of ending the parent. The child is
/// killed if the parent dies (PR_SET_PDEATHSIG), so nothing runs on unsupervised.
pub fn run_in_child(work: impl FnOnce() -> i32) -> Result<Ended> {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: qrescue is single-threaded here (no thread was started before `--disk` runs),
    // so the child may run any code, not only async-signal-safe functions.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::io("fork", e))? {
        ForkResult::Child => {
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
            let handler = SigHandler::Handler(forward);
            let mut old = Vec::new();
            for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
                // SAFETY: the handler only reads an atomic and calls kill(2), both
                // async-signal-safe.
                old.push((sig, unsafe { signal::signal(sig, handler) }));
            }
            let ended = wait(child);
            for (sig, prev) in old {
                if let Ok(prev) = prev {
                    // SAFETY: puts back the disposition that was there before.
                    let _ = unsafe { signal::signal(sig, prev) };
                }
            }
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
