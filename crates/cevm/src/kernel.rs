//! The kernel: physical memory, the layout, the process table and NK.EXE. Cheap to clone
//! (one shared instance) and `Send + Sync`, so several host threads can act at once.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::consts::{BLOCK_SIZE, PAGE_SIZE};
use crate::error::{Error, Result};
use crate::flags::{Access, ProcessAccess, ValidProtection};
use crate::frame_refs::FrameRefs;
use crate::grace::Readers;
use crate::layout::{DLL_BASE, KDATA_PAGE, Layout, MAX_RAM_BYTES, USER_BASE};
use crate::phys::PhysicalMemory;
use crate::process::{HandleEntry, Pid, Process, ProcessTable, Spaces, lock_ending};
use crate::space::AddressSpace;
use crate::windows::{Hook, Side, Windows};

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
    /// Whether the driver auditor watches the calls (audit.md). Default off.
    pub audit: bool,
    /// What an alias that would expose bytes into a process other than NK.EXE does
    /// (audit.md "Policies"). Default `Compatible`; any other policy enables the auditor.
    pub exposure_policy: crate::audit::ExposurePolicy,
    /// Show every process's address space as host memory (`Kernel::window`; Linux only).
    /// Default off, unless the environment variable `CEVM_HOST_WINDOWS` is `1` (how the
    /// whole test suite is run with windows on). With windows on, a request for several
    /// frames takes the lowest run of consecutive free frames when one is found among
    /// the lowest 256 free runs (one host mapping), instead of the lowest free frames.
    pub host_windows: bool,
    /// The most host mappings the windows may make (`None`: derived from the host's
    /// `vm.max_map_count`); tests set a small one.
    pub window_map_budget: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ram_bytes: 64 << 20,
            ram_base: 0,
            aslr_seed: None,
            resident_free_frames: 1024,
            audit: false,
            exposure_policy: crate::audit::ExposurePolicy::Compatible,
            host_windows: std::env::var_os("CEVM_HOST_WINDOWS").is_some_and(|v| v == "1"),
            window_map_budget: None,
        }
    }
}

