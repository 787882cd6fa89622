//! The per-thread translation cache must never let an access through that the page tables
//! no longer allow: every unmap, protect and decommit, in this thread or any other, drops
//! cached translations. Each test first warms the cache with a successful access, then
//! changes the mapping and expects the next access to see the change.

mod common;

use cevm::consts::STATUS_ACCESS_VIOLATION;
use cevm::{AllocType, Handle, Mode, Protection};
use common::World;

fn committed(w: &mut World, prot: Protection) -> u32 {
    let app = w.app;
    w.user(app);
    let b =
        w.t.virtual_alloc(0, 0x2000, AllocType::COMMIT, prot)
            .unwrap();
    w.t.write_u32(b, 0x1122_3344).ok();
    w.check();
    b
}

#[track_caller]
fn faults(r: Result<impl std::fmt::Debug, cevm::Exception>, address: u32, write: bool) {
    let e = r.expect_err("the access must fault");
    assert_eq!(
        (e.code, e.address, e.write),
        (STATUS_ACCESS_VIOLATION, address, write)
    );
}

#[test]
fn protect_to_noaccess_drops_a_cached_read() {
    let mut w = World::new();
    let b = committed(&mut w, Protection::READWRITE);
    assert_eq!(w.t.read_u32(b).unwrap(), 0x1122_3344);
    w.t.virtual_protect(b, 0x1000, Protection::NOACCESS)
        .unwrap();
    faults(w.t.read_u32(b), b, false);
    w.check();
}

#[test]
fn protect_to_readonly_drops_a_cached_write() {
    let mut w = World::new();
    let b = committed(&mut w, Protection::READWRITE);
    w.t.write_u32(b + 8, 1).unwrap();
    w.t.virtual_protect(b, 0x1000, Protection::READONLY)
        .unwrap();
    faults(w.t.write_u32(b + 8, 2), b + 8, true);
    assert_eq!(w.t.read_u32(b + 8).unwrap(), 1, "reads still work");
}

#[test]
fn decommit_and_release_drop_cached_translations() {
    let mut w = World::new();
    let b = committed(&mut w, Protection::READWRITE);
    w.t.read_u32(b + 0x1000).unwrap();
    w.t.virtual_free(b + 0x1000, 0x1000, AllocType::DECOMMIT)
        .unwrap();
    faults(w.t.read_u32(b + 0x1000), b + 0x1000, false);
    w.t.read_u32(b).unwrap();
    w.t.virtual_free(b, 0, AllocType::RELEASE).unwrap();
    faults(w.t.read_u8(b), b, false);
    w.check();
}

#[test]
fn recommit_with_a_new_protection_drops_a_cached_write() {
    let mut w = World::new();
    let b = committed(&mut w, Protection::READWRITE);
    w.t.write_u8(b, 9).unwrap();
    assert_eq!(
        w.t.virtual_alloc(b, 0x1000, AllocType::COMMIT, Protection::READONLY),
        Ok(b)
    );
    faults(w.t.write_u8(b, 1), b, true);
    assert_eq!(w.t.read_u8(b).unwrap(), 9, "re-commit keeps the data");
}

#[test]
fn adding_a_guard_drops_a_cached_translation() {
    let mut w = World::new();
    let b = committed(&mut w, Protection::READWRITE);
    w.t.read_u8(b).unwrap();
    w.t.virtual_protect(b, 0x1000, Protection::READWRITE | Protection::GUARD)
        .unwrap();
    faults(w.t.read_u8(b), b, false);
    assert_eq!(w.t.read_u8(b).unwrap(), 0x44, "the guard was one-shot");
}

#[test]
fn a_change_made_by_another_thread_drops_this_threads_cache() {
    let mut w = World::new();
    let b = committed(&mut w, Protection::READWRITE);
    w.t.write_u32(b, 5).unwrap();
    let kernel = w.kernel.clone();
    let app = w.app;
    std::thread::spawn(move || {
        let mut other = kernel.thread();
        other.enter(app, Mode::Kernel, None).unwrap();
        other
            .virtual_protect_ex(Handle::from(app), b, 0x1000, Protection::READONLY)
            .unwrap();
        other
            .virtual_free_ex(Handle::from(app), b + 0x1000, 0x1000, AllocType::DECOMMIT)
            .unwrap();
    })
    .join()
    .unwrap();
    faults(w.t.write_u32(b, 6), b, true);
    assert_eq!(w.t.read_u32(b).unwrap(), 5);
    faults(w.t.read_u32(b + 0x1000), b + 0x1000, false);
    w.check();
}

#[test]
fn terminating_the_process_drops_cached_translations() {
    let mut w = World::new();
    let b = committed(&mut w, Protection::READWRITE);
    w.t.read_u32(b).unwrap();
    let mut killer = w.kernel.thread();
    killer.terminate_process(Handle::from(w.app), 0).unwrap();
    faults(w.t.read_u32(b), b, false);
    w.check();
}

#[test]
fn releasing_an_alias_drops_the_aliases_cached_translation() {
    let mut w = World::new();
    let b = committed(&mut w, Protection::READWRITE);
    let (app, drv) = (w.app, w.drv);
    w.kmode(drv);
    let p =
        w.t.virtual_alloc_copy_ex(app.into(), drv.into(), b, 4, Protection::READWRITE)
            .unwrap();
    assert_eq!(w.t.read_u32(p).unwrap(), 0x1122_3344);
    w.t.virtual_free_ex(drv.into(), p & !0xFFFF, 0, AllocType::RELEASE)
        .unwrap();
    faults(w.t.read_u32(p), p, false);
    w.check();
}

#[test]
fn entering_another_process_does_not_reuse_the_first_ones_translations() {
    let mut w = World::new();
    let b = committed(&mut w, Protection::READWRITE);
    assert_eq!(w.t.read_u32(b).unwrap(), 0x1122_3344);
    let drv = w.drv;
    w.user(drv);
    faults(w.t.read_u32(b), b, false);
    let d =
        w.t.virtual_alloc(0, 0x1000, AllocType::COMMIT, Protection::READWRITE)
            .unwrap();
    assert_eq!(d, b, "both processes place their first commit at 0x10000");
    assert_eq!(w.t.read_u32(d).unwrap(), 0, "udevice.exe's own zeroed page");
}

#[test]
fn leaving_kernel_mode_drops_kernel_only_translations() {
    let mut w = World::new();
    let app = w.app;
    w.kmode(app);
    w.t.read_u32(0x8000_0000).unwrap();
    w.user(app);
    faults(w.t.read_u32(0x8000_0000), 0x8000_0000, false);
}
