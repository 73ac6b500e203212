//! The `pfslab` binary's memory allocator: glibc's malloc for every command but `pfslab attack`,
//! which runs on mimalloc.
//!
//! Why the attacker (issue 20): its reader thread allocates each session and a worker thread
//! frees it; glibc's malloc then takes the reader's arena lock on every such free and the
//! threads wait on each other (`perf`: futex wake-ups from `malloc`/`realloc`). mimalloc frees
//! into per-thread pages without a shared lock: ~5% less wall time on the `make bench` capture.
//! glibc's arenas also kept the holes between long-lived entries, so the attacker had to call
//! `malloc_trim` every 2,048 sessions to keep the 10x capture's peak near the 1x one's; mimalloc,
//! purging freed pages at once, keeps it there by itself (16.6 MB against 14.4 MB, no trim).
//!
//! Why only the attacker: mimalloc reserves its address space in large arenas, which a core
//! file holds in full (lesson 11's `gcore` of the lab's server: ~70 MB or, with mimalloc's
//! defaults, ~1 GB, against 3 MB on glibc), and the servers, the tap and the mitm are what
//! lessons look at in memory: they keep the allocator real servers on Linux run with.
//!
//! The choice is made when the program is loaded, before any Rust code allocates, from the
//! command line glibc hands to `.init_array` functions (so on Linux with glibc only; elsewhere
//! every command runs on the system allocator); a block freed later goes back to the allocator
//! that owns it whatever the choice (`mi_is_in_heap_region`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

use libmimalloc_sys as mi;

/// The binary's global allocator (see the module docs).
pub struct LabAllocator;

/// New blocks come from mimalloc: set at load time for `pfslab attack`.
static ON_MIMALLOC: AtomicBool = AtomicBool::new(false);
/// mimalloc has handed out blocks in this process (never cleared).
static MIMALLOC_USED: AtomicBool = AtomicBool::new(false);

/// `MIMALLOC_USED` is set before `ON_MIMALLOC` (Release), and a thread that saw `ON_MIMALLOC`
/// (Acquire) sees `MIMALLOC_USED` too: no mimalloc block is ever freed as glibc's.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
fn choose_mimalloc(on: bool) {
    if on {
        MIMALLOC_USED.store(true, Ordering::Release);
    }
    ON_MIMALLOC.store(on, Ordering::Release);
}

fn on_mimalloc() -> bool {
    ON_MIMALLOC.load(Ordering::Acquire)
}

/// Whether `ptr` is mimalloc's: never unless mimalloc has been used.
fn from_mimalloc(ptr: *mut u8) -> bool {
    // SAFETY: mi_is_in_heap_region only compares the address with mimalloc's arenas.
    MIMALLOC_USED.load(Ordering::Acquire)
        && unsafe { mi::mi_is_in_heap_region(ptr as *const c_void) }
}

// SAFETY: each block is allocated, resized and freed by one allocator: new blocks by the one
// chosen at load time, old blocks by the one whose heap holds them; both uphold GlobalAlloc's
// contract for the layouts passed through.
unsafe impl GlobalAlloc for LabAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if on_mimalloc() {
            // SAFETY: as for mimalloc's own GlobalAlloc (mimalloc crate): any size and alignment.
            unsafe { mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8 }
        } else {
            // SAFETY: the caller's contract, passed on.
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if on_mimalloc() {
            // SAFETY: as in `alloc`.
            unsafe { mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8 }
        } else {
            // SAFETY: the caller's contract, passed on.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if from_mimalloc(ptr) {
            // SAFETY: `ptr` is a live mimalloc block (checked above), freed once by the caller.
            unsafe { mi::mi_free(ptr as *mut c_void) }
        } else {
            // SAFETY: the caller's contract, passed on; the block is System's.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if from_mimalloc(ptr) {
            // SAFETY: `ptr` is a live mimalloc block; mimalloc keeps the alignment asked for.
            unsafe {
                mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
            }
        } else {
            // SAFETY: the caller's contract, passed on; the block is System's.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }
}

/// `mi_option_arena_eager_commit`, `mi_option_purge_delay` and `mi_option_arena_reserve` (in
/// KiB) in mimalloc's `mi_option_t` (the same positions in its v2 and v3 headers,
/// `include/mimalloc.h`; libmimalloc-sys is pinned in Cargo.toml and the test below checks the
/// three options' defaults).
const ARENA_EAGER_COMMIT: mi::mi_option_t = 4;
const PURGE_DELAY: mi::mi_option_t = 15;
const ARENA_RESERVE: mi::mi_option_t = 23;

/// mimalloc's defaults keep freed pages a while (purged after 1 s; arenas committed eagerly):
/// ~47 MB peak on the bench capture against glibc's 13 MB. Purging at once and committing on
/// demand gives the same speed at ~15 MB.
#[cfg_attr(
    any(test, not(all(target_os = "linux", target_env = "gnu"))),
    allow(dead_code)
)]
fn configure_mimalloc() {
    // SAFETY: mi_option_set takes any option number and value; these are read on use, and no
    // block has been allocated yet.
    unsafe {
        mi::mi_option_set(ARENA_EAGER_COMMIT, 0);
        mi::mi_option_set(PURGE_DELAY, 0);
        mi::mi_option_set(ARENA_RESERVE, 64 * 1024);
    }
}

