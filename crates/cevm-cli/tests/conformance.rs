//! The conformance scripts, the shared ones beside the repository (`../shared/conformance`,
//! present on every developer machine and in CI) and the examples, run through `cevm check`
//! as part of `cargo test`, so the README's one test command covers them too.

mod common;

use common::{cevm, repo_root};

#[test]
fn every_conformance_script_and_example_passes() {
    run_all(false);
}

#[test]
fn every_conformance_script_and_example_passes_with_host_windows() {
    run_all(true);
}

fn run_all(windows: bool) {
    let root = repo_root();
    let mut dirs = vec![root.join("tests/conformance"), root.join("examples")];
    let shared = root.join("../shared/conformance");
    if shared.is_dir() {
        dirs.push(shared);
    }
    let mut cmd = cevm();
    cmd.arg("check");
    if windows {
        cmd.arg("--windows");
    }
    let out = cmd.args(&dirs).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let failures: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(out.status.success(), "{stdout}");
    let passed: usize = last
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(last.ends_with(" passed, 0 failed"), "{last}");
    assert!(passed >= 3, "only {passed} scripts ran");
}

/// `boot(#{host_windows: true})` boots a kernel with windows (the calls answer as
/// without), and a non-bool value is a clear error naming the option.
#[test]
fn the_boot_option_host_windows_takes_a_bool() {
    let dir = tempfile::tempdir().unwrap();
    let ok = common::script(
        dir.path(),
        "on.rhai",
        r#"boot(#{host_windows: true, ram_mb: 16});
let app = create_process("app.exe");
enter(app, KERNEL_MODE);
assert_eq(VirtualAlloc(0, 0x2000, MEM_COMMIT, PAGE_READWRITE), 0x10000);
write32(0x10004, 7);
assert_eq(read32(0x10004), 7);
"#,
    );
    let out = cevm().arg("check").arg(&ok).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let bad = common::script(dir.path(), "bad.rhai", "boot(#{host_windows: 1});\n");
    let out = cevm().arg("check").arg(&bad).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("host_windows must be a bool"), "{stdout}");
}
