//! include/cevm.h is what cbindgen makes of the crate today (CI fails on drift). The CE
//! headers' constants are checked by tests/c/constants.c.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn checked_in_cevm_h_equals_a_fresh_cbindgen_generation() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(Path::new(dir).join("cbindgen.toml")).unwrap();
    let mut fresh = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut fresh);
    let fresh = String::from_utf8(fresh).unwrap();
    let path = root().join("include/cevm.h");
    if std::env::var_os("CEVM_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "include/cevm.h is stale: regenerate with CEVM_BLESS=1 cargo test -p cevm-ffi --test header"
    );
    for f in [
        "cevm_boot",
        "cevm_kernel_pid",
        "cevm_create_process",
        "cevm_add_device",
        "cevm_enter",
        "cevm_enter_ex",
        "cevm_ptr",
        "cevm_va",
        "cevm_pid_of",
        "cevm_read",
        "cevm_write",
        "cevm_audit_report",
        "cevm_maps",
        "cevm_free_string",
        "cevm_check_invariants",
    ] {
        assert!(
            fresh.contains(&format!(" {f}(")) || fresh.contains(&format!("*{f}(")),
            "cevm.h lacks {f}"
        );
    }
    assert!(
        !fresh.contains("VirtualAlloc"),
        "CE calls belong to the CE headers"
    );
}
