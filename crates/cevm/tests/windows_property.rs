//! Property: with host windows on, after every step of a random sequence of calls, every
//! page any step touched is accessible through its window exactly as §6 lets a
//! kernel-mode thread of that process reach it (read from VirtualQueryEx, not from the
//! window code), and its bytes through the window equal those through the checked path.
//! Half the cases run with a budget of 8 mappings: an allowed page the budget left
//! unmapped must be served by the fault path (`Retry`, then accessible). `PROPTEST_CASES=N`
//! runs more cases.
#![cfg(target_os = "linux")]

#[path = "windows_probe.rs"]
mod probe;

use std::collections::BTreeSet;

use cevm::{AllocType, Config, Handle, Kernel, Mode, Pid, Protection, Thread};
use proptest::prelude::*;

const PROTS: [u32; 9] = [0x01, 0x02, 0x04, 0x10, 0x20, 0x40, 0x104, 0x102, 0x204];

#[derive(Debug, Clone)]
enum Op {
    Alloc {
        proc: u8,
        pages: u32,
        commit: bool,
        auto: bool,
        prot: usize,
    },
    Commit {
        rec: u8,
        off: u32,
        pages: u32,
        prot: usize,
    },
    Protect {
        rec: u8,
        off: u32,
        pages: u32,
        prot: usize,
    },
    Decommit {
        rec: u8,
        off: u32,
        pages: u32,
    },
    Release {
        rec: u8,
    },
    Alias {
        rec: u8,
        off: u32,
        pages: u32,
        dst: u8,
        write: bool,
    },
    Shared {
        pages: u32,
    },
    Touch {
        rec: u8,
        off: u32,
        write: bool,
    },
    Fault {
        rec: u8,
        off: u32,
        write: bool,
    },
    Poke {
        rec: u8,
        off: u32,
        value: u8,
    },
    Terminate {
        proc: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let rec = any::<u8>();
    let off = 0u32..10;
    let pages = 1u32..6;
    let prot = 0..PROTS.len();
    prop_oneof![
        3 => (any::<u8>(), 1u32..10, any::<bool>(), prop::bool::weighted(0.2), prot.clone())
            .prop_map(|(proc, pages, commit, auto, prot)| Op::Alloc { proc, pages, commit, auto, prot }),
        2 => (rec, off.clone(), pages.clone(), prot.clone())
            .prop_map(|(rec, off, pages, prot)| Op::Commit { rec, off, pages, prot }),
        3 => (rec, off.clone(), pages.clone(), prot)
            .prop_map(|(rec, off, pages, prot)| Op::Protect { rec, off, pages, prot }),
        2 => (rec, off.clone(), pages.clone()).prop_map(|(rec, off, pages)| Op::Decommit { rec, off, pages }),
        1 => rec.prop_map(|rec| Op::Release { rec }),
        3 => (rec, off.clone(), pages, any::<u8>(), any::<bool>())
            .prop_map(|(rec, off, pages, dst, write)| Op::Alias { rec, off, pages, dst, write }),
        1 => (1u32..4).prop_map(|pages| Op::Shared { pages }),
        2 => (rec, off.clone(), any::<bool>()).prop_map(|(rec, off, write)| Op::Touch { rec, off, write }),
        2 => (rec, off.clone(), any::<bool>()).prop_map(|(rec, off, write)| Op::Fault { rec, off, write }),
        2 => (rec, off, any::<u8>()).prop_map(|(rec, off, value)| Op::Poke { rec, off, value }),
        1 => any::<u8>().prop_map(|proc| Op::Terminate { proc }),
    ]
}

/// A reservation some step made: in whose tables it lives and its pages.
#[derive(Debug, Clone, Copy)]
struct Rec {
    pid: Pid,
    base: u32,
    pages: u32,
}

struct World {
    k: Kernel,
    t: Thread,
    nk: Pid,
    procs: Vec<Pid>,
    /// Base of every window ever made, by process.
    bases: Vec<(Pid, usize)>,
    recs: Vec<Rec>,
    /// Every `(process, page)` a step touched; NK.EXE's stand for every window.
    touched: BTreeSet<(Pid, u32)>,
}

impl World {
    fn new(budget: Option<usize>) -> Self {
        let k = Kernel::boot(Config {
            ram_bytes: 2 << 20,
            host_windows: true,
            window_map_budget: budget,
            ..Config::default()
        })
        .unwrap();
        let procs: Vec<Pid> = (0..3)
            .map(|i| k.create_process(&format!("p{i}.exe")).unwrap())
            .collect();
        let nk = k.kernel_pid();
        let bases = std::iter::once(nk)
            .chain(procs.iter().copied())
            .map(|p| (p, k.window(p).unwrap() as usize))
            .collect();
        let t = k.thread();
        Self {
            k,
            t,
            nk,
            procs,
            bases,
            recs: Vec::new(),
            touched: BTreeSet::new(),
        }
    }

