//! The numbers and small rules of semantics.md §1 and §3, written out again from the spec
//! (not taken from the `cevm` crate), so the model shares no code with what it checks.

/// Page size (§1).
pub const PAGE: u32 = 0x1000;
/// Allocation granularity, a "block" (§1).
pub const BLOCK: u32 = 0x1_0000;

/// `PAGE_*` protection values (§1).
pub mod page {
    pub const NOACCESS: u32 = 0x01;
    pub const READONLY: u32 = 0x02;
    pub const READWRITE: u32 = 0x04;
    pub const WRITECOPY: u32 = 0x08;
    pub const EXECUTE: u32 = 0x10;
    pub const EXECUTE_READ: u32 = 0x20;
    pub const EXECUTE_READWRITE: u32 = 0x40;
    pub const EXECUTE_WRITECOPY: u32 = 0x80;
    pub const GUARD: u32 = 0x100;
    pub const NOCACHE: u32 = 0x200;
    pub const PHYSICAL: u32 = 0x400;
}

/// `MEM_*` allocation types (§1).
pub mod mem {
    pub const COMMIT: u32 = 0x1000;
    pub const RESERVE: u32 = 0x2000;
    pub const DECOMMIT: u32 = 0x4000;
    pub const RELEASE: u32 = 0x8000;
    pub const FREE: u32 = 0x1_0000;
    pub const PRIVATE: u32 = 0x2_0000;
    pub const MAPPED: u32 = 0x4_0000;
    pub const RESET: u32 = 0x8_0000;
    pub const TOP_DOWN: u32 = 0x10_0000;
    pub const AUTO_COMMIT: u32 = 0x20_0000;
    pub const IMAGE: u32 = 0x100_0000;
}

/// `LOCKFLAG_*` (§1).
pub mod lockflag {
    pub const WRITE: u32 = 0x1;
    pub const QUERY_ONLY: u32 = 0x2;
    pub const READ: u32 = 0x4;
}

/// `PROCESS_*` access rights (§1).
pub mod access {
    pub const TERMINATE: u32 = 0x0001;
    pub const VM_OPERATION: u32 = 0x0008;
    pub const VM_READ: u32 = 0x0010;
    pub const VM_WRITE: u32 = 0x0020;
    pub const QUERY_INFORMATION: u32 = 0x0400;
    pub const ALL_ACCESS: u32 = 0x001F_0FFF;
}

/// Win32 error codes (§1).
pub mod err {
    pub const ACCESS_DENIED: u32 = 5;
    pub const INVALID_HANDLE: u32 = 6;
    pub const NOT_ENOUGH_MEMORY: u32 = 8;
    pub const BAD_LENGTH: u32 = 24;
    pub const SHARING_VIOLATION: u32 = 32;
    pub const NOT_SUPPORTED: u32 = 50;
    pub const INVALID_PARAMETER: u32 = 87;
}

/// HRESULTs of the marshalling helpers (§7).
pub mod hr {
    pub const S_OK: u32 = 0;
    pub const E_INVALIDARG: u32 = 0x8007_0057;
    pub const E_ACCESSDENIED: u32 = 0x8007_0005;
    pub const E_OUTOFMEMORY: u32 = 0x8007_000E;

    /// HRESULT_FROM_WIN32(e) as §7 defines it: 0x80070000 | e.
    pub fn from_win32(e: u32) -> u32 {
        0x8007_0000 | e
    }
}

/// ArgumentDescriptor values (§7 "Descriptors").
pub mod arg {
    pub const DW: u32 = 0x0;
    pub const I_PTR: u32 = 0x4;
    pub const I_WSTR: u32 = 0x5;
    pub const I_ASTR: u32 = 0x6;
    pub const I_PDW: u32 = 0x7;
    pub const O_PTR: u32 = 0x8;
    pub const O_PDW: u32 = 0x9;
    pub const O_PI64: u32 = 0xA;
    pub const IO_PTR: u32 = 0xC;
    pub const IO_PDW: u32 = 0xD;
    pub const IO_PI64: u32 = 0xE;
    /// The O bit.
    pub const O_BIT: u32 = 0x8;
    /// MARSHAL_FORCE_ALIAS.
    pub const FORCE_ALIAS: u32 = 0x8000_0000;
    /// MARSHAL_CICO_SIZE: the 520-byte line of CeAllocAsynchronousBuffer (§7.2 3b).
    pub const CICO_SIZE: u32 = 520;
}

/// `STATUS_ACCESS_VIOLATION` (§1): raised for every faulting access, guard pages too.
pub const STATUS_ACCESS_VIOLATION: u32 = 0xC000_0005;

/// `GetCurrentProcess()` (§1).
pub const PSEUDO_PROCESS: u32 = 0x42;

/// VirtualSetAttributes bits (deviations.md, "Choices where the spec is silent"): x86 PWT.
pub const ATTR_WRITE_THROUGH: u32 = 0x08;
/// x86 PCD, the bit `PAGE_NOCACHE` sets.
pub const ATTR_CACHE_DISABLE: u32 = 0x10;

/// Layout addresses (§3).
pub const USER_BASE: u32 = 0x1_0000;
pub const DLL_BASE: u32 = 0x4000_0000;
pub const MAX_USER_ALLOC: u32 = 0x4000_0000;
pub const MAPPED_VIEWS: u32 = 0x6000_0000;
pub const SHARED_HEAP: u32 = 0x7000_0000;
pub const SHARED_HEAP_END: u32 = 0x7FF0_0000;
pub const KERNEL_BASE: u32 = 0x8000_0000;
pub const CPU_AREA: u32 = 0xF000_0000;
/// The read-only kernel-data page of every process (§2).
pub const KDATA_PAGE: u32 = 0x5000;
/// Size of MEMORY_BASIC_INFORMATION (§5.4).
pub const MBI_SIZE: u32 = 28;
/// NK.EXE's process id (deviations.md: the first value of the handle table).
pub const FIRST_HANDLE: u32 = 0x0040_0002;

