//! Fault injection: along one long scenario that allocates frames in every way the kernel
//! can (commits, auto-commit touches, aliases of auto-commit pages, locks, AllocPhysMem,
//! the shared heap, new processes), the n-th frame allocation is made to fail, for every
//! n. Each call must then either succeed or fail with ERROR_NOT_ENOUGH_MEMORY having
//! changed nothing; an access must fault with an access violation and change nothing
//! else; the invariants must hold after every step. The same scenario then runs with the
//! n-th host-arena operation refused, which must change no answer at all.

mod common;

use cevm::{
    AllocType, Config, ErrorCode, Handle, Kernel, LockFlags, Mode, Pid, Protection, Region, Thread,
};
use common::RW;

/// Everything a failed call must leave as it was: every process's map and the free
/// frame count.
fn snapshot(k: &Kernel) -> (Vec<(Pid, Vec<Region>)>, usize) {
    (k.all_regions(), k.phys().free_frames())
}

/// What one step did.
enum Outcome {
    Ok,
    Failed(ErrorCode),
    Faulted,
    Skipped,
}

fn call<T>(r: cevm::Result<T>) -> (Outcome, Option<T>) {
    match r {
        Ok(v) => (Outcome::Ok, Some(v)),
        Err(e) => (Outcome::Failed(e.code), None),
    }
}

/// The scenario's state: what earlier steps made, so later steps can skip what is
/// missing instead of failing for another reason.
#[derive(Default)]
struct Made {
    app: Option<Pid>,
    drv: Option<Pid>,
    buf: Option<u32>,
    auto: Option<u32>,
    reserved: Option<u32>,
    alias: Option<u32>,
    locked: Option<u32>,
    phys: Option<u32>,
    shared: Option<u32>,
    third: Option<Pid>,
}

type Step = fn(&Kernel, &mut Thread, &mut Made) -> Outcome;

fn steps() -> Vec<(&'static str, Step)> {
    vec![
        ("create app.exe", |k, _, m| {
            let (o, v) = call(k.create_process("app.exe"));
            m.app = v;
            o
        }),
        ("create udevice.exe", |k, _, m| {
            let (o, v) = call(k.create_process("udevice.exe"));
            m.drv = v;
            o
        }),
        ("commit 5 pages", |_, t, m| {
            let Some(app) = m.app else {
                return Outcome::Skipped;
            };
            t.enter(app, Mode::User, None).unwrap();
            let (o, v) = call(t.virtual_alloc(0, 0x5000, AllocType::COMMIT, RW));
            m.buf = v;
            o
        }),
        ("reserve auto-commit", |_, t, m| {
            let Some(app) = m.app else {
                return Outcome::Skipped;
            };
            t.enter(app, Mode::User, None).unwrap();
            let t2 = AllocType::RESERVE | AllocType::AUTO_COMMIT;
            let (o, v) = call(t.virtual_alloc(0, 0x4000, t2, RW));
            m.auto = v;
            o
        }),
        ("touch an auto-commit page", |_, t, m| {
            let (Some(app), Some(a)) = (m.app, m.auto) else {
                return Outcome::Skipped;
            };
            t.enter(app, Mode::User, None).unwrap();
            match t.write_u32(a + 0x10, 7) {
                Ok(()) => Outcome::Ok,
                Err(_) => Outcome::Faulted,
            }
        }),
        ("reserve 8 pages", |_, t, m| {
            let Some(app) = m.app else {
                return Outcome::Skipped;
            };
            t.enter(app, Mode::User, None).unwrap();
            let (o, v) = call(t.virtual_alloc(0, 0x8000, AllocType::RESERVE, Protection::NOACCESS));
            m.reserved = v;
            o
        }),
        ("commit inside the reservation", |_, t, m| {
            let (Some(app), Some(r)) = (m.app, m.reserved) else {
                return Outcome::Skipped;
            };
            t.enter(app, Mode::User, None).unwrap();
            call(t.virtual_alloc(r + 0x2000, 0x3000, AllocType::COMMIT, RW)).0
        }),
        ("alias the auto-commit range into the driver", |_, t, m| {
            let (Some(app), Some(drv), Some(a)) = (m.app, m.drv, m.auto) else {
                return Outcome::Skipped;
            };
            t.enter(drv, Mode::Kernel, Some(app)).unwrap();
            let (o, v) = call(t.virtual_alloc_copy_ex(app.into(), drv.into(), a + 4, 0x3000, RW));
            m.alias = v;
            o
        }),
        ("lock the rest of the auto-commit range", |_, t, m| {
            let (Some(app), Some(a)) = (m.app, m.auto) else {
                return Outcome::Skipped;
            };
            t.enter(app, Mode::Kernel, None).unwrap();
            let (o, v) = call(t.lock_pages(a + 0x3000, 0x1000, LockFlags::WRITE));
            m.locked = v.map(|_| a + 0x3000);
            o
        }),
        ("AllocPhysMem 3 pages", |k, t, m| {
            t.enter(k.kernel_pid(), Mode::Kernel, None).unwrap();
            let (o, v) = call(t.alloc_phys_mem(0x3000, RW, 0xFFFF, 0));
            m.phys = v.map(|(va, _)| va);
            o
        }),
        ("shared heap reserve and commit", |k, t, m| {
            t.enter(k.kernel_pid(), Mode::Kernel, None).unwrap();
            let (o, v) =
                call(t.ce_virtual_shared_alloc(0, 0x2000, AllocType::RESERVE | AllocType::COMMIT));
            m.shared = v;
            o
        }),
        ("decommit two pages", |_, t, m| {
            let (Some(app), Some(b)) = (m.app, m.buf) else {
                return Outcome::Skipped;
            };
            t.enter(app, Mode::User, None).unwrap();
            call(t.virtual_free(b + 0x1000, 0x2000, AllocType::DECOMMIT)).0
        }),
        ("recommit all five", |_, t, m| {
            let (Some(app), Some(b)) = (m.app, m.buf) else {
                return Outcome::Skipped;
            };
            t.enter(app, Mode::User, None).unwrap();
            call(t.virtual_alloc(b, 0x5000, AllocType::COMMIT, RW)).0
        }),
        ("create a third process", |k, _, m| {
            let (o, v) = call(k.create_process("third.exe"));
            m.third = v;
            o
        }),
        ("release everything", |k, t, m| {
            if let (Some(app), Some(a)) = (m.app, m.locked) {
                t.enter(app, Mode::Kernel, None).unwrap();
                t.unlock_pages(a, 0x1000).unwrap();
            }
            if let (Some(drv), Some(p)) = (m.drv, m.alias) {
                t.virtual_free_ex(drv.into(), p & !0xFFFF, 0, AllocType::RELEASE)
                    .unwrap();
            }
            t.enter(k.kernel_pid(), Mode::Kernel, None).unwrap();
            if let Some(p) = m.phys {
                t.free_phys_mem(p).unwrap();
            }
            if let Some(s) = m.shared {
                t.virtual_free(s, 0, AllocType::RELEASE).unwrap();
            }
            for pid in [m.app, m.drv, m.third].into_iter().flatten() {
                t.terminate_process(Handle::from(pid), 0).unwrap();
            }
            Outcome::Ok
        }),
    ]
}

