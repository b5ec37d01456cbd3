//! The broker's global allocator: the system allocator, except that very
//! large requests are served by `mmap` with `MAP_NORESERVE`.
//!
//! Why: kafka-protocol decodes an array by calling `Vec::with_capacity(n)`
//! with the count read off the wire, before it finds that the frame holds
//! far fewer elements. A hostile count of 2^31 asks for hundreds of GiB; the
//! system allocator refuses, and Rust aborts the process on allocation
//! failure. Served from an unreserved mapping, such a request only reserves
//! address space: no page is touched before the decoder fails on the short
//! frame, the mapping is unmapped, and the connection is closed. Frames
//! themselves are bounded by `socket.request.max.bytes` before decoding.

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations at least this large bypass the system allocator.
const HUGE_ALLOCATION_BYTES: usize = 1 << 30;
const PAGE_BYTES: usize = 4096;

pub struct BrokerAllocator;

fn is_huge(layout: &Layout) -> bool {
    layout.size() >= HUGE_ALLOCATION_BYTES && layout.align() <= PAGE_BYTES
}

unsafe fn map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping with no address hint.
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

unsafe impl GlobalAlloc for BrokerAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_huge(&layout) {
            unsafe { map(layout.size()) }
        } else {
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_huge(&layout) {
            // Anonymous mappings are zero-filled.
            unsafe { map(layout.size()) }
        } else {
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_huge(&layout) {
            // SAFETY: `ptr` came from `map` with this size.
            unsafe { libc::munmap(ptr.cast(), layout.size()) };
        } else {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if !is_huge(&layout) && !is_huge(&new_layout) {
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        if is_huge(&layout) && is_huge(&new_layout) {
            // SAFETY: `ptr` is a mapping of `layout.size()` bytes from `map`;
            // moving it copies no page contents.
            let p = unsafe { libc::mremap(ptr.cast(), layout.size(), new_size, libc::MREMAP_MAYMOVE) };
            return if p == libc::MAP_FAILED {
                std::ptr::null_mut()
            } else {
                p.cast()
            };
        }
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller of the two sizes.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_reservations_cost_no_memory() {
        let a = BrokerAllocator;
        // 64 GiB: more than this machine has; only address space is reserved.
        let layout = Layout::from_size_align(64 << 30, 8).unwrap();
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            *p = 7;
            let p = a.realloc(p, layout, 128 << 30);
            assert_eq!(*p, 7);
            a.dealloc(p, Layout::from_size_align(128 << 30, 8).unwrap());
        }
    }
}
