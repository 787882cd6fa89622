//! `cevm audit SCRIPT [--json] [--policy compatible|strict|isolate]`: runs a script with
//! the driver auditor (audit.md) and reports every finding with the call that caused it.
//! Exit 0 with no error finding, 1 with one or more, 2 when the script itself failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cevm::{ExposurePolicy, Finding, Severity};
use clap::{Args, ValueEnum};

use super::Machine;
use crate::out::{errln, line};
use crate::script::{Failure, Options, Output, Script, read_script};

/// The policies of audit.md, as `--policy` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    /// CE's behaviour; findings only
    Compatible,
    /// An exposing alias or an upgrading VirtualProtect of an alias fails with 87
    Strict,
    /// Partial pages of an exposing alias map private bounce frames
    Isolate,
}

impl From<PolicyArg> for ExposurePolicy {
    fn from(p: PolicyArg) -> Self {
        match p {
            PolicyArg::Compatible => ExposurePolicy::Compatible,
            PolicyArg::Strict => ExposurePolicy::Strict,
            PolicyArg::Isolate => ExposurePolicy::Isolate,
        }
    }
}

/// Arguments of `cevm audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The Rhai script
    pub script: PathBuf,
    #[command(flatten)]
    pub machine: Machine,
    /// One JSON object per finding and line, nothing else on standard output (the
    /// script's print goes to standard error)
    #[arg(long)]
    pub json: bool,
    /// What an alias exposing bytes into a process other than NK.EXE does
    #[arg(long, value_enum, default_value_t = PolicyArg::Compatible)]
    pub policy: PolicyArg,
    /// Stop the script after this many seconds (1 to 86400; default: no limit)
    #[arg(long, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: Option<u64>,
}

/// Runs the script under the auditor and prints its findings.
pub fn execute(args: AuditArgs) -> ExitCode {
    let name = args.script.display().to_string();
    let source = match read_script(&args.script) {
        Ok(s) => s,
        Err(e) => {
            errln!("error: {}", Failure::plain(&name, e));
            return ExitCode::from(2);
        }
    };
    let options = Options {
        output: if args.json {
            Output::Stderr
        } else {
            Output::Stdout
        },
        timeout: args.timeout.map(Duration::from_secs),
        audit: Some(args.policy.into()),
        ..Options::new(args.machine.ram_mb)
    };
    let script = match Script::new(&options) {
        Ok(s) => s,
        Err(e) => {
            errln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = script.run_source(&name, &source);
    let findings = script.finish_audit();
    if let Err(f) = &outcome {
        errln!("error: {f}");
    }
    if args.json {
        for f in &findings {
            line(&f.to_json());
        }
    } else {
        print_text(&findings);
    }
    if outcome.is_err() {
        ExitCode::from(2)
    } else if findings.iter().any(|f| f.severity == Severity::Error) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Text: one block per finding, grouped by kind, errors first; then `N errors, M warnings`.
pub fn print_text(findings: &[Finding]) {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| (f.severity, f.kind, f.seq));
    let mut last = None;
    for f in &sorted {
        if last != Some((f.severity, f.kind)) {
            line(&format!("== {} ({})", f.kind.name(), f.severity.name()));
            last = Some((f.severity, f.kind));
        }
        line(&format!(
            "{}: {} [call {}]",
            f.location,
            f.severity.name(),
            f.seq
        ));
        line(&format!("  {}", f.message));
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    line(&format!("{errors} errors, {warnings} warnings"));
}
