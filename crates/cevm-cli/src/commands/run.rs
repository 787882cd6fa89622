//! `cevm run SCRIPT [--ram MB] [--trace FILE]`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::Machine;
use crate::script::{Options, Script};

/// Arguments of `cevm run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The Rhai script
    pub script: PathBuf,
    #[command(flatten)]
    pub machine: Machine,
    /// Write one JSON line per CE API call to FILE
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

/// Boots a kernel and runs the script: exit 0 on success, 1 with `file:line:column:
/// cause` on standard error when it fails.
pub fn execute(args: RunArgs) -> ExitCode {
    let options = Options {
        trace: args.trace,
        ..Options::new(args.machine.ram_mb)
    };
    let script = match Script::new(&options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = script.run_file(&args.script);
    let flushed = script.finish();
    let mut code = ExitCode::SUCCESS;
    if let Err(f) = outcome {
        eprintln!("error: {f}");
        code = ExitCode::FAILURE;
    }
    if let Err(e) = flushed {
        eprintln!("error: {e}");
        code = ExitCode::FAILURE;
    }
    code
}
