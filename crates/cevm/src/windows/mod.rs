//! Host windows (`Config::host_windows`): every process's address space as real host
//! memory, the kernel-mode view of §6, kept exactly in step with the page tables.
//!
//! One idea per file: `reserve` (a window's 4 GiB host range), `sync` (re-deriving the host
//! mappings of a changed range from the entries, driven from the page-table layer),
//! `budget` (the host-mapping budget), `fault` (the fault path). This file is the
//! registry: the memfds frames are mapped from and which window is whose.

// Off Linux, `Kernel::boot` refuses windows: the code is compiled (so it keeps building
// everywhere) but never reached.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

mod budget;
mod fault;
mod reserve;
mod sync;

use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

pub use fault::WindowFault;
pub(crate) use reserve::WindowRange;
pub(crate) use sync::{Hook, Leaves, Shape, Side};

use crate::error::{Error, Result};
use crate::kernel::Kernel;
use crate::layout::KERNEL_BASE;
use crate::phys::{Pfn, PhysicalMemory};
use crate::process::Pid;
use budget::Budget;
use reserve::WINDOW_BYTES;

/// What the windows use of the host's mapping budget (`Kernel::window_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowStats {
    /// Host mappings cevm has made in windows now (runs and one static mapping per window).
    pub mappings: usize,
    /// The most it will make.
    pub budget: usize,
    /// Accessible pages left unmapped by the budget, served by the fault path.
    pub pages_to_fault_path: u64,
    /// Pages of changed ranges the sync has re-derived from their entries so far (a
    /// writer that says what it wrote, as a large alias or commit does, costs none).
    pub pages_rederived: u64,
}

pub(crate) struct DeviceFd {
    first: u64,
    pages: u64,
    fd: OwnedFd,
}

/// The device memfds, read-locked for one sync.
pub(crate) type Devices<'a> = RwLockReadGuard<'a, Vec<DeviceFd>>;

impl std::fmt::Debug for DeviceFd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "device frames 0x{:X}+{}", self.first, self.pages)
    }
}

/// Host addresses covered by the window lookup table: 2^48 (the x86-64 and AArch64 user
/// half), in 4 GiB slots.
const SLOTS: usize = 1 << 16;

/// The windows of one kernel.
#[derive(Debug)]
pub(crate) struct Windows {
    ram_fd: OwnedFd,
    ram_first: u64,
    ram_frames: u64,
    /// End of the kernel's static mapping of RAM.
    pub static_end: u64,
    devices: RwLock<Vec<DeviceFd>>,
    pub budget: Budget,
    /// Process id of the window in each 4 GiB slot of the host (0: none): read by the
    /// fault path without a lock.
    slots: Box<[AtomicU32]>,
    ranges: Mutex<BTreeMap<u32, Arc<WindowRange>>>,
    /// Pages re-derived by `Side::sync_range` (`WindowStats::pages_rederived`).
    pub pages_rederived: AtomicU64,
}

