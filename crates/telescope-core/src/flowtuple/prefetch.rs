//! A cache prefetch hint, so the cache misses of a batch of set inserts
//! overlap instead of stalling one after another.

/// Asks the CPU to start loading the cache line of `slice[index]`. A hint
/// only: it never faults, reads nothing into the program and is a no-op
/// when `index` is out of bounds or the target has no prefetch instruction.
#[inline(always)]
pub fn prefetch<T>(slice: &[T], index: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(item) = slice.get(index) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: `_mm_prefetch` is a hint that cannot fault or change
        // memory; SSE is part of the x86_64 baseline; the pointer comes from
        // a live reference.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((item as *const T).cast::<i8>()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slice, index);
}
