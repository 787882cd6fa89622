//! VirtualAlloc / VirtualAllocEx (semantics.md §5.1) and their handle checks (§2).

mod common;

use cevm::{AllocType, ErrorCode, Handle, MemoryInfo, ProcessAccess, Protection};
use common::{
    COMMIT, NA, RC, RESERVE, RW, World, assert_av, assert_fails, committed, free_info, q, reserved,
    small_world,
};

// ---------------------------------------------------------------- reservations and commits

#[test]
fn null_address_reserve_takes_0x10000_and_reports_reserved_pages_without_frames() {
    let mut w = World::new();
    w.user(w.app);
    let frames = w.free_frames();
    let b = w.t.virtual_alloc(0, 0x3000, RESERVE, NA).unwrap();
    w.check();
    assert_eq!(b, 0x10000);
    assert_eq!(w.free_frames(), frames);
    assert_eq!(q(&mut w, 0x10000), reserved(0x10000, 0x10000, 0x3000));
    assert_eq!(q(&mut w, 0x12FFF), reserved(0x12000, 0x10000, 0x1000));
    // Past the reservation's pages the block is free (but in use for placement).
    assert_eq!(
        q(&mut w, 0x13000),
        free_info(0x13000, 0x4000_0000 - 0x13000)
    );
    assert_av(w.t.read_u8(0x10000), 0x10000, false, &w);
}

#[test]
fn null_address_commit_implies_reserve_and_commits_zeroed_pages() {
    let mut w = World::new();
    w.user(w.app);
    let frames = w.free_frames();
    let b = w.t.virtual_alloc(0, 0x2001, COMMIT, RW).unwrap();
    w.check();
    assert_eq!(b, 0x10000);
    assert_eq!(
        w.free_frames(),
        frames - 3,
        "0x2001 bytes cover three pages"
    );
    assert_eq!(q(&mut w, 0x10000), committed(0x10000, 0x10000, 0x3000, RW));
    let mut buf = vec![0xEEu8; 0x3000];
    w.t.read_bytes(0x10000, &mut buf).unwrap();
    assert!(buf.iter().all(|&x| x == 0), "committed pages are zeroed");
    w.t.write_u8(0x12FFF, 9).unwrap();
    assert_eq!(w.t.read_u8(0x12FFF).unwrap(), 9);
    assert_av(w.t.read_u8(0x13000), 0x13000, false, &w);
}

#[test]
fn reserve_and_commit_at_an_explicit_address_returns_that_address() {
    let mut w = World::new();
    w.user(w.app);
    let frames = w.free_frames();
    assert_eq!(w.t.virtual_alloc(0x50000, 0x1000, RC, RW).unwrap(), 0x50000);
    w.check();
    assert_eq!(w.free_frames(), frames - 1);
    assert_eq!(q(&mut w, 0x50000), committed(0x50000, 0x50000, 0x1000, RW));
}

#[test]
fn pure_commit_returns_the_page_aligned_start() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x10000, RESERVE, NA).unwrap();
    let frames = w.free_frames();
    assert_eq!(
        w.t.virtual_alloc(b + 0x1234, 0x10, COMMIT, RW).unwrap(),
        b + 0x1000
    );
    w.check();
    assert_eq!(w.free_frames(), frames - 1);
    assert_eq!(q(&mut w, b), reserved(b, b, 0x1000));
    assert_eq!(q(&mut w, b + 0x1FFF), committed(b + 0x1000, b, 0x1000, RW));
    assert_eq!(q(&mut w, b + 0x2000), reserved(b + 0x2000, b, 0xE000));
}

#[test]
fn a_commit_crossing_a_page_boundary_commits_both_pages() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x4000, RESERVE, NA).unwrap();
    let frames = w.free_frames();
    assert_eq!(w.t.virtual_alloc(b + 0xFFF, 2, COMMIT, RW).unwrap(), b);
    w.check();
    assert_eq!(w.free_frames(), frames - 2);
    assert_eq!(q(&mut w, b), committed(b, b, 0x2000, RW));
    assert_eq!(q(&mut w, b + 0x2000), reserved(b + 0x2000, b, 0x2000));
}

