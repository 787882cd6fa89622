//! The scenarios of the conformance scripts (`shared/conformance/*.rhai`) as op sequences,
//! plus a tour of the calls the scripts do not reach. They seed the fuzz corpus
//! (`fuzz/seeds/`, written by `tests/seeds.rs`) and run as differential tests themselves.
//!
//! Returned pointers are [`Addr::Ret`]: `back: 0` is the latest address a call returned.
//! Every world has two user processes: `P::Nth(1)` is "app.exe", `P::Nth(2)` "udevice.exe".

use crate::model::{Mode, WorldConfig};
use crate::op::{Addr, H, Op, P, Phys, Src, Width};
use crate::spec::{access, lockflag, mem, page};

const APP: P = P::Nth(1);
const DRV: P = P::Nth(2);
const NK: P = P::Nth(0);
const HAPP: H = H::Pid(1);
const HDRV: H = H::Pid(2);

fn ret(back: u8, off: i32) -> Addr {
    Addr::Ret { back, off }
}

fn enter(pid: P, mode: Mode) -> Op {
    Op::Enter {
        pid,
        mode,
        caller: None,
    }
}

fn enter_for(pid: P, caller: P) -> Op {
    Op::Enter {
        pid,
        mode: Mode::Kernel,
        caller: Some(caller),
    }
}

fn alloc(n: u32, ty: u32, prot: u32) -> Op {
    alloc_at(Addr::Abs(0), n, ty, prot)
}

fn alloc_at(a: Addr, n: u32, ty: u32, prot: u32) -> Op {
    Op::VirtualAlloc {
        h: None,
        a,
        n,
        ty,
        prot,
    }
}

fn free(a: Addr, n: u32, ty: u32) -> Op {
    Op::VirtualFree { h: None, a, n, ty }
}

fn protect(a: Addr, n: u32, prot: u32) -> Op {
    Op::VirtualProtect {
        h: None,
        a,
        n,
        prot,
        old_null: false,
    }
}

fn query(a: Addr) -> Op {
    Op::VirtualQuery {
        h: None,
        a,
        len: 28,
    }
}

fn query_ex(h: H, a: Addr) -> Op {
    Op::VirtualQuery {
        h: Some(h),
        a,
        len: 28,
    }
}

fn read(a: Addr, width: Width) -> Op {
    Op::Read { a, width }
}

fn write(a: Addr, width: Width, seed: u32) -> Op {
    Op::Write { a, width, seed }
}

fn alloc_copy(hsrc: H, hdst: H, p: Addr, n: u32, prot: u32) -> Op {
    Op::VirtualAllocCopyEx {
        hsrc,
        hdst,
        p: Src::Virt(p),
        n,
        prot,
    }
}

fn copy(dst: Addr, src: Addr, n: u32, prot: u32) -> Op {
    Op::VirtualCopy {
        hs: None,
        dst,
        src: Src::Virt(src),
        n,
        prot,
    }
}

/// The world every scenario runs in: 4 MiB of RAM at 0, the standard device, app.exe
/// and udevice.exe.
pub fn world() -> WorldConfig {
    WorldConfig {
        ram_bytes: 4 << 20,
        ram_base: 0,
        devices: vec![(0x1000_0000, 0x4000)],
        processes: 2,
    }
}

/// Every scenario, by name (the conformance script's name, or `tour_*`).
pub fn all() -> Vec<(&'static str, Vec<Op>)> {
    vec![
        ("alloccopy_argument_checks", alloccopy_argument_checks()),
        ("alloccopy_basic_alias", alloccopy_basic_alias()),
        (
            "alloccopy_release_needs_block_base",
            alloccopy_release_needs_block_base(),
        ),
        (
            "alloccopy_unaligned_exposes_neighbours",
            alloccopy_unaligned_exposes_neighbours(),
        ),
        (
            "alloccopy_user_mode_not_supported",
            alloccopy_user_mode_not_supported(),
        ),
        ("guard_page_one_shot", guard_page_one_shot()),
        ("virtualalloc_placement", virtualalloc_placement()),
        (
            "virtualalloc_requested_size_rule",
            virtualalloc_requested_size_rule(),
        ),
        ("virtualcopy_rules", virtualcopy_rules()),
        ("virtualfree_forms", virtualfree_forms()),
        ("virtualprotect_rules", virtualprotect_rules()),
        ("virtualquery_fields", virtualquery_fields()),
        ("tour_kernel_calls", tour_kernel_calls()),
        ("tour_processes", tour_processes()),
        (
            "driver_marshals_caller_buffers",
            driver_marshals_caller_buffers(),
        ),
    ]
}

