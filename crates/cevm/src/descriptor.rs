//! The ArgumentDescriptor of the marshalling helpers (semantics.md §7 "Descriptors") and
//! the effective-size rule it feeds.

/// An ArgumentDescriptor as CE passes it: a raw DWORD, a type optionally ORed with
/// [`ArgDescriptor::FORCE_ALIAS`]. Whether it is valid is decided by the helpers (§7), so
/// any value can be built and passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgDescriptor(pub u32);

impl ArgDescriptor {
    /// `ARG_I_PTR`: an input buffer of the size passed.
    pub const I_PTR: Self = Self(0x4);
    /// `ARG_I_WSTR`: an input Unicode string (cb = 0: measured).
    pub const I_WSTR: Self = Self(0x5);
    /// `ARG_I_ASTR`: an input ANSI string (cb = 0: measured).
    pub const I_ASTR: Self = Self(0x6);
    /// `ARG_O_PTR`: an output buffer of the size passed.
    pub const O_PTR: Self = Self(0x8);
    /// `ARG_O_PDW`: an output DWORD (cb must be 4).
    pub const O_PDW: Self = Self(0x9);
    /// `ARG_O_PI64`: an output 64-bit value (cb must be 8).
    pub const O_PI64: Self = Self(0xA);
    /// `ARG_IO_PTR`: an in/out buffer of the size passed.
    pub const IO_PTR: Self = Self(0xC);
    /// `ARG_IO_PDW`: an in/out DWORD (cb must be 4).
    pub const IO_PDW: Self = Self(0xD);
    /// `ARG_IO_PI64`: an in/out 64-bit value (cb must be 8).
    pub const IO_PI64: Self = Self(0xE);
    /// `MARSHAL_FORCE_ALIAS`, ORed into a descriptor: kernel-mode asynchronous buffers are
    /// aliased whatever their size.
    pub const FORCE_ALIAS: u32 = 0x8000_0000;
    /// The O ("output") bit of the type.
    pub const O_BIT: u32 = 0x8;

    /// The descriptor with bit 31 (FORCE_ALIAS) cleared: the type, or an invalid value.
    pub fn kind(self) -> u32 {
        self.0 & !Self::FORCE_ALIAS
    }

    /// Whether MARSHAL_FORCE_ALIAS is set.
    pub fn force_alias(self) -> bool {
        self.0 & Self::FORCE_ALIAS != 0
    }

    /// Whether the descriptor has the O bit (0x8): the buffer is written back.
    pub fn has_o_bit(self) -> bool {
        self.0 & Self::O_BIT != 0
    }

    /// Whether the type is a string type (`ARG_I_WSTR` or `ARG_I_ASTR`), FORCE_ALIAS
    /// aside; `Some(character size)` then.
    pub fn string_char_size(self) -> Option<u32> {
        match self.kind() {
            0x5 => Some(2),
            0x6 => Some(1),
            _ => None,
        }
    }

    /// The size rule of §7 for everything but a string with cb = 0: `Some(size)` when
    /// valid, `None` when invalid, and `Some(0)` never. A string type with cb = 0 gives
    /// `Err(())`: the string must be measured.
    pub(crate) fn fixed_size(self, cb: u32) -> Result<Option<u32>, ()> {
        Ok(match self.kind() {
            0x4 | 0x8 | 0xC => (cb != 0).then_some(cb),
            0x9 | 0xD => (cb == 4).then_some(4),
            0xA | 0xE => (cb == 8).then_some(8),
            0x5 | 0x6 if cb == 0 => return Err(()),
            0x5 | 0x6 => Some(cb),
            _ => None,
        })
    }
}

impl From<u32> for ArgDescriptor {
    fn from(v: u32) -> Self {
        Self(v)
    }
}
