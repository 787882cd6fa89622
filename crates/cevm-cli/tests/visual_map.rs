//! The visual map (interfaces.md §5), opened in headless Chromium: the tests read the DOM
//! after the page's script drew it, and take screenshots of every example's map.
//!
//! Without Chromium the tests skip with a message (install it with `apt-get install
//! chromium`); under CI (`CI=true`), which always installs it, a missing browser fails.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{UNALIGNED_ALIAS, cevm, repo_root, script, tmp};

// ---- The browser ---------------------------------------------------------------------------

/// The Chromium binary, or `None` (after saying how to install it) when there is none.
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must install Chromium (.ci/run does: apt-get install -y chromium)"
        );
        eprintln!(
            "skipping the browser test: Chromium is not installed (install it with `apt-get install chromium`)"
        );
    }
    found
}

/// Chromium, headless, with a fresh profile under `dir` and nothing that reaches out.
fn browser(bin: &Path, dir: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", dir.join("profile").display()));
    c
}

fn url(page: &Path, fragment: &str) -> String {
    let abs = std::fs::canonicalize(page).unwrap();
    format!("file://{}{fragment}", abs.display())
}

/// The DOM of `page` after its scripts ran.
fn dump_dom(bin: &Path, page: &Path, fragment: &str) -> String {
    let dir = tmp();
    let out = browser(bin, dir.path())
        .arg("--dump-dom")
        .arg(url(page, fragment))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed: {out:?}");
    let dom = String::from_utf8(out.stdout).unwrap();
    assert!(
        dom.contains("data-render-ms"),
        "the page's script did not finish drawing: {}",
        &dom[..dom.len().min(2000)]
    );
    dom
}

// ---- Reading the DOM -------------------------------------------------------------------------

/// One start tag: its name and attributes (values unescaped for `&amp;`, `&lt;`, `&gt;`,
/// `&quot;`).
#[derive(Debug)]
struct Tag {
    attrs: HashMap<String, String>,
}

impl Tag {
    fn get(&self, name: &str) -> &str {
        self.attrs.get(name).map_or("", String::as_str)
    }
    fn has_class(&self, class: &str) -> bool {
        self.get("class").split(' ').any(|c| c == class)
    }
}

/// The map's own SVG (the legend draws swatches with the same classes).
fn map_svg(dom: &str) -> &str {
    let start = dom.find("<svg id=\"map\"").expect("the map's svg");
    let end = dom[start..].find("</svg>").map_or(dom.len(), |e| start + e);
    &dom[start..end]
}

/// Every `<name …>` start tag of `dom` carrying `class`.
fn tags(dom: &str, name: &str, class: &str) -> Vec<Tag> {
    let open = format!("<{name} ");
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(i) = rest.find(&open) {
        rest = &rest[i + open.len()..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = Tag {
            attrs: attributes(&rest[..end]),
        };
        if tag.has_class(class) {
            out.push(tag);
        }
        rest = &rest[end..];
    }
    out
}

fn attributes(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s;
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq]
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or("")
            .to_string();
        let after = &rest[eq + 2..];
        let close = after.find('"').unwrap_or(after.len());
        let value = after[..close]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&amp;", "&");
        out.insert(name, value);
        rest = &after[(close + 1).min(after.len())..];
    }
    out
}

/// The `data-pid` of the column named `name`.
fn pid_of(dom: &str, name: &str) -> String {
    let cols = tags(dom, "g", "col");
    let c = cols
        .iter()
        .find(|c| c.get("data-name") == name)
        .unwrap_or_else(|| panic!("no column named {name}: {cols:?}"));
    c.get("data-pid").to_string()
}

/// A number from a `data-…-ms` attribute of the root element.
fn root_ms(dom: &str, attr: &str) -> f64 {
    let key = format!("{attr}=\"");
    let i = dom.find(&key).unwrap_or_else(|| panic!("no {attr}")) + key.len();
    dom[i..dom[i..].find('"').unwrap() + i].parse().unwrap()
}

// ---- Making maps -----------------------------------------------------------------------------

/// Runs `cevm maps SCRIPT --html FILE` plus `extra`, returning the page path.
fn make_map(dir: &Path, name: &str, body: &str, extra: &[&str]) -> PathBuf {
    let s = script(dir, &format!("{name}.rhai"), body);
    let page = dir.join(format!("{name}.html"));
    cevm()
        .arg("maps")
        .arg(&s)
        .arg("--html")
        .arg(&page)
        .args(extra)
        .assert()
        .success();
    page
}

