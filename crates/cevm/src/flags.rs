//! Typed flags: page protection, allocation types, lock flags, process access rights and
//! page attributes. Each keeps unknown bits (`from_bits_retain`) so that the calls, not the
//! types, decide what is invalid and report it with the CE error code.

use bitflags::bitflags;

bitflags! {
    /// `PAGE_*` protection values (semantics.md §1).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Protection: u32 {
        /// `PAGE_NOACCESS`: valid only alone.
        const NOACCESS = 0x01;
        /// `PAGE_READONLY`.
        const READONLY = 0x02;
        /// `PAGE_READWRITE`.
        const READWRITE = 0x04;
        /// `PAGE_WRITECOPY`: always rejected.
        const WRITECOPY = 0x08;
        /// `PAGE_EXECUTE`: reads back as `PAGE_EXECUTE_READ`.
        const EXECUTE = 0x10;
        /// `PAGE_EXECUTE_READ`.
        const EXECUTE_READ = 0x20;
        /// `PAGE_EXECUTE_READWRITE`.
        const EXECUTE_READWRITE = 0x40;
        /// `PAGE_EXECUTE_WRITECOPY`: always rejected.
        const EXECUTE_WRITECOPY = 0x80;
        /// `PAGE_GUARD`: the first touch faults and consumes the flag.
        const GUARD = 0x100;
        /// `PAGE_NOCACHE`: uncached mapping.
        const NOCACHE = 0x200;
        /// `PAGE_PHYSICAL`: the source of VirtualCopy(Ex)/VirtualAllocCopyEx is a physical
        /// address shifted right by 8.
        const PHYSICAL = 0x400;
    }
}

bitflags! {
    /// `MEM_*` allocation types and states (semantics.md §1).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct AllocType: u32 {
        /// `MEM_COMMIT`.
        const COMMIT = 0x1000;
        /// `MEM_RESERVE`.
        const RESERVE = 0x2000;
        /// `MEM_DECOMMIT`.
        const DECOMMIT = 0x4000;
        /// `MEM_RELEASE`.
        const RELEASE = 0x8000;
        /// `MEM_FREE` (a state).
        const FREE = 0x10000;
        /// `MEM_PRIVATE` (a type).
        const PRIVATE = 0x20000;
        /// `MEM_MAPPED`: rejected by VirtualAlloc.
        const MAPPED = 0x40000;
        /// `MEM_RESET`: rejected by VirtualAlloc.
        const RESET = 0x80000;
        /// `MEM_TOP_DOWN`: accepted and ignored.
        const TOP_DOWN = 0x100000;
        /// `MEM_AUTO_COMMIT`: pages commit themselves on first touch.
        const AUTO_COMMIT = 0x200000;
        /// `MEM_IMAGE`: reserved pages report `MEM_IMAGE`.
        const IMAGE = 0x1000000;
    }
}

bitflags! {
    /// `LOCKFLAG_*` for LockPages.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct LockFlags: u32 {
        /// `LOCKFLAG_WRITE`: bring pages in for writing.
        const WRITE = 0x1;
        /// `LOCKFLAG_QUERY_ONLY`: report frames, keep nothing locked.
        const QUERY_ONLY = 0x2;
        /// `LOCKFLAG_READ`: bring pages in for reading.
        const READ = 0x4;
    }
}

bitflags! {
    /// `PROCESS_*` access rights of a process handle.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct ProcessAccess: u32 {
        /// `PROCESS_TERMINATE`.
        const TERMINATE = 0x0001;
        /// `PROCESS_VM_OPERATION`: needed by every call that changes memory.
        const VM_OPERATION = 0x0008;
        /// `PROCESS_VM_READ`: needed by ReadProcessMemory.
        const VM_READ = 0x0010;
        /// `PROCESS_VM_WRITE`: needed by WriteProcessMemory.
        const VM_WRITE = 0x0020;
        /// `PROCESS_QUERY_INFORMATION`.
        const QUERY_INFORMATION = 0x0400;
        /// `PROCESS_ALL_ACCESS`.
        const ALL_ACCESS = 0x001F_0FFF;
    }
}

bitflags! {
    /// The attribute bits of a committed page that VirtualSetAttributes(Ex) reads and
    /// changes. cevm defines them at the x86 page-table-entry positions of PWT and PCD.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct PageAttributes: u32 {
        /// Write-through caching (x86 PWT).
        const WRITE_THROUGH = 0x08;
        /// Caching disabled (x86 PCD); the same bit `PAGE_NOCACHE` sets.
        const CACHE_DISABLE = 0x10;
    }
}

/// The base protection of a committed page: the one low-byte bit of a valid [`Protection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Access {
    /// `PAGE_NOACCESS`.
    NoAccess = 0x01,
    /// `PAGE_READONLY`.
    ReadOnly = 0x02,
    /// `PAGE_READWRITE`.
    ReadWrite = 0x04,
    /// `PAGE_EXECUTE`.
    Execute = 0x10,
    /// `PAGE_EXECUTE_READ`.
    ExecuteRead = 0x20,
    /// `PAGE_EXECUTE_READWRITE`.
    ExecuteReadWrite = 0x40,
}

