//! VirtualSetAttributes / VirtualSetAttributesEx (semantics.md §5.10).

use std::sync::Arc;

use crate::error::{Error, ErrorCode, Result};
use crate::flags::{PageAttributes, ProcessAccess};
use crate::layout::page_span;
use crate::process::{Handle, Process, Spaces};
use crate::space::AddressSpace;
use crate::thread::Thread;

impl Thread {
    /// `VirtualSetAttributes`: each committed page of `(a, n)` in the active process gets
    /// attributes `(old & !mask) | (new & mask)`; returns the first page's old attributes.
    /// `mask` empty is a query. Unknown bits are ignored.
    pub fn virtual_set_attributes(
        &mut self,
        a: u32,
        n: u32,
        new: PageAttributes,
        mask: PageAttributes,
    ) -> Result<PageAttributes> {
        self.on_process(
            Handle::CURRENT_PROCESS,
            ProcessAccess::VM_OPERATION,
            Some(ErrorCode::NotSupported),
            |me, proc| me.set_attributes_in(proc, a, n, new, mask),
        )
    }

    /// `VirtualSetAttributesEx`: as
    /// [`virtual_set_attributes`](Self::virtual_set_attributes) in the process `h` names.
    pub fn virtual_set_attributes_ex(
        &mut self,
        h: Handle,
        a: u32,
        n: u32,
        new: PageAttributes,
        mask: PageAttributes,
    ) -> Result<PageAttributes> {
        self.on_process(
            h,
            ProcessAccess::VM_OPERATION,
            Some(ErrorCode::NotSupported),
            |me, proc| me.set_attributes_in(proc, a, n, new, mask),
        )
    }

    fn set_attributes_in(
        &self,
        proc: &Arc<Process>,
        a: u32,
        n: u32,
        new: PageAttributes,
        mask: PageAttributes,
    ) -> Result<PageAttributes> {
        if (n as i32) <= 0 {
            return Err(Error::non_positive("5.10", n));
        }
        let mut spaces = Spaces::for_range(self.kernel.nk(), proc, a, 1)?;
        let space = spaces.holding(proc.pid(), a);
        let (first, pages) = page_span(a, n);
        if space.record_holding_pages(first, pages).is_none()
            || AddressSpace::pages(first, pages).any(|va| !space.table.get(va).is_committed())
        {
            return Err(Error::invalid(
                "5.10",
                format!("0x{a:08X}+0x{n:X} is not committed pages of one reservation"),
            ));
        }
        let old = space.table.get(first).attributes();
        let mask = mask & PageAttributes::all();
        if !mask.is_empty() {
            for va in AddressSpace::pages(first, pages) {
                let e = space.table.get(va);
                let attrs = (e.attributes() & !mask) | (new & mask);
                space.table.set(va, e.with_attributes(attrs));
            }
        }
        Ok(old)
    }
}
