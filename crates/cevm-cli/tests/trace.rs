//! `--trace FILE`: one JSON object per CE call, in order, with the right fields.

mod common;

use common::{UNALIGNED_ALIAS, cevm, script, tmp};
use serde_json::Value;

fn trace_of(body: &str) -> Vec<Value> {
    let dir = tmp();
    let s = script(dir.path(), "traced.rhai", body);
    let trace = dir.path().join("trace.jsonl");
    cevm()
        .arg("run")
        .arg(&s)
        .arg("--trace")
        .arg(&trace)
        .assert()
        .success();
    std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn every_line_is_a_ce_call_with_all_fields_in_order() {
    let lines = trace_of(&format!(
        "{UNALIGNED_ALIAS}\nassert_eq(read8(p), 0);\nSetLastError(0);\nVirtualAllocCopyEx(app, drv, 0xF000, 16, PAGE_READWRITE);\n"
    ));
    let calls: Vec<&str> = lines.iter().map(|l| l["call"].as_str().unwrap()).collect();
    // Harness functions (create_process, enter, assert_eq, read8) are not traced.
    assert_eq!(
        calls,
        [
            "VirtualAlloc",
            "VirtualAllocCopyEx",
            "SetLastError",
            "VirtualAllocCopyEx"
        ]
    );
    for (i, l) in lines.iter().enumerate() {
        let keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["seq", "pid", "mode", "call", "args", "ret", "error"],
            "{l}"
        );
        assert_eq!(l["seq"], i as u64 + 1);
    }
    assert_eq!(lines[0]["mode"], "user");
    assert_eq!(lines[0]["args"], serde_json::json!([0, 0x1000, 0x1000, 4]));

    let ok = &lines[1];
    assert_eq!(ok["mode"], "kernel");
    assert_eq!(ok["ret"], 0x10100);
    assert_eq!(ok["error"], 0);
    let app = ok["args"][0].clone();
    let drv = ok["args"][1].clone();
    assert_eq!(ok["pid"], drv, "the call is made in udevice.exe");
    assert_eq!(ok["args"], serde_json::json!([app, drv, 0x10100, 7, 2]));

    let failed = &lines[3];
    assert_eq!(failed["ret"], 0);
    assert_eq!(failed["error"], 87, "a source below 0x10000");
}

#[test]
fn arguments_are_wrapped_dwords_and_out_parameters_are_recorded() {
    let lines = trace_of(
        "let b = VirtualAlloc(0, 0x1000, MEM_COMMIT, PAGE_READWRITE);\n\
         VirtualProtect(b, -1, PAGE_READONLY);\n\
         VirtualProtect(b, 0x1000, PAGE_READONLY);\n",
    );
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[1]["args"][1], 0xFFFF_FFFFu64,
        "-1 is seen as 0xFFFFFFFF"
    );
    assert_eq!(lines[1]["ret"], false);
    assert_eq!(lines[1]["error"], 87);
    assert_eq!(lines[2]["ret"], true);
    assert_eq!(lines[2]["out"]["lpflOldProtect"], 4);
    assert_eq!(
        lines[2]["error"], 87,
        "a success leaves the last error as it was"
    );
}
