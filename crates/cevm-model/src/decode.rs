//! Steps from arbitrary bytes, for the fuzz target, and the inverse for seeding its corpus.
//!
//! Every byte string decodes (a short input just ends early; exhausted input reads as
//! zeros): one world byte, then steps until the input runs out (at most [`MAX_STEPS`]).
//! Each step is a tag byte and its fields. A field is mostly a one-byte choice from the
//! tables in [`crate::hostile`] or a symbolic argument, with an escape (`0xFF`, or the last
//! tag) to a raw value, which is what [`encode`] always writes.

use crate::hostile::*;
use crate::model::{Mode, WorldConfig};
use crate::op::{Addr, H, Op, P, Phys, Src, Width};

/// The most steps one input decodes to.
pub const MAX_STEPS: usize = 256;

/// A cursor over the input; reads past the end give zeros.
struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bytes<'_> {
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn u8(&mut self) -> u8 {
        let v = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// A table entry, or a raw value after 0xFF.
    fn pick(&mut self, table: &[u32]) -> u32 {
        match self.u8() {
            0xFF => self.u32(),
            t => table[usize::from(t) % table.len()],
        }
    }

    fn size(&mut self) -> u32 {
        match self.u8() {
            0xFF => self.u32(),
            t @ 0xF0..=0xFE => (u32::from(t) - 0xEF) * 0x1000,
            t @ 0xC0..=0xEF => u32::from(self.u16()) + u32::from(t & 1),
            t => SIZES[usize::from(t) % SIZES.len()],
        }
    }

    fn offset(&mut self) -> i32 {
        match self.u8() {
            0xFF => self.u32() as i32,
            t => OFFSETS[usize::from(t) % OFFSETS.len()],
        }
    }

    fn addr(&mut self) -> Addr {
        match self.u8() % 8 {
            0..=2 => Addr::Rec {
                pick: self.u8(),
                off: self.offset(),
            },
            3 | 4 => Addr::Ret {
                back: self.u8() % 8,
                off: self.offset(),
            },
            5 => Addr::Abs(ADDRS[usize::from(self.u8()) % ADDRS.len()]),
            6 => Addr::Abs(0x1_0000 + u32::from(self.u8()) * 0x1000),
            _ => Addr::Abs(self.u32()),
        }
    }

    fn handle(&mut self) -> H {
        match self.u8() % 8 {
            0 | 1 => H::Pseudo,
            2 | 3 => H::Pid(self.u8()),
            4 => H::Opened(self.u8()),
            5 => H::Null,
            6 => H::Raw(BAD_HANDLES[usize::from(self.u8()) % BAD_HANDLES.len()]),
            _ => H::Raw(self.u32()),
        }
    }

    fn opt_handle(&mut self) -> Option<H> {
        if self.bool() {
            Some(self.handle())
        } else {
            None
        }
    }

    fn pid(&mut self) -> P {
        match self.u8() % 4 {
            3 => P::Raw(self.u32()),
            _ => P::Nth(self.u8()),
        }
    }

    fn phys(&mut self) -> Phys {
        match self.u8() % 3 {
            0 => Phys::Ram {
                frame: self.u16(),
                off: self.u16(),
            },
            1 => Phys::Dev {
                dev: self.u8(),
                frame: self.u16(),
                off: self.u16(),
            },
            _ => Phys::Raw(self.u64()),
        }
    }

    fn src(&mut self) -> Src {
        if self.bool() {
            Src::Phys(self.phys())
        } else {
            Src::Virt(self.addr())
        }
    }

    fn mode(&mut self) -> Mode {
        if self.bool() {
            Mode::User
        } else {
            Mode::Kernel
        }
    }

    fn width(&mut self) -> Width {
        match self.u8() % 4 {
            0 => Width::B1,
            1 => Width::B2,
            2 => Width::B4,
            _ => Width::N(self.u16() % 0x2100),
        }
    }

    fn desc(&mut self) -> u32 {
        self.pick(DESCS)
    }

    fn cb(&mut self) -> u32 {
        match self.u8() {
            0xFE => self.size(),
            t => CBS[usize::from(t) % CBS.len()],
        }
    }

    /// A pointer for a helper: mostly returned pointers and records, sometimes a bound.
    fn maddr(&mut self) -> Addr {
        match self.u8() {
            t @ 0xF0..=0xFE => {
                Addr::Abs(MARSHAL_ADDRS[usize::from(t - 0xF0) % MARSHAL_ADDRS.len()])
            }
            0xFF => self.addr(),
            t => Addr::Ret {
                back: t % 4,
                off: 0,
            },
        }
    }

    fn opt_pid(&mut self) -> Option<P> {
        if self.bool() { Some(self.pid()) } else { None }
    }

    fn prot(&mut self) -> u32 {
        match self.u8() {
            0xFF => self.u32(),
            t if t < 0xC0 => GOOD_PROTS[usize::from(t) % GOOD_PROTS.len()],
            t => BAD_PROTS[usize::from(t) % BAD_PROTS.len()],
        }
    }
}

