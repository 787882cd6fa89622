//! The steps a differential run is made of: every call of semantics.md §5, the thread
//! accesses of §6, context switches and a few host actions.
//!
//! Arguments that should hit live state are symbolic ([`Addr::Rec`], [`Addr::Ret`],
//! [`H::Pid`], [`Phys::Ram`], …) and are resolved against the model right before the step
//! runs, so a generated or shrunk sequence keeps aiming at memory that exists.
//! [`Op::resolve`] turns every symbolic argument into a plain value (`Abs`, `Raw`), which
//! is what failure reports print and regression tests pin.

use crate::model::{Mode, Model};

/// An address argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addr {
    /// This address.
    Abs(u32),
    /// The base of a reservation the thread can reach (the `pick`-th, modulo their
    /// number: the active process's in address order, then the kernel's from the shared
    /// heap up) plus `off`.
    Rec {
        /// Which record.
        pick: u8,
        /// Offset, wrapping.
        off: i32,
    },
    /// The `back`-th most recent address a call returned, plus `off`.
    Ret {
        /// How far back.
        back: u8,
        /// Offset, wrapping.
        off: i32,
    },
}

/// A process handle argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H {
    /// GetCurrentProcess() = 0x42.
    Pseudo,
    /// NULL.
    Null,
    /// The id (a full-access handle) of the `n`-th process created (NK.EXE is 0), modulo
    /// their number; terminated ones included, so dead handles come up too.
    Pid(u8),
    /// The `n`-th handle OpenProcess returned, modulo their number; closed ones included.
    Opened(u8),
    /// This value.
    Raw(u32),
}

/// A process id argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P {
    /// The `n`-th process created, modulo their number.
    Nth(u8),
    /// This value.
    Raw(u32),
}

/// A physical address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phys {
    /// RAM frame `frame` (modulo RAM size plus 4, so just past RAM too) plus `off`.
    Ram {
        /// Frame index.
        frame: u16,
        /// Byte offset.
        off: u16,
    },
    /// Frame `frame` of device `dev` (both modulo, past the end by up to 2) plus `off`.
    Dev {
        /// Device index.
        dev: u8,
        /// Frame index.
        frame: u16,
        /// Byte offset.
        off: u16,
    },
    /// This address.
    Raw(u64),
}

/// The source argument of VirtualCopy(Ex) / VirtualAllocCopyEx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    /// A virtual address.
    Virt(Addr),
    /// A physical address, passed shifted right by 8 (PAGE_PHYSICAL form).
    Phys(Phys),
}

/// The width of a thread access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// read_u8 / write_u8.
    B1,
    /// read_u16 / write_u16.
    B2,
    /// read_u32 / write_u32.
    B4,
    /// read_bytes / write_bytes of this many bytes.
    N(u16),
}

impl Width {
    /// The byte count.
    pub fn len(self) -> usize {
        match self {
            Width::B1 => 1,
            Width::B2 => 2,
            Width::B4 => 4,
            Width::N(n) => usize::from(n),
        }
    }

    /// Whether the access has no bytes.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// The bytes a write step writes: `len` bytes made from `seed`.
pub fn data(len: usize, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (seed.wrapping_add((i as u32).wrapping_mul(0x9E37_79B1)) >> 7) as u8 | 1)
        .collect()
}

