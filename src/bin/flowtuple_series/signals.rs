//! SIGINT and SIGTERM: the process ends at once with status 130 or 143,
//! except while an interval is being written to stdout, which is finished
//! first, so that no partial interval is ever printed. Temporary files
//! need no cleanup: they are unlinked from the start.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// Set while output is being written.
static WRITING: AtomicBool = AtomicBool::new(false);
/// A signal that arrived while writing, 0 if none.
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    if WRITING.load(Ordering::SeqCst) {
        PENDING.store(signal, Ordering::SeqCst);
    } else {
        // SAFETY: _exit is async-signal-safe.
        #[allow(unsafe_code)]
        unsafe {
            libc::_exit(128 + signal)
        };
    }
}

/// Installs the handlers of SIGINT and SIGTERM.
pub fn install() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only touches atomics and calls _exit, both
        // async-signal-safe; the sigaction struct is fully initialised.
        #[allow(unsafe_code)]
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Runs `write` (one whole interval or file's output) with SIGINT and
/// SIGTERM held off; one that arrived meanwhile ends the process after it.
pub fn whole<T>(write: impl FnOnce() -> T) -> T {
    WRITING.store(true, Ordering::SeqCst);
    let result = write();
    WRITING.store(false, Ordering::SeqCst);
    let signal = PENDING.load(Ordering::SeqCst);
    if signal != 0 {
        // SAFETY: ends the process; output written so far is whole.
        #[allow(unsafe_code)]
        unsafe {
            libc::_exit(128 + signal)
        };
    }
    result
}
