//! VirtualFree / VirtualFreeEx (semantics.md §5.2) and their handle checks (§2).

mod common;

use cevm::{AllocType, ErrorCode, Handle, LockFlags, ProcessAccess};
use common::{
    COMMIT, DECOMMIT, NA, RELEASE, RESERVE, RW, World, assert_av, assert_fails, committed,
    free_info, q, reserved,
};

/// A user-mode app with a 0x5000-byte reservation at 0x10000 whose pages 1–3 are
/// committed read/write and hold a marker each.
fn with_region() -> (World, u32) {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x5000, RESERVE, NA).unwrap();
    assert_eq!(b, 0x10000);
    assert_eq!(
        w.t.virtual_alloc(b + 0x1000, 0x3000, COMMIT, RW).unwrap(),
        b + 0x1000
    );
    for i in 1..4 {
        w.t.write_u32(b + i * 0x1000, 0xF00D_0000 + i).unwrap();
    }
    w.check();
    (w, b)
}

/// Asserts the reservation made by [`with_region`] is exactly as it was made.
#[track_caller]
fn assert_region_intact(w: &mut World, b: u32) {
    assert_eq!(q(w, b), reserved(b, b, 0x1000));
    assert_eq!(q(w, b + 0x1000), committed(b + 0x1000, b, 0x3000, RW));
    assert_eq!(q(w, b + 0x4000), reserved(b + 0x4000, b, 0x1000));
    for i in 1..4 {
        assert_eq!(w.t.read_u32(b + i * 0x1000).unwrap(), 0xF00D_0000 + i);
    }
}

// ---------------------------------------------------------------- MEM_RELEASE

#[test]
fn release_frees_the_whole_reservation_and_returns_its_frames() {
    let (mut w, b) = with_region();
    let frames = w.free_frames();
    w.t.virtual_free(b, 0, RELEASE).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames + 3);
    assert_eq!(q(&mut w, b), free_info(b, 0x3FFF_0000));
    assert_av(w.t.read_u8(b + 0x1000), b + 0x1000, false, &w);
    // The blocks are free again: an explicit reservation there succeeds, and pages
    // committed again are zero.
    assert_eq!(
        w.t.virtual_alloc(b, 0x5000, AllocType::RESERVE | COMMIT, RW)
            .unwrap(),
        b
    );
    w.check();
    for i in 0..5 {
        assert_eq!(w.t.read_u32(b + i * 0x1000).unwrap(), 0);
    }
}

#[test]
fn release_of_a_reservation_with_no_committed_page_succeeds() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x20000, RESERVE, NA).unwrap();
    let frames = w.free_frames();
    w.t.virtual_free(b, 0, RELEASE).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames);
    assert_eq!(q(&mut w, b).state, AllocType::FREE);
}

#[test]
fn release_must_name_the_exact_base_of_a_reservation() {
    let (mut w, b) = with_region();
    let frames = w.free_frames();
    for a in [b + 0x1000, b + 1, b + 0x10000, b - 1, 0x50000] {
        assert_fails(
            w.t.virtual_free(a, 0, RELEASE),
            (ErrorCode::InvalidParameter, "5.2.3"),
            &w,
        );
    }
    assert_eq!(w.free_frames(), frames);
    assert_region_intact(&mut w, b);
}

#[test]
fn only_release_with_size_0_and_decommit_with_a_positive_size_are_accepted() {
    let (mut w, b) = with_region();
    let frames = w.free_frames();
    let forms: [(u32, u32); 12] = [
        (0x1000, RELEASE.bits()),
        (1, RELEASE.bits()),
        (0xFFFF_FFFF, RELEASE.bits()),
        (0, DECOMMIT.bits()),
        (0x8000_0000, DECOMMIT.bits()),
        (0xFFFF_FFFF, DECOMMIT.bits()),
        (0, RELEASE.bits() | DECOMMIT.bits()),
        (0x1000, RELEASE.bits() | DECOMMIT.bits()),
        (0x1000, 0),
        (0, 0),
        (0x1000, COMMIT.bits()),
        (0, RELEASE.bits() | AllocType::TOP_DOWN.bits()),
    ];
    for (n, t) in forms {
        for a in [b, b + 0x1000] {
            assert_fails(
                w.t.virtual_free(a, n, AllocType::from_bits_retain(t)),
                (ErrorCode::InvalidParameter, "5.2.1"),
                &w,
            );
        }
    }
    assert_eq!(w.free_frames(), frames);
    assert_region_intact(&mut w, b);
}