/// One step. Fields are the CE call's parameters in order, named as in semantics.md.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Host: create a process.
    CreateProcess,
    /// Host: switch the thread into a process, user or kernel mode, with a direct caller.
    Enter {
        /// The process.
        pid: P,
        /// User or kernel mode.
        mode: Mode,
        /// GetDirectCallerProcessId's answer.
        caller: Option<P>,
    },
    /// Host: the full context of §2 — the active process, the mode, and the VM process,
    /// direct caller and owner when named (`None`: §2's defaults).
    EnterContext {
        /// P.
        process: P,
        /// User or kernel mode.
        mode: Mode,
        /// V (default P).
        vm: Option<P>,
        /// C (default none).
        caller: Option<P>,
        /// O (default C, else P).
        owner: Option<P>,
    },
    /// SetLastError.
    SetLastError(u32),
    /// Host: the next steps run on the other of two threads (each has its own context and
    /// last error).
    SwitchThread,
    /// VirtualAlloc (`h: None`) / VirtualAllocEx.
    VirtualAlloc {
        h: Option<H>,
        a: Addr,
        n: u32,
        ty: u32,
        prot: u32,
    },
    /// VirtualFree / VirtualFreeEx.
    VirtualFree {
        h: Option<H>,
        a: Addr,
        n: u32,
        ty: u32,
    },
    /// VirtualProtect / VirtualProtectEx; `old_null` passes NULL for lpflOldProtect.
    VirtualProtect {
        h: Option<H>,
        a: Addr,
        n: u32,
        prot: u32,
        old_null: bool,
    },
    /// VirtualQuery / VirtualQueryEx with a buffer of `len` bytes.
    VirtualQuery { h: Option<H>, a: Addr, len: u32 },
    /// VirtualCopy (`hs: None`) / VirtualCopyEx(hDst, dst, hSrc, src, n, prot).
    VirtualCopy {
        hs: Option<(H, H)>,
        dst: Addr,
        src: Src,
        n: u32,
        prot: u32,
    },
    /// VirtualAllocCopyEx(hSrc, hDst, p, n, prot).
    VirtualAllocCopyEx {
        hsrc: H,
        hdst: H,
        p: Src,
        n: u32,
        prot: u32,
    },
    /// LockPages / LockPagesEx.
    LockPages {
        h: Option<H>,
        a: Addr,
        n: u32,
        flags: u32,
    },
    /// UnlockPages / UnlockPagesEx.
    UnlockPages { h: Option<H>, a: Addr, n: u32 },
    /// AllocPhysMem; `pa_null` passes NULL for pPhysicalAddress.
    AllocPhysMem {
        n: u32,
        prot: u32,
        align: u32,
        flags: u32,
        pa_null: bool,
    },
    /// FreePhysMem.
    FreePhysMem { a: Addr },
    /// MmMapIoSpace.
    MmMapIoSpace { pa: Phys, n: u32, cached: bool },
    /// MmUnmapIoSpace.
    MmUnmapIoSpace { a: Addr, n: u32 },
    /// VirtualSetAttributes / VirtualSetAttributesEx.
    VirtualSetAttributes {
        h: Option<H>,
        a: Addr,
        n: u32,
        new: u32,
        mask: u32,
    },
    /// CeVirtualSharedAlloc.
    CeVirtualSharedAlloc { a: Addr, n: u32, action: u32 },
    /// ReadProcessMemory.
    ReadProcessMemory { h: H, a: Addr, n: u32 },
    /// WriteProcessMemory of `len` bytes made from `seed`.
    WriteProcessMemory { h: H, a: Addr, len: u16, seed: u32 },
    /// OpenProcess(access, FALSE, pid).
    OpenProcess { access: u32, pid: P },
    /// CloseHandle.
    CloseHandle { h: H },
    /// TerminateProcess.
    TerminateProcess { h: H },
    /// GlobalMemoryStatus.
    GlobalMemoryStatus,
    /// GetSystemInfo.
    GetSystemInfo,
    /// GetCurrentProcessId, GetCallerVMProcessId, GetDirectCallerProcessId,
    /// GetOwnerProcess, GetCallerProcess (§5.13).
    Ids,
    /// CeOpenCallerBuffer(ppDest, pSrc, cb, desc, ForceDuplicate) (§7.1).
    CeOpenCallerBuffer {
        src: Addr,
        cb: u32,
        desc: u32,
        force: bool,
    },
    /// CeCloseCallerBuffer(pDest, pSrc, cb, desc) (§7.1).
    CeCloseCallerBuffer {
        dest: Addr,
        src: Addr,
        cb: u32,
        desc: u32,
    },
    /// CeAllocAsynchronousBuffer(ppAsync, pSrc, cb, desc) (§7.2).
    CeAllocAsynchronousBuffer { src: Addr, cb: u32, desc: u32 },
    /// CeFreeAsynchronousBuffer(pAsync, pSrc, cb, desc) (§7.2).
    CeFreeAsynchronousBuffer {
        async_ptr: Addr,
        src: Addr,
        cb: u32,
        desc: u32,
    },
    /// CeFlushAsynchronousBuffer(pAsync, pSrc, pSrcUnmarshalled, cb, desc) (§7.3).
    CeFlushAsynchronousBuffer {
        async_ptr: Addr,
        src: Addr,
        src_unmarshalled: Addr,
        cb: u32,
        desc: u32,
    },
    /// CeAllocDuplicateBuffer(ppDest, pSrc, cb, desc) (§7.4).
    CeAllocDuplicateBuffer { src: Addr, cb: u32, desc: u32 },
    /// CeFreeDuplicateBuffer(pDest, pSrc, cb, desc) (§7.4).
    CeFreeDuplicateBuffer {
        dest: Addr,
        src: Addr,
        cb: u32,
        desc: u32,
    },
    /// The thread reads.
    Read { a: Addr, width: Width },
    /// The thread writes bytes made from `seed`.
    Write { a: Addr, width: Width, seed: u32 },
    /// The thread executes at `a`.
    Execute { a: Addr },
    /// Harness: compare every region (VirtualQueryEx sweep), every frame's reference
    /// count and every known byte of every in-use frame, without side effects.
    Sweep,
}

