//! The concurrency stress workload behind `cevm stress`: many host threads make random
//! calls on shared processes (aliases across them, terminations mid-flight) while a
//! checker thread runs the invariant checker; afterwards every process is ended and every
//! RAM frame must be free again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cevm::{
    AllocType, Config, Handle, Kernel, LockFlags, Mode, Pid, ProcessAccess, Protection, Thread,
};

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Worker threads.
    pub threads: usize,
    /// How long they run.
    pub duration: Duration,
    /// Seed of every thread's random choices (thread i uses seed + i).
    pub seed: u64,
    /// RAM of the kernel, MiB (small, so exhaustion happens too).
    pub ram_mb: u64,
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Calls made by all workers.
    pub calls: u64,
    /// Calls that failed with an error code (expected: random arguments).
    pub failed_calls: u64,
    /// Processes terminated while others were using them.
    pub terminations: u64,
    /// Invariant checks run while the workers ran, and after.
    pub checks: u64,
    /// Invariant violations seen (each with its message).
    pub violations: Vec<String>,
    /// RAM frames not free once every process has ended.
    pub leaked_frames: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// A tiny deterministic generator (xorshift64*); the workload needs variety, not quality.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<T: Copy>(&mut self, v: &[T]) -> Option<T> {
        (!v.is_empty()).then(|| v[self.below(v.len() as u64) as usize])
    }
}

/// Processes the workers share: the live ones and the allocations known in each.
#[derive(Default)]
struct Shared {
    processes: Vec<Pid>,
    /// (process, address, size) of committed regions someone made.
    regions: Vec<(Pid, u32, u32)>,
}