#[test]
fn commit_past_the_requested_size_fails_in_user_mode() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 100, RESERVE, NA).unwrap();
    let frames = w.free_frames();
    assert_fails(
        w.t.virtual_alloc(b, 0x1000, COMMIT, RW),
        (ErrorCode::InvalidParameter, "5.1.2"),
        &w,
    );
    assert_fails(
        w.t.virtual_alloc(b, 101, COMMIT, RW),
        (ErrorCode::InvalidParameter, "5.1.2"),
        &w,
    );
    assert_fails(
        w.t.virtual_alloc(b + 100, 1, COMMIT, RW),
        (ErrorCode::InvalidParameter, "5.1.2"),
        &w,
    );
    assert_fails(
        w.t.virtual_alloc(b + 99, 2, COMMIT, RW),
        (ErrorCode::InvalidParameter, "5.1.2"),
        &w,
    );
    assert_eq!(w.free_frames(), frames, "failed commits take no frames");
    assert_eq!(q(&mut w, b), reserved(b, b, 0x1000));
    // Inside the requested bytes the commit succeeds.
    assert_eq!(w.t.virtual_alloc(b + 99, 1, COMMIT, RW).unwrap(), b);
    w.check();
    assert_eq!(w.t.virtual_alloc(b, 100, COMMIT, RW).unwrap(), b);
    w.check();
    assert_eq!(w.free_frames(), frames - 1);
    assert_eq!(q(&mut w, b), committed(b, b, 0x1000, RW));
}

#[test]
fn kernel_mode_commit_ignores_the_requested_size_but_stays_inside_the_reservation_pages() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 100, RESERVE, NA).unwrap();
    w.kmode(w.app);
    let frames = w.free_frames();
    assert_eq!(w.t.virtual_alloc(b, 0x1000, COMMIT, RW).unwrap(), b);
    w.check();
    assert_eq!(w.free_frames(), frames - 1);
    // The page after the record's pages is not reserved: 87 and nothing changes.
    assert_fails(
        w.t.virtual_alloc(b, 0x1001, COMMIT, RW),
        (ErrorCode::InvalidParameter, "5.1.6"),
        &w,
    );
    assert_fails(
        w.t.virtual_alloc(b + 0x1000, 1, COMMIT, RW),
        (ErrorCode::InvalidParameter, "5.1.6"),
        &w,
    );
    assert_eq!(w.free_frames(), frames - 1);
    assert_eq!(q(&mut w, b), committed(b, b, 0x1000, RW));
}

#[test]
fn recommit_keeps_the_frame_and_data_and_takes_the_new_protection() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x2000, COMMIT, RW).unwrap();
    w.t.write_u32(b + 0x1FFC, 0xCAFE_BABE).unwrap();
    let frames = w.free_frames();
    assert_eq!(
        w.t.virtual_alloc(b, 0x2000, COMMIT, Protection::READONLY)
            .unwrap(),
        b
    );
    w.check();
    assert_eq!(w.free_frames(), frames, "no new frames for committed pages");
    assert_eq!(w.t.read_u32(b + 0x1FFC).unwrap(), 0xCAFE_BABE);
    assert_eq!(q(&mut w, b), committed(b, b, 0x2000, Protection::READONLY));
    assert_av(w.t.write_u8(b, 1), b, true, &w);
}

#[test]
fn commit_over_a_mixed_run_keeps_committed_pages_and_zeroes_new_ones() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x4000, COMMIT, RW).unwrap();
    for i in 0..4 {
        w.t.write_u32(b + i * 0x1000 + 8, 0x1111_0000 + i).unwrap();
    }
    // Pages 0 and 2 go back to reserved (their frames keep old bytes in the pool).
    w.t.virtual_free(b, 0x1000, AllocType::DECOMMIT).unwrap();
    w.t.virtual_free(b + 0x2000, 0x1000, AllocType::DECOMMIT)
        .unwrap();
    w.check();
    let frames = w.free_frames();
    assert_eq!(w.t.virtual_alloc(b, 0x4000, COMMIT, RW).unwrap(), b);
    w.check();
    assert_eq!(
        w.free_frames(),
        frames - 2,
        "only the two reserved pages need frames"
    );
    assert_eq!(
        w.t.read_u32(b + 8).unwrap(),
        0,
        "a newly committed page is zeroed"
    );
    assert_eq!(w.t.read_u32(b + 0x1008).unwrap(), 0x1111_0001);
    assert_eq!(w.t.read_u32(b + 0x2008).unwrap(), 0);
    assert_eq!(w.t.read_u32(b + 0x3008).unwrap(), 0x1111_0003);
    assert_eq!(q(&mut w, b), committed(b, b, 0x4000, RW));
}

#[test]
fn commit_of_pages_outside_any_reservation_fails_in_both_modes() {
    let mut w = World::new();
    for kernel in [false, true] {
        w.enter_app(kernel);
        let frames = w.free_frames();
        assert_fails(
            w.t.virtual_alloc(0x50000, 0x1000, COMMIT, RW),
            (
                ErrorCode::InvalidParameter,
                if kernel { "5.1.6" } else { "5.1.2" },
            ),
            &w,
        );
        assert_eq!(w.free_frames(), frames);
        assert_eq!(q(&mut w, 0x50000).state, AllocType::FREE);
    }
}