// ---- The tests -------------------------------------------------------------------------------

#[test]
fn one_column_per_live_process_nk_included_and_one_per_device() {
    let Some(bin) = chromium() else { return };
    let dir = tmp();
    let page = make_map(
        dir.path(),
        "cols",
        r#"create_process("a.exe"); create_process("b.exe");
let gone = create_process("gone.exe");
let h = OpenProcess(PROCESS_ALL_ACCESS, false, gone);
assert(TerminateProcess(h, 0));
create_process("c.exe");
add_device("uart0", 0x90000000, 0x1000);
"#,
        &[],
    );
    let dom = dump_dom(&bin, &page, "");
    let cols = tags(&dom, "g", "col");
    let procs: Vec<&str> = cols
        .iter()
        .filter(|c| c.get("data-kind") == "proc")
        .map(|c| c.get("data-name"))
        .collect();
    assert_eq!(procs, ["NK.EXE", "a.exe", "b.exe", "c.exe"], "{cols:?}");
    let devices: Vec<&str> = cols
        .iter()
        .filter(|c| c.get("data-kind") == "device")
        .map(|c| c.get("data-device"))
        .collect();
    assert_eq!(devices, ["uart0"]);
}

#[test]
fn a_process_name_with_markup_is_shown_as_text() {
    let Some(bin) = chromium() else { return };
    let dir = tmp();
    let name = r#"</script><img src=x onerror="document.title='owned'">&amp;.exe"#;
    let page = make_map(
        dir.path(),
        "markup",
        &format!("create_process({name:?});\n"),
        &[],
    );
    let dom = dump_dom(&bin, &page, "");
    let cols = tags(&dom, "g", "col");
    assert_eq!(cols.len(), 2, "{cols:?}");
    assert_eq!(cols[1].get("data-name"), name);
    assert!(!dom.contains("<img"), "the name became markup");
    assert!(!dom.contains("<title>owned"));
}

#[test]
fn an_alias_link_joins_the_drivers_range_to_the_callers_pages() {
    let Some(bin) = chromium() else { return };
    let dir = tmp();
    let page = make_map(dir.path(), "alias", UNALIGNED_ALIAS, &[]);
    let dom = dump_dom(&bin, &page, "");
    let (app, drv) = (pid_of(&dom, "app.exe"), pid_of(&dom, "udevice.exe"));
    let links = tags(map_svg(&dom), "path", "link");
    assert_eq!(links.len(), 1, "one alias, one link: {links:?}");
    let l = &links[0];
    // The script: app's page at 0x10000, aliased by the driver at 0x10100 (one page).
    assert_eq!(l.get("data-from-pid"), drv);
    assert_eq!(l.get("data-from-start"), "0x00010000");
    assert_eq!(l.get("data-from-end"), "0x00011000");
    assert_eq!(l.get("data-to-kind"), "proc");
    assert_eq!(l.get("data-to-pid"), app);
    assert_eq!(l.get("data-to-start"), "0x00010000");
    assert_eq!(l.get("data-to-end"), "0x00011000");
    // Both ends are drawn regions of those processes.
    let regions = tags(map_svg(&dom), "rect", "r");
    for (pid, class) in [(&drv, "alias"), (&app, "shared")] {
        assert!(
            regions.iter().any(|r| r.get("data-pid") == pid
                && r.get("data-start") == "0x00010000"
                && r.has_class(class)),
            "no {class} region of pid {pid} at 0x00010000"
        );
    }
}

#[test]
fn the_exposed_marks_cover_exactly_the_bytes_outside_the_request_and_name_their_owner() {
    let Some(bin) = chromium() else { return };
    let dir = tmp();
    let page = make_map(dir.path(), "exposed", UNALIGNED_ALIAS, &[]);
    let dom = dump_dom(&bin, &page, "");
    let (app, drv) = (pid_of(&dom, "app.exe"), pid_of(&dom, "udevice.exe"));
    // 7 bytes asked for at 0x10100 in a page 0x10000-0x10FFF: 0x100 before, 0xEF9 after.
    let expected = [("0x00010000", "0x00010100"), ("0x00010107", "0x00011000")];
    for (tag, class) in [("rect", "exposed"), ("li", "exp")] {
        let part = if tag == "rect" { map_svg(&dom) } else { &dom };
        let marks = tags(part, tag, class);
        let got: Vec<(&str, &str)> = marks
            .iter()
            .map(|m| (m.get("data-start"), m.get("data-end")))
            .collect();
        assert_eq!(got, expected, "{tag}.{class}");
        for m in &marks {
            assert_eq!(m.get("data-pid"), drv, "the exposure is in the driver");
            assert_eq!(m.get("data-owner"), app, "the bytes are the app's");
        }
    }
    assert!(dom.contains("0x100 bytes of <b>app.exe at 0x00010000–0x000100FF</b> before"));
}

