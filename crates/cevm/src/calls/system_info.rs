//! GetSystemInfo and GlobalMemoryStatus (semantics.md §5.13).

use crate::consts::{BLOCK_SIZE, PAGE_SIZE};
use crate::layout::{MAX_USER_ALLOC, USER_BASE};
use crate::process::Spaces;
use crate::thread::Thread;

/// `SYSTEM_INFO` as cevm's x86 CE reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemInfo {
    /// `wProcessorArchitecture`: 0 (x86).
    pub processor_architecture: u16,
    /// `dwPageSize`: 4096.
    pub page_size: u32,
    /// `lpMinimumApplicationAddress`: 0x10000.
    pub minimum_application_address: u32,
    /// `lpMaximumApplicationAddress`: 0x7FFFFFFF.
    pub maximum_application_address: u32,
    /// `dwActiveProcessorMask`: 1.
    pub active_processor_mask: u32,
    /// `dwNumberOfProcessors`: 1.
    pub number_of_processors: u32,
    /// `dwProcessorType`: 586.
    pub processor_type: u32,
    /// `dwAllocationGranularity`: 0x10000.
    pub allocation_granularity: u32,
}

/// `MEMORYSTATUS` as GlobalMemoryStatus fills it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryStatus {
    /// `dwLength`: 32.
    pub length: u32,
    /// `dwMemoryLoad`: 100 − free·100 / total.
    pub memory_load: u32,
    /// `dwTotalPhys`.
    pub total_phys: u32,
    /// `dwAvailPhys`.
    pub avail_phys: u32,
    /// `dwTotalPageFile`: 0.
    pub total_page_file: u32,
    /// `dwAvailPageFile`: 0.
    pub avail_page_file: u32,
    /// `dwTotalVirtual`: 0x40000000.
    pub total_virtual: u32,
    /// `dwAvailVirtual`: wholly free 64 KiB blocks of the active process, in bytes.
    pub avail_virtual: u32,
}

impl Thread {
    /// `GetSystemInfo`.
    pub fn get_system_info(&self) -> SystemInfo {
        SystemInfo {
            processor_architecture: 0,
            page_size: PAGE_SIZE,
            minimum_application_address: USER_BASE,
            maximum_application_address: 0x7FFF_FFFF,
            active_processor_mask: 1,
            number_of_processors: 1,
            processor_type: 586,
            allocation_granularity: BLOCK_SIZE,
        }
    }

    /// `GlobalMemoryStatus`.
    pub fn global_memory_status(&self) -> MemoryStatus {
        let phys = self.kernel.memory();
        let total = phys.total_frames() as u64;
        let free = phys.free_frames() as u64;
        let mut in_use = 0u64;
        // A process that has ended has no records left.
        let mut spaces = Spaces::lock(self.kernel.nk(), &[&self.active], false).ok();
        let records = spaces.as_mut().map(|s| &s.get(self.active.pid()).records);
        for r in records.into_iter().flat_map(|r| r.values()) {
            let s = u64::from(r.base).max(u64::from(USER_BASE));
            let e = r.block_end().min(u64::from(MAX_USER_ALLOC));
            if e > s {
                in_use += e - s;
            }
        }
        let avail_virtual = u64::from(MAX_USER_ALLOC - USER_BASE).saturating_sub(in_use);
        MemoryStatus {
            length: 32,
            memory_load: (100 - free * 100 / total.max(1)) as u32,
            total_phys: (total * u64::from(PAGE_SIZE)).min(u64::from(u32::MAX)) as u32,
            avail_phys: (free * u64::from(PAGE_SIZE)).min(u64::from(u32::MAX)) as u32,
            total_page_file: 0,
            avail_page_file: 0,
            total_virtual: MAX_USER_ALLOC,
            avail_virtual: avail_virtual as u32,
        }
    }
}
