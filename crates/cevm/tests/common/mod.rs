//! Shared set-up for the library's integration tests: the `World`, the short names for
//! allocation types and protections, the query helpers, the `MemoryInfo` builders and
//! the failure and access-violation assertions.
#![allow(dead_code)]

use cevm::consts::STATUS_ACCESS_VIOLATION;
use cevm::{
    AllocType, Config, ErrorCode, Exception, Handle, Kernel, LockFlags, MemoryInfo, Mode, Pid,
    ProcessAccess, Protection, Region, Thread,
};

pub const RESERVE: AllocType = AllocType::RESERVE;
pub const COMMIT: AllocType = AllocType::COMMIT;
/// `MEM_RESERVE | MEM_COMMIT`.
pub const RC: AllocType = AllocType::RESERVE.union(AllocType::COMMIT);
pub const RELEASE: AllocType = AllocType::RELEASE;
pub const DECOMMIT: AllocType = AllocType::DECOMMIT;
pub const RW: Protection = Protection::READWRITE;
pub const RO: Protection = Protection::READONLY;
pub const NA: Protection = Protection::NOACCESS;

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
        check_kernel(&self.kernel);
    }

    pub fn user(&mut self, pid: Pid) {
        self.t.enter(pid, Mode::User, None).expect("enter");
    }

    pub fn kmode(&mut self, pid: Pid) {
        self.t.enter(pid, Mode::Kernel, None).expect("enter");
    }

    /// app.exe in kernel mode when `kernel`, in user mode otherwise.
    pub fn enter_app(&mut self, kernel: bool) {
        if kernel {
            self.kmode(self.app);
        } else {
            self.user(self.app);
        }
    }

    /// NK.EXE in kernel mode.
    pub fn nk(&mut self) {
        let k = self.kernel.kernel_pid();
        self.kmode(k);
    }

    /// The driver context: udevice.exe in kernel mode, called by app.exe.
    pub fn driver(&mut self) {
        self.t
            .enter(self.drv, Mode::Kernel, Some(self.app))
            .unwrap();
    }

    pub fn free_frames(&self) -> usize {
        self.kernel.phys().free_frames()
    }

    /// Everything a failed call must leave alone: free frames and every region of every
    /// process (state, protection, guard, records, aliases).
    pub fn snapshot(&self) -> (usize, Vec<(Pid, Vec<Region>)>) {
        (self.free_frames(), self.kernel.all_regions())
    }

    /// VirtualQueryEx of `a` in `proc`.
    pub fn q_in(&mut self, proc: Pid, a: u32) -> MemoryInfo {
        let m = self.t.virtual_query_ex(h(proc), a, 28).expect("query");
        self.check();
        m
    }

    /// (state, protect, region size, allocation base) of VirtualQuery in the active
    /// process.
    pub fn q4(&mut self, a: u32) -> (AllocType, Protection, u32, u32) {
        let i = q(self, a);
        (i.state, i.protect, i.region_size, i.allocation_base)
    }

    /// The physical addresses of the pages of `a`..`a + n` in the active process
    /// (LockPages with QUERY_ONLY; kernel mode).
    pub fn pfns(&mut self, a: u32, n: u32) -> Vec<u64> {
        let v = self.t.lock_pages(a, n, LockFlags::QUERY_ONLY).unwrap();
        self.check();
        v
    }

    /// app.exe (user mode) commits `bytes` read/write at 0x10000.
    pub fn app_buffer(&mut self, bytes: u32) -> u32 {
        let b = self.commit_app_buffer(bytes);
        self.check();
        b
    }

    /// app.exe (user mode) commits `bytes` read/write at 0x10000 and fills them with
    /// `pattern(a)` at every address `a`.
    pub fn app_buffer_with(&mut self, bytes: u32, pattern: impl Fn(u32) -> u8) -> u32 {
        let b = self.commit_app_buffer(bytes);
        let data: Vec<u8> = (b..b + bytes).map(pattern).collect();
        self.t.write_bytes(b, &data).unwrap();
        self.check();
        b
    }

    fn commit_app_buffer(&mut self, bytes: u32) -> u32 {
        self.user(self.app);
        let b = self.t.virtual_alloc(0, bytes, COMMIT, RW).unwrap();
        assert_eq!(b, 0x10000);
        b
    }

    /// OpenProcess of `pid` with `access`, not inheritable.
    pub fn open(&mut self, access: ProcessAccess, pid: Pid) -> Handle {
        self.t.open_process(access, false, pid).unwrap()
    }

    /// A handle to `pid` opened with full access and closed again.
    pub fn closed_handle(&mut self, pid: Pid) -> Handle {
        let closed = self.open(ProcessAccess::ALL_ACCESS, pid);
        self.t.close_handle(closed).unwrap();
        closed
    }

    /// Opens a full-access handle to `pid`, then terminates `pid` through its id: the
    /// handle returned names a dead process.
    pub fn terminate_with_handle(&mut self, pid: Pid) -> Handle {
        let opened = self.open(ProcessAccess::ALL_ACCESS, pid);
        self.t.terminate_process(h(pid), 0).unwrap();
        self.check();
        opened
    }
}

