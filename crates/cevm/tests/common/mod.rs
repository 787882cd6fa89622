//! Shared set-up for the library's integration tests.
#![allow(dead_code)]

use cevm::{Config, ErrorCode, Kernel, Mode, Pid, Thread};

/// A fresh kernel (64 MiB, deterministic placement), one thread in NK.EXE kernel mode,
/// and two user processes: `app.exe` and `udevice.exe`.
pub struct World {
    pub kernel: Kernel,
    pub t: Thread,
    pub app: Pid,
    pub drv: Pid,
}

impl World {
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Self {
        let kernel = Kernel::boot(config).expect("boot");
        let app = kernel.create_process("app.exe").expect("app");
        let drv = kernel.create_process("udevice.exe").expect("drv");
        let t = kernel.thread();
        let w = Self {
            kernel,
            t,
            app,
            drv,
        };
        w.check();
        w
    }

    /// Runs the invariant checker; every test calls it after every step.
    pub fn check(&self) {
        if let Err(e) = self.kernel.check_invariants() {
            panic!("invariant violated: {e}");
        }
    }

    pub fn user(&mut self, pid: Pid) {
        self.t.enter(pid, Mode::User, None).expect("enter");
    }

    pub fn kmode(&mut self, pid: Pid) {
        self.t.enter(pid, Mode::Kernel, None).expect("enter");
    }

    pub fn free_frames(&self) -> usize {
        self.kernel.phys().free_frames()
    }
}

/// Asserts that `r` failed with `code`, that the thread's last error is that code, and
/// that the invariants hold.
#[track_caller]
pub fn assert_fails<T: std::fmt::Debug>(r: cevm::Result<T>, code: ErrorCode, w: &World) {
    match r {
        Ok(v) => panic!("expected {code:?}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.code, code, "{e}");
            assert!(!e.message.is_empty());
        }
    }
    assert_eq!(w.t.last_error(), code.code(), "last error");
    w.check();
}
