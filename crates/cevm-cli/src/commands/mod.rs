//! The subcommands. Each module has its clap arguments and an `execute` that returns the
//! process exit code.

pub mod bench;
pub mod check;
pub mod maps;
pub mod run;
pub mod shell;
pub mod stress;

use clap::Args;

/// The emulated machine's options shared by every subcommand that boots a kernel.
#[derive(Debug, Clone, Copy, Args)]
pub struct Machine {
    /// RAM of the emulated machine, in MiB (at most 1024)
    #[arg(long = "ram", value_name = "MB", default_value_t = 64)]
    pub ram_mb: u64,
}
