//! The C allocator's one setting this binary changes.
//!
//! glibc's malloc raises its mmap threshold each time a large block is
//! freed (up to 32 MiB), after which blocks that size come from the heap
//! and stay there once freed. The aggregate frees its sort space and pair
//! vectors while 64 KiB item chunks are still live, so the heap fragments
//! and the process keeps memory it no longer uses (50M records under
//! report rules with `prefixagg`: 1,188 MiB peak against 1,038 MiB with
//! the threshold fixed, measured on 2026-11-30). Fixing the threshold
//! turns that adjustment off: blocks of 4 MiB and more are then always
//! mapped on their own and given back to the system when freed.

/// The fixed mmap threshold, in bytes.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 4 << 20;

/// The trim threshold, in bytes: free memory at the top of the heap that
/// glibc keeps rather than gives back. Fixing the mmap threshold also
/// fixes this one at its default of 128 KiB, so every file of a many-file
/// run gave its heap back and faulted it in again (1,440 small files:
/// 593,000 page faults, 2.15x the time, with the one-shot inflate's
/// buffers); 16 MiB keeps a file's working set for the next one. Blocks
/// of 4 MiB and more are mapped on their own and not affected.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 16 << 20;

/// Fixes glibc's mmap and trim thresholds (a no-op on other C libraries).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any
    // thread is started. Its result (0 on failure) leaves the default
    // behaviour, which is correct, only larger.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
