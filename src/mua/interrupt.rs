//! Interrupts while composing on a terminal, as mailx does: the first `^C` prints
//! `(Interrupt -- one more to kill letter)`, a second one in a row abandons the message and
//! keeps it in `dead.letter` (unless `nosave`); with `ignore` set, `^C` is echoed as `@` and
//! otherwise ignored (POSIX mailx, `ignore` variable).
//!
//! std's buffered stdin retries reads that a signal interrupted, so the composer reads the
//! terminal itself while a SIGINT handler installed without `SA_RESTART` is in place. Only
//! used when standard input is a terminal: the terminal driver hands over at most one line
//! per `read`, so nothing is left behind in std's stdin buffer.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// While alive, SIGINT sets a flag and interrupts the composer's read instead of killing
/// the process; the previous disposition comes back on drop.
pub struct SigintGuard {
    old: libc::sigaction,
}

impl SigintGuard {
    /// Installs the handler (no `SA_RESTART`, so a blocked `read` returns `EINTR`).
    pub fn install() -> io::Result<SigintGuard> {
        INTERRUPTED.store(false, Ordering::SeqCst);
        // SAFETY: sigaction with a zeroed struct, an empty mask and an async-signal-safe
        // handler that only stores to an atomic.
        unsafe {
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut new.sa_mask);
            new.sa_flags = 0;
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGINT, &new, &mut old) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(SigintGuard { old })
        }
    }
}

impl Drop for SigintGuard {
    fn drop(&mut self) {
        // SAFETY: restores the disposition saved by `install`.
        unsafe {
            libc::sigaction(libc::SIGINT, &self.old, std::ptr::null_mut());
        }
    }
}

/// What one terminal read gave.
#[derive(Debug, PartialEq, Eq)]
pub enum TtyRead {
    /// A line (with its `\n` unless it was the last bytes before end-of-file) was appended.
    Line,
    /// End of file (`^D` on an empty line).
    Eof,
    /// `^C` arrived (the partial line is dropped by the terminal driver too).
    Interrupted,
}

/// Reads one line from standard input (fd 0, a terminal) into `line`, reporting SIGINT
/// instead of retrying. Requires a live [`SigintGuard`].
pub fn read_tty_line(line: &mut String) -> io::Result<TtyRead> {
    let mut bytes = Vec::new();
    loop {
        let mut b = [0u8; 1];
        // SAFETY: reads at most one byte into a live one-byte buffer.
        let n = unsafe { libc::read(0, b.as_mut_ptr().cast(), 1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                if INTERRUPTED.swap(false, Ordering::SeqCst) {
                    return Ok(TtyRead::Interrupted);
                }
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            if bytes.is_empty() {
                return Ok(TtyRead::Eof);
            }
            break;
        }
        bytes.push(b[0]);
        if b[0] == b'\n' {
            break;
        }
    }
    line.push_str(&String::from_utf8_lossy(&bytes));
    Ok(TtyRead::Line)
}
