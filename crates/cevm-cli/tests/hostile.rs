//! `cevm` under hostile input (issue 8): scripts and inputs built to hang, exhaust memory,
//! overflow the stack or confuse the command end as a clear error for that script or
//! input, and `cevm check` goes on to the next script.
//!
//! Every test bounds its child with a timeout, so a regression fails instead of hanging.
//! Setting `CEVM_UNDER_TEST` to a `cevm` binary runs these tests against that binary (how
//! they were checked against the code before the fixes).

mod common;

#[cfg(target_os = "linux")]
use std::io::Write;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::{script, tmp};
use predicates::prelude::*;

/// The binary under test: `CEVM_UNDER_TEST` if set, else this crate's `cevm`.
fn cevm_path() -> std::path::PathBuf {
    match std::env::var_os("CEVM_UNDER_TEST") {
        Some(p) => p.into(),
        None => assert_cmd::cargo::cargo_bin!("cevm").to_path_buf(),
    }
}

/// `cevm` as an assert_cmd command, killed after `secs` seconds.
fn cevm(secs: u64) -> Command {
    let mut c = Command::new(cevm_path());
    c.timeout(Duration::from_secs(secs));
    c
}

/// A plain `std` command for the tests that need to hold the child's pipes.
fn cevm_std() -> std::process::Command {
    std::process::Command::new(cevm_path())
}

fn no_panic() -> impl Predicate<str> {
    predicate::str::contains("panicked").not()
}

// 1. Time limits.

#[test]
fn check_reports_a_looping_script_as_timed_out_and_runs_the_next() {
    let dir = tmp();
    script(dir.path(), "a_loop.rhai", "let n = 0;\nloop { n += 1; }\n");
    script(dir.path(), "b_ok.rhai", "assert_eq(1 + 1, 2);\n");
    let started = Instant::now();
    cevm(30)
        .args(["check", "--timeout", "1"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("a_loop.rhai: timed out after 1 s"))
        .stdout(predicate::str::contains("PASS "))
        .stdout(predicate::str::ends_with("1 passed, 1 failed\n"));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn run_with_a_timeout_stops_a_looping_script_with_exit_1() {
    let dir = tmp();
    let s = script(dir.path(), "spin.rhai", "fn f() { loop {} }\nf();\n");
    cevm(30)
        .args(["run", "--timeout", "1"])
        .arg(&s)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("spin.rhai: timed out after 1 s"));
}

#[test]
fn a_zero_or_huge_timeout_is_refused_with_its_range() {
    for bad in ["0", "86401", "-1", "ten"] {
        cevm(10)
            .args(["check", &format!("--timeout={bad}"), "."])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--timeout"));
    }
}

// 2. Memory limits.

#[test]
fn check_turns_huge_blobs_strings_and_arrays_into_errors_and_goes_on() {
    let dir = tmp();
    script(dir.path(), "a_blob.rhai", "let b = blob(0x7FFFFFFFFFFF);\n");
    script(
        dir.path(),
        "b_string.rhai",
        "let s = \"x\";\nloop { s += s; }\n",
    );
    script(
        dir.path(),
        "c_array.rhai",
        "let a = [1];\nloop { a += a; }\n",
    );
    script(dir.path(), "d_last.rhai", "assert(true);\n");
    cevm(60)
        .args(["check", "--timeout", "20"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "a_blob.rhai: line 1, column 9: Size of array/BLOB over the script limit",
        ))
        .stdout(predicate::str::contains(
            "b_string.rhai: line 2, column 10: Length of string over the script limit of 16 MiB",
        ))
        .stdout(predicate::str::contains(
            "c_array.rhai: line 2, column 10: Size of array/BLOB over the script limit",
        ))
        .stdout(predicate::str::contains("PASS "))
        .stdout(predicate::str::ends_with("1 passed, 3 failed\n"));
}

#[test]
fn the_limits_still_let_a_script_build_a_mib_blob_big_arrays_and_deep_calls() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "roomy.rhai",
        r#"let b = blob(0x100000, 0xAB);
assert_eq(b.len(), 0x100000);
let a = [];
for i in 0..10000 { a.push(i); }
assert_eq(a.len(), 10000);
let m = #{};
for i in 0..1000 { m[`k${i}`] = i; }
assert_eq(m.len(), 1000);
fn down(n) { if n == 0 { 0 } else { 1 + down(n - 1) } }
assert_eq(down(400), 400);
let s = "ab";
for i in 0..19 { s += s; }
assert_eq(s.len(), 0x100000);
"#,
    );
    cevm(60).arg("run").arg(&s).assert().success();
}

