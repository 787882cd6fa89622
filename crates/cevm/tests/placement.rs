//! Placement of NULL-address reservations and the user pointer rule (semantics.md §3).

mod common;

use cevm::{AllocType, Config, ErrorCode, Handle};
use common::{COMMIT, NA, RELEASE, RESERVE, RW, World, assert_fails, q};

#[track_caller]
fn place(w: &mut World, n: u32) -> u32 {
    let b = w.t.virtual_alloc(0, n, RESERVE, NA).expect("placement");
    w.check();
    b
}

#[track_caller]
fn release(w: &mut World, b: u32) {
    w.t.virtual_free(b, 0, RELEASE).expect("release");
    w.check();
}

// ---------------------------------------------------------------- deterministic placement

#[test]
fn every_new_processs_first_null_reservation_is_at_0x10000() {
    let mut w = World::new();
    w.user(w.app);
    assert_eq!(place(&mut w, 0x1000), 0x10000);
    w.kmode(w.drv);
    assert_eq!(w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap(), 0x10000);
    w.check();
    let third = w.kernel.create_process("third.exe").unwrap();
    w.check();
    w.user(third);
    assert_eq!(place(&mut w, 0x30000), 0x10000);
}

#[test]
fn every_reservation_consumes_whole_64k_blocks() {
    let mut w = World::new();
    w.user(w.app);
    assert_eq!(place(&mut w, 100), 0x10000);
    assert_eq!(place(&mut w, 0x10001), 0x20000, "two blocks");
    assert_eq!(w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap(), 0x40000);
    w.check();
    assert_eq!(place(&mut w, 0x10000), 0x50000);
    assert_eq!(place(&mut w, 1), 0x60000);
    assert_eq!(place(&mut w, 0x1F001), 0x70000);
    assert_eq!(place(&mut w, 1), 0x90000);
}

#[test]
fn null_placement_takes_the_first_run_of_wholly_free_blocks() {
    let mut w = World::new();
    w.user(w.app);
    // Explicit reservations at 0x10000 (one page used) and 0x30000.
    assert_eq!(
        w.t.virtual_alloc(0x10000, 100, RESERVE, NA).unwrap(),
        0x10000
    );
    assert_eq!(
        w.t.virtual_alloc(0x30000, 0x10000, RESERVE, NA).unwrap(),
        0x30000
    );
    w.check();
    assert_eq!(
        place(&mut w, 1),
        0x20000,
        "a block with any page in use is skipped"
    );
    assert_eq!(
        place(&mut w, 0x20001),
        0x40000,
        "three free blocks in a row"
    );
    assert_eq!(place(&mut w, 0x10000), 0x70000);
    release(&mut w, 0x20000);
    release(&mut w, 0x10000);
    assert_eq!(place(&mut w, 0x20000), 0x10000, "two blocks freed below");
    assert_eq!(place(&mut w, 1), 0x80000);
}

#[test]
fn releasing_below_the_cursor_moves_it_down() {
    let mut w = World::new();
    w.user(w.app);
    assert_eq!(place(&mut w, 0x10000), 0x10000);
    assert_eq!(place(&mut w, 0x10000), 0x20000);
    assert_eq!(place(&mut w, 0x10000), 0x30000);
    release(&mut w, 0x10000);
    // The hole at the cursor is one block: a two-block request goes above.
    assert_eq!(place(&mut w, 0x20000), 0x40000);
    assert_eq!(place(&mut w, 0x1000), 0x10000);
    assert_eq!(place(&mut w, 0x1000), 0x60000);
    release(&mut w, 0x20000);
    release(&mut w, 0x30000);
    assert_eq!(place(&mut w, 0x20000), 0x20000);
}

#[test]
fn null_placement_with_no_room_fails_with_8_and_changes_nothing() {
    let mut w = World::new();
    w.user(w.app);
    let frames = w.free_frames();
    for n in [0x3FFF_0001, 0x4000_0000, 0x7FFF_FFFF] {
        assert_fails(
            w.t.virtual_alloc(0, n, RESERVE, NA),
            (ErrorCode::NotEnoughMemory, "5.1.5"),
            &w,
        );
        assert_fails(
            w.t.virtual_alloc(0, n, COMMIT, RW),
            (ErrorCode::NotEnoughMemory, "5.1.5"),
            &w,
        );
    }
    assert_eq!(w.free_frames(), frames);
    let free = q(&mut w, 0x10000);
    assert_eq!(
        (free.state, free.region_size),
        (AllocType::FREE, 0x3FFF_0000)
    );
    // The whole area fits exactly once.
    assert_eq!(place(&mut w, 0x3FFF_0000), 0x10000);
    assert_fails(
        w.t.virtual_alloc(0, 1, RESERVE, NA),
        (ErrorCode::NotEnoughMemory, "5.1.5"),
        &w,
    );
    release(&mut w, 0x10000);
    assert_eq!(place(&mut w, 1), 0x10000);
}

