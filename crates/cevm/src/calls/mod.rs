//! The CE memory calls of semantics.md §5, one family per file. Each call's code reads
//! top to bottom in the order of its checks in the spec, and validates everything before
//! it changes anything, so a failed call leaves every page, frame and record as it was.

mod alloc;
mod alloc_copy;
mod attributes;
mod copy;
mod free;
mod io_space;
mod lock;
mod marshal;
mod phys_mem;
mod process_memory;
mod processes;
mod protect;
mod query;
mod shared_alloc;
mod system_info;

pub use query::MemoryInfo;
pub use system_info::{MemoryStatus, SystemInfo};