#[test]
fn runaway_recursion_is_an_error_naming_the_call_limit() {
    let dir = tmp();
    let s = script(dir.path(), "deep.rhai", "fn f(n) { f(n + 1) }\nf(0);\n");
    cevm(60)
        .arg("run")
        .arg(&s)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("too many nested function calls"))
        .stderr(no_panic());
}

// 3. Maps that are not quadratic.

#[test]
fn maps_of_a_frame_mapped_8000_times_render_quickly_and_count_the_rest() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "fan.rhai",
        r#"let src = VirtualAlloc(0, 0x1000, MEM_COMMIT, PAGE_READWRITE);
let n = 8000;
let dst = VirtualAlloc(0, n * 0x1000, MEM_RESERVE, PAGE_NOACCESS);
for i in 0..n { assert(VirtualCopy(dst + i * 0x1000, src, 0x1000, PAGE_READWRITE)); }
"#,
    );
    let out = cevm(30).arg("maps").arg(&s).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    // 8001 mappings of one frame: each names 4 others and counts the other 7996.
    assert_eq!(text.matches(", … and 7996 more\n").count(), 8001);
}

#[test]
fn maps_of_2000_processes_render_quickly() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "many.rhai",
        r#"for i in 0..2000 {
    let p = create_process("p" + i + ".exe");
    enter(p, USER_MODE);
    VirtualAlloc(0, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    enter(kernel_pid(), KERNEL_MODE);
}
"#,
    );
    let out = cevm(30).arg("maps").arg(&s).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.contains("p1999.exe (pid "));
}

// 4. Deeply nested values in messages.

#[test]
fn a_deeply_nested_wrong_argument_is_shown_cut_short() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "nest.rhai",
        "let a = 0;\nfor i in 0..5000 { a = [a]; }\nVirtualAlloc(a, 0x1000, MEM_COMMIT, PAGE_READWRITE);\n",
    );
    cevm(60)
        .arg("run")
        .arg(&s)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "argument 1 (a) must be an integer, not an array [[[[[[[[[…]]]]]]]]]",
        ));
}

// 5. Symbolic links in folders.

#[cfg(unix)]
#[test]
fn check_does_not_follow_links_to_folders_but_runs_a_linked_file_named_on_the_line() {
    use std::os::unix::fs::symlink;
    let dir = tmp();
    let tree = dir.path().join("tree");
    script(&tree, "sub/ok.rhai", "assert(true);\n");
    symlink("..", tree.join("sub/up1")).unwrap();
    symlink("..", tree.join("sub/up2")).unwrap();
    symlink(tree.join("sub"), tree.join("again")).unwrap();
    cevm(30).arg("check").arg(&tree).assert().success().stdout(
        "PASS ".to_string()
            + &tree.join("sub/ok.rhai").display().to_string()
            + "\n1 passed, 0 failed\n",
    );
    let real = script(dir.path(), "real.rhai", "assert(true);\n");
    let link = dir.path().join("link.rhai");
    symlink(&real, &link).unwrap();
    cevm(30)
        .arg("check")
        .arg(&link)
        .assert()
        .success()
        .stdout(predicate::str::contains("PASS "));
}

// 6. Unbounded input.

#[cfg(unix)]
#[test]
fn run_refuses_dev_zero_as_too_large() {
    cevm(30)
        .args(["run", "/dev/zero"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "/dev/zero: cannot read the script: it is larger than 16 MiB",
        ));
}

