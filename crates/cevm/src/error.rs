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

/// A failed call: the Win32 code it reports and a human sentence naming the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({} = {})", code.name(), code.code())]
pub struct Error {
    /// The code `GetLastError` reports after the call.
    pub code: ErrorCode,
    /// What was wrong, for people.
    pub message: String,
}

impl Error {
    /// An error with `code` and the given explanation.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// `ERROR_INVALID_PARAMETER` (87).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message)
    }

    /// `ERROR_NOT_ENOUGH_MEMORY` (8).
    pub fn no_memory(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotEnoughMemory, message)
    }

    /// `ERROR_INVALID_HANDLE` (6).
    pub fn bad_handle(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidHandle, message)
    }

    /// `ERROR_ACCESS_DENIED` (5).
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::AccessDenied, message)
    }

    /// `ERROR_NOT_SUPPORTED` (50).
    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotSupported, message)
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
