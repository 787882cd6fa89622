//! Apply-and-compare: each step runs on the real kernel (`cevm::Kernel` + `cevm::Thread`)
//! and on the model, and the two must agree on the return value, the last error, every
//! byte read, every VirtualQuery field, every pfn and every exception. After every step
//! the kernel's own invariant checker runs and every RAM frame's reference count is
//! compared with the model's (which also pins the lowest-free-first allocation order).
//! A [`Op::Sweep`] (and the end of every run) compares every region of every live process
//! through VirtualQueryEx and every known byte of every in-use frame.

use std::collections::BTreeMap;
use std::fmt;

use cevm::{
    AllocType, Config, Handle, Kernel, LockFlags, PageAttributes, Pid, ProcessAccess, Protection,
    Thread,
};

use crate::model::{Ctx, Mode, Model, WorldConfig};
use crate::op::{Env, Op, P, Width, data};
use crate::outcome::{Mbi, Outcome, Ret, first_byte_difference};
use crate::spec;

/// A disagreement between kernel and model, or a broken kernel invariant.
#[derive(Debug, Clone)]
pub struct Mismatch {
    /// Index of the failing step.
    pub step: usize,
    /// The steps run, resolved (the last one failed).
    pub trace: Vec<Op>,
    /// What differed.
    pub what: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "kernel and model disagree at step {}:", self.step)?;
        writeln!(f, "  {}", self.what)?;
        writeln!(f, "resolved steps:")?;
        for (i, op) in self.trace.iter().enumerate() {
            writeln!(f, "  /* {i:3} */ {op:?},")?;
        }
        Ok(())
    }
}

impl std::error::Error for Mismatch {}

/// A kernel and a model side by side, driven by one thread.
pub struct Harness {
    /// The real kernel.
    pub kernel: Kernel,
    /// The thread the steps run on.
    pub thread: Thread,
    /// The other thread (`Op::SwitchThread` exchanges the two).
    pub other: Thread,
    /// A second thread (NK.EXE, kernel mode) for side-effect-free sweeps.
    side: Thread,
    /// The model.
    pub model: Model,
    /// Addresses calls returned, oldest first.
    pub rets: Vec<u32>,
    /// Handles OpenProcess returned, oldest first.
    pub opened: Vec<u32>,
    /// Resolved steps so far.
    pub trace: Vec<Op>,
    /// The kernel's outcome of each step of `trace`.
    pub outcomes: Vec<Outcome>,
    /// Steps run.
    pub steps: usize,
    /// Steps skipped because they hit a known kernel bug ([`crate::known`]).
    pub skipped: usize,
    /// Whether known kernel bugs are skipped (off in the regression tests that pin them).
    pub filter: bool,
    /// How each kind of step ended: (step name, "ok" / "error N" / "raised") → count.
    pub stats: BTreeMap<(&'static str, String), u64>,
}

fn mode(m: Mode) -> cevm::Mode {
    match m {
        Mode::User => cevm::Mode::User,
        Mode::Kernel => cevm::Mode::Kernel,
    }
}

fn fail_or<T>(r: cevm::Result<T>, f: impl FnOnce(T) -> Ret) -> Result<Ret, String> {
    match r {
        Ok(v) => Ok(f(v)),
        Err(e) if e.message.is_empty() => Err(format!("error {} has no message", e.win32())),
        Err(e) => Ok(Ret::Fail(Some(e.step))),
    }
}

fn raised<T>(r: Result<T, cevm::Exception>, f: impl FnOnce(T) -> Ret) -> Ret {
    match r {
        Ok(v) => f(v),
        Err(e) => Ret::Raised {
            code: e.code,
            address: e.address,
            write: e.write,
        },
    }
}

fn bytes(v: &[u8]) -> Ret {
    Ret::Bytes(v.iter().map(|&b| Some(b)).collect())
}

fn mbi(i: cevm::MemoryInfo) -> Ret {
    Ret::Query(Mbi {
        base_address: i.base_address,
        allocation_base: i.allocation_base,
        allocation_protect: i.allocation_protect.bits(),
        region_size: i.region_size,
        state: i.state.bits(),
        protect: i.protect.bits(),
        kind: i.kind.bits(),
    })
}

impl Harness {
    /// Boots a kernel and a model from `cfg` and creates its processes on both.
    pub fn new(cfg: &WorldConfig) -> Result<Self, String> {
        let kernel = Kernel::boot(Config {
            ram_bytes: cfg.ram_bytes,
            ram_base: cfg.ram_base,
            aslr_seed: None,
            // A small batch, so freed frames are given back to the host (and read back
            // as zero) as well as reused while still holding bytes.
            resident_free_frames: 8,
            // Host windows as `CEVM_HOST_WINDOWS` says (the invariant checker then compares
            // every window with the tables after each step).
            ..Config::default()
        })
        .map_err(|e| format!("boot: {e}"))?;
        for (i, &(pa, bytes)) in cfg.devices.iter().enumerate() {
            kernel
                .add_device(&format!("dev{i}"), pa, bytes)
                .map_err(|e| format!("add_device: {e}"))?;
        }
        let mut h = Harness {
            thread: kernel.thread(),
            other: kernel.thread(),
            side: kernel.thread(),
            // With host windows the kernel's allocator prefers runs of frames; the model
            // follows the same rule.
            model: Model {
                prefer_runs: kernel.window(kernel.kernel_pid()).is_some(),
                ..Model::boot(cfg)
            },
            kernel,
            rets: Vec::new(),
            opened: Vec::new(),
            trace: Vec::new(),
            outcomes: Vec::new(),
            steps: 0,
            skipped: 0,
            filter: true,
            stats: BTreeMap::new(),
        };
        for _ in 0..cfg.processes {
            h.step(&Op::CreateProcess).map_err(|m| m.to_string())?;
        }
        h.learn();
        Ok(h)
    }

