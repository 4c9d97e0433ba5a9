//! The `nvprobe` binary's memory allocator: power-of-two size classes from 16 bytes to 256 KiB,
//! recycled through one free list per class. Blocks up to 4 KiB are carved from 64 KiB chunks;
//! a larger class block is taken from the system allocator (musl's) one at a time. Anything
//! larger than 256 KiB or more aligned than 16 bytes goes to the system allocator directly.
//!
//! Why: a run is one short process making thousands of small allocations (paths, strings,
//! JSON). musl's allocator spent about a third of a fixture run's instructions and ~150
//! `mmap`/`munmap` calls on them (callgrind and strace, issue 11). Here an allocation is a
//! list pop or a pointer bump and a free a list push. Memory is never handed back to the
//! kernel before exit, so the peak stays close to the live size rounded up to the classes.
//! That matters most for the blocks of 4 to 256 KiB (the rendered report, directory
//! buffers): musl maps each one and unmaps it when freed, and once the watchdog thread exists
//! every `munmap` also flushes the other CPU's TLB (~4% of a fixture run, `perf`).
//!
//! # Safety
//! Every block handed out is `16 << class` bytes, 16-aligned, inside a chunk or a large class
//! block the system allocator gave us and that is never freed; a block is owned by exactly one caller between `alloc`
//! and `dealloc`, and while it is on a free list its first 8 bytes hold the next free block.
//! The state is reached only under the spin lock, so the two threads of a run never race on
//! it. The class of a block is recomputed from the `Layout` the caller passes back, which
//! `GlobalAlloc` requires to be the one it was allocated with.
#![allow(unsafe_code)]
// The release profile optimises for size (opt-level "z"), which leaves these few-instruction
// helpers as calls on every allocation; measured with callgrind (see `State::take`).
#![allow(clippy::inline_always)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

/// Size classes: 16, 32, ..., 256 KiB.
const CLASSES: usize = 15;
/// Classes below this are carved from chunks (16 bytes to 4 KiB); the others are taken from
/// the system allocator one block at a time.
const CHUNK_CLASSES: usize = 9;
/// The largest block served from the classes.
const MAX_SMALL: usize = 16 << (CLASSES - 1);
/// The alignment of every class block.
const ALIGN: usize = 16;
/// The size of a chunk taken from the system allocator.
const CHUNK: usize = 64 * 1024;

/// The allocator; `#[global_allocator]` in `main.rs`.
pub struct Arena {
    locked: AtomicBool,
    state: UnsafeCell<State>,
}

struct State {
    free: [*mut u8; CLASSES],
    bump: usize,
    end: usize,
}

// SAFETY: `state` is only reached under `locked` (see `with_state`).
unsafe impl Sync for Arena {}

impl Arena {
    /// An empty allocator; chunks are taken on first use.
    pub const fn new() -> Self {
        Self {
            locked: AtomicBool::new(false),
            state: UnsafeCell::new(State {
                free: [ptr::null_mut(); CLASSES],
                bump: 0,
                end: 0,
            }),
        }
    }

    #[inline(always)]
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
        // SAFETY: the lock is held, so this is the only reference to the state.
        let state = unsafe { &mut *self.state.get() };
        let r = f(state);
        self.locked.store(false, Ordering::Release);
        r
    }
}

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

/// The class of a layout served here, `None` for the system allocator.
#[inline(always)]
fn class(layout: Layout) -> Option<usize> {
    if layout.size() > MAX_SMALL || layout.align() > ALIGN {
        return None;
    }
    // The bit length of `size - 1` is log2 of the class size; 16 bytes (2^4) is class 0.
    let bits = usize::BITS - (layout.size().max(ALIGN) - 1).leading_zeros();
    Some(bits as usize - ALIGN.trailing_zeros() as usize)
}

/// Where a block handed out by [`State::take`] came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Recycled from a free list, or carved from a chunk: its bytes are whatever they were.
    Reused,
    /// Freshly taken from the system allocator (zeroed if `zeroed` was asked).
    Fresh,
}

