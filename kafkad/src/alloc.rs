//! The broker's global allocator. It exists for one hazard: kafka-protocol
//! 0.18 sizes `Vec::with_capacity(count)` from array counts read off the
//! wire before decoding any element (upstream kafka-protocol-rs PRs #152,
//! #161, #200, unmerged), so a 14-byte request can ask for many GiB, and a
//! failed allocation aborts the process. Allocations of 1 GiB or more are
//! served by lazily committed anonymous mappings (MAP_NORESERVE): untouched
//! pages cost nothing, the decoder fails on the short buffer and the
//! mapping goes back. Everything else goes to the system allocator; no
//! legitimate allocation in kafkad comes near 1 GiB, and if one did it
//! would simply be ordinary memory.

use std::alloc::{GlobalAlloc, Layout, System};

const HUGE: usize = 1 << 30;
const PAGE: usize = 4096;

pub struct GuardedAlloc;

fn is_huge(size: usize, align: usize) -> bool {
    size >= HUGE && align <= PAGE
}

fn map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping touches no existing memory;
    // failure is reported as MAP_FAILED and turned into null.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        p.cast()
    }
}

// SAFETY: huge blocks come from mmap (page-aligned, zeroed) and go back
// with munmap of the same size; all others are the system allocator's.
unsafe impl GlobalAlloc for GuardedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_huge(layout.size(), layout.align()) {
            map(layout.size())
        } else {
            System.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_huge(layout.size(), layout.align()) {
            map(layout.size()) // anonymous mappings are zero-filled
        } else {
            System.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_huge(layout.size(), layout.align()) {
            libc::munmap(ptr.cast(), layout.size());
        } else {
            System.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !is_huge(layout.size(), layout.align()) && !is_huge(new_size, layout.align()) {
            return System.realloc(ptr, layout, new_size);
        }
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new = self.alloc(new_layout);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_blocks_are_lazy_mappings_that_behave_like_memory() {
        let a = GuardedAlloc;
        // 64 GiB: more than this machine has; only touched pages count.
        let layout = Layout::from_size_align(64 << 30, 8).expect("layout");
        unsafe {
            let p = a.alloc_zeroed(layout);
            assert!(!p.is_null());
            assert_eq!(*p.add(12345), 0);
            *p.add(12345) = 7;
            let q = a.realloc(p, layout, 2 << 30);
            assert_eq!(*q.add(12345), 7);
            let small = a.realloc(q, Layout::from_size_align(2 << 30, 8).expect("layout"), 64);
            assert_eq!(*small.add(12345 % 64), 0);
            a.dealloc(small, Layout::from_size_align(64, 8).expect("layout"));
        }
    }
}