#[test]
fn an_aligned_whole_page_alias_has_no_exposed_mark() {
    let Some(bin) = chromium() else { return };
    let dir = tmp();
    let page = make_map(
        dir.path(),
        "aligned",
        r#"let app = create_process("app.exe");
let drv = create_process("udevice.exe");
enter(app, USER_MODE);
let page = VirtualAlloc(0, 0x1000, MEM_COMMIT, PAGE_READWRITE);
enter(drv, KERNEL_MODE);
assert(VirtualAllocCopyEx(app, drv, page, 0x1000, PAGE_READWRITE) != 0);
"#,
        &[],
    );
    let dom = dump_dom(&bin, &page, "");
    assert!(tags(map_svg(&dom), "rect", "exposed").is_empty());
    assert_eq!(tags(map_svg(&dom), "path", "link").len(), 1);
}

#[test]
fn device_aliases_link_to_the_named_device_column() {
    let Some(bin) = chromium() else { return };
    let dir = tmp();
    let page = make_map(
        dir.path(),
        "device",
        r#"add_device("uart0", 0x90000000, 0x1000);
let app = create_process("sensor.exe");
let regs = MmMapIoSpace(0x90000000, 0x1000, false);
let user = VirtualAllocCopyEx(kernel_pid(), app, regs, 0x1000, PAGE_READWRITE | PAGE_NOCACHE);
assert(user != 0);
"#,
        &[],
    );
    let dom = dump_dom(&bin, &page, "");
    let (nk, app) = (pid_of(&dom, "NK.EXE"), pid_of(&dom, "sensor.exe"));
    let links = tags(map_svg(&dom), "path", "link");
    assert_eq!(
        links.len(),
        2,
        "the kernel mapping and the process alias: {links:?}"
    );
    // The kernel's MmMapIoSpace mapping links to the device it maps ...
    let io = links.iter().find(|l| l.get("data-from-pid") == nk).unwrap();
    assert_eq!(io.get("data-to-kind"), "device");
    assert_eq!(io.get("data-to-device"), "uart0");
    assert_eq!(io.get("data-to-start"), "0x90000000");
    assert_eq!(io.get("data-to-end"), "0x90001000");
    // ... and the process's alias links to what VirtualAllocCopyEx was given: that
    // kernel mapping (its reservation's origin names the source exactly).
    let alias = links
        .iter()
        .find(|l| l.get("data-from-pid") == app)
        .unwrap();
    assert_eq!(alias.get("data-to-kind"), "proc");
    assert_eq!(alias.get("data-to-pid"), nk);
    assert_eq!(alias.get("data-to-start"), io.get("data-from-start"));
}

#[test]
fn a_physical_ram_alias_links_to_the_kernels_static_mapping() {
    let Some(bin) = chromium() else { return };
    let dir = tmp();
    // VirtualCopy of physical RAM (page 0x100, PA 0x100000) into a kernel reservation: no
    // process maps those frames, so the link goes to NK.EXE's static mapping of all RAM,
    // 0x80000000 up to 0x80000000 + 64 MiB, without an exact address.
    let page = make_map(
        dir.path(),
        "ram",
        r#"let v = VirtualAlloc(0, 0x1000, MEM_RESERVE, PAGE_NOACCESS);
assert(VirtualCopy(v, 0x100000 / 256, 0x1000, PAGE_READWRITE | PAGE_PHYSICAL));
assert_eq(v, 0x84000000);
"#,
        &[],
    );
    let dom = dump_dom(&bin, &page, "");
    let nk = pid_of(&dom, "NK.EXE");
    let links = tags(map_svg(&dom), "path", "link");
    assert_eq!(links.len(), 1, "{links:?}");
    let l = &links[0];
    assert_eq!(l.get("data-from-pid"), nk);
    assert_eq!(l.get("data-from-start"), "0x84000000");
    assert_eq!(l.get("data-to-kind"), "ram");
    assert_eq!(l.get("data-to-pid"), nk);
    assert_eq!(l.get("data-to-start"), "0x80000000");
    assert_eq!(l.get("data-to-end"), "0x84000000");
    assert_eq!(l.get("data-exact"), "false");
}