#[test]
fn a_run_must_fit_below_the_dll_area() {
    let mut w = World::new();
    w.user(w.app);
    assert_eq!(
        w.t.virtual_alloc(0x3FFF_0000, 0x10000, RESERVE, NA)
            .unwrap(),
        0x3FFF_0000
    );
    w.check();
    assert_fails(
        w.t.virtual_alloc(0, 0x3FFE_0001, RESERVE, NA),
        (ErrorCode::NotEnoughMemory, "5.1.5"),
        &w,
    );
    assert_eq!(place(&mut w, 0x3FFE_0000), 0x10000);
    assert_fails(
        w.t.virtual_alloc(0, 1, RESERVE, NA),
        (ErrorCode::NotEnoughMemory, "5.1.5"),
        &w,
    );
}

#[test]
fn placement_acts_on_the_named_or_active_process() {
    let mut w = World::new();
    w.user(w.app);
    assert_eq!(place(&mut w, 0x10000), 0x10000);
    let drv = Handle::from(w.drv);
    assert_eq!(
        w.t.virtual_alloc_ex(drv, 0, 0x1000, RESERVE, NA).unwrap(),
        0x10000
    );
    assert_eq!(
        w.t.virtual_alloc_ex(drv, 0, 0x1000, RESERVE, NA).unwrap(),
        0x20000
    );
    w.check();
    assert_eq!(place(&mut w, 0x1000), 0x20000);
    // Kernel mode in a process places in that process's area, not in kernel memory.
    w.kmode(w.app);
    assert_eq!(place(&mut w, 0x1000), 0x30000);
    // Naming NK places in kernel memory.
    let nk = Handle::from(w.kernel.kernel_pid());
    assert_eq!(
        w.t.virtual_alloc_ex(nk, 0, 0x1000, RESERVE, NA).unwrap(),
        0x8400_0000
    );
    w.check();
}

#[test]
fn kernel_placement_starts_at_the_kernel_vm_start() {
    let mut w = World::new();
    w.nk();
    assert_eq!(place(&mut w, 100), 0x8400_0000);
    assert_eq!(place(&mut w, 0x10001), 0x8401_0000);
    assert_eq!(place(&mut w, 1), 0x8403_0000);

    for (ram, start) in [
        (5u64 << 20, 0x8080_0000),
        (8 << 20, 0x8080_0000),
        (1 << 20, 0x8040_0000),
    ] {
        let mut w = World::with_config(Config {
            ram_bytes: ram,
            ..Config::default()
        });
        w.nk();
        assert_eq!(w.kernel.layout().kernel_vm_start, start);
        assert_eq!(place(&mut w, 1), start, "RAM 0x{ram:X}");
    }
}

#[test]
fn kernel_placement_is_bounded_by_0xf0000000() {
    let mut w = World::new();
    w.nk();
    assert_fails(
        w.t.virtual_alloc(0, 0x6C00_0001, RESERVE, NA),
        (ErrorCode::NotEnoughMemory, "5.1.5"),
        &w,
    );
    assert_eq!(place(&mut w, 0x6C00_0000), 0x8400_0000);
    assert_fails(
        w.t.virtual_alloc(0, 1, RESERVE, NA),
        (ErrorCode::NotEnoughMemory, "5.1.5"),
        &w,
    );
    release(&mut w, 0x8400_0000);
    assert_eq!(place(&mut w, 1), 0x8400_0000);
}

// ---------------------------------------------------------------- seeded ASLR

