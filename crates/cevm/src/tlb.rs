//! A thread's translation cache: the host address and allowed accesses of recently
//! touched pages, so a checked access that hits costs a generation load, a tag compare and
//! the load itself.
//!
//! Correctness rests on the kernel's translation generation: every page-table change that
//! takes access away bumps it (see `page_table.rs`), and an entry filled under an older
//! generation, or in an earlier context of the thread (another process or mode), never
//! matches. Only committed, non-guard pages are cached, so guard pages and auto-commit
//! pages always take the full path. 4096 direct-mapped slots give a reach of 16 MiB.

use std::cell::Cell;
use std::ptr::NonNull;

/// The entry allows reading.
pub(crate) const PERM_READ: u32 = 1;
/// The entry allows writing.
pub(crate) const PERM_WRITE: u32 = 2;
/// The entry allows executing.
pub(crate) const PERM_EXECUTE: u32 = 4;
const VALID: u32 = 8;

const SLOTS: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Page address | permission bits | VALID.
    tag: u32,
    /// The thread's context number when filled.
    context: u32,
    /// The kernel's translation generation when filled.
    generation: u64,
    /// Host address of the page's first byte (dangling in an entry never filled, which
    /// never matches).
    host: NonNull<u8>,
}

impl Entry {
    const ZERO: Entry = Entry {
        tag: 0,
        context: 0,
        generation: 0,
        host: NonNull::dangling(),
    };
}

// SAFETY: the host addresses point into the kernel's RAM arena and device buffers, which
// live as long as the kernel the owning Thread holds; moving the cache to another host
// thread moves no access to them, and the cache (made of Cells) is never shared.
unsafe impl Send for Tlb {}

/// A direct-mapped cache of page translations for one thread.
#[derive(Debug)]
pub(crate) struct Tlb {
    // A fixed-size array, so the slot index needs no bounds check on the hot path.
    entries: Box<[Cell<Entry>; SLOTS]>,
    context: Cell<u32>,
}

impl Tlb {
    pub fn new() -> Self {
        Self {
            entries: Box::new([const { Cell::new(Entry::ZERO) }; SLOTS]),
            context: Cell::new(0),
        }
    }

    /// Drops every entry, in O(1): entries of an earlier context never match.
    pub fn flush(&self) {
        let c = self.context.get().wrapping_add(1);
        if c == 0 {
            // After 2^32 context switches, really clear so no ancient entry can match.
            for e in self.entries.iter() {
                e.set(Entry::ZERO);
            }
        }
        self.context.set(c);
    }

    /// The host address of `len` bytes at `a` when they lie in one page cached under
    /// `generation` in the current context and allowing `perm`.
    #[inline]
    pub fn lookup(&self, generation: u64, a: u32, len: u32, perm: u32) -> Option<NonNull<u8>> {
        let off = a & 0xFFF;
        if off + len > 0x1000 {
            return None;
        }
        let e = self.entries[(a >> 12) as usize % SLOTS].get();
        let hit = e.tag & !0xFFF == a & !0xFFF
            && e.tag & (perm | VALID) == perm | VALID
            && e.generation == generation
            && e.context == self.context.get();
        // SAFETY: a filled entry's host address is a whole mapped frame and off < 4096, so
        // the result stays inside it (and is not null).
        hit.then(|| unsafe { e.host.add(off as usize) })
    }

    /// Caches the translation of the page holding `a`, filled under `generation`.
    pub fn insert(&self, generation: u64, a: u32, perms: u32, host: NonNull<u8>) {
        self.entries[(a >> 12) as usize % SLOTS].set(Entry {
            tag: (a & !0xFFF) | perms | VALID,
            context: self.context.get(),
            generation,
            host,
        });
    }
}