#[test]
fn commit_across_two_reservations_fails_and_commits_nothing() {
    let mut w = World::new();
    w.user(w.app);
    let a = w.t.virtual_alloc(0, 0x10000, RESERVE, NA).unwrap();
    let b = w.t.virtual_alloc(0, 0x10000, RESERVE, NA).unwrap();
    assert_eq!((a, b), (0x10000, 0x20000));
    let frames = w.free_frames();
    for kernel in [false, true] {
        w.enter_app(kernel);
        assert_fails(
            w.t.virtual_alloc(0x1F000, 0x2000, COMMIT, RW),
            (
                ErrorCode::InvalidParameter,
                if kernel { "5.1.6" } else { "5.1.2" },
            ),
            &w,
        );
        assert_eq!(w.free_frames(), frames);
        assert_eq!(q(&mut w, 0x1F000), reserved(0x1F000, a, 0x1000));
        assert_eq!(q(&mut w, 0x20000), reserved(0x20000, b, 0x10000));
    }
}

#[test]
fn commit_without_enough_free_frames_fails_with_8_and_changes_nothing() {
    let mut w = small_world();
    w.user(w.app);
    let f = w.free_frames() as u32;
    let b = w.t.virtual_alloc(0, (f + 1) * 0x1000, RESERVE, NA).unwrap();
    w.check();
    assert_fails(
        w.t.virtual_alloc(b, (f + 1) * 0x1000, COMMIT, RW),
        (ErrorCode::NotEnoughMemory, "5.1.6"),
        &w,
    );
    assert_eq!(w.free_frames() as u32, f);
    assert_eq!(q(&mut w, b), reserved(b, b, (f + 1) * 0x1000));

    // Commit page 0 and write to it; then a commit needing f new frames fails, one
    // needing f - 1 succeeds: only the pages not yet committed count.
    assert_eq!(w.t.virtual_alloc(b, 0x1000, COMMIT, RW).unwrap(), b);
    w.t.write_u32(b, 0x5A5A_5A5A).unwrap();
    w.check();
    assert_fails(
        w.t.virtual_alloc(b, (f + 1) * 0x1000, COMMIT, Protection::READONLY),
        (ErrorCode::NotEnoughMemory, "5.1.6"),
        &w,
    );
    assert_eq!(w.free_frames() as u32, f - 1);
    assert_eq!(
        q(&mut w, b),
        committed(b, b, 0x1000, RW),
        "protection unchanged"
    );
    assert_eq!(q(&mut w, b + 0x1000), reserved(b + 0x1000, b, f * 0x1000));
    assert_eq!(w.t.virtual_alloc(b, f * 0x1000, COMMIT, RW).unwrap(), b);
    w.check();
    assert_eq!(w.free_frames(), 0);
    assert_eq!(w.t.read_u32(b).unwrap(), 0x5A5A_5A5A);
}

#[test]
fn null_address_reserve_and_commit_without_frames_fails_with_8_and_reserves_nothing() {
    let mut w = small_world();
    w.user(w.app);
    let f = w.free_frames() as u32;
    assert_fails(
        w.t.virtual_alloc(0, (f + 1) * 0x1000, COMMIT, RW),
        (ErrorCode::NotEnoughMemory, "5.1.6"),
        &w,
    );
    assert_eq!(w.free_frames() as u32, f);
    assert_eq!(q(&mut w, 0x10000), free_info(0x10000, 0x3FFF_0000));
    // The placement cursor did not move either.
    assert_eq!(w.t.virtual_alloc(0, 0x1000, RESERVE, NA).unwrap(), 0x10000);
    w.check();
}

#[test]
fn explicit_reserve_and_commit_without_frames_fails_with_8_and_reserves_nothing() {
    let mut w = small_world();
    w.user(w.app);
    let f = w.free_frames() as u32;
    assert_fails(
        w.t.virtual_alloc(0x50000, (f + 1) * 0x1000, RC, RW),
        (ErrorCode::NotEnoughMemory, "5.1.6"),
        &w,
    );
    assert_eq!(w.free_frames() as u32, f);
    assert_eq!(q(&mut w, 0x50000).state, AllocType::FREE);
    assert_eq!(
        w.t.virtual_alloc(0x50000, 0x1000, RESERVE, NA).unwrap(),
        0x50000
    );
    w.check();
}

// ---------------------------------------------------------------- step 5: explicit reservations

#[test]
fn explicit_reservation_must_be_64k_aligned() {
    let mut w = World::new();
    for kernel in [false, true] {
        w.enter_app(kernel);
        for a in [0x51000, 0x50001, 0x5F000] {
            assert_fails(
                w.t.virtual_alloc(a, 0x1000, RESERVE, NA),
                (ErrorCode::InvalidParameter, "5.1.5"),
                &w,
            );
            assert_eq!(q(&mut w, 0x50000).state, AllocType::FREE);
        }
    }
}