    fn kernel_mode(&mut self, pid: Pid) -> bool {
        self.t.enter(pid, Mode::Kernel, None).is_ok()
    }

    fn rec(&self, i: u8) -> Option<Rec> {
        (!self.recs.is_empty()).then(|| self.recs[i as usize % self.recs.len()])
    }

    fn touch(&mut self, pid: Pid, first: u32, pages: u32) {
        for i in 0..pages {
            self.touched.insert((pid, first.wrapping_add(i * 0x1000)));
        }
    }

    fn step(&mut self, op: &Op) {
        let nk = self.nk;
        self.kernel_mode(nk);
        match *op {
            Op::Alloc {
                proc,
                pages,
                commit,
                auto,
                prot,
            } => {
                let pid = self.procs[proc as usize % self.procs.len()];
                let mut ty = if commit {
                    AllocType::COMMIT
                } else {
                    AllocType::RESERVE
                };
                if auto {
                    ty = AllocType::RESERVE | AllocType::AUTO_COMMIT;
                }
                let prot = Protection::from_bits_retain(if auto { 4 } else { PROTS[prot] });
                if let Ok(base) = self
                    .t
                    .virtual_alloc_ex(pid.into(), 0, pages * 0x1000, ty, prot)
                {
                    self.recs.push(Rec { pid, base, pages });
                    self.touch(pid, base, pages);
                }
            }
            Op::Commit {
                rec,
                off,
                pages,
                prot,
            } => {
                let Some(r) = self.rec(rec) else { return };
                let a = r.base + off % r.pages * 0x1000;
                let p = Protection::from_bits_retain(PROTS[prot]);
                let _ =
                    self.t
                        .virtual_alloc_ex(r.pid.into(), a, pages * 0x1000, AllocType::COMMIT, p);
                self.touch(r.pid, a, pages);
            }
            Op::Protect {
                rec,
                off,
                pages,
                prot,
            } => {
                let Some(r) = self.rec(rec) else { return };
                let a = r.base + off % r.pages * 0x1000;
                let p = Protection::from_bits_retain(PROTS[prot]);
                let _ = self
                    .t
                    .virtual_protect_ex(r.pid.into(), a, pages * 0x1000, p);
                self.touch(r.pid, a, pages);
            }
            Op::Decommit { rec, off, pages } => {
                let Some(r) = self.rec(rec) else { return };
                let a = r.base + off % r.pages * 0x1000;
                let _ =
                    self.t
                        .virtual_free_ex(r.pid.into(), a, pages * 0x1000, AllocType::DECOMMIT);
                self.touch(r.pid, a, pages);
            }
            Op::Release { rec } => {
                let Some(r) = self.rec(rec) else { return };
                let _ = self
                    .t
                    .virtual_free_ex(r.pid.into(), r.base, 0, AllocType::RELEASE);
                self.touch(r.pid, r.base, r.pages);
            }
            Op::Alias {
                rec,
                off,
                pages,
                dst,
                write,
            } => {
                let Some(r) = self.rec(rec) else { return };
                let d = self.procs[dst as usize % self.procs.len()];
                let a = r.base + off % r.pages * 0x1000;
                let prot = if write {
                    Protection::READWRITE
                } else {
                    Protection::READONLY
                };
                if let Ok(p) =
                    self.t
                        .virtual_alloc_copy_ex(r.pid.into(), d.into(), a, pages * 0x1000, prot)
                {
                    self.recs.push(Rec {
                        pid: d,
                        base: p & !0xFFF,
                        pages,
                    });
                    self.touch(d, p & !0xFFF, pages);
                }
            }
            Op::Shared { pages } => {
                let ty = AllocType::RESERVE | AllocType::COMMIT;
                if let Ok(base) = self.t.ce_virtual_shared_alloc(0, pages * 0x1000, ty) {
                    self.recs.push(Rec {
                        pid: nk,
                        base,
                        pages,
                    });
                    self.touch(nk, base, pages);
                }
            }
            Op::Touch { rec, off, write } => {
                let Some(r) = self.rec(rec) else { return };
                let a = r.base + off % r.pages * 0x1000;
                if self.kernel_mode(r.pid) {
                    let _ = if write {
                        self.t.write_u8(a, 1)
                    } else {
                        self.t.read_u8(a).map(drop)
                    };
                }
                self.touch(r.pid, a, 1);
            }
            Op::Fault { rec, off, write } => {
                let Some(r) = self.rec(rec) else { return };
                let a = r.base + off % r.pages * 0x1000;
                if let Some(base) = self.k.window(r.pid) {
                    let _ = self
                        .k
                        .resolve_window_fault(base as usize + a as usize, write);
                }
                self.touch(r.pid, a, 1);
            }
            Op::Poke { rec, off, value } => {
                let Some(r) = self.rec(rec) else { return };
                let a = r.base + off % r.pages * 0x1000;
                if let Some(base) = self.k.window(r.pid) {
                    let p = base.wrapping_add(a as usize + 7);
                    // Writes only where the host allows it: never a fault.
                    probe::write(p, value);
                }
                self.touch(r.pid, a, 1);
            }
            Op::Terminate { proc } => {
                if self.procs.len() > 1 {
                    let pid = self.procs.remove(proc as usize % self.procs.len());
                    self.t.terminate_process(Handle::from(pid), 0).unwrap();
                }
            }
        }
    }

