//! `cevm bench --quick` keeps working: every figure of design.md is printed beside its
//! baseline. Timings are not asserted.

mod common;

use common::cevm;

#[test]
fn quick_bench_reports_every_target_figure_as_json() {
    let out = cevm()
        .args(["bench", "--quick", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let figures = v["figures"].as_array().unwrap();
    for id in [
        "read4_random",
        "write4_random",
        "alloccopy_16mib",
        "alloccopy_per_page",
        "rpm_1mib",
        "alloc_free_64k",
        "marshal_async_alias_64k",
        "window_read4",
        "window_write4",
        "window_alias_16mib",
        "window_alloc_free_64k",
        "c_abi_virtual_query",
        "c_abi_alias_read",
    ] {
        let f = figures
            .iter()
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("no figure {id}"));
        assert!(f["ns_per_op"].as_f64().unwrap() > 0.0, "{id}");
        assert!(f["target"].is_string(), "{id} has a target");
        assert!(f["met"].is_boolean(), "{id} says whether it met it");
        assert!(
            f["baseline_ns_per_op"].as_f64().unwrap() > 0.0,
            "{id} has a baseline"
        );
    }
    assert!(figures.iter().any(|f| f["id"] == "alloccopy_scaling"));
}

#[test]
fn bench_table_names_figure_baseline_and_ratio() {
    let out = cevm().args(["bench", "--quick"]).output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.lines().next().unwrap().contains("baseline"));
    assert!(s.contains("memcpy of 16 MiB"));
    assert!(s.contains("VirtualAllocCopyEx of 16 MiB"));
}
