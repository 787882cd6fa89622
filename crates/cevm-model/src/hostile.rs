//! The argument values both generators (proptest strategies and the byte decoder) draw
//! from: edge sizes, layout edges, flag words valid and not.

use crate::spec::{mem, page};

/// Sizes at the edges: 0, 1, a page less one, a page, the largest positive int, the first
/// negative one, all ones, and a few just-around-a-block values.
pub const SIZES: &[u32] = &[
    0,
    1,
    0xFFF,
    0x1000,
    0x1001,
    0x2000,
    0xFFFF,
    0x1_0000,
    0x1_0001,
    0x10_0000,
    0x40_0000,
    0x1000_0000,
    0x3FFD_0000,
    0x3FFF_0000,
    0x4000_0000,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
];

/// Absolute addresses at layout, block and page edges.
pub const ADDRS: &[u32] = &[
    0,
    0x5000,
    0xFFFF,
    0x1_0000,
    0x1_0FFF,
    0x1_1000,
    0x2_0000,
    0x3FFF_0000,
    0x4000_0000,
    0x4001_0000,
    0x6000_0000,
    0x6FFF_F000,
    0x7000_0000,
    0x7000_1000,
    0x7FEF_F000,
    0x7FF0_0000,
    0x8000_0000,
    0x8000_1234,
    0x8040_0000,
    0x8100_0000,
    0xEFFF_0000,
    0xF000_0000,
    0xFFFF_F000,
    0xFFFF_FFFF,
];

/// Small offsets from a live address: page and block edges either side.
pub const OFFSETS: &[i32] = &[
    0, 0, 0, 1, -1, 0x10, 0x123, 0xFFF, 0x1000, 0x1001, -0x1000, 0x2000, 0x3000, 0xF000, 0x1_0000,
    -0x1_0000, 0x2_0000,
];

/// Valid protections, the common ones first.
pub const GOOD_PROTS: &[u32] = &[
    page::READWRITE,
    page::READWRITE,
    page::READONLY,
    page::NOACCESS,
    page::EXECUTE,
    page::EXECUTE_READ,
    page::EXECUTE_READWRITE,
    page::READWRITE | page::GUARD,
    page::READONLY | page::GUARD,
    page::READWRITE | page::NOCACHE,
    page::EXECUTE_READ | page::GUARD | page::NOCACHE,
];

/// Invalid protections (§1 examples and other bits).
pub const BAD_PROTS: &[u32] = &[
    0,
    page::WRITECOPY,
    page::EXECUTE_WRITECOPY,
    page::GUARD,
    page::NOCACHE,
    page::NOACCESS | page::GUARD,
    page::READONLY | page::READWRITE,
    page::PHYSICAL | page::READWRITE,
    0x800 | page::READWRITE,
    0xFFFF_FFFF,
];

/// Allocation types, valid and not.
pub const ALLOC_TYPES: &[u32] = &[
    mem::RESERVE,
    mem::COMMIT,
    mem::COMMIT,
    mem::RESERVE | mem::COMMIT,
    mem::RESERVE | mem::COMMIT,
    mem::RESERVE | mem::AUTO_COMMIT,
    mem::RESERVE | mem::IMAGE,
    mem::RESERVE | mem::TOP_DOWN,
    mem::COMMIT | mem::AUTO_COMMIT,
    mem::IMAGE | mem::AUTO_COMMIT,
    mem::IMAGE,
    mem::AUTO_COMMIT,
    0,
    mem::TOP_DOWN,
    mem::MAPPED | mem::RESERVE,
    mem::RESET | mem::COMMIT,
    mem::DECOMMIT,
    mem::RESERVE | 0x1,
];

/// Valid allocation types, the common ones first.
pub const GOOD_ALLOC_TYPES: &[u32] = &[
    mem::RESERVE,
    mem::COMMIT,
    mem::COMMIT,
    mem::RESERVE | mem::COMMIT,
    mem::RESERVE | mem::COMMIT,
    mem::RESERVE | mem::AUTO_COMMIT,
    mem::RESERVE | mem::IMAGE,
    mem::RESERVE | mem::COMMIT | mem::TOP_DOWN,
];

