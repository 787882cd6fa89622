//! The global constants of the script language: every constant named in semantics.md,
//! plus `KERNEL_MODE`, `USER_MODE`, `PAGE_SIZE` and `BLOCK_SIZE`.

use cevm::Mode;
use rhai::{INT, Module};

/// `enter(pid, KERNEL_MODE)`: drivers and the kernel.
pub const KERNEL_MODE: INT = 1;
/// `enter(pid, USER_MODE)`: applications.
pub const USER_MODE: INT = 0;

/// The mode a script's mode value names.
pub fn mode(v: INT) -> Option<Mode> {
    match v {
        KERNEL_MODE => Some(Mode::Kernel),
        USER_MODE => Some(Mode::User),
        _ => None,
    }
}

/// Every constant as `(name, value)`.
pub fn all() -> Vec<(&'static str, INT)> {
    let mut v: Vec<(&'static str, INT)> = cevm::consts::NAMED_CONSTANTS
        .iter()
        .map(|&(n, x)| (n, INT::from(x)))
        .collect();
    v.extend([
        ("KERNEL_MODE", KERNEL_MODE),
        ("USER_MODE", USER_MODE),
        ("PAGE_SIZE", INT::from(cevm::consts::PAGE_SIZE)),
        ("BLOCK_SIZE", INT::from(cevm::consts::BLOCK_SIZE)),
    ]);
    v
}

/// The constants as a module. Registered as a global module, its variables are found
/// after the script's own, inside script functions too (a plain `Scope` would be
/// invisible there).
pub fn module() -> Module {
    let mut m = Module::new();
    for (name, value) in all() {
        m.set_var(name, value);
    }
    m
}
