//! HRESULTs, what the marshalling helpers of semantics.md §7 return.

use std::fmt;

/// An HRESULT, unsigned 32-bit as scripts show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HResult(pub u32);

impl HResult {
    /// `S_OK`.
    pub const S_OK: Self = Self(0);
    /// `E_INVALIDARG` (= HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER)).
    pub const E_INVALIDARG: Self = Self(0x8007_0057);
    /// `E_ACCESSDENIED` (= HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED)).
    pub const E_ACCESSDENIED: Self = Self(0x8007_0005);
    /// `E_OUTOFMEMORY`.
    pub const E_OUTOFMEMORY: Self = Self(0x8007_000E);

    /// `HRESULT_FROM_WIN32(e)`: `0x80070000 | e`. Like the Windows macro, error 0
    /// (ERROR_SUCCESS) gives S_OK and only the low 16 bits of `e` are kept.
    pub fn from_win32(e: u32) -> Self {
        if e == 0 {
            Self::S_OK
        } else {
            Self(0x8007_0000 | (e & 0xFFFF))
        }
    }

    /// Whether this is a success code (bit 31 clear).
    pub fn is_ok(self) -> bool {
        self.0 & 0x8000_0000 == 0
    }
}

impl fmt::Display for HResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HRESULT 0x{:08X}", self.0)
    }
}

/// A helper that failed: its HRESULT and, only for CeAllocAsynchronousBuffer's
/// shared-heap case (§7.2 step 3a), the out-pointer it wrote anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarshalFailure {
    /// What the helper returned.
    pub hr: HResult,
    /// The out-pointer the helper wrote although it failed (§7.2 step 3a only).
    pub written: Option<u32>,
}

impl From<HResult> for MarshalFailure {
    fn from(hr: HResult) -> Self {
        Self { hr, written: None }
    }
}
