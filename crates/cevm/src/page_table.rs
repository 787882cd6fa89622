//! A two-level page table over the 32-bit space: 1024 tables of 1024 entries, second
//! levels allocated on first write of a non-free entry.

use crate::pte::Pte;

const ENTRIES: usize = 1024;

type Leaf = [Pte; ENTRIES];

/// The page table of one address space.
pub struct PageTable {
    dirs: Box<[Option<Box<Leaf>>]>,
}

impl std::fmt::Debug for PageTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let leaves = self.dirs.iter().filter(|d| d.is_some()).count();
        write!(f, "PageTable {{ {leaves} second-level tables }}")
    }
}

impl Default for PageTable {
    fn default() -> Self {
        Self::new()
    }
}

fn split(va: u32) -> (usize, usize) {
    ((va >> 22) as usize, (va >> 12 & 0x3FF) as usize)
}

impl PageTable {
    /// An empty table: every page free.
    pub fn new() -> Self {
        Self {
            dirs: (0..ENTRIES).map(|_| None).collect(),
        }
    }

    /// The entry of the page holding `va`.
    #[inline]
    pub fn get(&self, va: u32) -> Pte {
        let (d, i) = split(va);
        match &self.dirs[d] {
            Some(leaf) => leaf[i],
            None => Pte::FREE,
        }
    }

    /// Sets the entry of the page holding `va`.
    #[inline]
    pub fn set(&mut self, va: u32, e: Pte) {
        let (d, i) = split(va);
        match &mut self.dirs[d] {
            Some(leaf) => leaf[i] = e,
            None if e.is_free() => {}
            slot @ None => {
                let mut leaf = Box::new([Pte::FREE; ENTRIES]);
                leaf[i] = e;
                *slot = Some(leaf);
            }
        }
    }

    /// Calls `f` with the address and entry of every page that is not free, in order.
    pub fn for_each_used(&self, mut f: impl FnMut(u32, Pte)) {
        for (d, leaf) in self.dirs.iter().enumerate() {
            let Some(leaf) = leaf else { continue };
            for (i, e) in leaf.iter().enumerate() {
                if !e.is_free() {
                    f(((d << 22) | (i << 12)) as u32, *e);
                }
            }
        }
    }

    /// Frees every second-level table (every page becomes free).
    pub fn clear(&mut self) {
        for d in self.dirs.iter_mut() {
            *d = None;
        }
    }
}
