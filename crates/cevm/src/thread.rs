//! A calling thread: the context every call is made in (active process, mode, direct
//! caller) and its last error.

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

/// A thread of the emulated system. Every call is a method on it, made in its context;
/// a failing call sets its last error (a successful one leaves it unchanged).
#[derive(Debug)]
pub struct Thread {
    pub(crate) kernel: Kernel,
    pub(crate) active: Arc<Process>,
    pub(crate) mode: Mode,
    caller: Option<Pid>,
    last_error: u32,
    pub(crate) tlb: Tlb,
    /// Odd while a cached access is in flight: what a grace period waits for.
    pub(crate) slot: Arc<AccessSlot>,
    /// The kernel's translation generation, one load away (the access fast path reads it).
    pub(crate) generation: Arc<AtomicU64>,
}

impl Drop for Thread {
    fn drop(&mut self) {
        self.kernel.readers().unregister(&self.slot);
    }
}

impl Thread {
    fn new(kernel: Kernel, active: Arc<Process>) -> Self {
        let slot = kernel.readers().register();
        Self {
            slot,
            generation: kernel.generation().clone(),
            kernel,
            active,
            mode: Mode::Kernel,
            caller: None,
            last_error: 0,
            tlb: Tlb::new(),
        }
    }

    /// The kernel this thread runs on.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// Switches the thread into process `pid` in `mode`; `caller` is the process
    /// GetDirectCallerProcessId reports (the kernel's when `None`).
    pub fn enter(&mut self, pid: Pid, mode: Mode, caller: Option<Pid>) -> Result<()> {
        let proc = self
            .kernel
            .process(pid)
            .ok_or_else(|| Error::bad_handle(format!("no live process has id 0x{:X}", pid.0)))?;
        self.active = proc;
        self.mode = mode;
        self.caller = caller;
        self.tlb.flush();
        Ok(())
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

    /// `GetCurrentProcessId`: the active process's id.
    pub fn current_process_id(&self) -> Pid {
        self.active.pid()
    }

    /// `GetCallerVMProcessId`: the active process's id.
    pub fn caller_vm_process_id(&self) -> Pid {
        self.active.pid()
    }

    /// `GetDirectCallerProcessId`: the process that called into the current kernel-mode
    /// code, as the host said with [`Thread::enter`]; the kernel's id when none.
    pub fn direct_caller_process_id(&self) -> Pid {
        self.caller.unwrap_or_else(|| self.kernel.kernel_pid())
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
                return Err(Error::bad_handle("the active process has been terminated"));
            }
            return Ok((self.active.clone(), ProcessAccess::ALL_ACCESS));
        }
        let table = self.kernel.process_table();
        let entry = table.handles.get(&h.0).ok_or_else(|| {
            Error::bad_handle(format!("0x{:X} is not an open process handle", h.0))
        })?;
        let proc = table.processes.get(&entry.pid).ok_or_else(|| {
            Error::bad_handle(format!("handle 0x{:X} names a terminated process", h.0))
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
            return Err(Error::denied(format!(
                "handle 0x{:X} lacks access 0x{:X} (it has 0x{:X})",
                h.0,
                need.bits(),
                access.bits()
            )));
        }
        Ok(proc)
    }

    /// The active process, as the non-Ex calls use it.
    pub(crate) fn active_checked(&self) -> Result<Arc<Process>> {
        self.resolve(Handle::CURRENT_PROCESS, ProcessAccess::empty(), None)
    }

    /// Fails with `code` when the thread is in user mode.
    pub(crate) fn require_kernel(&self, code: ErrorCode) -> Result<()> {
        if self.is_user() {
            return Err(Error::new(
                code,
                "this call is only available in kernel mode",
            ));
        }
        Ok(())
    }
}
