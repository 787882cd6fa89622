//! One 64-bit page-table entry: the state of a page, its frame, protection and attributes.

use crate::flags::{Access, PageAttributes, Protection, ValidProtection};
use crate::phys::Pfn;

/// The state of one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageState {
    /// Not part of any reservation.
    Free,
    /// Reserved; the kind says how it reports and behaves.
    Reserved(ReserveKind),
    /// Committed: mapped to a frame.
    Committed,
}

/// How a reservation was made, which decides what its reserved pages do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReserveKind {
    /// Plain reservation: touching faults.
    Plain,
    /// `MEM_IMAGE`: reports `MEM_IMAGE`.
    Image,
    /// `MEM_AUTO_COMMIT`: the first touch commits a zeroed read/write page.
    AutoCommit,
}

/// A page-table entry.
///
/// Bits 0–2 state, 8–15 base access, 16 guard, 17 cache-disable, 18 write-through,
/// 19 "mapped" (the frame was placed by VirtualCopy, VirtualAllocCopyEx or a physical
/// mapping rather than committed fresh), 32–59 frame number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pte(u64);

const STATE_MASK: u64 = 0x7;
const ST_RESERVED: u64 = 1;
const ST_IMAGE: u64 = 2;
const ST_AUTO: u64 = 3;
const ST_COMMITTED: u64 = 4;
const ACCESS_SHIFT: u32 = 8;
const GUARD: u64 = 1 << 16;
const NOCACHE: u64 = 1 << 17;
const WRITE_THROUGH: u64 = 1 << 18;
const MAPPED: u64 = 1 << 19;
const PFN_SHIFT: u32 = 32;

impl Pte {
    /// The entry of a free page.
    pub const FREE: Pte = Pte(0);

    /// A reserved, uncommitted page.
    pub fn reserved(kind: ReserveKind) -> Self {
        Pte(match kind {
            ReserveKind::Plain => ST_RESERVED,
            ReserveKind::Image => ST_IMAGE,
            ReserveKind::AutoCommit => ST_AUTO,
        })
    }

    /// A committed page mapping `pfn` with `prot`; `mapped` marks a frame placed by a
    /// copy or physical mapping.
    pub fn committed(pfn: Pfn, prot: ValidProtection, mapped: bool) -> Self {
        let mut v = ST_COMMITTED | (pfn.0 << PFN_SHIFT) | ((prot.access as u64) << ACCESS_SHIFT);
        if prot.guard {
            v |= GUARD;
        }
        if prot.nocache {
            v |= NOCACHE;
        }
        if mapped {
            v |= MAPPED;
        }
        Pte(v)
    }

    /// The raw 64 bits (the window sync compares runs of entries with them).
    #[inline]
    pub(crate) fn bits(self) -> u64 {
        self.0
    }

    /// The page's state.
    pub fn state(self) -> PageState {
        match self.0 & STATE_MASK {
            ST_RESERVED => PageState::Reserved(ReserveKind::Plain),
            ST_IMAGE => PageState::Reserved(ReserveKind::Image),
            ST_AUTO => PageState::Reserved(ReserveKind::AutoCommit),
            ST_COMMITTED => PageState::Committed,
            _ => PageState::Free,
        }
    }

    /// The entry with its frame replaced.
    #[inline]
    pub fn with_pfn(self, pfn: Pfn) -> Self {
        Pte(self.0 & !(Pfn::MAX << PFN_SHIFT) | (pfn.0 & Pfn::MAX) << PFN_SHIFT)
    }

    /// Whether the page is committed, not a guard page, and its access byte is in
    /// `access_mask` (a set of `PAGE_*` base values): the one-compare test of hot walks.
    #[inline]
    pub fn committed_allowing(self, access_mask: u8) -> bool {
        // State, access byte and guard all sit in the low 32 bits: 32-bit lanes vectorise
        // on every x86-64.
        let low = self.0 as u32;
        (low & (STATE_MASK | GUARD) as u32 == ST_COMMITTED as u32)
            & ((low >> ACCESS_SHIFT) & u32::from(access_mask) != 0)
    }

    /// Whether the page is free.
    #[inline]
    pub fn is_free(self) -> bool {
        self.0 & STATE_MASK == 0
    }