/// Issue 10's walk: a kernel-mode driver called by app.exe opens a buffer synchronously,
/// takes a large one asynchronously (an alias) and a small one (a copy), writes what the
/// caller sees, flushes and frees; then a user-mode driver duplicates the same buffers,
/// and the identity calls answer in each context.
fn driver_marshals_caller_buffers() -> Vec<Op> {
    use crate::spec::arg;
    let driver = Op::EnterContext {
        process: NK,
        mode: Mode::Kernel,
        vm: Some(APP),
        caller: Some(APP),
        owner: None,
    };
    // app.exe's first allocation is at 0x10000 (§3 placement).
    let (buf, small) = (Addr::Abs(0x1_0010), Addr::Abs(0x1_0100));
    vec![
        enter(APP, Mode::User),
        alloc(0x3000, mem::COMMIT, page::READWRITE),
        write(ret(0, 0x10), Width::N(0x40), 0x1234),
        Op::Ids,
        driver.clone(),
        Op::Ids,
        // Synchronous: an I/O buffer used in place.
        Op::CeOpenCallerBuffer {
            src: buf,
            cb: 0x40,
            desc: arg::IO_PTR,
            force: false,
        },
        Op::CeCloseCallerBuffer {
            dest: buf,
            src: buf,
            cb: 0x40,
            desc: arg::IO_PTR,
        },
        // Asynchronous, 0x2000 bytes: an alias; a write through it is the caller's.
        Op::CeAllocAsynchronousBuffer {
            src: buf,
            cb: 0x2000,
            desc: arg::IO_PTR,
        },
        write(ret(0, 0), Width::B4, 0xBEEF),
        Op::CeFlushAsynchronousBuffer {
            async_ptr: ret(0, 0),
            src: buf,
            src_unmarshalled: Addr::Abs(0),
            cb: 0x2000,
            desc: arg::IO_PTR,
        },
        Op::CeFreeAsynchronousBuffer {
            async_ptr: ret(0, 0),
            src: buf,
            cb: 0x2000,
            desc: arg::IO_PTR,
        },
        // Asynchronous, 520 bytes: a copy, written back by the flush and the free.
        Op::CeAllocAsynchronousBuffer {
            src: small,
            cb: 520,
            desc: arg::IO_PTR,
        },
        write(ret(0, 0), Width::N(8), 0xCAFE),
        Op::CeFlushAsynchronousBuffer {
            async_ptr: ret(0, 0),
            src: small,
            src_unmarshalled: Addr::Abs(0),
            cb: 520,
            desc: arg::IO_PTR,
        },
        // A mismatched free (cb larger than the duplicate) changes nothing.
        Op::CeFreeAsynchronousBuffer {
            async_ptr: ret(0, 0),
            src: small,
            cb: 521,
            desc: arg::IO_PTR | arg::FORCE_ALIAS,
        },
        Op::CeFreeAsynchronousBuffer {
            async_ptr: ret(0, 0),
            src: small,
            cb: 520,
            desc: arg::IO_PTR,
        },
        enter(APP, Mode::User),
        read(small, Width::N(16)),
        // A user-mode driver in udevice.exe called by app.exe: always a duplicate (its
        // first one is at 0x10010 in udevice.exe, so the source is 0x10020 here: a
        // duplicate at its source's address cannot be closed, see tests/regressions.rs).
        Op::EnterContext {
            process: DRV,
            mode: Mode::User,
            vm: None,
            caller: Some(APP),
            owner: None,
        },
        Op::Ids,
        Op::CeOpenCallerBuffer {
            src: Addr::Abs(0x1_0020),
            cb: 0x40,
            desc: arg::IO_PTR,
            force: false,
        },
        write(ret(0, 0), Width::B4, 7),
        Op::CeCloseCallerBuffer {
            dest: ret(0, 0),
            src: Addr::Abs(0x1_0020),
            cb: 0x40,
            desc: arg::IO_PTR,
        },
        Op::CeAllocDuplicateBuffer {
            src: Addr::Abs(0x1_0020),
            cb: 0,
            desc: arg::I_ASTR,
        },
        enter(APP, Mode::User),
        read(Addr::Abs(0x1_0020), Width::N(0x40)),
        Op::Sweep,
    ]
}

