//! The one error type of the library: a Win32 error code and a sentence saying what was wrong.

use std::fmt;

/// The Win32 error codes the CE memory calls produce (semantics.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorCode {
    /// `ERROR_ACCESS_DENIED` (5).
    AccessDenied = 5,
    /// `ERROR_INVALID_HANDLE` (6).
    InvalidHandle = 6,
    /// `ERROR_NOT_ENOUGH_MEMORY` (8).
    NotEnoughMemory = 8,
    /// `ERROR_BAD_LENGTH` (24).
    BadLength = 24,
    /// `ERROR_SHARING_VIOLATION` (32).
    SharingViolation = 32,
    /// `ERROR_NOT_SUPPORTED` (50).
    NotSupported = 50,
    /// `ERROR_INVALID_PARAMETER` (87).
    InvalidParameter = 87,
}

impl ErrorCode {
    /// The numeric Win32 code, as `GetLastError` reports it.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The Win32 name of the code.
    pub fn name(self) -> &'static str {
        match self {
            Self::AccessDenied => "ERROR_ACCESS_DENIED",
            Self::InvalidHandle => "ERROR_INVALID_HANDLE",
            Self::NotEnoughMemory => "ERROR_NOT_ENOUGH_MEMORY",
            Self::BadLength => "ERROR_BAD_LENGTH",
            Self::SharingViolation => "ERROR_SHARING_VIOLATION",
            Self::NotSupported => "ERROR_NOT_SUPPORTED",
            Self::InvalidParameter => "ERROR_INVALID_PARAMETER",
        }
    }
}

/// A failed call: the Win32 code it reports, the check of semantics.md that produced it,
/// and a human sentence naming the cause.
///
/// `step` names the check as the spec numbers it: `"5.3.2"` is §5.3's second check,
/// `"5.8"` a check of an unnumbered section, `"2"` one of §2's handle and mode rules,
/// `"3"` §3's user pointer rule where the call's section does not number it,
/// `"host"` a refusal of the host program's request (boot, process creation) that no CE
/// call makes. Two checks that give the same code are told apart by it, so a test (and
/// the reference model) can see which one fired.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({} = {}, semantics.md {step})", code.name(), code.code())]
pub struct Error {
    /// The code `GetLastError` reports after the call.
    pub code: ErrorCode,
    /// The check that produced it (`"5.3.2"`).
    pub step: &'static str,
    /// What was wrong, for people.
    pub message: String,
}

impl Error {
    /// An error with `code` from check `step`, with the given explanation.
    pub fn new(code: ErrorCode, step: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            step,
            message: message.into(),
        }
    }

    /// `ERROR_INVALID_PARAMETER` (87).
    pub fn invalid(step: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, step, message)
    }

    /// `ERROR_NOT_ENOUGH_MEMORY` (8).
    pub fn no_memory(step: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotEnoughMemory, step, message)
    }

    /// `ERROR_INVALID_HANDLE` (6).
    pub fn bad_handle(step: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidHandle, step, message)
    }

    /// `ERROR_ACCESS_DENIED` (5).
    pub fn denied(step: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::AccessDenied, step, message)
    }

    /// `ERROR_NOT_SUPPORTED` (50).
    pub fn not_supported(step: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotSupported, step, message)
    }

    /// A size that is zero or negative as an int (`(int)n <= 0`), at check `step`.
    pub fn non_positive(step: &'static str, n: u32) -> Self {
        Self::invalid(step, format!("size 0x{n:X} must be positive"))
    }

    /// An invalid protection value, at check `step`.
    pub fn bad_protection(step: &'static str, bits: u32) -> Self {
        Self::invalid(step, format!("protection 0x{bits:X} is not valid"))
    }

    /// A process that ended while the call ran (§2: its handle is no longer valid).
    pub fn ended(pid: u32) -> Self {
        Self::bad_handle("2", format!("process 0x{pid:X} has been terminated"))
    }

    /// The same error, produced by check `step` (a §2 handle rule that a call's own
    /// section numbers as one of its steps, as §5.5 and §5.6 do).
    pub fn at(mut self, step: &'static str) -> Self {
        self.step = step;
        self
    }

    /// The numeric Win32 code.
    pub fn win32(&self) -> u32 {
        self.code.code()
    }
}

/// The result of every kernel call.
pub type Result<T> = std::result::Result<T, Error>;

/// An exception raised by a thread's memory access (semantics.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct Exception {
    /// The exception code: always `STATUS_ACCESS_VIOLATION` in CE.
    pub code: u32,
    /// The faulting address.
    pub address: u32,
    /// Whether the faulting access was a write.
    pub write: bool,
}

impl Exception {
    /// An access violation at `address`.
    pub fn access_violation(address: u32, write: bool) -> Self {
        Self {
            code: crate::consts::STATUS_ACCESS_VIOLATION,
            address,
            write,
        }
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exception 0x{:08X} ({}) {} 0x{:08X}",
            self.code,
            if self.code == crate::consts::STATUS_ACCESS_VIOLATION {
                "access violation"
            } else {
                "exception"
            },
            if self.write { "writing" } else { "reading" },
            self.address
        )
    }
}