/// The number of step kinds (tags are taken modulo this).
const TAGS: u8 = 38;

/// The second byte that makes tag 0 a CreateProcess and tag 28 a Sweep.
const MAGIC: u8 = 0xA5;

fn op(b: &mut Bytes) -> Op {
    match b.u8() % TAGS {
        // Zero bytes are common in fuzz inputs; a process (and a sweep, the costliest
        // step) needs a second, rarer byte.
        0 if b.u8() == MAGIC => Op::CreateProcess,
        0 => Op::GetSystemInfo,
        1 => Op::Enter {
            pid: b.pid(),
            mode: b.mode(),
            caller: if b.bool() { Some(b.pid()) } else { None },
        },
        2 => Op::SetLastError(b.u32()),
        3 => Op::VirtualAlloc {
            h: b.opt_handle(),
            a: b.addr(),
            n: b.size(),
            ty: b.pick(ALLOC_TYPES),
            prot: b.prot(),
        },
        4 => Op::VirtualFree {
            h: b.opt_handle(),
            a: b.addr(),
            n: b.size(),
            ty: b.pick(FREE_TYPES),
        },
        5 => Op::VirtualProtect {
            h: b.opt_handle(),
            a: b.addr(),
            n: b.size(),
            prot: b.prot(),
            old_null: b.u8() == 0x5A,
        },
        6 => Op::VirtualQuery {
            h: b.opt_handle(),
            a: b.addr(),
            len: b.pick(QUERY_LENS),
        },
        7 => Op::VirtualCopy {
            hs: if b.bool() {
                Some((b.handle(), b.handle()))
            } else {
                None
            },
            dst: b.addr(),
            src: b.src(),
            n: b.size(),
            prot: b.prot() | (u32::from(b.u8() & 1) << 10),
        },
        8 => Op::VirtualAllocCopyEx {
            hsrc: b.handle(),
            hdst: b.handle(),
            p: b.src(),
            n: b.size(),
            prot: b.prot() | (u32::from(b.u8() & 1) << 10),
        },
        9 => Op::LockPages {
            h: b.opt_handle(),
            a: b.addr(),
            n: b.size(),
            flags: b.pick(LOCK_FLAGS),
        },
        10 => Op::UnlockPages {
            h: b.opt_handle(),
            a: b.addr(),
            n: b.size(),
        },
        11 => Op::AllocPhysMem {
            n: b.size(),
            prot: b.prot(),
            align: b.pick(ALIGNS),
            flags: b.pick(&[0, 0, 0, 1]),
            pa_null: b.u8() == 0x5A,
        },
        12 => Op::FreePhysMem { a: b.addr() },
        13 => Op::MmMapIoSpace {
            pa: b.phys(),
            n: b.size(),
            cached: b.bool(),
        },
        14 => Op::MmUnmapIoSpace {
            a: b.addr(),
            n: b.size(),
        },
        15 => Op::VirtualSetAttributes {
            h: b.opt_handle(),
            a: b.addr(),
            n: b.size(),
            new: b.pick(ATTRS),
            mask: b.pick(ATTRS),
        },
        16 => Op::CeVirtualSharedAlloc {
            a: b.addr(),
            n: b.size(),
            action: b.pick(SHARED_ACTIONS),
        },
        17 => Op::ReadProcessMemory {
            h: b.handle(),
            a: b.addr(),
            n: b.size(),
        },
        18 => Op::WriteProcessMemory {
            h: b.handle(),
            a: b.addr(),
            len: b.u16() % 0x2100,
            seed: b.u32(),
        },
        19 => Op::OpenProcess {
            access: b.pick(ACCESS_MASKS),
            pid: b.pid(),
        },
        20 => Op::CloseHandle { h: b.handle() },
        21 => Op::TerminateProcess { h: b.handle() },
        22 => Op::GlobalMemoryStatus,
        23 => Op::GetSystemInfo,
        24 => Op::Ids,
        25 => Op::Read {
            a: b.addr(),
            width: b.width(),
        },
        26 => Op::Write {
            a: b.addr(),
            width: b.width(),
            seed: b.u32(),
        },
        27 => Op::Execute { a: b.addr() },
        29 => Op::SwitchThread,
        30 => Op::EnterContext {
            process: b.pid(),
            mode: b.mode(),
            vm: b.opt_pid(),
            caller: b.opt_pid(),
            owner: b.opt_pid(),
        },
        31 => Op::CeOpenCallerBuffer {
            src: b.maddr(),
            cb: b.cb(),
            desc: b.desc(),
            force: b.bool(),
        },
        32 => Op::CeCloseCallerBuffer {
            dest: b.maddr(),
            src: b.maddr(),
            cb: b.cb(),
            desc: b.desc(),
        },
        33 => Op::CeAllocAsynchronousBuffer {
            src: b.maddr(),
            cb: b.cb(),
            desc: b.desc(),
        },
        34 => Op::CeFreeAsynchronousBuffer {
            async_ptr: b.maddr(),
            src: b.maddr(),
            cb: b.cb(),
            desc: b.desc(),
        },
        35 => Op::CeFlushAsynchronousBuffer {
            async_ptr: b.maddr(),
            src: b.maddr(),
            src_unmarshalled: b.maddr(),
            cb: b.cb(),
            desc: b.desc(),
        },
        36 => Op::CeAllocDuplicateBuffer {
            src: b.maddr(),
            cb: b.cb(),
            desc: b.desc(),
        },
        37 => Op::CeFreeDuplicateBuffer {
            dest: b.maddr(),
            src: b.maddr(),
            cb: b.cb(),
            desc: b.desc(),
        },
        28 if b.u8() == MAGIC => Op::Sweep,
        _ => Op::Ids,
    }
}