fn alloccopy_argument_checks() -> Vec<Op> {
    let mut ops = vec![
        enter(APP, Mode::User),
        alloc(0x1000, mem::COMMIT, page::READWRITE),
        enter(NK, Mode::Kernel),
        Op::OpenProcess {
            access: access::ALL_ACCESS,
            pid: DRV,
        },
        Op::CloseHandle { h: H::Opened(0) },
    ];
    let buf = ret(0, 0);
    let closed = H::Opened(0);
    for (hs, hd, p, n) in [
        (HAPP, HDRV, buf, 0),
        (HAPP, HDRV, buf, 0xFFFF_FFFF),
        (HAPP, HDRV, buf, 0x8000_0000),
        (HAPP, HDRV, Addr::Abs(0xF000), 16),
        (HAPP, closed, buf, 16),
        (closed, HDRV, buf, 16),
    ] {
        ops.push(Op::SetLastError(0));
        ops.push(alloc_copy(hs, hd, p, n, page::READWRITE));
    }
    ops
}

fn alloccopy_basic_alias() -> Vec<Op> {
    vec![
        enter(APP, Mode::User),
        alloc(0x3000, mem::COMMIT, page::READWRITE),
        write(ret(0, 0x123), Width::N(13), 0x6865_6c6c),
        enter_for(DRV, APP),
        alloc_copy(HAPP, HDRV, ret(0, 0x123), 13, page::READWRITE),
        read(ret(0, 0), Width::N(13)),
        write(ret(0, 0), Width::B1, 0x48),
        enter(APP, Mode::User),
        read(ret(1, 0x123), Width::B1),
        write(ret(1, 0x124), Width::B1, 0x45),
        enter(DRV, Mode::Kernel),
        read(ret(0, 1), Width::B1),
        Op::VirtualFree {
            h: Some(HDRV),
            a: ret(0, -0x123),
            n: 0,
            ty: mem::RELEASE,
        },
        query_ex(HDRV, ret(0, 0)),
        enter(APP, Mode::User),
        read(ret(1, 0x123), Width::B1),
    ]
}

fn alloccopy_release_needs_block_base() -> Vec<Op> {
    vec![
        enter(APP, Mode::User),
        alloc(0x1000, mem::COMMIT, page::READWRITE),
        enter_for(DRV, APP),
        alloc_copy(HAPP, HDRV, ret(0, 0x40), 0x80, page::READWRITE),
        Op::SetLastError(0),
        Op::VirtualFree {
            h: Some(HDRV),
            a: ret(0, 0),
            n: 0,
            ty: mem::RELEASE,
        },
        read(ret(0, 0), Width::B4),
        Op::VirtualFree {
            h: Some(HDRV),
            a: ret(0, -0x40),
            n: 0,
            ty: mem::RELEASE,
        },
        query_ex(HDRV, ret(0, 0)),
    ]
}