const STEPS: &str = r#"let app = create_process("app.exe");
enter(app, USER_MODE);
let a = VirtualAlloc(0, 0x1000, MEM_COMMIT, PAGE_READWRITE);
let b = VirtualAlloc(0, 0x2000, MEM_RESERVE, PAGE_NOACCESS);
SetLastError(5);

assert(VirtualFree(a, 0, MEM_RELEASE));
create_process("late.exe");
"#;

#[test]
fn the_slider_has_a_step_per_ce_call_labelled_with_the_call_its_line_and_the_trace_seq() {
    let Some(bin) = chromium() else { return };
    let dir = tmp();
    let trace = dir.path().join("t.jsonl");
    let page = make_map(
        dir.path(),
        "steps",
        STEPS,
        &["--steps", "--trace", trace.to_str().unwrap()],
    );
    let dom = dump_dom(&bin, &page, "");
    let slider = tags(&dom, "input", "")
        .into_iter()
        .find(|t| t.get("id") == "step")
        .expect("a slider");
    // Start, four CE calls, and the end of the script (create_process after the last call).
    assert_eq!(slider.get("data-steps"), "6");
    assert_eq!(slider.get("max"), "5");
    let items = tags(&dom, "li", "");
    let steps: Vec<(&str, &str, &str)> = items
        .iter()
        .filter(|t| t.attrs.contains_key("data-step") && t.attrs.contains_key("data-call"))
        .map(|t| (t.get("data-call"), t.get("data-line"), t.get("data-seq")))
        .collect();
    assert_eq!(
        steps,
        [
            ("VirtualAlloc", "3", "1"),
            ("VirtualAlloc", "4", "2"),
            ("SetLastError", "5", "3"),
            ("VirtualFree", "7", "4"),
            ("end of script", "", ""),
        ]
    );
    // The seq numbers are the trace's.
    let text = std::fs::read_to_string(&trace).unwrap();
    let traced: Vec<(u64, String)> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["seq"].as_u64().unwrap(),
                v["call"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (call, _, seq) in &steps[..4] {
        let n: u64 = seq.parse().unwrap();
        assert!(
            traced.contains(&(n, (*call).to_string())),
            "seq {n} {call} in {traced:?}"
        );
    }
    // The last step is the final state: late.exe has its column.
    assert!(
        tags(&dom, "g", "col")
            .iter()
            .any(|c| c.get("data-name") == "late.exe")
    );
}

#[test]
fn each_step_shows_the_state_after_its_call() {
    let Some(bin) = chromium() else { return };
    let dir = tmp();
    let page = make_map(dir.path(), "states", STEPS, &["--steps"]);
    // The regions app.exe allocated at a step: above its first 64 KiB block and below the
    // DLL area every process has reserved.
    let app_regions = |k: usize| -> Vec<String> {
        let dom = dump_dom(&bin, &page, &format!("#step={k}"));
        assert!(dom.contains(&format!("data-step=\"{k}\"")));
        let cols = tags(&dom, "g", "col");
        let Some(app) = cols.iter().find(|c| c.get("data-name") == "app.exe") else {
            return vec!["no app.exe".to_string()];
        };
        let app = app.get("data-pid");
        tags(map_svg(&dom), "rect", "r")
            .iter()
            .filter(|r| {
                r.get("data-pid") == app
                    && r.get("data-start") >= "0x00010000"
                    && r.get("data-start") < "0x40000000"
            })
            .map(|r| format!("{}-{}", r.get("data-start"), r.get("data-end")))
            .collect()
    };
    // Step 0 is the state before the script ran: app.exe is not there yet.
    assert_eq!(app_regions(0), ["no app.exe"], "before the script");
    // VirtualAlloc: one committed page, placed at the first free 64 KiB block.
    assert_eq!(app_regions(1), ["0x00010000-0x00011000"]);
    // The reservation of 0x2000 bytes: the next block.
    assert_eq!(
        app_regions(2),
        ["0x00010000-0x00011000", "0x00020000-0x00022000"]
    );
    // VirtualFree released the first.
    assert_eq!(app_regions(4), ["0x00020000-0x00022000"]);
    // And back: step 1 again after visiting later steps is still step 1.
    assert_eq!(app_regions(1), ["0x00010000-0x00011000"]);
}

#[test]
fn the_arrow_keys_move_through_the_steps() {
    let Some(bin) = chromium() else { return };
    let dir = tmp();
    let page = make_map(dir.path(), "keys", STEPS, &["--steps"]);
    let step = |fragment: &str| {
        let dom = dump_dom(&bin, &page, fragment);
        let key = "data-step=\"";
        let i = dom.find(key).unwrap() + key.len();
        let label_at = dom.find("id=\"steplabel\">").unwrap() + "id=\"steplabel\">".len();
        let label = &dom[label_at..label_at + dom[label_at..].find('<').unwrap()];
        (
            dom[i..i + dom[i..].find('"').unwrap()].to_string(),
            label.to_string(),
        )
    };
    assert_eq!(
        step("#step=1&keys=RR"),
        ("3".to_string(), "step 3: SetLastError (line 5)".to_string())
    );
    assert_eq!(
        step("#step=2&keys=LLL").0,
        "0",
        "and stop at the first step"
    );
    assert_eq!(step("#keys=R").0, "5", "and at the last");
}

#[test]
fn focusing_a_region_shows_its_virtualquery_fields_and_its_other_mappings() {
    let Some(bin) = chromium() else { return };
    let dir = tmp();
    // The fields the page shows are the ones VirtualQueryEx gives for the alias page.
    let body = format!(
        "{UNALIGNED_ALIAS}
let q = VirtualQueryEx(drv, p);
assert_eq(q.BaseAddress, 0x10000);
assert_eq(q.AllocationBase, 0x10000);
assert_eq(q.AllocationProtect, PAGE_NOACCESS);
assert_eq(q.RegionSize, 0x1000);
assert_eq(q.State, MEM_COMMIT);
assert_eq(q.Protect, PAGE_READONLY);
assert_eq(q.Type, MEM_PRIVATE);
"
    );
    let page = make_map(dir.path(), "focus", &body, &[]);
    let dom = dump_dom(&bin, &page, "#focus=udevice.exe:0x00010100");
    let start = dom.find("<section id=\"details\"").unwrap();
    let end = start + dom[start..].find("</section>").unwrap();
    let details = &dom[start..end];
    assert!(details.contains("data-start=\"0x00010000\""), "{details}");
    // The alias page: committed read-only, one page of a reservation at 0x10000, its frames
    // also mapped by app.exe at 0x10000, and the 7 bytes asked for at 0x10100.
    for field in [
        "<dt>BaseAddress</dt><dd>0x00010000</dd>",
        "<dt>AllocationBase</dt><dd>0x00010000</dd>",
        "<dt>AllocationProtect</dt><dd>PAGE_NOACCESS</dd>",
        "<dt>RegionSize</dt><dd>0x1000 (4 KiB)</dd>",
        "<dt>State</dt><dd>MEM_COMMIT</dd>",
        "<dt>Protect</dt><dd>PAGE_READONLY</dd>",
        "<dt>Type</dt><dd>MEM_PRIVATE</dd>",
        "<dt>Asked for</dt><dd>0x00010100 + 0x7</dd>",
        "<li>app.exe at <span class=\"mono\">0x00010000</span></li>",
    ] {
        assert!(details.contains(field), "{field} in {details}");
    }
    assert!(details.contains(&format!("data-pid=\"{}\"", pid_of(&dom, "udevice.exe"))));
}

#[test]
fn save_maps_html_writes_the_map_of_the_moment_it_is_called() {
    let Some(bin) = chromium() else { return };
    let dir = tmp();
    let page = dir.path().join("mid.html");
    let s = script(
        dir.path(),
        "save.rhai",
        &format!(
            "create_process(\"one.exe\");\nsave_maps_html({:?});\ncreate_process(\"two.exe\");\n",
            page.to_str().unwrap()
        ),
    );
    cevm().arg("run").arg(&s).assert().success();
    let dom = dump_dom(&bin, &page, "");
    let names: Vec<String> = tags(&dom, "g", "col")
        .iter()
        .map(|c| c.get("data-name").to_string())
        .collect();
    assert_eq!(names, ["NK.EXE", "one.exe"]);
}

#[test]
fn save_maps_html_reports_a_bad_path_and_the_script_stops() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "bad.rhai",
        "save_maps_html(\"/nonexistent-dir/x/map.html\");\nprint(\"not reached\");\n",
    );
    let out = cevm().arg("run").arg(&s).assert().failure();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("save_maps_html: cannot write /nonexistent-dir/x/map.html"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.get_output().stdout).contains("not reached"));
}