    /// Runs `ops` on a fresh world, then a final sweep; steps that hit a known kernel
    /// bug are skipped.
    pub fn run(cfg: &WorldConfig, ops: &[Op]) -> Result<Harness, Mismatch> {
        Self::run_with(cfg, ops, true)
    }

    /// As [`run`](Self::run), but every step runs, known kernel bugs included.
    pub fn run_exact(cfg: &WorldConfig, ops: &[Op]) -> Result<Harness, Mismatch> {
        Self::run_with(cfg, ops, false)
    }

    fn run_with(cfg: &WorldConfig, ops: &[Op], filter: bool) -> Result<Harness, Mismatch> {
        let mut h = Harness::new(cfg).map_err(|what| Mismatch {
            step: 0,
            trace: Vec::new(),
            what,
        })?;
        h.filter = filter;
        for op in ops {
            h.step(op)?;
        }
        h.step(&Op::Sweep)?;
        Ok(h)
    }

    fn mismatch(&self, what: String) -> Mismatch {
        Mismatch {
            step: self.trace.len().saturating_sub(1),
            trace: self.trace.clone(),
            what,
        }
    }

    /// Runs one step on both sides and compares.
    pub fn step(&mut self, op: &Op) -> Result<(), Mismatch> {
        let env = Env::of(&self.model, &self.rets, &self.opened);
        let op = op.resolve(&env);
        if self.filter && crate::known::skip(&self.model, &op).is_some() {
            self.skipped += 1;
            return Ok(());
        }
        self.trace.push(op.clone());
        self.steps += 1;
        let k = self.kernel_apply(&op).map_err(|w| self.mismatch(w))?;
        let m = self.model_apply(&op);
        let agreed = m.allows(&k)
            || (self.filter && crate::known::tolerate(&self.model, &op, &m, &k).is_some());
        if !agreed {
            let at = first_byte_difference(&m, &k)
                .map(|i| format!(" (first differing byte at offset {i})"))
                .unwrap_or_default();
            return Err(self.mismatch(format!("kernel: {k}\n  model:  {m}{at}")));
        }
        let how = match k.ret {
            Ret::Fail(_) => format!("error {}", k.last_error),
            Ret::Raised { address, .. } => {
                let st = self.model.state(self.model.ctx.vm, u64::from(address));
                let what = match st {
                    crate::model::State::Free => "free",
                    crate::model::State::Reserved(_) => "reserved",
                    crate::model::State::Committed(_) => "committed",
                };
                format!("raised/{what}")
            }
            Ret::Marshal { hr, out } => {
                format!("hr {hr:08X}{}", if out.is_some() { " +out" } else { "" })
            }
            _ => "ok".to_string(),
        };
        *self.stats.entry((op.name(), how)).or_default() += 1;
        self.outcomes.push(k.clone());
        self.remember(&op, &k.ret);
        if let Err(e) = self.kernel.check_invariants() {
            return Err(self.mismatch(format!("kernel invariant broken: {e}")));
        }
        self.compare_frames()?;
        self.learn();
        if op == Op::Sweep {
            self.sweep()?;
        }
        Ok(())
    }

