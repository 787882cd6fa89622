//! The calling thread touches memory (semantics.md §6). Reads return unsigned values; a
//! fault throws the map `#{code, address, write}` itself, so a script can catch it.

use cevm::Exception;
use rhai::{Blob, Dynamic};

use super::binding::{Binding, Call, Fail, Outcome};
use super::values::{fault_map, int};

/// The memory-access functions.
#[rustfmt::skip]
pub static BINDINGS: &[Binding] = &[
    Binding::harness("read8", &["a"], "int", read8),
    Binding::harness("read16", &["a"], "int", read16),
    Binding::harness("read32", &["a"], "int", read32),
    Binding::harness("write8", &["a", "v"], "nothing", write8),
    Binding::harness("write16", &["a", "v"], "nothing", write16),
    Binding::harness("write32", &["a", "v"], "nothing", write32),
    Binding::harness("read_bytes", &["a", "n"], "blob", read_bytes),
    Binding::harness("write_bytes", &["a", "blob"], "nothing", write_bytes),
    Binding::harness("execute", &["a"], "nothing", execute),
];

/// The most a single `read_bytes` returns: a guard against `read_bytes(a, -1)` asking the
/// host for 4 GiB before the kernel gets a chance to fault.
const MAX_READ: u32 = 256 << 20;

fn faulted<T>(r: Result<T, Exception>) -> Result<T, Fail> {
    r.map_err(|e| Fail::Throw(fault_map(e)))
}

fn read8(c: &mut Call<'_>) -> Outcome {
    let a = c.dword()?;
    let v = faulted(c.thread().read_u8(a))?;
    c.thread().audit_read(a, 1);
    Ok(int(v.into()))
}

fn read16(c: &mut Call<'_>) -> Outcome {
    let a = c.dword()?;
    let v = faulted(c.thread().read_u16(a))?;
    c.thread().audit_read(a, 2);
    Ok(int(v.into()))
}

fn read32(c: &mut Call<'_>) -> Outcome {
    let a = c.dword()?;
    let v = faulted(c.thread().read_u32(a))?;
    c.thread().audit_read(a, 4);
    Ok(int(v))
}

// Values are truncated to the access width, as a C store of a wider value would be.
fn write8(c: &mut Call<'_>) -> Outcome {
    let (a, v) = (c.dword()?, c.dword()?);
    faulted(c.thread().write_u8(a, v as u8))?;
    Ok(Dynamic::UNIT)
}

fn write16(c: &mut Call<'_>) -> Outcome {
    let (a, v) = (c.dword()?, c.dword()?);
    faulted(c.thread().write_u16(a, v as u16))?;
    Ok(Dynamic::UNIT)
}

fn write32(c: &mut Call<'_>) -> Outcome {
    let (a, v) = (c.dword()?, c.dword()?);
    faulted(c.thread().write_u32(a, v))?;
    Ok(Dynamic::UNIT)
}

fn read_bytes(c: &mut Call<'_>) -> Outcome {
    let (a, n) = (c.dword()?, c.dword()?);
    if n > MAX_READ {
        return Err(Fail::Message(format!(
            "n = 0x{n:X} bytes is more than one read_bytes returns (0x{MAX_READ:X})"
        )));
    }
    let mut buf: Blob = vec![0; n as usize];
    faulted(c.thread().read_bytes(a, &mut buf))?;
    c.thread().audit_read(a, n);
    Ok(Dynamic::from_blob(buf))
}

fn write_bytes(c: &mut Call<'_>) -> Outcome {
    let (a, data) = (c.dword()?, c.blob()?);
    faulted(c.thread().write_bytes(a, &data))?;
    Ok(Dynamic::UNIT)
}

fn execute(c: &mut Call<'_>) -> Outcome {
    let a = c.dword()?;
    faulted(c.thread().execute(a))?;
    Ok(Dynamic::UNIT)
}
