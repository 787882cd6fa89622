//! A calling thread: the context every call is made in (semantics.md §2 "Contexts": the
//! active process P, the VM process V, the mode, the direct caller C and the owner O), the
//! process-identity calls of §5.13, and its last error.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::error::{Error, ErrorCode, Result};
use crate::flags::ProcessAccess;
use crate::grace::AccessSlot;
use crate::kernel::Kernel;
use crate::process::{Handle, Pid, Process};
use crate::tlb::Tlb;

/// Whether a thread runs applications' code or drivers' and the kernel's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// User mode: applications.
    User,
    /// Kernel mode: drivers and the kernel.
    Kernel,
}

impl Kernel {
    /// A new thread running in NK.EXE in kernel mode.
    pub fn thread(&self) -> Thread {
        Thread::new(self.clone(), self.nk().clone())
    }
}

/// A thread's context (semantics.md §2 "Contexts"). `vm` defaults to `process`; `owner`
/// defaults to `caller` when one is named, else to `process`; no `caller` means the host
/// named none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// The active process P: whose code runs (GetCurrentProcessId, the pseudo handle
    /// 0x42, the non-Ex calls).
    pub process: Pid,
    /// User or kernel mode.
    pub mode: Mode,
    /// The VM process V: whose user address space is mapped (addresses below 0x70000000,
    /// LockPages/UnlockPages). `None`: the active process.
    pub vm: Option<Pid>,
    /// The direct caller C, when the host names one.
    pub caller: Option<Pid>,
    /// The owner O, the process that created the thread. `None`: the caller, else the
    /// active process.
    pub owner: Option<Pid>,
}

impl Context {
    /// A context in `process` and `mode` with every default: V = P, no caller, O = P.
    pub fn new(process: Pid, mode: Mode) -> Self {
        Self {
            process,
            mode,
            vm: None,
            caller: None,
            owner: None,
        }
    }

    /// The same context with `vm`, `owner` resolved to the processes they default to.
    fn resolved(self) -> Self {
        Self {
            vm: Some(self.vm.unwrap_or(self.process)),
            owner: Some(self.owner.or(self.caller).unwrap_or(self.process)),
            ..self
        }
    }
}

/// A thread of the emulated system. Every call is a method on it, made in its context;
/// a failing call sets its last error (a successful one leaves it unchanged).
#[derive(Debug)]
pub struct Thread {
    pub(crate) kernel: Kernel,
    pub(crate) active: Arc<Process>,
    /// The VM process V, whose tables serve addresses below the shared heap (§6).
    pub(crate) vm: Arc<Process>,
    pub(crate) mode: Mode,
    caller: Option<Pid>,
    owner: Pid,
    last_error: u32,
    pub(crate) tlb: Tlb,
    /// Odd while a cached access is in flight: what a grace period waits for.
    pub(crate) slot: Arc<AccessSlot>,
    /// The kernel's translation generation, one load away (the access fast path reads it).
    pub(crate) generation: Arc<AtomicU64>,
    /// The sequence number and location of the call in progress, as the front end gave
    /// them ([`Thread::set_call_site`]); the auditor's findings carry them.
    pub(crate) site_seq: u64,
    pub(crate) site_loc: Arc<str>,
}

impl Drop for Thread {
    fn drop(&mut self) {
        self.kernel.readers().unregister(&self.slot);
    }
}

impl Thread {
    fn new(kernel: Kernel, active: Arc<Process>) -> Self {
        let slot = kernel.readers().register();
        let owner = active.pid();
        Self {
            slot,
            generation: kernel.generation().clone(),
            kernel,
            vm: active.clone(),
            active,
            mode: Mode::Kernel,
            caller: None,
            owner,
            last_error: 0,
            tlb: Tlb::new(),
            site_seq: 0,
            site_loc: Arc::from(""),
        }
    }

    /// The kernel this thread runs on.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// Switches the thread into process `pid` in `mode` with `caller` as its direct
    /// caller: P = V = `pid`, C = `caller`, O = `caller` or else `pid` (the short form of
    /// [`enter_context`](Self::enter_context)).
    pub fn enter(&mut self, pid: Pid, mode: Mode, caller: Option<Pid>) -> Result<()> {
        self.enter_context(Context {
            caller,
            ..Context::new(pid, mode)
        })
    }