#[test]
fn explicit_reservation_of_a_block_in_use_fails() {
    let mut w = World::new();
    w.user(w.app);
    assert_eq!(
        w.t.virtual_alloc(0x50000, 100, RESERVE, NA).unwrap(),
        0x50000
    );
    w.check();
    // The same block again, even though most of its pages are free.
    assert_fails(
        w.t.virtual_alloc(0x50000, 0x1000, RESERVE, NA),
        (ErrorCode::InvalidParameter, "5.1.5"),
        &w,
    );
    // A two-block reservation whose second block is in use.
    assert_fails(
        w.t.virtual_alloc(0x40000, 0x10001, RESERVE, NA),
        (ErrorCode::InvalidParameter, "5.1.5"),
        &w,
    );
    assert_eq!(q(&mut w, 0x40000).state, AllocType::FREE);
    // Exactly one block below it is fine.
    assert_eq!(
        w.t.virtual_alloc(0x40000, 0x10000, RESERVE, NA).unwrap(),
        0x40000
    );
    w.check();
    assert_eq!(q(&mut w, 0x40000), reserved(0x40000, 0x40000, 0x10000));
    assert_eq!(q(&mut w, 0x50000), reserved(0x50000, 0x50000, 0x1000));
}

#[test]
fn explicit_reservation_running_into_the_dll_barrier_fails() {
    let mut w = World::new();
    w.user(w.app);
    assert_fails(
        w.t.virtual_alloc(0x3FFF_0000, 0x10001, RESERVE, NA),
        (ErrorCode::InvalidParameter, "5.1.5"),
        &w,
    );
    assert_eq!(q(&mut w, 0x3FFF_0000).state, AllocType::FREE);
    assert_eq!(
        w.t.virtual_alloc(0x3FFF_0000, 0x10000, RESERVE, NA)
            .unwrap(),
        0x3FFF_0000
    );
    w.check();
    assert_eq!(
        q(&mut w, 0x3FFF_0000),
        reserved(0x3FFF_0000, 0x3FFF_0000, 0x10000)
    );
}

#[test]
fn kernel_mode_cannot_reserve_in_the_static_mapping_or_the_cpu_area() {
    let mut w = World::new();
    w.nk();
    for a in [0x8000_0000, 0x8001_0000, 0xF000_0000, 0xFFFF_0000] {
        assert_fails(
            w.t.virtual_alloc(a, 0x1000, RESERVE, NA),
            (ErrorCode::InvalidParameter, "5.1.5"),
            &w,
        );
    }
}

#[test]
fn kernel_mode_explicit_reservation_above_0x70000000_goes_to_the_kernel_tables() {
    let mut w = World::new();
    w.kmode(w.app);
    assert_eq!(
        w.t.virtual_alloc(0x9000_0000, 0x1000, RC, RW).unwrap(),
        0x9000_0000
    );
    w.check();
    w.t.write_u32(0x9000_0000, 77).unwrap();
    // The same page from another process (and from NK) is the same page.
    w.kmode(w.drv);
    assert_eq!(
        q(&mut w, 0x9000_0000),
        committed(0x9000_0000, 0x9000_0000, 0x1000, RW)
    );
    assert_eq!(w.t.read_u32(0x9000_0000).unwrap(), 77);
    assert_fails(
        w.t.virtual_alloc(0x9000_0000, 0x1000, RESERVE, NA),
        (ErrorCode::InvalidParameter, "5.1.5"),
        &w,
    );
    w.nk();
    assert_eq!(w.t.read_u32(0x9000_0000).unwrap(), 77);
}

// ---------------------------------------------------------------- step 3: type, size, protection

#[test]
fn invalid_allocation_types_fail_with_87() {
    let mut w = World::new();
    w.user(w.app);
    let bad = [
        0,
        0x10_0000,            // TOP_DOWN alone
        0x4_0000 | 0x2000,    // MAPPED | RESERVE
        0x8_0000 | 0x1000,    // RESET | COMMIT
        0x4000,               // DECOMMIT
        0x8000,               // RELEASE
        0x2000 | 0x8000,      // RESERVE | RELEASE
        0x2000 | 0x1_0000,    // RESERVE | FREE
        0x2000 | 0x2_0000,    // RESERVE | PRIVATE
        0x2000 | 0x1,         // an unknown bit
        0x2000 | 0x8000_0000, // an unknown high bit
    ];
    for t in bad {
        for a in [0, 0x50000] {
            // Without MEM_RESERVE at a ≠ 0 the call is a pure commit (§5.1 step 2), and
            // 0x50000 lies in no record: step 2 rejects it before step 3 sees the type.
            assert_fails(
                w.t.virtual_alloc(a, 0x1000, AllocType::from_bits_retain(t), RW),
                (
                    ErrorCode::InvalidParameter,
                    if a != 0 && t & RESERVE.bits() == 0 {
                        "5.1.2"
                    } else {
                        "5.1.3"
                    },
                ),
                &w,
            );
        }
    }
    assert_eq!(q(&mut w, 0x10000), free_info(0x10000, 0x3FFF_0000));
}