impl Access {
    /// The access whose `PAGE_*` value is `bits`, if it is one of the six base values.
    pub fn from_bits(bits: u32) -> Option<Self> {
        Some(match bits {
            0x01 => Self::NoAccess,
            0x02 => Self::ReadOnly,
            0x04 => Self::ReadWrite,
            0x10 => Self::Execute,
            0x20 => Self::ExecuteRead,
            0x40 => Self::ExecuteReadWrite,
            _ => return None,
        })
    }

    /// Reading is allowed by anything but `PAGE_NOACCESS`.
    pub fn readable(self) -> bool {
        self != Self::NoAccess
    }

    /// Writing needs a read-write protection.
    pub fn writable(self) -> bool {
        matches!(self, Self::ReadWrite | Self::ExecuteReadWrite)
    }

    /// Executing needs an `EXECUTE_*` protection.
    pub fn executable(self) -> bool {
        matches!(
            self,
            Self::Execute | Self::ExecuteRead | Self::ExecuteReadWrite
        )
    }

    /// The protection VirtualQuery reports for this access (semantics.md §5.4 read-back).
    pub fn read_back(self) -> Protection {
        match self {
            Self::ReadWrite => Protection::READWRITE,
            Self::ExecuteReadWrite => Protection::EXECUTE_READWRITE,
            Self::ReadOnly => Protection::READONLY,
            Self::Execute | Self::ExecuteRead => Protection::EXECUTE_READ,
            Self::NoAccess => Protection::NOACCESS,
        }
    }
}

/// A protection value that passed validation: the base access and the two modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValidProtection {
    /// The base access.
    pub access: Access,
    /// `PAGE_GUARD` was given.
    pub guard: bool,
    /// `PAGE_NOCACHE` was given.
    pub nocache: bool,
}

impl Protection {
    /// Validates the value by semantics.md §1: exactly one low-byte bit, `PAGE_NOACCESS`
    /// only alone, no bits outside the base values, `PAGE_GUARD` and `PAGE_NOCACHE`.
    pub fn validate(self) -> Option<ValidProtection> {
        let bits = self.bits();
        let allowed = 0x01 | 0x02 | 0x04 | 0x10 | 0x20 | 0x40 | 0x100 | 0x200;
        if bits & !allowed != 0 {
            return None;
        }
        let access = Access::from_bits(bits & 0xFF)?;
        if access == Access::NoAccess && bits != Self::NOACCESS.bits() {
            return None;
        }
        Some(ValidProtection {
            access,
            guard: self.contains(Self::GUARD),
            nocache: self.contains(Self::NOCACHE),
        })
    }
}

impl AllocType {
    /// Validates by semantics.md §1: after clearing `MEM_TOP_DOWN`, non-zero and a subset
    /// of {RESERVE, COMMIT, IMAGE, AUTO_COMMIT}.
    pub fn is_valid_for_alloc(self) -> bool {
        let t = self.difference(Self::TOP_DOWN);
        let allowed = Self::RESERVE | Self::COMMIT | Self::IMAGE | Self::AUTO_COMMIT;
        !t.is_empty() && allowed.contains(t) && self.bits() & !Self::all().bits() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protection_validation_follows_the_spec_rule() {
        for ok in [
            0x01, 0x02, 0x04, 0x10, 0x20, 0x40, 0x104, 0x204, 0x302, 0x140,
        ] {
            assert!(
                Protection::from_bits_retain(ok).validate().is_some(),
                "{ok:#x}"
            );
        }
        for bad in [
            0, 0x08, 0x80, 0x100, 0x200, 0x101, 0x201, 0x06, 0x404, 0x1004, 0x03, 0xFF,
        ] {
            assert!(
                Protection::from_bits_retain(bad).validate().is_none(),
                "{bad:#x}"
            );
        }
    }

    #[test]
    fn alloc_type_validation_follows_the_spec_rule() {
        for ok in [
            0x1000, 0x2000, 0x3000, 0x1002000, 0x202000, 0x102000, 0x1201000,
        ] {
            assert!(
                AllocType::from_bits_retain(ok).is_valid_for_alloc(),
                "{ok:#x}"
            );
        }
        for bad in [
            0,
            0x100000,
            0x40000 | 0x2000,
            0x80000 | 0x1000,
            0x4000,
            0x8000,
            0x2001,
        ] {
            assert!(
                !AllocType::from_bits_retain(bad).is_valid_for_alloc(),
                "{bad:#x}"
            );
        }
    }

    #[test]
    fn read_back_folds_execute_into_execute_read() {
        assert_eq!(Access::Execute.read_back(), Protection::EXECUTE_READ);
        assert_eq!(Access::ReadOnly.read_back(), Protection::READONLY);
        assert_eq!(
            Access::ExecuteReadWrite.read_back(),
            Protection::EXECUTE_READWRITE
        );
    }
}