/// Offsets that stay near the start of a live region.
pub const NEAR: &[i32] = &[
    0, 0, 0, 0, 0x10, 0x123, 0x800, 0xFFC, 0xFFF, 0x1000, 0x1234, 0x2000, 0x2FFE,
];

/// VirtualFree types, valid and not.
pub const FREE_TYPES: &[u32] = &[
    mem::RELEASE,
    mem::RELEASE,
    mem::DECOMMIT,
    mem::DECOMMIT,
    mem::RELEASE | mem::DECOMMIT,
    0,
    mem::COMMIT,
    0xFFFF_FFFF,
];

/// Access masks for OpenProcess.
pub const ACCESS_MASKS: &[u32] = &[
    crate::spec::access::ALL_ACCESS,
    crate::spec::access::QUERY_INFORMATION,
    crate::spec::access::VM_OPERATION,
    crate::spec::access::VM_READ | crate::spec::access::VM_WRITE,
    crate::spec::access::TERMINATE,
    0,
    0xFFFF_FFFF,
];

/// Lock flags, valid and not.
pub const LOCK_FLAGS: &[u32] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 0xFFFF_FFFF];

/// CeVirtualSharedAlloc actions, valid and not.
pub const SHARED_ACTIONS: &[u32] = &[
    mem::RESERVE,
    mem::COMMIT,
    mem::RESERVE | mem::COMMIT,
    0,
    mem::IMAGE,
    mem::RESERVE | mem::DECOMMIT,
];

/// VirtualSetAttributes words (bits 0x08 write-through, 0x10 cache-disable, others
/// ignored).
pub const ATTRS: &[u32] = &[0, 0x08, 0x10, 0x18, 0x1F, 0xFFFF_FFFF];

/// AllocPhysMem alignment masks.
pub const ALIGNS: &[u32] = &[0, 0xFFF, 0x3FFF, 0xFFFF, 0xF_FFFF, 0xFFFF_FFFF];

/// VirtualQuery buffer lengths.
pub const QUERY_LENS: &[u32] = &[28, 28, 28, 28, 27, 0, 29, 0xFFFF_FFFF];

/// Raw handle values that name nothing (or the thread pseudo handle).
pub const BAD_HANDLES: &[u32] = &[0x41, 0x1234, 0xFFFF_FFFF, 0x0040_0000];

/// ArgumentDescriptors (§7): every valid type, with and without MARSHAL_FORCE_ALIAS, and
/// invalid values (ARG_DW, ARG_I_PDW, other low values, bit 31 on an invalid type).
pub const DESCS: &[u32] = &[
    0x4,
    0x4,
    0x8,
    0xC,
    0xC,
    0x5,
    0x6,
    0x9,
    0xA,
    0xD,
    0xE,
    0x8000_0004,
    0x8000_0008,
    0x8000_000C,
    0x8000_0005,
    0x8000_0006,
    0x8000_000D,
    0x0,
    0x7,
    0x1,
    0x3,
    0xB,
    0xF,
    0x10,
    0x14,
    0x8000_0000,
    0x8000_0007,
    0xFFFF_FFFF,
];

/// Byte counts for the helpers: around 520 (MARSHAL_CICO_SIZE), the PDW/PI64 sizes,
/// 64 KiB, and sizes no buffer can have.
pub const CBS: &[u32] = &[
    0,
    1,
    2,
    4,
    8,
    16,
    0x100,
    519,
    520,
    521,
    0x1000,
    0x1001,
    0x3000,
    0x1_0000,
    0x1_0001,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFF0,
    0xFFFF_FFFF,
];

/// Pointers around the bounds the helpers test: 0x10000, 0x70000000, 0x7FF00000 and
/// 0x80000000, plus the kernel static mapping.
pub const MARSHAL_ADDRS: &[u32] = &[
    0,
    0xFFFF,
    0x1_0000,
    0x6FFF_FDF8,
    0x6FFF_FE00,
    0x6FFF_FFFF,
    0x7000_0000,
    0x7000_0100,
    0x7FEF_FDF8,
    0x7FEF_FF00,
    0x7FF0_0000,
    0x7FFF_FFFF,
    0x8000_0000,
    0x8000_1000,
    0xFFFF_FF00,
];
