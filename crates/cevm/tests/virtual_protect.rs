//! VirtualProtect / VirtualProtectEx (semantics.md §5.3), the NULL old-protection pointer
//! (through `cevm::ce`), and the handle checks (§2).

mod common;

use cevm::{AllocType, ErrorCode, Handle, LockFlags, ProcessAccess, Protection, ce};
use common::{
    COMMIT, Expected, NA, RESERVE, RO, RW, World, assert_av, assert_fails, committed, p, q,
    reserved,
};

/// A user-mode app with 4 committed read/write pages at 0x10000 (marker in each) in a
/// 0x5000-byte reservation whose last page is only reserved.
fn with_pages() -> (World, u32) {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x5000, RESERVE, NA).unwrap();
    assert_eq!(b, 0x10000);
    w.t.virtual_alloc(b, 0x4000, COMMIT, RW).unwrap();
    for i in 0..4 {
        w.t.write_u32(b + i * 0x1000, 0xABC0 + i).unwrap();
    }
    w.check();
    (w, b)
}

#[track_caller]
fn assert_pages_intact(w: &mut World, b: u32) {
    assert_eq!(q(w, b), committed(b, b, 0x4000, RW));
    assert_eq!(q(w, b + 0x4000), reserved(b + 0x4000, b, 0x1000));
    for i in 0..4 {
        assert_eq!(w.t.read_u32(b + i * 0x1000).unwrap(), 0xABC0 + i);
    }
}

// ---------------------------------------------------------------- effects

#[test]
fn protect_changes_every_page_and_returns_the_first_pages_old_protection() {
    let (mut w, b) = with_pages();
    w.t.virtual_protect(b, 0x1000, RO).unwrap();
    w.check();
    let frames = w.free_frames();
    let old =
        w.t.virtual_protect(b, 0x3000, Protection::EXECUTE_READWRITE)
            .unwrap();
    w.check();
    assert_eq!(old, RO, "the first page's protection, not the others'");
    assert_eq!(w.free_frames(), frames);
    assert_eq!(
        q(&mut w, b),
        committed(b, b, 0x3000, Protection::EXECUTE_READWRITE)
    );
    assert_eq!(q(&mut w, b + 0x3000), committed(b + 0x3000, b, 0x1000, RW));
    for i in 0..4 {
        assert_eq!(
            w.t.read_u32(b + i * 0x1000).unwrap(),
            0xABC0 + i,
            "data kept"
        );
    }
    w.t.execute(b + 0x2FFF).unwrap();
    assert_av(w.t.execute(b + 0x3000), b + 0x3000, false, &w);
}

#[test]
fn a_byte_range_covers_every_page_it_touches() {
    let (mut w, b) = with_pages();
    assert_eq!(w.t.virtual_protect(b + 0xFFF, 2, RO).unwrap(), RW);
    w.check();
    assert_eq!(q(&mut w, b), committed(b, b, 0x2000, RO));
    assert_eq!(q(&mut w, b + 0x2000), committed(b + 0x2000, b, 0x2000, RW));
    assert_av(w.t.write_u8(b, 1), b, true, &w);
    assert_av(w.t.write_u8(b + 0x1FFF, 1), b + 0x1FFF, true, &w);
    w.t.write_u8(b + 0x2000, 1).unwrap();
}

#[test]
fn the_old_protection_is_the_read_back_form() {
    let (mut w, b) = with_pages();
    let cases: [(u32, u32); 10] = [
        (0x01, 0x01),
        (0x02, 0x02),
        (0x04, 0x04),
        (0x10, 0x20),
        (0x20, 0x20),
        (0x40, 0x40),
        (0x104, 0x104),
        (0x204, 0x204),
        (0x310, 0x320),
        (0x102, 0x102),
    ];
    for (set, back) in cases {
        w.t.virtual_protect(b, 0x1000, p(set)).unwrap();
        w.check();
        assert_eq!(
            q(&mut w, b).protect,
            p(back),
            "query after setting {set:#x}"
        );
        let old = w.t.virtual_protect(b, 0x1000, RW).unwrap();
        w.check();
        assert_eq!(old, p(back), "old protection after setting {set:#x}");
    }
}

#[test]
fn protect_to_noaccess_keeps_the_page_committed_but_unreadable() {
    let (mut w, b) = with_pages();
    w.t.virtual_protect(b + 0x1000, 0x1000, NA).unwrap();
    w.check();
    assert_eq!(q(&mut w, b + 0x1000), committed(b + 0x1000, b, 0x1000, NA));
    assert_av(w.t.read_u8(b + 0x1000), b + 0x1000, false, &w);
    w.t.virtual_protect(b + 0x1000, 0x1000, RW).unwrap();
    w.check();
    assert_eq!(w.t.read_u32(b + 0x1000).unwrap(), 0xABC1);
}

