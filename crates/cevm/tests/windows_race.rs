//! The stale-translation race through host windows, with real CPU loads and stores.
//!
//! Host threads keep loading from and storing to P's page X through P's window while X is
//! decommitted, its frame handed to a victim process and tagged there, and X committed
//! again. A window access after a revocation returned must never reach the victim's frame:
//! readers never see the tag, and the victim's page holds only zeros and its tag (a
//! writer's 0xAA would show a store through a stale mapping).
//!
//! The accesses are single instructions whose faults a SIGSEGV handler turns into a
//! "refused" result (an exception table, as an OS kernel keeps for its user copies). A
//! probe through the host kernel (`process_vm_writev`) would not do: it pins the page and
//! copies after dropping the mapping lock, so its store can land after the revocation
//! returned, which no CPU store can. (Its own test binary: the handler is process-wide.)
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::arch::global_asm;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use cevm::{AllocType, Config, Kernel, Mode, Protection};

// `cevm_race_load(p) -> u32`: 0x100 | the byte at `p`, or 0 when the load faulted.
// `cevm_race_store(p, v) -> u32`: 1 when the byte was stored, 0 when it faulted.
// The handler resumes a faulting `*_insn` at its `*_end` with eax = edx = 0.
global_asm!(
    ".text",
    ".globl cevm_race_load",
    "cevm_race_load:",
    "mov edx, 0x100",
    ".globl cevm_race_load_insn",
    "cevm_race_load_insn:",
    "movzx eax, byte ptr [rdi]",
    ".globl cevm_race_load_end",
    "cevm_race_load_end:",
    "or eax, edx",
    "ret",
    ".globl cevm_race_store",
    "cevm_race_store:",
    "mov eax, 1",
    ".globl cevm_race_store_insn",
    "cevm_race_store_insn:",
    "mov byte ptr [rdi], sil",
    ".globl cevm_race_store_end",
    "cevm_race_store_end:",
    "ret",
);

unsafe extern "C" {
    fn cevm_race_load(p: *const u8) -> u32;
    fn cevm_race_store(p: *mut u8, v: u8) -> u32;
    static cevm_race_load_insn: u8;
    static cevm_race_load_end: u8;
    static cevm_race_store_insn: u8;
    static cevm_race_store_end: u8;
}

extern "C" fn on_segv(sig: libc::c_int, _info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: `ctx` is the interrupted thread's ucontext_t (SA_SIGINFO); the statics are
    // labels of the probe code above, used only for their addresses.
    unsafe {
        let uc = ctx.cast::<libc::ucontext_t>();
        let regs = &mut (*uc).uc_mcontext.gregs;
        let rip = regs[libc::REG_RIP as usize] as usize;
        let resume = if rip == &raw const cevm_race_load_insn as usize {
            &raw const cevm_race_load_end as usize
        } else if rip == &raw const cevm_race_store_insn as usize {
            &raw const cevm_race_store_end as usize
        } else {
            // Not a probe: let the default action take the retried access down.
            libc::signal(sig, libc::SIG_DFL);
            return;
        };
        regs[libc::REG_RIP as usize] = resume as i64;
        regs[libc::REG_RAX as usize] = 0;
        regs[libc::REG_RDX as usize] = 0;
    }
}

fn install() {
    // SAFETY: a zeroed sigaction with our handler and SA_SIGINFO is a valid argument; the
    // handler only edits the interrupted context (async-signal-safe).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_segv as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGSEGV, &sa, std::ptr::null_mut()), 0);
        assert_eq!(libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()), 0);
    }
}

fn load(p: *const u8) -> Option<u8> {
    // SAFETY: the probe touches only `p`; a fault there is turned into `0` by `on_segv`.
    let r = unsafe { cevm_race_load(p) };
    (r & 0x100 != 0).then_some(r as u8)
}

fn store(p: *mut u8, v: u8) -> bool {
    // SAFETY: as in `load`; a store to guest memory another thread may read is what the
    // test is about, and the window maps it shared.
    unsafe { cevm_race_store(p, v) != 0 }
}

#[test]
fn the_probes_report_a_refused_access_and_carry_a_permitted_one() {
    install();
    let mut b = 0x42u8;
    assert_eq!(load(&b), Some(0x42));
    assert!(store(&mut b, 0x43));
    assert_eq!(b, 0x43);
    // SAFETY: a fresh no-access page, unmapped at the end.
    let page = unsafe {
        rustix::mm::mmap_anonymous(
            std::ptr::null_mut(),
            0x1000,
            rustix::mm::ProtFlags::empty(),
            rustix::mm::MapFlags::PRIVATE,
        )
    }
    .unwrap()
    .cast::<u8>();
    assert_eq!(load(page), None);
    assert!(!store(page, 1));
    // SAFETY: the page mapped above.
    unsafe { rustix::mm::munmap(page.cast(), 0x1000) }.unwrap();
}