/// What symbolic arguments resolve against: taken from the model and the run's history.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Reservation bases the thread can reach: the active process's, the VM process's
    /// below the shared heap (when it is another), then the kernel's from the shared
    /// heap up.
    pub records: Vec<u32>,
    /// Addresses calls returned, oldest first.
    pub rets: Vec<u32>,
    /// Process ids in creation order.
    pub pids: Vec<u32>,
    /// Handles OpenProcess returned, oldest first.
    pub opened: Vec<u32>,
    /// First RAM frame number and frame count.
    pub ram: (u64, u64),
    /// Devices: first frame and frame count.
    pub devices: Vec<(u64, u64)>,
}

impl Env {
    /// The environment of `model` with the run's returned addresses and opened handles.
    pub fn of(model: &Model, rets: &[u32], opened: &[u32]) -> Self {
        // The active process's reservations and the kernel's from the shared heap up:
        // what the thread can reach without naming another process.
        let mut records: Vec<u32> = model
            .space(model.ctx.active)
            .records
            .keys()
            .copied()
            .collect();
        // A VM process other than P (a kernel-mode driver's caller): its user space is
        // mapped too (§2, §6).
        if model.ctx.vm != model.ctx.active {
            records.extend(
                model
                    .space(model.ctx.vm)
                    .records
                    .keys()
                    .copied()
                    .filter(|&b| b < crate::spec::SHARED_HEAP),
            );
        }
        if model.ctx.active != model.nk {
            records.extend(
                model
                    .space(model.nk)
                    .records
                    .keys()
                    .copied()
                    .filter(|&b| b >= crate::spec::SHARED_HEAP),
            );
        }
        Env {
            records,
            rets: rets.to_vec(),
            pids: model.created.clone(),
            opened: opened.to_vec(),
            ram: (model.ram_first, model.ram_frames),
            devices: model.devices.iter().map(|d| (d.first, d.pages)).collect(),
        }
    }

    fn addr(&self, a: Addr) -> Addr {
        Addr::Abs(match a {
            Addr::Abs(v) => v,
            Addr::Rec { pick, off } => {
                let base = pick_from(&self.records, usize::from(pick)).unwrap_or(0x10000);
                base.wrapping_add(off as u32)
            }
            Addr::Ret { back, off } => {
                let n = self.rets.len();
                let v = if n == 0 {
                    0x10000
                } else {
                    self.rets[n - 1 - usize::from(back) % n]
                };
                v.wrapping_add(off as u32)
            }
        })
    }

    fn handle(&self, h: H) -> H {
        H::Raw(match h {
            H::Pseudo => crate::spec::PSEUDO_PROCESS,
            H::Null => 0,
            H::Pid(i) => pick_from(&self.pids, usize::from(i)).unwrap_or(0),
            H::Opened(i) => pick_from(&self.opened, usize::from(i)).unwrap_or(0x0040_0000),
            H::Raw(v) => v,
        })
    }

