//! The x86 Compact 2013 address-space layout (semantics.md §3) and the user pointer rule.

use crate::consts::BLOCK_SIZE;

/// Lowest address a process allocates at (`VM_USER_BASE`).
pub const USER_BASE: u32 = 0x0001_0000;
/// Start of the DLL area (`VM_DLL_BASE`); its first block is a reserved barrier.
pub const DLL_BASE: u32 = 0x4000_0000;
/// A user-mode VirtualAlloc/VirtualFree with an explicit address at or above this fails.
pub const MAX_USER_ALLOC: u32 = 0x4000_0000;
/// Start of the RAM-backed mapped-view area.
pub const MAPPED_VIEW_BASE: u32 = 0x6000_0000;
/// Start of the shared heap; every address at or above it lives in the kernel's tables.
pub const SHARED_HEAP_BASE: u32 = 0x7000_0000;
/// End of the shared heap (exclusive); the unmapped guard follows.
pub const SHARED_HEAP_END: u32 = 0x7FF0_0000;
/// Start of the kernel half and of the static mapping of RAM.
pub const KERNEL_BASE: u32 = 0x8000_0000;
/// Start of the CPU-specific, inaccessible top of the space.
pub const CPU_RESERVED_BASE: u32 = 0xF000_0000;
/// The page every process has committed read-only in its first block.
pub const KDATA_PAGE: u32 = 0x5000;

/// Largest RAM the layout can hold: the static mapping must end below the kernel VM area.
pub const MAX_RAM_BYTES: u64 = 0x4000_0000;

/// The layout of one kernel instance: fixed areas plus the RAM-dependent kernel half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// End (exclusive) of the kernel's static mapping of RAM.
    pub static_end: u32,
    /// Start of kernel virtual memory: `static_end` rounded up to 4 MiB.
    pub kernel_vm_start: u32,
}

/// One area of the layout table, used for placement and free-region reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    /// First address.
    pub start: u32,
    /// End (exclusive), as a u64 so the last area can end at 4 GiB.
    pub end: u64,
}

impl Layout {
    /// The layout for a RAM of `ram_bytes` (at most [`MAX_RAM_BYTES`]).
    pub fn new(ram_bytes: u64) -> Self {
        let static_end = (u64::from(KERNEL_BASE) + ram_bytes) as u32;
        let four_mib = 0x40_0000u64;
        let kernel_vm_start = u64::from(static_end).div_ceil(four_mib) * four_mib;
        Self {
            static_end,
            kernel_vm_start: kernel_vm_start as u32,
        }
    }

    /// Whether `a` lies in the kernel's static mapping of RAM.
    pub fn is_static(&self, a: u32) -> bool {
        (KERNEL_BASE..self.static_end).contains(&a)
    }

    /// The layout area that holds `a` (semantics.md §3 table).
    pub fn area_of(&self, a: u32) -> Area {
        let bounds: [u64; 10] = [
            0,
            u64::from(USER_BASE),
            u64::from(DLL_BASE),
            u64::from(MAPPED_VIEW_BASE),
            u64::from(SHARED_HEAP_BASE),
            u64::from(SHARED_HEAP_END),
            u64::from(KERNEL_BASE),
            u64::from(self.static_end),
            u64::from(CPU_RESERVED_BASE),
            1 << 32,
        ];
        let a64 = u64::from(a);
        let i = bounds.iter().rposition(|&b| b <= a64).unwrap_or(0);
        let end = bounds.get(i + 1).copied().unwrap_or(1 << 32);
        Area {
            start: bounds[i] as u32,
            end,
        }
    }

    /// The area a NULL-address reservation searches: `(start, end)` for a process
    /// (`kernel = false`) or the kernel.
    pub fn placement_area(&self, kernel: bool) -> (u32, u64) {
        if kernel {
            (self.kernel_vm_start, u64::from(CPU_RESERVED_BASE))
        } else {
            (USER_BASE, u64::from(MAX_USER_ALLOC))
        }
    }

