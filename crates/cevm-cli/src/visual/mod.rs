//! The visual map of interfaces.md §5: one self-contained HTML file (inline SVG, CSS and
//! script, nothing fetched) drawn in the browser from a JSON snapshot of the kernel.
//!
//! [`snapshot::from_kernel`] is the one place that turns the library's
//! [`cevm::Kernel::regions`] into the data the page draws, alias links and exposed bytes
//! included; [`Recorder`] keeps the differences between the snapshots after every CE call
//! (`cevm maps --steps`); [`page`] wraps them into the HTML file.

pub mod snapshot;
mod steps;

pub use steps::Recorder;

use std::path::Path;

use cevm::Kernel;
use serde_json::{Value, json};

/// The page: the template's three parts around the embedded data.
const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");

/// The HTML file for `data`, an object `{title, base, steps}` (see [`page_data`]).
pub fn page(title: &str, data: &Value) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // No network: a page that tries to fetch anything is refused by its own policy.
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n",
    );
    out.push_str("<title>");
    out.push_str(&escape_html(title));
    out.push_str("</title>\n<style>\n");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n");
    out.push_str("<noscript>The map is drawn by the script in this page; enable JavaScript to see it.</noscript>\n");
    out.push_str("<script type=\"application/json\" id=\"cevm-data\">");
    out.push_str(&script_safe_json(data));
    out.push_str("</script>\n<script>\n");
    out.push_str(JS);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

/// The data of a page showing one state.
pub fn single_page_data(title: &str, kernel: &Kernel) -> Value {
    json!({ "title": title, "base": snapshot::from_kernel(kernel), "steps": Value::Null })
}

/// Writes the map of `kernel`'s present state to `path`.
pub fn write_single(path: &Path, title: &str, kernel: &Kernel) -> Result<(), String> {
    let html = page(title, &single_page_data(title, kernel));
    std::fs::write(path, html).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes the recorded steps to `path`.
pub fn write_steps(path: &Path, title: &str, steps: &Recorder) -> Result<(), String> {
    let html = page(title, &steps.page_data(title));
    std::fs::write(path, html).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// JSON that cannot end the `<script>` element it sits in: every `<` (and so every
/// `</script>` or `<!--` inside a process name) is written as its `\u003c` escape, which
/// JSON reads back as the same character. `>` and `&` are escaped too, for good measure.
fn script_safe_json(v: &Value) -> String {
    let text = v.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_name_cannot_close_the_data_script() {
        let v = json!({ "name": "</script><script>alert(1)</script>" });
        let s = script_safe_json(&v);
        assert!(!s.contains('<'), "{s}");
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn the_title_is_escaped() {
        assert_eq!(escape_html("a<b>&\"c"), "a&lt;b&gt;&amp;&quot;c");
    }
}