/// Runs when the program is loaded, before `main` and before Rust code allocates: glibc calls
/// `.init_array` functions with `main`'s argc and argv.
#[cfg(all(target_os = "linux", target_env = "gnu", not(test)))]
#[used]
#[link_section = ".init_array"]
static CHOOSE_AT_LOAD: extern "C" fn(
    std::ffi::c_int,
    *const *const std::ffi::c_char,
    *const *const std::ffi::c_char,
) = choose_at_load;

#[cfg(all(target_os = "linux", target_env = "gnu", not(test)))]
extern "C" fn choose_at_load(
    argc: std::ffi::c_int,
    argv: *const *const std::ffi::c_char,
    _envp: *const *const std::ffi::c_char,
) {
    if argc < 2 || argv.is_null() {
        return;
    }
    // SAFETY: glibc passes argv with argc entries, each a NUL-terminated string.
    let command = unsafe { *argv.add(1) };
    // SAFETY: as above; checked for null first.
    if !command.is_null() && unsafe { std::ffi::CStr::from_ptr(command) }.to_bytes() == b"attack" {
        configure_mimalloc();
        choose_mimalloc(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_numbers_are_the_ones_mimalloc_documents() {
        // mimalloc v3's defaults (src/options.c; the header's comment on purge_delay still says
        // 10): arena_eager_commit 2, purge_delay 1000 ms, arena_reserve 1 GiB in KiB. Unit tests
        // never configure mimalloc, and nothing sets MIMALLOC_* in the test environment.
        // SAFETY: reading an option has no precondition.
        let options = unsafe {
            (
                mi::mi_option_get(ARENA_EAGER_COMMIT),
                mi::mi_option_get(PURGE_DELAY),
                mi::mi_option_get(ARENA_RESERVE),
            )
        };
        assert_eq!(options, (2, 1000, 1024 * 1024));
    }

    #[test]
    fn blocks_go_back_to_their_own_allocator() {
        /// Back to glibc for new blocks when the test ends, even by a panic.
        struct BackToSystem;
        impl Drop for BackToSystem {
            fn drop(&mut self) {
                choose_mimalloc(false);
            }
        }
        let _back = BackToSystem;
        let layout = Layout::from_size_align(100, 16).expect("layout");
        // SAFETY: each block is allocated, used within its size and freed once.
        unsafe {
            let system = LabAllocator.alloc(layout);
            assert!(!system.is_null() && !from_mimalloc(system));
            choose_mimalloc(true);
            let mimalloc = LabAllocator.alloc(layout);
            assert!(from_mimalloc(mimalloc) && !from_mimalloc(system));
            let system = LabAllocator.realloc(system, layout, 5000);
            let mimalloc = LabAllocator.realloc(mimalloc, layout, 5000);
            assert!(from_mimalloc(mimalloc) && !from_mimalloc(system));
            system.write_bytes(1, 5000);
            mimalloc.write_bytes(2, 5000);
            let grown = Layout::from_size_align(5000, 16).expect("layout");
            LabAllocator.dealloc(system, grown);
            LabAllocator.dealloc(mimalloc, grown);
        }
    }
}