    /// Whether an explicit reservation of `[a, a + len)` stays inside one area where
    /// reservations may be made: below the shared heap (one process's tables), the shared
    /// heap, or kernel virtual memory.
    pub fn reservable(&self, a: u32, len: u64) -> bool {
        let end = u64::from(a) + len;
        let inside = |s: u32, e: u64| a >= s && end <= e;
        inside(0, u64::from(SHARED_HEAP_BASE))
            || inside(SHARED_HEAP_BASE, u64::from(SHARED_HEAP_END))
            || inside(self.kernel_vm_start, u64::from(CPU_RESERVED_BASE))
    }
}

/// The user pointer rule (semantics.md §3): `(int)n >= 0 && p >= 0x10000 && p + n < bound`.
fn user_range_ok(p: u32, n: u32, bound: u32) -> bool {
    (n as i32) >= 0 && p >= USER_BASE && u64::from(p) + u64::from(n) < u64::from(bound)
}

/// Whether a user-mode caller may pass `(p, n)` for writing.
pub fn user_write_ok(p: u32, n: u32) -> bool {
    user_range_ok(p, n, SHARED_HEAP_BASE)
}

/// Whether a user-mode caller may pass `(p, n)` for reading.
pub fn user_read_ok(p: u32, n: u32) -> bool {
    user_range_ok(p, n, SHARED_HEAP_END)
}

/// `a` rounded down to its page.
pub fn page_floor(a: u32) -> u32 {
    a & !0xFFF
}

/// `a` rounded down to its block.
pub fn block_floor(a: u32) -> u32 {
    a & !(BLOCK_SIZE - 1)
}

/// The pages covering the byte range `(a, n)`: first page address and page count
/// (semantics.md §5 rounding). `n` must be non-zero; computed in u64 so it cannot overflow.
pub fn page_span(a: u32, n: u32) -> (u32, u32) {
    let first = u64::from(page_floor(a));
    let last = (u64::from(a) + u64::from(n.max(1)) - 1) & !0xFFF;
    (first as u32, ((last - first) / 0x1000 + 1) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_pointer_rule_bounds() {
        assert!(user_write_ok(0x10000, 0));
        assert!(!user_write_ok(0xFFFF, 1));
        assert!(user_write_ok(0x6FFF_F000, 0xFFF));
        assert!(
            !user_write_ok(0x6FFF_F000, 0x1000),
            "p + n must stay below 0x70000000"
        );
        assert!(user_read_ok(0x6FFF_F000, 0x1000));
        assert!(!user_read_ok(0x7FEF_F000, 0x1000));
        assert!(!user_write_ok(0x10000, 0x8000_0000), "(int)n < 0");
        assert!(!user_read_ok(0xFFFF_F000, 0x7FFF_FFFF), "no overflow");
    }

    #[test]
    fn kernel_vm_starts_at_the_static_end_rounded_to_4_mib() {
        let l = Layout::new(64 << 20);
        assert_eq!(l.static_end, 0x8400_0000);
        assert_eq!(l.kernel_vm_start, 0x8400_0000);
        let l = Layout::new(5 << 20);
        assert_eq!(l.static_end, 0x8050_0000);
        assert_eq!(l.kernel_vm_start, 0x8080_0000);
    }

    #[test]
    fn page_span_rounds_both_ends() {
        assert_eq!(page_span(0x10123, 13), (0x10000, 1));
        assert_eq!(page_span(0x10FFF, 2), (0x10000, 2));
        assert_eq!(page_span(0xFFFF_F000, 0x1000), (0xFFFF_F000, 1));
        assert_eq!(page_span(0xFFFF_FFFF, 0xFFFF_FFFF).0, 0xFFFF_F000);
    }

    #[test]
    fn areas_follow_the_table() {
        let l = Layout::new(64 << 20);
        assert_eq!(
            l.area_of(0x12345),
            Area {
                start: 0x10000,
                end: 0x4000_0000
            }
        );
        assert_eq!(l.area_of(0x7000_0000).end, 0x7FF0_0000);
        assert_eq!(l.area_of(0xFFFF_F000).end, 1 << 32);
        assert_eq!(
            l.area_of(0x9000_0000),
            Area {
                start: 0x8400_0000,
                end: 0xF000_0000
            }
        );
    }
}
