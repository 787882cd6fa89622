//! `cevm shell` driven through piped standard input.

mod common;

use common::cevm;
use predicates::prelude::*;

#[test]
fn an_error_prints_and_the_next_line_still_runs() {
    cevm()
        .arg("shell")
        .write_stdin("read8(0x20000)\nprint(\"after: \" + hex(PAGE_SIZE));\n")
        .assert()
        .success()
        .stderr(predicate::str::contains("unhandled exception 0xC0000005"))
        .stdout(predicate::str::contains("after: 0x00001000"));
}

#[test]
fn variables_and_functions_stay_and_open_brackets_continue_the_input() {
    cevm()
        .arg("shell")
        .write_stdin(
            "let app = create_process(\"app.exe\");\n\
             fn twice(x) { x * 2 }\n\
             for i in [1, 2] {\n  print(\"i=\" + twice(i));\n}\n\
             enter(app, USER_MODE);\n\
             VirtualAlloc(0, 0x1000, MEM_COMMIT, PAGE_READWRITE)\n",
        )
        .assert()
        .success()
        .stdout(predicate::str::contains("i=2\ni=4\n"))
        .stdout(predicate::str::contains("0x00010000"));
}

#[test]
fn maps_command_prints_the_maps() {
    cevm()
        .arg("shell")
        .write_stdin("create_process(\"shellproc.exe\");\n:maps\n")
        .assert()
        .success()
        .stdout(predicate::str::contains("shellproc.exe (pid 0x"))
        .stdout(predicate::str::contains("NK.EXE (pid 0x"));
}

#[test]
fn help_lists_the_calls_and_quit_ends_the_session() {
    cevm()
        .arg("shell")
        .write_stdin(":help\n:quit\nprint(\"still here\");\n")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "VirtualAllocCopyEx(hSrc, hDst, p, n, prot)",
        ))
        .stdout(predicate::str::contains("still here").not());
}

#[test]
fn a_wrong_type_and_an_unknown_command_are_errors_that_do_not_end_the_session() {
    cevm()
        .arg("shell")
        .write_stdin("VirtualFree(\"x\", 0, MEM_RELEASE)\n:frobnicate\nprint(\"alive\");\n")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "VirtualFree: argument 1 (a) must be an integer",
        ))
        .stderr(predicate::str::contains("unknown command :frobnicate"))
        .stdout(predicate::str::contains("alive"));
}