/// Runs the plan and reports.
pub fn run(plan: Plan) -> Result<Report, String> {
    let kernel = Kernel::boot(Config {
        ram_bytes: plan.ram_mb << 20,
        ..Config::default()
    })
    .map_err(|e| e.to_string())?;
    let total = kernel.phys().total_frames();
    let shared = Arc::new(Mutex::new(Shared::default()));
    for i in 0..4 {
        let pid = kernel
            .create_process(&format!("shared{i}.exe"))
            .map_err(|e| e.to_string())?;
        lock(&shared).processes.push(pid);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let terminations = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let checker = {
        let (kernel, stop) = (kernel.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut checks, mut violations) = (0u64, Vec::new());
            while !stop.load(Ordering::Acquire) {
                checks += 1;
                if let Err(e) = kernel.check_invariants() {
                    violations.push(e);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (checks, violations)
        })
    };
    let workers: Vec<_> = (0..plan.threads)
        .map(|i| {
            let kernel = kernel.clone();
            let shared = shared.clone();
            let stop = stop.clone();
            let counters = (calls.clone(), failed.clone(), terminations.clone());
            let seed = plan.seed.wrapping_add(i as u64) | 1;
            std::thread::spawn(move || {
                let mut w = Worker {
                    t: kernel.thread(),
                    kernel,
                    shared,
                    rng: Rng(seed),
                    calls: 0,
                    failed: 0,
                    terminations: 0,
                };
                while !stop.load(Ordering::Acquire) {
                    w.step();
                }
                counters.0.fetch_add(w.calls, Ordering::Relaxed);
                counters.1.fetch_add(w.failed, Ordering::Relaxed);
                counters.2.fetch_add(w.terminations, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(plan.duration);
    stop.store(true, Ordering::Release);
    let mut report = Report::default();
    for w in workers {
        if w.join().is_err() {
            report.violations.push("a worker thread panicked".into());
        }
    }
    let (checks, violations) = checker
        .join()
        .map_err(|_| "the checker thread panicked".to_string())?;
    report.elapsed = start.elapsed();
    report.checks = checks + 1;
    report.violations.extend(violations);
    if let Err(e) = kernel.check_invariants() {
        report.violations.push(format!("after the run: {e}"));
    }
    let mut t = kernel.thread();
    for p in kernel.processes() {
        if !p.is_kernel() {
            let _ = t.terminate_process(Handle::from(p.pid()), 0);
        }
    }
    if let Err(e) = kernel.check_invariants() {
        report
            .violations
            .push(format!("after ending every process: {e}"));
    }
    report.leaked_frames = total - kernel.phys().free_frames();
    report.calls = calls.load(Ordering::Relaxed);
    report.failed_calls = failed.load(Ordering::Relaxed);
    report.terminations = terminations.load(Ordering::Relaxed);
    Ok(report)
}

fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Worker {
    kernel: Kernel,
    t: Thread,
    shared: Arc<Mutex<Shared>>,
    rng: Rng,
    calls: u64,
    failed: u64,
    terminations: u64,
}

const RW: Protection = Protection::READWRITE;

impl Worker {
    fn count<T>(&mut self, r: cevm::Result<T>) -> Option<T> {
        self.calls += 1;
        match r {
            Ok(v) => Some(v),
            Err(_) => {
                self.failed += 1;
                None
            }
        }
    }

    fn some_process(&mut self) -> Option<Pid> {
        let procs = lock(&self.shared).processes.clone();
        self.rng.pick(&procs)
    }

    fn some_region(&mut self) -> Option<(Pid, u32, u32)> {
        let regions = lock(&self.shared).regions.clone();
        self.rng.pick(&regions)
    }

    fn size(&mut self) -> u32 {
        match self.rng.below(4) {
            0 => 1 + self.rng.below(0x100) as u32,
            1 => 0x1000,
            2 => 0x1000 * (1 + self.rng.below(16) as u32),
            _ => self.rng.below(0x40000) as u32,
        }
    }

    /// One random action; every call's failure is fine, a panic or violation is not.
    fn step(&mut self) {
        let Some(pid) = self.some_process() else {
            let p = self.kernel.create_process("late.exe");
            if let Some(p) = self.count(p) {
                lock(&self.shared).processes.push(p);
            }
            return;
        };
        let mode = if self.rng.below(3) == 0 {
            Mode::User
        } else {
            Mode::Kernel
        };
        if self.t.enter(pid, mode, None).is_err() {
            return;
        }
        let h = Handle::from(pid);
        match self.rng.below(12) {
            0..=2 => {
                let n = self.size();
                let r = self.t.virtual_alloc(0, n, AllocType::COMMIT, RW);
                if let Some(a) = self.count(r) {
                    lock(&self.shared).regions.push((pid, a, n));
                }
            }
            3 => {
                let Some((p, a, _)) = self.some_region() else {
                    return;
                };
                let r = self
                    .t
                    .virtual_free_ex(Handle::from(p), a & !0xFFFF, 0, AllocType::RELEASE);
                if self.count(r).is_some() {
                    lock(&self.shared)
                        .regions
                        .retain(|&(q, b, _)| (q, b) != (p, a));
                }
            }
            4..=5 => {
                let Some((src, a, n)) = self.some_region() else {
                    return;
                };
                let Some(dst) = self.some_process() else {
                    return;
                };
                self.t.enter(dst, Mode::Kernel, Some(src)).ok();
                let off = self.rng.below(u64::from(n.max(1))) as u32;
                let prot = if self.rng.below(2) == 0 {
                    RW
                } else {
                    Protection::READONLY
                };
                let r = self.t.virtual_alloc_copy_ex(
                    Handle::from(src),
                    Handle::from(dst),
                    a + off,
                    (n - off).max(1),
                    prot,
                );
                if let Some(p) = self.count(r) {
                    lock(&self.shared).regions.push((dst, p & !0xFFFF, n - off));
                }
            }
            6 => {
                let Some((p, a, n)) = self.some_region() else {
                    return;
                };
                if p == pid {
                    let v = self.rng.next() as u32;
                    let _ = self.t.write_u32(a + self.rng.below(u64::from(n)) as u32, v);
                    let _ = self.t.read_u32(a);
                    self.calls += 2;
                }
            }
            7 => {
                let Some((p, a, n)) = self.some_region() else {
                    return;
                };
                let prot = [
                    Protection::READONLY,
                    RW,
                    Protection::NOACCESS,
                    RW | Protection::GUARD,
                ][self.rng.below(4) as usize];
                let r = self.t.virtual_protect_ex(Handle::from(p), a, n, prot);
                self.count(r);
            }
            8 => {
                let Some((p, a, n)) = self.some_region() else {
                    return;
                };
                self.t.enter(p, Mode::Kernel, None).ok();
                let r = self.t.lock_pages(a, n, LockFlags::READ);
                if self.count(r).is_some() {
                    let r = self.t.unlock_pages(a, n);
                    self.count(r);
                }
            }
            9 => {
                let Some((p, a, n)) = self.some_region() else {
                    return;
                };
                let r = self
                    .t
                    .read_process_memory(Handle::from(p), a, n.min(0x2000));
                self.count(r);
                let r = self.t.virtual_free_ex(h, a, n, AllocType::DECOMMIT);
                self.count(r);
            }
            10 => {
                let r = self.t.open_process(ProcessAccess::VM_OPERATION, false, pid);
                if let Some(oh) = self.count(r) {
                    let r = self.t.virtual_alloc_ex(
                        oh,
                        0,
                        0x1000,
                        AllocType::RESERVE,
                        Protection::NOACCESS,
                    );
                    self.count(r);
                    let r = self.t.close_handle(oh);
                    self.count(r);
                }
            }
            _ => {
                // Rarely end a process other threads are using, and start a new one.
                if self.rng.below(20) == 0 {
                    let r = self.t.terminate_process(h, 0);
                    if self.count(r).is_some() {
                        self.terminations += 1;
                        let mut s = lock(&self.shared);
                        s.processes.retain(|&q| q != pid);
                        s.regions.retain(|&(q, _, _)| q != pid);
                        drop(s);
                        let p = self.kernel.create_process("respawn.exe");
                        if let Some(p) = self.count(p) {
                            lock(&self.shared).processes.push(p);
                        }
                    }
                }
            }
        }
    }
}
