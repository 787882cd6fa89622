//! The kernel as the visual map's data: the one conversion from [`Kernel::regions`] and
//! [`Kernel::processes`] to JSON, and the one place alias links are derived.
//!
//! A snapshot is
//! `{"layout": {…}, "procs": [{"pid","name","kernel"}], "devices": [{"name","pa","size"}],
//! "regions": {"<pid>": [region, …]}}`, every process's regions in address order. A region
//! has short keys, since a large map holds tens of thousands of them:
//!
//! | key | meaning |
//! |---|---|
//! | `s`, `n` | first address, bytes |
//! | `st` | `committed`, `reserved`, `image`, `autocommit`, or `static` (NK.EXE's static mapping of RAM) |
//! | `p` | the read-back protection's name (`READWRITE\|NOCACHE`) |
//! | `rsv` | `[base, size]` of the owning reservation |
//! | `m` | present (1) when the frames were placed here by VirtualCopy, VirtualAllocCopyEx or a physical mapping |
//! | `dev` | the device the frames belong to |
//! | `o` | every other mapping of the frames, `[pid, address]` |
//! | `req` | `[address, bytes]` the caller asked VirtualAllocCopyEx for (in this process) |
//! | `l` | alias links to the source: `{"k":"proc","pid","a","n"}`, `{"k":"device","dev","pa","n"}` or `{"k":"ram","pid","a","n","exact"}` |
//! | `x` | exposed byte ranges `{"s","e","owner","src"}` (`e` exclusive; `owner` the pid whose bytes they are, `src` where they are there) |

use std::collections::HashMap;

use cevm::layout::{KERNEL_BASE, SHARED_HEAP_BASE};
use cevm::{AliasSource, Kernel, Origin, PageState, Pid, Region, ReserveKind, protection_name};
use serde_json::{Map, Value, json};

/// The whole state the page draws.
pub fn from_kernel(kernel: &Kernel) -> Value {
    let layout = kernel.layout();
    let nk = kernel.kernel_pid();
    let mut procs = kernel.processes();
    procs.sort_by_key(|p| (!p.is_kernel(), p.pid().0));
    // One pass over every page table for all processes (not one per process).
    let mut all: Vec<(Pid, Vec<Region>)> = kernel.all_regions();
    all.sort_by_key(|(pid, _)| (*pid != nk, pid.0));
    let index: HashMap<Pid, &[Region]> = all.iter().map(|(p, r)| (*p, r.as_slice())).collect();
    let devices: Vec<(String, u64, u64)> = kernel.phys().devices();
    let static_size = layout.static_end.wrapping_sub(KERNEL_BASE);

    let sources = Sources {
        regions: &index,
        devices: &devices,
        kernel: nk,
        static_size,
        ram_base: kernel.phys().ram_base(),
    };
    let mut regions = Map::new();
    for (pid, list) in &all {
        let mut out: Vec<Value> = list.iter().map(|r| region(r, &sources)).collect();
        if *pid == nk && static_size > 0 {
            let at = list.partition_point(|r| r.start < KERNEL_BASE);
            out.insert(
                at,
                json!({ "s": KERNEL_BASE, "n": static_size, "st": "static", "p": "READWRITE" }),
            );
        }
        regions.insert(pid.0.to_string(), Value::Array(out));
    }
    json!({
        "layout": {
            "static_end": layout.static_end,
            "kernel_vm_start": layout.kernel_vm_start,
            "ram_base": kernel.phys().ram_base(),
            "kernel_pid": nk.0,
        },
        "procs": procs.iter().map(|p| json!({
            "pid": p.pid().0, "name": p.name(), "kernel": p.is_kernel(),
        })).collect::<Vec<_>>(),
        "devices": devices.iter().map(|(name, pa, size)| json!({
            "name": name, "pa": pa, "size": size,
        })).collect::<Vec<_>>(),
        "regions": regions,
    })
}

/// What a link can point at.
struct Sources<'a> {
    regions: &'a HashMap<Pid, &'a [Region]>,
    devices: &'a [(String, u64, u64)],
    kernel: Pid,
    static_size: u32,
    ram_base: u64,
}