#[cfg(unix)]
#[test]
fn check_fails_a_rhai_link_to_dev_zero_and_goes_on() {
    let dir = tmp();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("a_zero.rhai")).unwrap();
    script(dir.path(), "b_ok.rhai", "assert(true);\n");
    cevm(30)
        .arg("check")
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "a_zero.rhai: cannot read the script: it is larger than 16 MiB",
        ))
        .stdout(predicate::str::ends_with("1 passed, 1 failed\n"));
}

#[cfg(unix)]
#[test]
fn shell_stops_on_an_endless_line_from_dev_zero() {
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let child = cevm_std()
        .arg("shell")
        .stdin(zero)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_bounded(child, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("line 1 is longer than 1 MiB; the shell stops"),
        "{stderr}"
    );
}

// 7. A trace that would overwrite the script.

#[test]
fn run_refuses_a_trace_path_that_is_the_script_and_leaves_it_intact() {
    let dir = tmp();
    let body = "print(\"hello\");\n";
    let s = script(dir.path(), "s.rhai", body);
    let other_spelling = dir.path().join(".").join("s.rhai");
    for trace in [s.clone(), other_spelling] {
        cevm(30)
            .arg("run")
            .arg(&s)
            .arg("--trace")
            .arg(&trace)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("is the script itself"));
        assert_eq!(std::fs::read_to_string(&s).unwrap(), body);
    }
}

#[cfg(unix)]
#[test]
fn run_refuses_a_trace_path_that_is_a_hard_link_to_the_script() {
    let dir = tmp();
    let body = "print(\"hello\");\n";
    let s = script(dir.path(), "s.rhai", body);
    let hard = dir.path().join("same.jsonl");
    std::fs::hard_link(&s, &hard).unwrap();
    cevm(30)
        .arg("run")
        .arg(&s)
        .arg("--trace")
        .arg(&hard)
        .assert()
        .code(1);
    assert_eq!(std::fs::read_to_string(&s).unwrap(), body);
}

// 8. Byte-order mark.

#[test]
fn a_script_starting_with_a_byte_order_mark_runs_and_columns_ignore_it() {
    let dir = tmp();
    let ok = script(dir.path(), "bom.rhai", "\u{FEFF}print(\"with bom\");\n");
    cevm(30)
        .arg("run")
        .arg(&ok)
        .assert()
        .success()
        .stdout("with bom\n");
    let bad = script(dir.path(), "bad.rhai", "\u{FEFF}assert_eq(1, 2);\n");
    cevm(30)
        .arg("run")
        .arg(&bad)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bad.rhai:1:1: assert_eq failed"));
}

// 9. A shell line that is not UTF-8.

#[test]
fn shell_reports_a_line_that_is_not_utf8_and_goes_on() {
    cevm(30)
        .arg("shell")
        .write_stdin(b"print(1);\n\xFF\xFE bad\nprint(2);\n".to_vec())
        .assert()
        .success()
        .stdout("1\n2\n")
        .stderr(predicate::str::contains("line 2 is not UTF-8 text"));
}

// 10. Numeric options.

#[test]
fn stress_refuses_a_ram_size_that_would_wrap_and_too_many_threads() {
    for (name, value) in [
        ("--ram", "17592186044417"),
        ("--ram", "0"),
        ("--threads", "100000"),
        ("--threads", "0"),
        ("--seconds", "NaN"),
        ("--seconds", "-1"),
        ("--seconds", "1e300"),
    ] {
        let mut c = cevm(30);
        c.arg("stress").arg(format!("{name}={value}"));
        if name != "--seconds" {
            c.arg("--seconds=0");
        }
        c.assert()
            .code(2)
            .stderr(predicate::str::contains(name))
            .stderr(no_panic());
    }
}