// ---------------------------------------------------------------- MEM_DECOMMIT

#[test]
fn decommit_returns_every_touched_page_to_reserved_and_drops_its_frame() {
    let (mut w, b) = with_region();
    let frames = w.free_frames();
    // (b + 0x1800, 0x1000) covers the pages at b + 0x1000 and b + 0x2000.
    w.t.virtual_free(b + 0x1800, 0x1000, DECOMMIT).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames + 2);
    assert_eq!(q(&mut w, b), reserved(b, b, 0x3000));
    assert_eq!(q(&mut w, b + 0x3000), committed(b + 0x3000, b, 0x1000, RW));
    assert_eq!(w.t.read_u32(b + 0x3000).unwrap(), 0xF00D_0003);
    assert_av(w.t.read_u8(b + 0x1000), b + 0x1000, false, &w);
    assert_av(w.t.write_u8(b + 0x2FFF, 1), b + 0x2FFF, true, &w);
    // Committed again, the pages are zero.
    w.t.virtual_alloc(b + 0x1000, 0x2000, COMMIT, RW).unwrap();
    w.check();
    assert_eq!(w.t.read_u32(b + 0x1000).unwrap(), 0);
    assert_eq!(w.t.read_u32(b + 0x2000).unwrap(), 0);
}

#[test]
fn decommit_of_uncommitted_pages_is_fine() {
    let (mut w, b) = with_region();
    let frames = w.free_frames();
    w.t.virtual_free(b, 0x1000, DECOMMIT).unwrap();
    w.check();
    // A range mixing reserved and committed pages.
    w.t.virtual_free(b + 0x3000, 0x2000, DECOMMIT).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames + 1);
    assert_eq!(q(&mut w, b), reserved(b, b, 0x1000));
    assert_eq!(q(&mut w, b + 0x1000), committed(b + 0x1000, b, 0x2000, RW));
    assert_eq!(q(&mut w, b + 0x3000), reserved(b + 0x3000, b, 0x2000));
}

#[test]
fn decommit_past_the_requested_size_fails_in_both_modes() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 100, COMMIT, RW).unwrap();
    w.t.write_u8(b + 99, 7).unwrap();
    let frames = w.free_frames();
    for kernel in [false, true] {
        w.enter_app(kernel);
        assert_fails(
            w.t.virtual_free(b, 101, DECOMMIT),
            (ErrorCode::InvalidParameter, "5.2.4"),
            &w,
        );
        assert_fails(
            w.t.virtual_free(b, 0x1000, DECOMMIT),
            (ErrorCode::InvalidParameter, "5.2.4"),
            &w,
        );
        assert_fails(
            w.t.virtual_free(b + 100, 1, DECOMMIT),
            (ErrorCode::InvalidParameter, "5.2.4"),
            &w,
        );
        assert_eq!(w.free_frames(), frames);
        assert_eq!(q(&mut w, b), committed(b, b, 0x1000, RW));
        assert_eq!(w.t.read_u8(b + 99).unwrap(), 7);
    }
    w.user(w.app);
    w.t.virtual_free(b + 99, 1, DECOMMIT).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames + 1);
    assert_eq!(q(&mut w, b), reserved(b, b, 0x1000));
}

