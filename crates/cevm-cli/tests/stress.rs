//! `cevm stress` briefly: many threads, shared processes, terminations mid-flight; the
//! report must show calls made and zero violations and leaked frames.

mod common;

use common::cevm;

fn field(out: &str, name: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no '{name}' in:\n{out}"))
}

#[test]
fn a_short_stress_run_reports_no_violations_and_no_leaks() {
    let out = cevm()
        .args(["stress", "--threads", "4", "--seconds", "1", "--seed", "7"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(field(&stdout, "calls made:") > 1000, "{stdout}");
    assert!(field(&stdout, "terminations:") > 0, "{stdout}");
    assert!(field(&stdout, "invariant checks:") > 1, "{stdout}");
    assert_eq!(field(&stdout, "invariant violations:"), 0, "{stdout}");
    assert_eq!(field(&stdout, "frames leaked:"), 0, "{stdout}");
}

#[test]
fn stress_rejects_zero_threads() {
    let out = cevm().args(["stress", "--threads", "0"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--threads"));
}
