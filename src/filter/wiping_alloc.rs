//! The filter's allocator: the system's, with every block overwritten with zeros before it goes
//! back. Secrets pass through many hands on their way to their wiped home: serde_json's scratch
//! buffer for a string with escapes (a private JWK given as JSON text), strings that grow and
//! move, messages formatted on the way, and per request the token, API key, password or body a
//! client sent. Wiping each copy where it is made would miss the ones made inside other crates;
//! wiping every block as it is freed leaves none of them behind once freed (memory never
//! freed, and the stack, are beyond it: SECURITY.md).
//!
//! What it costs: a `memory.fill` of each freed block, about the bytes a request allocated, and
//! moves of growing buffers as a fresh block, a copy and a wiped free instead of the system's
//! in-place growth: about 0.9 µs more for a cached token in V8 (docs/performance.md).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{compiler_fence, AtomicUsize, Ordering};

/// Extra bytes for the next allocation (0: none), armed by [`arm_slack`]: Kong's engine writes
/// a header map longer than the buffer it asks for (`abi::header_pairs`).
static ARMED: AtomicUsize = AtomicUsize::new(0);
/// The block that took the slack (0: none), its size, and how many of its first bytes its free
/// wipes: the host wrote no further, and the rest held zeros (every block is wiped when freed).
static SLACKED: AtomicUsize = AtomicUsize::new(0);
static SLACKED_SIZE: AtomicUsize = AtomicUsize::new(0);
static SLACKED_USED: AtomicUsize = AtomicUsize::new(0);

/// Gives the next allocation `slack` bytes more.
pub fn arm_slack(slack: usize) {
    ARMED.store(slack, Ordering::Relaxed);
}

/// Disarms; the address and size of the block that took the slack since [`arm_slack`], if one
/// did.
pub fn slacked() -> Option<(usize, usize)> {
    ARMED.store(0, Ordering::Relaxed);
    let at = SLACKED.load(Ordering::Relaxed);
    (at != 0).then(|| (at, SLACKED_SIZE.load(Ordering::Relaxed)))
}

/// Forgets the slacked block (one the host kept): the next armed allocation may take slack.
pub fn forget_slacked() {
    SLACKED.store(0, Ordering::Relaxed);
}

/// How many bytes of the slacked block's start its free must wipe.
pub fn set_slacked_used(used: usize) {
    SLACKED_USED.store(used, Ordering::Relaxed);
}

/// An allocator whose freed blocks are zeroed first.
pub struct Wiping<A>(pub A);

/// The zeroing, called through a pointer read volatile: the compiler then cannot see which
/// function runs, so it cannot treat the stores before a free as dead and drop them.
static ZERO: unsafe fn(*mut u8, usize) = zero;

/// # Safety
/// `ptr` points at `len` writable bytes.
unsafe fn zero(ptr: *mut u8, len: usize) {
    unsafe { ptr.write_bytes(0, len) };
}

/// Zeroes the block at `ptr` of `len` bytes.
///
/// # Safety
/// `ptr` points at `len` writable bytes.
unsafe fn wipe(ptr: *mut u8, len: usize) {
    let zero = unsafe { std::ptr::read_volatile(&ZERO) };
    unsafe { zero(ptr, len) };
    compiler_fence(Ordering::SeqCst);
}

unsafe impl<A: GlobalAlloc> GlobalAlloc for Wiping<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let slack = ARMED.swap(0, Ordering::Relaxed);
        if slack > 0 && SLACKED.load(Ordering::Relaxed) == 0 {
            let size = layout.size().saturating_add(slack);
            let Ok(wide) = Layout::from_size_align(size, layout.align()) else {
                return std::ptr::null_mut();
            };
            let block = unsafe { self.0.alloc(wide) };
            SLACKED.store(block as usize, Ordering::Relaxed);
            SLACKED_SIZE.store(size, Ordering::Relaxed);
            SLACKED_USED.store(size, Ordering::Relaxed);
            return block;
        }
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let mut len = layout.size();
        if SLACKED.load(Ordering::Relaxed) == ptr as usize {
            SLACKED.store(0, Ordering::Relaxed);
            len = SLACKED_USED.load(Ordering::Relaxed).min(len);
        }
        unsafe {
            wipe(ptr, len);
            self.0.dealloc(ptr, layout);
        }
    }

    /// A fresh block, the bytes copied, the old block wiped and freed: the system's `realloc`
    /// would leave the old bytes behind when it moves them.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        unsafe {
            let new = self.0.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}