#[test]
fn top_down_is_accepted_and_ignored() {
    let mut w = World::new();
    w.user(w.app);
    let b =
        w.t.virtual_alloc(0, 0x1000, AllocType::TOP_DOWN | COMMIT, RW)
            .unwrap();
    w.check();
    assert_eq!(b, 0x10000, "placement is bottom-up whatever TOP_DOWN says");
    assert_eq!(q(&mut w, b), committed(b, b, 0x1000, RW));
}

#[test]
fn non_positive_sizes_fail_with_87_before_placement() {
    let mut w = World::new();
    for kernel in [false, true] {
        w.enter_app(kernel);
        for n in [0, 0x8000_0000, 0xFFFF_FFFF] {
            for t in [RESERVE, COMMIT, RC] {
                assert_fails(
                    w.t.virtual_alloc(0, n, t, RW),
                    (ErrorCode::InvalidParameter, "5.1.3"),
                    &w,
                );
            }
        }
        // 0x7FFFFFFF is a positive size: it reaches placement and finds no room.
        assert_fails(
            w.t.virtual_alloc(0, 0x7FFF_FFFF, RESERVE, NA),
            (ErrorCode::NotEnoughMemory, "5.1.5"),
            &w,
        );
    }
}

#[test]
fn invalid_protection_fails_with_87_even_for_a_reserve_only_call() {
    let mut w = World::new();
    w.user(w.app);
    let frames = w.free_frames();
    let bad = [
        0,
        0x08,
        0x80,
        0x100,
        0x200,
        0x101,
        0x201,
        0x301,
        0x06,
        0x03,
        0x30,
        0x404,
        0x402,
        0x800 | 0x04,
        0x1004,
        0xFF,
    ];
    for p in bad {
        for t in [RESERVE, COMMIT, RC] {
            assert_fails(
                w.t.virtual_alloc(0, 0x1000, t, Protection::from_bits_retain(p)),
                (ErrorCode::InvalidParameter, "5.1.3"),
                &w,
            );
        }
    }
    assert_eq!(w.free_frames(), frames);
    assert_eq!(q(&mut w, 0x10000), free_info(0x10000, 0x3FFF_0000));
}

#[test]
fn every_valid_protection_commits_and_reads_back() {
    let mut w = World::new();
    w.user(w.app);
    let cases = [
        (0x01, 0x01),
        (0x02, 0x02),
        (0x04, 0x04),
        (0x10, 0x20), // PAGE_EXECUTE reads back as PAGE_EXECUTE_READ
        (0x20, 0x20),
        (0x40, 0x40),
        (0x104, 0x104),
        (0x204, 0x204),
        (0x304, 0x304),
        (0x302, 0x302),
        (0x110, 0x120),
        (0x240, 0x240),
    ];
    for (given, back) in cases {
        let b =
            w.t.virtual_alloc(0, 0x1000, COMMIT, Protection::from_bits_retain(given))
                .unwrap();
        w.check();
        assert_eq!(
            q(&mut w, b),
            committed(b, b, 0x1000, Protection::from_bits_retain(back)),
            "protection {given:#x}"
        );
    }
}

// ---------------------------------------------------------------- step 1: the user rules

#[test]
fn user_mode_commit_below_0x10000_fails_though_kernel_mode_may_commit_there() {
    let mut w = World::new();
    w.user(w.app);
    // 0x5000 lies in the reserved first block, but fails the user pointer rule.
    assert_fails(
        w.t.virtual_alloc(0x5000, 0x1000, COMMIT, RW),
        (ErrorCode::InvalidParameter, "5.1.1"),
        &w,
    );
    assert_av(w.t.write_u8(0x5000, 1), 0x5000, true, &w);
    assert_fails(
        w.t.virtual_alloc(0xF000, 0x1000, COMMIT, RW),
        (ErrorCode::InvalidParameter, "5.1.1"),
        &w,
    );
    assert_av(w.t.read_u8(0xF000), 0xF000, false, &w);

    w.kmode(w.app);
    let frames = w.free_frames();
    assert_eq!(
        w.t.virtual_alloc(0xF000, 0x1000, COMMIT, RW).unwrap(),
        0xF000
    );
    w.check();
    assert_eq!(w.free_frames(), frames - 1);
    w.user(w.app);
    w.t.write_u8(0xF000, 1).unwrap();
    assert_eq!(w.t.read_u8(0xF000).unwrap(), 1);
}