fn alloccopy_unaligned_exposes_neighbours() -> Vec<Op> {
    vec![
        enter(APP, Mode::User),
        alloc(0x2000, mem::COMMIT, page::READWRITE),
        write(ret(0, 0), Width::N(13), 1),
        write(ret(0, 0x100), Width::N(7), 2),
        write(ret(0, 0x107), Width::N(12), 3),
        write(ret(0, 0x1000), Width::N(9), 4),
        enter_for(DRV, APP),
        alloc_copy(HAPP, HDRV, ret(0, 0x100), 7, page::READONLY),
        read(ret(0, 0), Width::N(7)),
        read(ret(0, -0x100), Width::N(13)),
        read(ret(0, 7), Width::N(12)),
        query_ex(HDRV, ret(0, 0xF00)),
    ]
}

fn alloccopy_user_mode_not_supported() -> Vec<Op> {
    vec![
        enter(APP, Mode::User),
        alloc(0x1000, mem::COMMIT, page::READWRITE),
        enter(DRV, Mode::User),
        Op::SetLastError(0),
        alloc_copy(HAPP, HDRV, ret(0, 0), 0x1000, page::READWRITE),
        alloc(0x1000, mem::RESERVE, page::NOACCESS),
    ]
}

fn guard_page_one_shot() -> Vec<Op> {
    vec![
        enter(APP, Mode::User),
        alloc(0x1000, mem::COMMIT, page::READWRITE | page::GUARD),
        query(ret(0, 0)),
        write(ret(0, 8), Width::B1, 7),
        query(ret(0, 0)),
        write(ret(0, 8), Width::B1, 7),
        read(ret(0, 8), Width::B1),
    ]
}

fn virtualalloc_placement() -> Vec<Op> {
    vec![
        enter(APP, Mode::User),
        alloc(100, mem::RESERVE, page::NOACCESS),
        alloc(0x1_0001, mem::RESERVE, page::NOACCESS),
        alloc(0x1000, mem::COMMIT, page::READWRITE),
        free(Addr::Abs(0x1_0000), 0, mem::RELEASE),
        alloc(0x1000, mem::RESERVE, page::NOACCESS),
        Op::SetLastError(0),
        alloc_at(Addr::Abs(0x5_1000), 0x1000, mem::RESERVE, page::NOACCESS),
        alloc_at(Addr::Abs(0x5_0000), 0x1000, mem::RESERVE, page::NOACCESS),
        Op::SetLastError(0),
        alloc_at(Addr::Abs(0x5_0000), 0x1000, mem::RESERVE, page::NOACCESS),
    ]
}

fn virtualalloc_requested_size_rule() -> Vec<Op> {
    vec![
        enter(APP, Mode::User),
        alloc(100, mem::RESERVE, page::NOACCESS),
        Op::SetLastError(0),
        alloc_at(ret(0, 0), 4096, mem::COMMIT, page::READWRITE),
        alloc_at(ret(0, 0), 100, mem::COMMIT, page::READWRITE),
        write(ret(0, 96), Width::B4, 0x1234_5678),
        Op::SetLastError(0),
        protect(ret(0, 200), 4, page::READONLY),
        enter(APP, Mode::Kernel),
        alloc_at(ret(0, 0), 4096, mem::COMMIT, page::READONLY),
        read(ret(0, 96), Width::B4),
        query(ret(0, 0)),
    ]
}

fn virtualcopy_rules() -> Vec<Op> {
    vec![
        enter(APP, Mode::Kernel),
        alloc(0x2000, mem::COMMIT, page::READWRITE),
        write(ret(0, 0x10), Width::B4, 0xCAFE_F00D),
        alloc(0x2000, mem::RESERVE, page::NOACCESS),
        copy(ret(0, 0), ret(1, 0), 0x2000, page::READONLY),
        read(ret(0, 0x10), Width::B4),
        write(ret(1, 0x10), Width::B4, 0x1122_3344),
        read(ret(0, 0x10), Width::B4),
        query(ret(0, 0)),
        alloc(0x2000, mem::RESERVE, page::NOACCESS),
        Op::SetLastError(0),
        copy(ret(0, 0x10), ret(2, 0x20), 0x100, page::READWRITE),
        Op::SetLastError(0),
        copy(ret(2, 0), ret(1, 0), 0x1000, page::READWRITE),
        enter(APP, Mode::User),
        Op::SetLastError(0),
        copy(ret(0, 0), ret(2, 0), 0x1000, page::READWRITE),
    ]
}

