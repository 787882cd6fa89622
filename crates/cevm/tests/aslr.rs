//! Seeded placement randomisation (semantics.md §3): off by default; with a seed, a new
//! process's cursor starts at 0x10000 + (random & 0x03FF0000), and NULL placement still
//! searches upward from the cursor and then again from 0x10000.

mod common;

use cevm::{AllocType, Config, Kernel, Mode, Protection};

const NA: Protection = Protection::NOACCESS;

fn first_reservation(seed: Option<u64>) -> (Kernel, cevm::Thread, u32) {
    let k = Kernel::boot(Config {
        aslr_seed: seed,
        ..Config::default()
    })
    .unwrap();
    let app = k.create_process("app.exe").unwrap();
    let mut t = k.thread();
    t.enter(app, Mode::User, None).unwrap();
    let a = t.virtual_alloc(0, 0x1000, AllocType::RESERVE, NA).unwrap();
    k.check_invariants().unwrap();
    (k, t, a)
}

#[test]
fn without_a_seed_the_first_reservation_is_at_0x10000() {
    assert_eq!(first_reservation(None).2, 0x10000);
}

#[test]
fn a_seed_moves_the_cursor_by_whole_blocks_within_64_mib_deterministically() {
    let seen: Vec<u32> = (1..=8).map(|s| first_reservation(Some(s)).2).collect();
    for &a in &seen {
        assert_eq!(a & 0xFFFF, 0, "{a:#x} is block aligned");
        assert!((0x10000..=0x10000 + 0x03FF_0000).contains(&a), "{a:#x}");
    }
    assert!(
        seen.iter().any(|&a| a != 0x10000),
        "some seed moves the cursor"
    );
    let again: Vec<u32> = (1..=8).map(|s| first_reservation(Some(s)).2).collect();
    assert_eq!(seen, again, "the same seed places the same way");
}

#[test]
fn placement_wraps_around_to_0x10000_when_nothing_fits_above_the_cursor() {
    let seed = (1..100)
        .find(|&s| first_reservation(Some(s)).2 > 0x10000)
        .unwrap();
    let (k, mut t, a) = first_reservation(Some(seed));
    // Fill everything from the block after `a` up to 0x40000000.
    let rest = 0x4000_0000 - (a + 0x10000);
    assert_eq!(
        t.virtual_alloc(0, rest, AllocType::RESERVE, NA),
        Ok(a + 0x10000)
    );
    // Nothing is free above the cursor now; the search starts again at 0x10000.
    assert_eq!(
        t.virtual_alloc(0, 0x1000, AllocType::RESERVE, NA),
        Ok(0x10000)
    );
    k.check_invariants().unwrap();
}
