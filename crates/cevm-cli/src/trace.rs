//! `--trace FILE`: one JSON object per CE API call, one per line, in call order.
//!
//! `{"seq":N,"pid":P,"mode":"kernel"|"user","call":NAME,"args":[…],"ret":…,"error":E}`.
//! Arguments are the values the kernel saw (DWORDs after wrapping, BOOLs as booleans, byte
//! buffers as lower-case hex strings). `ret` is what the CE function returns; a call with
//! out-parameters adds an `"out"` object holding them by their CE names. `error` is the
//! thread's last error after the call.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use serde_json::{Map, Value, json};

/// The context a call was made in.
#[derive(Debug, Clone, Copy)]
pub struct CallContext {
    /// The active process.
    pub pid: u32,
    /// Whether the thread ran in kernel mode.
    pub kernel_mode: bool,
}

/// One traced call.
#[derive(Debug)]
pub struct TracedCall<'a> {
    /// The CE name of the call.
    pub call: &'a str,
    /// Where it was made.
    pub context: CallContext,
    /// The arguments as the kernel saw them.
    pub args: Vec<Value>,
    /// What the CE function returned.
    pub ret: Value,
    /// Its out-parameters by CE name, when it has any.
    pub out: Option<Map<String, Value>>,
    /// The last error after the call.
    pub error: u32,
}

/// Writes the trace file, one whole line per call as the call returns (no buffering: the
/// trace of a script stopped by a timeout, or of a process that ends abruptly, still says
/// what it did). The first write error is kept and reported by [`Tracer::finish`], so a
/// full disk cannot pass unnoticed.
#[derive(Debug)]
pub struct Tracer {
    out: File,
    seq: u64,
    failed: Option<io::Error>,
}

impl Tracer {
    /// Creates (or truncates) the trace file.
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(Self {
            out: File::create(path)?,
            seq: 0,
            failed: None,
        })
    }

    /// Appends one line.
    pub fn record(&mut self, c: TracedCall<'_>) {
        self.seq += 1;
        let mut line = json!({
            "seq": self.seq,
            "pid": c.context.pid,
            "mode": if c.context.kernel_mode { "kernel" } else { "user" },
            "call": c.call,
            "args": c.args,
            "ret": c.ret,
            "error": c.error,
        });
        if let (Some(out), Some(obj)) = (c.out, line.as_object_mut()) {
            obj.insert("out".into(), Value::Object(out));
        }
        if self.failed.is_none() {
            let mut text = line.to_string();
            text.push('\n');
            if let Err(e) = self.out.write_all(text.as_bytes()) {
                self.failed = Some(e);
            }
        }
    }

    /// Flushes the file; reports the first error met while writing it.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.out.flush()
    }
}