/// Runs the scenario with `inject` armed; returns whether the injected failure happened.
fn run(inject: impl Fn(&Kernel), resident: usize) -> bool {
    let k = Kernel::boot(Config {
        ram_bytes: 1 << 20,
        resident_free_frames: resident,
        ..Config::default()
    })
    .unwrap();
    let mut t = k.thread();
    let mut m = Made::default();
    inject(&k);
    for (name, step) in steps() {
        let before = snapshot(&k);
        let outcome = step(&k, &mut t, &mut m);
        match outcome {
            Outcome::Ok | Outcome::Skipped => {}
            Outcome::Failed(code) => {
                assert_eq!(code, ErrorCode::NotEnoughMemory, "step '{name}'");
                assert_eq!(
                    snapshot(&k),
                    before,
                    "step '{name}' failed but changed state"
                );
            }
            Outcome::Faulted => {
                assert_eq!(
                    snapshot(&k),
                    before,
                    "step '{name}' faulted but changed state"
                );
            }
        }
        if let Err(e) = k.check_invariants() {
            panic!("after step '{name}': {e}");
        }
    }
    assert_eq!(
        k.phys().free_frames(),
        k.phys().total_frames(),
        "every frame is free once everything is released:\n{:?}",
        k.all_regions()
    );
    !k.phys().injection_pending()
}

#[test]
fn every_failed_frame_allocation_leaves_nothing_behind() {
    let mut n = 1;
    while run(|k| k.phys().fail_nth_allocation(Some(n)), 1024) {
        n += 1;
        assert!(n < 1000, "the scenario never stopped allocating");
    }
    assert!(n > 10, "the scenario allocated frames only {} times", n - 1);
}

#[test]
fn every_refused_host_operation_changes_no_answer() {
    let mut n = 1;
    // With no resident free frames, every free gives frames back to the host.
    while run(|k| k.phys().fail_nth_host_operation(Some(n)), 0) {
        n += 1;
        assert!(n < 1000, "the scenario never stopped giving frames back");
    }
    assert!(n > 3, "the scenario gave frames back only {} times", n - 1);
}