#[test]
fn protect_with_guard_makes_one_shot_guard_pages() {
    let (mut w, b) = with_pages();
    let old =
        w.t.virtual_protect(b, 0x2000, RW | Protection::GUARD)
            .unwrap();
    w.check();
    assert_eq!(old, RW);
    assert_eq!(q(&mut w, b), committed(b, b, 0x2000, p(0x104)));
    assert_av(w.t.read_u8(b + 0x1001), b + 0x1001, false, &w);
    assert_eq!(q(&mut w, b), committed(b, b, 0x1000, p(0x104)));
    assert_eq!(q(&mut w, b + 0x1000), committed(b + 0x1000, b, 0x3000, RW));
    assert_eq!(w.t.read_u32(b + 0x1000).unwrap(), 0xABC1);
    // A protect over a consumed guard page reports it without the guard.
    assert_eq!(w.t.virtual_protect(b + 0x1000, 1, RO).unwrap(), RW);
    w.check();
}

#[test]
fn protect_without_nocache_clears_it() {
    let (mut w, b) = with_pages();
    w.t.virtual_protect(b, 0x1000, RW | Protection::NOCACHE)
        .unwrap();
    w.check();
    assert_eq!(q(&mut w, b).protect, p(0x204));
    assert_eq!(w.t.virtual_protect(b, 0x1000, RW).unwrap(), p(0x204));
    w.check();
    assert_eq!(q(&mut w, b), committed(b, b, 0x4000, RW));
}

// ---------------------------------------------------------------- step 1: NULL old pointer

#[test]
fn a_null_old_protection_pointer_fails_with_87_and_changes_nothing() {
    let (mut w, b) = with_pages();
    assert!(!ce::virtual_protect(&mut w.t, b, 0x1000, RO.bits(), None));
    assert_eq!(w.t.last_error(), 87);
    w.check();
    assert_pages_intact(&mut w, b);
    let mut old = 0;
    assert!(ce::virtual_protect(
        &mut w.t,
        b,
        0x1000,
        RO.bits(),
        Some(&mut old)
    ));
    w.check();
    assert_eq!(old, RW.bits());
    assert_eq!(q(&mut w, b).protect, RO);
}

#[test]
fn the_null_old_pointer_check_comes_before_every_other_argument_check() {
    let (mut w, b) = with_pages();
    w.kmode(w.app);
    w.t.lock_pages(b, 0x1000, LockFlags::READ).unwrap();
    w.check();
    // Invalid size, invalid protection, a locked page, uncommitted pages: still 87.
    for (a, n, prot) in [
        (b, 0, RO.bits()),
        (b, 0x1000, 0x08),
        (b, 0x1000, RO.bits()),
        (b, 0x5000, RO.bits()),
        (0xFFFF_F000, 0xFFFF_FFFF, 0),
    ] {
        w.t.set_last_error(0);
        assert!(!ce::virtual_protect(&mut w.t, a, n, prot, None));
        assert_eq!(w.t.last_error(), 87, "({a:#x}, {n:#x}, {prot:#x})");
        w.check();
    }
    // With a pointer, the locked page gives 32.
    let mut old = 0;
    assert!(!ce::virtual_protect(
        &mut w.t,
        b,
        0x1000,
        RO.bits(),
        Some(&mut old)
    ));
    assert_eq!(w.t.last_error(), 32);
    w.check();
    assert_pages_intact(&mut w, b);
}

#[test]
fn virtual_protect_ex_checks_the_handle_before_the_null_old_pointer() {
    let (mut w, b) = with_pages();
    let app = Handle::from(w.app);
    let weak = w.open(ProcessAccess::VM_READ, w.app);
    let closed = w.closed_handle(w.app);
    for (h, code) in [
        (Handle(0xDEAD), 6),
        (Handle::NULL, 6),
        (closed, 6),
        (weak, 5),
        (app, 87),
    ] {
        w.t.set_last_error(0);
        assert!(!ce::virtual_protect_ex(
            &mut w.t,
            h,
            b,
            0x1000,
            RO.bits(),
            None
        ));
        assert_eq!(w.t.last_error(), code, "handle {h:?}");
        w.check();
    }
    let mut old = 0;
    for (h, code) in [(Handle(0xDEAD), 6), (closed, 6), (weak, 5)] {
        assert!(!ce::virtual_protect_ex(
            &mut w.t,
            h,
            b,
            0x1000,
            RO.bits(),
            Some(&mut old)
        ));
        assert_eq!(w.t.last_error(), code);
        w.check();
    }
    assert_pages_intact(&mut w, b);
    assert!(ce::virtual_protect_ex(
        &mut w.t,
        app,
        b,
        0x1000,
        RO.bits(),
        Some(&mut old)
    ));
    w.check();
    assert_eq!(old, RW.bits());
    assert_eq!(q(&mut w, b).protect, RO);
}