#[test]
fn user_mode_allocation_at_or_above_0x40000000_fails_though_kernel_mode_may() {
    let mut w = World::new();
    w.user(w.app);
    let frames = w.free_frames();
    // The DLL barrier is a reservation: a user commit there fails on the ceiling.
    assert_fails(
        w.t.virtual_alloc(0x4000_0000, 0x1000, COMMIT, RW),
        (ErrorCode::InvalidParameter, "5.1.1"),
        &w,
    );
    assert_fails(
        w.t.virtual_alloc(0x4001_0000, 0x1000, RESERVE, NA),
        (ErrorCode::InvalidParameter, "5.1.1"),
        &w,
    );
    assert_eq!(w.free_frames(), frames);
    assert_eq!(
        q(&mut w, 0x4000_0000),
        reserved(0x4000_0000, 0x4000_0000, 0x10000)
    );
    assert_eq!(q(&mut w, 0x4001_0000).state, AllocType::FREE);

    w.kmode(w.app);
    assert_eq!(
        w.t.virtual_alloc(0x4000_0000, 0x1000, COMMIT, RW).unwrap(),
        0x4000_0000
    );
    w.check();
    assert_eq!(
        w.t.virtual_alloc(0x4001_0000, 0x1000, RESERVE, NA).unwrap(),
        0x4001_0000
    );
    w.check();
    assert_eq!(
        w.t.virtual_alloc(0x6FFF_0000, 0x10000, RESERVE, NA)
            .unwrap(),
        0x6FFF_0000,
        "kernel mode may reserve the last block below the shared heap"
    );
    w.check();
    assert_eq!(w.free_frames(), frames - 1);
    assert_eq!(
        q(&mut w, 0x4000_0000),
        committed(0x4000_0000, 0x4000_0000, 0x1000, RW)
    );
}

#[test]
fn user_mode_ranges_failing_the_write_pointer_rule_fail_with_87() {
    let mut w = World::new();
    w.user(w.app);
    let cases = [
        (0x6FFF_0000, 0x10000),
        (0x7000_0000, 0x1000),
        (0x8000_0000, 0x1000),
        (0xFFFF_F000, 0x1000),
        (0xFFFF_0000, 0x10000),
        (0x10000, 0x8000_0000),
        (0x10000, 0xFFFF_FFFF),
        (0x8000, 0x1000),
    ];
    for (a, n) in cases {
        for t in [RESERVE, COMMIT, RC] {
            assert_fails(
                w.t.virtual_alloc(a, n, t, RW),
                (ErrorCode::InvalidParameter, "5.1.1"),
                &w,
            );
        }
    }
}

/// The §5.1 check that rejects VirtualAlloc(a, n, t) in app.exe for the hostile values
/// below (user mode unless `kernel`): none of them is a valid range for a user, every
/// a ≠ 0 is unaligned, in use or outside the reservable area, and nothing fits
/// 0x7FFFFFFF bytes.
fn hostile_alloc_step(kernel: bool, a: u32, n: u32, t: AllocType) -> &'static str {
    if !kernel && a != 0 {
        "5.1.1"
    } else if (n as i32) <= 0 {
        "5.1.3"
    } else if a != 0 && !t.contains(RESERVE) {
        // A kernel-mode pure commit of pages that are not one reserved run.
        "5.1.6"
    } else {
        "5.1.5"
    }
}

#[test]
fn hostile_addresses_and_sizes_never_succeed_and_change_nothing() {
    let mut w = World::new();
    let frames = w.free_frames();
    for kernel in [false, true] {
        w.enter_app(kernel);
        for a in [0, 0xFFFF_F000, 0x4000_0000, 0x7000_0000, 0x8000_0000] {
            for n in [0, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF] {
                for t in [RESERVE, COMMIT, RC, AllocType::AUTO_COMMIT] {
                    let want = if n == 0x7FFF_FFFF && a == 0 {
                        ErrorCode::NotEnoughMemory
                    } else {
                        ErrorCode::InvalidParameter
                    };
                    let step = hostile_alloc_step(kernel, a, n, t);
                    assert_fails(w.t.virtual_alloc(a, n, t, RW), (want, step), &w);
                }
            }
        }
    }
    assert_eq!(w.free_frames(), frames);
    w.kmode(w.app);
    assert_eq!(q(&mut w, 0x10000), free_info(0x10000, 0x3FFF_0000));
    assert_eq!(q(&mut w, 0x7000_0000), free_info(0x7000_0000, 0x0FF0_0000));
    assert_eq!(
        q(&mut w, 0x4000_0000),
        reserved(0x4000_0000, 0x4000_0000, 0x10000)
    );
}