    /// Switches the thread into the full context `ctx`. Every process it names must be
    /// live, else `ERROR_INVALID_HANDLE` and nothing changes. The translation cache is
    /// flushed: the thread may now see other tables in another mode.
    pub fn enter_context(&mut self, ctx: Context) -> Result<()> {
        let ctx = ctx.resolved();
        let vm_pid = ctx.vm.unwrap_or(ctx.process);
        let owner = ctx.owner.unwrap_or(ctx.process);
        let (active, vm) = {
            let table = self.kernel.process_table();
            let live = |pid: Pid, role: &str| {
                table.processes.get(&pid).cloned().ok_or_else(|| {
                    Error::bad_handle(
                        "host",
                        format!("the {role} 0x{:X} is not a live process", pid.0),
                    )
                })
            };
            let active = live(ctx.process, "process")?;
            let vm = live(vm_pid, "VM process")?;
            if let Some(c) = ctx.caller {
                live(c, "caller")?;
            }
            live(owner, "owner")?;
            (active, vm)
        };
        self.active = active;
        self.vm = vm;
        self.mode = ctx.mode;
        self.caller = ctx.caller;
        self.owner = owner;
        self.tlb.flush();
        Ok(())
    }

    /// The thread's context, with `vm` and `owner` resolved (always `Some`).
    pub fn context(&self) -> Context {
        Context {
            process: self.active.pid(),
            mode: self.mode,
            vm: Some(self.vm.pid()),
            caller: self.caller,
            owner: Some(self.owner),
        }
    }

    /// The active process.
    pub fn active(&self) -> &Arc<Process> {
        &self.active
    }

    /// The mode the thread runs in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether the thread runs in user mode.
    pub fn is_user(&self) -> bool {
        self.mode == Mode::User
    }

    /// `GetLastError`.
    pub fn last_error(&self) -> u32 {
        self.last_error
    }

    /// `SetLastError`.
    pub fn set_last_error(&mut self, e: u32) {
        self.last_error = e;
    }

    /// The VM process V.
    pub fn vm(&self) -> &Arc<Process> {
        &self.vm
    }

    /// `GetCurrentProcessId`: P's id.
    pub fn current_process_id(&self) -> Pid {
        self.active.pid()
    }

    /// `GetCallerVMProcessId` (§5.13): V's id in kernel mode; in user mode C's id when the
    /// host named a caller, else O's.
    pub fn caller_vm_process_id(&self) -> Pid {
        match self.mode {
            Mode::Kernel => self.vm.pid(),
            Mode::User => self.caller.unwrap_or(self.owner),
        }
    }

    /// `GetDirectCallerProcessId` (§5.13): C's id when the host named a caller, else V's
    /// in kernel mode and O's in user mode.
    pub fn direct_caller_process_id(&self) -> Pid {
        match self.mode {
            Mode::Kernel => self.caller.unwrap_or(self.vm.pid()),
            Mode::User => self.caller.unwrap_or(self.owner),
        }
    }

    /// `GetOwnerProcess` (§5.13, typed HANDLE but an id): O's id.
    pub fn owner_process(&self) -> Pid {
        self.owner
    }

    /// `GetCallerProcess` (§5.13, typed HANDLE but an id): in kernel mode the same as
    /// GetDirectCallerProcessId; in user mode C's id when the host named a caller, else 0.
    pub fn caller_process(&self) -> u32 {
        match self.mode {
            Mode::Kernel => self.direct_caller_process_id().0,
            Mode::User => self.caller.map_or(0, |c| c.0),
        }
    }