#[test]
fn a_window_never_reaches_a_frame_after_it_went_to_a_new_owner() {
    const OLD: u8 = 0xAA;
    const TAG: u8 = 0x5C;
    install();
    let k = Kernel::boot(Config {
        host_windows: true,
        ..Config::default()
    })
    .unwrap();
    let app = k.create_process("app.exe").unwrap();
    let drv = k.create_process("udevice.exe").unwrap();
    let rw = Protection::READWRITE;
    let mut t = k.thread();
    t.enter(app, Mode::Kernel, None).unwrap();
    let x = t.virtual_alloc(0, 0x1000, AllocType::COMMIT, rw).unwrap();
    t.write_bytes(x, &[OLD; 0x1000]).unwrap();
    let host = k.window(app).unwrap().wrapping_add(x as usize) as usize;
    let stop = Arc::new(AtomicBool::new(false));
    let seen_tag = Arc::new(AtomicU32::new(0));
    let landed = Arc::new(AtomicU32::new(0));
    let workers: Vec<_> = (0..2)
        .map(|n| {
            let (stop, seen_tag, landed) = (stop.clone(), seen_tag.clone(), landed.clone());
            std::thread::spawn(move || {
                let p = host as *mut u8;
                while !stop.load(Ordering::Relaxed) {
                    for off in [0usize, 0x7FF, 0xFFF] {
                        if n == 0 {
                            if load(p.wrapping_add(off)) == Some(TAG) {
                                seen_tag.fetch_add(1, Ordering::Relaxed);
                            }
                        } else if store(p.wrapping_add(off), OLD) {
                            landed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    let frame = |t: &mut cevm::Thread, va: u32| {
        t.lock_pages(va, 0x1000, cevm::LockFlags::QUERY_ONLY)
            .unwrap()[0]
    };
    let mut bad = 0;
    let mut reused = 0;
    for round in 0..2000 {
        t.enter(app, Mode::Kernel, None).unwrap();
        let old = frame(&mut t, x);
        // Even rounds decommit X; odd rounds release its reservation (the window's
        // closed-range path) and reserve it again below.
        let release = round % 2 == 1;
        if release {
            t.virtual_free(x, 0, AllocType::RELEASE).unwrap();
        } else {
            t.virtual_free(x, 0x1000, AllocType::DECOMMIT).unwrap();
        }
        t.enter(drv, Mode::Kernel, None).unwrap();
        let v = t.virtual_alloc(0, 0x1000, AllocType::COMMIT, rw).unwrap();
        if frame(&mut t, v) == old {
            reused += 1;
        }
        let mut page = [0u8; 0x1000];
        t.read_bytes(v, &mut page).unwrap();
        bad += page.iter().filter(|&&b| b != 0).count();
        t.write_bytes(v, &[TAG; 0x1000]).unwrap();
        std::thread::yield_now();
        t.read_bytes(v, &mut page).unwrap();
        bad += page.iter().filter(|&&b| b != TAG).count();
        t.virtual_free(v, 0, AllocType::RELEASE).unwrap();
        t.enter(app, Mode::Kernel, None).unwrap();
        let again = if release {
            AllocType::RESERVE | AllocType::COMMIT
        } else {
            AllocType::COMMIT
        };
        assert_eq!(t.virtual_alloc(x, 0x1000, again, rw).unwrap(), x);
        t.write_bytes(x, &[OLD; 0x1000]).unwrap();
        assert_eq!(bad, 0, "round {round}: the victim's page was touched");
    }
    // The race was the one meant: the victim got X's old frame in most rounds.
    assert!(
        reused > 1000,
        "the victim reused X's frame in only {reused} of 2000 rounds"
    );
    stop.store(true, Ordering::Relaxed);
    for h in workers {
        h.join().unwrap();
    }
    assert_eq!(
        seen_tag.load(Ordering::Relaxed),
        0,
        "a reader saw the victim's tag"
    );
    // The race was run: stores did land on X while it was committed.
    assert!(
        landed.load(Ordering::Relaxed) > 0,
        "no store ever reached X"
    );
    k.check_invariants().unwrap();
}