#[test]
fn decommit_across_two_reservations_fails_and_changes_nothing() {
    let mut w = World::new();
    w.user(w.app);
    let a = w.t.virtual_alloc(0, 0x10000, COMMIT, RW).unwrap();
    let b = w.t.virtual_alloc(0, 0x10000, COMMIT, RW).unwrap();
    assert_eq!((a, b), (0x10000, 0x20000));
    w.t.write_u8(0x1FFFF, 1).unwrap();
    w.t.write_u8(0x20000, 2).unwrap();
    let frames = w.free_frames();
    assert_fails(
        w.t.virtual_free(0x1F000, 0x2000, DECOMMIT),
        (ErrorCode::InvalidParameter, "5.2.4"),
        &w,
    );
    assert_eq!(w.free_frames(), frames);
    assert_eq!(q(&mut w, a), committed(a, a, 0x10000, RW));
    assert_eq!(q(&mut w, b), committed(b, b, 0x10000, RW));
    assert_eq!(w.t.read_u8(0x1FFFF).unwrap(), 1);
    assert_eq!(w.t.read_u8(0x20000).unwrap(), 2);
}

#[test]
fn decommit_outside_any_reservation_fails() {
    let mut w = World::new();
    w.user(w.app);
    assert_fails(
        w.t.virtual_free(0x50000, 0x1000, DECOMMIT),
        (ErrorCode::InvalidParameter, "5.2.4"),
        &w,
    );
    assert_fails(
        w.t.virtual_free(0x10000, 0x7FFF_FFFF, DECOMMIT),
        (ErrorCode::InvalidParameter, "5.2.4"),
        &w,
    );
}

// ---------------------------------------------------------------- step 2: the user ceiling

#[test]
fn user_mode_free_at_or_above_0x40000000_fails_though_kernel_mode_may_release() {
    let mut w = World::new();
    w.kmode(w.app);
    // Kernel mode may reserve in the DLL area (above the barrier block).
    assert_eq!(
        w.t.virtual_alloc(0x4001_0000, 0x2000, RESERVE, NA),
        Ok(0x4001_0000)
    );
    w.user(w.app);
    let dll = reserved(0x4001_0000, 0x4001_0000, 0x2000);
    assert_fails(
        w.t.virtual_free(0x4001_0000, 0, RELEASE),
        (ErrorCode::InvalidParameter, "5.2.2"),
        &w,
    );
    assert_fails(
        w.t.virtual_free(0x4001_0000, 0x1000, DECOMMIT),
        (ErrorCode::InvalidParameter, "5.2.2"),
        &w,
    );
    assert_eq!(q(&mut w, 0x4001_0000), dll);
    w.kmode(w.app);
    w.t.virtual_free(0x4001_0000, 0, RELEASE).unwrap();
    w.check();
    assert_eq!(q(&mut w, 0x4001_0000).state, AllocType::FREE);
}

#[test]
fn the_first_block_and_the_dll_barrier_are_not_va_records() {
    // §4: VA records are made by the allocation calls; the blocks a new process starts
    // with are not, so no form of VirtualFree can release or decommit them.
    let mut w = World::new();
    for mode_user in [true, false] {
        w.enter_app(!mode_user);
        for (a, n, t) in [
            (0, 0, RELEASE),
            (0x4000_0000, 0, RELEASE),
            (0x4000_0000, 0x1000, DECOMMIT),
        ] {
            assert_fails(
                w.t.virtual_free(a, n, t),
                (
                    ErrorCode::InvalidParameter,
                    if mode_user && a >= 0x4000_0000 {
                        "5.2.2"
                    } else if t == RELEASE {
                        "5.2.3"
                    } else {
                        "5.2.4"
                    },
                ),
                &w,
            );
        }
    }
    let barrier = reserved(0x4000_0000, 0x4000_0000, 0x10000);
    assert_eq!(q(&mut w, 0x4000_0000), barrier);
    w.user(w.app);
    assert_eq!(
        w.t.read_u8(0x5000),
        Ok(0),
        "the kernel-data page is still there"
    );
}

