//! Signal dispositions: default, ignored, or noted by a handler that only stores the signal
//! number in an atomic (async-signal-safe), for a prompt to unwind and then die of it.

use std::sync::atomic::{AtomicI32, Ordering};

pub use nix::sys::signal::Signal;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, raise, sigaction, signal};

/// Put back the default action of `sig`. For start-up, before any other thread exists.
pub fn set_default(sig: Signal) {
    // SAFETY: installs the default disposition (no handler code runs in signal context);
    // called once at start-up, before any other thread exists.
    let _ = unsafe { signal(sig, SigHandler::SigDfl) };
}

/// Ignore `sig`. For start-up, before any other thread exists.
pub fn ignore(sig: Signal) {
    // SAFETY: installs SIG_IGN (no handler code runs in signal context); called once at
    // start-up, before any other thread exists.
    let _ = unsafe { signal(sig, SigHandler::SigIgn) };
}

/// The signal a [`Noting`] caught (0: none).
static NOTED: AtomicI32 = AtomicI32::new(0);

extern "C" fn note_signal(sig: nix::libc::c_int) {
    // Only an atomic store: async-signal-safe.
    NOTED.store(sig, Ordering::SeqCst);
}

/// The signal caught since the last [`Noting::install`] (0: none).
pub fn noted() -> i32 {
    NOTED.load(Ordering::SeqCst)
}

/// Catches `sigs` while it lives (only noting them, without `SA_RESTART`, so a blocked
/// `read` returns `EINTR`); a signal ignored on purpose stays ignored. The previous actions
/// come back when dropped.
pub struct Noting {
    saved: Vec<(Signal, SigAction)>,
}

impl Noting {
    pub fn install(sigs: &[Signal]) -> Self {
        NOTED.store(0, Ordering::SeqCst);
        let action = SigAction::new(
            SigHandler::Handler(note_signal),
            SaFlags::empty(),
            SigSet::empty(),
        );
        let mut saved = Vec::new();
        for &sig in sigs {
            // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
            if let Ok(old) = unsafe { sigaction(sig, &action) } {
                if old.handler() == SigHandler::SigIgn {
                    // Ignored on purpose (passwd ignores SIGHUP): keep it so.
                    // SAFETY: putting back the action that was there.
                    let _ = unsafe { sigaction(sig, &old) };
                    continue;
                }
                saved.push((sig, old));
            }
        }
        Self { saved }
    }
}

impl Drop for Noting {
    fn drop(&mut self) {
        for (sig, old) in &self.saved {
            // SAFETY: putting back the action that was installed before.
            let _ = unsafe { sigaction(*sig, old) };
        }
    }
}

/// Die of the signal [`noted`], as if it had never been caught (default action, raised
/// again); one that does not terminate by default exits 128+N as a shell would. Returns
/// when none was noted.
pub fn die_of_noted() {
    let Ok(sig) = Signal::try_from(noted()) else {
        return;
    };
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: the default action involves no handler code.
    let _ = unsafe { sigaction(sig, &default) };
    let _ = raise(sig);
    std::process::exit(128 + sig as i32);
}