/// A world with 1 MiB of RAM, to run out of frames.
pub fn small_world() -> World {
    World::with_config(Config {
        ram_bytes: 1 << 20,
        ..Config::default()
    })
}

/// Runs the invariant checker on `kernel`.
pub fn check_kernel(kernel: &Kernel) {
    if let Err(e) = kernel.check_invariants() {
        panic!("invariant violated: {e}");
    }
}

/// A process id used as a handle.
pub fn h(p: Pid) -> Handle {
    p.into()
}

/// A protection from its raw bits.
pub fn p(bits: u32) -> Protection {
    Protection::from_bits_retain(bits)
}

/// VirtualQuery of `a` in the active process.
pub fn q(w: &mut World, a: u32) -> MemoryInfo {
    let m = w.t.virtual_query(a, 28).expect("query");
    w.check();
    m
}

/// A MEM_PRIVATE `MemoryInfo` (AllocationProtect always reads PAGE_NOACCESS); build other
/// kinds with `MemoryInfo { kind, ..info(..) }`.
pub fn info(
    base: u32,
    alloc_base: u32,
    size: u32,
    state: AllocType,
    protect: Protection,
) -> MemoryInfo {
    MemoryInfo {
        base_address: base,
        allocation_base: alloc_base,
        allocation_protect: Protection::NOACCESS,
        region_size: size,
        state,
        protect,
        kind: AllocType::PRIVATE,
    }
}

pub fn free_info(base: u32, size: u32) -> MemoryInfo {
    info(base, 0, size, AllocType::FREE, NA)
}

pub fn reserved(base: u32, alloc_base: u32, size: u32) -> MemoryInfo {
    info(base, alloc_base, size, RESERVE, NA)
}

pub fn committed(base: u32, alloc_base: u32, size: u32, prot: Protection) -> MemoryInfo {
    info(base, alloc_base, size, COMMIT, prot)
}

/// The physical address of the page holding `a` in the active process (kernel mode).
pub fn phys_of(w: &mut World, a: u32) -> u64 {
    w.pfns(a, 1)[0]
}

/// Asserts that `r` failed with `code`, that the thread's last error is that code, and
/// that the invariants hold.
#[track_caller]
pub fn assert_fails<T: std::fmt::Debug>(
    r: cevm::Result<T>,
    expected: impl Into<Expected>,
    w: &World,
) {
    let Expected { code, step } = expected.into();
    match r {
        Ok(v) => panic!("expected {code:?}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.code, code, "{e}");
            if let Some(step) = step {
                assert_eq!(e.step, step, "the failure came from another check: {e}");
            }
            assert!(!e.message.is_empty());
        }
    }
    assert_eq!(w.t.last_error(), code.code(), "last error");
    w.check();
}

/// What a failing call must report: its code and, when given, the semantics.md check that
/// produced it (`(ErrorCode::InvalidParameter, "5.3.2")`).
pub struct Expected {
    pub code: ErrorCode,
    pub step: Option<&'static str>,
}

impl From<ErrorCode> for Expected {
    fn from(code: ErrorCode) -> Self {
        Self { code, step: None }
    }
}

impl From<(ErrorCode, &'static str)> for Expected {
    fn from((code, step): (ErrorCode, &'static str)) -> Self {
        Self {
            code,
            step: Some(step),
        }
    }
}

/// Asserts that `r` is an access violation at `address` (a write when `write`), and that
/// the invariants hold.
#[track_caller]
pub fn assert_av<T: std::fmt::Debug>(
    r: Result<T, Exception>,
    address: u32,
    write: bool,
    w: &World,
) {
    let e = r.expect_err("expected an access violation");
    assert_eq!(
        e,
        Exception {
            code: STATUS_ACCESS_VIOLATION,
            address,
            write
        }
    );
    w.check();
}
