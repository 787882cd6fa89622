//! `cevm maps SCRIPT [--html FILE [--steps]] [--trace FILE]`: the final address-space maps
//! of every process, as text and, with `--html`, as the visual map (interfaces.md §5).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::Machine;
use crate::maps::render_all;
use crate::script::{Options, Output, Script};
use crate::visual;

/// Arguments of `cevm maps`.
#[derive(Debug, Args)]
pub struct MapsArgs {
    /// The Rhai script
    pub script: PathBuf,
    #[command(flatten)]
    pub machine: Machine,
    /// Also write the visual map, one self-contained HTML file
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// With --html: the map after every CE call, with a slider to move through them
    #[arg(long, requires = "html")]
    pub steps: bool,
    /// Write a JSON Lines trace of the CE calls (the steps then carry its `seq` numbers)
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

/// Runs the script with its `print` output on standard error, then prints the maps on
/// standard output (and writes the HTML map). A failing script still gets its maps
/// printed and written (they show the state it failed in), and the exit code is 1.
pub fn execute(args: MapsArgs) -> ExitCode {
    let options = Options {
        output: Output::Stderr,
        trace: args.trace.clone(),
        ..Options::new(args.machine.ram_mb)
    };
    let script = match Script::new(&options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.steps {
        script.record_steps();
    }
    let outcome = script.run_file(&args.script);
    let mut failed = false;
    if let Err(e) = script.finish() {
        eprintln!("error: {e}");
        failed = true;
    }
    crate::out::text(&render_all(&script.kernel()));
    if let Some(path) = &args.html {
        let title = format!("cevm maps {}", args.script.display());
        let written = match script.take_steps() {
            Some(steps) => visual::write_steps(path, &title, &steps),
            None => visual::write_single(path, &title, &script.kernel()),
        };
        if let Err(e) = written {
            eprintln!("error: {e}");
            failed = true;
        }
    }
    match outcome {
        Ok(()) if !failed => ExitCode::SUCCESS,
        Ok(()) => ExitCode::FAILURE,
        Err(f) => {
            eprintln!("error: {f}");
            ExitCode::FAILURE
        }
    }
}
