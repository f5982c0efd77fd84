//! Giving freed memory back to the system (glibc's allocator).
//!
//! glibc serves an allocation above `M_MMAP_THRESHOLD` with a mapping of
//! its own, returned to the kernel when freed; but by default it raises
//! the threshold to the size of every such block freed (up to 32 MiB),
//! after which blocks of that size come from the heap, where freed memory
//! that is not at its top stays resident. For a server whose big buffers
//! come and go with clients (a folder held while it is sorted for its
//! page, a rendered page), that keeps the peak forever: 60 slow readers
//! of a 100,000-entry folder left 140 MiB resident after they closed;
//! with the threshold set, 17 MiB (BENCHMARKS.md, "Big folders"). Setting
//! the threshold explicitly turns the adjustment off; 128 KiB is glibc's
//! own starting value, and pared's per-request buffers stay below it.
//!
//! These are the crate's only `unsafe` calls besides `sync_file_range` in
//! `fs::writeback`: neither rustix nor std wraps `mallopt` or
//! `malloc_trim`.
#![allow(unsafe_code)]

/// Blocks at least this large get mappings of their own.
pub const MMAP_THRESHOLD: usize = 128 * 1024;

/// Fixes glibc's mmap threshold (see the module); does nothing on other
/// C libraries.
pub fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets an allocator parameter; glibc takes
        // its own lock, so it is safe from any thread at any time, and the
        // value is a positive constant within glibc's accepted range.
        let _ = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) };
    }
}

/// Gives the free pages of every allocator arena back to the system
/// (`malloc_trim(0)`): a thread that served a burst of connections and
/// exited leaves its buffers freed but resident in its arena. Call it
/// when threads have exited, not per request (it walks every arena).
pub fn trim_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only releases free pages of glibc's own
        // arenas under their locks; it touches no memory the program
        // holds, and is safe from any thread at any time.
        let _ = unsafe { libc::malloc_trim(0) };
    }
}
