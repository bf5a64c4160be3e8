//! One malloc arena for the whole night (glibc): the runner's threads share it.
//!
//! glibc gives each thread that allocates under contention an arena of its own
//! (up to eight a core) and never hands memory freed in one to another. A night
//! allocates on the runtime's workers (answers, the simulator's books) and frees on
//! the dispatcher's thread, so each arena kept its own high-water mark: at 20,000
//! shots a rehearsal peaked at 154 MB of RSS for 96 MB of heap, and at 129 MB in one
//! arena. The threads are few (two workers and the dispatcher), and each keeps its
//! small-block cache, so the shared lock costs little.

/// Must run before the manifest's parse and the async runtime start their threads.
pub fn share_one() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets a malloc parameter; called while the process has
    // one thread, before any arena but the main one exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