/// The base access of a valid protection: its one low-byte bit.
pub fn base_access(prot: u32) -> u32 {
    prot & 0xFF
}

/// §1: a protection value is valid when its low byte has exactly one bit set, NOACCESS
/// stands alone, and no bit outside the six base values, GUARD and NOCACHE is set.
pub fn protection_valid(prot: u32) -> bool {
    let low = prot & 0xFF;
    let allowed = page::NOACCESS
        | page::READONLY
        | page::READWRITE
        | page::EXECUTE
        | page::EXECUTE_READ
        | page::EXECUTE_READWRITE
        | page::GUARD
        | page::NOCACHE;
    if low == 0 || low.count_ones() != 1 {
        return false;
    }
    if low == page::NOACCESS && prot != page::NOACCESS {
        return false;
    }
    prot & !allowed == 0
}

/// §1: after clearing TOP_DOWN, non-zero and a subset of {RESERVE, COMMIT, IMAGE, AUTO_COMMIT}.
pub fn alloc_type_valid(t: u32) -> bool {
    let t = t & !mem::TOP_DOWN;
    let allowed = mem::RESERVE | mem::COMMIT | mem::IMAGE | mem::AUTO_COMMIT;
    t != 0 && t & !allowed == 0
}

/// Reading is allowed by anything but NOACCESS (§6).
pub fn readable(access: u32) -> bool {
    access != page::NOACCESS
}

/// Writing needs a read-write protection (§1 groups, §6).
pub fn writable(access: u32) -> bool {
    access == page::READWRITE || access == page::EXECUTE_READWRITE
}

/// Executing needs an EXECUTE_* protection (§6).
pub fn executable(access: u32) -> bool {
    access == page::EXECUTE || access == page::EXECUTE_READ || access == page::EXECUTE_READWRITE
}

/// §5.4 read-back of a committed page's base access, without the modifiers.
pub fn read_back(access: u32) -> u32 {
    if access == page::EXECUTE {
        page::EXECUTE_READ
    } else {
        access
    }
}

/// §3 user pointer rule: `(int)n >= 0 && p >= 0x10000 && p + n < bound`.
fn user_range_ok(p: u32, n: u32, bound: u32) -> bool {
    (n as i32) >= 0 && p >= USER_BASE && u64::from(p) + u64::from(n) < u64::from(bound)
}

/// The user pointer rule for a range the call writes.
pub fn user_write_ok(p: u32, n: u32) -> bool {
    user_range_ok(p, n, SHARED_HEAP)
}

/// The user pointer rule for a range the call reads.
pub fn user_read_ok(p: u32, n: u32) -> bool {
    user_range_ok(p, n, SHARED_HEAP_END)
}

/// `a` rounded down to its page.
pub fn page_floor(a: u64) -> u64 {
    a & !u64::from(PAGE - 1)
}

/// `a` rounded down to its block.
pub fn block_floor(a: u64) -> u64 {
    a & !u64::from(BLOCK - 1)
}

/// `a` rounded up to a page.
pub fn page_ceil(a: u64) -> u64 {
    a.div_ceil(u64::from(PAGE)) * u64::from(PAGE)
}

/// `a` rounded up to a block.
pub fn block_ceil(a: u64) -> u64 {
    a.div_ceil(u64::from(BLOCK)) * u64::from(BLOCK)
}

/// §5 rounding: the pages covering the byte range `(a, n)` (`n >= 1`), as the first page
/// and the page count. Computed in 64 bits, so a range may run past 4 GiB.
pub fn page_span(a: u32, n: u32) -> (u64, u64) {
    page_span_u64(u64::from(a), u64::from(n))
}

/// [`page_span`] for 64-bit operands (`n` of 0 counts as 1).
pub fn page_span_u64(a: u64, n: u64) -> (u64, u64) {
    let first = page_floor(a);
    let last = page_floor(a + n.max(1) - 1);
    (first, (last - first) / u64::from(PAGE) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protection_rule_examples_from_the_spec() {
        for bad in [
            0,
            page::GUARD,
            page::NOCACHE,
            page::GUARD | page::NOACCESS,
            0x06,
            0x08,
            0x80,
        ] {
            assert!(!protection_valid(bad), "{bad:#x}");
        }
        for good in [0x01, 0x02, 0x04, 0x10, 0x20, 0x40, 0x104, 0x302] {
            assert!(protection_valid(good), "{good:#x}");
        }
        assert!(!protection_valid(page::PHYSICAL | page::READWRITE));
    }

    #[test]
    fn alloc_type_rule_examples_from_the_spec() {
        assert!(!alloc_type_valid(mem::TOP_DOWN));
        assert!(alloc_type_valid(mem::TOP_DOWN | mem::RESERVE));
        assert!(!alloc_type_valid(mem::MAPPED | mem::RESERVE));
        assert!(!alloc_type_valid(mem::RESET | mem::COMMIT));
        assert!(alloc_type_valid(
            mem::IMAGE | mem::AUTO_COMMIT | mem::COMMIT
        ));
    }

    #[test]
    fn page_span_rounds_both_ends() {
        assert_eq!(page_span(0x10FFF, 2), (0x10000, 2));
        assert_eq!(page_span(0xFFFF_F000, 0x2000), (0xFFFF_F000, 2));
    }
}