impl State {
    /// A block of `class`, or null when the system allocator refuses. `zeroed` only matters
    /// for a large class block taken fresh from the system (`calloc`'s fresh pages need no
    /// clearing); the caller clears anything [`Origin::Reused`]. The common cases (a list
    /// pop, a bump inside the chunk) are inlined; the rest is [`State::refill`].
    #[inline(always)]
    fn take(&mut self, class: usize, zeroed: bool) -> (*mut u8, Origin) {
        let Some(head) = self.free.get_mut(class) else {
            return (ptr::null_mut(), Origin::Fresh);
        };
        if !head.is_null() {
            let block = *head;
            // `block` is on the free list, so it is a live class block whose first 8 bytes
            // (16-aligned) hold the next free block.
            #[allow(clippy::cast_ptr_alignment)] // class blocks are 16-aligned
            let link = block.cast::<*mut u8>();
            // SAFETY: as above.
            *head = unsafe { link.read() };
            return (block, Origin::Reused);
        }
        let size = ALIGN << class;
        if class < CHUNK_CLASSES && self.end - self.bump >= size {
            let block = self.bump as *mut u8;
            self.bump += size;
            return (block, Origin::Reused);
        }
        self.refill(class, zeroed)
    }

    /// [`State::take`] when the class's list is empty and the chunk cannot hold the block: a
    /// large class block from the system, or a new chunk.
    #[cold]
    #[inline(never)]
    fn refill(&mut self, class: usize, zeroed: bool) -> (*mut u8, Origin) {
        let size = ALIGN << class;
        if class >= CHUNK_CLASSES {
            let Ok(layout) = Layout::from_size_align(size, ALIGN) else {
                return (ptr::null_mut(), Origin::Fresh);
            };
            // The block is never given back to the system: once freed it waits on its
            // class's list.
            let block = if zeroed {
                // SAFETY: `layout` has a non-zero size.
                unsafe { System.alloc_zeroed(layout) }
            } else {
                // SAFETY: as above.
                unsafe { System.alloc(layout) }
            };
            return (block, Origin::Fresh);
        }
        if self.end - self.bump < size {
            let chunk = Layout::from_size_align(CHUNK, ALIGN).unwrap_or(Layout::new::<u8>());
            // SAFETY: `chunk` has a non-zero size.
            let base = unsafe { System.alloc(chunk) };
            if base.is_null() {
                return (ptr::null_mut(), Origin::Fresh);
            }
            // The rest of the old chunk is left unused (at most 4 KiB per chunk).
            self.bump = base as usize;
            self.end = self.bump + CHUNK;
        }
        let block = self.bump as *mut u8;
        self.bump += size;
        (block, Origin::Reused)
    }

    #[inline(always)]
    fn give(&mut self, block: *mut u8, class: usize) {
        let Some(head) = self.free.get_mut(class) else {
            return;
        };
        #[allow(clippy::cast_ptr_alignment)] // class blocks are 16-aligned
        let link = block.cast::<*mut u8>();
        // SAFETY: the caller owned `block`, a class block of at least 16 bytes, 16-aligned;
        // it now holds the list link.
        unsafe { link.write(*head) };
        *head = block;
    }
}

