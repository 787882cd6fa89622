//! The invariant checker: what must hold between every two calls, whatever happened.

use crate::consts::PAGE_SIZE;
use crate::kernel::Kernel;
use crate::layout::SHARED_HEAP_BASE;
use crate::phys::FrameKind;
use crate::process::lock_all;

impl Kernel {
    /// Checks every invariant of the model and returns the first violation found:
    /// - every RAM frame's count equals the number of entries that map it, and a frame is
    ///   free exactly when nothing maps it;
    /// - every committed frame is RAM or a registered device;
    /// - every reserved or committed page lies in a reservation record of its space, and
    ///   every record's pages are reserved or committed;
    /// - records are block aligned and do not share blocks;
    /// - lock records cover committed pages;
    /// - with host windows, every window's record of host mappings matches the entries
    ///   (each accessible page in the run its entry asks for, nothing else in a run), every
    ///   live process has a window, and the mapping count is the sum of the runs and stays
    ///   within the budget.
    ///
    /// It locks every space (in pid order), so it sees one consistent state.
    pub fn check_invariants(&self) -> Result<(), String> {
        // The process table stays locked throughout: process creation and termination
        // hold it while they take or give back frames.
        let table = self.process_table();
        let procs: Vec<_> = table.processes.values().cloned().collect();
        // Lock all spaces at once, in the global (pid) order every call uses.
        let mut guards = lock_all(&procs);
        let phys = self.memory();
        phys.check_pool()?;
        let mut expected = vec![0u32; phys.total_frames()];
        for (proc, space) in guards.iter_mut() {
            let name = proc.name();
            let mut err = None;
            space.table.for_each_used(|va, e| {
                if err.is_some() {
                    return;
                }
                if !space.kernel && va >= SHARED_HEAP_BASE {
                    err = Some(format!(
                        "{name}: page 0x{va:08X} is in a process table above the shared heap base"
                    ));
                    return;
                }
                if space.record_at(va).is_none() {
                    err = Some(format!(
                        "{name}: page 0x{va:08X} is in use but in no reservation"
                    ));
                    return;
                }
                if e.is_committed() {
                    match phys.kind(e.pfn()) {
                        Some(FrameKind::Ram(i)) => expected[i] += 1,
                        Some(FrameKind::Device) => {}
                        None => {
                            err = Some(format!(
                                "{name}: page 0x{va:08X} maps frame 0x{:X}, neither RAM nor device",
                                e.pfn().0
                            ))
                        }
                    }
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
            let mut prev_end = 0u64;
            for r in space.records.values() {
                if r.base % crate::consts::BLOCK_SIZE != 0 {
                    return Err(format!(
                        "{name}: record at 0x{:08X} is not block aligned",
                        r.base
                    ));
                }
                if u64::from(r.base) < prev_end {
                    return Err(format!("{name}: record at 0x{:08X} shares a block", r.base));
                }
                prev_end = r.block_end();
                if r.size == 0 {
                    return Err(format!("{name}: record at 0x{:08X} has size 0", r.base));
                }
                let mut va = u64::from(r.base);
                while va < r.page_end() {
                    if space.table.get(va as u32).is_free() {
                        return Err(format!(
                            "{name}: page 0x{va:08X} of the record at 0x{:08X} is free",
                            r.base
                        ));
                    }
                    va += u64::from(PAGE_SIZE);
                }
            }
            for l in &space.locks {
                for i in 0..l.pages {
                    let va = l.start.wrapping_add(i * PAGE_SIZE);
                    if !space.table.get(va).is_committed() {
                        return Err(format!("{name}: locked page 0x{va:08X} is not committed"));
                    }
                }
            }
        }
        if let Some(w) = self.windows() {
            self.check_windows(w, &guards)?;
        }
        let actual = phys.ref_counts();
        for (i, (&want, &have)) in expected.iter().zip(&actual).enumerate() {
            if want != have {
                return Err(format!(
                    "RAM frame {i} (PA 0x{:X}) has count {have} but {want} entries map it",
                    phys.ram_pfn(i).addr()
                ));
            }
        }
        Ok(())
    }

    fn check_windows(
        &self,
        w: &crate::windows::Windows,
        guards: &[(
            &crate::process::Process,
            std::sync::MutexGuard<'_, crate::space::AddressSpace>,
        )],
    ) -> Result<(), String> {
        let (mut mapped, mut left) = (w.count(), 0u64);
        for (proc, space) in guards {
            let Some(h) = space.table.windows() else {
                return Err(format!("{}: no host window", proc.name()));
            };
            let table = &space.table;
            h.check(table)
                .map_err(|e| format!("{}: {e}", proc.name()))?;
            let (m, l) = h.count();
            mapped += m;
            left += l;
        }
        let stats = self.window_stats();
        if guards.len() != w.count() {
            return Err(format!(
                "{} processes but {} host windows",
                guards.len(),
                w.count()
            ));
        }
        if stats.mappings != mapped || stats.pages_to_fault_path != left {
            return Err(format!(
                "window counts say {} mappings and {} pages left, the records {mapped} and {left}",
                stats.mappings, stats.pages_to_fault_path
            ));
        }
        if mapped > stats.budget.max(w.count()) {
            return Err(format!(
                "{mapped} host mappings exceed the budget of {}",
                stats.budget
            ));
        }
        Ok(())
    }
}
