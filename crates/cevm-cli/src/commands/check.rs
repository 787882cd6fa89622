//! `cevm check PATH…`: every `*.rhai` under the given files and folders, each in a fresh
//! kernel; one `PASS name` or `FAIL name: reason` line per script, then `N passed, M failed`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::Machine;
use crate::script::{Options, Output, Script};

/// Arguments of `cevm check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scripts, or folders searched recursively for *.rhai
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub machine: Machine,
}

/// Runs the scripts; exit 1 if any failed or none was found.
pub fn execute(args: CheckArgs) -> ExitCode {
    let mut passed = 0usize;
    let mut failed = 0usize;
    let mut seen = Vec::new();
    for path in &args.paths {
        let scripts = match collect(path) {
            Ok(s) => s,
            Err(reason) => {
                println!("FAIL {}: {reason}", path.display());
                failed += 1;
                continue;
            }
        };
        for script in scripts {
            if seen.contains(&script) {
                continue;
            }
            match run_one(&script, args.machine.ram_mb) {
                Ok(()) => {
                    println!("PASS {}", script.display());
                    passed += 1;
                }
                Err(reason) => {
                    println!("FAIL {}: {reason}", script.display());
                    failed += 1;
                }
            }
            seen.push(script);
        }
    }
    println!("{passed} passed, {failed} failed");
    if passed + failed == 0 {
        eprintln!("error: no *.rhai scripts found");
        return ExitCode::FAILURE;
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// One script in a fresh kernel, its output discarded; the reason on one line.
fn run_one(path: &Path, ram_mb: u64) -> Result<(), String> {
    let options = Options {
        output: Output::Quiet,
        ..Options::new(ram_mb)
    };
    let script = Script::new(&options)?;
    script.run_file(path).map_err(|f| f.one_line())
}

/// A file as given; a folder's `*.rhai` files, recursively, sorted by path.
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

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "rhai") {
            found.push(path);
        }
    }
    Ok(())
}
