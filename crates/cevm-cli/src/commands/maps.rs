//! `cevm maps SCRIPT`: the final address-space maps of every process.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::Machine;
use crate::maps::render_all;
use crate::script::{Options, Output, Script};

/// Arguments of `cevm maps`.
#[derive(Debug, Args)]
pub struct MapsArgs {
    /// The Rhai script
    pub script: PathBuf,
    #[command(flatten)]
    pub machine: Machine,
}

/// Runs the script with its `print` output on standard error, then prints the maps on
/// standard output. A failing script still gets its maps printed (they show the state it
/// failed in), and the exit code is 1.
pub fn execute(args: MapsArgs) -> ExitCode {
    let options = Options {
        output: Output::Stderr,
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
    print!("{}", render_all(&script.kernel()));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {f}");
            ExitCode::FAILURE
        }
    }
}
