//! Several host threads, each with its own `kernel.thread()`, acting on one kernel at
//! once: VirtualAllocCopyEx aliases between shared processes, VirtualAlloc/VirtualFree
//! and reads; a process terminated while other threads use it. Afterwards the invariants
//! hold and every frame is accounted for.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use cevm::{AllocType, Config, ErrorCode, Handle, Kernel, Mode, Pid, Protection, Thread};
use common::{RW, check_kernel};

const BUF: u32 = 0x10000;
const BUF_BYTES: u32 = 0x10000;

// The kernel is shared between host threads; threads move between them.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Kernel>();
    send::<Thread>();
};

/// The byte process number `i` keeps at address `a` of its buffer.
fn pattern(i: usize, a: u32) -> u8 {
    ((a >> 12) as u8).wrapping_mul(13) ^ (a as u8) ^ (i as u8).wrapping_mul(0x55)
}

/// Creates a process with a 64 KiB committed buffer at 0x10000 holding `pattern(i, _)`.
fn shared_process(kernel: &Kernel, i: usize) -> Pid {
    let p = kernel.create_process(&format!("shared{i}.exe")).unwrap();
    let mut t = kernel.thread();
    t.enter(p, Mode::User, None).unwrap();
    let b = t
        .virtual_alloc(0, BUF_BYTES, AllocType::COMMIT, RW)
        .unwrap();
    assert_eq!(b, BUF);
    let data: Vec<u8> = (BUF..BUF + BUF_BYTES).map(|a| pattern(i, a)).collect();
    t.write_bytes(BUF, &data).unwrap();
    p
}

/// One worker's bounded run: aliases from `procs[src]` into `procs[dst]` (or the
/// kernel), checked through reads and same-value writes, released with the masked base;
/// a private commit/write/free in the destination; a ReadProcessMemory of the source.
fn churn(kernel: &Kernel, procs: &[Pid], me: usize, iterations: usize) {
    let mut t = kernel.thread();
    for k in 0..iterations {
        let src = (me + k) % procs.len();
        let dst = (me + k + 1 + k / 7) % procs.len();
        let (hs, hd) = (Handle::from(procs[src]), Handle::from(procs[dst]));
        t.enter(procs[dst], Mode::Kernel, Some(procs[src])).unwrap();
        let off = ((k * 0x1A3 + me * 0x777) % 0xF000) as u32;
        let n = 1 + ((k * 97 + me * 31) as u32 % (BUF_BYTES - off).min(0x1800));
        let p = BUF + off;
        let dst_handle = if k % 5 == 0 { Handle::NULL } else { hd };
        let r = t.virtual_alloc_copy_ex(hs, dst_handle, p, n, RW).unwrap();
        assert_eq!(r & 0xFFFF, p & 0xFFFF);
        let mut seen = vec![0u8; n as usize];
        t.read_bytes(r, &mut seen).unwrap();
        for (j, &b) in seen.iter().enumerate() {
            assert_eq!(b, pattern(src, p + j as u32), "worker {me} step {k}");
        }
        // Write the same bytes back through the alias (the source does not change).
        t.write_bytes(r, &seen).unwrap();
        let owner = if dst_handle == Handle::NULL {
            Handle::from(kernel.kernel_pid())
        } else {
            hd
        };
        t.virtual_free_ex(owner, r & !0xFFFF, 0, AllocType::RELEASE)
            .unwrap();
        // A private allocation in the destination.
        let a = t
            .virtual_alloc_ex(hd, 0, 0x3000, AllocType::COMMIT, RW)
            .unwrap();
        t.write_u32(a + 0x1FFE, k as u32).unwrap();
        assert_eq!(t.read_u32(a + 0x1FFE).unwrap(), k as u32);
        t.virtual_free_ex(hd, a, 0, AllocType::RELEASE).unwrap();
        // A read of the source from another context.
        let got = t
            .read_process_memory(hs, p, 8.min(BUF + BUF_BYTES - p))
            .unwrap();
        for (j, &b) in got.iter().enumerate() {
            assert_eq!(b, pattern(src, p + j as u32));
        }
    }
}