#[test]
fn a_failing_script_still_writes_the_map_of_the_state_it_failed_in() {
    let dir = tmp();
    let s = script(
        dir.path(),
        "fails.rhai",
        "create_process(\"before_failure.exe\");\nassert(false, \"stop here\");\n",
    );
    let page = dir.path().join("fails.html");
    cevm()
        .arg("maps")
        .arg(&s)
        .arg("--html")
        .arg(&page)
        .assert()
        .code(1);
    let html = std::fs::read_to_string(&page).expect("the map is written");
    assert!(html.contains("\"name\":\"before_failure.exe\""));
}

#[test]
fn steps_without_html_is_refused() {
    let dir = tmp();
    let s = script(dir.path(), "s.rhai", "");
    cevm().arg("maps").arg(&s).arg("--steps").assert().failure();
}

#[test]
fn the_page_is_self_contained() {
    let dir = tmp();
    let s = script(dir.path(), "self.rhai", UNALIGNED_ALIAS);
    let page = dir.path().join("self.html");
    cevm()
        .args(["maps"])
        .arg(&s)
        .arg("--html")
        .arg(&page)
        .assert()
        .success();
    let html = std::fs::read_to_string(&page).unwrap();
    for outside in [
        "http://", "https://", "src=", "href=", "@import", "url(http",
    ] {
        // The SVG namespace is an identifier, not a fetch.
        let hits = html.matches(outside).count()
            - html.matches("http://www.w3.org/2000/svg").count()
                * usize::from(outside == "http://");
        assert_eq!(hits, 0, "the page refers to {outside}");
    }
    assert!(
        html.contains("default-src 'none'"),
        "and forbids fetching anything"
    );
}