    fn pid(&self, p: P) -> P {
        P::Raw(match p {
            P::Nth(i) => pick_from(&self.pids, usize::from(i)).unwrap_or(0),
            P::Raw(v) => v,
        })
    }

    fn phys(&self, p: Phys) -> Phys {
        Phys::Raw(match p {
            Phys::Raw(v) => v,
            Phys::Ram { frame, off } => {
                let (first, count) = self.ram;
                let f = first + u64::from(frame) % (count + 4);
                (f << 12) + u64::from(off)
            }
            Phys::Dev { dev, frame, off } => match pick_from(&self.devices, usize::from(dev)) {
                Some((first, count)) => {
                    let f = first + u64::from(frame) % (count + 2);
                    (f << 12) + u64::from(off)
                }
                None => 0x1000_0000 + u64::from(off),
            },
        })
    }

    fn src(&self, s: Src) -> Src {
        match s {
            Src::Virt(a) => Src::Virt(self.addr(a)),
            Src::Phys(p) => Src::Phys(self.phys(p)),
        }
    }
}

fn pick_from<T: Copy>(v: &[T], i: usize) -> Option<T> {
    (!v.is_empty()).then(|| v[i % v.len()])
}

impl Addr {
    /// The value of a resolved address.
    pub fn value(self) -> u32 {
        match self {
            Addr::Abs(v) => v,
            _ => 0,
        }
    }
}

impl H {
    /// The value of a resolved handle.
    pub fn value(self) -> u32 {
        match self {
            H::Raw(v) => v,
            H::Pseudo => crate::spec::PSEUDO_PROCESS,
            _ => 0,
        }
    }
}

impl P {
    /// The value of a resolved process id.
    pub fn value(self) -> u32 {
        match self {
            P::Raw(v) => v,
            P::Nth(_) => 0,
        }
    }
}

impl Phys {
    /// The value of a resolved physical address.
    pub fn value(self) -> u64 {
        match self {
            Phys::Raw(v) => v,
            _ => 0,
        }
    }
}

impl Src {
    /// The DWORD the call receives: the address, or the physical address shifted right by 8.
    pub fn value(self) -> u32 {
        match self {
            Src::Virt(a) => a.value(),
            Src::Phys(p) => (p.value() >> 8) as u32,
        }
    }
}

