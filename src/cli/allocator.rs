//! The `pfslab` binary's memory allocator: mimalloc, set to give freed memory back at once.
//!
//! Why (issue 20): the attacker's reader thread allocates each session and a worker thread frees
//! it; glibc's malloc then takes the reader's arena lock on every such free, and the threads
//! wait on each other (`perf`: futex wake-ups from `malloc`/`realloc`, ~5% of the CPU on the
//! `make bench` capture). mimalloc frees into per-thread pages without a shared lock.
//!
//! Its defaults keep freed pages for a while (purge after 10 ms, arenas committed eagerly):
//! ~47 MB peak on the bench capture against glibc's 13 MB. Purging at once and committing arena
//! memory on demand gives the same speed at ~15 MB.

use libmimalloc_sys as mi;

/// `mi_option_arena_eager_commit` and `mi_option_purge_delay` in mimalloc's `mi_option_t` (the
/// same positions in its v2 and v3 headers, `include/mimalloc.h`; libmimalloc-sys is pinned in
/// Cargo.toml and the test below checks both options' documented defaults).
const ARENA_EAGER_COMMIT: mi::mi_option_t = 4;
const PURGE_DELAY: mi::mi_option_t = 15;

/// Sets the options before the first allocation: from `main` it would be too late, since the
/// Rust runtime has allocated by then and mimalloc has set up its first arena with the
/// defaults. A function in `.init_array` runs when the program is loaded, before `main` and
/// before any Rust code allocates (mimalloc reads its options lazily, on first use).
#[cfg(all(target_os = "linux", not(test)))]
#[used]
#[link_section = ".init_array"]
static CONFIGURE_AT_LOAD: extern "C" fn() = configure_at_load;

#[cfg(all(target_os = "linux", not(test)))]
extern "C" fn configure_at_load() {
    configure();
}

/// Purge freed pages at once and commit arena memory on demand.
pub fn configure() {
    // SAFETY: mi_option_set takes any option number and value; these two are read on use.
    unsafe {
        mi::mi_option_set(ARENA_EAGER_COMMIT, 0);
        mi::mi_option_set(PURGE_DELAY, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_numbers_are_the_ones_mimalloc_documents() {
        // Defaults from mimalloc.h: arena_eager_commit "=2", purge_delay "=10" (unit tests do
        // not call `configure`, and nothing sets MIMALLOC_* in the test environment).
        // SAFETY: reading an option has no precondition.
        let (eager, delay) = unsafe {
            (
                mi::mi_option_get(ARENA_EAGER_COMMIT),
                mi::mi_option_get(PURGE_DELAY),
            )
        };
        assert_eq!((eager, delay), (2, 10));
    }
}
