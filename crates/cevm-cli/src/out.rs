//! Standard output that a closed pipe or a full disk cannot turn into a panic.
//!
//! `println!` panics when standard output is gone (`cevm check … | head -1`, `> /dev/full`).
//! Everything the commands print goes through [`text`] and [`line`] instead: a write (and
//! its flush) that fails ends the process at once, quietly, with [`CLOSED`] as its status.
//! There is nobody left to read a message, and the trace file (flushed per call) is already
//! complete.

use std::io::Write;

/// The exit status when standard output cannot be written.
pub const CLOSED: i32 = 1;

/// Writes `s` to standard output and flushes it, or ends the process.
pub fn text(s: &str) {
    let mut out = std::io::stdout().lock();
    if out
        .write_all(s.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(CLOSED);
    }
}

/// Writes `s` and a newline to standard output, or ends the process.
pub fn line(s: &str) {
    let mut out = std::io::stdout().lock();
    if out
        .write_all(s.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(CLOSED);
    }
}

/// Writes `s` and a newline to standard error; a closed standard error is ignored (there
/// is nowhere left to complain).
pub fn err_line(s: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err
        .write_all(s.as_bytes())
        .and_then(|()| err.write_all(b"\n"));
}

/// `println!` that cannot panic: see [`line`].
macro_rules! outln {
    ($($arg:tt)*) => { $crate::out::line(&format!($($arg)*)) };
}

/// `eprintln!` that cannot panic: see [`err_line`].
macro_rules! errln {
    ($($arg:tt)*) => { $crate::out::err_line(&format!($($arg)*)) };
}

pub(crate) use {errln, outln};
