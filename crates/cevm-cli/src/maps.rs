//! The address-space map as text (interfaces.md §2.3), built from the library's
//! [`Kernel::regions`].
//!
//! One line per region. The first column marks what needs attention: `ALIAS` for pages
//! whose frames were placed by VirtualCopy, VirtualAllocCopyEx or MmMapIoSpace, `SHARED`
//! for original pages that are mapped elsewhere too, `DEVICE` for device registers. Under
//! an alias that exposes bytes its caller did not ask for, an `EXPOSED` line names each
//! such byte range.

use std::fmt::Write as _;

use cevm::{Kernel, OtherMapping, PageState, Pid, Region, ReserveKind, protection_name};

/// What the marks mean; printed once above the maps of every process.
const LEGEND: &str = "\
marks:  ALIAS   frames mapped here from elsewhere (VirtualCopy, VirtualAllocCopyEx, MmMapIoSpace)
        SHARED  frames also mapped elsewhere
        DEVICE  device memory
        EXPOSED bytes an alias shows beyond what its caller asked for";

/// How many other mappings a line names before it summarises the rest.
const OTHERS_SHOWN: usize = 4;

/// The maps of every process, NK.EXE first, under the legend. The frame-to-mappings
/// index is built once for all of them ([`Kernel::all_regions`]).
pub fn render_all(kernel: &Kernel) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{LEGEND}");
    for (pid, regions) in kernel.all_regions() {
        s.push('\n');
        if let Some(text) = render_regions(kernel, pid, &regions) {
            s.push_str(&text);
        }
    }
    s
}

/// The map of one process, or `None` if no live process has that id.
pub fn render_process(kernel: &Kernel, pid: Pid) -> Option<String> {
    render_regions(kernel, pid, &kernel.regions(pid))
}

fn render_regions(kernel: &Kernel, pid: Pid, regions: &[Region]) -> Option<String> {
    let proc = kernel.process(pid)?;
    let mut s = String::new();
    let _ = writeln!(s, "{} (pid 0x{:08X})", proc.name(), pid.0);
    if proc.is_kernel() {
        let end = kernel.layout().static_end;
        let _ = writeln!(
            s,
            "{:<8}0x80000000-0x{:08X}  {:<10} {:<18} {:<22} kernel static mapping of RAM",
            "",
            end - 1,
            "static",
            "READWRITE",
            "-"
        );
    }
    if regions.is_empty() && !proc.is_kernel() {
        let _ = writeln!(s, "        (nothing reserved)");
    }
    for r in regions {
        region_line(&mut s, r);
        exposure_lines(&mut s, r);
    }
    Some(s)
}

fn mark(r: &Region) -> &'static str {
    if r.device.is_some() {
        "DEVICE"
    } else if r.mapped {
        "ALIAS"
    } else if !r.others.is_empty() {
        "SHARED"
    } else {
        ""
    }
}

fn state_name(state: PageState) -> &'static str {
    match state {
        PageState::Committed => "committed",
        PageState::Reserved(ReserveKind::Plain) => "reserved",
        PageState::Reserved(ReserveKind::Image) => "image",
        PageState::Reserved(ReserveKind::AutoCommit) => "autocommit",
        PageState::Free => "free",
    }
}

fn region_line(s: &mut String, r: &Region) {
    let end = u64::from(r.start) + u64::from(r.size) - 1;
    let protect = if r.state == PageState::Committed {
        protection_name(r.protect)
    } else {
        "-".to_string()
    };
    let reservation = r.reservation.map_or_else(
        || "-".to_string(),
        |(b, n)| format!("rsv 0x{b:08X}+0x{n:X}"),
    );
    let mut line = format!(
        "{:<8}0x{:08X}-0x{end:08X}  {:<10} {protect:<18} {reservation:<22}",
        mark(r),
        r.start,
        state_name(r.state),
    );
    let mut notes = Vec::new();
    if let Some(d) = &r.device {
        notes.push(format!("device {d}"));
    }
    if let Some((a, n)) = r.requested {
        notes.push(format!("asked for 0x{a:08X}+0x{n:X}"));
    }
    if !r.others.is_empty() {
        notes.push(format!("also mapped by {}", others(r)));
    }
    line.push(' ');
    line.push_str(&notes.join("; "));
    s.push_str(line.trim_end());
    s.push('\n');
}

/// The first [`OTHERS_SHOWN`] other mappings by name, then `… and N more`.
fn others(r: &Region) -> String {
    let mut named: Vec<String> = r
        .others
        .iter()
        .take(OTHERS_SHOWN)
        .map(|o: &OtherMapping| format!("{} at 0x{:08X}", o.name, o.address))
        .collect();
    let rest = r.others.len().saturating_sub(OTHERS_SHOWN) + r.others_not_listed;
    if rest > 0 {
        named.push(format!("… and {rest} more"));
    }
    named.join(", ")
}

/// The `EXPOSED` lines: a region with exposed bytes is one page, so the bytes before the
/// request start at the page start and the bytes after it end at the page end.
fn exposure_lines(s: &mut String, r: &Region) {
    let (Some((before, after)), Some((asked, n))) = (r.exposed, r.requested) else {
        return;
    };
    let page_end = u64::from(r.start) + u64::from(r.size);
    if before > 0 {
        let _ = writeln!(
            s,
            "{:<8}0x{:08X}-0x{:08X}  0x{before:X} bytes before the 0x{n:X} asked for at 0x{asked:08X}",
            "EXPOSED",
            r.start,
            u64::from(r.start) + u64::from(before) - 1,
        );
    }
    if after > 0 {
        let _ = writeln!(
            s,
            "{:<8}0x{:08X}-0x{:08X}  0x{after:X} bytes after the 0x{n:X} asked for at 0x{asked:08X}",
            "EXPOSED",
            page_end - u64::from(after),
            page_end - 1,
        );
    }
}