    /// Keeps returned addresses and opened handles for later symbolic arguments.
    fn remember(&mut self, op: &Op, ret: &Ret) {
        let v = match (op, ret) {
            (Op::OpenProcess { .. }, Ret::Value(h)) => {
                self.opened.push(*h);
                return;
            }
            (
                Op::VirtualAlloc { .. }
                | Op::VirtualAllocCopyEx { .. }
                | Op::MmMapIoSpace { .. }
                | Op::CeVirtualSharedAlloc { .. },
                Ret::Value(v),
            ) => *v,
            (Op::AllocPhysMem { .. }, Ret::Phys { va, .. }) => *va,
            (
                Op::CeOpenCallerBuffer { .. }
                | Op::CeAllocAsynchronousBuffer { .. }
                | Op::CeAllocDuplicateBuffer { .. },
                Ret::Marshal { out: Some(v), .. },
            ) => *v,
            _ => return,
        };
        self.rets.push(v);
        if self.rets.len() > 16 {
            self.rets.remove(0);
        }
    }

    /// Every RAM frame's reference count, kernel against model.
    fn compare_frames(&self) -> Result<(), Mismatch> {
        let k = self.kernel.phys().ref_counts();
        if k != self.model.refs {
            let i = k
                .iter()
                .zip(&self.model.refs)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            return Err(self.mismatch(format!(
                "frame reference counts differ first at RAM frame {i}: kernel {:?}, model {:?}",
                k.get(i),
                self.model.refs.get(i)
            )));
        }
        Ok(())
    }

    /// The bytes of frame `pfn` as the kernel holds them.
    fn frame_bytes(&self, pfn: u64) -> Option<Vec<u8>> {
        self.kernel.phys().frame_contents(cevm::Pfn(pfn))
    }

    /// Fills the model's unknown bytes of in-use frames from the kernel.
    fn learn(&mut self) {
        let pending: Vec<u64> = std::mem::take(&mut self.model.unknown)
            .into_iter()
            .collect();
        for pfn in pending {
            if let Some(bytes) = self.frame_bytes(pfn) {
                self.model.learn(pfn, &bytes);
            }
        }
    }

    /// Compares every region of every live process and every known byte of every in-use
    /// frame, without side effects.
    pub fn sweep(&mut self) -> Result<(), Mismatch> {
        let pids: Vec<u32> = self
            .model
            .procs
            .values()
            .filter(|p| p.alive)
            .map(|p| p.pid)
            .collect();
        for pid in pids {
            let end: u64 = if pid == self.model.nk {
                1 << 32
            } else {
                u64::from(spec::SHARED_HEAP)
            };
            let mut a = u64::from(spec::USER_BASE);
            while a < end {
                let k = self
                    .side
                    .virtual_query_ex(Handle(pid), a as u32, spec::MBI_SIZE);
                let m = self.model.query(pid, a as u32, spec::MBI_SIZE, false);
                let (k, m) = match (k, m) {
                    (Ok(k), Ok(m)) => (k, m),
                    (k, m) => {
                        return Err(self.mismatch(format!(
                            "sweep of 0x{pid:X} at 0x{a:08X}: kernel {k:X?}, model {m:X?}"
                        )));
                    }
                };
                let Ret::Query(kq) = mbi(k) else {
                    unreachable!("mbi always builds a query")
                };
                if kq != m {
                    return Err(self.mismatch(format!(
                        "sweep of 0x{pid:X} at 0x{a:08X}:\n  kernel {kq:X?}\n  model  {m:X?}"
                    )));
                }
                if m.region_size == 0 {
                    break;
                }
                a += u64::from(m.region_size);
            }
        }
        let mut frames: Vec<u64> = self.model.data.keys().copied().collect();
        frames.retain(|&f| {
            self.model
                .ram_index(f)
                .map_or(self.model.is_device(f), |i| self.model.refs[i] > 0)
        });
        for pfn in frames {
            let Some(k) = self.frame_bytes(pfn) else {
                return Err(self.mismatch(format!("frame 0x{pfn:X} has no host memory")));
            };
            if let Some(m) = self.model.data.get(&pfn)
                && let Some(i) = (0..k.len()).find(|&i| m[i].is_some_and(|b| b != k[i]))
            {
                return Err(self.mismatch(format!(
                    "frame 0x{pfn:X} byte 0x{i:X}: kernel {:02x}, model {:02x?}",
                    k[i], m[i]
                )));
            }
        }
        Ok(())
    }