// ---- Screenshots of every example -----------------------------------------------------------

/// Where screenshots are kept: target/visual-map/ (test artefacts, not in the repo).
fn artefacts() -> PathBuf {
    let d = repo_root().join("target/visual-map");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn every_examples_map_renders_to_a_non_blank_screenshot_of_the_window_size() {
    let Some(bin) = chromium() else { return };
    let (w, h) = (1280u32, 800u32);
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repo_root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .collect();
    examples.sort();
    assert!(!examples.is_empty());
    let out = artefacts();
    for ex in &examples {
        let name = ex.file_stem().unwrap().to_string_lossy().to_string();
        let page = out.join(format!("{name}.html"));
        cevm()
            .arg("maps")
            .arg(ex)
            .arg("--html")
            .arg(&page)
            .arg("--steps")
            .assert()
            .success();
        let shot = out.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&shot);
        let dir = tmp();
        let status = browser(&bin, dir.path())
            .arg(format!("--window-size={w},{h}"))
            .arg(format!("--screenshot={}", shot.display()))
            .arg(url(&page, ""))
            .output()
            .unwrap();
        assert!(status.status.success(), "{name}: {status:?}");
        let (iw, ih, pixels) = decode(&shot);
        assert_eq!(
            (iw, ih),
            (w, h),
            "{name}: the screenshot has the window's size"
        );
        // Not blank: the region colours of the legend appear, in quantity.
        let reserved = count(&pixels, [0xe4, 0xe7, 0xeb]);
        let read_write = count(&pixels, [0x7c, 0xc9, 0x9a]);
        let read_only = count(&pixels, [0x8f, 0xb8, 0xe8]);
        assert!(reserved > 2000, "{name}: {reserved} reserved pixels");
        assert!(
            read_write + read_only > 2000,
            "{name}: {read_write} read-write and {read_only} read-only pixels"
        );
        let distinct: std::collections::HashSet<[u8; 3]> = pixels.iter().copied().collect();
        assert!(
            distinct.len() > 50,
            "{name}: only {} colours",
            distinct.len()
        );
    }
}

/// Width, height and RGB pixels of a PNG.
fn decode(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected colour type {other:?}"),
    };
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let pixels = buf[..info.buffer_size()]
        .chunks(step)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

