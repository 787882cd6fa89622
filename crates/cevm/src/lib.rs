//! # cevm — the Windows Embedded Compact 2013 kernel memory model
//!
//! cevm rebuilds the CE kernel's virtual-memory manager: processes and handles,
//! reserve/commit/decommit/release, protection, query, VirtualCopy, page locking,
//! physical and device memory, guard pages, and threads that touch memory and fault. At
//! its centre is **VirtualAllocCopyEx**: reserve a region in a destination process and
//! make it an alias of a source process's pages, page-granular, kernel-mode only, ended
//! with VirtualFreeEx. The behaviour (addresses, rounding, error codes and the order of
//! checks) follows `semantics.md`; the places where cevm deliberately differs from CE
//! are listed in `docs/deviations.md`.
//!
//! Every call is a method on a [`Thread`], made in its [`Context`] (active process, VM
//! process, user or kernel mode, direct caller, owner). A failing call returns an [`Error`] carrying the Win32
//! code and a sentence, sets the thread's last error, and changes nothing.
//!
//! ## The VirtualAllocCopyEx story
//!
//! An application hands a driver a buffer that is not page aligned; the driver maps it
//! into its own process, reads and writes it, and releases the alias with the masked base.
//!
//! ```
//! use cevm::{AllocType, Config, Handle, Kernel, Mode, Protection};
//!
//! let kernel = Kernel::boot(Config::default())?;
//! let app = kernel.create_process("app.exe")?;
//! let drv = kernel.create_process("udevice.exe")?;
//! let mut t = kernel.thread();
//!
//! // The application commits a buffer and writes a message into it, unaligned.
//! t.enter(app, Mode::User, None)?;
//! let buf = t.virtual_alloc(0, 0x3000, AllocType::COMMIT, Protection::READWRITE)?;
//! assert_eq!(buf, 0x10000); // placement is deterministic
//! t.write_bytes(buf + 0x123, b"hello, driver").unwrap();
//!
//! // The driver host, in kernel mode on the application's behalf, aliases the buffer.
//! t.enter(drv, Mode::Kernel, Some(app))?;
//! let p = t.virtual_alloc_copy_ex(app.into(), drv.into(), buf + 0x123, 13, Protection::READWRITE)?;
//! assert_eq!(p & 0xFFFF, (buf + 0x123) & 0xFFFF); // same low 16 bits as the source
//! let mut seen = [0u8; 13];
//! t.read_bytes(p, &mut seen).unwrap();
//! assert_eq!(&seen, b"hello, driver");
//!
//! // Whole pages are aliased: the 0x123 bytes before the buffer are visible too.
//! assert_eq!(t.read_u8(p - 0x123).unwrap(), 0);
//!
//! // A write through the alias is seen by the application at once.
//! t.write_u8(p, b'H').unwrap();
//! t.enter(app, Mode::User, None)?;
//! assert_eq!(t.read_u8(buf + 0x123).unwrap(), b'H');
//!
//! // The alias is released with the 64 KiB-aligned base, not the returned pointer.
//! t.enter(drv, Mode::Kernel, Some(app))?;
//! assert_eq!(t.virtual_free_ex(drv.into(), p, 0, AllocType::RELEASE).unwrap_err().win32(), 87);
//! t.virtual_free_ex(drv.into(), p & !0xFFFF, 0, AllocType::RELEASE)?;
//! kernel.check_invariants().unwrap();
//! # Ok::<(), cevm::Error>(())
//! ```
//!
//! ## A kernel-mode driver and its caller's buffers
//!
//! A kernel-mode driver runs in NK.EXE with its caller's address space mapped (a
//! [`Context`] with P = NK.EXE and V = C = the application). It uses the caller's pointer
//! in place during the call, and for asynchronous work asks the marshalling helpers
//! (semantics.md §7): a buffer above 520 bytes becomes a VirtualAllocCopyEx alias in the
//! kernel, a smaller one a duplicate written back when freed.
//!
//! ```
//! use cevm::{AllocType, ArgDescriptor, Config, Context, Kernel, Mode, Protection};
//!
//! let kernel = Kernel::boot(Config::default())?;
//! let app = kernel.create_process("app.exe")?;
//! let mut t = kernel.thread();
//! t.enter(app, Mode::User, None)?;
//! let buf = t.virtual_alloc(0, 0x2000, AllocType::COMMIT, Protection::READWRITE)?;
//!
//! t.enter_context(Context { vm: Some(app), caller: Some(app), ..Context::new(kernel.kernel_pid(), Mode::Kernel) })?;
//! assert_eq!(t.caller_vm_process_id(), app);
//! // Synchronous: the caller's pointer itself.
//! assert_eq!(t.ce_open_caller_buffer(buf, 16, ArgDescriptor::IO_PTR, false).unwrap(), buf);
//! // Asynchronous and large: an alias in NK.EXE with the same low 16 bits.
//! let alias = t.ce_alloc_asynchronous_buffer(buf, 0x1800, ArgDescriptor::O_PTR).unwrap();
//! assert_eq!(alias & 0xFFFF, buf & 0xFFFF);
//! t.write_u32(alias, 7).unwrap();
//! assert_eq!(t.read_u32(buf).unwrap(), 7); // the same frame
//! t.ce_free_asynchronous_buffer(alias, buf, 0x1800, ArgDescriptor::O_PTR).unwrap();
//! // Asynchronous and small: a duplicate, written back when freed.
//! let copy = t.ce_alloc_asynchronous_buffer(buf, 4, ArgDescriptor::IO_PDW).unwrap();
//! t.write_u32(copy, 9).unwrap();
//! assert_eq!(t.read_u32(buf).unwrap(), 7);
//! t.ce_free_asynchronous_buffer(copy, buf, 4, ArgDescriptor::IO_PDW).unwrap();
//! assert_eq!(t.read_u32(buf).unwrap(), 9);
//! kernel.check_invariants().unwrap();
//! # Ok::<(), cevm::Error>(())
//! ```
//!
//! Addresses and sizes are plain `u32` DWORDs: CE arithmetic on them (masks, offsets,
//! wrapping) is the point of the model. Flags, handles and process ids are typed.
//!
//! ## Module map
//!
//! Bottom up: `consts`, `flags`, `error` (values and validation); `layout` (the address
//! space areas); `arena` and `phys` (host memory, frames, the pool); `grace` (the grace
//! period that keeps a frame from a new owner while an old translation is in use);
//! `page_table` and `pte`; `space` (a page table with its records); `process` and `kernel`
//! (processes, handles, lock order); `thread` and `tlb` (a calling thread and its
//! translation cache); `access` (§6); `calls` (§5, one family per file); `maps`,
//! `invariants`, `ce` (views and conventions); `windows` (with `Config::host_windows`:
//! every process's address space as host memory, driven from the page-table layer). `crates/cevm/DESIGN.md` says what each layer
//! may touch, the lock order, who holds a frame reference and how revocation works.