    /// What §6 lets a kernel-mode thread of `pid` do at `va`, from VirtualQueryEx.
    fn allowed(&mut self, pid: Pid, va: u32) -> (bool, bool) {
        let nk = self.nk;
        self.kernel_mode(nk);
        let owner = if va >= 0x7000_0000 { nk } else { pid };
        let Ok(m) = self.t.virtual_query_ex(owner.into(), va, 28) else {
            return (false, false);
        };
        if m.state != AllocType::COMMIT || m.protect.contains(Protection::GUARD) {
            return (false, false);
        }
        match m.protect.bits() & 0xFF {
            0x02 | 0x10 | 0x20 => (true, false),
            0x04 | 0x40 => (true, true),
            _ => (false, false),
        }
    }

    fn verify(&mut self) -> Result<(), TestCaseError> {
        if let Err(e) = self.k.check_invariants() {
            return Err(TestCaseError::fail(e));
        }
        let touched: Vec<(Pid, u32)> = self.touched.iter().copied().collect();
        let bases = self.bases.clone();
        for (owner, va) in touched {
            // Kernel-half pages are checked in every window, others in their own.
            for &(pid, base) in &bases {
                if owner != self.nk && pid != owner && va < 0x7000_0000 {
                    continue;
                }
                if owner == self.nk && va < 0x7000_0000 && pid != owner {
                    continue;
                }
                let p = (base + va as usize) as *mut u8;
                let live = self.k.process(pid).is_some();
                let want = if live {
                    self.allowed(pid, va)
                } else {
                    (false, false)
                };
                let mut have = probe::access(p);
                if want.0 && !have.0 {
                    // Left unmapped by the budget: the fault path must map it.
                    let r = self.k.resolve_window_fault(p as usize, false);
                    prop_assert_eq!(r, cevm::WindowFault::Retry, "{:?} page 0x{:08X}", pid, va);
                    have = probe::access(p);
                }
                prop_assert_eq!(have, want, "{:?} page 0x{:08X}", pid, va);
                let s = self.k.window_stats();
                prop_assert!(s.mappings <= s.budget.max(4), "{:?}", s);
                if want.0 {
                    let direct = probe::read_page(p).unwrap();
                    let mut checked = vec![0u8; 4096];
                    prop_assert!(self.kernel_mode(pid));
                    self.t.read_bytes(va, &mut checked).unwrap();
                    prop_assert!(direct == checked, "bytes of {:?} 0x{:08X} differ", pid, va);
                }
            }
        }
        Ok(())
    }
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(48), ..ProptestConfig::default() })]

    #[test]
    fn every_touched_page_is_reachable_through_its_window_exactly_as_kernel_mode_allows(
        ops in prop::collection::vec(op(), 1..40),
        budget in prop_oneof![Just(None), Just(Some(8usize))],
    ) {
        let mut w = World::new(budget);
        for op in &ops {
            w.step(op);
            w.verify()?;
        }
    }
}