#[test]
fn threads_creating_and_releasing_aliases_leave_every_frame_accounted_for() {
    let kernel = Kernel::boot(Config::default()).unwrap();
    let start = kernel.phys().free_frames();
    let procs: Vec<Pid> = (0..4).map(|i| shared_process(&kernel, i)).collect();
    check_kernel(&kernel);
    let with_buffers = kernel.phys().free_frames();
    assert_eq!(with_buffers, start - 4 * 17);
    let workers = 6;
    let barrier = Arc::new(Barrier::new(workers));
    let handles: Vec<_> = (0..workers)
        .map(|me| {
            let kernel = kernel.clone();
            let procs = procs.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                churn(&kernel, &procs, me, 400);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    check_kernel(&kernel);
    assert_eq!(kernel.phys().free_frames(), with_buffers);
    // The buffers are intact.
    let mut t = kernel.thread();
    for (i, &p) in procs.iter().enumerate() {
        let got = t.read_process_memory(p.into(), BUF, BUF_BYTES).unwrap();
        assert!(got.iter().zip(BUF..).all(|(&b, a)| b == pattern(i, a)));
    }
    // Releasing everything gives back every frame.
    for &p in &procs {
        t.terminate_process(p.into(), 0).unwrap();
    }
    check_kernel(&kernel);
    assert_eq!(kernel.phys().free_frames(), start);
    assert_eq!(kernel.phys().free_frames(), kernel.phys().total_frames());
}

#[test]
fn a_process_terminated_while_other_threads_use_it() {
    let kernel = Kernel::boot(Config::default()).unwrap();
    let driver = kernel.create_process("udevice.exe").unwrap();
    let start = kernel.phys().free_frames();
    let victim = shared_process(&kernel, 0);
    check_kernel(&kernel);
    let progress = Arc::new(AtomicUsize::new(0));
    let dead = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(4));

    // A driver aliasing the victim's buffer; it keeps some aliases.
    let aliaser = {
        let (kernel, progress, dead, barrier) = (
            kernel.clone(),
            progress.clone(),
            dead.clone(),
            barrier.clone(),
        );
        std::thread::spawn(move || {
            let mut t = kernel.thread();
            t.enter(driver, Mode::Kernel, Some(victim)).unwrap();
            barrier.wait();
            let mut kept = Vec::new();
            let mut after_death = 0;
            for k in 0..5000usize {
                let was_dead = dead.load(Ordering::Acquire);
                let off = ((k * 0x351) % 0xF000) as u32;
                match t.virtual_alloc_copy_ex(victim.into(), driver.into(), BUF + off, 0x800, RW) {
                    Ok(r) => {
                        assert!(!was_dead, "an alias of a process known to be dead");
                        let mut b = [0u8; 4];
                        t.read_bytes(r, &mut b).unwrap();
                        for (j, &x) in b.iter().enumerate() {
                            assert_eq!(x, pattern(0, BUF + off + j as u32));
                        }
                        if k % 16 == 0 {
                            kept.push((r, off));
                        } else {
                            t.virtual_free(r & !0xFFFF, 0, AllocType::RELEASE).unwrap();
                        }
                    }
                    Err(e) => {
                        assert_eq!(e.code, ErrorCode::InvalidHandle, "{e}");
                        assert_eq!(t.last_error(), 6);
                    }
                }
                match t.read_process_memory(victim.into(), BUF + off, 16) {
                    Ok(v) => assert_eq!(v[0], pattern(0, BUF + off)),
                    // Resolved just before the end, copied just after: the pages are gone.
                    Err(e) => assert!(
                        matches!(
                            e.code,
                            ErrorCode::InvalidHandle | ErrorCode::InvalidParameter
                        ),
                        "{e}"
                    ),
                }
                progress.fetch_add(1, Ordering::Release);
                if was_dead {
                    after_death += 1;
                    if after_death > 50 {
                        break;
                    }
                }
            }
            kept
        })
    };

    // A thread running inside the victim, in user mode.
    let inside = {
        let (kernel, dead, barrier) = (kernel.clone(), dead.clone(), barrier.clone());
        std::thread::spawn(move || {
            let mut t = kernel.thread();
            t.enter(victim, Mode::User, None).unwrap();
            barrier.wait();
            let mut after_death = 0;
            for k in 0..5000usize {
                let was_dead = dead.load(Ordering::Acquire);
                match t.virtual_alloc(0, 0x2000, AllocType::COMMIT, RW) {
                    Ok(a) => {
                        assert!(!was_dead);
                        // Another thread may end the process between these calls.
                        let _ = t.write_u32(a, k as u32);
                        let _ = t.virtual_free(a, 0, AllocType::RELEASE);
                    }
                    // Found dead when resolved or under the lock: §2 either way.
                    Err(e) => assert_eq!((e.code, e.step), (ErrorCode::InvalidHandle, "2"), "{e}"),
                }
                match t.read_u8(BUF + (k as u32 % BUF_BYTES)) {
                    Ok(b) => assert_eq!(b, pattern(0, BUF + (k as u32 % BUF_BYTES))),
                    Err(e) => {
                        assert_eq!(e.code, 0xC000_0005);
                        assert!(dead.load(Ordering::Acquire) || !was_dead);
                    }
                }
                if was_dead {
                    after_death += 1;
                    if after_death > 50 {
                        break;
                    }
                }
            }
        })
    };

    // Another thread changing the victim through a handle.
    let changer = {
        let (kernel, dead, barrier) = (kernel.clone(), dead.clone(), barrier.clone());
        std::thread::spawn(move || {
            let mut t = kernel.thread();
            t.enter(driver, Mode::Kernel, None).unwrap();
            barrier.wait();
            let h: Handle = victim.into();
            let mut after_death = 0;
            for _ in 0..5000usize {
                let was_dead = dead.load(Ordering::Acquire);
                let r = t
                    .virtual_alloc_ex(h, 0, 0x1000, AllocType::COMMIT, RW)
                    .and_then(|a| {
                        t.virtual_protect_ex(h, a, 0x1000, Protection::READONLY)
                            .map(|_| a)
                    })
                    .and_then(|a| t.virtual_free_ex(h, a, 0, AllocType::RELEASE));
                if let Err(e) = r {
                    assert_eq!((e.code, e.step), (ErrorCode::InvalidHandle, "2"), "{e}");
                }
                if was_dead {
                    after_death += 1;
                    if after_death > 50 {
                        break;
                    }
                }
            }
        })
    };

    // The terminator waits until the others are well under way.
    {
        let mut t = kernel.thread();
        barrier.wait();
        while progress.load(Ordering::Acquire) < 200 {
            std::thread::yield_now();
        }
        t.terminate_process(victim.into(), 0).unwrap();
        dead.store(true, Ordering::Release);
    }
    let kept = aliaser.join().unwrap();
    inside.join().unwrap();
    changer.join().unwrap();
    check_kernel(&kernel);
    assert!(kernel.process(victim).is_none());
    assert!(!kept.is_empty());
    // The aliases kept in udevice.exe outlive the victim.
    let mut t = kernel.thread();
    t.enter(driver, Mode::Kernel, None).unwrap();
    for &(r, off) in &kept {
        let mut b = [0u8; 0x800];
        t.read_bytes(r, &mut b).unwrap();
        assert!(b.iter().zip(BUF + off..).all(|(&x, a)| x == pattern(0, a)));
        t.virtual_free(r & !0xFFFF, 0, AllocType::RELEASE).unwrap();
    }
    check_kernel(&kernel);
    assert_eq!(kernel.phys().free_frames(), start);
}

#[test]
fn invariants_hold_at_every_instant_while_processes_come_and_go() {
    let kernel = Kernel::boot(Config::default()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let checker = {
        let (kernel, stop) = (kernel.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut violations = Vec::new();
            while !stop.load(Ordering::Acquire) {
                if let Err(e) = kernel.check_invariants() {
                    violations.push(e);
                }
            }
            violations
        })
    };
    let mut t = kernel.thread();
    for _ in 0..100 {
        let p = kernel.create_process("brief.exe").unwrap();
        t.enter(p, Mode::User, None).unwrap();
        t.virtual_alloc(0, 0x40000, AllocType::COMMIT, RW).unwrap();
        t.terminate_process(Handle::CURRENT_PROCESS, 0).unwrap();
    }
    stop.store(true, Ordering::Release);
    let violations = checker.join().unwrap();
    assert!(
        violations.is_empty(),
        "{} violations, first: {}",
        violations.len(),
        violations[0]
    );
    check_kernel(&kernel);
}