    /// The kernel's outcome of a resolved step.
    fn kernel_apply(&mut self, op: &Op) -> Result<Outcome, String> {
        let t = &mut self.thread;
        let ret = match *op {
            Op::CreateProcess => {
                let name = format!("p{}.exe", self.steps);
                fail_or(self.kernel.create_process(&name), |p| Ret::Value(p.0))?
            }
            Op::Enter {
                pid,
                mode: m,
                caller,
            } => {
                let caller = caller.map(|c| Pid(c.value()));
                match t.enter(Pid(pid.value()), mode(m), caller) {
                    Ok(()) => Ret::Done,
                    Err(e) => Ret::Fail(Some(e.step)),
                }
            }
            Op::SetLastError(v) => {
                t.set_last_error(v);
                Ret::Done
            }
            Op::SwitchThread => {
                std::mem::swap(&mut self.thread, &mut self.other);
                Ret::Done
            }
            Op::VirtualAlloc { h, a, n, ty, prot } => {
                let (ty, prot) = (
                    AllocType::from_bits_retain(ty),
                    Protection::from_bits_retain(prot),
                );
                let r = match h {
                    None => t.virtual_alloc(a.value(), n, ty, prot),
                    Some(h) => t.virtual_alloc_ex(Handle(h.value()), a.value(), n, ty, prot),
                };
                fail_or(r, Ret::Value)?
            }
            Op::VirtualFree { h, a, n, ty } => {
                let ty = AllocType::from_bits_retain(ty);
                let r = match h {
                    None => t.virtual_free(a.value(), n, ty),
                    Some(h) => t.virtual_free_ex(Handle(h.value()), a.value(), n, ty),
                };
                fail_or(r, |_| Ret::Done)?
            }
            Op::VirtualProtect {
                h,
                a,
                n,
                prot,
                old_null,
            } => {
                if old_null {
                    let ok = match h {
                        None => cevm::ce::virtual_protect(t, a.value(), n, prot, None),
                        Some(h) => cevm::ce::virtual_protect_ex(
                            t,
                            Handle(h.value()),
                            a.value(),
                            n,
                            prot,
                            None,
                        ),
                    };
                    if ok { Ret::Done } else { Ret::Fail(None) }
                } else {
                    let prot = Protection::from_bits_retain(prot);
                    let r = match h {
                        None => t.virtual_protect(a.value(), n, prot),
                        Some(h) => t.virtual_protect_ex(Handle(h.value()), a.value(), n, prot),
                    };
                    fail_or(r, |p| Ret::Value(p.bits()))?
                }
            }
            Op::VirtualQuery { h, a, len } => {
                let r = match h {
                    None => t.virtual_query(a.value(), len),
                    Some(h) => t.virtual_query_ex(Handle(h.value()), a.value(), len),
                };
                fail_or(r, mbi)?
            }
            Op::VirtualCopy {
                hs,
                dst,
                src,
                n,
                prot,
            } => {
                let p = Protection::from_bits_retain(prot);
                let r = match hs {
                    None => t.virtual_copy(dst.value(), src.value(), n, p),
                    Some((hd, hsrc)) => t.virtual_copy_ex(
                        Handle(hd.value()),
                        dst.value(),
                        Handle(hsrc.value()),
                        src.value(),
                        n,
                        p,
                    ),
                };
                fail_or(r, |_| Ret::Done)?
            }
            Op::VirtualAllocCopyEx {
                hsrc,
                hdst,
                p,
                n,
                prot,
            } => fail_or(
                t.virtual_alloc_copy_ex(
                    Handle(hsrc.value()),
                    Handle(hdst.value()),
                    p.value(),
                    n,
                    Protection::from_bits_retain(prot),
                ),
                Ret::Value,
            )?,
            Op::LockPages { h, a, n, flags } => {
                let f = LockFlags::from_bits_retain(flags);
                let r = match h {
                    None => t.lock_pages(a.value(), n, f),
                    Some(h) => t.lock_pages_ex(Handle(h.value()), a.value(), n, f),
                };
                fail_or(r, Ret::Pfns)?
            }
            Op::UnlockPages { h, a, n } => {
                let r = match h {
                    None => t.unlock_pages(a.value(), n),
                    Some(h) => t.unlock_pages_ex(Handle(h.value()), a.value(), n),
                };
                fail_or(r, |_| Ret::Done)?
            }
            Op::AllocPhysMem {
                n,
                prot,
                align,
                flags,
                pa_null,
            } => {
                if pa_null {
                    match cevm::ce::alloc_phys_mem(t, n, prot, align, flags, None) {
                        0 => Ret::Fail(None),
                        v => Ret::Value(v),
                    }
                } else {
                    let r = t.alloc_phys_mem(n, Protection::from_bits_retain(prot), align, flags);
                    fail_or(r, |(va, pa)| Ret::Phys { va, pa })?
                }
            }
            Op::FreePhysMem { a } => fail_or(t.free_phys_mem(a.value()), |_| Ret::Done)?,
            Op::MmMapIoSpace { pa, n, cached } => {
                fail_or(t.mm_map_io_space(pa.value(), n, cached), Ret::Value)?
            }
            Op::MmUnmapIoSpace { a, n } => {
                fail_or(t.mm_unmap_io_space(a.value(), n), |_| Ret::Done)?
            }
            Op::VirtualSetAttributes { h, a, n, new, mask } => {
                let (new, mask) = (
                    PageAttributes::from_bits_retain(new),
                    PageAttributes::from_bits_retain(mask),
                );
                let r = match h {
                    None => t.virtual_set_attributes(a.value(), n, new, mask),
                    Some(h) => {
                        t.virtual_set_attributes_ex(Handle(h.value()), a.value(), n, new, mask)
                    }
                };
                fail_or(r, |o| Ret::Value(o.bits()))?
            }
            Op::CeVirtualSharedAlloc { a, n, action } => fail_or(
                t.ce_virtual_shared_alloc(a.value(), n, AllocType::from_bits_retain(action)),
                Ret::Value,
            )?,
            Op::ReadProcessMemory { h, a, n } => fail_or(
                t.read_process_memory(Handle(h.value()), a.value(), n),
                |v| bytes(&v),
            )?,
            Op::WriteProcessMemory { h, a, len, seed } => {
                let d = data(usize::from(len), seed);
                fail_or(
                    t.write_process_memory(Handle(h.value()), a.value(), &d),
                    |n| Ret::Value(n as u32),
                )?
            }
            Op::OpenProcess { access, pid } => fail_or(
                t.open_process(
                    ProcessAccess::from_bits_retain(access),
                    false,
                    Pid(pid.value()),
                ),
                |h| Ret::Value(h.0),
            )?,
            Op::CloseHandle { h } => fail_or(t.close_handle(Handle(h.value())), |_| Ret::Done)?,
            Op::TerminateProcess { h } => {
                fail_or(t.terminate_process(Handle(h.value()), 0), |_| Ret::Done)?
            }
            Op::GlobalMemoryStatus => {
                let s = t.global_memory_status();
                Ret::Status([
                    s.length,
                    s.memory_load,
                    s.total_phys,
                    s.avail_phys,
                    s.total_page_file,
                    s.avail_page_file,
                    s.total_virtual,
                    s.avail_virtual,
                ])
            }
            Op::GetSystemInfo => {
                let s = t.get_system_info();
                Ret::Info([
                    u32::from(s.processor_architecture),
                    s.page_size,
                    s.minimum_application_address,
                    s.maximum_application_address,
                    s.active_processor_mask,
                    s.number_of_processors,
                    s.processor_type,
                    s.allocation_granularity,
                ])
            }
            Op::Ids => Ret::Ids([
                t.current_process_id().0,
                t.caller_vm_process_id().0,
                t.direct_caller_process_id().0,
                t.owner_process().0,
                t.caller_process(),
            ]),
            Op::EnterContext {
                process,
                mode: m,
                vm,
                caller,
                owner,
            } => {
                let ctx = cevm::Context {
                    process: Pid(process.value()),
                    mode: mode(m),
                    vm: vm.map(|p| Pid(p.value())),
                    caller: caller.map(|p| Pid(p.value())),
                    owner: owner.map(|p| Pid(p.value())),
                };
                match t.enter_context(ctx) {
                    Ok(()) => Ret::Done,
                    Err(e) => Ret::Fail(Some(e.step)),
                }
            }
            Op::CeOpenCallerBuffer {
                src,
                cb,
                desc,
                force,
            } => handed(t.ce_open_caller_buffer(src.value(), cb, ArgDescriptor(desc), force)),
            Op::CeCloseCallerBuffer {
                dest,
                src,
                cb,
                desc,
            } => hresult(t.ce_close_caller_buffer(
                dest.value(),
                src.value(),
                cb,
                ArgDescriptor(desc),
            )),
            Op::CeAllocAsynchronousBuffer { src, cb, desc } => {
                handed(t.ce_alloc_asynchronous_buffer(src.value(), cb, ArgDescriptor(desc)))
            }
            Op::CeFreeAsynchronousBuffer {
                async_ptr,
                src,
                cb,
                desc,
            } => hresult(t.ce_free_asynchronous_buffer(
                async_ptr.value(),
                src.value(),
                cb,
                ArgDescriptor(desc),
            )),
            Op::CeFlushAsynchronousBuffer {
                async_ptr,
                src,
                src_unmarshalled,
                cb,
                desc,
            } => hresult(t.ce_flush_asynchronous_buffer(
                async_ptr.value(),
                src.value(),
                src_unmarshalled.value(),
                cb,
                ArgDescriptor(desc),
            )),
            Op::CeAllocDuplicateBuffer { src, cb, desc } => {
                handed(t.ce_alloc_duplicate_buffer(src.value(), cb, ArgDescriptor(desc)))
            }
            Op::CeFreeDuplicateBuffer {
                dest,
                src,
                cb,
                desc,
            } => hresult(t.ce_free_duplicate_buffer(
                dest.value(),
                src.value(),
                cb,
                ArgDescriptor(desc),
            )),
            Op::Read { a, width } => {
                let a = a.value();
                match width {
                    Width::B1 => raised(t.read_u8(a), |v| bytes(&[v])),
                    Width::B2 => raised(t.read_u16(a), |v| bytes(&v.to_le_bytes())),
                    Width::B4 => raised(t.read_u32(a), |v| bytes(&v.to_le_bytes())),
                    Width::N(n) => {
                        let mut buf = vec![0u8; usize::from(n)];
                        raised(t.read_bytes(a, &mut buf), |()| bytes(&buf))
                    }
                }
            }
            Op::Write { a, width, seed } => {
                let a = a.value();
                let d = data(width.len(), seed);
                let r = match width {
                    Width::B1 => t.write_u8(a, d[0]),
                    Width::B2 => t.write_u16(a, u16::from_le_bytes([d[0], d[1]])),
                    Width::B4 => t.write_u32(a, u32::from_le_bytes([d[0], d[1], d[2], d[3]])),
                    Width::N(_) => t.write_bytes(a, &d),
                };
                raised(r, |()| Ret::Done)
            }
            Op::Execute { a } => raised(t.execute(a.value()), |()| Ret::Done),
            Op::Sweep => Ret::Done,
        };
        if let Ret::Fail(_) = ret
            && !op.is_access()
            && !matches!(
                op,
                Op::Enter { .. } | Op::EnterContext { .. } | Op::CreateProcess | Op::SwitchThread
            )
            && self.thread.last_error() == 0
        {
            return Err("a failed call left the last error at 0".into());
        }
        Ok(Outcome {
            ret,
            last_error: self.thread.last_error(),
        })
    }

