//! semantics.md §5.6 VirtualAllocCopyEx: every numbered step, the result address, the
//! reservation record, the aliased pages, physical / static / virtual sources, guard and
//! auto-commit pages, failure atomicity, release and frame accounting.
//!
//! Frame layout of a fresh default `World` (64 MiB at PA 0): frame 0 is app.exe's
//! kernel-data page, frame 1 udevice.exe's; every later commit takes the lowest free
//! frames in page order. Placement is deterministic: a fresh process's first NULL
//! reservation is at 0x10000, the kernel's at its VM start 0x84000000.

mod common;

use cevm::{AllocType, Config, ErrorCode, Handle, LockFlags, Mode, Pid, ProcessAccess, Protection};
use common::{RO, RW, World, assert_fails, h, q};

const PHYS_RW: Protection = Protection::PHYSICAL.union(Protection::READWRITE);

/// The byte every test buffer holds at address `a` of app.exe.
fn pattern(a: u32) -> u8 {
    ((a >> 12) as u8).wrapping_mul(31) ^ (a as u8)
}

/// A fresh world whose app.exe has `bytes` committed read/write at 0x10000 holding
/// `pattern`, with the thread in the driver context.
fn driver_with_buffer(bytes: u32) -> World {
    let mut w = World::new();
    w.app_buffer_with(bytes, pattern);
    w.driver();
    w
}

/// Queries, reads and releases as methods, so `w.q4_in(w.drv, ..)` borrows cleanly.
trait Ext {
    /// (state, protect, region size, allocation base) of a VirtualQueryEx.
    fn q4_in(&mut self, proc: Pid, a: u32) -> (AllocType, Protection, u32, u32);
    fn read(&self, a: u32, n: usize) -> Vec<u8>;
    fn release(&mut self, proc: Pid, base: u32);
}

impl Ext for World {
    fn q4_in(&mut self, proc: Pid, a: u32) -> (AllocType, Protection, u32, u32) {
        let i = self.q_in(proc, a);
        assert_eq!(i.base_address, a & !0xFFF);
        (i.state, i.protect, i.region_size, i.allocation_base)
    }

    fn read(&self, a: u32, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.t.read_bytes(a, &mut v).unwrap();
        v
    }

    fn release(&mut self, proc: Pid, base: u32) {
        self.t
            .virtual_free_ex(h(proc), base, 0, AllocType::RELEASE)
            .unwrap();
        self.check();
    }
}

fn expected(a: u32, n: u32) -> Vec<u8> {
    (a..a + n).map(pattern).collect()
}

fn alloc_copy(w: &mut World, p: u32, n: u32, prot: Protection) -> cevm::Result<u32> {
    let (app, drv) = (h(w.app), h(w.drv));
    w.t.virtual_alloc_copy_ex(app, drv, p, n, prot)
}

/// An alias of app.exe's `p`..`p + n` in udevice.exe that must succeed.
fn alias(w: &mut World, p: u32, n: u32, prot: Protection) -> u32 {
    let r = alloc_copy(w, p, n, prot).unwrap();
    w.check();
    r
}

// ---------------------------------------------------------------- step 1: hSrc