    /// Whether the page is committed.
    #[inline]
    pub fn is_committed(self) -> bool {
        self.0 & STATE_MASK == ST_COMMITTED
    }

    /// The mapped frame of a committed page.
    #[inline]
    pub fn pfn(self) -> Pfn {
        Pfn(self.0 >> PFN_SHIFT & Pfn::MAX)
    }

    /// The base access of a committed page.
    pub fn access(self) -> Access {
        Access::from_bits(((self.0 >> ACCESS_SHIFT) & 0xFF) as u32).unwrap_or(Access::NoAccess)
    }

    /// Whether the page is an unconsumed guard page.
    pub fn guard(self) -> bool {
        self.0 & GUARD != 0
    }

    /// The entry with its guard flag cleared.
    pub fn without_guard(self) -> Self {
        Pte(self.0 & !GUARD)
    }

    /// Whether the frame was placed by a copy or physical mapping.
    pub fn mapped(self) -> bool {
        self.0 & MAPPED != 0
    }

    /// The cache attributes (VirtualSetAttributes).
    pub fn attributes(self) -> PageAttributes {
        let mut a = PageAttributes::empty();
        if self.0 & NOCACHE != 0 {
            a |= PageAttributes::CACHE_DISABLE;
        }
        if self.0 & WRITE_THROUGH != 0 {
            a |= PageAttributes::WRITE_THROUGH;
        }
        a
    }

    /// The entry with its cache attributes replaced.
    pub fn with_attributes(self, a: PageAttributes) -> Self {
        let mut v = self.0 & !(NOCACHE | WRITE_THROUGH);
        if a.contains(PageAttributes::CACHE_DISABLE) {
            v |= NOCACHE;
        }
        if a.contains(PageAttributes::WRITE_THROUGH) {
            v |= WRITE_THROUGH;
        }
        Pte(v)
    }

    /// The entry with a new protection: access, guard and cache-disable come from `prot`;
    /// write-through and the frame stay.
    pub fn with_protection(self, prot: ValidProtection) -> Self {
        let mut v = self.0 & !(0xFF << ACCESS_SHIFT | GUARD | NOCACHE);
        v |= (prot.access as u64) << ACCESS_SHIFT;
        if prot.guard {
            v |= GUARD;
        }
        if prot.nocache {
            v |= NOCACHE;
        }
        Pte(v)
    }

    /// The protection VirtualQuery reports (semantics.md §5.4 read-back); reserved and
    /// free pages report `PAGE_NOACCESS`.
    pub fn read_back(self) -> Protection {
        if !self.is_committed() {
            return Protection::NOACCESS;
        }
        let mut p = self.access().read_back();
        if self.guard() {
            p |= Protection::GUARD;
        }
        if self.0 & NOCACHE != 0 {
            p |= Protection::NOCACHE;
        }
        p
    }

    /// Whether two entries belong to the same VirtualQuery region: same state, protection,
    /// guard and cache bits.
    pub fn same_region(self, other: Pte) -> bool {
        // Equal but for the frame: the common case of a long region, one compare.
        (self.0 ^ other.0) & !(Pfn::MAX << PFN_SHIFT) == 0
            || (self.state() == other.state()
                && (!self.is_committed() || self.read_back() == other.read_back()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_round_trips_its_fields() {
        let prot = Protection::from_bits_retain(0x304).validate().unwrap();
        let e = Pte::committed(Pfn(0xFFF_FFFF), prot, true);
        assert_eq!(e.state(), PageState::Committed);
        assert_eq!(e.pfn(), Pfn(0xFFF_FFFF));
        assert_eq!(e.access(), Access::ReadWrite);
        assert!(e.guard() && e.mapped());
        assert_eq!(e.read_back().bits(), 0x304);
        assert_eq!(e.without_guard().read_back().bits(), 0x204);
        let wt = e.with_attributes(PageAttributes::WRITE_THROUGH);
        assert_eq!(wt.read_back().bits(), 0x104, "cache-disable cleared");
        assert_eq!(wt.attributes(), PageAttributes::WRITE_THROUGH);
        let ro = Protection::READONLY.validate().unwrap();
        assert_eq!(
            wt.with_protection(ro).attributes(),
            PageAttributes::WRITE_THROUGH
        );
    }
}
