//! Processes and the one table that hands out process ids and handle values. A process's
//! address space is reached only through [`Spaces`] (`spaces.rs`), the one door that locks
//! spaces in order and checks liveness by one rule.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::flags::ProcessAccess;
use crate::space::AddressSpace;

mod spaces;

pub(crate) use spaces::{Spaces, lock_all, lock_ending};

/// A process id. Every id is also a full-access handle to its process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(pub u32);

/// A process handle value as CE passes it (a DWORD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Handle(pub u32);

impl Handle {
    /// `GetCurrentProcess()`: the pseudo handle of the active process.
    pub const CURRENT_PROCESS: Handle = Handle(crate::consts::CURRENT_PROCESS_HANDLE);
    /// The NULL handle.
    pub const NULL: Handle = Handle(0);
}

impl From<Pid> for Handle {
    fn from(p: Pid) -> Self {
        Handle(p.0)
    }
}

/// A process: its id, name and address space.
#[derive(Debug)]
pub struct Process {
    pid: Pid,
    name: String,
    kernel: bool,
    alive: AtomicBool,
    space: Mutex<AddressSpace>,
}

impl Process {
    pub(crate) fn new(pid: Pid, name: &str, kernel: bool, space: AddressSpace) -> Self {
        Self {
            pid,
            name: name.to_string(),
            kernel,
            alive: AtomicBool::new(true),
            space: Mutex::new(space),
        }
    }

    /// The process id.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The name it was created with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is NK.EXE, the kernel process.
    pub fn is_kernel(&self) -> bool {
        self.kernel
    }

    /// Whether it has not been terminated.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    pub(crate) fn mark_dead(&self) {
        self.alive.store(false, Ordering::Release);
    }

    /// Locks its address space (one lock per space; poisoning is ignored because every
    /// call validates before it mutates). Only `Spaces` calls it.
    fn space(&self) -> MutexGuard<'_, AddressSpace> {
        self.space.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks its address space only if no one holds it: the window fault path, which must
    /// never wait for a lock (`windows/fault.rs`).
    pub(crate) fn try_space(&self) -> Option<MutexGuard<'_, AddressSpace>> {
        match self.space.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

/// What a handle value refers to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HandleEntry {
    pub pid: Pid,
    pub access: ProcessAccess,
    /// A process id used as a handle: not closable.
    pub is_pid: bool,
}

/// Processes and handles, sharing one value space.
#[derive(Debug)]
pub(crate) struct ProcessTable {
    pub processes: BTreeMap<Pid, Arc<Process>>,
    pub handles: HashMap<u32, HandleEntry>,
    next: u32,
}

/// First handle value handed out; values step by 4 like CE's handle table.
const FIRST_HANDLE: u32 = 0x0040_0002;

impl ProcessTable {
    pub fn new() -> Self {
        Self {
            processes: BTreeMap::new(),
            handles: HashMap::new(),
            next: FIRST_HANDLE,
        }
    }

    /// The next free handle value, or `None` when the 32-bit space is exhausted.
    pub fn next_value(&mut self) -> Option<u32> {
        let v = self.next;
        self.next = self.next.checked_add(4)?;
        Some(v)
    }
}