#[test]
fn alloccopy_unknown_source_handle_is_6() {
    let mut w = driver_with_buffer(0x1000);
    let before = w.snapshot();
    for bad in [
        Handle(0xDEAD_0000),
        Handle::NULL,
        Handle(0x41),
        Handle(0xFFFF_FFFF),
    ] {
        let drv = h(w.drv);
        assert_fails(
            w.t.virtual_alloc_copy_ex(bad, drv, 0x10000, 0x1000, RW),
            (ErrorCode::InvalidHandle, "5.6.1"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
}

#[test]
fn alloccopy_unknown_source_handle_is_6_even_in_user_mode() {
    let mut w = World::new();
    w.user(w.drv);
    let drv = h(w.drv);
    assert_fails(
        w.t.virtual_alloc_copy_ex(Handle(0xDEAD_0000), drv, 0x10000, 0x1000, RW),
        (ErrorCode::InvalidHandle, "5.6.1"),
        &w,
    );
}

#[test]
fn alloccopy_in_user_mode_is_50_and_changes_nothing() {
    let mut w = World::new();
    w.app_buffer_with(0x1000, pattern);
    w.user(w.drv);
    let before = w.snapshot();
    assert_fails(
        alloc_copy(&mut w, 0x10000, 0x1000, RW),
        (ErrorCode::NotSupported, "5.6.1"),
        &w,
    );
    // The kernel-only rule comes before the access mask: a handle without
    // PROCESS_VM_OPERATION still gives 50 in user mode.
    let weak = w.open(ProcessAccess::VM_READ, w.app);
    let drv = h(w.drv);
    assert_fails(
        w.t.virtual_alloc_copy_ex(weak, drv, 0x10000, 0x1000, RW),
        (ErrorCode::NotSupported, "5.6.1"),
        &w,
    );
    // ... and before the argument checks.
    assert_fails(
        alloc_copy(&mut w, 0x10000, 0, RW),
        (ErrorCode::NotSupported, "5.6.1"),
        &w,
    );
    w.t.close_handle(weak).unwrap();
    assert_eq!(w.snapshot(), before);
}

#[test]
fn alloccopy_source_handle_without_vm_operation_is_5() {
    let mut w = driver_with_buffer(0x1000);
    let weak = w.open(
        ProcessAccess::VM_READ | ProcessAccess::VM_WRITE | ProcessAccess::QUERY_INFORMATION,
        w.app,
    );
    let before = w.snapshot();
    let drv = h(w.drv);
    assert_fails(
        w.t.virtual_alloc_copy_ex(weak, drv, 0x10000, 0x1000, RW),
        (ErrorCode::AccessDenied, "5.6.1"),
        &w,
    );
    // The access mask is checked before the size (which would be 87).
    assert_fails(
        w.t.virtual_alloc_copy_ex(weak, drv, 0x10000, 0, RW),
        (ErrorCode::AccessDenied, "5.6.1"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    // The same process through a handle with PROCESS_VM_OPERATION works.
    let ok = w.open(ProcessAccess::VM_OPERATION, w.app);
    let p =
        w.t.virtual_alloc_copy_ex(ok, drv, 0x10000, 0x1000, RW)
            .unwrap();
    w.check();
    assert_eq!(p, 0x10000);
}

#[test]
fn alloccopy_dead_source_and_destination_handles_are_6() {
    let mut w = World::new();
    let victim = w.kernel.create_process("victim.exe").unwrap();
    w.user(victim);
    let b = w.t.virtual_alloc(0, 0x1000, AllocType::COMMIT, RW).unwrap();
    assert_eq!(b, 0x10000);
    w.driver();
    let opened = w.terminate_with_handle(victim);
    let before = w.snapshot();
    let (app, drv) = (h(w.app), h(w.drv));
    for dead in [h(victim), opened] {
        assert_fails(
            w.t.virtual_alloc_copy_ex(dead, drv, 0x10000, 0x1000, RW),
            (ErrorCode::InvalidHandle, "5.6.1"),
            &w,
        );
        assert_fails(
            w.t.virtual_alloc_copy_ex(app, dead, 0x10000, 0x1000, RW),
            (ErrorCode::InvalidHandle, "5.6.3"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
}

// ---------------------------------------------------------------- step 2: arguments

#[test]
fn alloccopy_non_positive_size_is_87() {
    let mut w = driver_with_buffer(0x1000);
    let before = w.snapshot();
    for n in [0, 0x8000_0000, 0xFFFF_FFFF, 0x8000_1000] {
        assert_fails(
            alloc_copy(&mut w, 0x10000, n, RW),
            (ErrorCode::InvalidParameter, "5.6.2"),
            &w,
        );
        assert_fails(
            alloc_copy(&mut w, 0x10000, n, PHYS_RW),
            (ErrorCode::InvalidParameter, "5.6.2"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
}

#[test]
fn alloccopy_source_below_0x10000_is_87_even_when_committed() {
    let mut w = World::new();
    w.driver();
    let before = w.snapshot();
    // 0x5000 is app.exe's committed read-only kernel-data page: still rejected.
    for p in [0, 0x5000, 0xFFFF] {
        assert_fails(
            alloc_copy(&mut w, p, 0x10, RO),
            (ErrorCode::InvalidParameter, "5.6.2"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
}

#[test]
fn alloccopy_physical_check_is_on_the_shifted_value_so_below_16_mib_is_87() {
    let mut w = World::new();
    w.driver();
    let before = w.snapshot();
    // p = 0x20 means PA 0x2000 (app's RAM); p = 0xFFFF means PA 0xFFFF00: both are
    // below 0x10000 as shifted values.
    for p in [0x20, 0xFFFF, 0] {
        assert_fails(
            alloc_copy(&mut w, p, 0x1000, PHYS_RW),
            (ErrorCode::InvalidParameter, "5.6.2"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
    // p = 0x10000 is PA 0x1000000 (16 MiB), a free RAM frame: accepted.
    let r = alias(&mut w, 0x10000, 0x1000, PHYS_RW);
    assert_eq!(r, 0x10000);
    assert_eq!(
        w.t.lock_pages(r, 0x1000, LockFlags::QUERY_ONLY).unwrap(),
        vec![0x100_0000]
    );
    w.check();
}

#[test]
fn alloccopy_invalid_protection_is_87() {
    let mut w = driver_with_buffer(0x1000);
    let before = w.snapshot();
    for bits in [
        0u32,
        0x08,
        0x80,
        0x100,
        0x200,
        0x101,
        0x201,
        0x06,
        0x03,
        0x400,
        0x408,
        0x800 | 0x04,
        0x1004,
        0xFF,
    ] {
        assert_fails(
            alloc_copy(&mut w, 0x10000, 0x1000, Protection::from_bits_retain(bits)),
            (ErrorCode::InvalidParameter, "5.6.2"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
}

#[test]
fn alloccopy_argument_checks_come_before_the_destination_handle() {
    let mut w = driver_with_buffer(0x1000);
    let app = h(w.app);
    let bad = Handle(0xDEAD_0000);
    let weak = w.open(ProcessAccess::VM_READ, w.drv);
    for dst in [bad, weak] {
        assert_fails(
            w.t.virtual_alloc_copy_ex(app, dst, 0x10000, 0, RW),
            (ErrorCode::InvalidParameter, "5.6.2"),
            &w,
        );
        assert_fails(
            w.t.virtual_alloc_copy_ex(app, dst, 0xFFFF, 0x1000, RW),
            (ErrorCode::InvalidParameter, "5.6.2"),
            &w,
        );
        assert_fails(
            w.t.virtual_alloc_copy_ex(app, dst, 0x10000, 0x1000, Protection::WRITECOPY),
            (ErrorCode::InvalidParameter, "5.6.2"),
            &w,
        );
    }
}

// ---------------------------------------------------------------- step 3: hDst

#[test]
fn alloccopy_invalid_destination_handle_is_6_and_without_vm_operation_is_5() {
    let mut w = driver_with_buffer(0x1000);
    let before = w.snapshot();
    let app = h(w.app);
    assert_fails(
        w.t.virtual_alloc_copy_ex(app, Handle(0xDEAD_0000), 0x10000, 0x1000, RW),
        (ErrorCode::InvalidHandle, "5.6.3"),
        &w,
    );
    let weak = w.open(ProcessAccess::VM_READ | ProcessAccess::VM_WRITE, w.drv);
    assert_fails(
        w.t.virtual_alloc_copy_ex(app, weak, 0x10000, 0x1000, RW),
        (ErrorCode::AccessDenied, "5.6.3"),
        &w,
    );
    // The destination's access check comes before placement (no room would be 8)
    // and before the source is touched (a missing source would be 8).
    assert_fails(
        w.t.virtual_alloc_copy_ex(app, weak, 0x10000, 0x7FFF_FFFF, RW),
        (ErrorCode::AccessDenied, "5.6.3"),
        &w,
    );
    assert_fails(
        w.t.virtual_alloc_copy_ex(app, weak, 0x30000, 0x1000, RW),
        (ErrorCode::AccessDenied, "5.6.3"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
}

#[test]
fn alloccopy_null_destination_is_the_kernel() {
    let mut w = driver_with_buffer(0x1000);
    let app = h(w.app);
    let r =
        w.t.virtual_alloc_copy_ex(app, Handle::NULL, 0x10123, 13, RW)
            .unwrap();
    w.check();
    // Kernel placement starts at the kernel VM start (0x84000000 for 64 MiB).
    assert_eq!(r, 0x8400_0123);
    let k = w.kernel.kernel_pid();
    assert_eq!(
        w.q4_in(k, 0x8400_0000),
        (AllocType::COMMIT, RW, 0x1000, 0x8400_0000)
    );
    // Any kernel-mode thread reaches it, whatever its active process.
    assert_eq!(w.read(r, 13), expected(0x10123, 13));
    w.nk();
    assert_eq!(w.read(r, 13), expected(0x10123, 13));
    // Nothing appeared in udevice.exe.
    assert_eq!(
        w.q4_in(w.drv, 0x10000).0,
        AllocType::FREE,
        "the alias is not in the active process"
    );
    w.release(k, 0x8400_0000);
}

#[test]
fn alloccopy_pseudo_handles_name_the_active_process() {
    let mut w = World::new();
    w.app_buffer_with(0x1000, pattern);
    // In app.exe's context, 0x42 as both source and destination: an alias of app's
    // buffer in app itself, in the next free block.
    w.kmode(w.app);
    let r =
        w.t.virtual_alloc_copy_ex(
            Handle::CURRENT_PROCESS,
            Handle::CURRENT_PROCESS,
            0x10010,
            0x10,
            RW,
        )
        .unwrap();
    w.check();
    assert_eq!(r, 0x20010);
    assert_eq!(w.read(r, 0x10), expected(0x10010, 0x10));
    // In udevice.exe's context 0x42 as destination is udevice.exe.
    w.driver();
    let app = h(w.app);
    let r2 =
        w.t.virtual_alloc_copy_ex(app, Handle::CURRENT_PROCESS, 0x10010, 0x10, RW)
            .unwrap();
    w.check();
    assert_eq!(r2, 0x10010);
    assert_eq!(
        w.q4_in(w.drv, 0x10000),
        (AllocType::COMMIT, RW, 0x1000, 0x10000)
    );
}

// ---------------------------------------------------------------- steps 4, 5, 9, 10

#[test]
fn alloccopy_result_keeps_the_source_low_16_bits() {
    // 0x12000 bytes: blocks 0x10000 and 0x20000 of app.exe.
    let mut w = driver_with_buffer(0x12000);
    // (p, n, expected result): B advances block by block in udevice.exe.
    // 1: bo = 0x0123, size 0x130 -> B = 0x10000.
    // 2: bo = 0xF800, size 0x10800 (two blocks) -> B = 0x20000.
    // 3: bo = 0, B = 0x40000 (the cursor moved to the end of the two blocks).
    // 4: bo = 0x1FFF, size 0x2000 -> B = 0x50000.
    for (p, n, want) in [
        (0x10123, 13, 0x10123),
        (0x1F800, 0x1000, 0x2F800),
        (0x20000, 0x1000, 0x40000),
        (0x11FFF, 1, 0x51FFF),
    ] {
        let r = alias(&mut w, p, n, RW);
        assert_eq!(r, want, "alias of 0x{p:08X}");
        assert_eq!(r & 0xFFFF, p & 0xFFFF);
        assert_eq!(w.read(r, n as usize), expected(p, n));
    }
}

#[test]
fn alloccopy_leading_pages_of_the_reservation_stay_reserved_noaccess() {
    let mut w = driver_with_buffer(0x12000);
    // p = 0x1F800: po = 0x800, bo = 0xF800. Reserve n + bo = 0x10800 bytes at
    // B = 0x10000; the two aliased pages start at B + (bo - po) = 0x1F000.
    let r = alias(&mut w, 0x1F800, 0x1000, RW);
    assert_eq!(r, 0x1F800);
    let drv = w.drv;
    let lead = w.q_in(drv, 0x10000);
    assert_eq!(lead.allocation_base, 0x10000);
    assert_eq!(lead.state, AllocType::RESERVE);
    assert_eq!(lead.protect, Protection::NOACCESS);
    assert_eq!(lead.region_size, 0xF000);
    assert_eq!(lead.kind, AllocType::PRIVATE);
    assert_eq!(
        w.q4_in(drv, 0x1E000),
        (AllocType::RESERVE, Protection::NOACCESS, 0x1000, 0x10000)
    );
    assert_eq!(
        w.q4_in(drv, 0x1F000),
        (AllocType::COMMIT, RW, 0x2000, 0x10000)
    );
    // The record ends at the page holding B + n + bo - 1 = 0x207FF.
    assert_eq!(w.q4_in(drv, 0x21000).0, AllocType::FREE);
    // A thread touching a leading page faults.
    let e = w.t.read_u8(0x1EFFF).unwrap_err();
    assert_eq!((e.code, e.address, e.write), (0xC000_0005, 0x1EFFF, false));
    // The aliased pages are app's 0x1F000 and 0x20000.
    assert_eq!(w.read(0x1F000, 0x2000), expected(0x1F000, 0x2000));
    // The next NULL reservation of udevice.exe goes after both blocks.
    let next =
        w.t.virtual_alloc(0, 0x1000, AllocType::RESERVE, Protection::NOACCESS)
            .unwrap();
    w.check();
    assert_eq!(next, 0x30000);
}

#[test]
fn alloccopy_aliases_ceil_of_n_plus_po_over_4096_pages() {
    let mut w = driver_with_buffer(0x4000);
    let drv = w.drv;
    // (p, n, pages). Every alias gets its own block: B = 0x10000, 0x20000, ...
    let cases = [
        (0x10FFF, 1, 1),
        (0x10FFF, 2, 2),
        (0x10000, 0x1000, 1),
        (0x10000, 0x1001, 2),
        (0x11800, 0x1800, 2),
        (0x11800, 0x1801, 3),
        (0x10001, 0x2FFF, 3),
        (0x10001, 0x3000, 4),
    ];
    for (i, (p, n, pages)) in cases.into_iter().enumerate() {
        let b = 0x10000 * (i as u32 + 1);
        let r = alias(&mut w, p, n, RO);
        assert_eq!(r, b + (p & 0xFFFF));
        let first = r & !0xFFF;
        assert_eq!(
            w.q4_in(drv, first),
            (AllocType::COMMIT, RO, pages * 0x1000, b),
            "alias of 0x{p:X}+0x{n:X}"
        );
        assert_eq!(
            w.q4_in(drv, first + pages * 0x1000).0,
            AllocType::FREE,
            "nothing after the last aliased page"
        );
        let whole = (pages * 0x1000) as usize;
        assert_eq!(w.read(first, whole), expected(p & !0xFFF, pages * 0x1000));
    }
}

#[test]
fn alloccopy_record_is_b_and_n_plus_bo() {
    let mut w = driver_with_buffer(0x3000);
    let drv = h(w.drv);
    // p = 0x11FF0: po = 0xFF0, bo = 0x1FF0, n = 0x20: record {0x10000, 0x2010}.
    let r = alias(&mut w, 0x11FF0, 0x20, RW);
    assert_eq!(r, 0x11FF0);
    let region = w
        .kernel
        .regions(w.drv)
        .into_iter()
        .find(|g| g.start == 0x11000)
        .unwrap();
    assert_eq!(region.reservation, Some((0x10000, 0x2010)));
    // Protect ranges must lie inside [B, B + n + bo) = [0x10000, 0x12010).
    assert_eq!(
        w.t.virtual_protect_ex(drv, r, 0x20, RO).unwrap(),
        RW,
        "the requested bytes are inside the record"
    );
    w.check();
    let before = w.snapshot();
    assert_fails(
        w.t.virtual_protect_ex(drv, r, 0x21, RW),
        (ErrorCode::InvalidParameter, "5.3.2"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    // Byte 0x12010 is in a mapped page but outside the record's requested size.
    assert_fails(
        w.t.virtual_protect_ex(drv, 0x12010, 1, RW),
        (ErrorCode::InvalidParameter, "5.3.2"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    assert_eq!(
        w.t.virtual_protect_ex(drv, 0x11000, 0x1010, RW).unwrap(),
        RO
    );
    w.check();
}

#[test]
fn alloccopy_release_needs_the_masked_base() {
    let mut w = World::new();
    w.app_buffer_with(0x3000, pattern);
    let start = w.free_frames();
    w.driver();
    // p = 0x12345: B = 0x10000, the aliased page is 0x12000, the result 0x12345.
    let r = alias(&mut w, 0x12345, 0x10, RW);
    assert_eq!(r, 0x12345);
    assert_eq!(w.free_frames(), start, "an alias takes no new frame");
    let drv = h(w.drv);
    let before = w.snapshot();
    for wrong in [r, r & !0xFFF, r + 1, 0x10001, 0x11000] {
        assert_fails(
            w.t.virtual_free_ex(drv, wrong, 0, AllocType::RELEASE),
            (ErrorCode::InvalidParameter, "5.2.3"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
    w.t.virtual_free_ex(drv, r & !0xFFFF, 0, AllocType::RELEASE)
        .unwrap();
    w.check();
    assert_eq!(w.q4_in(w.drv, 0x10000).0, AllocType::FREE);
    // app's buffer keeps its frame and data.
    assert_eq!(w.free_frames(), start);
    w.user(w.app);
    assert_eq!(w.read(0x12345, 0x10), expected(0x12345, 0x10));
}

#[test]
fn alloccopy_release_with_the_result_works_when_its_low_16_bits_are_zero() {
    let mut w = driver_with_buffer(0x12000);
    let r = alias(&mut w, 0x20000, 0x1000, RW);
    assert_eq!(r, 0x10000);
    w.release(w.drv, r);
    assert_eq!(w.q4_in(w.drv, 0x10000).0, AllocType::FREE);
}

#[test]
fn alloccopy_writes_through_the_alias_reach_the_source_and_back() {
    let mut w = driver_with_buffer(0x2000);
    let r = alias(&mut w, 0x10800, 0x1000, RW);
    assert_eq!(r, 0x10800);
    w.t.write_u32(r + 0x7FE, 0xA1B2_C3D4).unwrap(); // crosses the alias's page boundary
    w.check();
    w.user(w.app);
    assert_eq!(w.t.read_u32(0x10FFE).unwrap(), 0xA1B2_C3D4);
    w.t.write_u8(0x10800, 0x5A).unwrap();
    w.driver();
    assert_eq!(w.t.read_u8(r).unwrap(), 0x5A);
    w.check();
}

#[test]
fn alloccopy_alias_takes_the_requested_protection_not_the_sources() {
    let mut w = driver_with_buffer(0x1000);
    let drv = w.drv;
    // Read-only alias of a read/write page: writing through it faults.
    let r = alias(&mut w, 0x10000, 0x1000, RO);
    assert_eq!(w.q4_in(drv, r).1, RO);
    let e = w.t.write_u8(r, 1).unwrap_err();
    assert_eq!((e.address, e.write), (r, true));
    // Guard and no-cache modifiers are kept on the alias.
    let g = alias(
        &mut w,
        0x10000,
        0x1000,
        RW | Protection::GUARD | Protection::NOCACHE,
    );
    assert_eq!(g, 0x20000);
    assert_eq!(w.q4_in(drv, g).1.bits(), 0x304);
    assert!(
        w.t.read_u8(g).is_err(),
        "first touch of a guard page faults"
    );
    assert_eq!(w.t.read_u8(g).unwrap(), pattern(0x10000));
    assert_eq!(w.q4_in(drv, g).1.bits(), 0x204);
    // The source page is untouched by all this.
    assert_eq!(w.q4_in(w.app, 0x10000).1, RW);
}

#[test]
fn alloccopy_exposes_the_bytes_around_an_unaligned_source() {
    let mut w = driver_with_buffer(0x2000);
    // The caller asks for 13 bytes at 0x10123 and gets the whole page.
    let r = alias(&mut w, 0x10123, 13, RW);
    assert_eq!(r, 0x10123);
    assert_eq!(w.read(r - 0x123, 0x1000), expected(0x10000, 0x1000));
    // Not a byte more: the page before is udevice.exe's reserved first block and the
    // page after is outside the record.
    assert!(w.t.read_u8(r - 0x124).is_err());
    assert!(w.t.read_u8(0x11000).is_err());
    // Handed to user mode, the neighbours are readable there too.
    w.user(w.drv);
    assert_eq!(w.read(0x10000, 0x123), expected(0x10000, 0x123));
    assert_eq!(w.read(0x10130, 0xED0), expected(0x10130, 0xED0));
    // The maps make it visible: 0x123 bytes before, 0x1000 - 0x130 after.
    let region = w
        .kernel
        .regions(w.drv)
        .into_iter()
        .find(|g| g.start == 0x10000 && g.state == cevm::PageState::Committed)
        .unwrap();
    assert_eq!(region.exposed, Some((0x123, 0xED0)));
    assert_eq!(region.requested, Some((0x10123, 13)));
    w.check();
}

#[test]
fn alloccopy_aligned_whole_page_alias_exposes_nothing() {
    let mut w = driver_with_buffer(0x2000);
    let r = alias(&mut w, 0x10000, 0x2000, RW);
    assert_eq!(r, 0x10000);
    for g in w.kernel.regions(w.drv) {
        assert_eq!(g.exposed, None, "{g:?}");
    }
}

// ---------------------------------------------------------------- step 6: virtual sources

#[test]
fn alloccopy_readwrite_needs_a_writable_source_but_execute_readwrite_only_readable() {
    let mut w = World::new();
    w.app_buffer_with(0x1000, pattern);
    w.t.virtual_protect(0x10000, 0x1000, RO).unwrap();
    w.check();
    w.driver();
    let before = w.snapshot();
    for prot in [RW, RW | Protection::NOCACHE, RW | Protection::GUARD] {
        assert_fails(
            alloc_copy(&mut w, 0x10000, 0x1000, prot),
            (ErrorCode::NotEnoughMemory, "5.6.6"),
            &w,
        );
        assert_eq!(w.snapshot(), before);
    }
    // Read-only kinds need a readable source only.
    let drv = w.drv;
    for (i, prot) in [
        RO,
        Protection::EXECUTE,
        Protection::EXECUTE_READ,
        Protection::NOACCESS,
    ]
    .into_iter()
    .enumerate()
    {
        let r = alias(&mut w, 0x10000, 0x1000, prot);
        assert_eq!(r, 0x10000 * (i as u32 + 1));
    }
    // PAGE_EXECUTE_READWRITE is touched for reading only, and then lets a writer
    // through to the read-only source page.
    let x = alias(&mut w, 0x10000, 0x1000, Protection::EXECUTE_READWRITE);
    assert_eq!(x, 0x50000);
    assert_eq!(w.q4_in(drv, x).1, Protection::EXECUTE_READWRITE);
    w.t.write_u8(x + 7, 0xEE).unwrap();
    w.user(w.app);
    assert_eq!(w.t.read_u8(0x10007).unwrap(), 0xEE);
    assert!(
        w.t.write_u8(0x10007, 0).is_err(),
        "the source stays read-only"
    );
    assert_eq!(q(&mut w, 0x10000).protect, RO);
}

#[test]
fn alloccopy_noaccess_reserved_and_free_sources_fail_with_8_and_change_nothing() {
    let mut w = World::new();
    w.user(w.app);
    // 0x10000: one committed RW page, one committed NOACCESS page, one reserved page.
    let b =
        w.t.virtual_alloc(0, 0x3000, AllocType::RESERVE, Protection::NOACCESS)
            .unwrap();
    assert_eq!(b, 0x10000);
    w.t.virtual_alloc(0x10000, 0x1000, AllocType::COMMIT, RW)
        .unwrap();
    w.t.virtual_alloc(0x11000, 0x1000, AllocType::COMMIT, Protection::NOACCESS)
        .unwrap();
    w.check();
    w.driver();
    let before = w.snapshot();
    for (p, n, prot) in [
        (0x11000, 0x10, RO),       // committed no-access
        (0x12000, 0x10, RO),       // reserved
        (0x13000, 0x10, RO),       // free (past the record)
        (0x10000, 0x2000, RO),     // first page fine, second no-access
        (0x10FF0, 0x20, RO),       // crosses into the no-access page
        (0x30000, 0x1000, RW),     // nothing there
        (0x4000_0000, 0x1000, RO), // the DLL barrier block: reserved
        (0x6000_0000, 0x1000, RO), // mapped-view area, free
        (0x7000_0000, 0x1000, RO), // shared heap, free
        (0x7FF0_0000, 0x1000, RO), // the unmapped guard
        (0xF000_0000, 0x1000, RO), // CPU-specific
        (0xFFFF_F000, 0x1000, RO), // the last page
        (0xFFFF_F000, 0x2000, RO), // wraps past 4 GiB
        (0x8400_0000, 0x1000, RO), // kernel VM, nothing there
    ] {
        assert_fails(
            alloc_copy(&mut w, p, n, prot),
            (ErrorCode::NotEnoughMemory, "5.6.6"),
            &w,
        );
        assert_eq!(w.snapshot(), before, "alias of 0x{p:08X}+0x{n:X}");
    }
    // The cursor did not move: udevice.exe's next reservation is still at 0x10000.
    let next =
        w.t.virtual_alloc(0, 0x1000, AllocType::RESERVE, Protection::NOACCESS)
            .unwrap();
    assert_eq!(next, 0x10000);
    w.check();
}

#[test]
fn alloccopy_commits_auto_commit_source_pages() {
    let mut w = World::new();
    w.user(w.app);
    let b =
        w.t.virtual_alloc(0, 0x3000, AllocType::RESERVE | AllocType::AUTO_COMMIT, RW)
            .unwrap();
    assert_eq!(b, 0x10000);
    w.check();
    let start = w.free_frames();
    w.driver();
    // Even a read-only alias commits the page (a read touch commits it read/write).
    let r = alias(&mut w, 0x11000, 0x1000, RO);
    assert_eq!(r, 0x11000);
    assert_eq!(w.free_frames(), start - 1);
    let app = w.app;
    assert_eq!(
        w.q4_in(app, 0x10000),
        (AllocType::RESERVE, Protection::NOACCESS, 0x1000, 0x10000)
    );
    assert_eq!(
        w.q4_in(app, 0x11000),
        (AllocType::COMMIT, RW, 0x1000, 0x10000)
    );
    assert_eq!(w.q4_in(app, 0x12000).0, AllocType::RESERVE);
    assert_eq!(w.read(r, 0x1000), vec![0u8; 0x1000], "zero-filled");
    w.user(w.app);
    w.t.write_u8(0x11010, 0x77).unwrap();
    w.driver();
    assert_eq!(w.t.read_u8(r + 0x10).unwrap(), 0x77);
    w.check();
}

#[test]
fn alloccopy_auto_commit_is_not_kept_when_a_later_page_fails() {
    let mut w = World::new();
    w.user(w.app);
    w.t.virtual_alloc(0, 0x2000, AllocType::RESERVE | AllocType::AUTO_COMMIT, RW)
        .unwrap();
    w.check();
    w.driver();
    let before = w.snapshot();
    // Pages 0x11000 (auto-commit) and 0x12000 (free): the call fails and the
    // auto-commit page stays reserved.
    assert_fails(
        alloc_copy(&mut w, 0x11000, 0x2000, RO),
        (ErrorCode::NotEnoughMemory, "5.6.6"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    assert_eq!(w.q4_in(w.app, 0x11000).0, AllocType::RESERVE);
}

#[test]
fn alloccopy_auto_commit_without_a_free_frame_fails_with_8() {
    let mut w = World::new();
    w.user(w.app);
    w.t.virtual_alloc(0, 0x1000, AllocType::RESERVE | AllocType::AUTO_COMMIT, RW)
        .unwrap();
    w.check();
    w.driver();
    let before = w.snapshot();
    w.kernel.phys().fail_nth_allocation(Some(1));
    assert_fails(
        alloc_copy(&mut w, 0x10000, 0x1000, RW),
        (ErrorCode::NotEnoughMemory, "5.6.6"),
        &w,
    );
    w.kernel.phys().fail_nth_allocation(None);
    assert_eq!(w.snapshot(), before);
}

#[test]
fn alloccopy_consumes_a_guard_page_while_it_fails_with_8() {
    let mut w = World::new();
    w.app_buffer_with(0x2000, pattern);
    w.t.virtual_protect(0x11000, 0x1000, RW | Protection::GUARD)
        .unwrap();
    w.check();
    w.driver();
    let app = w.app;
    assert_eq!(w.q4_in(app, 0x11000).1.bits(), 0x104);
    let frames = w.free_frames();
    let drv_maps = w.kernel.regions(w.drv);
    // A read-only alias still meets the guard page on its way.
    assert_fails(
        alloc_copy(&mut w, 0x10000, 0x2000, RO),
        (ErrorCode::NotEnoughMemory, "5.6.6"),
        &w,
    );
    // The guard is consumed; nothing else changed.
    assert_eq!(w.q4_in(app, 0x11000).1, RW);
    assert_eq!(w.q4_in(app, 0x10000).1, RW);
    assert_eq!(w.free_frames(), frames);
    assert_eq!(w.kernel.regions(w.drv), drv_maps);
    // The same call now succeeds, at the place the failed one had found.
    let r = alias(&mut w, 0x10000, 0x2000, RO);
    assert_eq!(r, 0x10000);
    assert_eq!(w.read(r, 0x2000), expected(0x10000, 0x2000));
}

#[test]
fn alloccopy_guard_page_after_a_failing_page_is_not_consumed() {
    let mut w = World::new();
    w.app_buffer_with(0x2000, pattern);
    w.t.virtual_protect(0x10000, 0x1000, RO).unwrap();
    w.t.virtual_protect(0x11000, 0x1000, RW | Protection::GUARD)
        .unwrap();
    w.check();
    w.driver();
    let before = w.snapshot();
    // Pages are brought in in order: the read-only page fails a write touch first.
    assert_fails(
        alloc_copy(&mut w, 0x10000, 0x2000, RW),
        (ErrorCode::NotEnoughMemory, "5.6.6"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    assert_eq!(w.q4_in(w.app, 0x11000).1.bits(), 0x104);
}

#[test]
fn alloccopy_no_room_fails_with_8_before_the_source_is_touched() {
    let mut w = World::new();
    w.app_buffer_with(0x1000, pattern);
    w.t.virtual_protect(0x10000, 0x1000, RW | Protection::GUARD)
        .unwrap();
    w.check();
    w.driver();
    let before = w.snapshot();
    // udevice.exe has exactly 0x3FFF0000 free bytes (0x10000..0x40000000); one byte
    // more does not fit, so the reservation fails before any source page is touched
    // and the guard page survives.
    assert_fails(
        alloc_copy(&mut w, 0x10000, 0x3FFF_0001, RO),
        (ErrorCode::NotEnoughMemory, "5.6.4"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    assert_eq!(w.q4_in(w.app, 0x10000).1.bits(), 0x104);
    // Exactly 0x3FFF0000 fits; then the source is touched: the guard is consumed and
    // the call fails, releasing the huge reservation.
    assert_fails(
        alloc_copy(&mut w, 0x10000, 0x3FFF_0000, RO),
        (ErrorCode::NotEnoughMemory, "5.6.6"),
        &w,
    );
    assert_eq!(w.q4_in(w.app, 0x10000).1, RW);
    assert_eq!(w.free_frames(), before.0);
    assert_eq!(
        w.q4_in(w.drv, 0x10000),
        (AllocType::FREE, Protection::NOACCESS, 0x3FFF_0000, 0),
        "udevice.exe's whole user area is free again"
    );
}

#[test]
fn alloccopy_source_in_the_shared_heap_uses_the_kernel_tables() {
    let mut w = World::new();
    w.nk();
    let s =
        w.t.ce_virtual_shared_alloc(0, 0x1000, AllocType::RESERVE | AllocType::COMMIT)
            .unwrap();
    assert_eq!(s, 0x7000_0000);
    w.t.write_bytes(0x7000_0010, b"shared").unwrap();
    w.check();
    w.driver();
    // app.exe has nothing at 0x70000000 of its own: the kernel's tables are used.
    let r = alias(&mut w, 0x7000_0010, 6, RW);
    assert_eq!(r, 0x10010);
    assert_eq!(w.read(r, 6), b"shared");
}

#[test]
fn alloccopy_source_in_kernel_virtual_memory_uses_the_kernel_tables() {
    let mut w = driver_with_buffer(0x1000);
    let app = h(w.app);
    let k =
        w.t.virtual_alloc_copy_ex(app, Handle::NULL, 0x10000, 0x1000, RW)
            .unwrap();
    w.check();
    assert_eq!(k, 0x8400_0000);
    // An alias of the kernel alias, named through udevice.exe's handle.
    let drv = h(w.drv);
    let r =
        w.t.virtual_alloc_copy_ex(drv, drv, 0x8400_0040, 0x40, RO)
            .unwrap();
    w.check();
    assert_eq!(r, 0x10040);
    assert_eq!(w.read(r, 0x40), expected(0x10040, 0x40));
}

// ---------------------------------------------------------------- step 6: physical

fn ram_at_16_mib() -> World {
    World::with_config(Config {
        ram_base: 0x100_0000,
        ..Config::default()
    })
}

#[test]
fn alloccopy_physical_source_is_the_shifted_address() {
    let mut w = ram_at_16_mib();
    // app's buffer page is RAM frame 2: PA 0x1002000.
    w.app_buffer_with(0x1000, pattern);
    w.driver();
    let drv = w.drv;
    assert_eq!(
        w.t.lock_pages_ex(h(w.app), 0x10000, 0x1000, LockFlags::QUERY_ONLY)
            .unwrap(),
        vec![0x100_2000]
    );
    w.check();
    let frames = w.free_frames();
    // p = 0x10020 -> full 0x1002000: po = 0, bo = 0x2000. Reserve 0x3000 bytes at
    // 0x10000; the alias page is at 0x12000, after two reserved pages.
    let r = alias(&mut w, 0x10020, 0x1000, PHYS_RW);
    assert_eq!(r, 0x12000);
    assert_eq!(w.free_frames(), frames, "the frame was already in use");
    assert_eq!(
        w.q4_in(drv, 0x10000),
        (AllocType::RESERVE, Protection::NOACCESS, 0x2000, 0x10000)
    );
    assert_eq!(
        w.q4_in(drv, 0x12000),
        (AllocType::COMMIT, RW, 0x1000, 0x10000)
    );
    assert_eq!(w.q4_in(drv, 0x13000).0, AllocType::FREE);
    assert_eq!(w.read(r, 0x1000), expected(0x10000, 0x1000));
    assert_eq!(
        w.t.lock_pages(r, 0x1000, LockFlags::QUERY_ONLY).unwrap(),
        vec![0x100_2000]
    );
    // p = 0x10023 -> full 0x1002300: po = 0x300, bo = 0x2300; B = 0x20000.
    let r2 = alias(&mut w, 0x10023, 0x10, PHYS_RW);
    assert_eq!(r2, 0x22300);
    assert_eq!(r2 & 0xFFFF, (0x10023u32 << 8) & 0xFFFF);
    assert_eq!(w.read(r2, 0x10), expected(0x10300, 0x10));
    assert_eq!(w.q4_in(drv, 0x21000).0, AllocType::RESERVE);
    assert_eq!(
        w.q4_in(drv, 0x22000),
        (AllocType::COMMIT, RW, 0x1000, 0x20000)
    );
    // Writes through a physical alias reach the process.
    w.t.write_u8(r2, 0xAB).unwrap();
    w.user(w.app);
    assert_eq!(w.t.read_u8(0x10300).unwrap(), 0xAB);
    w.check();
}

#[test]
fn alloccopy_physical_alias_of_a_free_frame_takes_it_out_of_the_pool() {
    let mut w = ram_at_16_mib();
    w.driver();
    let start = w.free_frames();
    // PA 0x1005000 is free RAM frame 5.
    let r = alias(&mut w, 0x10050, 0x1000, PHYS_RW);
    assert_eq!(r, 0x15000);
    assert_eq!(w.free_frames(), start - 1);
    w.t.write_u32(r, 0xCAFE_F00D).unwrap();
    // app.exe commits 8 pages: never frame 5. Lowest free first: frames 2, 3, 4, 6, 7, 8,
    // 9, 10; with host windows the lowest run of 8 free frames: 6 to 13.
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x8000, AllocType::COMMIT, RW).unwrap();
    w.check();
    assert_eq!(w.free_frames(), start - 9);
    w.driver();
    let pfns =
        w.t.lock_pages_ex(h(w.app), b, 0x8000, LockFlags::QUERY_ONLY)
            .unwrap();
    let frames = if w.kernel.window(w.app).is_some() {
        [6u64, 7, 8, 9, 10, 11, 12, 13]
    } else {
        [2u64, 3, 4, 6, 7, 8, 9, 10]
    };
    assert_eq!(pfns, frames.map(|f| 0x100_0000 + f * 0x1000));
    assert_eq!(w.t.read_u32(r).unwrap(), 0xCAFE_F00D, "its bytes stay");
    w.release(w.drv, r & !0xFFFF);
    assert_eq!(w.free_frames(), start - 8);
}

#[test]
fn alloccopy_physical_source_outside_ram_and_devices_fails_with_8() {
    let mut w = World::new();
    w.driver();
    let before = w.snapshot();
    for (p, n) in [
        (0x5_0000, 0x1000),         // PA 0x5000000: past the 64 MiB of RAM
        (0x3_FFF0, 0x2000),         // PA 0x3FFF000: the last RAM page and one more
        (0xFFFF_FFFF, 1),           // PA 0xFFFFFFFF00
        (0xFFFF_FFF0, 0x7FFF_0000), // huge and beyond
    ] {
        assert_fails(
            alloc_copy(&mut w, p, n, PHYS_RW),
            (
                ErrorCode::NotEnoughMemory,
                if n > 0x3FFF_0000 { "5.6.4" } else { "5.6.6" },
            ),
            &w,
        );
        assert_eq!(w.snapshot(), before);
    }
    // Exactly the last RAM page works.
    let r = alias(&mut w, 0x3_FFF0, 0x1000, PHYS_RW);
    assert_eq!(r, 0x1F000);
}

#[test]
fn alloccopy_physical_source_in_a_registered_device() {
    let mut w = World::new();
    w.kernel.add_device("fb", 0xFE00_0000, 0x3000).unwrap();
    w.driver();
    let start = w.free_frames();
    let drv = w.drv;
    let r = alias(&mut w, 0xFE_0000, 0x3000, PHYS_RW);
    assert_eq!(r, 0x10000);
    assert_eq!(w.free_frames(), start, "device frames are never counted");
    assert_eq!(
        w.q4_in(drv, 0x10000),
        (AllocType::COMMIT, RW, 0x3000, 0x10000)
    );
    assert_eq!(
        w.t.lock_pages(0x11000, 0x1000, LockFlags::QUERY_ONLY)
            .unwrap(),
        vec![0xFE00_1000]
    );
    w.t.write_bytes(0x11000, b"pixels").unwrap();
    // A second alias of device page 1: p = 0xFE0010 -> full 0xFE001000, bo = 0x1000.
    let r2 = alias(&mut w, 0xFE_0010, 6, PHYS_RW);
    assert_eq!(r2, 0x21000);
    assert_eq!(w.read(r2, 6), b"pixels");
    let regions = w.kernel.regions(w.drv);
    assert!(
        regions
            .iter()
            .any(|g| g.start == r2 & !0xFFF && g.device.as_deref() == Some("fb")),
        "{regions:?}"
    );
    // One page past the device is neither RAM nor device.
    let before = w.snapshot();
    assert_fails(
        alloc_copy(&mut w, 0xFE_0000, 0x4000, PHYS_RW),
        (ErrorCode::NotEnoughMemory, "5.6.6"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    w.release(w.drv, 0x10000);
    w.release(w.drv, 0x20000);
    assert_eq!(w.free_frames(), start);
}

// ---------------------------------------------------------------- step 6: static

#[test]
fn alloccopy_kernel_static_source_maps_0x80000000_plus_pa() {
    let mut w = World::new();
    // app's three buffer pages are frames 2, 3, 4: PA 0x2000..0x4FFF.
    w.app_buffer_with(0x3000, pattern);
    w.driver();
    let frames = w.free_frames();
    // p = 0x80002010: PA 0x2010, po = 0x10, bo = 0x2010; B = 0x10000.
    let r = alias(&mut w, 0x8000_2010, 0x20, RW);
    assert_eq!(r, 0x12010);
    assert_eq!(w.free_frames(), frames);
    assert_eq!(w.read(r, 0x20), expected(0x10010, 0x20));
    let drv = w.drv;
    assert_eq!(
        w.q4_in(drv, 0x10000),
        (AllocType::RESERVE, Protection::NOACCESS, 0x2000, 0x10000)
    );
    assert_eq!(
        w.q4_in(drv, 0x12000),
        (AllocType::COMMIT, RW, 0x1000, 0x10000)
    );
    // Static sources are not touched: a read/write alias of a read-only page works.
    w.user(w.app);
    w.t.virtual_protect(0x11000, 0x1000, RO).unwrap();
    w.check();
    w.driver();
    let r2 = alias(&mut w, 0x8000_3000, 0x1000, RW);
    assert_eq!(r2, 0x23000);
    w.t.write_u8(r2, 0x99).unwrap();
    w.user(w.app);
    assert_eq!(w.t.read_u8(0x11000).unwrap(), 0x99);
    w.check();
}

#[test]
fn alloccopy_kernel_static_alias_of_a_free_frame_takes_it_out_of_the_pool() {
    let mut w = World::new();
    w.driver();
    let start = w.free_frames();
    let r = alias(&mut w, 0x8010_0000, 0x2000, RO);
    assert_eq!(r, 0x10000);
    assert_eq!(w.free_frames(), start - 2);
    w.release(w.drv, 0x10000);
    assert_eq!(w.free_frames(), start);
}

#[test]
fn alloccopy_kernel_static_source_past_the_end_of_ram_fails_with_8() {
    let mut w = driver_with_buffer(0x1000);
    // Commit the first page of kernel VM (0x84000000, right after the static
    // mapping of 64 MiB) by aliasing app's page there.
    let app = h(w.app);
    let k =
        w.t.virtual_alloc_copy_ex(app, Handle::NULL, 0x10000, 0x1000, RW)
            .unwrap();
    w.check();
    assert_eq!(k, 0x8400_0000);
    let before = w.snapshot();
    // A static source maps the consecutive frames from its own: PA 0x3FFF000 is the
    // last RAM frame and PA 0x4000000 is neither RAM nor a device, so this fails even
    // though the virtual address 0x84000000 happens to be committed.
    assert_fails(
        alloc_copy(&mut w, 0x83FF_F000, 0x2000, RO),
        (ErrorCode::NotEnoughMemory, "5.6.6"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    // The last static page alone is fine.
    let r = alias(&mut w, 0x83FF_F000, 0x1000, RO);
    assert_eq!(r, 0x1F000);
}

// ---------------------------------------------------------------- lifetime and frames

#[test]
fn alloccopy_alias_survives_the_release_of_the_source() {
    let mut w = World::new();
    let start = w.free_frames();
    w.app_buffer_with(0x2000, pattern);
    w.driver();
    let r = alias(&mut w, 0x10000, 0x2000, RW);
    assert_eq!(w.free_frames(), start - 2);
    w.user(w.app);
    w.t.virtual_free(0x10000, 0, AllocType::RELEASE).unwrap();
    w.check();
    assert_eq!(
        w.free_frames(),
        start - 2,
        "the alias still holds both frames"
    );
    w.driver();
    assert_eq!(w.read(r, 0x2000), expected(0x10000, 0x2000));
    w.t.write_u8(r, 1).unwrap();
    w.release(w.drv, r);
    assert_eq!(w.free_frames(), start);
}

#[test]
fn alloccopy_alias_survives_the_termination_of_the_source_process() {
    let mut w = World::new();
    let start = w.free_frames();
    w.app_buffer_with(0x3000, pattern);
    assert_eq!(w.free_frames(), start - 3);
    w.driver();
    // Two pages: 0x10000 and 0x11000.
    let r = alias(&mut w, 0x10800, 0x1000, RW);
    assert_eq!(r, 0x10800);
    w.nk();
    w.t.terminate_process(h(w.app), 0).unwrap();
    w.check();
    // app's kernel-data page and its third buffer page go back; the two aliased
    // pages stay.
    assert_eq!(w.free_frames(), start - 3 + 2);
    w.t.enter(w.drv, Mode::Kernel, None).unwrap();
    assert_eq!(w.read(0x10000, 0x2000), expected(0x10000, 0x2000));
    w.release(w.drv, 0x10000);
    assert_eq!(w.free_frames(), start + 1);
}

#[test]
fn alloccopy_frames_are_counted_once_per_mapping() {
    let mut w = World::new();
    let start = w.free_frames();
    w.app_buffer_with(0x4000, pattern);
    w.driver();
    let a = alloc_copy(&mut w, 0x10000, 0x4000, RW).unwrap();
    let b = alloc_copy(&mut w, 0x11000, 0x2000, RO).unwrap();
    let app = h(w.app);
    let c =
        w.t.virtual_alloc_copy_ex(app, Handle::NULL, 0x12000, 1, RO)
            .unwrap();
    w.check();
    assert_eq!((a, b, c), (0x10000, 0x21000, 0x8400_2000));
    assert_eq!(w.free_frames(), start - 4);
    // Releasing the source and two aliases keeps the frames the last one maps.
    w.user(w.app);
    w.t.virtual_free(0x10000, 0, AllocType::RELEASE).unwrap();
    w.check();
    w.driver();
    w.release(w.drv, 0x10000);
    assert_eq!(w.free_frames(), start - 2);
    let k = w.kernel.kernel_pid();
    w.release(k, 0x8400_0000);
    assert_eq!(w.free_frames(), start - 2);
    assert_eq!(w.read(0x21000, 0x2000), expected(0x11000, 0x2000));
    w.release(w.drv, 0x20000);
    assert_eq!(w.free_frames(), start);
}

#[test]
fn alloccopy_decommitting_an_alias_page_drops_only_its_reference() {
    let mut w = World::new();
    let start = w.free_frames();
    w.app_buffer_with(0x2000, pattern);
    w.driver();
    let r = alias(&mut w, 0x10000, 0x2000, RW);
    let drv = h(w.drv);
    w.t.virtual_free_ex(drv, r + 0x1000, 0x1000, AllocType::DECOMMIT)
        .unwrap();
    w.check();
    assert_eq!(w.q4_in(w.drv, 0x11000).0, AllocType::RESERVE);
    assert_eq!(w.free_frames(), start - 2, "app still maps the frame");
    w.user(w.app);
    assert_eq!(w.read(0x11000, 0x1000), expected(0x11000, 0x1000));
}

// ---------------------------------------------------------------- hostile inputs

#[test]
fn alloccopy_hostile_inputs_fail_cleanly() {
    let mut w = driver_with_buffer(0x1000);
    let before = w.snapshot();
    let (app, drv) = (h(w.app), h(w.drv));
    // (hDst, p, n, prot, the code and the check that must give it)
    type Case = (Handle, u32, u32, Protection, (ErrorCode, &'static str));
    let cases: [Case; 14] = [
        (
            drv,
            0x10000,
            0xFFFF_FFFF,
            RW,
            (ErrorCode::InvalidParameter, "5.6.2"),
        ),
        (
            drv,
            0x10000,
            0x8000_0000,
            RW,
            (ErrorCode::InvalidParameter, "5.6.2"),
        ),
        (
            drv,
            0x10000,
            0x7FFF_FFFF,
            RW,
            (ErrorCode::NotEnoughMemory, "5.6.4"),
        ),
        (
            Handle::NULL,
            0x10000,
            0x7FFF_FFFF,
            RW,
            (ErrorCode::NotEnoughMemory, "5.6.4"),
        ),
        (
            Handle::NULL,
            0xFFFF_FFFF,
            0x7FFF_FFFF,
            RW,
            (ErrorCode::NotEnoughMemory, "5.6.4"),
        ),
        (
            drv,
            0xFFFF_F000,
            0x1000,
            RW,
            (ErrorCode::NotEnoughMemory, "5.6.6"),
        ),
        (
            drv,
            0xFFFF_FFFF,
            1,
            RO,
            (ErrorCode::NotEnoughMemory, "5.6.6"),
        ),
        (
            drv,
            0xFFFF_FFFF,
            2,
            RO,
            (ErrorCode::NotEnoughMemory, "5.6.6"),
        ),
        (
            drv,
            0x7000_0000,
            0x1000,
            RO,
            (ErrorCode::NotEnoughMemory, "5.6.6"),
        ),
        (
            drv,
            0xFFFF_FFFF,
            1,
            PHYS_RW,
            (ErrorCode::NotEnoughMemory, "5.6.6"),
        ),
        (
            Handle::NULL,
            0xFFFF_F000,
            0x1000,
            PHYS_RW,
            (ErrorCode::NotEnoughMemory, "5.6.6"),
        ),
        (
            drv,
            0x8000_0000,
            0xFFFF_FFFF,
            RO,
            (ErrorCode::InvalidParameter, "5.6.2"),
        ),
        (
            drv,
            0x8000_0000,
            0x7FFF_FFFF,
            RO,
            (ErrorCode::NotEnoughMemory, "5.6.4"),
        ),
        (
            Handle(0xFFFF_FFFF),
            0x10000,
            0x1000,
            RO,
            (ErrorCode::InvalidHandle, "5.6.3"),
        ),
    ];
    for (dst, p, n, prot, code) in cases {
        assert_fails(w.t.virtual_alloc_copy_ex(app, dst, p, n, prot), code, &w);
        assert_eq!(w.snapshot(), before, "0x{p:08X}+0x{n:X}");
    }
    // 0x80000000 itself is the static mapping of PA 0: app's kernel-data frame.
    let r = alias(&mut w, 0x8000_0000, 0x1000, RO);
    assert_eq!(r, 0x10000);
    assert_eq!(
        w.t.lock_pages(r, 1, LockFlags::QUERY_ONLY).unwrap(),
        vec![0]
    );
    w.release(w.drv, r);
    assert_eq!(w.snapshot(), before);
}

#[test]
fn alloccopy_failure_keeps_the_last_error_and_success_does_not_touch_it() {
    let mut w = driver_with_buffer(0x1000);
    w.t.set_last_error(1234);
    alloc_copy(&mut w, 0x10000, 0x1000, RW).unwrap();
    assert_eq!(w.t.last_error(), 1234);
    assert_fails(
        alloc_copy(&mut w, 0x30000, 0x1000, RW),
        (ErrorCode::NotEnoughMemory, "5.6.6"),
        &w,
    );
    alloc_copy(&mut w, 0x10000, 0x1000, RW).unwrap();
    assert_eq!(w.t.last_error(), 8);
    w.check();
}