fn virtualfree_forms() -> Vec<Op> {
    let b = ret(0, 0);
    let mut ops = vec![
        enter(APP, Mode::User),
        alloc(0x4000, mem::COMMIT, page::READWRITE),
    ];
    for (n, ty) in [
        (0x1000, mem::RELEASE),
        (0, mem::DECOMMIT),
        (0, mem::RELEASE | mem::DECOMMIT),
        (0x1000, 0),
    ] {
        ops.push(Op::SetLastError(0));
        ops.push(free(b, n, ty));
    }
    ops.extend([
        free(ret(0, 0x1000), 0x1000, mem::DECOMMIT),
        query(ret(0, 0x1000)),
        query(b),
        read(ret(0, 0x1000), Width::B1),
        Op::SetLastError(0),
        free(ret(0, 0x1000), 0, mem::RELEASE),
        free(b, 0, mem::RELEASE),
        query(b),
    ]);
    ops
}

fn virtualprotect_rules() -> Vec<Op> {
    let b = ret(0, 0);
    let mut ops = vec![
        enter(APP, Mode::User),
        alloc(0x2000, mem::COMMIT, page::READWRITE),
        write(b, Width::B1, 1),
        protect(b, 0x2000, page::READONLY),
        read(b, Width::B1),
        write(b, Width::B1, 2),
        protect(b, 0x1000, page::EXECUTE),
        query(b),
        protect(b, 0x1000, page::READWRITE | page::NOCACHE),
        query(b),
    ];
    for prot in [
        0,
        page::WRITECOPY,
        page::GUARD,
        page::NOCACHE,
        page::NOACCESS | page::GUARD,
        page::READONLY | page::READWRITE,
        page::PHYSICAL | page::READWRITE,
    ] {
        ops.push(Op::SetLastError(0));
        ops.push(protect(b, 0x1000, prot));
    }
    ops.extend([
        free(ret(0, 0x1000), 0x1000, mem::DECOMMIT),
        Op::SetLastError(0),
        protect(b, 0x2000, page::READONLY),
    ]);
    ops
}

fn virtualquery_fields() -> Vec<Op> {
    vec![
        enter(APP, Mode::User),
        alloc(0x5000, mem::RESERVE, page::NOACCESS),
        alloc_at(ret(0, 0x1000), 0x2000, mem::COMMIT, page::READWRITE),
        query(ret(1, 0x1234)),
        query(ret(1, 0)),
        query(ret(1, 0x3000)),
        query(ret(1, 0x5000)),
        Op::SetLastError(0),
        Op::VirtualQuery {
            h: None,
            a: ret(1, 0),
            len: 27,
        },
        Op::SetLastError(0),
        query(Addr::Abs(0x8000)),
    ]
}

