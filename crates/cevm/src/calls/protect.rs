//! VirtualProtect / VirtualProtectEx (semantics.md §5.3).

use std::sync::Arc;

use crate::error::{Error, ErrorCode, Result};
use crate::flags::{ProcessAccess, Protection};
use crate::layout::{page_span, user_write_ok};
use crate::process::{Handle, Process, Spaces};
use crate::space::AddressSpace;
use crate::thread::Thread;

impl Thread {
    /// `VirtualProtect`: gives every page of `(a, n)` in the active process the protection
    /// `new`; returns the old (read-back) protection of the first page.
    pub fn virtual_protect(&mut self, a: u32, n: u32, new: Protection) -> Result<Protection> {
        self.on_active(|me, proc| me.protect_in(proc, a, n, new, false))
    }

    /// `VirtualProtectEx`: as [`virtual_protect`](Self::virtual_protect) in the process
    /// `h` names.
    pub fn virtual_protect_ex(
        &mut self,
        h: Handle,
        a: u32,
        n: u32,
        new: Protection,
    ) -> Result<Protection> {
        self.on_process(h, ProcessAccess::VM_OPERATION, None, |me, p| {
            me.protect_in(p, a, n, new, true)
        })
    }

    fn protect_in(
        &self,
        proc: &Arc<Process>,
        a: u32,
        n: u32,
        new: Protection,
        ex: bool,
    ) -> Result<Protection> {
        let upgrade = self.audit_protect_pre(proc, a, n, new, ex)?;
        let mut spaces = Spaces::for_range(self.kernel.nk(), proc, a, 1)?;
        let space = spaces.holding(proc.pid(), a);
        // 2. A positive size inside one record's requested bytes; in user mode also the
        // user pointer rule of §3 (for writing), so an application cannot change the
        // protection of the shared heap or kernel memory.
        if self.is_user() && !user_write_ok(a, n) {
            return Err(Error::invalid(
                "3",
                format!("0x{a:08X}+0x{n:X} is not a valid user-mode range"),
            ));
        }
        if (n as i32) <= 0 || space.record_holding_bytes(a, n).is_none() {
            return Err(Error::invalid(
                "5.3.2",
                format!("0x{a:08X}+0x{n:X} is not a positive range inside one reservation"),
            ));
        }
        // 3. A valid protection.
        let prot = new
            .validate()
            .ok_or_else(|| Error::bad_protection("5.3.3", new.bits()))?;
        // 4. No locked page.
        let (first, pages) = page_span(a, n);
        if space.locked(first, pages) {
            return Err(Error::new(
                ErrorCode::SharingViolation,
                "5.3.4",
                format!("0x{a:08X}+0x{n:X} holds locked pages"),
            ));
        }
        // 5. Every page committed.
        if AddressSpace::pages(first, pages).any(|va| !space.table.get(va).is_committed()) {
            return Err(Error::invalid(
                "5.3.5",
                format!("0x{a:08X}+0x{n:X} holds pages that are not committed"),
            ));
        }
        // 6. Old protection of the first page; every page takes the new one.
        let old = space.table.get(first).read_back();
        let mut changed = false;
        for va in AddressSpace::pages(first, pages) {
            let e = space.table.get(va);
            let new = e.with_protection(prot);
            changed |= new != e;
            space.table.set(va, new);
        }
        drop(spaces);
        // When the call returns, no access that another thread began under the old
        // protection is still in flight (as a TLB shoot-down would ensure).
        let readers = self.kernel.readers();
        if changed && readers.others_may_translate() {
            readers.synchronize();
        }
        self.audit_report(upgrade);
        Ok(old)
    }
}
