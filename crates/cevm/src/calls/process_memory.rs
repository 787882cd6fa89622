//! ReadProcessMemory / WriteProcessMemory (semantics.md §5.12): all or nothing.

use std::sync::Arc;

use crate::access::AccessKind;
use crate::error::{Error, Result};
use crate::flags::ProcessAccess;
use crate::layout::{user_read_ok, user_write_ok};
use crate::process::{Handle, Process};
use crate::thread::Mode;
use crate::thread::Thread;

impl Thread {
    /// `ReadProcessMemory`: copies `n` bytes at `a` of process `h` (needs
    /// `PROCESS_VM_READ`), touching the pages as a kernel-mode thread in it would.
    pub fn read_process_memory(&mut self, h: Handle, a: u32, n: u32) -> Result<Vec<u8>> {
        self.on_process(h, ProcessAccess::VM_READ, None, |me, p| {
            me.check_remote(a, n, false)?;
            // The buffer is made only once every page has been brought in, so a huge
            // size over memory that is not there fails before it costs any host memory.
            let buf = {
                let range = me
                    .kernel
                    .host_range(p, a, n as usize, AccessKind::Read, Mode::Kernel)
                    .map_err(copy_fault)?;
                let mut buf = vec![0u8; n as usize];
                range.copy_to_slice(&mut buf);
                buf
            };
            // After the copy's locks are dropped (the auditor takes its own).
            me.audit_read_in(p, a, n);
            Ok(buf)
        })
    }

    /// `ReadProcessMemory` into a caller buffer (`buf.len()` bytes).
    pub fn read_process_memory_into(&mut self, h: Handle, a: u32, buf: &mut [u8]) -> Result<()> {
        let n = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        self.on_process(h, ProcessAccess::VM_READ, None, |me, p| {
            me.check_remote(a, n, false)?;
            me.remote_read(p, a, buf)?;
            me.audit_read_in(p, a, n);
            Ok(())
        })
    }

    /// `WriteProcessMemory`: copies `data` to `a` of process `h` (needs
    /// `PROCESS_VM_WRITE`); a read-only page fails the whole copy.
    pub fn write_process_memory(&mut self, h: Handle, a: u32, data: &[u8]) -> Result<usize> {
        let n = u32::try_from(data.len()).unwrap_or(u32::MAX);
        self.on_process(h, ProcessAccess::VM_WRITE, None, |me, p| {
            me.check_remote(a, n, true)?;
            me.remote_write(p, a, data)?;
            Ok(data.len())
        })
    }

    fn check_remote(&self, a: u32, n: u32, write: bool) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        if (n as i32) < 0 {
            return Err(Error::invalid("5.12", format!("size 0x{n:X} is negative")));
        }
        let ok = if write {
            user_write_ok(a, n)
        } else {
            user_read_ok(a, n)
        };
        if self.is_user() && !ok {
            return Err(Error::invalid(
                "5.12",
                format!("0x{a:08X}+0x{n:X} is not a valid user-mode range"),
            ));
        }
        Ok(())
    }

    fn remote_read(&self, proc: &Arc<Process>, a: u32, buf: &mut [u8]) -> Result<()> {
        self.kernel
            .host_range(proc, a, buf.len(), AccessKind::Read, Mode::Kernel)
            .map_err(copy_fault)?
            .copy_to_slice(buf);
        Ok(())
    }

    fn remote_write(&self, proc: &Arc<Process>, a: u32, data: &[u8]) -> Result<()> {
        self.kernel
            .host_range(proc, a, data.len(), AccessKind::Write, Mode::Kernel)
            .map_err(copy_fault)?
            .copy_from_slice(data);
        Ok(())
    }
}

/// A fault during a copy fails the call with 87 (semantics.md §5.12).
fn copy_fault(e: crate::error::Exception) -> Error {
    Error::invalid(
        "5.12",
        format!(
            "the copy faulted at 0x{:08X}; nothing was copied",
            e.address
        ),
    )
}