impl Windows {
    /// The registry for `phys`, with a budget of `budget` runs (the host's when `None`).
    /// Linux only (memfd); `Kernel::boot` refuses windows elsewhere before it gets here.
    pub fn new(phys: &PhysicalMemory, budget: Option<usize>) -> std::io::Result<Arc<Self>> {
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (phys, budget);
            Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "host windows need Linux (memfd)",
            ))
        }
        #[cfg(target_os = "linux")]
        Self::new_on_linux(phys, budget)
    }

    #[cfg(target_os = "linux")]
    fn new_on_linux(phys: &PhysicalMemory, budget: Option<usize>) -> std::io::Result<Arc<Self>> {
        let ram_frames = phys.total_frames() as u64;
        Ok(Arc::new(Self {
            ram_fd: phys.ram_fd().try_clone_to_owned()?,
            ram_first: phys.ram_base() >> 12,
            ram_frames,
            static_end: u64::from(KERNEL_BASE) + ram_frames * 0x1000,
            devices: RwLock::new(Vec::new()),
            budget: Budget::new(budget),
            slots: (0..SLOTS).map(|_| AtomicU32::new(0)).collect(),
            ranges: Mutex::new(BTreeMap::new()),
            pages_rederived: AtomicU64::new(0),
        }))
    }

    /// Registers the device whose frames start at `first` (its memfd is mapped into
    /// windows from now on).
    pub fn add_device(&self, phys: &PhysicalMemory, first: Pfn) {
        #[cfg(not(target_os = "linux"))]
        let _ = (phys, first);
        #[cfg(target_os = "linux")]
        if let Some((fd, pages)) = phys.device_fd(first) {
            self.devices
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .push(DeviceFd {
                    first: first.0,
                    pages,
                    fd,
                });
        }
    }

    pub(crate) fn devices(&self) -> Devices<'_> {
        self.devices.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Where frame `pfn` lives: 0 for RAM, `i + 1` for device `i`; `None` for neither.
    pub(crate) fn backing(&self, devs: &Devices<'_>, pfn: u64) -> Option<u32> {
        if pfn >= self.ram_first && pfn - self.ram_first < self.ram_frames {
            return Some(0);
        }
        devs.iter()
            .position(|d| pfn >= d.first && pfn - d.first < d.pages)
            .map(|i| i as u32 + 1)
    }

    /// As [`backing`](Self::backing), with the end (exclusive) of that backing's frames.
    pub(crate) fn backing_range(&self, devs: &Devices<'_>, pfn: u64) -> Option<(u32, u64)> {
        if pfn >= self.ram_first && pfn - self.ram_first < self.ram_frames {
            return Some((0, self.ram_first + self.ram_frames));
        }
        devs.iter()
            .position(|d| pfn >= d.first && pfn - d.first < d.pages)
            .map(|i| (i as u32 + 1, devs[i].first + devs[i].pages))
    }

    /// The memfd and byte offset of frame `pfn` of `backing`.
    pub(crate) fn fd_of<'a>(
        &'a self,
        devs: &'a Devices<'_>,
        backing: u32,
        pfn: u64,
    ) -> (BorrowedFd<'a>, u64) {
        match backing {
            0 => (self.ram_fd.as_fd(), (pfn - self.ram_first) * 0x1000),
            i => {
                let d = &devs[i as usize - 1];
                (d.fd.as_fd(), (pfn - d.first) * 0x1000)
            }
        }
    }

    /// Reserves the window of process `pid` with the static mapping of all RAM in it.
    pub fn open(&self, pid: Pid) -> Result<Arc<WindowRange>> {
        let fail = |e: std::io::Error| {
            Error::no_memory("host", format!("cannot reserve a host window: {e}"))
        };
        let w = Arc::new(WindowRange::new().map_err(fail)?);
        let slot = w.base() as usize / WINDOW_BYTES;
        if slot >= SLOTS {
            return Err(Error::no_memory(
                "host",
                "the host placed a window above 2^48",
            ));
        }
        w.map(
            u64::from(KERNEL_BASE),
            (self.ram_frames * 0x1000) as usize,
            self.ram_fd.as_fd(),
            0,
            true,
        )
        .map_err(fail)?;
        self.budget.force_take();
        self.slots[slot].store(pid.0, Ordering::Release);
        self.ranges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pid.0, w.clone());
        Ok(w)
    }

    /// Takes every mapping out of the window of `pid` at once and forgets it; nothing is
    /// reachable through it when this returns.
    pub fn close(&self, pid: Pid) {
        let w = self
            .ranges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&pid.0);
        if let Some(w) = w {
            self.slots[w.base() as usize / WINDOW_BYTES].store(0, Ordering::Release);
            if let Err(e) = w.reset(0, WINDOW_BYTES) {
                eprintln!("cevm: cannot revoke a host window: {e}");
                std::process::abort();
            }
            self.budget.give(1);
        }
    }

    /// The base of `pid`'s window.
    pub fn base(&self, pid: Pid) -> Option<*mut u8> {
        self.ranges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&pid.0)
            .map(|w| w.base())
    }

    /// The process whose window holds host address `addr` (no lock: the fault path).
    pub fn owner(&self, addr: usize) -> Option<Pid> {
        let pid = self.slots.get(addr / WINDOW_BYTES)?.load(Ordering::Acquire);
        (pid != 0).then_some(Pid(pid))
    }

    /// How many windows exist.
    pub fn count(&self) -> usize {
        self.ranges.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Kernel {
    /// The host address of guest address 0 in process `pid`'s window (4 GiB aligned, so
    /// guest address `va` is at `base + va`); `None` when host windows are off or the
    /// process does not exist.
    pub fn window(&self, pid: Pid) -> Option<*mut u8> {
        self.windows()?.base(pid)
    }

    /// Mappings used, the budget, the pages left to the fault path and the pages
    /// re-derived (all zero when host windows are off).
    pub fn window_stats(&self) -> WindowStats {
        match self.windows() {
            None => WindowStats::default(),
            Some(w) => WindowStats {
                mappings: w.budget.used(),
                budget: w.budget.limit(),
                pages_to_fault_path: w.budget.left(),
                pages_rederived: w.pages_rederived.load(Ordering::Relaxed),
            },
        }
    }
}
