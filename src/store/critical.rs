//! Critical sections of mailbox writers: SIGTERM, SIGHUP, SIGINT and SIGQUIT are blocked
//! while a mailbox is locked and being written, so that a signal cannot leave the mailbox
//! half rewritten with a dotlock behind it.
//!
//! [`Critical::enter`] adds these signals to the calling thread's mask
//! (`pthread_sigmask(SIG_BLOCK)`); dropping the value restores the mask as it was, and a
//! signal that arrived meanwhile is delivered then, once the mailbox is consistent and
//! unlocked. Declare the guard before the [`super::lock::MailboxLock`] so that it is dropped
//! after it (locals drop in reverse order). kill -9 cannot be blocked; the recovery file of
//! `rewrite` covers it.
//!
//! Invariant: the mask is per thread. The reader is single-threaded, so the process does not
//! die of these signals inside a critical section; in a multi-threaded program another
//! thread that does not block them may still take the signal.

use std::mem::MaybeUninit;

/// The signals blocked in a critical section.
const SIGNALS: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT];

/// A critical section: the [`SIGNALS`] are blocked for this thread until it is dropped.
#[must_use = "the signals are unblocked when the guard is dropped"]
pub(crate) struct Critical {
    /// The mask to restore; `None` when blocking failed (then nothing is restored).
    old: Option<libc::sigset_t>,
}

impl Critical {
    /// Blocks the [`SIGNALS`] for the calling thread. Never fails: should
    /// `pthread_sigmask` fail, the section simply runs unprotected.
    pub(crate) fn enter() -> Critical {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        let mut old = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises `set`; sigaddset gets valid signal numbers;
        // pthread_sigmask reads `set` and fills `old` only when it returns 0.
        unsafe {
            if libc::sigemptyset(set.as_mut_ptr()) != 0 {
                return Critical { old: None };
            }
            for s in SIGNALS {
                libc::sigaddset(set.as_mut_ptr(), s);
            }
            if libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), old.as_mut_ptr()) != 0 {
                return Critical { old: None };
            }
            Critical {
                old: Some(old.assume_init()),
            }
        }
    }
}

impl Drop for Critical {
    fn drop(&mut self) {
        if let Some(old) = &self.old {
            // SAFETY: `old` is the mask pthread_sigmask returned; no output is requested.
            unsafe {
                libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut());
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// The calling thread's signal mask.
    pub(crate) fn current_mask() -> libc::sigset_t {
        let mut cur = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: a null new set only queries; `cur` is filled on success (asserted).
        unsafe {
            assert_eq!(
                libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), cur.as_mut_ptr()),
                0
            );
            cur.assume_init()
        }
    }

    /// Whether `sig` is in `mask`.
    pub(crate) fn blocked(mask: &libc::sigset_t, sig: libc::c_int) -> bool {
        // SAFETY: a valid, initialised set and signal number.
        unsafe { libc::sigismember(mask, sig) == 1 }
    }

    /// Whether two masks block the same signals (1..=64).
    pub(crate) fn same(a: &libc::sigset_t, b: &libc::sigset_t) -> bool {
        (1..=64).all(|s| blocked(a, s) == blocked(b, s))
    }

    static GOT_HUP: AtomicBool = AtomicBool::new(false);

    extern "C" fn on_hup(_: libc::c_int) {
        GOT_HUP.store(true, Ordering::SeqCst);
    }

    #[test]
    fn blocks_and_restores_the_mask() {
        let before = current_mask();
        {
            let _c = Critical::enter();
            let inside = current_mask();
            for s in SIGNALS {
                assert!(blocked(&inside, s), "signal {s}");
            }
            {
                // Nested sections restore to the outer one's mask.
                let _n = Critical::enter();
            }
            assert!(same(&inside, &current_mask()));
        }
        assert!(same(&before, &current_mask()));
    }

    #[test]
    fn pending_signal_is_delivered_after_the_section() {
        // SAFETY: installs a handler that only stores to an atomic; the old disposition is
        // put back below. raise() directs SIGHUP at this thread, which blocks it.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_hup as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            assert_eq!(libc::sigaction(libc::SIGHUP, &sa, &mut old), 0);
            {
                let _c = Critical::enter();
                libc::raise(libc::SIGHUP);
                assert!(!GOT_HUP.load(Ordering::SeqCst));
            }
            assert!(GOT_HUP.load(Ordering::SeqCst));
            libc::sigaction(libc::SIGHUP, &old, std::ptr::null_mut());
        }
    }
}
