//! The Win32 constants of the CE memory calls, with the values of semantics.md §1.
//!
//! The typed API uses [`crate::Protection`], [`crate::AllocType`] and friends; these raw
//! values are what scripts and C callers pass.

/// Size of a page: 4 KiB.
pub const PAGE_SIZE: u32 = 0x1000;
/// Allocation granularity ("block"): 64 KiB, 16 pages.
pub const BLOCK_SIZE: u32 = 0x10000;
/// Pages in one block.
pub const PAGES_PER_BLOCK: u32 = BLOCK_SIZE / PAGE_SIZE;

/// The pseudo handle `GetCurrentProcess()` returns.
pub const CURRENT_PROCESS_HANDLE: u32 = 0x42;
/// The pseudo handle `GetCurrentThread()` returns.
pub const CURRENT_THREAD_HANDLE: u32 = 0x41;

/// `STATUS_ACCESS_VIOLATION`, raised for every faulting access (guard pages too).
pub const STATUS_ACCESS_VIOLATION: u32 = 0xC000_0005;
/// `STATUS_GUARD_PAGE_VIOLATION`: defined, but the CE kernel never raises it.
pub const STATUS_GUARD_PAGE_VIOLATION: u32 = 0x8000_0001;

/// Size of `MEMORY_BASIC_INFORMATION` on 32-bit CE.
pub const MEMORY_BASIC_INFORMATION_SIZE: u32 = 28;

/// `MARSHAL_CICO_SIZE` (2 × MAX_PATH): kernel-mode asynchronous buffers of at most this
/// cb are copied in and out, larger ones aliased (semantics.md §7.2).
pub const MARSHAL_CICO_SIZE: u32 = 520;

/// Every named constant of semantics.md (§1 and §7) as `(name, value)`, for front ends that
/// publish them (the script language, a C header).
pub const NAMED_CONSTANTS: &[(&str, u32)] = &[
    ("PAGE_NOACCESS", 0x01),
    ("PAGE_READONLY", 0x02),
    ("PAGE_READWRITE", 0x04),
    ("PAGE_WRITECOPY", 0x08),
    ("PAGE_EXECUTE", 0x10),
    ("PAGE_EXECUTE_READ", 0x20),
    ("PAGE_EXECUTE_READWRITE", 0x40),
    ("PAGE_EXECUTE_WRITECOPY", 0x80),
    ("PAGE_GUARD", 0x100),
    ("PAGE_NOCACHE", 0x200),
    ("PAGE_PHYSICAL", 0x400),
    ("MEM_COMMIT", 0x1000),
    ("MEM_RESERVE", 0x2000),
    ("MEM_DECOMMIT", 0x4000),
    ("MEM_RELEASE", 0x8000),
    ("MEM_FREE", 0x10000),
    ("MEM_PRIVATE", 0x20000),
    ("MEM_MAPPED", 0x40000),
    ("MEM_RESET", 0x80000),
    ("MEM_TOP_DOWN", 0x100000),
    ("MEM_AUTO_COMMIT", 0x200000),
    ("MEM_IMAGE", 0x1000000),
    ("LOCKFLAG_WRITE", 0x1),
    ("LOCKFLAG_QUERY_ONLY", 0x2),
    ("LOCKFLAG_READ", 0x4),
    ("PROCESS_TERMINATE", 0x0001),
    ("PROCESS_VM_OPERATION", 0x0008),
    ("PROCESS_VM_READ", 0x0010),
    ("PROCESS_VM_WRITE", 0x0020),
    ("PROCESS_QUERY_INFORMATION", 0x0400),
    ("PROCESS_ALL_ACCESS", 0x001F_0FFF),
    ("ERROR_SUCCESS", 0),
    ("ERROR_ACCESS_DENIED", 5),
    ("ERROR_INVALID_HANDLE", 6),
    ("ERROR_NOT_ENOUGH_MEMORY", 8),
    ("ERROR_BAD_LENGTH", 24),
    ("ERROR_SHARING_VIOLATION", 32),
    ("ERROR_NOT_SUPPORTED", 50),
    ("ERROR_INVALID_PARAMETER", 87),
    ("ERROR_INVALID_ADDRESS", 487),
    ("ERROR_NOACCESS", 998),
    ("STATUS_ACCESS_VIOLATION", STATUS_ACCESS_VIOLATION),
    ("STATUS_GUARD_PAGE_VIOLATION", STATUS_GUARD_PAGE_VIOLATION),
    ("ARG_DW", 0x0),
    ("ARG_I_PTR", crate::ArgDescriptor::I_PTR.0),
    ("ARG_I_WSTR", crate::ArgDescriptor::I_WSTR.0),
    ("ARG_I_ASTR", crate::ArgDescriptor::I_ASTR.0),
    ("ARG_I_PDW", 0x7),
    ("ARG_O_PTR", crate::ArgDescriptor::O_PTR.0),
    ("ARG_O_PDW", crate::ArgDescriptor::O_PDW.0),
    ("ARG_O_PI64", crate::ArgDescriptor::O_PI64.0),
    ("ARG_IO_PTR", crate::ArgDescriptor::IO_PTR.0),
    ("ARG_IO_PDW", crate::ArgDescriptor::IO_PDW.0),
    ("ARG_IO_PI64", crate::ArgDescriptor::IO_PI64.0),
    ("MARSHAL_FORCE_ALIAS", crate::ArgDescriptor::FORCE_ALIAS),
    ("MARSHAL_CICO_SIZE", MARSHAL_CICO_SIZE),
    ("S_OK", crate::HResult::S_OK.0),
    ("E_INVALIDARG", crate::HResult::E_INVALIDARG.0),
    ("E_ACCESSDENIED", crate::HResult::E_ACCESSDENIED.0),
    ("E_OUTOFMEMORY", crate::HResult::E_OUTOFMEMORY.0),
    (
        "VA_ATTR_WRITE_THROUGH",
        crate::PageAttributes::WRITE_THROUGH.bits(),
    ),
    (
        "VA_ATTR_CACHE_DISABLE",
        crate::PageAttributes::CACHE_DISABLE.bits(),
    ),
];
