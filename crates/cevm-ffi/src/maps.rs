//! The map text of interfaces.md §2.3: the same renderer as `cevm maps` (one source).

#[path = "../../cevm-cli/src/maps.rs"]
mod text;

pub use text::{render_all, render_process};
