//! Where a reservation's pages come from: what made it, and for an alias, what it aliases.
//! The maps, the auditor and host windows read it instead of rediscovering it from the
//! page tables (in the manner of Redox's grant providers: owned, borrowed, physical).

use crate::process::Pid;

/// What made a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Reserved by the kernel for every new process (the first block, the DLL barrier):
    /// its pages are reserved (kernel mode may commit them) but it is not a VA record, so
    /// nothing can release it or decommit, protect or copy into it.
    Fixed,
    /// VirtualAlloc(Ex): frames committed for it, and any pages VirtualCopy(Ex) maps into it
    /// (those entries are marked mapped).
    Allocation,
    /// VirtualAllocCopyEx: an alias of the `requested` bytes (start and length, in this
    /// space), which map the pages of `source`.
    Alias {
        /// The bytes the caller asked to alias: start and length. The alias's other bytes
        /// of its first and last page are exposed beyond the request.
        requested: (u32, u32),
        /// Where the aliased pages come from.
        source: AliasSource,
    },
    /// MmMapIoSpace of the physical address `pa`.
    IoMapping {
        /// The physical address asked for.
        pa: u64,
    },
    /// AllocPhysMem: physically contiguous frames from `pa`.
    PhysAlloc {
        /// The physical address of the first frame.
        pa: u64,
    },
    /// CeVirtualSharedAlloc: the shared heap.
    SharedHeap,
}

/// The source of a VirtualAllocCopyEx alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AliasSource {
    /// Pages of a process's address space (NK.EXE's from the shared heap up, which includes
    /// the kernel static mapping of RAM): the process and the source address.
    Virtual {
        /// The process named as the source.
        pid: Pid,
        /// The source address passed to the call.
        address: u32,
    },
    /// Physical frames (`PAGE_PHYSICAL`) from this physical address.
    Physical {
        /// The physical address: the source value shifted left by 8.
        pa: u64,
    },
}

impl Origin {
    /// For an alias, the bytes the caller asked for.
    pub fn requested(&self) -> Option<(u32, u32)> {
        match self {
            Origin::Alias { requested, .. } => Some(*requested),
            _ => None,
        }
    }
}
