//! `cevm run`: exit codes, output, and what a failure message says.

mod common;

use common::{cevm, script, tmp};
use predicates::prelude::*;

#[test]
fn a_passing_script_exits_0_and_its_prints_reach_stdout() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "ok.rhai",
        r#"let app = create_process("app.exe");
enter(app, USER_MODE);
print("first reservation at " + hex(VirtualAlloc(0, 0x1000, MEM_COMMIT, PAGE_READWRITE)));"#,
    );
    cevm()
        .arg("run")
        .arg(&s)
        .assert()
        .success()
        .stdout("first reservation at 0x00010000\n");
}

#[test]
fn a_failed_assertion_exits_1_with_file_line_column_and_both_values_in_hex() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "fails.rhai",
        "let x = 1;\nSetLastError(8);\n  assert_eq(GetLastError(), ERROR_INVALID_PARAMETER, \"the code\");\n",
    );
    cevm()
        .arg("run")
        .arg(&s)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("fails.rhai:3:3:"))
        .stderr(predicate::str::contains(
            "assert_eq failed (the code): got 0x00000008, expected 0x00000057 (87)",
        ));
}

#[test]
fn a_syntax_error_names_line_and_column() {
    let dir = tmp();
    let s = script(dir.path(), "syntax.rhai", "let a = 1;\nlet b = ;\n");
    cevm()
        .arg("run")
        .arg(&s)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("syntax.rhai:2:9: syntax error"));
}

#[test]
fn a_thrown_value_fails_the_script_at_the_throw() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "throws.rhai",
        "let x = 1;\nif x == 1 {\n    throw \"driver gave up\";\n}\nprint(\"not reached\");\n",
    );
    cevm()
        .arg("run")
        .arg(&s)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("not reached").not())
        .stderr(predicate::str::contains("throws.rhai:3:5: driver gave up"));
}

#[test]
fn an_uncaught_fault_reports_the_exception_code_and_address_in_hex() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "fault.rhai",
        "let app = create_process(\"app.exe\");\nenter(app, USER_MODE);\nwrite32(0x20000, 1);\n",
    );
    cevm()
        .arg("run")
        .arg(&s)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "fault.rhai:3:1: unhandled exception 0xC0000005 (STATUS_ACCESS_VIOLATION) writing 0x00020000",
        ));
}

#[test]
fn a_ce_call_with_a_wrong_type_names_the_function_and_the_argument() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "types.rhai",
        "\nVirtualAlloc(0, \"4096\", MEM_COMMIT, PAGE_READWRITE);\n",
    );
    cevm()
        .arg("run")
        .arg(&s)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "types.rhai:2:1: VirtualAlloc: argument 2 (n) must be an integer, not a string \"4096\"",
        ));
}

#[test]
fn a_call_with_the_wrong_number_of_arguments_says_what_the_function_takes() {
    let dir = tmp();
    let s = script(dir.path(), "arity.rhai", "VirtualQuery(0x10000, 28, 1);\n");
    cevm()
        .arg("run")
        .arg(&s)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "VirtualQuery takes (a) or (a, len)",
        ));
}

#[test]
fn a_missing_script_is_an_error_not_a_panic() {
    cevm()
        .args(["run", "/nonexistent/nothing.rhai"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot read the script"));
}

#[test]
fn ram_sets_the_size_of_the_booted_machine() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "ram.rhai",
        "assert_eq(GlobalMemoryStatus().dwTotalPhys, 4 * 1024 * 1024);\n",
    );
    cevm()
        .arg("run")
        .arg(&s)
        .args(["--ram", "4"])
        .assert()
        .success();
    cevm().arg("run").arg(&s).assert().code(1);
}

#[test]
fn overloads_wrapping_bools_and_out_parameters_follow_the_contract() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "contract.rhai",
        r#"
let app = create_process("app.exe");
let drv = create_process("udevice.exe");
enter(app, USER_MODE);

// -1 is the DWORD 0xFFFFFFFF, a negative size to the kernel.
SetLastError(0);
assert_eq(VirtualAlloc(0, -1, MEM_COMMIT, PAGE_READWRITE), 0);
assert_eq(GetLastError(), ERROR_INVALID_PARAMETER);
assert_eq(hex(-1), "0xFFFFFFFF");
assert_eq(hex(0x1F000), "0x0001F000");

