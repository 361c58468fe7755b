//! The global allocator on wasm32: a small first-fit allocator with a sorted, coalescing free
//! list instead of std's dlmalloc (the client allocates little, strings crossing the boundary and
//! a few boxes, and runs on one thread; measured in docs/size.md). In debug builds, the ones the
//! browser suites run, it also counts the live allocations and their bytes, which the leak suite
//! reads (`live`); release builds count nothing.

use std::alloc::{GlobalAlloc, Layout};

type Inner = lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator>;

/// The allocator, with the count when `debug_assertions` are on.
struct Allocator {
    inner: Inner,
    #[cfg(debug_assertions)]
    count: std::cell::Cell<(usize, usize)>,
}

// SAFETY: wasm32-unknown-unknown without atomics runs this module on one thread only.
unsafe impl Sync for Allocator {}

#[global_allocator]
// SAFETY: as above, one thread.
static ALLOCATOR: Allocator = Allocator {
    inner: unsafe { Inner::new(lol_alloc::FreeListAllocator::new()) },
    #[cfg(debug_assertions)]
    count: std::cell::Cell::new((0, 0)),
};

// SAFETY: forwards to the inner allocator unchanged; the count is plain arithmetic on one thread.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = self.inner.alloc(layout);
        #[cfg(debug_assertions)]
        if !p.is_null() {
            let (n, bytes) = self.count.get();
            self.count.set((n + 1, bytes + layout.size()));
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        #[cfg(debug_assertions)]
        {
            let (n, bytes) = self.count.get();
            self.count.set((n - 1, bytes - layout.size()));
        }
        self.inner.dealloc(ptr, layout)
    }
}

/// How many allocations are live, and their bytes (debug builds; the leak suite reads it).
#[cfg(debug_assertions)]
pub fn live() -> (usize, usize) {
    ALLOCATOR.count.get()
}