#[test]
fn user_mode_cannot_free_the_shared_heap_through_its_own_process() {
    let mut w = World::new();
    w.nk();
    let s =
        w.t.ce_virtual_shared_alloc(0, 0x1000, RESERVE | COMMIT)
            .unwrap();
    w.check();
    w.t.write_u32(s, 99).unwrap();
    let frames = w.free_frames();
    w.user(w.app);
    assert_fails(
        w.t.virtual_free(s, 0, RELEASE),
        (ErrorCode::InvalidParameter, "5.2.2"),
        &w,
    );
    assert_fails(
        w.t.virtual_free(s, 0x1000, DECOMMIT),
        (ErrorCode::InvalidParameter, "5.2.2"),
        &w,
    );
    assert_eq!(w.free_frames(), frames);
    assert_eq!(w.t.read_u32(s).unwrap(), 99);
    // In kernel mode, an address in the shared heap refers to the kernel's tables
    // whichever process is active.
    w.kmode(w.app);
    w.t.virtual_free(s, 0, RELEASE).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames + 1);
    assert_eq!(q(&mut w, s).state, AllocType::FREE);
}

#[test]
fn the_user_ceiling_applies_only_to_non_kernel_processes() {
    let mut w = World::new();
    let nk = w.kernel.kernel_pid();
    w.kmode(nk);
    let k = w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    w.check();
    assert_eq!(k, w.kernel.layout().kernel_vm_start);
    let frames = w.free_frames();
    // semantics.md §5.2 step 2 rejects a ≥ 0x40000000 only "in a non-kernel process".
    w.user(w.app);
    w.t.virtual_free_ex(nk.into(), k, 0x1000, DECOMMIT).unwrap();
    w.check();
    w.t.virtual_free_ex(nk.into(), k, 0, RELEASE).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames + 1);
    w.kmode(nk);
    assert_eq!(q(&mut w, k).state, AllocType::FREE);
}

#[test]
fn hostile_addresses_and_sizes_fail_with_87_and_change_nothing() {
    let mut w = World::new();
    w.user(w.app);
    w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    let frames = w.free_frames();
    for kernel in [false, true] {
        w.enter_app(kernel);
        for a in [0xFFFF_F000, 0x4000_0000, 0x7000_0000, 0x8000_0000, 0x10000] {
            for n in [0, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF] {
                for t in [RELEASE, DECOMMIT] {
                    let releases_a_record =
                        t == RELEASE && n == 0 && (a == 0x10000 || (kernel && a == 0x4000_0000));
                    if releases_a_record {
                        continue;
                    }
                    assert_fails(
                        w.t.virtual_free(a, n, t),
                        (ErrorCode::InvalidParameter, free_step(kernel, a, n, t)),
                        &w,
                    );
                }
            }
        }
    }
    assert_eq!(w.free_frames(), frames);
    assert_eq!(q(&mut w, 0x10000), committed(0x10000, 0x10000, 0x1000, RW));
    assert_eq!(
        q(&mut w, 0x4000_0000),
        reserved(0x4000_0000, 0x4000_0000, 0x10000)
    );
}

/// The check of semantics.md §5.2 that rejects VirtualFree(a, n, t) on app.exe when
/// nothing at `a` is a VA record base and no record holds the pages (user mode unless
/// `kernel`).
fn free_step(kernel: bool, a: u32, n: u32, t: AllocType) -> &'static str {
    let accepted = (t == RELEASE && n == 0) || (t == DECOMMIT && (n as i32) > 0);
    if !accepted {
        "5.2.1"
    } else if !kernel && a >= 0x4000_0000 {
        "5.2.2"
    } else if t == RELEASE {
        "5.2.3"
    } else {
        "5.2.4"
    }
}

// ---------------------------------------------------------------- locked pages

#[test]
fn a_reservation_with_locked_pages_is_not_released_or_decommitted() {
    let (mut w, b) = with_region();
    w.kmode(w.app);
    w.t.lock_pages(b + 0x2000, 0x1000, LockFlags::READ).unwrap();
    w.check();
    let frames = w.free_frames();
    for kernel in [true, false] {
        w.enter_app(kernel);
        assert_fails(
            w.t.virtual_free(b, 0, RELEASE),
            (ErrorCode::InvalidParameter, "5.2.3"),
            &w,
        );
        assert_fails(
            w.t.virtual_free(b + 0x2000, 1, DECOMMIT),
            (ErrorCode::InvalidParameter, "5.2.4"),
            &w,
        );
        assert_fails(
            w.t.virtual_free(b, 0x5000, DECOMMIT),
            (ErrorCode::InvalidParameter, "5.2.4"),
            &w,
        );
        assert_eq!(w.free_frames(), frames);
        assert_region_intact(&mut w, b);
    }
    // Pages the lock does not cover may be decommitted.
    w.t.virtual_free(b + 0x3000, 0x1000, DECOMMIT).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames + 1);
    w.kmode(w.app);
    w.t.unlock_pages(b + 0x2000, 0x1000).unwrap();
    w.check();
    w.t.virtual_free(b, 0, RELEASE).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames + 3);
}