// ---------------------------------------------------------------- MEM_AUTO_COMMIT and MEM_IMAGE

#[test]
fn auto_commit_reservation_commits_a_zeroed_read_write_page_on_first_touch() {
    let mut w = World::new();
    w.user(w.app);
    let frames = w.free_frames();
    let b =
        w.t.virtual_alloc(0, 0x3000, RESERVE | AllocType::AUTO_COMMIT, NA)
            .unwrap();
    w.check();
    assert_eq!(b, 0x10000);
    assert_eq!(w.free_frames(), frames);
    assert_eq!(
        q(&mut w, b),
        reserved(b, b, 0x3000),
        "auto-commit reports MEM_PRIVATE"
    );
    assert_eq!(w.t.read_u32(b + 0x1004).unwrap(), 0);
    w.check();
    assert_eq!(w.free_frames(), frames - 1);
    assert_eq!(q(&mut w, b), reserved(b, b, 0x1000));
    assert_eq!(q(&mut w, b + 0x1000), committed(b + 0x1000, b, 0x1000, RW));
    assert_eq!(q(&mut w, b + 0x2000), reserved(b + 0x2000, b, 0x1000));
    w.t.write_u32(b + 0x1004, 42).unwrap();
    assert_eq!(w.t.read_u32(b + 0x1004).unwrap(), 42);
    w.check();
}

#[test]
fn auto_commit_alone_with_a_null_address_reserves() {
    let mut w = World::new();
    w.user(w.app);
    let frames = w.free_frames();
    let b =
        w.t.virtual_alloc(0, 0x2000, AllocType::AUTO_COMMIT, NA)
            .unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames);
    assert_eq!(q(&mut w, b), reserved(b, b, 0x2000));
    w.t.write_u8(b + 0x1000, 5).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames - 1);
}

#[test]
fn auto_commit_with_commit_commits_at_once_and_decommitted_pages_auto_commit_again() {
    let mut w = World::new();
    w.user(w.app);
    let frames = w.free_frames();
    let b =
        w.t.virtual_alloc(0, 0x2000, RC | AllocType::AUTO_COMMIT, Protection::READONLY)
            .unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames - 2);
    assert_eq!(q(&mut w, b), committed(b, b, 0x2000, Protection::READONLY));
    assert_av(w.t.write_u8(b, 1), b, true, &w);
    w.t.virtual_free(b, 0x1000, AllocType::DECOMMIT).unwrap();
    w.check();
    assert_eq!(q(&mut w, b), reserved(b, b, 0x1000));
    w.t.write_u8(b + 1, 3).unwrap();
    w.check();
    assert_eq!(q(&mut w, b), committed(b, b, 0x1000, RW));
    assert_eq!(w.t.read_u8(b).unwrap(), 0);
    assert_eq!(w.t.read_u8(b + 1).unwrap(), 3);
}

#[test]
fn image_reservation_reports_mem_image_until_committed() {
    let mut w = World::new();
    w.user(w.app);
    let b =
        w.t.virtual_alloc(0, 0x3000, RESERVE | AllocType::IMAGE, NA)
            .unwrap();
    w.check();
    let image = MemoryInfo {
        kind: AllocType::IMAGE,
        ..reserved(b, b, 0x3000)
    };
    assert_eq!(q(&mut w, b), image);
    assert_av(w.t.read_u8(b), b, false, &w);
    assert_eq!(
        w.t.virtual_alloc(b + 0x1000, 0x1000, COMMIT, Protection::EXECUTE_READ)
            .unwrap(),
        b + 0x1000
    );
    w.check();
    assert_eq!(
        q(&mut w, b + 0x1000),
        committed(b + 0x1000, b, 0x1000, Protection::EXECUTE_READ),
        "committed pages are always MEM_PRIVATE"
    );
    assert_eq!(
        q(&mut w, b),
        MemoryInfo {
            kind: AllocType::IMAGE,
            ..reserved(b, b, 0x1000)
        }
    );
    w.t.virtual_free(b + 0x1000, 0x1000, AllocType::DECOMMIT)
        .unwrap();
    w.check();
    assert_eq!(q(&mut w, b), image);
}

#[test]
fn image_with_commit_commits_pages_that_report_mem_private() {
    let mut w = World::new();
    w.user(w.app);
    let b =
        w.t.virtual_alloc(0, 0x1000, RC | AllocType::IMAGE, Protection::EXECUTE)
            .unwrap();
    w.check();
    assert_eq!(
        q(&mut w, b),
        committed(b, b, 0x1000, Protection::EXECUTE_READ)
    );
    w.t.execute(b).unwrap();
}