    /// Records a failure as the last error and passes the result on.
    pub(crate) fn track<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            self.last_error = e.win32();
        }
        r
    }

    /// Resolves a process handle: unknown or closed → 6.
    pub(crate) fn lookup(&self, h: Handle) -> Result<(Arc<Process>, ProcessAccess)> {
        if h == Handle::CURRENT_PROCESS {
            if !self.active.is_alive() {
                return Err(Error::bad_handle(
                    "2",
                    "the active process has been terminated",
                ));
            }
            return Ok((self.active.clone(), ProcessAccess::ALL_ACCESS));
        }
        let table = self.kernel.process_table();
        let entry = table.handles.get(&h.0).ok_or_else(|| {
            Error::bad_handle("2", format!("0x{:X} is not an open process handle", h.0))
        })?;
        let proc = table.processes.get(&entry.pid).ok_or_else(|| {
            Error::bad_handle(
                "2",
                format!("handle 0x{:X} names a terminated process", h.0),
            )
        })?;
        Ok((proc.clone(), entry.access))
    }

    /// The handle checks of semantics.md §2 in their order: resolve (6), kernel-only in
    /// user mode (`kernel_only`, usually 50), then the access mask (5).
    pub(crate) fn resolve(
        &self,
        h: Handle,
        need: ProcessAccess,
        kernel_only: Option<ErrorCode>,
    ) -> Result<Arc<Process>> {
        let (proc, access) = self.lookup(h)?;
        if let Some(code) = kernel_only {
            self.require_kernel(code)?;
        }
        if !access.contains(need) {
            return Err(Error::denied(
                "2",
                format!(
                    "handle 0x{:X} lacks access 0x{:X} (it has 0x{:X})",
                    h.0,
                    need.bits(),
                    access.bits()
                ),
            ));
        }
        Ok(proc)
    }

    /// A call on the process `h` names: the handle checks of §2 (`need`, and `kernel_only`
    /// for a call user mode may not make), then `body`; a failure becomes the last error.
    /// The one shape of every call on a process handle.
    pub(crate) fn on_process<T>(
        &mut self,
        h: Handle,
        need: ProcessAccess,
        kernel_only: Option<ErrorCode>,
        body: impl FnOnce(&Self, &Arc<Process>) -> Result<T>,
    ) -> Result<T> {
        self.on_process_at("2", h, need, kernel_only, body)
    }

    /// [`on_process`](Self::on_process) for a call whose section numbers its handle checks
    /// as its own step `step` (VirtualCopy(Ex): "5.5.1").
    pub(crate) fn on_process_at<T>(
        &mut self,
        step: &'static str,
        h: Handle,
        need: ProcessAccess,
        kernel_only: Option<ErrorCode>,
        body: impl FnOnce(&Self, &Arc<Process>) -> Result<T>,
    ) -> Result<T> {
        let r = self
            .resolve(h, need, kernel_only)
            .map_err(|e| e.at(step))
            .and_then(|p| body(self, &p));
        self.track(r)
    }

    /// A call on the active process that needs no access right (VirtualAlloc,
    /// VirtualFree, VirtualProtect, VirtualQuery …): see [`on_process`](Self::on_process).
    pub(crate) fn on_active<T>(
        &mut self,
        body: impl FnOnce(&Self, &Arc<Process>) -> Result<T>,
    ) -> Result<T> {
        self.on_process(Handle::CURRENT_PROCESS, ProcessAccess::empty(), None, body)
    }

    /// A kernel-only call on the VM process V (LockPages, UnlockPages: §5.7).
    pub(crate) fn on_vm<T>(
        &mut self,
        body: impl FnOnce(&Self, &Arc<Process>) -> Result<T>,
    ) -> Result<T> {
        let r = self
            .vm_checked(ErrorCode::NotSupported)
            .and_then(|vm| body(self, &vm));
        self.track(r)
    }

    /// The active process, as the non-Ex calls use it.
    pub(crate) fn active_checked(&self) -> Result<Arc<Process>> {
        self.resolve(Handle::CURRENT_PROCESS, ProcessAccess::empty(), None)
    }

    /// The VM process, as LockPages/UnlockPages use it (§5.7), with the handle checks of
    /// §2 in their order: a terminated VM process (6), then the kernel-only rule (`code`).
    pub(crate) fn vm_checked(&self, code: ErrorCode) -> Result<Arc<Process>> {
        if !self.vm.is_alive() {
            return Err(Error::bad_handle("2", "the VM process has been terminated"));
        }
        self.require_kernel(code)?;
        Ok(self.vm.clone())
    }

    /// Fails with `code` when the thread is in user mode.
    pub(crate) fn require_kernel(&self, code: ErrorCode) -> Result<()> {
        if self.is_user() {
            return Err(Error::new(
                code,
                "2",
                "this call is only available in kernel mode",
            ));
        }
        Ok(())
    }
}