// ---------------------------------------------------------------- step 2: size and record

#[test]
fn non_positive_sizes_fail_with_87() {
    let (mut w, b) = with_pages();
    // In kernel mode, so that §3's user pointer rule (which also rejects a negative
    // size) cannot be the check that fires.
    w.kmode(w.app);
    for n in [0, 0x8000_0000, 0xFFFF_FFFF] {
        assert_fails(
            w.t.virtual_protect(b, n, RO),
            (ErrorCode::InvalidParameter, "5.3.2"),
            &w,
        );
    }
    assert_fails(
        w.t.virtual_protect(b, 0x7FFF_FFFF, RO),
        (ErrorCode::InvalidParameter, "5.3.2"),
        &w,
    );
    assert_pages_intact(&mut w, b);
}

#[test]
fn protect_past_the_requested_size_fails_in_both_modes() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 100, COMMIT, RW).unwrap();
    for kernel in [false, true] {
        w.enter_app(kernel);
        assert_fails(
            w.t.virtual_protect(b, 101, RO),
            (ErrorCode::InvalidParameter, "5.3.2"),
            &w,
        );
        assert_fails(
            w.t.virtual_protect(b, 0x1000, RO),
            (ErrorCode::InvalidParameter, "5.3.2"),
            &w,
        );
        assert_fails(
            w.t.virtual_protect(b + 100, 1, RO),
            (ErrorCode::InvalidParameter, "5.3.2"),
            &w,
        );
        assert_fails(
            w.t.virtual_protect(b + 200, 4, RO),
            (ErrorCode::InvalidParameter, "5.3.2"),
            &w,
        );
        assert_eq!(q(&mut w, b), committed(b, b, 0x1000, RW));
    }
    w.user(w.app);
    assert_eq!(w.t.virtual_protect(b + 99, 1, RO).unwrap(), RW);
    w.check();
    assert_eq!(q(&mut w, b), committed(b, b, 0x1000, RO));
}

#[test]
fn protect_across_two_reservations_or_outside_any_fails() {
    let mut w = World::new();
    w.user(w.app);
    let a = w.t.virtual_alloc(0, 0x10000, COMMIT, RW).unwrap();
    let b = w.t.virtual_alloc(0, 0x10000, COMMIT, RW).unwrap();
    assert_eq!((a, b), (0x10000, 0x20000));
    assert_fails(
        w.t.virtual_protect(0x1F000, 0x2000, RO),
        (ErrorCode::InvalidParameter, "5.3.2"),
        &w,
    );
    assert_fails(
        w.t.virtual_protect(0x30000, 0x1000, RO),
        (ErrorCode::InvalidParameter, "5.3.2"),
        &w,
    );
    assert_eq!(q(&mut w, a), committed(a, a, 0x10000, RW));
    assert_eq!(q(&mut w, b), committed(b, b, 0x10000, RW));
}

// ---------------------------------------------------------------- step 3: protection

#[test]
fn invalid_protections_fail_with_87() {
    let (mut w, b) = with_pages();
    for bad in [
        0,
        0x08,
        0x80,
        0x100,
        0x200,
        0x101,
        0x201,
        0x06,
        0x03,
        0x404,
        0x402,
        0x800 | 0x04,
        0xFF,
    ] {
        assert_fails(
            w.t.virtual_protect(b, 0x1000, p(bad)),
            (ErrorCode::InvalidParameter, "5.3.3"),
            &w,
        );
    }
    assert_pages_intact(&mut w, b);
}

#[test]
fn the_range_is_checked_before_the_protection() {
    // Both give 87; the step-2 failure on a locked page must not turn into 32.
    let (mut w, b) = with_pages();
    w.kmode(w.app);
    w.t.lock_pages(b, 0x1000, LockFlags::READ).unwrap();
    assert_fails(
        w.t.virtual_protect(b, 0, RO),
        (ErrorCode::InvalidParameter, "5.3.2"),
        &w,
    );
    assert_fails(
        w.t.virtual_protect(b, 0x6000, RO),
        (ErrorCode::InvalidParameter, "5.3.2"),
        &w,
    );
    assert_fails(
        w.t.virtual_protect(b, 0x1000, p(0x08)),
        (ErrorCode::InvalidParameter, "5.3.3"),
        &w,
    );
    assert_fails(
        w.t.virtual_protect(b, 0x1000, Protection::empty()),
        (ErrorCode::InvalidParameter, "5.3.3"),
        &w,
    );
    assert_pages_intact(&mut w, b);
}

