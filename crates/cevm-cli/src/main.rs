//! `cevm`: run, check and explore Rhai scripts against the Windows Embedded Compact 2013
//! kernel memory model (interfaces.md §1).

mod commands;
mod maps;
mod out;
mod script;
mod stress;
mod trace;
mod visual;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The Windows Embedded Compact 2013 kernel memory model, scripted.
#[derive(Debug, Parser)]
#[command(name = "cevm", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One variant per subcommand, each with its own module under `commands/` holding its
/// arguments and an `execute` returning the exit code.
#[derive(Debug, Subcommand)]
enum Command {
    /// Boot a fresh kernel and run a script (exit 1 with file:line:column: cause on failure)
    Run(commands::run::RunArgs),
    /// Run every *.rhai under the given files and folders, each in a fresh kernel
    Check(commands::check::CheckArgs),
    /// Interactive prompt with the script functions, history and :help
    Shell(commands::shell::ShellArgs),
    /// Run a script and print the final address-space maps of every process
    Maps(commands::maps::MapsArgs),
    /// Measure each performance figure of design.md beside its in-process baseline
    Bench(commands::bench::BenchArgs),
    /// Random calls from many threads on shared processes, then invariants and leaks
    Stress(commands::stress::StressArgs),
    /// Run a script with the driver auditor and report every hazard it finds
    Audit(commands::audit::AuditArgs),
}

/// The stack of the thread that runs the command. Scripts recurse (nested calls, deeply
/// nested values dropped or printed by Rhai); a large reserved stack, touched only as far as
/// it is used, keeps a hostile script's recursion an error of that script and not an abort.
const STACK_BYTES: usize = 256 << 20;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runner = std::thread::Builder::new()
        .name("cevm".into())
        .stack_size(STACK_BYTES)
        .spawn(move || dispatch(cli));
    match runner {
        Ok(handle) => handle.join().unwrap_or(ExitCode::from(101)),
        Err(e) => {
            out::errln!("error: cannot start the command thread: {e}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(args) => commands::run::execute(args),
        Command::Check(args) => commands::check::execute(args),
        Command::Shell(args) => commands::shell::execute(args),
        Command::Maps(args) => commands::maps::execute(args),
        Command::Bench(args) => commands::bench::execute(args),
        Command::Stress(args) => commands::stress::execute(args),
        Command::Audit(args) => commands::audit::execute(args),
    }
}
