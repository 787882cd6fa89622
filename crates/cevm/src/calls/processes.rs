//! OpenProcess, CloseHandle, TerminateProcess and process creation.

use crate::error::{Error, Result};
use crate::flags::ProcessAccess;
use crate::process::{Handle, HandleEntry, Pid};
use crate::thread::Thread;

impl Thread {
    /// `OpenProcess`: a new handle to process `pid` with the access mask `access`.
    pub fn open_process(
        &mut self,
        access: ProcessAccess,
        _inherit: bool,
        pid: Pid,
    ) -> Result<Handle> {
        let r = (|| {
            let mut table = self.kernel.process_table_mut();
            if !table.processes.contains_key(&pid) {
                return Err(Error::invalid(
                    "2",
                    format!("no live process has id 0x{:X}", pid.0),
                ));
            }
            let v = table
                .next_value()
                .ok_or_else(|| Error::no_memory("2", "the handle table is full"))?;
            table.handles.insert(
                v,
                HandleEntry {
                    pid,
                    access,
                    is_pid: false,
                },
            );
            Ok(Handle(v))
        })();
        self.track(r)
    }

    /// `CloseHandle`: closes a handle from [`open_process`](Self::open_process). The
    /// pseudo handle closes as a no-op; process ids are permanent and cannot be closed.
    pub fn close_handle(&mut self, h: Handle) -> Result<()> {
        let r = (|| {
            if h == Handle::CURRENT_PROCESS {
                return Ok(());
            }
            let mut table = self.kernel.process_table_mut();
            match table.handles.get(&h.0) {
                Some(e) if !e.is_pid => {
                    table.handles.remove(&h.0);
                    Ok(())
                }
                Some(_) => Err(Error::bad_handle(
                    "2",
                    format!("0x{:X} is a process id, which cannot be closed", h.0),
                )),
                None => Err(Error::bad_handle(
                    "2",
                    format!("0x{:X} is not an open handle", h.0),
                )),
            }
        })();
        self.track(r)
    }

    /// `TerminateProcess`: ends the process `h` names (needs `PROCESS_TERMINATE`),
    /// releasing its whole address space. Aliases of its pages elsewhere survive.
    pub fn terminate_process(&mut self, h: Handle, _exit_code: u32) -> Result<()> {
        let r = self
            .resolve(h, ProcessAccess::TERMINATE, None)
            .and_then(|p| {
                if p.is_kernel() {
                    return Err(Error::denied("2", "NK.EXE cannot be terminated"));
                }
                self.audit_process_end(&p);
                self.kernel.end_process(&p);
                Ok(())
            });
        self.track(r)
    }
}