/// Decodes a world and its steps from arbitrary bytes.
pub fn decode(data: &[u8]) -> (WorldConfig, Vec<Op>) {
    let mut b = Bytes { data, pos: 0 };
    let w = b.u8();
    let ram_bytes = u64::from(1 + (w & 3)) << 20;
    let ram_base = if w & 4 != 0 { 0x100_0000 } else { 0 };
    let mut devices = vec![(0x1000_0000, 0x4000)];
    if w & 8 != 0 {
        devices.push((ram_base + ram_bytes, 0x2000));
    }
    let cfg = WorldConfig {
        ram_bytes,
        ram_base,
        devices,
        processes: 1 + (w >> 4) % 3,
    };
    let mut ops = Vec::new();
    while !b.done() && ops.len() < MAX_STEPS {
        ops.push(op(&mut b));
    }
    (cfg, ops)
}

/// Writes bytes that [`decode`] turns back into `cfg` (RAM 1–4 MiB at 0 or 16 MiB, the
/// standard devices, 1–3 processes) and `ops`.
pub fn encode(cfg: &WorldConfig, ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    let mib = ((cfg.ram_bytes >> 20).clamp(1, 4) - 1) as u8;
    let base = if cfg.ram_base != 0 { 4 } else { 0 };
    let after = if cfg.devices.len() > 1 { 8 } else { 0 };
    out.push(mib | base | after | ((cfg.processes.clamp(1, 3) - 1) << 4));
    for op in ops {
        Enc(&mut out).op(op);
    }
    out
}

struct Enc<'a>(&'a mut Vec<u8>);