// ---------------------------------------------------------------- steps 4 and 5

#[test]
fn a_locked_page_gives_sharing_violation_before_the_commit_check() {
    let (mut w, b) = with_pages();
    w.kmode(w.app);
    w.t.lock_pages(b + 0x3000, 0x1000, LockFlags::WRITE)
        .unwrap();
    w.check();
    for kernel in [true, false] {
        w.enter_app(kernel);
        assert_fails(
            w.t.virtual_protect(b + 0x3000, 1, RO),
            (ErrorCode::SharingViolation, "5.3.4"),
            &w,
        );
        assert_fails(
            w.t.virtual_protect(b, 0x4000, RO),
            (ErrorCode::SharingViolation, "5.3.4"),
            &w,
        );
        // The range also holds the uncommitted page b + 0x4000: still 32.
        assert_fails(
            w.t.virtual_protect(b + 0x3000, 0x2000, RO),
            (ErrorCode::SharingViolation, "5.3.4"),
            &w,
        );
        assert_pages_intact(&mut w, b);
    }
    // Pages the lock does not cover change.
    assert_eq!(w.t.virtual_protect(b, 0x3000, RO).unwrap(), RW);
    w.check();
    w.kmode(w.app);
    w.t.unlock_pages(b + 0x3000, 0x1000).unwrap();
    w.check();
    assert_eq!(w.t.virtual_protect(b + 0x3000, 1, RO).unwrap(), RW);
    w.check();
    assert_eq!(q(&mut w, b), committed(b, b, 0x4000, RO));
}

#[test]
fn a_range_with_an_uncommitted_page_fails_and_changes_nothing() {
    let (mut w, b) = with_pages();
    assert_fails(
        w.t.virtual_protect(b + 0x3000, 0x2000, RO),
        (ErrorCode::InvalidParameter, "5.3.5"),
        &w,
    );
    assert_fails(
        w.t.virtual_protect(b + 0x4000, 1, RO),
        (ErrorCode::InvalidParameter, "5.3.5"),
        &w,
    );
    w.t.virtual_free(b + 0x1000, 0x1000, AllocType::DECOMMIT)
        .unwrap();
    w.check();
    assert_fails(
        w.t.virtual_protect(b, 0x3000, RO),
        (ErrorCode::InvalidParameter, "5.3.5"),
        &w,
    );
    assert_eq!(
        q(&mut w, b),
        committed(b, b, 0x1000, RW),
        "the first page did not change"
    );
    assert_eq!(q(&mut w, b + 0x2000), committed(b + 0x2000, b, 0x2000, RW));
}

#[test]
fn auto_commit_and_image_reserved_pages_cannot_be_protected() {
    let mut w = World::new();
    w.user(w.app);
    let a =
        w.t.virtual_alloc(0, 0x2000, RESERVE | AllocType::AUTO_COMMIT, NA)
            .unwrap();
    let i =
        w.t.virtual_alloc(0, 0x2000, RESERVE | AllocType::IMAGE, NA)
            .unwrap();
    let frames = w.free_frames();
    assert_fails(
        w.t.virtual_protect(a, 0x1000, RO),
        (ErrorCode::InvalidParameter, "5.3.5"),
        &w,
    );
    assert_fails(
        w.t.virtual_protect(i, 0x1000, RO),
        (ErrorCode::InvalidParameter, "5.3.5"),
        &w,
    );
    assert_eq!(w.free_frames(), frames, "protect does not auto-commit");
    assert_eq!(q(&mut w, a).state, RESERVE);
    // Once touched, the auto-commit page is committed read/write and can be protected.
    w.t.read_u8(a).unwrap();
    assert_eq!(w.t.virtual_protect(a, 0x1000, RO).unwrap(), RW);
    w.check();
}

#[test]
fn hostile_addresses_and_sizes_fail_with_87() {
    let mut w = World::new();
    w.user(w.app);
    for kernel in [false, true] {
        w.enter_app(kernel);
        for a in [0, 0xFFFF_F000, 0x4000_0000, 0x7000_0000, 0x8000_0000] {
            for n in [0, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF, 0x1000] {
                // No record holds any of these ranges (step 2); in user mode most also
                // fail §3's pointer rule, and the spec does not order the two.
                let expected = Expected {
                    code: ErrorCode::InvalidParameter,
                    step: kernel.then_some("5.3.2"),
                };
                assert_fails(w.t.virtual_protect(a, n, RW), expected, &w);
            }
        }
    }
    w.kmode(w.app);
    assert_eq!(
        q(&mut w, 0x4000_0000),
        reserved(0x4000_0000, 0x4000_0000, 0x10000)
    );
}

