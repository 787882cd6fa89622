//! semantics.md §5.10 VirtualSetAttributes(Ex).
//!
//! The attribute bits are cevm's to define; `cevm::PageAttributes` defines exactly two,
//! at the x86 page-table-entry positions:
//! - `WRITE_THROUGH` = 0x08 (x86 PWT), published as `VA_ATTR_WRITE_THROUGH`;
//! - `CACHE_DISABLE` = 0x10 (x86 PCD), published as `VA_ATTR_CACHE_DISABLE`. It is the
//!   same per-page bit `PAGE_NOCACHE` sets, so it shows in VirtualQuery's read-back.
//!
//! Other bits in `new` or `mask` are ignored. Each page's attributes become
//! `(old & !mask) | (new & mask)`; the call returns the first page's attributes before
//! the change; `mask` = 0 is a query.

mod common;

use cevm::{AllocType, ErrorCode, Handle, Mode, PageAttributes, ProcessAccess, Protection};
use common::{RW, World, assert_fails, h, q};

const WT: PageAttributes = PageAttributes::WRITE_THROUGH;
const CD: PageAttributes = PageAttributes::CACHE_DISABLE;
const NONE: PageAttributes = PageAttributes::empty();

/// The attributes of the page holding `a` in the active process (a mask-0 query).
fn attrs(w: &mut World, a: u32) -> PageAttributes {
    let v = w.t.virtual_set_attributes(a, 1, NONE, NONE).unwrap();
    w.check();
    v
}

/// app.exe commits `bytes` read/write at 0x10000; the thread is left in app.exe in
/// kernel mode.
fn app_pages(w: &mut World, bytes: u32, prot: Protection) {
    w.kmode(w.app);
    let b =
        w.t.virtual_alloc(0, bytes, AllocType::COMMIT, prot)
            .unwrap();
    assert_eq!(b, 0x10000);
    w.check();
}

#[test]
fn setattr_bits_are_pwt_0x08_and_pcd_0x10() {
    assert_eq!(WT.bits(), 0x08);
    assert_eq!(CD.bits(), 0x10);
    assert_eq!(PageAttributes::all().bits(), 0x18);
    let named = |n: &str| {
        cevm::consts::NAMED_CONSTANTS
            .iter()
            .find(|(k, _)| *k == n)
            .map(|&(_, v)| v)
    };
    assert_eq!(named("VA_ATTR_WRITE_THROUGH"), Some(0x08));
    assert_eq!(named("VA_ATTR_CACHE_DISABLE"), Some(0x10));
}