    /// The model's outcome of a resolved step.
    fn model_apply(&mut self, op: &Op) -> Outcome {
        let m = &mut self.model;
        match *op {
            Op::CreateProcess => {
                let ret = match m.create_process() {
                    Ok(pid) => Ret::Value(pid),
                    Err(_) => Ret::Fail(Some("host")),
                };
                Outcome {
                    ret,
                    last_error: m.last_error,
                }
            }
            Op::Enter { pid, mode, caller } => {
                let ctx = Ctx::new(pid.value(), mode, None, caller.map(|c| c.value()), None);
                enter(m, ctx)
            }
            Op::EnterContext {
                process,
                mode,
                vm,
                caller,
                owner,
            } => {
                let v = |p: Option<P>| p.map(|p| p.value());
                let ctx = Ctx::new(process.value(), mode, v(vm), v(caller), v(owner));
                enter(m, ctx)
            }
            Op::CeOpenCallerBuffer {
                src,
                cb,
                desc,
                force,
            } => marshal(m, |m| {
                handed_model(m.ce_open_caller_buffer(src.value(), cb, desc, force))
            }),
            Op::CeCloseCallerBuffer {
                dest,
                src,
                cb,
                desc,
            } => marshal(m, |m| {
                hr_model(m.ce_close_caller_buffer(dest.value(), src.value(), cb, desc))
            }),
            Op::CeAllocAsynchronousBuffer { src, cb, desc } => marshal(m, |m| {
                handed_model(m.ce_alloc_asynchronous_buffer(src.value(), cb, desc))
            }),
            Op::CeFreeAsynchronousBuffer {
                async_ptr,
                src,
                cb,
                desc,
            } => marshal(m, |m| {
                hr_model(m.ce_free_asynchronous_buffer(async_ptr.value(), src.value(), cb, desc))
            }),
            Op::CeFlushAsynchronousBuffer {
                async_ptr,
                src,
                src_unmarshalled,
                cb,
                desc,
            } => marshal(m, |m| {
                hr_model(m.ce_flush_asynchronous_buffer(
                    async_ptr.value(),
                    src.value(),
                    src_unmarshalled.value(),
                    cb,
                    desc,
                ))
            }),
            Op::CeAllocDuplicateBuffer { src, cb, desc } => marshal(m, |m| {
                handed_model(m.ce_alloc_duplicate_buffer(src.value(), cb, desc))
            }),
            Op::CeFreeDuplicateBuffer {
                dest,
                src,
                cb,
                desc,
            } => marshal(m, |m| {
                hr_model(m.ce_free_duplicate_buffer(dest.value(), src.value(), cb, desc))
            }),
            Op::SetLastError(v) => {
                m.last_error = v;
                Outcome {
                    ret: Ret::Done,
                    last_error: v,
                }
            }
            Op::SwitchThread => {
                let (ctx, e) = m.other;
                m.other = (m.ctx, m.last_error);
                m.ctx = ctx;
                m.last_error = e;
                Outcome {
                    ret: Ret::Done,
                    last_error: e,
                }
            }
            Op::VirtualAlloc { h, a, n, ty, prot } => {
                m.call(|m| m.virtual_alloc(h.map(|h| h.value()), a.value(), n, ty, prot))
            }
            Op::VirtualFree { h, a, n, ty } => {
                m.call(|m| m.virtual_free(h.map(|h| h.value()), a.value(), n, ty))
            }
            Op::VirtualProtect {
                h,
                a,
                n,
                prot,
                old_null,
            } => m.call(|m| {
                let r = m.virtual_protect(h.map(|h| h.value()), a.value(), n, prot, old_null);
                if old_null { r.map(|_| Ret::Done) } else { r }
            }),
            Op::VirtualQuery { h, a, len } => {
                m.call(|m| m.virtual_query(h.map(|h| h.value()), a.value(), len))
            }
            Op::VirtualCopy {
                hs,
                dst,
                src,
                n,
                prot,
            } => m.call(|m| {
                m.virtual_copy(
                    hs.map(|(d, s)| (d.value(), s.value())),
                    dst.value(),
                    src.value(),
                    n,
                    prot,
                )
            }),
            Op::VirtualAllocCopyEx {
                hsrc,
                hdst,
                p,
                n,
                prot,
            } => {
                m.call(|m| m.virtual_alloc_copy_ex(hsrc.value(), hdst.value(), p.value(), n, prot))
            }
            Op::LockPages { h, a, n, flags } => {
                m.call(|m| m.lock_pages(h.map(|h| h.value()), a.value(), n, flags))
            }
            Op::UnlockPages { h, a, n } => {
                m.call(|m| m.unlock_pages(h.map(|h| h.value()), a.value(), n))
            }
            Op::AllocPhysMem {
                n,
                prot,
                align,
                flags,
                pa_null,
            } => m.call(|m| m.alloc_phys_mem(n, prot, align, flags, pa_null)),
            Op::FreePhysMem { a } => m.call(|m| m.free_phys_mem(a.value())),
            Op::MmMapIoSpace { pa, n, cached } => {
                m.call(|m| m.mm_map_io_space(pa.value(), n, cached))
            }
            Op::MmUnmapIoSpace { a, .. } => m.call(|m| m.mm_unmap_io_space(a.value())),
            Op::VirtualSetAttributes { h, a, n, new, mask } => {
                m.call(|m| m.virtual_set_attributes(h.map(|h| h.value()), a.value(), n, new, mask))
            }
            Op::CeVirtualSharedAlloc { a, n, action } => {
                m.call(|m| m.ce_virtual_shared_alloc(a.value(), n, action))
            }
            Op::ReadProcessMemory { h, a, n } => {
                m.call(|m| m.read_process_memory(h.value(), a.value(), n))
            }
            Op::WriteProcessMemory { h, a, len, seed } => {
                let d = data(usize::from(len), seed);
                m.call(|m| m.write_process_memory(h.value(), a.value(), &d))
            }
            Op::OpenProcess { access, pid } => m.call(|m| m.open_process(access, pid.value())),
            Op::CloseHandle { h } => m.call(|m| m.close_handle(h.value())),
            Op::TerminateProcess { h } => m.call(|m| m.terminate_process(h.value())),
            Op::GlobalMemoryStatus => m.call(|m| Ok(Ret::Status(m.global_memory_status()))),
            Op::GetSystemInfo => m.call(|m| Ok(Ret::Info(m.system_info()))),
            Op::Ids => m.call(|m| Ok(Ret::Ids(m.ids()))),
            Op::Read { a, width } => {
                let ret = match m.thread_read(a.value(), width.len() as u64) {
                    Ok(b) => Ret::Bytes(b),
                    Err(f) => fault(f),
                };
                Outcome {
                    ret,
                    last_error: m.last_error,
                }
            }
            Op::Write { a, width, seed } => {
                let d = data(width.len(), seed);
                let ret = match m.thread_write(a.value(), &d) {
                    Ok(()) => Ret::Done,
                    Err(f) => fault(f),
                };
                Outcome {
                    ret,
                    last_error: m.last_error,
                }
            }
            Op::Execute { a } => {
                let ret = match m.thread_execute(a.value()) {
                    Ok(()) => Ret::Done,
                    Err(f) => fault(f),
                };
                Outcome {
                    ret,
                    last_error: m.last_error,
                }
            }
            Op::Sweep => Outcome {
                ret: Ret::Done,
                last_error: m.last_error,
            },
        }
    }
}

/// Enters `ctx` when every process it names is live (§2; nothing changes otherwise, and
/// the last error stays).
fn enter(m: &mut Model, ctx: Ctx) -> Outcome {
    let live = m.alive(ctx.active)
        && m.alive(ctx.vm)
        && m.alive(ctx.owner)
        && ctx.caller.is_none_or(|c| m.alive(c));
    if live {
        m.ctx = ctx;
    }
    Outcome {
        ret: if live {
            Ret::Done
        } else {
            Ret::Fail(Some("host"))
        },
        last_error: m.last_error,
    }
}

/// A helper's outcome on the model (the helper keeps the last error itself).
fn marshal(m: &mut Model, f: impl FnOnce(&mut Model) -> Ret) -> Outcome {
    let ret = f(m);
    Outcome {
        ret,
        last_error: m.last_error,
    }
}

fn handed_model(r: crate::marshal::Handed) -> Ret {
    match r {
        Ok(p) => Ret::Marshal {
            hr: 0,
            out: Some(p),
        },
        Err((hr, out)) => Ret::Marshal { hr, out },
    }
}

fn hr_model(hr: u32) -> Ret {
    Ret::Marshal { hr, out: None }
}

use cevm::ArgDescriptor;

fn handed(r: Result<u32, cevm::MarshalFailure>) -> Ret {
    match r {
        Ok(p) => Ret::Marshal {
            hr: 0,
            out: Some(p),
        },
        Err(f) => Ret::Marshal {
            hr: f.hr.0,
            out: f.written,
        },
    }
}

fn hresult(r: Result<(), cevm::HResult>) -> Ret {
    match r {
        Ok(()) => Ret::Marshal { hr: 0, out: None },
        Err(h) => Ret::Marshal { hr: h.0, out: None },
    }
}

fn fault(f: crate::touch::Fault) -> Ret {
    Ret::Raised {
        code: spec::STATUS_ACCESS_VIOLATION,
        address: f.address,
        write: f.write,
    }
}
