//! The kernel: physical memory, the layout, the process table and NK.EXE. Cheap to clone
//! (one shared instance) and `Send + Sync`, so several host threads can act at once.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::consts::{BLOCK_SIZE, PAGE_SIZE};
use crate::error::{Error, Result};
use crate::flags::{Access, ProcessAccess, ValidProtection};
use crate::layout::{DLL_BASE, KDATA_PAGE, Layout, MAX_RAM_BYTES, SHARED_HEAP_BASE, USER_BASE};
use crate::phys::PhysicalMemory;
use crate::process::{HandleEntry, Pid, Process, ProcessTable};
use crate::pte::Pte;
use crate::space::AddressSpace;
use crate::thread::Thread;

/// How to build a kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// RAM size in bytes (a page multiple, at most 1 GiB). Default 64 MiB.
    pub ram_bytes: u64,
    /// Physical address of the first RAM byte (page aligned). Default 0.
    pub ram_base: u64,
    /// Seed for the optional placement randomisation (ASLR); `None` (default) places
    /// deterministically.
    pub aslr_seed: Option<u64>,
    /// Freed frames kept resident for reuse before they are given back to the host in
    /// one batch (0 gives every freed frame back at once).
    pub resident_free_frames: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ram_bytes: 64 << 20,
            ram_base: 0,
            aslr_seed: None,
            resident_free_frames: 1024,
        }
    }
}

/// Whether a thread runs applications' code or drivers' and the kernel's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// User mode: applications.
    User,
    /// Kernel mode: drivers and the kernel.
    Kernel,
}

pub(crate) struct Inner {
    pub layout: Layout,
    pub phys: PhysicalMemory,
    pub table: RwLock<ProcessTable>,
    pub nk: Arc<Process>,
    /// The translation generation: bumped whenever a mapping loses access anywhere, so
    /// every thread's translation cache knows to drop its entries.
    pub generation: Arc<AtomicU64>,
    aslr: std::sync::Mutex<Option<u64>>,
}

/// The kernel memory model. Clones share one kernel.
#[derive(Clone)]
pub struct Kernel(pub(crate) Arc<Inner>);

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("layout", &self.0.layout)
            .field("ram_frames", &self.0.phys.total_frames())
            .finish()
    }
}

