//! Log lines in Postfix's shape (`rmail/smtpd[PID]: QUEUEID: from=<…>, size=…, nrcpt=…`),
//! one per event, to standard error — or to syslog (facility mail) once
//! [`use_syslog`] was called (`rmail serve --daemon`).

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};

static SYSLOG: AtomicBool = AtomicBool::new(false);

/// Sends later lines to syslog (`LOG_MAIL`) instead of standard error.
pub fn use_syslog() {
    static IDENT: &[u8] = b"rmail\0";
    // SAFETY: the ident is a static NUL-terminated string, as openlog requires.
    unsafe { libc::openlog(IDENT.as_ptr().cast(), libc::LOG_PID, libc::LOG_MAIL) };
    SYSLOG.store(true, Ordering::SeqCst);
}

fn emit(priority: libc::c_int, component: &str, msg: &str) {
    let msg = msg.replace(['\r', '\n'], " ");
    if SYSLOG.load(Ordering::Relaxed) {
        if let Ok(c) = CString::new(format!("{component}: {msg}").replace('\0', "")) {
            // SAFETY: "%s" with one NUL-terminated argument.
            unsafe { libc::syslog(priority, c"%s".as_ptr(), c.as_ptr()) };
        }
    } else {
        eprintln!("rmail/{component}[{}]: {msg}", std::process::id());
    }
}

/// An informational line (`LOG_INFO`).
pub fn info(component: &str, msg: &str) {
    emit(libc::LOG_INFO, component, msg);
}

/// A warning (`LOG_WARNING`), prefixed `warning: ` as Postfix does.
pub fn warn(component: &str, msg: &str) {
    emit(libc::LOG_WARNING, component, &format!("warning: {msg}"));
}

/// An error that stops something (`LOG_ERR`), prefixed `fatal: ` or `error: ` by the caller.
pub fn error(component: &str, msg: &str) {
    emit(libc::LOG_ERR, component, msg);
}