impl Sources<'_> {
    /// The region of `pid` holding `a`.
    fn region_at(&self, pid: Pid, a: u32) -> Option<&Region> {
        let list = self.regions.get(&pid)?;
        let i = list.partition_point(|r| r.start <= a).checked_sub(1)?;
        let r = &list[i];
        (u64::from(a) < u64::from(r.start) + u64::from(r.size)).then_some(r)
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

fn region(r: &Region, sources: &Sources<'_>) -> Value {
    let mut o = Map::new();
    o.insert("s".into(), r.start.into());
    o.insert("n".into(), r.size.into());
    o.insert("st".into(), state_name(r.state).into());
    o.insert("p".into(), protection_name(r.protect).into());
    if let Some((b, n)) = r.reservation {
        o.insert("rsv".into(), json!([b, n]));
    }
    if r.mapped {
        o.insert("m".into(), 1.into());
    }
    if let Some(d) = &r.device {
        o.insert("dev".into(), d.as_str().into());
    }
    if !r.others.is_empty() {
        let list: Vec<Value> = r
            .others
            .iter()
            .map(|m| json!([m.pid.0, m.address]))
            .collect();
        o.insert("o".into(), Value::Array(list));
    }
    if let Some((a, n)) = r.requested {
        o.insert("req".into(), json!([a, n]));
    }
    let links = links(r, sources);
    let exposed = exposed(r, &links);
    if !links.is_empty() {
        o.insert("l".into(), Value::Array(links));
    }
    if !exposed.is_empty() {
        o.insert("x".into(), Value::Array(exposed));
    }
    Value::Object(o)
}

/// The alias links of region `r`, from it (the destination) to the pages it maps.
///
/// A VirtualAllocCopyEx alias or an MmMapIoSpace mapping says where its pages come from
/// (the reservation's origin): the source process and address, or the physical address
/// (a device, or RAM, shown at NK.EXE's static mapping). Pages VirtualCopy(Ex) placed in
/// an ordinary reservation are derived: the other mappings that are originals (not placed
/// there themselves); device frames link to their device; RAM frames with no original
/// mapping anywhere link to NK.EXE's static mapping without an exact address
/// (`exact: false`).
fn links(r: &Region, sources: &Sources<'_>) -> Vec<Value> {
    if !r.mapped {
        return Vec::new();
    }
    if let Some(link) = origin_link(r, sources) {
        return vec![link];
    }
    if let Some(d) = &r.device {
        let (pa, n) = sources
            .devices
            .iter()
            .find(|(name, _, _)| name == d)
            .map_or((0, 0), |(_, pa, n)| (*pa, *n));
        return vec![json!({ "k": "device", "dev": d, "pa": pa, "n": n })];
    }
    let originals: Vec<Value> = r
        .others
        .iter()
        .filter(|m| {
            sources
                .region_at(m.pid, m.address)
                .is_some_and(|src| !src.mapped)
        })
        .map(|m| json!({ "k": "proc", "pid": m.pid.0, "a": m.address, "n": r.size }))
        .collect();
    if !originals.is_empty() {
        return originals;
    }
    vec![json!({
        "k": "ram",
        "pid": sources.kernel.0,
        "a": KERNEL_BASE,
        "n": sources.static_size,
        "exact": false,
    })]
}

/// The exact link of a region whose reservation says what it maps.
fn origin_link(r: &Region, sources: &Sources<'_>) -> Option<Value> {
    let physical = |pa: u64| -> Option<Value> {
        if let Some((name, dpa, _)) = sources
            .devices
            .iter()
            .find(|(_, dpa, n)| pa >= *dpa && pa < dpa + n)
        {
            let _ = dpa;
            return Some(json!({ "k": "device", "dev": name, "pa": pa, "n": r.size }));
        }
        let off = pa.checked_sub(sources.ram_base)?;
        (off < u64::from(sources.static_size)).then(|| {
            json!({
                "k": "ram", "pid": sources.kernel.0, "a": u64::from(KERNEL_BASE) + off,
                "n": r.size, "exact": true,
            })
        })
    };
    match r.origin? {
        Origin::Alias { requested, source } => {
            // The alias's pages start at the page of the requested bytes and map the
            // source's pages from the page of the source address on.
            let offset = r.start.checked_sub(requested.0 & !0xFFF)?;
            match source {
                AliasSource::Virtual { pid, address } => {
                    let a = (address & !0xFFF).wrapping_add(offset);
                    let pid = if a >= SHARED_HEAP_BASE {
                        sources.kernel
                    } else {
                        pid
                    };
                    sources
                        .regions
                        .contains_key(&pid)
                        .then(|| json!({ "k": "proc", "pid": pid.0, "a": a, "n": r.size }))
                }
                AliasSource::Physical { pa } => physical((pa & !0xFFF) + u64::from(offset)),
            }
        }
        Origin::IoMapping { pa } => {
            let (base, _) = r.reservation?;
            physical((pa & !0xFFF) + u64::from(r.start - base))
        }
        _ => None,
    }
}

/// The byte ranges of `r` an alias shows beyond what its caller asked for, each with the
/// process whose bytes they are (the first process source link) and where they are there.
fn exposed(r: &Region, links: &[Value]) -> Vec<Value> {
    let (Some((before, after)), Some(_)) = (r.exposed, r.requested) else {
        return Vec::new();
    };
    let owner = links.iter().find(|l| l["k"] == "proc");
    let start = u64::from(r.start);
    let end = start + u64::from(r.size);
    let mut out = Vec::new();
    let mut push = |s: u64, e: u64| {
        let (pid, src) = match owner {
            Some(l) => (
                l["pid"].clone(),
                l["a"]
                    .as_u64()
                    .map_or(Value::Null, |a| (a + (s - start)).into()),
            ),
            None => (Value::Null, Value::Null),
        };
        out.push(json!({ "s": s, "e": e, "owner": pid, "src": src }));
    };
    if before > 0 {
        push(start, start + u64::from(before));
    }
    if after > 0 {
        push(end - u64::from(after), end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cevm::{AllocType, Config, Handle, Mode};

    /// app.exe commits a page; udevice.exe (kernel mode, called by app) aliases 7 bytes at
    /// page + 0x100 with VirtualAllocCopyEx. Returns the snapshot and (app, drv).
    fn unaligned_alias() -> (Value, u32, u32) {
        let k = Kernel::boot(Config::default()).unwrap();
        let app = k.create_process("app.exe").unwrap();
        let drv = k.create_process("udevice.exe").unwrap();
        let mut t = k.thread();
        t.enter(app, Mode::User, None).unwrap();
        let page = t
            .virtual_alloc(0, 0x1000, AllocType::COMMIT, cevm::Protection::READWRITE)
            .unwrap();
        t.enter(drv, Mode::Kernel, Some(app)).unwrap();
        let p = t
            .virtual_alloc_copy_ex(
                Handle(app.0),
                Handle(drv.0),
                page + 0x100,
                7,
                cevm::Protection::READONLY,
            )
            .unwrap();
        assert_eq!((page, p), (0x10000, 0x10100));
        (from_kernel(&k), app.0, drv.0)
    }

    fn region_at(snap: &Value, pid: u32, start: u32) -> &Value {
        snap["regions"][pid.to_string()]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["s"] == start)
            .unwrap_or_else(|| panic!("no region at 0x{start:X} in {pid}"))
    }

    #[test]
    fn an_alias_links_to_the_original_pages_it_maps_and_the_original_has_no_link() {
        let (snap, app, drv) = unaligned_alias();
        let alias = region_at(&snap, drv, 0x10000);
        assert_eq!(
            alias["l"],
            json!([{ "k": "proc", "pid": app, "a": 0x10000, "n": 0x1000 }])
        );
        let original = region_at(&snap, app, 0x10000);
        assert!(original.get("l").is_none(), "{original}");
        assert_eq!(original["o"], json!([[drv, 0x10000]]));
    }

    #[test]
    fn the_exposed_ranges_are_the_page_outside_the_request_owned_by_the_source() {
        let (snap, app, drv) = unaligned_alias();
        let alias = region_at(&snap, drv, 0x10000);
        assert_eq!(
            alias["x"],
            json!([
                { "s": 0x10000, "e": 0x10100, "owner": app, "src": 0x10000 },
                { "s": 0x10107, "e": 0x11000, "owner": app, "src": 0x10107 },
            ])
        );
    }

    #[test]
    fn a_physical_alias_links_exactly_to_the_static_mapping_of_its_frames() {
        let k = Kernel::boot(Config::default()).unwrap();
        let app = k.create_process("app.exe").unwrap();
        let mut t = k.thread();
        // PAGE_PHYSICAL source 0x12345: physical 0x1234500, its page 0x1234000.
        let p = t
            .virtual_alloc_copy_ex(
                Handle(k.kernel_pid().0),
                Handle(app.0),
                0x12345,
                0x100,
                cevm::Protection::READWRITE | cevm::Protection::PHYSICAL,
            )
            .unwrap();
        let snap = from_kernel(&k);
        let alias = region_at(&snap, app.0, p & !0xFFF);
        assert_eq!(
            alias["l"],
            json!([{ "k": "ram", "pid": k.kernel_pid().0, "a": 0x8123_4000u32,
                     "n": 0x1000, "exact": true }])
        );
    }

    #[test]
    fn nk_shows_the_static_mapping_of_all_ram_in_address_order() {
        let k = Kernel::boot(Config::default()).unwrap();
        let snap = from_kernel(&k);
        let nk = k.kernel_pid().0;
        let list = snap["regions"][nk.to_string()].as_array().unwrap();
        let stat = list.iter().find(|r| r["st"] == "static").unwrap();
        assert_eq!(stat["s"], 0x8000_0000u32);
        assert_eq!(stat["n"], Config::default().ram_bytes);
        let starts: Vec<u64> = list.iter().map(|r| r["s"].as_u64().unwrap()).collect();
        assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
        assert_eq!(snap["procs"][0]["name"], "NK.EXE");
    }
}
