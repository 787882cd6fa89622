//! `cevm check`: one line per script, the summary line, the exit code, a fresh kernel each.

mod common;

use common::{cevm, repo_root, script, tmp};
use predicates::prelude::*;

/// Each script takes the first shared-heap reservation: only a fresh kernel per script
/// gives both of them 0x70000000.
const FRESH_KERNEL: &str =
    "assert_eq(CeVirtualSharedAlloc(0, 0x1000, MEM_RESERVE), 0x70000000, \"a fresh kernel\");\n";

#[test]
fn pass_and_fail_lines_are_sorted_and_the_summary_is_last() {
    let dir = tmp();
    script(
        dir.path(),
        "b_fails.rhai",
        "let x = 2;\nassert(x == 3, \"x is three\");\n",
    );
    script(dir.path(), "a_passes.rhai", FRESH_KERNEL);
    script(dir.path(), "nested/c_passes.rhai", FRESH_KERNEL);
    script(dir.path(), "notes.txt", "not a script");
    let out = cevm().arg("check").arg(dir.path()).assert().code(1);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let d = dir.path().display();
    let expected = format!(
        "PASS {d}/a_passes.rhai\n\
         FAIL {d}/b_fails.rhai: line 2, column 1: assertion failed: x is three\n\
         PASS {d}/nested/c_passes.rhai\n\
         2 passed, 1 failed\n"
    );
    assert_eq!(stdout, expected);
}

#[test]
fn all_passing_exits_0_and_a_script_file_can_be_named_directly() {
    let dir = tmp();
    let a = script(dir.path(), "one.rhai", FRESH_KERNEL);
    let b = script(dir.path(), "two.rhai", FRESH_KERNEL);
    cevm()
        .arg("check")
        .arg(&a)
        .arg(&b)
        .assert()
        .success()
        .stdout(predicate::str::ends_with("2 passed, 0 failed\n"));
}

#[test]
fn script_output_does_not_break_the_one_line_per_script_format() {
    let dir = tmp();
    let s = script(dir.path(), "chatty.rhai", "print(\"chatter\");\n");
    cevm()
        .arg("check")
        .arg(&s)
        .assert()
        .success()
        .stdout(predicate::str::contains("chatter").not());
}

#[test]
fn a_syntax_error_is_a_fail_line_with_its_position() {
    let dir = tmp();
    let s = script(dir.path(), "broken.rhai", "let = 1;\n");
    cevm()
        .arg("check")
        .arg(&s)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FAIL"))
        .stdout(predicate::str::contains(
            "broken.rhai: line 1, column 5: syntax error",
        ))
        .stdout(predicate::str::ends_with("0 passed, 1 failed\n"));
}

#[test]
fn a_missing_path_fails() {
    cevm()
        .args(["check", "/nonexistent/folder"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FAIL /nonexistent/folder:"))
        .stdout(predicate::str::ends_with("0 passed, 1 failed\n"));
}

#[test]
fn the_examples_pass() {
    let examples = repo_root().join("examples");
    cevm()
        .arg("check")
        .arg(&examples)
        .assert()
        .success()
        // Four driver scenarios and examples/audit's ten stories (one per finding kind).
        .stdout(predicate::str::contains("PASS").count(14))
        .stdout(predicate::str::ends_with("14 passed, 0 failed\n"));
}