/// Kernel-only calls the scripts do not reach: locks, physical memory, I/O space, page
/// attributes, the shared heap, auto-commit.
fn tour_kernel_calls() -> Vec<Op> {
    vec![
        enter(APP, Mode::Kernel),
        alloc(0x3000, mem::RESERVE | mem::AUTO_COMMIT, page::READWRITE),
        write(ret(0, 0x1FFE), Width::B4, 9),
        Op::LockPages {
            h: None,
            a: ret(0, 0x1000),
            n: 0x1800,
            flags: lockflag::WRITE,
        },
        protect(ret(0, 0x1000), 0x1000, page::READONLY),
        free(ret(0, 0), 0, mem::RELEASE),
        Op::UnlockPages {
            h: None,
            a: ret(0, 0x1000),
            n: 0x1800,
        },
        free(ret(0, 0), 0, mem::RELEASE),
        enter(NK, Mode::Kernel),
        Op::AllocPhysMem {
            n: 0x2000,
            prot: page::READWRITE,
            align: 0xFFFF,
            flags: 0,
            pa_null: false,
        },
        write(ret(0, 0x10), Width::B4, 5),
        Op::MmMapIoSpace {
            pa: Phys::Dev {
                dev: 0,
                frame: 1,
                off: 0x10,
            },
            n: 0x100,
            cached: false,
        },
        write(ret(0, 0), Width::B4, 6),
        Op::VirtualSetAttributes {
            h: None,
            a: ret(0, 0),
            n: 0x100,
            new: 0x08,
            mask: 0x18,
        },
        query(ret(0, 0)),
        Op::MmUnmapIoSpace {
            a: ret(0, 0),
            n: 0x100,
        },
        Op::CeVirtualSharedAlloc {
            a: Addr::Abs(0),
            n: 0x3000,
            action: mem::RESERVE,
        },
        Op::CeVirtualSharedAlloc {
            a: ret(0, 0x1000),
            n: 0x1000,
            action: mem::COMMIT,
        },
        write(ret(0, 0x1000), Width::B4, 7),
        enter(APP, Mode::User),
        read(ret(1, 0x1000), Width::B4),
        write(ret(1, 0x1000), Width::B4, 8),
        enter(NK, Mode::Kernel),
        Op::FreePhysMem { a: ret(3, 0) },
        Op::VirtualCopy {
            hs: None,
            dst: ret(0, 0),
            src: Src::Phys(Phys::Ram { frame: 3, off: 0 }),
            n: 0x1000,
            prot: page::PHYSICAL | page::READWRITE,
        },
        Op::GlobalMemoryStatus,
        Op::Sweep,
    ]
}

/// Handles and processes: query-only and closed handles, remote memory, termination
/// with aliases left behind.
fn tour_processes() -> Vec<Op> {
    vec![
        enter(APP, Mode::User),
        alloc(0x2000, mem::COMMIT, page::READWRITE),
        write(ret(0, 0x20), Width::N(32), 11),
        Op::OpenProcess {
            access: access::QUERY_INFORMATION,
            pid: APP,
        },
        query_ex(H::Opened(0), ret(0, 0)),
        Op::VirtualAlloc {
            h: Some(H::Opened(0)),
            a: Addr::Abs(0),
            n: 0x1000,
            ty: mem::COMMIT,
            prot: page::READWRITE,
        },
        Op::ReadProcessMemory {
            h: H::Opened(0),
            a: ret(0, 0),
            n: 0x40,
        },
        Op::OpenProcess {
            access: access::VM_READ | access::VM_WRITE,
            pid: APP,
        },
        Op::WriteProcessMemory {
            h: H::Opened(1),
            a: ret(0, 0x1FF0),
            len: 0x20,
            seed: 12,
        },
        Op::ReadProcessMemory {
            h: H::Opened(1),
            a: ret(0, 0x10),
            n: 0x40,
        },
        Op::CloseHandle { h: H::Opened(1) },
        Op::ReadProcessMemory {
            h: H::Opened(1),
            a: ret(0, 0),
            n: 4,
        },
        // The last error is per thread: the other thread has its own, and its own context.
        Op::SwitchThread,
        Op::Ids,
        Op::VirtualQuery {
            h: None,
            a: Addr::Abs(0x8000),
            len: 28,
        },
        Op::SwitchThread,
        Op::Ids,
        enter_for(DRV, APP),
        alloc_copy(HAPP, HDRV, ret(0, 0x20), 0x20, page::READWRITE),
        Op::TerminateProcess { h: HAPP },
        read(ret(0, 0), Width::N(0x20)),
        query_ex(HAPP, ret(1, 0)),
        Op::Ids,
        Op::GlobalMemoryStatus,
        Op::Sweep,
    ]
}