impl Op {
    /// The same step with every symbolic argument replaced by its value in `env`.
    pub fn resolve(&self, env: &Env) -> Op {
        let a = |x: &Addr| env.addr(*x);
        let h = |x: &H| env.handle(*x);
        let oh = |x: &Option<H>| x.map(|v| env.handle(v));
        match self {
            Op::Enter { pid, mode, caller } => Op::Enter {
                pid: env.pid(*pid),
                mode: *mode,
                caller: caller.map(|c| env.pid(c)),
            },
            Op::EnterContext {
                process,
                mode,
                vm,
                caller,
                owner,
            } => Op::EnterContext {
                process: env.pid(*process),
                mode: *mode,
                vm: vm.map(|c| env.pid(c)),
                caller: caller.map(|c| env.pid(c)),
                owner: owner.map(|c| env.pid(c)),
            },
            Op::CeOpenCallerBuffer {
                src,
                cb,
                desc,
                force,
            } => Op::CeOpenCallerBuffer {
                src: a(src),
                cb: *cb,
                desc: *desc,
                force: *force,
            },
            Op::CeCloseCallerBuffer {
                dest,
                src,
                cb,
                desc,
            } => Op::CeCloseCallerBuffer {
                dest: a(dest),
                src: a(src),
                cb: *cb,
                desc: *desc,
            },
            Op::CeAllocAsynchronousBuffer { src, cb, desc } => Op::CeAllocAsynchronousBuffer {
                src: a(src),
                cb: *cb,
                desc: *desc,
            },
            Op::CeFreeAsynchronousBuffer {
                async_ptr,
                src,
                cb,
                desc,
            } => Op::CeFreeAsynchronousBuffer {
                async_ptr: a(async_ptr),
                src: a(src),
                cb: *cb,
                desc: *desc,
            },
            Op::CeFlushAsynchronousBuffer {
                async_ptr,
                src,
                src_unmarshalled,
                cb,
                desc,
            } => Op::CeFlushAsynchronousBuffer {
                async_ptr: a(async_ptr),
                src: a(src),
                src_unmarshalled: a(src_unmarshalled),
                cb: *cb,
                desc: *desc,
            },
            Op::CeAllocDuplicateBuffer { src, cb, desc } => Op::CeAllocDuplicateBuffer {
                src: a(src),
                cb: *cb,
                desc: *desc,
            },
            Op::CeFreeDuplicateBuffer {
                dest,
                src,
                cb,
                desc,
            } => Op::CeFreeDuplicateBuffer {
                dest: a(dest),
                src: a(src),
                cb: *cb,
                desc: *desc,
            },
            Op::VirtualAlloc {
                h: hh,
                a: aa,
                n,
                ty,
                prot,
            } => Op::VirtualAlloc {
                h: oh(hh),
                a: a(aa),
                n: *n,
                ty: *ty,
                prot: *prot,
            },
            Op::VirtualFree {
                h: hh,
                a: aa,
                n,
                ty,
            } => Op::VirtualFree {
                h: oh(hh),
                a: a(aa),
                n: *n,
                ty: *ty,
            },
            Op::VirtualProtect {
                h: hh,
                a: aa,
                n,
                prot,
                old_null,
            } => Op::VirtualProtect {
                h: oh(hh),
                a: a(aa),
                n: *n,
                prot: *prot,
                old_null: *old_null,
            },
            Op::VirtualQuery { h: hh, a: aa, len } => Op::VirtualQuery {
                h: oh(hh),
                a: a(aa),
                len: *len,
            },
            Op::VirtualCopy {
                hs,
                dst,
                src,
                n,
                prot,
            } => Op::VirtualCopy {
                hs: hs.map(|(d, s)| (env.handle(d), env.handle(s))),
                dst: a(dst),
                src: env.src(*src),
                n: *n,
                prot: *prot,
            },
            Op::VirtualAllocCopyEx {
                hsrc,
                hdst,
                p,
                n,
                prot,
            } => Op::VirtualAllocCopyEx {
                hsrc: h(hsrc),
                hdst: h(hdst),
                p: env.src(*p),
                n: *n,
                prot: *prot,
            },
            Op::LockPages {
                h: hh,
                a: aa,
                n,
                flags,
            } => Op::LockPages {
                h: oh(hh),
                a: a(aa),
                n: *n,
                flags: *flags,
            },
            Op::UnlockPages { h: hh, a: aa, n } => Op::UnlockPages {
                h: oh(hh),
                a: a(aa),
                n: *n,
            },
            Op::FreePhysMem { a: aa } => Op::FreePhysMem { a: a(aa) },
            Op::MmMapIoSpace { pa, n, cached } => Op::MmMapIoSpace {
                pa: env.phys(*pa),
                n: *n,
                cached: *cached,
            },
            Op::MmUnmapIoSpace { a: aa, n } => Op::MmUnmapIoSpace { a: a(aa), n: *n },
            Op::VirtualSetAttributes {
                h: hh,
                a: aa,
                n,
                new,
                mask,
            } => Op::VirtualSetAttributes {
                h: oh(hh),
                a: a(aa),
                n: *n,
                new: *new,
                mask: *mask,
            },
            Op::CeVirtualSharedAlloc { a: aa, n, action } => Op::CeVirtualSharedAlloc {
                a: a(aa),
                n: *n,
                action: *action,
            },
            Op::ReadProcessMemory { h: hh, a: aa, n } => Op::ReadProcessMemory {
                h: h(hh),
                a: a(aa),
                n: *n,
            },
            Op::WriteProcessMemory {
                h: hh,
                a: aa,
                len,
                seed,
            } => Op::WriteProcessMemory {
                h: h(hh),
                a: a(aa),
                len: *len,
                seed: *seed,
            },
            Op::OpenProcess { access, pid } => Op::OpenProcess {
                access: *access,
                pid: env.pid(*pid),
            },
            Op::CloseHandle { h: hh } => Op::CloseHandle { h: h(hh) },
            Op::TerminateProcess { h: hh } => Op::TerminateProcess { h: h(hh) },
            Op::Read { a: aa, width } => Op::Read {
                a: a(aa),
                width: *width,
            },
            Op::Write { a: aa, width, seed } => Op::Write {
                a: a(aa),
                width: *width,
                seed: *seed,
            },
            Op::Execute { a: aa } => Op::Execute { a: a(aa) },
            other => other.clone(),
        }
    }

