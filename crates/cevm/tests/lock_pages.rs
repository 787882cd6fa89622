//! semantics.md §5.7 LockPages(Ex) / UnlockPages(Ex): kernel only, argument checks, the
//! static range, bringing pages in, physical addresses, QUERY_ONLY, exact-record unlock,
//! nesting, what locked pages block, and locks dying with their process.

mod common;

use cevm::{AllocType, Config, ErrorCode, Handle, LockFlags, Mode, ProcessAccess, Protection};
use common::{RO, RW, World, assert_fails, h};

const Q: LockFlags = LockFlags::QUERY_ONLY;

/// (state, protect) of `a` in app.exe.
fn app_state(w: &mut World, a: u32) -> (AllocType, Protection) {
    let app = w.app;
    let i = w.q_in(app, a);
    (i.state, i.protect)
}

/// A fresh world whose app.exe (user mode) has `bytes` committed read/write at 0x10000.
fn with_buffer(bytes: u32) -> World {
    let mut w = World::new();
    w.app_buffer(bytes);
    w
}

/// In app.exe's context (kernel mode): LockPages on the active process.
fn app_kernel(w: &mut World) {
    w.kmode(w.app);
}

#[test]
fn lock_and_unlock_in_user_mode_are_50() {
    let mut w = with_buffer(0x1000);
    let before = w.snapshot();
    let app = h(w.app);
    assert_fails(
        w.t.lock_pages(0x10000, 0x1000, LockFlags::empty()),
        (ErrorCode::NotSupported, "2"),
        &w,
    );
    assert_fails(
        w.t.lock_pages_ex(app, 0x10000, 0x1000, LockFlags::READ),
        (ErrorCode::NotSupported, "2"),
        &w,
    );
    assert_fails(
        w.t.unlock_pages(0x10000, 0x1000),
        (ErrorCode::NotSupported, "2"),
        &w,
    );
    assert_fails(
        w.t.unlock_pages_ex(app, 0x10000, 0x1000),
        (ErrorCode::NotSupported, "2"),
        &w,
    );
    // Kernel-only comes before the argument checks ...
    assert_fails(
        w.t.lock_pages(0, 0, LockFlags::from_bits_retain(0x80)),
        (ErrorCode::NotSupported, "2"),
        &w,
    );
    // ... but after the handle is resolved.
    assert_fails(
        w.t.lock_pages_ex(Handle(0xDEAD_0000), 0x10000, 0x1000, LockFlags::READ),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_fails(
        w.t.unlock_pages_ex(Handle(0xDEAD_0000), 0x10000, 0x1000),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    // Nothing was locked: the page decommits.
    w.t.virtual_free(0x10000, 0x1000, AllocType::DECOMMIT)
        .unwrap();
    w.check();
}

#[test]
fn lock_ex_handle_checks_are_6_then_5() {
    let mut w = with_buffer(0x1000);
    w.driver();
    let weak = w.open(ProcessAccess::VM_READ | ProcessAccess::VM_WRITE, w.app);
    let before = w.snapshot();
    assert_fails(
        w.t.lock_pages_ex(Handle(0xDEAD_0000), 0x10000, 0x1000, LockFlags::READ),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_fails(
        w.t.lock_pages_ex(weak, 0x10000, 0x1000, LockFlags::READ),
        (ErrorCode::AccessDenied, "2"),
        &w,
    );
    // The access mask is checked before the arguments.
    assert_fails(
        w.t.lock_pages_ex(weak, 0, 0, LockFlags::READ),
        (ErrorCode::AccessDenied, "2"),
        &w,
    );
    assert_fails(
        w.t.unlock_pages_ex(weak, 0x10000, 0x1000),
        (ErrorCode::AccessDenied, "2"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
}

#[test]
fn lock_argument_checks_are_87() {
    let mut w = with_buffer(0x1000);
    app_kernel(&mut w);
    let before = w.snapshot();
    // (a & ~0xFFF) < 0x10000: even app's committed kernel-data page at 0x5000.
    for (a, n) in [(0, 0x1000), (0x5000, 0x1000), (0xFFFF, 2), (0xFFFF, 1)] {
        assert_fails(
            w.t.lock_pages(a, n, LockFlags::READ),
            (ErrorCode::InvalidParameter, "5.7.1"),
            &w,
        );
        assert_fails(
            w.t.unlock_pages(a, n),
            (ErrorCode::InvalidParameter, "5.7.1"),
            &w,
        );
    }
    for n in [0, 0x8000_0000, 0xFFFF_FFFF] {
        assert_fails(
            w.t.lock_pages(0x10000, n, LockFlags::READ),
            (ErrorCode::InvalidParameter, "5.7.1"),
            &w,
        );
        assert_fails(
            w.t.unlock_pages(0x10000, n),
            (ErrorCode::InvalidParameter, "5.7.1"),
            &w,
        );
    }
    for flags in [0x8, 0x10, 0x1000, 0xFFFF_FFFF, 0x8 | 0x1] {
        assert_fails(
            w.t.lock_pages(0x10000, 0x1000, LockFlags::from_bits_retain(flags)),
            (ErrorCode::InvalidParameter, "5.7.1"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
    // Every subset of WRITE | QUERY_ONLY | READ is accepted (QUERY_ONLY keeps nothing).
    for flags in 0..8 {
        let f = LockFlags::from_bits_retain(flags) | Q;
        assert_eq!(w.t.lock_pages(0x10000, 0x1000, f).unwrap().len(), 1);
        w.check();
    }
}

#[test]
fn lock_returns_the_physical_address_of_every_page() {
    let mut w = World::with_config(Config {
        ram_base: 0x100_0000,
        ..Config::default()
    });
    // Frames 0 and 1 are the two kernel-data pages; app's buffer gets 2, 3, 4.
    w.app_buffer(0x3000);
    app_kernel(&mut w);
    assert_eq!(
        w.t.lock_pages(0x10000, 0x3000, LockFlags::READ).unwrap(),
        vec![0x100_2000, 0x100_3000, 0x100_4000]
    );
    w.check();
    // Unaligned: 0x10FFF + 2 covers two pages.
    assert_eq!(
        w.t.lock_pages(0x10FFF, 2, LockFlags::WRITE).unwrap(),
        vec![0x100_2000, 0x100_3000]
    );
    w.check();
    assert_eq!(w.t.lock_pages(0x12FFF, 1, Q).unwrap(), vec![0x100_4000]);
    w.t.unlock_pages(0x10000, 0x3000).unwrap();
    w.t.unlock_pages(0x10FFF, 2).unwrap();
    w.check();
}

#[test]
fn lock_static_range_fills_pfns_and_locks_nothing() {
    // app's buffer is frames 2 and 3: PA 0x2000 and 0x3000, static 0x80002000.
    let mut w = with_buffer(0x2000);
    w.driver();
    let before = w.snapshot();
    assert_eq!(
        w.t.lock_pages(0x8000_2000, 0x2000, LockFlags::WRITE)
            .unwrap(),
        vec![0x2000, 0x3000]
    );
    assert_eq!(
        w.t.lock_pages(0x8000_2FFF, 2, LockFlags::READ).unwrap(),
        vec![0x2000, 0x3000]
    );
    // The last static byte.
    assert_eq!(
        w.t.lock_pages(0x83FF_FFFF, 1, LockFlags::READ).unwrap(),
        vec![0x3FF_F000]
    );
    assert_eq!(w.snapshot(), before);
    w.check();
    // Nothing is locked: app can still decommit and protect its pages.
    w.user(w.app);
    w.t.virtual_protect(0x10000, 0x2000, RO).unwrap();
    w.t.virtual_free(0x10000, 0x2000, AllocType::DECOMMIT)
        .unwrap();
    w.check();
    // Unlocking a static range is a no-op success, locked or not.
    w.driver();
    w.t.unlock_pages(0x8000_2000, 0x2000).unwrap();
    w.t.unlock_pages(0x8000_0000, 0x1000).unwrap();
    w.check();
    assert_eq!(w.t.last_error(), 0);
}

#[test]
fn lock_static_range_must_end_in_the_static_mapping() {
    let mut w = World::new();
    w.driver();
    let before = w.snapshot();
    for (a, n) in [
        (0x83FF_F000, 0x2000),
        (0x83FF_FFFF, 2),
        (0x8000_0000, 0x7FFF_FFFF),
    ] {
        assert_fails(
            w.t.lock_pages(a, n, LockFlags::READ),
            (ErrorCode::InvalidParameter, "5.7.2"),
            &w,
        );
        assert_fails(
            w.t.unlock_pages(a, n),
            (ErrorCode::InvalidParameter, "5.7.2"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
}

#[test]
fn lock_static_range_uses_the_ram_base() {
    let mut w = World::with_config(Config {
        ram_base: 0x100_0000,
        ..Config::default()
    });
    w.driver();
    assert_eq!(
        w.t.lock_pages(0x8000_0000, 0x1000, LockFlags::READ)
            .unwrap(),
        vec![0x100_0000]
    );
    assert_eq!(
        w.t.lock_pages(0x8001_0010, 0x10, LockFlags::READ).unwrap(),
        vec![0x101_0000]
    );
    w.check();
}

#[test]
fn lock_brings_pages_in_and_a_failure_locks_nothing() {
    let mut w = World::new();
    w.user(w.app);
    // 0x10000 RW, 0x11000 RO, 0x12000 NOACCESS, 0x13000 reserved; then 0x20000 auto-commit.
    w.t.virtual_alloc(0, 0x4000, AllocType::RESERVE, Protection::NOACCESS)
        .unwrap();
    w.t.virtual_alloc(0x10000, 0x1000, AllocType::COMMIT, RW)
        .unwrap();
    w.t.virtual_alloc(0x11000, 0x1000, AllocType::COMMIT, RO)
        .unwrap();
    w.t.virtual_alloc(0x12000, 0x1000, AllocType::COMMIT, Protection::NOACCESS)
        .unwrap();
    let auto =
        w.t.virtual_alloc(0, 0x2000, AllocType::RESERVE | AllocType::AUTO_COMMIT, RW)
            .unwrap();
    assert_eq!(auto, 0x20000);
    w.check();
    app_kernel(&mut w);
    let before = w.snapshot();
    for (a, n, flags) in [
        (0x11000, 0x1000, LockFlags::WRITE),   // read-only page, writing
        (0x10000, 0x2000, LockFlags::WRITE),   // the second page is read-only
        (0x12000, 0x1000, LockFlags::READ),    // no access
        (0x13000, 0x1000, LockFlags::READ),    // reserved
        (0x14000, 0x1000, LockFlags::READ),    // free
        (0x10000, 0x4000, LockFlags::empty()), // fails on the third page
        (0x21000, 0x2000, LockFlags::READ),    // auto-commit page, then free
        (0x11000, 0x1000, LockFlags::WRITE | Q), // QUERY_ONLY still brings it in
    ] {
        assert_fails(
            w.t.lock_pages(a, n, flags),
            (ErrorCode::NotEnoughMemory, "5.7.3"),
            &w,
        );
        assert_eq!(w.snapshot(), before, "lock 0x{a:08X}+0x{n:X}");
    }
    // Nothing stayed locked: every page can be protected.
    assert_eq!(w.t.virtual_protect(0x10000, 0x3000, RW).unwrap(), RW);
    w.check();
    w.t.virtual_protect(0x11000, 0x2000, RO).unwrap();
    w.t.virtual_protect(0x10000, 0x1000, RW).unwrap();
    w.check();
    // Reading needs only a readable page; an auto-commit page gets committed.
    let frames = w.free_frames();
    assert_eq!(
        w.t.lock_pages(0x11000, 0x1000, LockFlags::READ)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        w.t.lock_pages(0x20000, 0x2000, LockFlags::WRITE)
            .unwrap()
            .len(),
        2
    );
    w.check();
    assert_eq!(w.free_frames(), frames - 2);
    assert_eq!(app_state(&mut w, 0x21000), (AllocType::COMMIT, RW));
}

#[test]
fn lock_consumes_a_guard_page_and_fails_with_8() {
    let mut w = with_buffer(0x2000);
    w.t.virtual_protect(0x11000, 0x1000, RW | Protection::GUARD)
        .unwrap();
    w.check();
    app_kernel(&mut w);
    let frames = w.free_frames();
    assert_fails(
        w.t.lock_pages(0x10000, 0x2000, LockFlags::READ),
        (ErrorCode::NotEnoughMemory, "5.7.3"),
        &w,
    );
    assert_eq!(w.free_frames(), frames);
    assert_eq!(app_state(&mut w, 0x11000), (AllocType::COMMIT, RW));
    // Nothing locked; the retry succeeds and locks.
    w.t.lock_pages(0x10000, 0x2000, LockFlags::READ).unwrap();
    w.check();
    assert_fails(
        w.t.virtual_protect(0x10000, 0x1000, RO),
        (ErrorCode::SharingViolation, "5.3.4"),
        &w,
    );
}

#[test]
fn lock_write_flag_needs_a_writable_page() {
    let mut w = with_buffer(0x2000);
    w.t.virtual_protect(0x10000, 0x1000, Protection::EXECUTE_READWRITE)
        .unwrap();
    w.t.virtual_protect(0x11000, 0x1000, Protection::EXECUTE_READ)
        .unwrap();
    w.check();
    app_kernel(&mut w);
    w.t.lock_pages(0x10000, 0x1000, LockFlags::WRITE).unwrap();
    w.check();
    assert_fails(
        w.t.lock_pages(0x11000, 0x1000, LockFlags::WRITE),
        (ErrorCode::NotEnoughMemory, "5.7.3"),
        &w,
    );
    w.t.lock_pages(0x11000, 0x1000, LockFlags::READ).unwrap();
    w.check();
}

#[test]
fn locked_pages_block_decommit_87_protect_32_and_release_87() {
    let mut w = with_buffer(0x3000);
    app_kernel(&mut w);
    w.t.lock_pages(0x11800, 0x10, LockFlags::READ).unwrap();
    w.check();
    let before = w.snapshot();
    let app = h(w.app);
    for mode in [Mode::User, Mode::Kernel] {
        w.t.enter(w.app, mode, None).unwrap();
        // Decommit touching the locked page: 87.
        assert_fails(
            w.t.virtual_free(0x10000, 0x3000, AllocType::DECOMMIT),
            (ErrorCode::InvalidParameter, "5.2.4"),
            &w,
        );
        assert_fails(
            w.t.virtual_free(0x11FFF, 1, AllocType::DECOMMIT),
            (ErrorCode::InvalidParameter, "5.2.4"),
            &w,
        );
        // Protect: ERROR_SHARING_VIOLATION.
        assert_fails(
            w.t.virtual_protect(0x11000, 0x1000, RO),
            (ErrorCode::SharingViolation, "5.3.4"),
            &w,
        );
        assert_fails(
            w.t.virtual_protect_ex(app, 0x10000, 0x3000, RO),
            (ErrorCode::SharingViolation, "5.3.4"),
            &w,
        );
        // Release of the reservation holding it: [cevm] 87, nothing released.
        assert_fails(
            w.t.virtual_free(0x10000, 0, AllocType::RELEASE),
            (ErrorCode::InvalidParameter, "5.2.3"),
            &w,
        );
        assert_eq!(w.snapshot(), before);
    }
    // The pages around it are not locked.
    w.t.virtual_protect(0x10000, 0x1000, RO).unwrap();
    w.t.virtual_free(0x12000, 0x1000, AllocType::DECOMMIT)
        .unwrap();
    w.check();
    // A locked page decides before an uncommitted one (protect step 4 before step 5).
    let before = w.snapshot();
    assert_fails(
        w.t.virtual_protect(0x11000, 0x2000, RO),
        (ErrorCode::SharingViolation, "5.3.4"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    // Once unlocked, everything works.
    w.t.unlock_pages(0x11800, 0x10).unwrap();
    w.check();
    w.t.virtual_protect(0x11000, 0x1000, RO).unwrap();
    let frames = w.free_frames();
    w.t.virtual_free(0x10000, 0, AllocType::RELEASE).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames + 2);
}

#[test]
fn locks_nest_and_unlock_needs_the_exact_record() {
    let mut w = with_buffer(0x3000);
    app_kernel(&mut w);
    // Two locks of page 0x10000 and one of the three pages.
    w.t.lock_pages(0x10000, 0x1000, LockFlags::READ).unwrap();
    w.t.lock_pages(0x10010, 0xFF0, LockFlags::READ).unwrap();
    w.t.lock_pages(0x10000, 0x3000, LockFlags::READ).unwrap();
    w.check();
    let before = w.snapshot();
    // Not a record: other start page or other page count.
    for (a, n) in [
        (0x10000, 0x2000),
        (0x11000, 0x1000),
        (0x10000, 0x3001),
        (0x11000, 0x2000),
        (0x20000, 0x1000),
    ] {
        assert_fails(
            w.t.unlock_pages(a, n),
            (ErrorCode::InvalidParameter, "5.7.6"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
    // The three-page record, named by another byte range with the same pages.
    w.t.unlock_pages(0x10FFF, 0x1002).unwrap();
    w.check();
    assert_fails(
        w.t.unlock_pages(0x10000, 0x3000),
        (ErrorCode::InvalidParameter, "5.7.6"),
        &w,
    );
    // Pages 1 and 2 are free of locks; page 0 is still locked twice.
    w.t.virtual_protect(0x11000, 0x2000, RO).unwrap();
    w.check();
    assert_fails(
        w.t.virtual_protect(0x10000, 0x1000, RO),
        (ErrorCode::SharingViolation, "5.3.4"),
        &w,
    );
    // Any byte range of the same page names a one-page record.
    w.t.unlock_pages(0x10800, 0x10).unwrap();
    w.check();
    assert_fails(
        w.t.virtual_protect(0x10000, 0x1000, RO),
        (ErrorCode::SharingViolation, "5.3.4"),
        &w,
    );
    w.t.unlock_pages(0x10000, 1).unwrap();
    w.check();
    assert_fails(
        w.t.unlock_pages(0x10000, 0x1000),
        (ErrorCode::InvalidParameter, "5.7.6"),
        &w,
    );
    w.t.virtual_protect(0x10000, 0x1000, RO).unwrap();
    w.t.virtual_free(0x10000, 0, AllocType::RELEASE).unwrap();
    w.check();
}

#[test]
fn query_only_fills_pfns_and_keeps_nothing_locked() {
    // Frames 2 and 3.
    let mut w = with_buffer(0x2000);
    app_kernel(&mut w);
    assert_eq!(
        w.t.lock_pages(0x10000, 0x2000, Q).unwrap(),
        vec![0x2000, 0x3000]
    );
    w.check();
    assert_fails(
        w.t.unlock_pages(0x10000, 0x2000),
        (ErrorCode::InvalidParameter, "5.7.6"),
        &w,
    );
    w.t.virtual_protect(0x10000, 0x2000, RO).unwrap();
    w.t.virtual_free(0x10000, 0x2000, AllocType::DECOMMIT)
        .unwrap();
    w.check();
    // QUERY_ONLY still brings pages in: an auto-commit page stays committed.
    w.t.virtual_alloc(0x10000, 0x1000, AllocType::COMMIT, RW)
        .unwrap();
    let auto =
        w.t.virtual_alloc(0, 0x1000, AllocType::RESERVE | AllocType::AUTO_COMMIT, RW)
            .unwrap();
    w.check();
    assert_eq!(auto, 0x20000);
    let frames = w.free_frames();
    assert_eq!(w.t.lock_pages(auto, 0x1000, Q).unwrap().len(), 1);
    w.check();
    assert_eq!(w.free_frames(), frames - 1);
    assert_eq!(app_state(&mut w, auto), (AllocType::COMMIT, RW));
    w.t.virtual_free(auto, 0x1000, AllocType::DECOMMIT).unwrap();
    w.check();
}

#[test]
fn lock_pages_ex_locks_another_process_and_only_its_unlock_ex_removes_it() {
    let mut w = with_buffer(0x1000);
    w.driver();
    let app = h(w.app);
    assert_eq!(
        w.t.lock_pages_ex(app, 0x10000, 0x1000, LockFlags::WRITE)
            .unwrap(),
        vec![0x2000]
    );
    w.check();
    // udevice.exe has no lock record at 0x10000 (nothing is even there).
    assert_fails(
        w.t.unlock_pages(0x10000, 0x1000),
        (ErrorCode::InvalidParameter, "5.7.6"),
        &w,
    );
    w.user(w.app);
    assert_fails(
        w.t.virtual_free(0x10000, 0x1000, AllocType::DECOMMIT),
        (ErrorCode::InvalidParameter, "5.2.4"),
        &w,
    );
    w.driver();
    w.t.unlock_pages_ex(app, 0x10000, 0x1000).unwrap();
    w.check();
    w.user(w.app);
    w.t.virtual_free(0x10000, 0x1000, AllocType::DECOMMIT)
        .unwrap();
    w.check();
}

#[test]
fn lock_in_the_shared_heap_and_kernel_memory_uses_the_kernel_tables() {
    let mut w = World::new();
    w.nk();
    let s =
        w.t.ce_virtual_shared_alloc(0, 0x1000, AllocType::RESERVE | AllocType::COMMIT)
            .unwrap();
    assert_eq!(s, 0x7000_0000);
    w.check();
    // Locked through app.exe: the page is the kernel's.
    let app = h(w.app);
    let pfns = w.t.lock_pages_ex(app, s, 0x1000, LockFlags::WRITE).unwrap();
    w.check();
    assert_eq!(pfns.len(), 1);
    assert_eq!(w.t.lock_pages(s, 0x1000, Q).unwrap(), pfns);
    assert_fails(
        w.t.virtual_free(s, 0, AllocType::RELEASE),
        (ErrorCode::InvalidParameter, "5.2.3"),
        &w,
    );
    w.t.unlock_pages_ex(app, s, 0x1000).unwrap();
    w.check();
    w.t.virtual_free(s, 0, AllocType::RELEASE).unwrap();
    w.check();
}

#[test]
fn locks_die_with_their_process() {
    let mut w = World::new();
    let start = w.free_frames();
    w.app_buffer(0x2000);
    w.nk();
    let s =
        w.t.ce_virtual_shared_alloc(0, 0x1000, AllocType::RESERVE | AllocType::COMMIT)
            .unwrap();
    w.check();
    // app.exe locks its own pages and a page of the kernel's shared heap.
    let app = h(w.app);
    w.t.lock_pages_ex(app, 0x10000, 0x2000, LockFlags::READ)
        .unwrap();
    w.t.lock_pages_ex(app, s, 0x1000, LockFlags::READ).unwrap();
    w.check();
    assert_fails(
        w.t.virtual_free(s, 0, AllocType::RELEASE),
        (ErrorCode::InvalidParameter, "5.2.3"),
        &w,
    );
    assert_eq!(w.free_frames(), start - 3);
    w.t.terminate_process(app, 0).unwrap();
    w.check();
    // app's locked pages went with it (and its kernel-data page).
    assert_eq!(w.free_frames(), start - 1 + 1);
    // Its lock on the kernel page died too: the shared heap page can be released.
    w.t.virtual_free(s, 0, AllocType::RELEASE).unwrap();
    w.check();
    assert_eq!(w.free_frames(), start + 1);
}

#[test]
fn lock_and_unlock_hostile_inputs_fail_cleanly() {
    let mut w = with_buffer(0x1000);
    app_kernel(&mut w);
    let before = w.snapshot();
    for (a, n, code) in [
        (0xFFFF_F000, 0x1000, ErrorCode::NotEnoughMemory),
        (0xFFFF_F000, 0x2000, ErrorCode::NotEnoughMemory),
        (0xFFFF_FFFF, 0x7FFF_FFFF, ErrorCode::NotEnoughMemory),
        (0x7000_0000, 0x1000, ErrorCode::NotEnoughMemory),
        (0xF000_0000, 0x1000, ErrorCode::NotEnoughMemory),
        (0x8400_0000, 0x1000, ErrorCode::NotEnoughMemory),
        (0x4000_0000, 0x1000, ErrorCode::NotEnoughMemory),
        (0x10000, 0x7FFF_FFFF, ErrorCode::NotEnoughMemory),
        (0x8000_0000, 0x8000_0000, ErrorCode::InvalidParameter),
        (0x8000_0000, 0xFFFF_FFFF, ErrorCode::InvalidParameter),
    ] {
        // Only the two non-positive sizes fail step 1; the rest are brought in (step 3).
        let step = if code == ErrorCode::NotEnoughMemory {
            "5.7.3"
        } else {
            "5.7.1"
        };
        assert_fails(w.t.lock_pages(a, n, LockFlags::READ), (code, step), &w);
        assert_eq!(w.snapshot(), before, "lock 0x{a:08X}+0x{n:X}");
    }
    for (a, n) in [
        (0xFFFF_F000, 0x1000),
        (0x7000_0000, 0x1000),
        (0x10000, 0x7FFF_FFFF),
    ] {
        assert_fails(
            w.t.unlock_pages(a, n),
            (ErrorCode::InvalidParameter, "5.7.6"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
    // A dead process's handle.
    let victim = w.kernel.create_process("victim.exe").unwrap();
    w.t.terminate_process(h(victim), 0).unwrap();
    w.check();
    assert_fails(
        w.t.lock_pages_ex(h(victim), 0x10000, 0x1000, LockFlags::READ),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_fails(
        w.t.unlock_pages_ex(h(victim), 0x10000, 0x1000),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
}

#[test]
fn lock_range_crossing_into_the_shared_heap_brings_in_both_tables() {
    let mut w = World::new();
    w.driver();
    let app = h(w.app);
    // The last page below 0x70000000 is app's; 0x70000000 is the kernel's.
    let v =
        w.t.virtual_alloc_ex(
            app,
            0x6FFF_0000,
            0x10000,
            AllocType::RESERVE | AllocType::COMMIT,
            RW,
        )
        .unwrap();
    assert_eq!(v, 0x6FFF_0000);
    w.check();
    let before = w.snapshot();
    // The shared heap page is not there yet: the second page cannot be brought in.
    assert_fails(
        w.t.lock_pages_ex(app, 0x6FFF_F000, 0x2000, LockFlags::READ),
        (ErrorCode::NotEnoughMemory, "5.7.3"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    w.nk();
    let s =
        w.t.ce_virtual_shared_alloc(0, 0x1000, AllocType::RESERVE | AllocType::COMMIT)
            .unwrap();
    assert_eq!(s, 0x7000_0000);
    w.check();
    let own = w.t.lock_pages_ex(app, 0x6FFF_F000, 0x1000, Q).unwrap();
    let heap = w.t.lock_pages(s, 0x1000, Q).unwrap();
    let both =
        w.t.lock_pages_ex(app, 0x6FFF_F800, 0x1000, LockFlags::READ)
            .unwrap();
    w.check();
    assert_eq!(both, [own[0], heap[0]]);
    // Both pages are locked.
    assert_fails(
        w.t.virtual_protect_ex(app, 0x6FFF_F000, 0x1000, RO),
        (ErrorCode::SharingViolation, "5.3.4"),
        &w,
    );
    assert_fails(
        w.t.virtual_free(s, 0, AllocType::RELEASE),
        (ErrorCode::InvalidParameter, "5.2.3"),
        &w,
    );
    // A range that is not the record's unlocks nothing.
    assert_fails(
        w.t.unlock_pages_ex(app, 0x6FFF_E000, 0x3000),
        (ErrorCode::InvalidParameter, "5.7.6"),
        &w,
    );
    w.t.unlock_pages_ex(app, 0x6FFF_F000, 0x2000).unwrap();
    w.check();
    w.t.virtual_protect_ex(app, 0x6FFF_F000, 0x1000, RO)
        .unwrap();
    w.t.virtual_free(s, 0, AllocType::RELEASE).unwrap();
    w.check();
}
