//! semantics.md §5.11 CeVirtualSharedAlloc: kernel only (user mode 5), the action rule,
//! NULL reserving in the shared heap 0x70000000-0x7FEFFFFF, explicit commits, and the
//! access rule of §6 (kernel read/write, user mode read-only), seen through threads.

mod common;

use cevm::{AllocType, ErrorCode, Mode, Protection};
use common::{COMMIT, RC, RESERVE, RW, World, assert_fails};

#[test]
fn sharedalloc_in_user_mode_is_5() {
    let mut w = World::new();
    let before = w.snapshot();
    for pid in [w.app, w.kernel.kernel_pid()] {
        w.t.enter(pid, Mode::User, None).unwrap();
        assert_fails(
            w.t.ce_virtual_shared_alloc(0, 0x1000, RC),
            (ErrorCode::AccessDenied, "2"),
            &w,
        );
        // Before any argument check.
        assert_fails(
            w.t.ce_virtual_shared_alloc(0x10000, 0, AllocType::empty()),
            (ErrorCode::AccessDenied, "2"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
}

#[test]
fn sharedalloc_action_must_be_reserve_commit_or_both() {
    let mut w = World::new();
    w.nk();
    let before = w.snapshot();
    for action in [
        AllocType::empty(),
        AllocType::DECOMMIT,
        AllocType::RELEASE,
        AllocType::TOP_DOWN,
        RESERVE | AllocType::TOP_DOWN,
        COMMIT | AllocType::AUTO_COMMIT,
        RESERVE | AllocType::IMAGE,
        RC | AllocType::MAPPED,
        AllocType::from_bits_retain(0xFFFF_FFFF),
    ] {
        assert_fails(
            w.t.ce_virtual_shared_alloc(0, 0x1000, action),
            (ErrorCode::InvalidParameter, "5.11"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
}

#[test]
fn sharedalloc_non_positive_size_is_87() {
    let mut w = World::new();
    w.nk();
    let before = w.snapshot();
    for n in [0, 0x8000_0000, 0xFFFF_FFFF] {
        for (a, action) in [(0, RC), (0, RESERVE), (0x7000_0000, COMMIT)] {
            assert_fails(
                w.t.ce_virtual_shared_alloc(a, n, action),
                (ErrorCode::InvalidParameter, "5.11"),
                &w,
            );
        }
    }
    assert_eq!(w.snapshot(), before);
}

#[test]
fn sharedalloc_null_reserves_whole_blocks_in_the_shared_heap() {
    let mut w = World::new();
    w.nk();
    let start = w.free_frames();
    assert_eq!(
        w.t.ce_virtual_shared_alloc(0, 0x1000, RC).unwrap(),
        0x7000_0000
    );
    w.check();
    assert_eq!(w.free_frames(), start - 1);
    assert_eq!(
        w.q4(0x7000_0000),
        (AllocType::COMMIT, RW, 0x1000, 0x7000_0000)
    );
    // 0x10001 bytes take two blocks; a reserve commits nothing.
    assert_eq!(
        w.t.ce_virtual_shared_alloc(0, 0x10001, RESERVE).unwrap(),
        0x7001_0000
    );
    w.check();
    assert_eq!(w.free_frames(), start - 1);
    assert_eq!(
        w.q4(0x7001_0000),
        (
            AllocType::RESERVE,
            Protection::NOACCESS,
            0x11000,
            0x7001_0000
        )
    );
    // MEM_COMMIT alone with NULL reserves too, and commits every page.
    assert_eq!(
        w.t.ce_virtual_shared_alloc(0, 0x1801, COMMIT).unwrap(),
        0x7003_0000
    );
    w.check();
    assert_eq!(w.free_frames(), start - 3);
    assert_eq!(
        w.q4(0x7003_0000),
        (AllocType::COMMIT, RW, 0x2000, 0x7003_0000)
    );
    // Committed pages are zero-filled.
    assert_eq!(w.t.read_u32(0x7003_1FFC).unwrap(), 0);
    // Nothing landed in the kernel's ordinary VM.
    assert_eq!(w.q4(0x8400_0000).0, AllocType::FREE);
}

#[test]
fn sharedalloc_is_read_write_for_the_kernel_and_read_only_for_user_mode() {
    let mut w = World::new();
    w.nk();
    let s = w.t.ce_virtual_shared_alloc(0, 0x2000, RC).unwrap();
    w.check();
    w.t.write_bytes(s + 0x1FFC, b"nk!!").unwrap();
    // Every user process reads the same bytes ...
    for pid in [w.app, w.drv] {
        w.user(pid);
        let mut buf = [0u8; 4];
        w.t.read_bytes(s + 0x1FFC, &mut buf).unwrap();
        assert_eq!(&buf, b"nk!!");
        // ... and cannot write them.
        let e = w.t.write_u8(s + 0x10, 1).unwrap_err();
        assert_eq!((e.code, e.address, e.write), (0xC000_0005, s + 0x10, true));
        assert_eq!(w.t.read_u8(s + 0x10).unwrap(), 0);
    }
    // A kernel-mode thread in a user process writes.
    w.kmode(w.drv);
    w.t.write_u8(s + 0x10, 0x5A).unwrap();
    w.user(w.app);
    assert_eq!(w.t.read_u8(s + 0x10).unwrap(), 0x5A);
    w.check();
}

#[test]
fn sharedalloc_explicit_address_commits_inside_a_reservation() {
    let mut w = World::new();
    w.nk();
    let s = w.t.ce_virtual_shared_alloc(0, 0x3000, RESERVE).unwrap();
    assert_eq!(s, 0x7000_0000);
    w.check();
    let start = w.free_frames();
    // Commit the page holding 0x70001010..0x7000102F; the page start comes back.
    assert_eq!(
        w.t.ce_virtual_shared_alloc(0x7000_1010, 0x20, COMMIT)
            .unwrap(),
        0x7000_1000
    );
    w.check();
    assert_eq!(w.free_frames(), start - 1);
    assert_eq!(w.q4(0x7000_0000).0, AllocType::RESERVE);
    assert_eq!(
        w.q4(0x7000_1000),
        (AllocType::COMMIT, RW, 0x1000, 0x7000_0000)
    );
    assert_eq!(w.q4(0x7000_2000).0, AllocType::RESERVE);
    w.t.write_u8(0x7000_1010, 7).unwrap();
    // Committing it again (and its neighbour) keeps its frame and data.
    assert_eq!(
        w.t.ce_virtual_shared_alloc(0x7000_1000, 0x2000, COMMIT)
            .unwrap(),
        0x7000_1000
    );
    w.check();
    assert_eq!(w.free_frames(), start - 2);
    assert_eq!(w.t.read_u8(0x7000_1010).unwrap(), 7);
    w.user(w.app);
    assert_eq!(w.t.read_u8(0x7000_1010).unwrap(), 7);
}

#[test]
fn sharedalloc_explicit_address_must_be_a_commit_inside_the_shared_heap() {
    let mut w = World::new();
    w.nk();
    w.t.ce_virtual_shared_alloc(0, 0x2000, RESERVE).unwrap();
    w.check();
    let before = w.snapshot();
    for (a, n, action) in [
        (0x7000_0000, 0x1000, RESERVE),
        (0x7000_0000, 0x1000, RC),
        (0x0001_0000, 0x1000, COMMIT),
        (0x6FFF_F000, 0x1000, COMMIT),
        (0x7FF0_0000, 0x1000, COMMIT),
        (0x8000_0000, 0x1000, COMMIT),
        (0x8400_0000, 0x1000, COMMIT),
        (0xFFFF_F000, 0x1000, COMMIT),
        (0x7001_0000, 0x1000, COMMIT), // in the heap, in no reservation
        (0x7000_1000, 0x2000, COMMIT), // past the reservation
        (0x7FEF_F000, 0x7FFF_FFFF, COMMIT), // huge
    ] {
        assert_fails(
            w.t.ce_virtual_shared_alloc(a, n, action),
            (ErrorCode::InvalidParameter, "5.11"),
            &w,
        );
        assert_eq!(w.snapshot(), before, "0x{a:08X}+0x{n:X}");
    }
}

#[test]
fn sharedalloc_without_frames_or_room_is_8_and_changes_nothing() {
    let mut w = World::new();
    w.nk();
    let before = w.snapshot();
    // The heap holds 0x0FF00000 bytes.
    assert_fails(
        w.t.ce_virtual_shared_alloc(0, 0x0FF0_0001, RESERVE),
        (ErrorCode::NotEnoughMemory, "5.11"),
        &w,
    );
    assert_fails(
        w.t.ce_virtual_shared_alloc(0, 0x7FFF_FFFF, RESERVE),
        (ErrorCode::NotEnoughMemory, "5.11"),
        &w,
    );
    w.kernel.phys().fail_nth_allocation(Some(1));
    assert_fails(
        w.t.ce_virtual_shared_alloc(0, 0x1000, RC),
        (ErrorCode::NotEnoughMemory, "5.11"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    // The failed commit did not move the heap's cursor.
    assert_eq!(
        w.t.ce_virtual_shared_alloc(0, 0x1000, RESERVE).unwrap(),
        0x7000_0000
    );
    w.check();
    let after_reserve = w.snapshot();
    w.kernel.phys().fail_nth_allocation(Some(1));
    assert_fails(
        w.t.ce_virtual_shared_alloc(0x7000_0000, 0x1000, COMMIT),
        (ErrorCode::NotEnoughMemory, "5.11"),
        &w,
    );
    assert_eq!(w.snapshot(), after_reserve);
    // The whole heap in one reservation fits exactly.
    assert_eq!(
        w.t.ce_virtual_shared_alloc(0, 0x0FF0_0000 - 0x10000, RESERVE)
            .unwrap(),
        0x7001_0000
    );
    w.check();
}

#[test]
fn sharedalloc_is_released_by_the_kernel_not_by_user_mode() {
    let mut w = World::new();
    w.nk();
    let start = w.free_frames();
    let s = w.t.ce_virtual_shared_alloc(0, 0x2000, RC).unwrap();
    w.check();
    w.user(w.app);
    let before = w.snapshot();
    assert_fails(
        w.t.virtual_free(s, 0, AllocType::RELEASE),
        (ErrorCode::InvalidParameter, "5.2.2"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    w.nk();
    w.t.virtual_free(s, 0, AllocType::RELEASE).unwrap();
    w.check();
    assert_eq!(w.free_frames(), start);
    // The released space is found again.
    assert_eq!(
        w.t.ce_virtual_shared_alloc(0, 0x1000, RESERVE).unwrap(),
        0x7000_0000
    );
    w.check();
}