#[test]
fn every_ram_option_refuses_sizes_beyond_1024_mib() {
    let dir = tmp();
    let s = script(dir.path(), "ok.rhai", "assert(true);\n");
    for cmd in ["run", "check", "maps"] {
        cevm(30)
            .arg(cmd)
            .arg(&s)
            .args(["--ram", "17592186044417"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("1..=1024"));
    }
    cevm(30)
        .args(["shell", "--ram", "4096"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("1..=1024"));
}

#[test]
fn stress_help_gives_the_ranges() {
    cevm(30)
        .args(["stress", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("(1 to 256)"))
        .stdout(predicate::str::contains("(0 to 86400)"))
        .stdout(predicate::str::contains("(1 to 1024"));
}

// 11. Closed or full standard output.

/// Runs `cevm args…`, reads one line of its standard output, closes the pipe and waits.
fn read_one_line_then_close(args: &[&std::ffi::OsStr]) -> (std::process::ExitStatus, String) {
    let mut child = cevm_std()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    {
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut first).unwrap();
    } // the read end is closed here
    let out = wait_bounded(child, Duration::from_secs(60));
    assert!(!first.is_empty(), "no first line");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn wait_bounded(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("cevm did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn run_whose_stdout_is_closed_early_ends_quietly_with_a_failure() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "chatty.rhai",
        "for i in 0..1000000 { print(i); }\n",
    );
    let (status, stderr) = read_one_line_then_close(&["run".as_ref(), s.as_os_str()]);
    assert!(!status.success(), "{status:?}");
    assert_eq!(status.code(), Some(1), "{status:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn check_whose_stdout_is_closed_early_ends_quietly_with_a_failure() {
    let dir = tmp();
    script(dir.path(), "a.rhai", "assert(true);\n");
    // Slow enough that the reader has closed the pipe before the next line is written.
    for name in ["b.rhai", "c.rhai", "d.rhai"] {
        script(
            dir.path(),
            name,
            "let x = 0;\nfor i in 0..300000 { x += i; }\n",
        );
    }
    let (status, stderr) = read_one_line_then_close(&["check".as_ref(), dir.path().as_os_str()]);
    assert_eq!(status.code(), Some(1), "{status:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[cfg(target_os = "linux")]
fn dev_full() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn run_check_and_shell_with_stdout_on_dev_full_end_quietly_with_a_failure() {
    let dir = tmp();
    let s = script(dir.path(), "hi.rhai", "print(\"hi\");\n");
    for args in [vec!["run"], vec!["check"]] {
        let out = cevm_std()
            .args(&args)
            .arg(&s)
            .stdout(dev_full())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let mut child = cevm_std()
        .arg("shell")
        .stdin(Stdio::piped())
        .stdout(dev_full())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"print(1);\n")
        .unwrap();
    let out = wait_bounded(child, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[cfg(target_os = "linux")]
#[test]
fn maps_and_bench_with_stdout_on_dev_full_end_quietly_with_a_failure() {
    let dir = tmp();
    let s = script(dir.path(), "one.rhai", "create_process(\"app.exe\");\n");
    for args in [
        vec!["maps".as_ref(), s.as_os_str()],
        vec!["bench".as_ref(), "--quick".as_ref()],
    ] {
        let out = cevm_std()
            .args(&args)
            .stdout(dev_full())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

// 12. The trace of a run that never ends.

#[test]
fn the_trace_of_a_killed_run_already_holds_the_calls_made() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "hang.rhai",
        "VirtualAlloc(0, 0x1000, MEM_COMMIT, PAGE_READWRITE);\nprint(\"started\");\nloop {}\n",
    );
    let trace = dir.path().join("t.jsonl");
    let mut child = cevm_std()
        .arg("run")
        .arg(&s)
        .arg("--trace")
        .arg(&trace)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "started\n");
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&trace).unwrap();
    assert_eq!(text.lines().count(), 1, "{text:?}");
    assert!(text.contains("\"call\":\"VirtualAlloc\""), "{text}");
}

#[test]
fn the_trace_of_a_timed_out_run_holds_the_calls_made() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "hang.rhai",
        "VirtualAlloc(0, 0x1000, MEM_COMMIT, PAGE_READWRITE);\nloop {}\n",
    );
    let trace = dir.path().join("t.jsonl");
    cevm(30)
        .arg("run")
        .arg(&s)
        .arg("--trace")
        .arg(&trace)
        .args(["--timeout", "1"])
        .assert()
        .code(1);
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(text.contains("\"call\":\"VirtualAlloc\""), "{text}");
}