impl Enc<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn raw(&mut self, v: u32) {
        self.u8(0xFF);
        self.u32(v);
    }
    fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }
    fn addr(&mut self, a: Addr) {
        match a {
            Addr::Abs(v) => {
                self.u8(7);
                self.u32(v);
            }
            Addr::Rec { pick, off } => {
                self.u8(0);
                self.u8(pick);
                self.raw(off as u32);
            }
            Addr::Ret { back, off } => {
                self.u8(3);
                self.u8(back);
                self.raw(off as u32);
            }
        }
    }
    fn handle(&mut self, h: H) {
        match h {
            H::Pseudo => self.u8(0),
            H::Pid(i) => {
                self.u8(2);
                self.u8(i);
            }
            H::Opened(i) => {
                self.u8(4);
                self.u8(i);
            }
            H::Null => self.u8(5),
            H::Raw(v) => {
                self.u8(7);
                self.u32(v);
            }
        }
    }
    fn opt_handle(&mut self, h: Option<H>) {
        match h {
            None => self.u8(0),
            Some(h) => {
                self.u8(1);
                self.handle(h);
            }
        }
    }
    fn pid(&mut self, p: P) {
        match p {
            P::Nth(i) => {
                self.u8(0);
                self.u8(i);
            }
            P::Raw(v) => {
                self.u8(3);
                self.u32(v);
            }
        }
    }
    fn phys(&mut self, p: Phys) {
        match p {
            Phys::Ram { frame, off } => {
                self.u8(0);
                self.u16(frame);
                self.u16(off);
            }
            Phys::Dev { dev, frame, off } => {
                self.u8(1);
                self.u8(dev);
                self.u16(frame);
                self.u16(off);
            }
            Phys::Raw(v) => {
                self.u8(2);
                self.u32(v as u32);
                self.u32((v >> 32) as u32);
            }
        }
    }
    fn src(&mut self, s: Src) {
        match s {
            Src::Virt(a) => {
                self.u8(0);
                self.addr(a);
            }
            Src::Phys(p) => {
                self.u8(1);
                self.phys(p);
            }
        }
    }
    fn maddr(&mut self, a: Addr) {
        self.u8(0xFF);
        self.addr(a);
    }
    fn cb(&mut self, v: u32) {
        self.u8(0xFE);
        self.raw(v);
    }
    fn opt_pid(&mut self, p: Option<P>) {
        match p {
            None => self.u8(0),
            Some(p) => {
                self.u8(1);
                self.pid(p);
            }
        }
    }
    fn width(&mut self, w: Width) {
        match w {
            Width::B1 => self.u8(0),
            Width::B2 => self.u8(1),
            Width::B4 => self.u8(2),
            Width::N(n) => {
                self.u8(3);
                self.u16(n);
            }
        }
    }
    /// A protection with the PAGE_PHYSICAL bit carried in the extra byte.
    fn prot_phys(&mut self, prot: u32) {
        self.raw(prot & !0x400);
        self.u8(u8::from(prot & 0x400 != 0));
    }

    fn op(&mut self, op: &Op) {
        match *op {
            Op::CreateProcess => {
                self.u8(0);
                self.u8(MAGIC);
            }
            Op::Enter { pid, mode, caller } => {
                self.u8(1);
                self.pid(pid);
                self.bool(mode == Mode::User);
                match caller {
                    None => self.u8(0),
                    Some(c) => {
                        self.u8(1);
                        self.pid(c);
                    }
                }
            }
            Op::SetLastError(v) => {
                self.u8(2);
                self.u32(v);
            }
            Op::VirtualAlloc { h, a, n, ty, prot } => {
                self.u8(3);
                self.opt_handle(h);
                self.addr(a);
                self.raw(n);
                self.raw(ty);
                self.raw(prot);
            }
            Op::VirtualFree { h, a, n, ty } => {
                self.u8(4);
                self.opt_handle(h);
                self.addr(a);
                self.raw(n);
                self.raw(ty);
            }
            Op::VirtualProtect {
                h,
                a,
                n,
                prot,
                old_null,
            } => {
                self.u8(5);
                self.opt_handle(h);
                self.addr(a);
                self.raw(n);
                self.raw(prot);
                self.u8(if old_null { 0x5A } else { 0 });
            }
            Op::VirtualQuery { h, a, len } => {
                self.u8(6);
                self.opt_handle(h);
                self.addr(a);
                self.raw(len);
            }
            Op::VirtualCopy {
                hs,
                dst,
                src,
                n,
                prot,
            } => {
                self.u8(7);
                match hs {
                    None => self.u8(0),
                    Some((d, s)) => {
                        self.u8(1);
                        self.handle(d);
                        self.handle(s);
                    }
                }
                self.addr(dst);
                self.src(src);
                self.raw(n);
                self.prot_phys(prot);
            }
            Op::VirtualAllocCopyEx {
                hsrc,
                hdst,
                p,
                n,
                prot,
            } => {
                self.u8(8);
                self.handle(hsrc);
                self.handle(hdst);
                self.src(p);
                self.raw(n);
                self.prot_phys(prot);
            }
            Op::LockPages { h, a, n, flags } => {
                self.u8(9);
                self.opt_handle(h);
                self.addr(a);
                self.raw(n);
                self.raw(flags);
            }
            Op::UnlockPages { h, a, n } => {
                self.u8(10);
                self.opt_handle(h);
                self.addr(a);
                self.raw(n);
            }
            Op::AllocPhysMem {
                n,
                prot,
                align,
                flags,
                pa_null,
            } => {
                self.u8(11);
                self.raw(n);
                self.raw(prot);
                self.raw(align);
                self.raw(flags);
                self.u8(if pa_null { 0x5A } else { 0 });
            }
            Op::FreePhysMem { a } => {
                self.u8(12);
                self.addr(a);
            }
            Op::MmMapIoSpace { pa, n, cached } => {
                self.u8(13);
                self.phys(pa);
                self.raw(n);
                self.bool(cached);
            }
            Op::MmUnmapIoSpace { a, n } => {
                self.u8(14);
                self.addr(a);
                self.raw(n);
            }
            Op::VirtualSetAttributes { h, a, n, new, mask } => {
                self.u8(15);
                self.opt_handle(h);
                self.addr(a);
                self.raw(n);
                self.raw(new);
                self.raw(mask);
            }
            Op::CeVirtualSharedAlloc { a, n, action } => {
                self.u8(16);
                self.addr(a);
                self.raw(n);
                self.raw(action);
            }
            Op::ReadProcessMemory { h, a, n } => {
                self.u8(17);
                self.handle(h);
                self.addr(a);
                self.raw(n);
            }
            Op::WriteProcessMemory { h, a, len, seed } => {
                self.u8(18);
                self.handle(h);
                self.addr(a);
                self.u16(len);
                self.u32(seed);
            }
            Op::OpenProcess { access, pid } => {
                self.u8(19);
                self.raw(access);
                self.pid(pid);
            }
            Op::CloseHandle { h } => {
                self.u8(20);
                self.handle(h);
            }
            Op::TerminateProcess { h } => {
                self.u8(21);
                self.handle(h);
            }
            Op::GlobalMemoryStatus => self.u8(22),
            Op::GetSystemInfo => self.u8(23),
            Op::Ids => self.u8(24),
            Op::Read { a, width } => {
                self.u8(25);
                self.addr(a);
                self.width(width);
            }
            Op::Write { a, width, seed } => {
                self.u8(26);
                self.addr(a);
                self.width(width);
                self.u32(seed);
            }
            Op::Execute { a } => {
                self.u8(27);
                self.addr(a);
            }
            Op::SwitchThread => self.u8(29),
            Op::EnterContext {
                process,
                mode,
                vm,
                caller,
                owner,
            } => {
                self.u8(30);
                self.pid(process);
                self.bool(mode == Mode::User);
                self.opt_pid(vm);
                self.opt_pid(caller);
                self.opt_pid(owner);
            }
            Op::CeOpenCallerBuffer {
                src,
                cb,
                desc,
                force,
            } => {
                self.u8(31);
                self.maddr(src);
                self.cb(cb);
                self.raw(desc);
                self.bool(force);
            }
            Op::CeCloseCallerBuffer {
                dest,
                src,
                cb,
                desc,
            } => {
                self.u8(32);
                self.maddr(dest);
                self.maddr(src);
                self.cb(cb);
                self.raw(desc);
            }
            Op::CeAllocAsynchronousBuffer { src, cb, desc } => {
                self.u8(33);
                self.maddr(src);
                self.cb(cb);
                self.raw(desc);
            }
            Op::CeFreeAsynchronousBuffer {
                async_ptr,
                src,
                cb,
                desc,
            } => {
                self.u8(34);
                self.maddr(async_ptr);
                self.maddr(src);
                self.cb(cb);
                self.raw(desc);
            }
            Op::CeFlushAsynchronousBuffer {
                async_ptr,
                src,
                src_unmarshalled,
                cb,
                desc,
            } => {
                self.u8(35);
                self.maddr(async_ptr);
                self.maddr(src);
                self.maddr(src_unmarshalled);
                self.cb(cb);
                self.raw(desc);
            }
            Op::CeAllocDuplicateBuffer { src, cb, desc } => {
                self.u8(36);
                self.maddr(src);
                self.cb(cb);
                self.raw(desc);
            }
            Op::CeFreeDuplicateBuffer {
                dest,
                src,
                cb,
                desc,
            } => {
                self.u8(37);
                self.maddr(dest);
                self.maddr(src);
                self.cb(cb);
                self.raw(desc);
            }
            Op::Sweep => {
                self.u8(28);
                self.u8(MAGIC);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{mem, page};

    #[test]
    fn every_input_decodes_without_panicking() {
        for len in 0..64usize {
            for seed in 0..8u8 {
                let bytes: Vec<u8> = (0..len)
                    .map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed))
                    .collect();
                let (_, ops) = decode(&bytes);
                assert!(ops.len() <= MAX_STEPS);
            }
        }
        assert!(decode(&[0xFF; 4096]).1.len() <= MAX_STEPS);
    }

    #[test]
    fn encode_then_decode_gives_the_same_steps() {
        let cfg = WorldConfig {
            ram_bytes: 3 << 20,
            ram_base: 0x100_0000,
            devices: vec![(0x1000_0000, 0x4000), (0x130_0000, 0x2000)],
            processes: 2,
        };
        let ops = vec![
            Op::Enter {
                pid: P::Nth(1),
                mode: Mode::User,
                caller: Some(P::Raw(7)),
            },
            Op::VirtualAlloc {
                h: Some(H::Opened(3)),
                a: Addr::Abs(0),
                n: 0x3000,
                ty: mem::COMMIT,
                prot: page::READWRITE,
            },
            Op::VirtualCopy {
                hs: Some((H::Pseudo, H::Null)),
                dst: Addr::Ret { back: 1, off: -4 },
                src: Src::Phys(Phys::Dev {
                    dev: 1,
                    frame: 2,
                    off: 3,
                }),
                n: 5,
                prot: page::PHYSICAL | page::READONLY,
            },
            Op::Write {
                a: Addr::Rec {
                    pick: 9,
                    off: 0x123,
                },
                width: Width::N(77),
                seed: 42,
            },
            Op::EnterContext {
                process: P::Nth(0),
                mode: Mode::Kernel,
                vm: Some(P::Nth(1)),
                caller: Some(P::Nth(1)),
                owner: None,
            },
            Op::CeOpenCallerBuffer {
                src: Addr::Ret { back: 0, off: 3 },
                cb: 520,
                desc: 0x8000_000C,
                force: true,
            },
            Op::CeCloseCallerBuffer {
                dest: Addr::Ret { back: 0, off: 0 },
                src: Addr::Abs(0x7FF0_0000),
                cb: 0xFFFF_FFFF,
                desc: 7,
            },
            Op::CeAllocAsynchronousBuffer {
                src: Addr::Rec { pick: 2, off: 0 },
                cb: 521,
                desc: 5,
            },
            Op::CeFreeAsynchronousBuffer {
                async_ptr: Addr::Ret { back: 0, off: 0 },
                src: Addr::Ret { back: 1, off: 0 },
                cb: 0,
                desc: 6,
            },
            Op::CeFlushAsynchronousBuffer {
                async_ptr: Addr::Ret { back: 0, off: 0 },
                src: Addr::Ret { back: 1, off: 0 },
                src_unmarshalled: Addr::Abs(0),
                cb: 4,
                desc: 0xD,
            },
            Op::CeAllocDuplicateBuffer {
                src: Addr::Abs(0x8000_1000),
                cb: 0x1_0000,
                desc: 8,
            },
            Op::CeFreeDuplicateBuffer {
                dest: Addr::Ret { back: 0, off: 0 },
                src: Addr::Ret { back: 2, off: 0 },
                cb: 8,
                desc: 0xE,
            },
            Op::Ids,
            Op::Sweep,
        ];
        assert_eq!(decode(&encode(&cfg, &ops)), (cfg, ops));
    }
}
