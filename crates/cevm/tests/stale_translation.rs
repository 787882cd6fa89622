//! No access that passed its translation check touches a frame after the frame was handed
//! to a new owner (the stale-translation race).
//!
//! Writer threads, user mode in process P, keep writing `0xAA` over P's committed page X;
//! reader threads in P keep reading X. A controller revokes X (decommit, release, or the
//! termination of P), commits a fresh page in a victim process (another process, or
//! NK.EXE), which receives X's old frame (the pool hands out the lowest free frame first),
//! and watches it. The victim's page must hold only zeros and then its own tag; no reader
//! of P may ever return the victim's tag. Only the public API is used.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cevm::{AllocType, Config, Handle, Kernel, LockFlags, Mode, Pid, Protection};

const RW: Protection = Protection::READWRITE;
const OLD: u8 = 0xAA;
const TAG: u8 = 0x5C;
const PAGE: usize = 0x1000;

/// How the controller takes X away from P.
#[derive(Debug, Clone, Copy)]
enum Revoke {
    Decommit,
    Release,
    Terminate,
}

/// Who receives X's old frame.
#[derive(Debug, Clone, Copy)]
enum Victim {
    OtherProcess,
    Kernel,
}

/// What the workers publish: P's id and X's address (0 while there is none).
struct Target {
    pid: AtomicU32,
    page: AtomicU32,
    stop: AtomicBool,
    /// Reads of P's page that returned the victim's tag.
    leaked_reads: AtomicU64,
    /// Accesses that passed (did not fault), to show the workers really ran.
    accesses: AtomicU64,
}

/// What one scenario saw.
#[derive(Debug, Default)]
struct Seen {
    rounds: u64,
    /// Rounds in which the victim really received X's old frame.
    reused: u64,
    /// Rounds in which the victim's page held P's bytes.
    corrupted: u64,
    leaked_reads: u64,
    accesses: u64,
}