/// A world with seeded placement whose app's first NULL reservation is at least at
/// 0x40000, and that address.
fn aslr_world() -> (World, u32) {
    for seed in 1..=64u64 {
        let mut w = World::with_config(Config {
            aslr_seed: Some(seed),
            ..Config::default()
        });
        w.user(w.app);
        let c = place(&mut w, 0x10000);
        assert_eq!(c % 0x10000, 0, "the cursor is block aligned");
        assert!(
            (0x10000..=0x10000 + 0x03FF_0000).contains(&c),
            "0x{c:08X} = 0x10000 + (random & 0x03FF0000)"
        );
        if c >= 0x40000 {
            return (w, c);
        }
    }
    panic!("no seed in 1..=64 starts a cursor at or above 0x40000");
}

#[test]
fn seeded_placement_starts_at_a_random_block_and_moves_on_from_there() {
    let (mut w, c) = aslr_world();
    assert_eq!(place(&mut w, 0x10000), c + 0x10000);
    // The blocks below the start are free.
    assert_eq!(q(&mut w, 0x10000).region_size, c - 0x10000);
}

#[test]
fn seeded_placement_wraps_to_0x10000_when_nothing_fits_above_the_cursor() {
    let (mut w, c) = aslr_world();
    let top = c + 0x10000;
    assert_eq!(place(&mut w, 0x4000_0000 - top), top);
    // Nothing is left above the cursor: the search starts again from 0x10000.
    assert_eq!(place(&mut w, 0x10000), 0x10000);
    assert_eq!(place(&mut w, 0x10000), 0x20000);
    // The rest below c, exactly.
    assert_fails(
        w.t.virtual_alloc(0, c - 0x30000 + 1, RESERVE, NA),
        (ErrorCode::NotEnoughMemory, "5.1.5"),
        &w,
    );
    assert_eq!(place(&mut w, c - 0x30000), 0x30000);
    assert_fails(
        w.t.virtual_alloc(0, 1, RESERVE, NA),
        (ErrorCode::NotEnoughMemory, "5.1.5"),
        &w,
    );
    // Releasing below the cursor moves it down again.
    release(&mut w, 0x20000);
    assert_eq!(place(&mut w, 1), 0x20000);
}

// ---------------------------------------------------------------- the user pointer rule

#[test]
fn the_user_pointer_rule_uses_the_write_bound_for_alloc_and_the_read_bound_for_query() {
    let mut w = World::new();
    w.kmode(w.app);
    assert_eq!(
        w.t.virtual_alloc(0x6FFF_0000, 0x10000, RESERVE, NA)
            .unwrap(),
        0x6FFF_0000
    );
    w.check();
    w.user(w.app);
    // (0x6FFFF000, 0x1000) ends at 0x70000000, not below the write bound (and lies above
    // the user allocation ceiling): 87, though kernel mode reserved it.
    assert_fails(
        w.t.virtual_alloc(0x6FFF_F000, 0x1000, COMMIT, RW),
        (ErrorCode::InvalidParameter, "5.1.1"),
        &w,
    );
    assert_eq!(
        q(&mut w, 0x6FFF_FFFC).state,
        RESERVE,
        "(a, 4) is below the read bound"
    );
    assert_eq!(q(&mut w, 0x7FEF_FFFB).state, AllocType::FREE);
    assert_fails(
        w.t.virtual_query(0x7FEF_FFFC, 28),
        (ErrorCode::InvalidParameter, "5.4.2"),
        &w,
    );
    assert_fails(
        w.t.virtual_query(0xFFFF, 28),
        (ErrorCode::InvalidParameter, "5.4.2"),
        &w,
    );
}

#[test]
fn the_user_pointer_rule_rejects_addresses_below_0x10000_and_negative_sizes() {
    let mut w = World::new();
    w.user(w.app);
    // The first block is a reservation: only the pointer rule rejects these commits.
    for (a, n) in [(0x1000, 0x1000), (0xF000, 0x1000), (0xFFFF, 1)] {
        assert_fails(
            w.t.virtual_alloc(a, n, COMMIT, RW),
            (ErrorCode::InvalidParameter, "5.1.1"),
            &w,
        );
    }
    assert_fails(
        w.t.virtual_alloc(0x10000, 0x8000_0000, RESERVE, NA),
        (ErrorCode::InvalidParameter, "5.1.1"),
        &w,
    );
    w.kmode(w.app);
    assert_eq!(
        w.t.virtual_alloc(0x1000, 0x1000, COMMIT, RW).unwrap(),
        0x1000
    );
    w.check();
}
