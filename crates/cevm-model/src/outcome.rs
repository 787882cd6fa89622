//! What one step produced, on either side, and when the two agree.

use std::fmt;

/// MEMORY_BASIC_INFORMATION (§5.4), field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mbi {
    /// BaseAddress.
    pub base_address: u32,
    /// AllocationBase.
    pub allocation_base: u32,
    /// AllocationProtect.
    pub allocation_protect: u32,
    /// RegionSize.
    pub region_size: u32,
    /// State.
    pub state: u32,
    /// Protect.
    pub protect: u32,
    /// Type.
    pub kind: u32,
}

/// The visible result of a step, apart from the last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ret {
    /// The call failed (returned NULL, FALSE or 0), by the check of semantics.md named
    /// when the side knows it (a call made through a CE convention wrapper reports only
    /// its last error).
    Fail(Option<&'static str>),
    /// The call succeeded and returns nothing more (TRUE, or void).
    Done,
    /// An address, handle, process id, old protection, attribute word or byte count.
    Value(u32),
    /// VirtualQuery's structure.
    Query(Mbi),
    /// LockPages' page frame list (physical addresses).
    Pfns(Vec<u64>),
    /// AllocPhysMem: virtual and physical address.
    Phys {
        /// The virtual address.
        va: u32,
        /// The physical address.
        pa: u64,
    },
    /// Bytes read; `None` where the spec does not determine the byte (model side only).
    Bytes(Vec<Option<u8>>),
    /// GlobalMemoryStatus, field by field.
    Status([u32; 8]),
    /// GetSystemInfo, field by field.
    Info([u32; 8]),
    /// GetCurrentProcessId, GetCallerVMProcessId, GetDirectCallerProcessId,
    /// GetOwnerProcess, GetCallerProcess (§5.13).
    Ids([u32; 5]),
    /// A marshalling helper (§7): its HRESULT and the out-pointer, when it wrote one.
    Marshal {
        /// The HRESULT.
        hr: u32,
        /// What the helper stored in its out-parameter, if anything.
        out: Option<u32>,
    },
    /// A thread access raised an exception.
    Raised {
        /// Exception code.
        code: u32,
        /// Faulting address.
        address: u32,
        /// Whether it was a write.
        write: bool,
    },
}

/// One side's answer to a step: the result and the thread's last error afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The result.
    pub ret: Ret,
    /// GetLastError after the step.
    pub last_error: u32,
}

impl Outcome {
    /// Whether the kernel's outcome is one the model allows: equal, except that bytes the
    /// model leaves undetermined may be anything.
    pub fn allows(&self, kernel: &Outcome) -> bool {
        if self.last_error != kernel.last_error {
            return false;
        }
        match (&self.ret, &kernel.ret) {
            (Ret::Bytes(m), Ret::Bytes(k)) => {
                m.len() == k.len()
                    && m.iter().zip(k).all(|(m, k)| match (m, k) {
                        (None, _) => true,
                        (Some(a), Some(b)) => a == b,
                        (Some(_), None) => false,
                    })
            }
            // A side that knows which check failed must agree with the other on it.
            (Ret::Fail(m), Ret::Fail(k)) => m.is_none() || k.is_none() || m == k,
            (m, k) => m == k,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.ret {
            Ret::Bytes(b) => {
                let shown: Vec<String> = b
                    .iter()
                    .take(32)
                    .map(|x| x.map_or("??".to_string(), |v| format!("{v:02x}")))
                    .collect();
                write!(f, "Bytes[{}]({}", b.len(), shown.join(" "))?;
                if b.len() > 32 {
                    write!(f, " …")?;
                }
                write!(f, ")")?;
            }
            Ret::Value(v) => write!(f, "Value(0x{v:08X})")?,
            Ret::Pfns(p) => {
                let shown: Vec<String> = p.iter().take(16).map(|x| format!("0x{x:X}")).collect();
                write!(f, "Pfns[{}]({})", p.len(), shown.join(", "))?;
            }
            other => write!(f, "{other:X?}")?,
        }
        write!(f, ", last error {}", self.last_error)
    }
}

/// The first byte position where the kernel's bytes differ from what the model allows.
pub fn first_byte_difference(model: &Outcome, kernel: &Outcome) -> Option<usize> {
    match (&model.ret, &kernel.ret) {
        (Ret::Bytes(m), Ret::Bytes(k)) => m
            .iter()
            .zip(k)
            .position(|(m, k)| matches!((m, k), (Some(a), Some(b)) if a != b)),
        _ => None,
    }
}