fn worker(kernel: Kernel, target: Arc<Target>, write: bool) {
    let mut t = kernel.thread();
    let mut entered = 0u32;
    let data = [OLD; PAGE];
    let mut buf = [0u8; PAGE];
    while !target.stop.load(Ordering::Relaxed) {
        let pid = target.pid.load(Ordering::Acquire);
        let page = target.page.load(Ordering::Acquire);
        if page == 0 {
            std::hint::spin_loop();
            continue;
        }
        if pid != entered {
            if t.enter(Pid(pid), Mode::User, None).is_err() {
                continue;
            }
            entered = pid;
        }
        let ok = if write {
            t.write_bytes(page, &data).is_ok()
        } else {
            let ok = t.read_bytes(page, &mut buf).is_ok();
            if ok && buf.contains(&TAG) {
                target.leaked_reads.fetch_add(1, Ordering::Relaxed);
            }
            ok
        };
        if ok {
            target.accesses.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs one scenario for `duration` with `writers` writer and `readers` reader threads.
fn scenario(
    revoke: Revoke,
    victim: Victim,
    writers: usize,
    readers: usize,
    duration: Duration,
) -> Seen {
    // One scenario at a time: they measure races, so they must not starve each other.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let kernel = Kernel::boot(Config {
        ram_bytes: 4 << 20,
        ..Config::default()
    })
    .unwrap();
    let q = kernel.create_process("victim.exe").unwrap();
    let mut p = kernel.create_process("old-owner.exe").unwrap();
    let target = Arc::new(Target {
        pid: AtomicU32::new(p.0),
        page: AtomicU32::new(0),
        stop: AtomicBool::new(false),
        leaked_reads: AtomicU64::new(0),
        accesses: AtomicU64::new(0),
    });
    let threads: Vec<_> = (0..writers + readers)
        .map(|i| {
            let (k, tg) = (kernel.clone(), target.clone());
            std::thread::spawn(move || worker(k, tg, i < writers))
        })
        .collect();
    let mut c = kernel.thread();
    let mut seen = Seen::default();
    let start = Instant::now();
    while start.elapsed() < duration {
        seen.rounds += 1;
        // P commits X and the workers start on it.
        c.enter(p, Mode::User, None).unwrap();
        let x = c
            .virtual_alloc(0, PAGE as u32, AllocType::COMMIT, RW)
            .unwrap();
        c.enter(p, Mode::Kernel, None).unwrap();
        let frame = c.lock_pages(x, PAGE as u32, LockFlags::QUERY_ONLY).unwrap()[0];
        let before = target.accesses.load(Ordering::Relaxed);
        target.pid.store(p.0, Ordering::Release);
        target.page.store(x, Ordering::Release);
        // The workers must be at it when X goes away (on a loaded machine they may not
        // have been scheduled yet).
        let wait = Instant::now();
        while target.accesses.load(Ordering::Relaxed) == before
            && wait.elapsed() < Duration::from_millis(200)
        {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_micros(50));
        // X goes away.
        match revoke {
            Revoke::Decommit => {
                c.virtual_free(x, PAGE as u32, AllocType::DECOMMIT).unwrap();
            }
            Revoke::Release => c.virtual_free(x, 0, AllocType::RELEASE).unwrap(),
            Revoke::Terminate => {
                c.enter(kernel.kernel_pid(), Mode::Kernel, None).unwrap();
                c.terminate_process(Handle::from(p), 0).unwrap();
                // The next round's P takes back the kernel-data frame, so the victim's
                // commit below receives X's frame.
                p = kernel.create_process("old-owner.exe").unwrap();
            }
        }
        // The victim commits a fresh page: X's old frame, lowest free first.
        let owner = match victim {
            Victim::OtherProcess => q,
            Victim::Kernel => kernel.kernel_pid(),
        };
        c.enter(owner, Mode::Kernel, None).unwrap();
        let v = c
            .virtual_alloc(0, PAGE as u32, AllocType::COMMIT, RW)
            .unwrap();
        let got = c.lock_pages(v, PAGE as u32, LockFlags::QUERY_ONLY).unwrap()[0];
        seen.reused += u64::from(got == frame);
        let mut buf = [0u8; PAGE];
        let mut bad = false;
        // A fresh page is all zero until its owner writes; then it holds the owner's tag.
        // Yielding lets a worker preempted in the middle of an access run on.
        for _ in 0..20 {
            c.read_bytes(v, &mut buf).unwrap();
            bad |= buf.iter().any(|&b| b != 0);
            std::thread::yield_now();
        }
        c.write_bytes(v, &[TAG; PAGE]).unwrap();
        for _ in 0..100 {
            c.read_bytes(v, &mut buf).unwrap();
            bad |= buf.iter().any(|&b| b != TAG);
            std::thread::yield_now();
        }
        seen.corrupted += u64::from(bad);
        target.page.store(0, Ordering::Release);
        c.virtual_free(v, 0, AllocType::RELEASE).unwrap();
        if matches!(revoke, Revoke::Decommit) {
            c.enter(p, Mode::Kernel, None).unwrap();
            c.virtual_free(x, 0, AllocType::RELEASE).unwrap();
        }
    }
    target.stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    seen.leaked_reads = target.leaked_reads.load(Ordering::Relaxed);
    seen.accesses = target.accesses.load(Ordering::Relaxed);
    common::check_kernel(&kernel);
    seen
}

fn assert_clean(revoke: Revoke, victim: Victim, seen: &Seen) {
    eprintln!("{revoke:?} -> {victim:?}: {seen:?}");
    assert!(seen.accesses > 0, "the workers never reached the page");
    assert!(
        seen.reused * 2 > seen.rounds,
        "the victim must receive the old frame in most rounds, or the test tests nothing"
    );
    assert_eq!(
        seen.corrupted, 0,
        "a stale write landed in the victim's page in {} of {} rounds",
        seen.corrupted, seen.rounds
    );
    assert_eq!(
        seen.leaked_reads, 0,
        "a stale read returned the victim's bytes {} times",
        seen.leaked_reads
    );
}

const RUN: Duration = Duration::from_millis(700);

#[test]
fn stale_writes_never_reach_a_frame_recommitted_after_decommit() {
    let s = scenario(Revoke::Decommit, Victim::OtherProcess, 3, 1, RUN);
    assert_clean(Revoke::Decommit, Victim::OtherProcess, &s);
}

#[test]
fn stale_writes_never_reach_a_frame_recommitted_after_release() {
    let s = scenario(Revoke::Release, Victim::OtherProcess, 2, 2, RUN);
    assert_clean(Revoke::Release, Victim::OtherProcess, &s);
}

#[test]
fn stale_writes_never_reach_a_frame_recommitted_after_termination() {
    let s = scenario(Revoke::Terminate, Victim::OtherProcess, 3, 1, RUN);
    assert_clean(Revoke::Terminate, Victim::OtherProcess, &s);
}

#[test]
fn stale_user_writes_never_reach_a_kernel_page() {
    let s = scenario(Revoke::Decommit, Victim::Kernel, 3, 1, RUN);
    assert_clean(Revoke::Decommit, Victim::Kernel, &s);
}

#[test]
fn stale_reads_never_return_the_new_owners_bytes() {
    let s = scenario(Revoke::Release, Victim::OtherProcess, 0, 4, RUN);
    assert_clean(Revoke::Release, Victim::OtherProcess, &s);
}
