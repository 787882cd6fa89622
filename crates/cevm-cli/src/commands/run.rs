//! `cevm run SCRIPT [--ram MB] [--trace FILE] [--timeout SECONDS]`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::Machine;
use crate::out::errln;
use crate::script::{Failure, Options, Script, read_script};

/// Arguments of `cevm run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The Rhai script
    pub script: PathBuf,
    #[command(flatten)]
    pub machine: Machine,
    /// Write one JSON line per CE API call to FILE (written as each call returns; it must
    /// not be the script)
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Stop the script after this many seconds (1 to 86400; default: no limit)
    #[arg(long, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: Option<u64>,
}

/// Boots a kernel and runs the script: exit 0 on success, 1 with `file:line:column:
/// cause` on standard error when it fails.
pub fn execute(args: RunArgs) -> ExitCode {
    let name = args.script.display().to_string();
    // The script is read before the trace file is created, so a trace path that names
    // the script cannot empty it first.
    let source = match read_script(&args.script) {
        Ok(s) => s,
        Err(e) => {
            errln!("error: {}", Failure::plain(&name, e));
            return ExitCode::FAILURE;
        }
    };
    if let Some(trace) = &args.trace {
        if same_file(&args.script, trace) {
            errln!(
                "error: the trace file {} is the script itself; give another path",
                trace.display()
            );
            return ExitCode::FAILURE;
        }
    }
    let options = Options {
        trace: args.trace,
        timeout: args.timeout.map(Duration::from_secs),
        ..Options::new(args.machine.ram_mb)
    };
    let script = match Script::new(&options) {
        Ok(s) => s,
        Err(e) => {
            errln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = script.run_source(&name, &source);
    let flushed = script.finish();
    let mut code = ExitCode::SUCCESS;
    if let Err(f) = outcome {
        errln!("error: {f}");
        code = ExitCode::FAILURE;
    }
    if let Err(e) = flushed {
        errln!("error: {e}");
        code = ExitCode::FAILURE;
    }
    code
}

/// Whether `b` names the same file as `a`, however spelled (links, `..`, hard links).
/// A `b` that does not exist yet is not `a`.
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = (&ma, &mb);
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
    }
}
