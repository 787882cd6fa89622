//! Helpers shared by the command-line tests.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// The `cevm` binary under test.
pub fn cevm() -> Command {
    assert_cmd::cargo::cargo_bin_cmd!("cevm")
}

/// Writes `body` to `dir/name` and returns its path.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, body).unwrap();
    path
}

/// A fresh temporary folder.
pub fn tmp() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// The repository root (for `examples/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A user-mode app buffer aliased, unaligned, by a kernel-mode driver host: the shared
/// start of several tests.
pub const UNALIGNED_ALIAS: &str = r#"
let app = create_process("app.exe");
let drv = create_process("udevice.exe");
enter(app, USER_MODE);
let page = VirtualAlloc(0, 0x1000, MEM_COMMIT, PAGE_READWRITE);
enter(drv, KERNEL_MODE, app);
let p = VirtualAllocCopyEx(app, drv, page + 0x100, 7, PAGE_READONLY);
assert_eq(p, 0x10100);
"#;