#![warn(missing_docs)]

mod access;
mod arena;
pub mod audit;
mod calls;
pub mod ce;
pub mod consts;
mod descriptor;
mod error;
mod flags;
mod frame_refs;
mod frames;
mod free_runs;
mod grace;
mod host_range;
mod hresult;
mod invariants;
mod kernel;
pub mod layout;
mod maps;
mod origin;
mod page_table;
mod phys;
mod process;
mod pte;
mod space;
mod thread;
mod tlb;
mod windows;

pub use access::AccessKind;
pub use audit::{ExposurePolicy, Finding, FindingKind, Severity};
pub use calls::{MemoryInfo, MemoryStatus, SystemInfo};
pub use descriptor::ArgDescriptor;
pub use error::{Error, ErrorCode, Exception, Result};
pub use flags::{
    Access, AllocType, LockFlags, PageAttributes, ProcessAccess, Protection, ValidProtection,
};
pub use frames::Frames;
pub use hresult::{HResult, MarshalFailure};
pub use kernel::{Config, Kernel};
pub use maps::{OtherMapping, Region, protection_name};
pub use origin::{AliasSource, Origin};
pub use phys::Pfn;
pub use process::{Handle, Pid, Process};
pub use pte::{PageState, ReserveKind};
pub use thread::{Context, Mode, Thread};
pub use windows::{WindowFault, WindowStats};
