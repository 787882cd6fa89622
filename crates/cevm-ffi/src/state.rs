//! The program's one kernel and each host thread's CE thread.
//!
//! The kernel lives behind a `RwLock` (read for every call, written only by `cevm_boot`);
//! the fault handler cannot take a lock, so it reads a second copy through an atomic
//! pointer guarded by an in-flight counter (`fault.rs`). Each host thread keeps its CE
//! thread (context, last error, translation cache) in a thread-local, made on first use in
//! NK.EXE kernel mode, and made afresh when the kernel was booted again. The thread-local
//! also keeps the kernel it belongs to, so a call on the current kernel costs one atomic
//! load (of the boot number), not the lock and a reference count.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use cevm::{Config, Kernel, Thread};

use crate::fault;

/// A booted kernel and the number of the boot that made it.
pub struct Booted {
    pub kernel: Kernel,
    pub id: u64,
}

static KERNEL: RwLock<Option<Arc<Booted>>> = RwLock::new(None);
static BOOTS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static CE: RefCell<Option<(Arc<Booted>, Thread)>> = const { RefCell::new(None) };
}

/// Replaces the program's kernel with a fresh one booted from `config`.
pub fn boot(config: Config) -> Result<(), u32> {
    let mut slot = KERNEL.write().unwrap_or_else(|e| e.into_inner());
    boot_into(&mut slot, config)
}

fn boot_into(slot: &mut Option<Arc<Booted>>, config: Config) -> Result<(), u32> {
    let windows = config.host_windows;
    let kernel = Kernel::boot(config).map_err(|e| e.win32())?;
    let id = BOOTS.fetch_add(1, Ordering::SeqCst) + 1;
    *slot = Some(Arc::new(Booted {
        kernel: kernel.clone(),
        id,
    }));
    fault::publish(kernel);
    if windows {
        fault::install_handler();
    }
    if audit_file().is_some() {
        static REGISTERED: std::sync::Once = std::sync::Once::new();
        REGISTERED.call_once(|| {
            // SAFETY: atexit takes a plain `extern "C" fn()`; the handler only reads the
            // program's kernel and writes a file, and catches nothing it could unwind.
            unsafe { libc::atexit(write_audit_report) };
        });
    }
    Ok(())
}

/// The default configuration of the C ABI: 64 MiB at 0, no ASLR, host windows on, and
/// the auditor on when the environment names a report file (`CEVM_AUDIT`).
pub fn default_config() -> Config {
    Config {
        host_windows: true,
        audit: audit_file().is_some(),
        ..Config::default()
    }
}

/// The file the auditor's findings go to when the program exits (audit.md, "Output").
pub fn audit_file() -> Option<std::ffi::OsString> {
    std::env::var_os("CEVM_AUDIT").filter(|v| !v.is_empty())
}

/// Writes the findings of the program's kernel to the `CEVM_AUDIT` file (at exit).
extern "C" fn write_audit_report() {
    let (Some(path), Ok(b)) = (audit_file(), current()) else {
        return;
    };
    let report = b.kernel.audit_report_json();
    if let Err(e) = std::fs::write(&path, report) {
        eprintln!("cevm: cannot write the audit report to {path:?}: {e}");
    }
}

/// Numbers the calls the auditor reports (the `seq` of audit.md).
static CALLS: AtomicU64 = AtomicU64::new(0);

/// [`on_thread`] for a CE call: the auditor learns its number and its name (C has no
/// script line; audit.md names the call instead).
pub fn on_call<R: Copy>(
    name: &'static str,
    fail: R,
    f: impl FnOnce(&Booted, &mut Thread) -> R,
) -> R {
    on_thread(fail, |b, t| {
        t.set_call_site(CALLS.fetch_add(1, Ordering::Relaxed) + 1, name);
        f(b, t)
    })
}

/// The current kernel, booting one with the defaults when none was booted yet.
pub fn current() -> Result<Arc<Booted>, u32> {
    if let Some(b) = KERNEL.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return Ok(b.clone());
    }
    let mut slot = KERNEL.write().unwrap_or_else(|e| e.into_inner());
    if slot.is_none() {
        boot_into(&mut slot, default_config())?;
    }
    slot.clone().ok_or(cevm::ErrorCode::NotEnoughMemory.code())
}

fn panic_text(p: &(dyn Any + Send)) -> &str {
    if let Some(s) = p.downcast_ref::<&str>() {
        s
    } else if let Some(s) = p.downcast_ref::<String>() {
        s
    } else {
        "unknown panic"
    }
}

/// Runs `f`, turning a panic into a message on stderr and the result `fail`.
pub fn guarded<R: Copy>(fail: R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            eprintln!("cevm: internal error: {}", panic_text(p.as_ref()));
            fail
        }
    }
}

/// Runs `f` with the kernel and the calling host thread's CE thread; `fail` when no
/// kernel can be had or `f` panics.
pub fn on_thread<R: Copy>(fail: R, f: impl FnOnce(&Booted, &mut Thread) -> R) -> R {
    guarded(fail, || {
        CE.with(|c| {
            let Ok(mut c) = c.try_borrow_mut() else {
                return fail;
            };
            // Every boot takes a new number before it replaces the kernel: a cached kernel
            // whose number is still the latest is the current one (or one a boot in
            // progress is replacing, which this call then precedes).
            let fresh = c
                .as_ref()
                .is_some_and(|(b, _)| b.id == BOOTS.load(Ordering::Acquire));
            if !fresh {
                let Ok(b) = current() else {
                    return fail;
                };
                let t = b.kernel.thread();
                *c = Some((b, t));
            }
            match c.as_mut() {
                Some((b, t)) => f(b, t),
                None => fail,
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_a_guarded_call_becomes_its_failure_result() {
        assert_eq!(guarded(7u32, || panic!("boom")), 7);
        assert_eq!(guarded(7u32, || 3), 3);
        let s = String::from("formatted");
        assert_eq!(panic_text(&s), "formatted");
        assert_eq!(panic_text(&"text"), "text");
        assert_eq!(panic_text(&42u8), "unknown panic");
    }

    /// A panic in the middle of a CE call leaves the calling thread's CE thread usable, with
    /// its context: the next call on the same host thread borrows it again.
    #[test]
    fn a_panic_inside_a_ce_call_leaves_the_ce_thread_usable() {
        let pid = on_thread(0, |b, _| {
            b.kernel.create_process("panic.exe").map_or(0, |p| p.0)
        });
        assert_ne!(pid, 0);
        let entered = on_thread(false, |_, t| {
            t.enter(cevm::Pid(pid), cevm::Mode::User, None).is_ok()
        });
        assert!(entered);
        let r = on_thread(1u32, |_, t| {
            t.set_last_error(5);
            panic!("inside a call")
        });
        assert_eq!(r, 1, "the panic is the call's failure result");
        let (now, err) = on_thread((0, 0), |_, t| (t.current_process_id().0, t.last_error()));
        assert_eq!(now, pid, "the CE thread kept its context");
        assert_eq!(err, 5);
    }
}