    /// The step's name (the CE call's, or the harness action's).
    pub fn name(&self) -> &'static str {
        match self {
            Op::CreateProcess => "CreateProcess",
            Op::Enter { .. } => "Enter",
            Op::EnterContext { .. } => "EnterContext",
            Op::CeOpenCallerBuffer { .. } => "CeOpenCallerBuffer",
            Op::CeCloseCallerBuffer { .. } => "CeCloseCallerBuffer",
            Op::CeAllocAsynchronousBuffer { .. } => "CeAllocAsynchronousBuffer",
            Op::CeFreeAsynchronousBuffer { .. } => "CeFreeAsynchronousBuffer",
            Op::CeFlushAsynchronousBuffer { .. } => "CeFlushAsynchronousBuffer",
            Op::CeAllocDuplicateBuffer { .. } => "CeAllocDuplicateBuffer",
            Op::CeFreeDuplicateBuffer { .. } => "CeFreeDuplicateBuffer",
            Op::SetLastError(_) => "SetLastError",
            Op::SwitchThread => "SwitchThread",
            Op::VirtualAlloc { h: None, .. } => "VirtualAlloc",
            Op::VirtualAlloc { .. } => "VirtualAllocEx",
            Op::VirtualFree { h: None, .. } => "VirtualFree",
            Op::VirtualFree { .. } => "VirtualFreeEx",
            Op::VirtualProtect { h: None, .. } => "VirtualProtect",
            Op::VirtualProtect { .. } => "VirtualProtectEx",
            Op::VirtualQuery { h: None, .. } => "VirtualQuery",
            Op::VirtualQuery { .. } => "VirtualQueryEx",
            Op::VirtualCopy { hs: None, .. } => "VirtualCopy",
            Op::VirtualCopy { .. } => "VirtualCopyEx",
            Op::VirtualAllocCopyEx { .. } => "VirtualAllocCopyEx",
            Op::LockPages { h: None, .. } => "LockPages",
            Op::LockPages { .. } => "LockPagesEx",
            Op::UnlockPages { h: None, .. } => "UnlockPages",
            Op::UnlockPages { .. } => "UnlockPagesEx",
            Op::AllocPhysMem { .. } => "AllocPhysMem",
            Op::FreePhysMem { .. } => "FreePhysMem",
            Op::MmMapIoSpace { .. } => "MmMapIoSpace",
            Op::MmUnmapIoSpace { .. } => "MmUnmapIoSpace",
            Op::VirtualSetAttributes { h: None, .. } => "VirtualSetAttributes",
            Op::VirtualSetAttributes { .. } => "VirtualSetAttributesEx",
            Op::CeVirtualSharedAlloc { .. } => "CeVirtualSharedAlloc",
            Op::ReadProcessMemory { .. } => "ReadProcessMemory",
            Op::WriteProcessMemory { .. } => "WriteProcessMemory",
            Op::OpenProcess { .. } => "OpenProcess",
            Op::CloseHandle { .. } => "CloseHandle",
            Op::TerminateProcess { .. } => "TerminateProcess",
            Op::GlobalMemoryStatus => "GlobalMemoryStatus",
            Op::GetSystemInfo => "GetSystemInfo",
            Op::Ids => "Ids",
            Op::Read { .. } => "Read",
            Op::Write { .. } => "Write",
            Op::Execute { .. } => "Execute",
            Op::Sweep => "Sweep",
        }
    }

    /// Whether the step is a thread access (it raises instead of setting a last error).
    pub fn is_access(&self) -> bool {
        matches!(
            self,
            Op::Read { .. } | Op::Write { .. } | Op::Execute { .. }
        )
    }
}