/// Up to three address spaces locked together, in process-id order.
pub(crate) struct Spaces<'a> {
    // A fixed array: locking is on every call's path and must not allocate.
    locked: [Option<(Pid, MutexGuard<'a, AddressSpace>)>; 3],
}

impl<'a> Spaces<'a> {
    /// Locks the spaces of up to three processes (duplicates collapse) in ascending pid
    /// order, the one global order every call uses, so two calls cannot deadlock.
    pub fn lock(procs: &[&'a Process]) -> Self {
        let mut order: [Option<&'a Process>; 3] = [None; 3];
        for (slot, p) in order.iter_mut().zip(procs) {
            *slot = Some(p);
        }
        order.sort_by_key(|p| p.map_or(Pid(u32::MAX), |p| p.pid()));
        let mut locked = [None, None, None];
        let mut last = None;
        for (slot, p) in locked.iter_mut().zip(order.into_iter().flatten()) {
            if last != Some(p.pid()) {
                last = Some(p.pid());
                *slot = Some((p.pid(), p.space()));
            }
        }
        Self { locked }
    }

    /// The locked space of process `pid`, which every caller has locked (the process it
    /// names and the kernel cover every table an address can reach).
    pub fn get(&mut self, pid: Pid) -> &mut AddressSpace {
        match self.locked.iter_mut().flatten().find(|(p, _)| *p == pid) {
            Some((_, g)) => g,
            None => unreachable!("space of {pid:?} was not locked"),
        }
    }
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

impl Kernel {
    /// Boots a kernel: RAM, the layout and NK.EXE.
    pub fn boot(config: Config) -> Result<Kernel> {
        if config.ram_bytes == 0
            || config.ram_bytes % u64::from(PAGE_SIZE) != 0
            || config.ram_bytes > MAX_RAM_BYTES
        {
            return Err(Error::invalid(format!(
                "RAM size 0x{:X} must be a non-zero multiple of 4 KiB of at most 1 GiB",
                config.ram_bytes
            )));
        }
        if config.ram_base % u64::from(PAGE_SIZE) != 0
            || config.ram_base + config.ram_bytes > 1 << 40
        {
            return Err(Error::invalid(format!(
                "RAM base 0x{:X} must be page aligned and RAM must end below 2^40",
                config.ram_base
            )));
        }
        let layout = Layout::new(config.ram_bytes);
        let phys = PhysicalMemory::new(
            config.ram_base,
            config.ram_bytes,
            config.resident_free_frames,
        )
        .map_err(|e| Error::no_memory(format!("cannot map host memory for RAM: {e}")))?;
        let mut table = ProcessTable::new();
        let pid = Pid(table.next_value().unwrap_or(1));
        let generation = Arc::new(AtomicU64::new(0));
        let space = AddressSpace::new(
            true,
            layout.kernel_vm_start,
            layout.kernel_vm_start,
            generation.clone(),
        );
        let nk = Arc::new(Process::new(pid, "NK.EXE", true, space));
        table.processes.insert(pid, nk.clone());
        table.handles.insert(
            pid.0,
            HandleEntry {
                pid,
                access: ProcessAccess::ALL_ACCESS,
                is_pid: true,
            },
        );
        Ok(Kernel(Arc::new(Inner {
            layout,
            phys,
            table: RwLock::new(table),
            nk,
            generation,
            aslr: std::sync::Mutex::new(config.aslr_seed),
        })))
    }

    /// The layout of this kernel (depends on the RAM size).
    pub fn layout(&self) -> Layout {
        self.0.layout
    }

    /// Physical memory: RAM frames, devices and counts.
    pub fn phys(&self) -> &PhysicalMemory {
        &self.0.phys
    }

    /// The id of NK.EXE.
    pub fn kernel_pid(&self) -> Pid {
        self.0.nk.pid()
    }

    /// A new thread running in NK.EXE in kernel mode.
    pub fn thread(&self) -> Thread {
        Thread::new(self.clone(), self.0.nk.clone())
    }

    /// Registers `bytes` of device memory at physical address `pa` (page aligned, not
    /// overlapping RAM or another device).
    pub fn add_device(&self, name: &str, pa: u64, bytes: u64) -> Result<()> {
        self.0
            .phys
            .add_device(name, pa, bytes)
            .map_err(Error::invalid)
    }

    /// Creates an empty process: its first block reserved no-access with the kernel-data
    /// page committed read-only, and the DLL barrier block reserved.
    pub fn create_process(&self, name: &str) -> Result<Pid> {
        let cursor = self.next_cursor();
        let mut space = AddressSpace::new(false, USER_BASE, cursor, self.0.generation.clone());
        space.reserve_fixed(0, BLOCK_SIZE);
        space.reserve_fixed(DLL_BASE, BLOCK_SIZE);
        // The table stays locked from the frame's allocation until the process holding it
        // is listed, so the invariant checker never sees the frame without its entry.
        let mut table = write(&self.0.table);
        let mut frames = Vec::with_capacity(1);
        if !self.0.phys.alloc(1, &mut frames) {
            return Err(Error::no_memory(
                "no free RAM frame for the new process's kernel-data page",
            ));
        }
        let ro = ValidProtection {
            access: Access::ReadOnly,
            guard: false,
            nocache: false,
        };
        space
            .table
            .set(KDATA_PAGE, Pte::committed(frames[0], ro, false));
        let Some(v) = table.next_value() else {
            drop(table);
            self.0.phys.release(frames);
            return Err(Error::no_memory("the handle table is full"));
        };
        let pid = Pid(v);
        table
            .processes
            .insert(pid, Arc::new(Process::new(pid, name, false, space)));
        table.handles.insert(
            v,
            HandleEntry {
                pid,
                access: ProcessAccess::ALL_ACCESS,
                is_pid: true,
            },
        );
        Ok(pid)
    }

    fn next_cursor(&self) -> u32 {
        let mut seed = self.0.aslr.lock().unwrap_or_else(|e| e.into_inner());
        match seed.as_mut() {
            None => USER_BASE,
            Some(s) => {
                // xorshift64*: a small deterministic generator is all seeded ASLR needs.
                *s ^= *s >> 12;
                *s ^= *s << 25;
                *s ^= *s >> 27;
                let r = s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
                USER_BASE + (r as u32 & 0x03FF_0000)
            }
        }
    }

    /// The live process with id `pid`.
    pub fn process(&self, pid: Pid) -> Option<Arc<Process>> {
        read(&self.0.table).processes.get(&pid).cloned()
    }

    /// Every live process, in id order.
    pub fn processes(&self) -> Vec<Arc<Process>> {
        read(&self.0.table).processes.values().cloned().collect()
    }

    /// The process whose tables hold `va` when `proc` is named: the kernel's for addresses
    /// at or above the shared heap.
    pub(crate) fn table_owner<'a>(&'a self, proc: &'a Arc<Process>, va: u32) -> &'a Arc<Process> {
        if va >= SHARED_HEAP_BASE {
            &self.0.nk
        } else {
            proc
        }
    }

    pub(crate) fn table(&self) -> RwLockReadGuard<'_, ProcessTable> {
        read(&self.0.table)
    }

    pub(crate) fn table_mut(&self) -> RwLockWriteGuard<'_, ProcessTable> {
        write(&self.0.table)
    }

    /// Ends process `pid`: its handles close, its address space is released (aliases of
    /// its frames elsewhere survive) and its locks on kernel pages die with it.
    pub(crate) fn end_process(&self, proc: &Arc<Process>) {
        // The table stays locked until the frames are back in the pool, so the invariant
        // checker never sees the process gone but its frames still counted.
        let mut table = self.table_mut();
        table.processes.remove(&proc.pid());
        table.handles.retain(|_, h| h.pid != proc.pid());
        proc.mark_dead();
        let mut frames = Vec::new();
        {
            let mut space = proc.space();
            let bases: Vec<u32> = space.records.keys().copied().collect();
            space.locks.clear();
            space.duplicates.clear();
            for b in bases {
                space.unreserve(b, &mut frames);
            }
            space.table.clear();
        }
        self.0.nk.space().locks.retain(|l| l.owner != proc.pid().0);
        self.0.phys.release(frames);
        drop(table);
    }
}
