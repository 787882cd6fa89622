//! `cevm check PATH…`: every `*.rhai` under the given files and folders, each in a fresh
//! kernel; one `PASS name` or `FAIL name: reason` line per script, then `N passed, M failed`.
//!
//! Each script has a wall-clock limit (`--timeout`) and Rhai's size limits, so a script
//! that loops or grows without end fails alone and the run goes on. Folders are walked
//! without following symbolic links to folders (two links to `..` would otherwise make the
//! walk exponential); a link to a file is a file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::Machine;
use crate::out::{errln, outln};
use crate::script::{Options, Output, Script};

/// Arguments of `cevm check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scripts, or folders searched recursively for *.rhai (symbolic links to folders are
    /// not followed)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub machine: Machine,
    /// Wall-clock limit of each script, in seconds (1 to 86400)
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
    /// Boot every kernel with host windows on (Linux), so the scripts also check that
    /// windows change no answer
    #[arg(long)]
    pub windows: bool,
}

/// Runs the scripts; exit 1 if any failed or none was found.
pub fn execute(args: CheckArgs) -> ExitCode {
    let mut passed = 0usize;
    let mut failed = 0usize;
    let mut seen = HashSet::new();
    let timeout = Duration::from_secs(args.timeout);
    for path in &args.paths {
        let scripts = match collect(path) {
            Ok(s) => s,
            Err(reason) => {
                outln!("FAIL {}: {reason}", path.display());
                failed += 1;
                continue;
            }
        };
        for script in scripts {
            if !seen.insert(script.clone()) {
                continue;
            }
            match run_one(&script, args.machine.ram_mb, args.windows, timeout) {
                Ok(()) => {
                    outln!("PASS {}", script.display());
                    passed += 1;
                }
                Err(reason) => {
                    outln!("FAIL {}: {reason}", script.display());
                    failed += 1;
                }
            }
        }
    }
    outln!("{passed} passed, {failed} failed");
    if passed + failed == 0 {
        errln!("error: no *.rhai scripts found");
        return ExitCode::FAILURE;
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// One script in a fresh kernel, its output discarded; the reason on one line.
fn run_one(path: &Path, ram_mb: u64, windows: bool, timeout: Duration) -> Result<(), String> {
    let options = Options {
        output: Output::Quiet,
        timeout: Some(timeout),
        host_windows: windows,
        ..Options::new(ram_mb)
    };
    let script = Script::new(&options)?;
    script.run_file(path).map_err(|f| f.one_line())
}

/// A file as given (a link to one included); a folder's `*.rhai` files, recursively,
/// sorted by path.
fn collect(path: &Path) -> Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    walk(path, &mut found).map_err(|e| e.to_string())?;
    found.sort();
    Ok(found)
}

/// The `*.rhai` entries under `dir`. A symbolic link is looked at, not followed into: a
/// link to a folder is skipped, a link to anything else is taken as a file.
fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        let is_dir = if kind.is_symlink() {
            if std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            false
        } else {
            kind.is_dir()
        };
        if is_dir {
            walk(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "rhai") {
            found.push(path);
        }
    }
    Ok(())
}
