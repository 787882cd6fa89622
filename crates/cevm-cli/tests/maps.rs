//! `cevm maps` and the map text: aliases and exposed bytes stand out.

mod common;

use common::{UNALIGNED_ALIAS, cevm, script, tmp};
use predicates::prelude::*;

#[test]
fn an_unaligned_alias_is_marked_and_its_exposed_bytes_are_listed() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "alias.rhai",
        &format!("{UNALIGNED_ALIAS}\nprint(\"script output goes to stderr\");\n"),
    );
    let out = cevm().arg("maps").arg(&s).assert().success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let alias = stdout
        .lines()
        .find(|l| l.starts_with("ALIAS   0x00010000-0x00010FFF"))
        .expect("an ALIAS line for the alias page");
    assert!(alias.contains("READONLY"), "{alias}");
    assert!(alias.contains("asked for 0x00010100+0x7"), "{alias}");
    assert!(
        alias.contains("also mapped by app.exe at 0x00010000"),
        "{alias}"
    );
    assert!(
        stdout.contains(
            "EXPOSED 0x00010000-0x000100FF  0x100 bytes before the 0x7 asked for at 0x00010100"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "EXPOSED 0x00010107-0x00010FFF  0xEF9 bytes after the 0x7 asked for at 0x00010100"
        ),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("SHARED  0x00010000") && l.contains("udevice.exe")),
        "the source page says who else maps it: {stdout}"
    );
    assert!(!stdout.contains("script output"));
    out.stderr(predicate::str::contains("script output goes to stderr"));
}

#[test]
fn an_aligned_whole_page_alias_exposes_nothing() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "aligned.rhai",
        r#"let app = create_process("app.exe");
let drv = create_process("udevice.exe");
enter(app, USER_MODE);
let page = VirtualAlloc(0, 0x1000, MEM_COMMIT, PAGE_READWRITE);
enter(drv, KERNEL_MODE);
assert(VirtualAllocCopyEx(app, drv, page, 0x1000, PAGE_READWRITE) != 0);
"#,
    );
    cevm()
        .arg("maps")
        .arg(&s)
        .assert()
        .success()
        .stdout(predicate::str::contains("ALIAS   0x00010000-0x00010FFF"))
        .stdout(predicate::str::contains("\nEXPOSED").not());
}

#[test]
fn a_failing_script_still_shows_its_maps_and_exits_1() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "fails.rhai",
        "create_process(\"before_failure.exe\");\nassert(false, \"stop here\");\n",
    );
    cevm()
        .arg("maps")
        .arg(&s)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("before_failure.exe (pid"))
        .stderr(predicate::str::contains(
            "fails.rhai:2:1: assertion failed: stop here",
        ));
}

#[test]
fn maps_in_a_script_returns_the_same_text() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "text.rhai",
        &format!(
            "{UNALIGNED_ALIAS}\nlet m = maps(drv);\nassert(m.contains(\"EXPOSED 0x00010000-0x000100FF\"), m);\nassert(!m.contains(\"app.exe (pid\"), \"maps(pid) is one process\");\n"
        ),
    );
    cevm().arg("run").arg(&s).assert().success();
}