#[test]
fn setattr_in_user_mode_is_50() {
    let mut w = World::new();
    app_pages(&mut w, 0x1000, RW);
    w.user(w.app);
    let before = w.snapshot();
    assert_fails(
        w.t.virtual_set_attributes(0x10000, 0x1000, WT, WT),
        (ErrorCode::NotSupported, "2"),
        &w,
    );
    let app = h(w.app);
    assert_fails(
        w.t.virtual_set_attributes_ex(app, 0x10000, 0x1000, WT, WT),
        (ErrorCode::NotSupported, "2"),
        &w,
    );
    // The handle is resolved first.
    assert_fails(
        w.t.virtual_set_attributes_ex(Handle(0xDEAD_0000), 0x10000, 0x1000, WT, WT),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
}

#[test]
fn setattr_ex_on_a_dead_process_is_6() {
    let mut w = World::new();
    let victim = w.kernel.create_process("victim.exe").unwrap();
    w.kmode(victim);
    w.t.virtual_alloc(0, 0x1000, AllocType::COMMIT, RW).unwrap();
    w.kmode(w.drv);
    let opened = w.terminate_with_handle(victim);
    for dead in [h(victim), opened] {
        assert_fails(
            w.t.virtual_set_attributes_ex(dead, 0x10000, 0x1000, WT, WT),
            (ErrorCode::InvalidHandle, "2"),
            &w,
        );
    }
}

#[test]
fn setattr_ex_handle_without_vm_operation_is_5() {
    let mut w = World::new();
    app_pages(&mut w, 0x1000, RW);
    w.kmode(w.drv);
    let weak = w.open(ProcessAccess::VM_READ, w.app);
    let before = w.snapshot();
    assert_fails(
        w.t.virtual_set_attributes_ex(weak, 0x10000, 0x1000, WT, WT),
        (ErrorCode::AccessDenied, "2"),
        &w,
    );
    assert_fails(
        w.t.virtual_set_attributes_ex(weak, 0x10000, 0, WT, WT),
        (ErrorCode::AccessDenied, "2"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
}

#[test]
fn setattr_non_positive_size_is_87() {
    let mut w = World::new();
    app_pages(&mut w, 0x1000, RW);
    let before = w.snapshot();
    for n in [0, 0x8000_0000, 0xFFFF_FFFF] {
        assert_fails(
            w.t.virtual_set_attributes(0x10000, n, WT, WT),
            (ErrorCode::InvalidParameter, "5.10"),
            &w,
        );
        assert_fails(
            w.t.virtual_set_attributes(0x10000, n, NONE, NONE),
            (ErrorCode::InvalidParameter, "5.10"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
}

#[test]
fn setattr_needs_committed_pages_of_one_reservation() {
    let mut w = World::new();
    w.kmode(w.app);
    // 0x10000: two committed pages and a reserved one; 0x20000: one committed page.
    w.t.virtual_alloc(0, 0x3000, AllocType::RESERVE, Protection::NOACCESS)
        .unwrap();
    w.t.virtual_alloc(0x10000, 0x2000, AllocType::COMMIT, RW)
        .unwrap();
    let b = w.t.virtual_alloc(0, 0x1000, AllocType::COMMIT, RW).unwrap();
    assert_eq!(b, 0x20000);
    w.check();
    let before = w.snapshot();
    for (a, n) in [
        (0x11000, 0x2000),     // reaches the reserved page
        (0x12000, 1),          // the reserved page
        (0x10000, 0x3001),     // past the record
        (0x13000, 0x1000),     // free
        (0x1F000, 0x2000),     // free, then the next reservation
        (0x10000, 0x11000),    // across two reservations
        (0x8000_2000, 0x1000), // the static mapping has no entries
        (0xFFFF_F000, 0x1000),
        (0x7000_0000, 0x1000),
        (0xFFFF_F000, 0x7FFF_FFFF),
    ] {
        for (new, mask) in [(WT, WT), (NONE, NONE)] {
            assert_fails(
                w.t.virtual_set_attributes(a, n, new, mask),
                (ErrorCode::InvalidParameter, "5.10"),
                &w,
            );
        }
        assert_eq!(w.snapshot(), before, "0x{a:08X}+0x{n:X}");
    }
    // The committed first page of a failed range kept its attributes.
    assert_eq!(attrs(&mut w, 0x11000), NONE);
}

#[test]
fn setattr_mask_zero_is_a_query_of_the_first_page() {
    let mut w = World::new();
    app_pages(&mut w, 0x2000, RW);
    w.t.virtual_protect(0x11000, 0x1000, RW | Protection::NOCACHE)
        .unwrap();
    w.check();
    let before = w.snapshot();
    assert_eq!(
        w.t.virtual_set_attributes(0x10000, 0x2000, PageAttributes::all(), NONE)
            .unwrap(),
        NONE
    );
    assert_eq!(
        w.t.virtual_set_attributes(0x11FFF, 1, WT, NONE).unwrap(),
        CD
    );
    w.check();
    assert_eq!(w.snapshot(), before);
}

#[test]
fn setattr_changes_only_the_masked_bits_of_every_page() {
    let mut w = World::new();
    app_pages(&mut w, 0x3000, RW);
    // new = WT|CD, mask = WT: only write-through is set.
    assert_eq!(
        w.t.virtual_set_attributes(0x10000, 0x3000, WT | CD, WT)
            .unwrap(),
        NONE
    );
    w.check();
    for a in [0x10000, 0x11000, 0x12000] {
        assert_eq!(attrs(&mut w, a), WT);
        assert_eq!(q(&mut w, a).protect, RW);
    }
    // new = CD, mask = WT|CD: write-through cleared, cache-disable set; the old value
    // returned is the first page's.
    assert_eq!(
        w.t.virtual_set_attributes(0x11800, 0x1000, CD, WT | CD)
            .unwrap(),
        WT
    );
    w.check();
    assert_eq!(attrs(&mut w, 0x10000), WT);
    assert_eq!(attrs(&mut w, 0x11000), CD);
    assert_eq!(attrs(&mut w, 0x12000), CD);
    // Cache-disable is the PAGE_NOCACHE bit: VirtualQuery reads it back.
    assert_eq!(q(&mut w, 0x11000).protect, RW | Protection::NOCACHE);
    assert_eq!(q(&mut w, 0x10000).protect, RW);
    // new = 0, mask = CD clears it again and leaves write-through alone.
    assert_eq!(
        w.t.virtual_set_attributes(0x10000, 0x3000, NONE, CD)
            .unwrap(),
        WT
    );
    w.check();
    assert_eq!(attrs(&mut w, 0x10000), WT);
    assert_eq!(attrs(&mut w, 0x11000), NONE);
    assert_eq!(q(&mut w, 0x12000).protect, RW);
}

#[test]
fn setattr_ignores_unknown_bits() {
    let mut w = World::new();
    app_pages(&mut w, 0x1000, RW);
    let all = PageAttributes::from_bits_retain(0xFFFF_FFFF);
    assert_eq!(
        w.t.virtual_set_attributes(0x10000, 0x1000, all, all)
            .unwrap(),
        NONE
    );
    w.check();
    assert_eq!(attrs(&mut w, 0x10000).bits(), 0x18);
    // A mask of only unknown bits changes nothing.
    let unknown = PageAttributes::from_bits_retain(0xFFFF_FFE7);
    assert_eq!(
        w.t.virtual_set_attributes(0x10000, 0x1000, NONE, unknown)
            .unwrap()
            .bits(),
        0x18
    );
    w.check();
    assert_eq!(attrs(&mut w, 0x10000).bits(), 0x18);
}

#[test]
fn setattr_through_the_c_convention_old_is_optional() {
    let mut w = World::new();
    app_pages(&mut w, 0x1000, RW);
    let app = h(w.app);
    assert!(cevm::ce::virtual_set_attributes_ex(
        &mut w.t, app, 0x10000, 0x1000, 0x08, 0x08, None
    ));
    w.check();
    let mut old = 0xFFFF_FFFF;
    assert!(cevm::ce::virtual_set_attributes_ex(
        &mut w.t,
        app,
        0x10000,
        0x1000,
        0x10,
        0x18,
        Some(&mut old)
    ));
    w.check();
    assert_eq!(old, 0x08);
    old = 0x1234;
    assert!(!cevm::ce::virtual_set_attributes_ex(
        &mut w.t,
        app,
        0x30000,
        0x1000,
        0,
        0,
        Some(&mut old)
    ));
    assert_eq!(w.t.last_error(), 87);
    assert_eq!(old, 0x1234, "untouched on failure");
    w.check();
}

#[test]
fn setattr_ex_acts_on_the_named_process_and_each_mapping_separately() {
    let mut w = World::new();
    app_pages(&mut w, 0x1000, RW);
    w.t.enter(w.drv, Mode::Kernel, Some(w.app)).unwrap();
    let (app, drv) = (h(w.app), h(w.drv));
    // An alias of app's page in udevice.exe.
    let r =
        w.t.virtual_alloc_copy_ex(app, drv, 0x10000, 0x1000, RW)
            .unwrap();
    assert_eq!(r, 0x10000);
    w.check();
    assert_eq!(
        w.t.virtual_set_attributes_ex(app, 0x10000, 0x1000, WT, WT)
            .unwrap(),
        NONE
    );
    w.check();
    // udevice.exe's entry for the same frame is its own.
    assert_eq!(attrs(&mut w, 0x10000), NONE);
    assert_eq!(
        w.t.virtual_set_attributes_ex(app, 0x10000, 0x1000, NONE, NONE)
            .unwrap(),
        WT
    );
    // The pseudo handle is the active process.
    assert_eq!(
        w.t.virtual_set_attributes_ex(Handle::CURRENT_PROCESS, 0x10000, 0x1000, CD, CD)
            .unwrap(),
        NONE
    );
    w.check();
    assert_eq!(attrs(&mut w, 0x10000), CD);
}

#[test]
fn setattr_reaches_the_kernels_pages_above_0x70000000() {
    let mut w = World::new();
    let k = w.kernel.kernel_pid();
    w.kmode(k);
    let s =
        w.t.ce_virtual_shared_alloc(0, 0x1000, AllocType::RESERVE | AllocType::COMMIT)
            .unwrap();
    let (va, _) = w.t.alloc_phys_mem(0x1000, RW, 0, 0).unwrap();
    w.check();
    // AllocPhysMem pages are uncached.
    assert_eq!(attrs(&mut w, va), CD);
    // Named through app.exe, the shared heap page is still the kernel's.
    w.kmode(w.app);
    let app = h(w.app);
    assert_eq!(
        w.t.virtual_set_attributes_ex(app, s, 0x1000, WT, WT)
            .unwrap(),
        NONE
    );
    w.check();
    w.kmode(k);
    assert_eq!(attrs(&mut w, s), WT);
}

#[test]
fn virtual_protect_sets_cache_disable_and_keeps_write_through() {
    let mut w = World::new();
    app_pages(&mut w, 0x1000, RW);
    w.t.virtual_set_attributes(0x10000, 0x1000, WT, WT).unwrap();
    w.t.virtual_protect(0x10000, 0x1000, Protection::READONLY | Protection::NOCACHE)
        .unwrap();
    w.check();
    assert_eq!(attrs(&mut w, 0x10000), WT | CD);
    w.t.virtual_protect(0x10000, 0x1000, RW).unwrap();
    w.check();
    assert_eq!(attrs(&mut w, 0x10000), WT);
}