// SAFETY: blocks are distinct, aligned and at least `layout.size()` long (module docs); the
// system allocator serves everything else with its own guarantees.
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class(layout) {
            Some(c) => self.with_state(|s| s.take(c, false)).0,
            // SAFETY: the caller's layout has a non-zero size (GlobalAlloc's contract).
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match class(layout) {
            Some(c) => {
                let (block, origin) = self.with_state(|s| s.take(c, true));
                if !block.is_null() && origin == Origin::Reused {
                    // SAFETY: `block` is at least `layout.size()` bytes and ours.
                    unsafe { block.write_bytes(0, layout.size()) };
                }
                block
            }
            // SAFETY: as in `alloc`; large zeroed blocks come straight from fresh pages.
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        match class(layout) {
            Some(c) => self.with_state(|s| s.give(block, c)),
            // SAFETY: `block` came from `System.alloc` with this layout (same class test).
            None => unsafe { System.dealloc(block, layout) },
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        match (class(layout), class(new_layout)) {
            (Some(old), Some(new)) if old == new => block,
            // SAFETY: `block` came from `System` with `layout`, and the new size stays there.
            (None, None) => unsafe { System.realloc(block, layout, new_size) },
            _ => {
                // SAFETY: `new_layout` has a non-zero size (GlobalAlloc's contract).
                let moved = unsafe { self.alloc(new_layout) };
                if !moved.is_null() {
                    // SAFETY: both blocks are live, distinct and at least this long.
                    unsafe { ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size)) };
                    // SAFETY: `block` was allocated here with `layout` and is no longer used.
                    unsafe { self.dealloc(block, layout) };
                }
                moved
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_sizes_and_alignments() {
        let l = |s, a| Layout::from_size_align(s, a).unwrap();
        assert_eq!(class(l(1, 1)), Some(0));
        assert_eq!(class(l(16, 8)), Some(0));
        assert_eq!(class(l(17, 8)), Some(1));
        assert_eq!(class(l(4096, 16)), Some(8));
        assert_eq!(class(l(4097, 1)), Some(9));
        assert_eq!(class(l(256 * 1024, 16)), Some(14));
        assert_eq!(class(l(256 * 1024 + 1, 1)), None);
        assert_eq!(class(l(8, 32)), None);
    }

    fn l(size: usize) -> Layout {
        Layout::from_size_align(size, 8).unwrap()
    }

    fn alloc(a: &Arena, size: usize) -> *mut u8 {
        // SAFETY: non-zero size.
        let p = unsafe { a.alloc(l(size)) };
        assert!(!p.is_null());
        p
    }

    fn fill(p: *mut u8, byte: u8, len: usize) {
        // SAFETY: callers pass a live block at least `len` long.
        unsafe { p.write_bytes(byte, len) };
    }

    fn bytes<'a>(p: *mut u8, len: usize) -> &'a [u8] {
        // SAFETY: callers pass a live, initialised block at least `len` long.
        unsafe { std::slice::from_raw_parts(p, len) }
    }

    fn free(a: &Arena, p: *mut u8, size: usize) {
        // SAFETY: `p` was allocated from `a` with `l(size)` and is not used again.
        unsafe { a.dealloc(p, l(size)) };
    }

    fn grow(a: &Arena, p: *mut u8, old: usize, new: usize) -> *mut u8 {
        // SAFETY: `p` was allocated from `a` with `l(old)`; `new` is non-zero.
        let q = unsafe { a.realloc(p, l(old), new) };
        assert!(!q.is_null());
        q
    }

    #[test]
    #[allow(clippy::many_single_char_names)]
    fn blocks_are_distinct_aligned_reused_and_survive_realloc() {
        let a = Arena::new();
        let p = alloc(&a, 24);
        let q = alloc(&a, 24);
        assert_ne!(p, q);
        assert_eq!(p as usize % ALIGN, 0);
        fill(p, 0xAB, 24);
        free(&a, p, 24);
        let r = alloc(&a, 20);
        assert_eq!(r, p, "a freed block of the class is handed out again");
        fill(r, 7, 20);
        let g = grow(&a, r, 20, 30);
        assert_eq!(g, r, "growth within the class stays in place");
        let big = grow(&a, g, 30, 10_000);
        assert_eq!(bytes(big, 20), &[7; 20]);
        let back = grow(&a, big, 10_000, 40);
        assert_eq!(bytes(back, 20), &[7; 20]);
        free(&a, back, 40);
        // SAFETY: non-zero size.
        let z = unsafe { a.alloc_zeroed(l(64)) };
        assert_eq!(bytes(z, 64), &[0; 64]);
        free(&a, z, 64);
        free(&a, q, 24);
        // Many chunks' worth, all distinct.
        let mut ps: Vec<_> = (0..100).map(|_| alloc(&a, 4000)).collect();
        ps.sort_unstable();
        ps.dedup();
        assert_eq!(ps.len(), 100);
        for p in ps {
            free(&a, p, 4000);
        }
    }

    #[test]
    #[allow(clippy::many_single_char_names)]
    fn large_class_blocks_are_reused_and_zeroed_when_asked() {
        let a = Arena::new();
        let big = 100 * 1024; // the 128 KiB class
        let p = alloc(&a, big);
        assert_eq!(p as usize % ALIGN, 0);
        fill(p, 0xCD, big);
        let q = alloc(&a, big);
        assert_ne!(p, q);
        free(&a, p, big);
        let r = alloc(&a, 70_000);
        assert_eq!(r, p, "a freed large block of the class is handed out again");
        // (Its first 8 bytes held the free-list link.)
        assert_eq!(&bytes(r, 16)[8..], &[0xCD; 8], "reused without clearing");
        free(&a, r, 70_000);
        // A zeroed block that is recycled is cleared; one fresh from the system is zero too.
        // SAFETY: non-zero size.
        let z = unsafe { a.alloc_zeroed(l(big)) };
        assert_eq!(z, p);
        assert!(bytes(z, big).iter().all(|&b| b == 0));
        // SAFETY: non-zero size.
        let fresh = unsafe { a.alloc_zeroed(l(big)) };
        assert!(bytes(fresh, big).iter().all(|&b| b == 0));
        // Growth across the large classes keeps the bytes; past 256 KiB the system serves it.
        fill(q, 9, big);
        let g = grow(&a, q, big, 300 * 1024);
        assert!(bytes(g, big).iter().all(|&b| b == 9));
        let back = grow(&a, g, 300 * 1024, 5000);
        assert!(bytes(back, 5000).iter().all(|&b| b == 9));
        free(&a, back, 5000);
        free(&a, z, big);
        free(&a, fresh, big);
    }
}