// ---------------------------------------------------------------- VirtualAllocEx and handles

#[test]
fn virtual_alloc_ex_allocates_in_the_named_process() {
    let mut w = World::new();
    w.user(w.app);
    let drv = Handle::from(w.drv);
    let b = w.t.virtual_alloc_ex(drv, 0, 0x1000, COMMIT, RW).unwrap();
    w.check();
    assert_eq!(b, 0x10000);
    assert_eq!(
        q(&mut w, 0x10000).state,
        AllocType::FREE,
        "app is untouched"
    );
    assert_eq!(
        w.t.virtual_query_ex(drv, 0x10000, 28).unwrap(),
        committed(0x10000, 0x10000, 0x1000, RW)
    );
    w.check();
}

#[test]
fn the_pseudo_handle_names_the_active_process() {
    let mut w = World::new();
    w.user(w.drv);
    let b =
        w.t.virtual_alloc_ex(Handle::CURRENT_PROCESS, 0x50000, 0x1000, RC, RW)
            .unwrap();
    w.check();
    assert_eq!(b, 0x50000);
    assert_eq!(q(&mut w, 0x50000), committed(0x50000, 0x50000, 0x1000, RW));
    w.user(w.app);
    assert_eq!(q(&mut w, 0x50000).state, AllocType::FREE);
}

#[test]
fn an_opened_handle_with_vm_operation_allocates() {
    let mut w = World::new();
    w.user(w.app);
    let h = w.open(ProcessAccess::VM_OPERATION, w.drv);
    assert_eq!(
        w.t.virtual_alloc_ex(h, 0, 0x1000, RESERVE, NA).unwrap(),
        0x10000
    );
    w.check();
}

#[test]
fn virtual_alloc_ex_handle_checks_come_before_the_arguments() {
    let mut w = World::new();
    w.user(w.app);
    let weak = w.open(
        ProcessAccess::VM_READ | ProcessAccess::VM_WRITE | ProcessAccess::QUERY_INFORMATION,
        w.drv,
    );
    let closed = w.closed_handle(w.drv);
    for (a, n, t, p) in [
        (0, 0x1000, COMMIT, RW),
        (0, 0, AllocType::empty(), Protection::empty()),
        (
            0xFFFF_F000,
            0xFFFF_FFFF,
            AllocType::RELEASE,
            Protection::WRITECOPY,
        ),
    ] {
        assert_fails(
            w.t.virtual_alloc_ex(Handle(0xDEAD), a, n, t, p),
            (ErrorCode::InvalidHandle, "2"),
            &w,
        );
        assert_fails(
            w.t.virtual_alloc_ex(Handle::NULL, a, n, t, p),
            (ErrorCode::InvalidHandle, "2"),
            &w,
        );
        assert_fails(
            w.t.virtual_alloc_ex(closed, a, n, t, p),
            (ErrorCode::InvalidHandle, "2"),
            &w,
        );
        assert_fails(
            w.t.virtual_alloc_ex(weak, a, n, t, p),
            (ErrorCode::AccessDenied, "2"),
            &w,
        );
    }
    assert_eq!(
        w.t.virtual_query_ex(w.drv.into(), 0x10000, 28)
            .unwrap()
            .state,
        AllocType::FREE
    );
}

#[test]
fn virtual_alloc_ex_on_a_terminated_process_fails_with_6() {
    let mut w = World::new();
    w.kmode(w.app);
    let h = w.terminate_with_handle(w.drv);
    assert_fails(
        w.t.virtual_alloc_ex(w.drv.into(), 0, 0x1000, COMMIT, RW),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_fails(
        w.t.virtual_alloc_ex(h, 0, 0x1000, COMMIT, RW),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
}

#[test]
fn virtual_alloc_in_a_terminated_active_process_fails_with_6() {
    let mut w = World::new();
    w.kmode(w.app);
    let frames = w.free_frames();
    w.t.terminate_process(Handle::CURRENT_PROCESS, 0).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames + 1, "the kernel-data page is freed");
    assert_fails(
        w.t.virtual_alloc(0, 0x1000, COMMIT, RW),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_fails(
        w.t.virtual_alloc_ex(Handle::CURRENT_PROCESS, 0, 0x1000, COMMIT, RW),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_eq!(w.free_frames(), frames + 1);
}

#[test]
fn a_successful_call_leaves_the_last_error_unchanged() {
    let mut w = World::new();
    w.user(w.app);
    w.t.set_last_error(1234);
    w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    assert_eq!(w.t.last_error(), 1234);
    w.check();
}