// ---------------------------------------------------------------- VirtualFreeEx and handles

#[test]
fn virtual_free_ex_frees_in_the_named_process() {
    let mut w = World::new();
    w.user(w.app);
    assert_eq!(w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap(), 0x10000);
    assert_eq!(
        w.t.virtual_alloc_ex(w.drv.into(), 0, 0x1000, COMMIT, RW)
            .unwrap(),
        0x10000
    );
    w.check();
    let frames = w.free_frames();
    w.t.virtual_free_ex(w.drv.into(), 0x10000, 0, RELEASE)
        .unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames + 1);
    assert_eq!(
        q(&mut w, 0x10000),
        committed(0x10000, 0x10000, 0x1000, RW),
        "app untouched"
    );
    assert_eq!(
        w.t.virtual_query_ex(w.drv.into(), 0x10000, 28)
            .unwrap()
            .state,
        AllocType::FREE
    );
    // The pseudo handle names the active process.
    w.t.virtual_free_ex(Handle::CURRENT_PROCESS, 0x10000, 0x1000, DECOMMIT)
        .unwrap();
    w.check();
    assert_eq!(q(&mut w, 0x10000), reserved(0x10000, 0x10000, 0x1000));
}

#[test]
fn virtual_free_ex_handle_checks_come_before_the_arguments() {
    let mut w = World::new();
    w.user(w.app);
    w.t.virtual_alloc_ex(w.drv.into(), 0, 0x1000, COMMIT, RW)
        .unwrap();
    let weak = w.open(ProcessAccess::VM_READ | ProcessAccess::VM_WRITE, w.drv);
    let closed = w.closed_handle(w.drv);
    let frames = w.free_frames();
    for (a, n, t) in [
        (0x10000, 0, RELEASE),
        (0xFFFF_F000, 0xFFFF_FFFF, AllocType::empty()),
    ] {
        assert_fails(
            w.t.virtual_free_ex(Handle(0xDEAD), a, n, t),
            (ErrorCode::InvalidHandle, "2"),
            &w,
        );
        assert_fails(
            w.t.virtual_free_ex(Handle::NULL, a, n, t),
            (ErrorCode::InvalidHandle, "2"),
            &w,
        );
        assert_fails(
            w.t.virtual_free_ex(closed, a, n, t),
            (ErrorCode::InvalidHandle, "2"),
            &w,
        );
        assert_fails(
            w.t.virtual_free_ex(weak, a, n, t),
            (ErrorCode::AccessDenied, "2"),
            &w,
        );
    }
    assert_eq!(w.free_frames(), frames);
    assert_eq!(
        w.t.virtual_query_ex(w.drv.into(), 0x10000, 28)
            .unwrap()
            .state,
        COMMIT
    );
    let h = w.open(ProcessAccess::VM_OPERATION, w.drv);
    w.t.virtual_free_ex(h, 0x10000, 0, RELEASE).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames + 1);
}

#[test]
fn virtual_free_on_a_terminated_process_fails_with_6() {
    let mut w = World::new();
    w.kmode(w.drv);
    w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    let h = w.terminate_with_handle(w.drv);
    let frames = w.free_frames();
    assert_fails(
        w.t.virtual_free_ex(w.drv.into(), 0x10000, 0, RELEASE),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_fails(
        w.t.virtual_free_ex(h, 0x10000, 0, RELEASE),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    // The thread is still in the terminated process.
    assert_fails(
        w.t.virtual_free(0x10000, 0, RELEASE),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_fails(
        w.t.virtual_free(0x10000, 0x1000, DECOMMIT),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_eq!(w.free_frames(), frames);
}