fn count(pixels: &[[u8; 3]], rgb: [u8; 3]) -> usize {
    pixels.iter().filter(|p| **p == rgb).count()
}

// ---- Scale ------------------------------------------------------------------------------------

/// Opens a large page, returning (the page's own drawing time, the browser's wall time).
fn open_timed(bin: &Path, page: &Path) -> (f64, Duration, String) {
    let start = Instant::now();
    let dom = dump_dom(bin, page, "#bench");
    (root_ms(&dom, "data-render-ms"), start.elapsed(), dom)
}

#[test]
fn a_thousand_processes_open_and_respond_in_a_few_seconds() {
    let Some(bin) = chromium() else { return };
    let dir = tmp();
    let page = make_map(
        dir.path(),
        "procs",
        r#"for i in 0..999 {
    let p = create_process("p" + i + ".exe");
    enter(p, USER_MODE);
    VirtualAlloc(0, 0x3000, MEM_COMMIT, PAGE_READWRITE);
    enter(kernel_pid(), KERNEL_MODE);
}
"#,
        &[],
    );
    let (render, wall, dom) = open_timed(&bin, &page);
    let cols = tags(&dom, "g", "col");
    assert_eq!(cols.len(), 1000);
    let detail = root_ms(&dom, "data-detail-ms");
    let size = std::fs::metadata(&page).unwrap().len();
    eprintln!(
        "visual map, 1000 processes: file {size} bytes, drawn in {render} ms, details in {detail} ms, chromium {wall:?}"
    );
    assert!(render < 5000.0, "drawn in {render} ms");
    assert!(detail < 200.0, "details shown in {detail} ms");
    assert!(wall < Duration::from_secs(20), "chromium took {wall:?}");
}

#[test]
fn ten_thousand_regions_open_and_respond_in_a_few_seconds() {
    let Some(bin) = chromium() else { return };
    let dir = tmp();
    // Each 0x1000-byte commit is a reservation of its own, one region: 10 000 of them,
    // plus the process's first block.
    let page = make_map(
        dir.path(),
        "regions",
        r#"let app = create_process("big.exe");
enter(app, USER_MODE);
for i in 0..10000 { VirtualAlloc(0, 0x1000, MEM_COMMIT, PAGE_READWRITE); }
"#,
        &[],
    );
    let (render, wall, dom) = open_timed(&bin, &page);
    let regions = tags(map_svg(&dom), "rect", "r").len();
    assert!(regions >= 10_000, "{regions} regions drawn");
    let detail = root_ms(&dom, "data-detail-ms");
    let size = std::fs::metadata(&page).unwrap().len();
    eprintln!(
        "visual map, {regions} regions: file {size} bytes, drawn in {render} ms, details in {detail} ms, chromium {wall:?}"
    );
    assert!(render < 5000.0, "drawn in {render} ms");
    assert!(detail < 200.0, "details shown in {detail} ms");
    assert!(wall < Duration::from_secs(20), "chromium took {wall:?}");
}

#[test]
fn ten_thousand_steps_stay_under_a_few_megabytes_and_move_quickly() {
    let Some(bin) = chromium() else { return };
    let dir = tmp();
    let page = make_map(
        dir.path(),
        "manysteps",
        r#"let app = create_process("app.exe");
enter(app, USER_MODE);
let a = VirtualAlloc(0, 0x10000, MEM_RESERVE, PAGE_NOACCESS);
for i in 0..4999 {
    VirtualAlloc(a + (i % 16) * 0x1000, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    VirtualFree(a + (i % 16) * 0x1000, 0x1000, MEM_DECOMMIT);
}
"#,
        &["--steps"],
    );
    let size = std::fs::metadata(&page).unwrap().len();
    let (render, wall, dom) = open_timed(&bin, &page);
    let slider = tags(&dom, "input", "")
        .into_iter()
        .find(|t| t.get("id") == "step")
        .expect("a slider");
    // Start, the reservation, then 4999 commits and decommits.
    assert_eq!(slider.get("data-steps"), "10000");
    let step = root_ms(&dom, "data-step-ms");
    eprintln!(
        "visual map, 10000 steps: file {size} bytes, drawn in {render} ms, one step in {step} ms, chromium {wall:?}"
    );
    assert!(size < 4 << 20, "{size} bytes");
    assert!(render < 5000.0, "drawn in {render} ms");
    assert!(step < 500.0, "a step in {step} ms");
}
