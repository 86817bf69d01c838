//! How the counting work meets the machine: spread over threads
//! ([`on_threads`]), and the memory it is about to touch brought into the
//! caches ahead of use ([`prefetch`]).

/// `run`'s results on `threads` threads (on this one when `threads` is 1),
/// in thread order; a panic in one is resumed here.
pub(super) fn on_threads<R: Send>(threads: usize, run: impl Fn() -> R + Sync) -> Vec<R> {
    if threads <= 1 {
        return vec![run()];
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(&run)).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Asks the CPU to bring `slots[index]` into its caches. Only a hint: it
/// changes no result, and is a no-op where there is no such instruction.
#[inline(always)]
pub(super) fn prefetch<T>(slots: &[T], index: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(slot) = slots.get(index) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch reads nothing into the program and never
        // faults; SSE, which provides it, is part of every x86-64 target.
        #[allow(unsafe_code)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>((slot as *const T).cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slots, index);
}