// ---------------------------------------------------------------- VirtualProtectEx and handles

#[test]
fn virtual_protect_ex_acts_on_the_named_process() {
    let mut w = World::new();
    w.user(w.app);
    let drv = Handle::from(w.drv);
    w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    w.t.virtual_alloc_ex(drv, 0, 0x1000, COMMIT, RW).unwrap();
    assert_eq!(
        w.t.virtual_protect_ex(drv, 0x10000, 0x1000, RO).unwrap(),
        RW
    );
    w.check();
    assert_eq!(w.t.virtual_query_ex(drv, 0x10000, 28).unwrap().protect, RO);
    assert_eq!(q(&mut w, 0x10000).protect, RW, "app untouched");
    assert_eq!(
        w.t.virtual_protect_ex(
            Handle::CURRENT_PROCESS,
            0x10000,
            0x1000,
            Protection::EXECUTE
        )
        .unwrap(),
        RW
    );
    w.check();
    assert_eq!(q(&mut w, 0x10000).protect, Protection::EXECUTE_READ);
}

#[test]
fn virtual_protect_ex_handle_checks_come_before_the_arguments() {
    let (mut w, b) = with_pages();
    let weak = w.open(ProcessAccess::QUERY_INFORMATION, w.app);
    let closed = w.closed_handle(w.app);
    for (a, n, prot) in [(b, 0x1000, RO), (0xFFFF_F000, 0, Protection::empty())] {
        assert_fails(
            w.t.virtual_protect_ex(Handle(0xDEAD), a, n, prot),
            (ErrorCode::InvalidHandle, "2"),
            &w,
        );
        assert_fails(
            w.t.virtual_protect_ex(closed, a, n, prot),
            (ErrorCode::InvalidHandle, "2"),
            &w,
        );
        assert_fails(
            w.t.virtual_protect_ex(weak, a, n, prot),
            (ErrorCode::AccessDenied, "2"),
            &w,
        );
    }
    assert_pages_intact(&mut w, b);
}

#[test]
fn virtual_protect_on_a_terminated_process_fails_with_6() {
    let mut w = World::new();
    w.kmode(w.drv);
    w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    let h = w.terminate_with_handle(w.drv);
    assert_fails(
        w.t.virtual_protect_ex(w.drv.into(), 0x10000, 0x1000, RO),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_fails(
        w.t.virtual_protect_ex(h, 0x10000, 0x1000, RO),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_fails(
        w.t.virtual_protect(0x10000, 0x1000, RO),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    let mut old = 0;
    assert!(!ce::virtual_protect_ex(
        &mut w.t,
        h,
        0x10000,
        0x1000,
        RO.bits(),
        Some(&mut old)
    ));
    assert_eq!(w.t.last_error(), 6);
    w.check();
}

#[test]
fn user_mode_protect_is_held_to_the_user_pointer_rule() {
    let mut w = World::new();
    w.nk();
    let kv =
        w.t.virtual_alloc(0, 0x1000, AllocType::COMMIT, Protection::READWRITE)
            .unwrap();
    w.user(w.app);
    // kv is in the kernel's tables (§3) and inside NK.EXE's record, so §5.3 has nothing
    // against it: only §3's user pointer rule, which every user-mode call obeys, rejects it.
    assert_fails(
        w.t.virtual_protect(kv, 0x1000, Protection::NOACCESS),
        (ErrorCode::InvalidParameter, "3"),
        &w,
    );
    // Through a handle too: the rule is about the caller's mode, not the process.
    let nk = Handle::from(w.kernel.kernel_pid());
    assert_fails(
        w.t.virtual_protect_ex(nk, kv, 0x1000, Protection::NOACCESS),
        (ErrorCode::InvalidParameter, "3"),
        &w,
    );
    w.nk();
    assert_eq!(
        w.t.virtual_query(kv, 28).unwrap().protect,
        Protection::READWRITE
    );
}

#[test]
fn a_null_old_pointer_is_reported_after_the_active_process_is_resolved() {
    let mut w = World::new();
    w.user(w.app);
    w.t.terminate_process(Handle::CURRENT_PROCESS, 0).unwrap();
    assert!(!ce::virtual_protect(&mut w.t, 0x10000, 0x1000, 4, None));
    assert_eq!(w.t.last_error(), ErrorCode::InvalidHandle.code());
}
