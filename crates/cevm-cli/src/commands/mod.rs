//! The subcommands. Each module has its clap arguments and an `execute` that returns the
//! process exit code.

pub mod audit;
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
    /// RAM of the emulated machine, in MiB (1 to 1024)
    #[arg(long = "ram", value_name = "MB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub ram_mb: u64,
}

/// A number of seconds: finite, from 0 to 86400 (a day).
pub fn seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if v.is_finite() && (0.0..=86_400.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{s} is not between 0 and 86400"))
    }
}
