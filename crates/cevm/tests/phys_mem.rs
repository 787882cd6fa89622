//! semantics.md §5.8 AllocPhysMem / FreePhysMem: kernel process only, argument checks
//! (NULL pa through the C convention of `cevm::ce`), alignment mask, physical
//! contiguity, zeroing, the PAGE_NOCACHE read-back and release.
//!
//! A fresh default `World` has RAM frames 0 and 1 in use (the kernel-data pages of
//! app.exe and udevice.exe); the kernel's first NULL reservation is at 0x84000000.

mod common;

use cevm::{AllocType, Config, ErrorCode, Mode, Protection};
use common::{RW, World, assert_fails};

#[test]
fn allocphys_outside_the_kernel_process_in_kernel_mode_is_87() {
    let mut w = World::new();
    let before = w.snapshot();
    let k = w.kernel.kernel_pid();
    for (pid, mode) in [
        (w.app, Mode::User),
        (w.app, Mode::Kernel),
        (w.drv, Mode::Kernel),
        (k, Mode::User),
    ] {
        w.t.enter(pid, mode, None).unwrap();
        // In user mode §2's kernel-only rule gives the 87; in kernel mode §5.8's
        // kernel-process rule does.
        let step = if mode == Mode::User { "2" } else { "5.8" };
        assert_fails(
            w.t.alloc_phys_mem(0x1000, RW, 0, 0),
            (ErrorCode::InvalidParameter, step),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
}

#[test]
fn allocphys_argument_checks_are_87() {
    let mut w = World::new();
    w.nk();
    let before = w.snapshot();
    for n in [0, 0x8000_0000, 0xFFFF_FFFF] {
        assert_fails(
            w.t.alloc_phys_mem(n, RW, 0, 0),
            (ErrorCode::InvalidParameter, "5.8"),
            &w,
        );
    }
    for prot in [0u32, 0x08, 0x80, 0x100, 0x200, 0x06, 0x101, 0x404, 0x400] {
        assert_fails(
            w.t.alloc_phys_mem(0x1000, Protection::from_bits_retain(prot), 0, 0),
            (ErrorCode::InvalidParameter, "5.8"),
            &w,
        );
    }
    for flags in [1, 0x8000_0000, 0xFFFF_FFFF] {
        assert_fails(
            w.t.alloc_phys_mem(0x1000, RW, 0, flags),
            (ErrorCode::InvalidParameter, "5.8"),
            &w,
        );
        // The argument checks come before the search for frames (which would be 8).
        assert_fails(
            w.t.alloc_phys_mem(0x7FFF_FFFF, RW, 0, flags),
            (ErrorCode::InvalidParameter, "5.8"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
}

#[test]
fn allocphys_null_physical_address_pointer_is_87() {
    let mut w = World::new();
    w.nk();
    let before = w.snapshot();
    assert_eq!(
        cevm::ce::alloc_phys_mem(&mut w.t, 0x1000, 0x04, 0, 0, None),
        0
    );
    assert_eq!(w.t.last_error(), 87);
    w.check();
    assert_eq!(w.snapshot(), before);
    // The same call with somewhere to put the address succeeds.
    w.t.set_last_error(0);
    let mut pa = 0xFFFF_FFFF_u64;
    let va = cevm::ce::alloc_phys_mem(&mut w.t, 0x1000, 0x04, 0, 0, Some(&mut pa));
    w.check();
    assert_eq!((va, pa), (0x8400_0000, 0x2000));
    assert_eq!(w.t.last_error(), 0);
    // Failures through the convention report the code too.
    assert_eq!(
        cevm::ce::alloc_phys_mem(&mut w.t, 0, 0x04, 0, 0, Some(&mut pa)),
        0
    );
    assert_eq!(w.t.last_error(), 87);
    assert_eq!(pa, 0x2000, "the out value is untouched on failure");
}

#[test]
fn allocphys_maps_contiguous_zeroed_frames_uncached_in_the_kernel() {
    let mut w = World::new();
    w.nk();
    let start = w.free_frames();
    let (va, pa) = w.t.alloc_phys_mem(0x3000, RW, 0, 0).unwrap();
    w.check();
    assert_eq!((va, pa), (0x8400_0000, 0x2000));
    assert_eq!(w.free_frames(), start - 3);
    assert_eq!(
        w.q4(va),
        (
            AllocType::COMMIT,
            RW | Protection::NOCACHE,
            0x3000,
            0x8400_0000
        )
    );
    assert_eq!(w.pfns(va, 0x3000), vec![0x2000, 0x3000, 0x4000]);
    let mut buf = vec![0xAAu8; 0x3000];
    w.t.read_bytes(va, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0));
    // The static mapping sees the same bytes at 0x80000000 + PA.
    w.t.write_u32(va + 0x2FFC, 0x1234_5678).unwrap();
    assert_eq!(w.t.read_u32(0x8000_4FFC).unwrap(), 0x1234_5678);
    // Any kernel-mode thread reaches it; user mode does not.
    w.kmode(w.app);
    assert_eq!(w.t.read_u32(va + 0x2FFC).unwrap(), 0x1234_5678);
    w.user(w.app);
    assert!(w.t.read_u8(va).is_err());
    w.check();
}

#[test]
fn allocphys_keeps_the_requested_protection_plus_nocache() {
    let mut w = World::new();
    w.nk();
    for (i, (prot, read_back)) in [
        (Protection::READONLY, 0x202u32),
        (RW | Protection::NOCACHE, 0x204),
        (Protection::EXECUTE, 0x220),
        (Protection::EXECUTE_READWRITE | Protection::GUARD, 0x340),
        (Protection::NOACCESS, 0x201),
    ]
    .into_iter()
    .enumerate()
    {
        let (va, _) = w.t.alloc_phys_mem(0x1000, prot, 0, 0).unwrap();
        w.check();
        assert_eq!(va, 0x8400_0000 + 0x10000 * i as u32);
        assert_eq!(w.q4(va).1.bits(), read_back, "{prot:?}");
    }
    // The read-only one really is read-only.
    let e = w.t.write_u8(0x8400_0000, 1).unwrap_err();
    assert_eq!((e.address, e.write), (0x8400_0000, true));
}

#[test]
fn allocphys_alignment_mask_selects_the_physical_address() {
    let mut w = World::new();
    w.nk();
    // PA 0 is taken (app's kernel-data page): the first free 64 KiB-aligned frame is
    // PA 0x10000, then 0x20000.
    let (va, pa) = w.t.alloc_phys_mem(0x1000, RW, 0xFFFF, 0).unwrap();
    w.check();
    assert_eq!((va, pa), (0x8400_0000, 0x10000));
    let (va, pa) = w.t.alloc_phys_mem(0x2000, RW, 0xFFFF, 0).unwrap();
    w.check();
    assert_eq!((va, pa), (0x8401_0000, 0x20000));
    // Only PA 0 satisfies a 64 MiB mask, and it is in use: 8, nothing changed.
    let before = w.snapshot();
    assert_fails(
        w.t.alloc_phys_mem(0x1000, RW, 0x3FF_FFFF, 0),
        (ErrorCode::NotEnoughMemory, "5.8"),
        &w,
    );
    assert_fails(
        w.t.alloc_phys_mem(0x1000, RW, 0xFFFF_FFFF, 0),
        (ErrorCode::NotEnoughMemory, "5.8"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    // The failure did not move the kernel's cursor; a mask of 0xFFF is page alignment.
    let (va, pa) = w.t.alloc_phys_mem(0x1000, RW, 0xFFF, 0).unwrap();
    w.check();
    assert_eq!((va, pa), (0x8402_0000, 0x2000));
}

#[test]
fn allocphys_alignment_is_on_the_physical_address_with_a_ram_base() {
    let mut w = World::with_config(Config {
        ram_base: 0x100_0000,
        ..Config::default()
    });
    w.nk();
    // Frame 2 is PA 0x1002000.
    let (_, pa) = w.t.alloc_phys_mem(0x1000, RW, 0, 0).unwrap();
    assert_eq!(pa, 0x100_2000);
    // PA 0x1000000 (frame 0) is taken; the next 16 MiB-aligned address is 0x2000000.
    let (va, pa) = w.t.alloc_phys_mem(0x1000, RW, 0xFF_FFFF, 0).unwrap();
    w.check();
    assert_eq!((va, pa), (0x8401_0000, 0x200_0000));
    assert_eq!(w.pfns(va, 1), vec![0x200_0000]);
    // The static mapping is 0x80000000 + (PA - ram_base).
    w.t.write_u8(va, 0x42).unwrap();
    assert_eq!(w.t.read_u8(0x8100_0000).unwrap(), 0x42);
}

#[test]
fn allocphys_needs_physically_contiguous_frames() {
    let mut w = World::new();
    // app commits four pages (frames 2, 3, 4, 5) and decommits the second: frame 3 is
    // a one-frame hole.
    w.user(w.app);
    w.t.virtual_alloc(0, 0x4000, AllocType::COMMIT, RW).unwrap();
    w.t.virtual_free(0x11000, 0x1000, AllocType::DECOMMIT)
        .unwrap();
    w.check();
    w.nk();
    let (va, pa) = w.t.alloc_phys_mem(0x2000, RW, 0, 0).unwrap();
    w.check();
    assert_eq!((va, pa), (0x8400_0000, 0x6000));
    assert_eq!(w.pfns(va, 0x2000), vec![0x6000, 0x7000]);
    let (_, pa) = w.t.alloc_phys_mem(0x1000, RW, 0, 0).unwrap();
    w.check();
    assert_eq!(pa, 0x3000);
}

#[test]
fn allocphys_without_a_contiguous_run_is_8_and_changes_nothing() {
    let mut w = World::new();
    w.nk();
    let before = w.snapshot();
    // All 64 MiB: there is room in kernel VM, but frames 0 and 1 are taken.
    assert_fails(
        w.t.alloc_phys_mem(0x400_0000, RW, 0, 0),
        (ErrorCode::NotEnoughMemory, "5.8"),
        &w,
    );
    // Bigger than kernel VM itself.
    assert_fails(
        w.t.alloc_phys_mem(0x7FFF_FFFF, RW, 0, 0),
        (ErrorCode::NotEnoughMemory, "5.8"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    // Everything but the two kernel-data frames fits, at PA 0x2000.
    let (va, pa) = w.t.alloc_phys_mem(0x400_0000 - 0x2000, RW, 0, 0).unwrap();
    w.check();
    assert_eq!((va, pa), (0x8400_0000, 0x2000));
    assert_eq!(w.free_frames(), 0);
    assert_fails(
        w.t.alloc_phys_mem(0x1000, RW, 0, 0),
        (ErrorCode::NotEnoughMemory, "5.8"),
        &w,
    );
    w.t.free_phys_mem(va).unwrap();
    w.check();
    assert_eq!(w.free_frames(), before.0);
}

#[test]
fn allocphys_hands_out_zeroed_frames_again_after_a_free() {
    let mut w = World::new();
    w.nk();
    let (va, pa) = w.t.alloc_phys_mem(0x2000, RW, 0, 0).unwrap();
    w.t.write_bytes(va, &[0xFF; 0x2000]).unwrap();
    w.t.free_phys_mem(va).unwrap();
    w.check();
    let (va2, pa2) = w.t.alloc_phys_mem(0x2000, RW, 0, 0).unwrap();
    w.check();
    assert_eq!((va2, pa2), (va, pa), "same place, same frames");
    let mut buf = [0xAAu8; 0x2000];
    w.t.read_bytes(va2, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0));
}

#[test]
fn freephys_releases_the_reservation_only_by_its_base() {
    let mut w = World::new();
    w.nk();
    let start = w.free_frames();
    let (va, _) = w.t.alloc_phys_mem(0x1800, RW, 0, 0).unwrap();
    w.check();
    // The record is {va, 0x1800}: two pages, requested size unrounded.
    assert_eq!(w.q4(va).2, 0x2000);
    assert_eq!(
        w.t.virtual_protect(va, 0x1800, Protection::READONLY)
            .unwrap()
            .bits(),
        0x204
    );
    w.check();
    let before = w.snapshot();
    assert_fails(
        w.t.virtual_protect(va, 0x1801, RW),
        (ErrorCode::InvalidParameter, "5.3.2"),
        &w,
    );
    for wrong in [va + 0x1000, va + 1, 0x8401_0000, 0] {
        assert_fails(
            w.t.free_phys_mem(wrong),
            (ErrorCode::InvalidParameter, "5.2.3"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
    w.t.free_phys_mem(va).unwrap();
    w.check();
    assert_eq!(w.free_frames(), start);
    assert_eq!(w.q4(va).0, AllocType::FREE);
    assert_fails(
        w.t.free_phys_mem(va),
        (ErrorCode::InvalidParameter, "5.2.3"),
        &w,
    );
}
