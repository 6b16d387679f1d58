//! A counting global allocator, for tests asserting that a hot path does not allocate.
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: mnemodb_testkit::alloc::CountingAlloc = mnemodb_testkit::alloc::CountingAlloc;
//!
//! let before = mnemodb_testkit::alloc::allocations();
//! hot_path();
//! assert_eq!(mnemodb_testkit::alloc::allocations(), before);
//! ```
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Forwards to [`System`], counting the allocations made by each thread.
#[derive(Debug)]
pub struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every method forwards to `System` with the caller's arguments, so `System`'s
// guarantees carry over; the thread-local counter is a `const`-initialised `Cell` and never
// allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` via `alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations made so far by the current thread (counted only while [`CountingAlloc`] is
/// the test binary's global allocator).
pub fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}
