//! # libcevm — the C front door of cevm
//!
//! The CE calls under their Win32 names with CE's prototypes (declared by
//! `include/ce/windows.h`, `pkfuncs.h`, `ceddk.h`), the host API of `include/cevm.h`
//! (generated from this crate by cbindgen), and the `__try`/`__except` machinery. The
//! contract is `c-abi.md`. The C layer only translates: every call is the same `Thread`
//! method the Rust API uses, made by the calling host thread's own CE thread.
//!
//! Shape: `state` (the kernel and the per-thread CE threads, panic guard), `ptr` (the
//! pointer rules: window pointer or raw 32-bit guest address in, window pointer out),
//! `host` (cevm.h), `calls` (the CE calls), `fault` (the fault path and `__try` doors).

/// cbindgen:ignore
mod bench;
/// cbindgen:ignore
mod calls;
/// cbindgen:ignore
mod fault;
mod host;
mod maps;
mod ptr;
mod state;

pub use host::*;