pub(crate) struct Inner {
    layout: Layout,
    phys: PhysicalMemory,
    processes: RwLock<ProcessTable>,
    nk: Arc<Process>,
    /// The translation generation: bumped whenever a mapping loses access anywhere, so
    /// every thread's translation cache knows to drop its entries.
    generation: Arc<AtomicU64>,
    /// Every thread's access slot: what a grace period waits for (`grace.rs`).
    readers: Arc<Readers>,
    aslr: std::sync::Mutex<Option<u64>>,
    /// The driver auditor, when enabled.
    audit: Option<crate::audit::Auditor>,
    /// The host windows, when `Config::host_windows` is on.
    windows: Option<Arc<Windows>>,
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
            return Err(Error::invalid(
                "host",
                format!(
                    "RAM size 0x{:X} must be a non-zero multiple of 4 KiB of at most 1 GiB",
                    config.ram_bytes
                ),
            ));
        }
        if config.ram_base % u64::from(PAGE_SIZE) != 0
            || config.ram_base + config.ram_bytes > 1 << 40
        {
            return Err(Error::invalid(
                "host",
                format!(
                    "RAM base 0x{:X} must be page aligned and RAM must end below 2^40",
                    config.ram_base
                ),
            ));
        }
        if config.host_windows && !cfg!(target_os = "linux") {
            return Err(Error::invalid(
                "host",
                "host windows need Linux (memfd and MAP_FIXED shared mappings)",
            ));
        }
        let layout = Layout::new(config.ram_bytes);
        let readers = Readers::new();
        let phys = PhysicalMemory::new(
            config.ram_base,
            config.ram_bytes,
            config.resident_free_frames,
            readers.clone(),
            config.host_windows,
        )
        .map_err(|e| Error::no_memory("host", format!("cannot map host memory for RAM: {e}")))?;
        let mut table = ProcessTable::new();
        let pid = Pid(table.next_value().unwrap_or(1));
        let generation = Arc::new(AtomicU64::new(0));
        let mut space = AddressSpace::new(
            true,
            layout.kernel_vm_start,
            layout.kernel_vm_start,
            generation.clone(),
        );
        let windows = if config.host_windows {
            let w = Windows::new(&phys, config.window_map_budget).map_err(|e| {
                Error::no_memory("host", format!("cannot set up host windows: {e}"))
            })?;
            let range = w.open(pid)?;
            space
                .table
                .attach_windows(Hook::new(w.clone(), Side::new(range.clone(), pid.0), true));
            space
                .table
                .with_windows(|h, leaf| h.add_window(Side::new(range, pid.0), leaf));
            Some(w)
        } else {
            None
        };
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
            processes: RwLock::new(table),
            nk,
            generation,
            readers,
            aslr: std::sync::Mutex::new(config.aslr_seed),
            audit: (config.audit
                || config.exposure_policy != crate::audit::ExposurePolicy::Compatible)
                .then(|| crate::audit::Auditor::new(config.exposure_policy)),
            windows,
        })))
    }

    /// The layout of this kernel (depends on the RAM size).
    pub fn layout(&self) -> Layout {
        self.0.layout
    }

    /// Physical memory (crate-internal: frames are handed out and referenced only by the
    /// calls; `Kernel::frames` is the read-only view).
    pub(crate) fn memory(&self) -> &PhysicalMemory {
        &self.0.phys
    }

    /// NK.EXE.
    pub(crate) fn nk(&self) -> &Arc<Process> {
        &self.0.nk
    }

    /// The translation generation every thread's cache is keyed on.
    pub(crate) fn generation(&self) -> &Arc<AtomicU64> {
        &self.0.generation
    }

    /// Every thread's access slot.
    pub(crate) fn readers(&self) -> &Arc<Readers> {
        &self.0.readers
    }

    /// The auditor, when the kernel was booted with one.
    pub(crate) fn auditor(&self) -> Option<&crate::audit::Auditor> {
        self.0.audit.as_ref()
    }

    /// The host windows, when on.
    pub(crate) fn windows(&self) -> Option<&Arc<Windows>> {
        self.0.windows.as_ref()
    }

    /// The live process `pid` without waiting for the process table: `None` when the
    /// table is locked (the window fault path).
    pub(crate) fn try_process(&self, pid: Pid) -> Option<Option<Arc<Process>>> {
        let t = match self.0.processes.try_read() {
            Ok(t) => t,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(t.processes.get(&pid).cloned())
    }

    /// Every live process without waiting for the process table (the window fault path).
    pub(crate) fn try_processes(&self) -> Option<Vec<Arc<Process>>> {
        let t = match self.0.processes.try_read() {
            Ok(t) => t,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(t.processes.values().cloned().collect())
    }

    /// The id of NK.EXE.
    pub fn kernel_pid(&self) -> Pid {
        self.0.nk.pid()
    }

    /// Registers `bytes` of device memory at physical address `pa` (page aligned, not
    /// overlapping RAM or another device).
    pub fn add_device(&self, name: &str, pa: u64, bytes: u64) -> Result<()> {
        self.0
            .phys
            .add_device(name, pa, bytes)
            .map_err(|e| Error::invalid("host", e))?;
        if let Some(w) = self.windows() {
            w.add_device(&self.0.phys, crate::phys::Pfn(pa >> 12));
        }
        Ok(())
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
        let mut table = write(&self.0.processes);
        let frames = self.0.phys.alloc(1).ok_or_else(|| {
            Error::no_memory(
                "host",
                "no free RAM frame for the new process's kernel-data page",
            )
        })?;
        let ro = ValidProtection {
            access: Access::ReadOnly,
            guard: false,
            nocache: false,
        };
        space.commit_frames(KDATA_PAGE, frames, ro, false);
        let Some(v) = table.next_value() else {
            self.0.phys.release(space.unreserve(0));
            return Err(Error::no_memory("host", "the handle table is full"));
        };
        let pid = Pid(v);
        if let Some(w) = self.windows() {
            let range = match w.open(pid) {
                Ok(r) => r,
                Err(e) => {
                    self.0.phys.release(space.unreserve(0));
                    return Err(e);
                }
            };
            space.table.attach_windows(Hook::new(
                w.clone(),
                Side::new(range.clone(), pid.0),
                false,
            ));
            // The kernel half, from NK.EXE's tables, under its lock (no change is missed).
            let nk = &self.0.nk;
            if let Ok(mut spaces) = Spaces::lock(nk, &[nk], false) {
                spaces
                    .get(nk.pid())
                    .table
                    .with_windows(|h, leaf| h.add_window(Side::new(range, pid.0), leaf));
            }
        }
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
        read(&self.0.processes).processes.get(&pid).cloned()
    }

    /// Every live process, in id order.
    pub fn processes(&self) -> Vec<Arc<Process>> {
        read(&self.0.processes)
            .processes
            .values()
            .cloned()
            .collect()
    }

    /// The process and handle table, for reading.
    pub(crate) fn process_table(&self) -> RwLockReadGuard<'_, ProcessTable> {
        read(&self.0.processes)
    }

    /// The process and handle table, for changing.
    pub(crate) fn process_table_mut(&self) -> RwLockWriteGuard<'_, ProcessTable> {
        write(&self.0.processes)
    }

    /// Ends process `pid`: its handles close, its address space is released (aliases of
    /// its frames elsewhere survive) and its locks on kernel pages die with it.
    pub(crate) fn end_process(&self, proc: &Arc<Process>) {
        // The table stays locked until the frames are back in the pool, so the invariant
        // checker never sees the process gone but its frames still counted.
        let mut table = self.process_table_mut();
        table.processes.remove(&proc.pid());
        table.handles.retain(|_, h| h.pid != proc.pid());
        let mut frames = FrameRefs::new();
        {
            // Dead under its own space lock: a call that locks the space afterwards sees it
            // ended (the liveness rule of `Spaces`), one that locked it before has finished.
            let mut space = lock_ending(proc);
            proc.mark_dead();
            let bases: Vec<u32> = space.records.keys().copied().collect();
            space.locks.clear();
            space.duplicates.clear();
            for b in bases {
                frames.append(space.unreserve(b));
            }
            space.table.clear();
        }
        // Its locks on kernel pages die with it.
        let nk = &self.0.nk;
        if let Ok(mut spaces) = Spaces::lock(nk, &[nk], false) {
            let nk_space = spaces.get(nk.pid());
            nk_space.locks.retain(|l| l.owner != proc.pid().0);
            if let Some(h) = nk_space.table.windows_mut() {
                h.remove_window(proc.pid().0);
            }
        }
        // Its window goes whole before any of its frames can be handed out again.
        if let Some(w) = self.windows() {
            w.close(proc.pid());
        }
        self.0.phys.release(frames);
        drop(table);
    }
}
