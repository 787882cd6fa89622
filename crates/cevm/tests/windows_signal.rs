//! The fault path from a real SIGSEGV handler on the faulting thread: plain host loads and
//! stores through a window meet auto-commit pages and pages the budget left unmapped,
//! the handler calls `resolve_window_fault`, and the access completes on its retry.
//! (Its own test binary: the handler is process-wide.)
#![cfg(target_os = "linux")]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use cevm::{AllocType, Config, Handle, Kernel, Mode, Protection, WindowFault};

static KERNEL: OnceLock<Kernel> = OnceLock::new();
static RETRIES: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_segv(_sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the host passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: ctx is the ucontext_t of the interrupted thread; on x86-64 bit 1 of the
    // page-fault error code says the access was a write.
    let write = unsafe {
        let uc = ctx.cast::<libc::ucontext_t>();
        (*uc).uc_mcontext.gregs[libc::REG_ERR as usize] & 2 != 0
    };
    #[cfg(not(target_arch = "x86_64"))]
    let write = {
        let _ = ctx;
        true
    };
    let verdict = KERNEL.get().map(|k| k.resolve_window_fault(addr, write));
    match verdict {
        Some(WindowFault::Retry) | Some(WindowFault::Busy) => {
            RETRIES.fetch_add(1, Ordering::Relaxed);
        }
        _ => {
            // A real access violation: this test has none, so stop loudly.
            // SAFETY: abort is async-signal-safe.
            unsafe { libc::abort() };
        }
    }
}

fn install() {
    // SAFETY: a zeroed sigaction with our handler and SA_SIGINFO is a valid argument; the
    // handler only reads atomics and the kernel's lock-free window table, try-locks, and
    // aborts otherwise.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_segv as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGSEGV, &sa, std::ptr::null_mut()), 0);
    }
}

#[test]
fn plain_host_accesses_complete_through_the_fault_path_from_a_signal_handler() {
    let k = KERNEL.get_or_init(|| {
        Kernel::boot(Config {
            host_windows: true,
            window_map_budget: Some(16),
            ..Config::default()
        })
        .unwrap()
    });
    install();
    let app = k.create_process("app.exe").unwrap();
    let drv = k.create_process("drv.exe").unwrap();
    let mut t = k.thread();
    t.enter(app, Mode::Kernel, None).unwrap();
    // Auto-commit: the first store commits a zeroed page.
    let a = t
        .virtual_alloc(
            0,
            0x8000,
            AllocType::RESERVE | AllocType::AUTO_COMMIT,
            Protection::READWRITE,
        )
        .unwrap();
    let base = k.window(app).unwrap();
    for i in 0..8u32 {
        let p = base
            .wrapping_add((a + i * 0x1000 + 4) as usize)
            .cast::<u32>();
        // SAFETY: the page faults until the handler commits it; then it is ours.
        unsafe { p.write_volatile(0xABC0 + i) };
        assert_eq!(t.read_u32(a + i * 0x1000 + 4).unwrap(), 0xABC0 + i);
    }
    assert!(RETRIES.load(Ordering::Relaxed) >= 8);
    // Budget: 64 scattered single-page aliases with room for 16 runs, read by plain loads.
    let buf = t
        .virtual_alloc(0, 128 * 0x1000, AllocType::COMMIT, Protection::READWRITE)
        .unwrap();
    for i in 0..64u32 {
        t.write_u32(buf + 2 * i * 0x1000, i + 7).unwrap();
    }
    t.enter(drv, Mode::Kernel, Some(app)).unwrap();
    let aliases: Vec<u32> = (0..64u32)
        .map(|i| {
            t.virtual_alloc_copy_ex(
                Handle::from(app),
                Handle::from(drv),
                buf + 2 * i * 0x1000,
                4,
                Protection::READWRITE,
            )
            .unwrap()
        })
        .collect();
    assert!(k.window_stats().pages_to_fault_path > 0);
    let dbase = k.window(drv).unwrap();
    for (i, &v) in aliases.iter().enumerate() {
        let p = dbase.wrapping_add(v as usize).cast::<u32>();
        // SAFETY: an accessible alias page; the handler maps it if the budget had not.
        assert_eq!(unsafe { p.read_volatile() }, i as u32 + 7);
    }
    assert!(k.window_stats().mappings <= 16);
    k.check_invariants().unwrap();
}