let b = VirtualAlloc(0, 0x2000, MEM_COMMIT, PAGE_READWRITE);
let r = VirtualProtect(b, 0x1000, PAGE_READONLY);
assert_eq(r.ret, true);
assert_eq(r.lpflOldProtect, PAGE_READWRITE);
assert_eq(VirtualQuery(b).ret, 28);
assert_eq(VirtualQuery(b, 28).Protect, PAGE_READONLY);
let bad = VirtualQuery(b, 27);
assert_eq(bad.ret, 0);
assert(!("State" in bad), "no fields when ret is 0");
assert_eq(VirtualQueryEx(GetCurrentProcess(), b + 0x1000).Protect, PAGE_READWRITE);
assert_eq(VirtualQueryEx(app, b + 0x1000, 28).RegionSize, 0x1000);
assert_eq(GetCurrentProcess(), 0x42);
assert_eq(GetCurrentProcessId(), app);

// BOOL arguments take a bool or an integer.
let h1 = OpenProcess(PROCESS_VM_READ, false, drv);
let h2 = OpenProcess(PROCESS_VM_READ, 1, drv);
assert(h1 != 0 && h2 != 0 && h1 != h2);
assert(CloseHandle(h1));
assert(!CloseHandle(h1), "a closed handle cannot be closed again");
assert_eq(GetLastError(), ERROR_INVALID_HANDLE);

// Faults are catchable maps.
let f = #{};
try { write8(b, 1); } catch (e) { f = e; }
assert_eq(f.code, STATUS_ACCESS_VIOLATION);
assert_eq(f.address, b);
assert_eq(f.write, true);

// The driver side: enter with a caller, ReadProcessMemory/WriteProcessMemory blobs.
enter(drv, KERNEL_MODE, app);
assert_eq(GetDirectCallerProcessId(), app);
let w = WriteProcessMemory(app, b + 0x1000, "abc".to_blob());
assert_eq(w.ret, true);
assert_eq(w.lpNumberOfBytesWritten, 3);
let rd = ReadProcessMemory(app, b + 0x1000, 3);
assert_eq(rd.lpBuffer, "abc".to_blob());
assert_eq(rd.lpNumberOfBytesRead, 3);
let lk = LockPagesEx(app, b, 0x2000, LOCKFLAG_READ);
assert_eq(lk.ret, true);
assert_eq(lk.pPFNs.len(), 2);
assert(UnlockPagesEx(app, b, 0x2000));
enter(drv, KERNEL_MODE);
assert_eq(GetDirectCallerProcessId(), drv);   // §5.13: no caller, kernel mode: V

// Kernel-only physical memory, then a fresh kernel.
enter(kernel_pid(), KERNEL_MODE);
let pm = AllocPhysMem(0x1000, PAGE_READWRITE, 0, 0);
assert(pm.ret != 0);
assert_eq(pm.pPhysicalAddress & 0xFFF, 0);
assert(FreePhysMem(pm.ret));
assert_eq(GetSystemInfo().dwPageSize, PAGE_SIZE);
assert_eq(GetSystemInfo().dwAllocationGranularity, BLOCK_SIZE);
assert(maps().contains("udevice.exe"));
assert(maps(app).contains("app.exe") && !maps(app).contains("udevice.exe"));

boot(#{ram_mb: 8});
assert_eq(GlobalMemoryStatus().dwTotalPhys, 8 * 1024 * 1024);
assert_eq(GetCurrentProcessId(), kernel_pid(), "boot returns the thread to NK.EXE");
assert(!maps().contains("app.exe"), "the old processes are gone");
boot();
assert_eq(GlobalMemoryStatus().dwTotalPhys, 64 * 1024 * 1024);

// Constants are visible inside script functions too.
fn page_of(a) { a & (0xFFFFFFFF - (PAGE_SIZE - 1)) }
assert_eq(page_of(0x12345), 0x12000);
"#,
    );
    cevm().arg("run").arg(&s).assert().success();
}

#[test]
fn assert_eq_compares_blobs_by_content_and_shows_where_they_differ() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "blobs.rhai",
        "assert_eq(\"abc\".to_blob(), \"abc\".to_blob());\nassert_eq(\"abc\".to_blob(), \"abd\".to_blob());\n",
    );
    cevm()
        .arg("run")
        .arg(&s)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("blobs.rhai:2:1:"))
        .stderr(predicate::str::contains("first difference at byte 0x2"));
}
