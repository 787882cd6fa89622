//! Address-space maps: every region of every process, with aliases and the bytes an
//! alias exposes beyond what its caller asked for made visible.

use std::collections::HashMap;

use crate::flags::Protection;
use crate::kernel::Kernel;
use crate::origin::Origin;
use crate::phys::Pfn;
use crate::process::{Pid, Spaces};
use crate::pte::{PageState, Pte};

/// Another mapping of a region's frames: the process and the address of the region's
/// first page there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherMapping {
    /// The process.
    pub pid: Pid,
    /// Its name.
    pub name: String,
    /// Where the region's first frame is mapped there.
    pub address: u32,
}

/// A maximal run of pages with the same state, protection, reservation and backing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// First address.
    pub start: u32,
    /// Bytes.
    pub size: u32,
    /// Page state.
    pub state: PageState,
    /// Read-back protection (`PAGE_NOACCESS` unless committed).
    pub protect: Protection,
    /// Base and requested size of the owning reservation.
    pub reservation: Option<(u32, u32)>,
    /// What made the owning reservation, and for an alias, what it aliases.
    pub origin: Option<Origin>,
    /// The frames were placed by VirtualCopy, VirtualAllocCopyEx or a physical mapping.
    pub mapped: bool,
    /// The device the frames belong to, if any.
    pub device: Option<String>,
    /// Other places that map the same frames: at most [`OTHERS_LISTED`] of them, in
    /// process-id and address order.
    pub others: Vec<OtherMapping>,
    /// How many other places map the region's first frame beyond those in `others` (a frame
    /// can be mapped thousands of times; listing every one on every page would be
    /// quadratic). `others.len() + others_not_listed` is the full count.
    pub others_not_listed: usize,
    /// For an alias made by VirtualAllocCopyEx, the bytes of this region outside what
    /// the caller asked for: `(bytes before, bytes after)` the request.
    pub exposed: Option<(u32, u32)>,
    /// The bytes the caller asked VirtualAllocCopyEx to alias, when this is such an alias.
    pub requested: Option<(u32, u32)>,
}

/// The most other mappings a [`Region`] lists; the rest are counted in
/// [`Region::others_not_listed`].
pub const OTHERS_LISTED: usize = 8;

/// Every mapping of every RAM or device frame, built once per rendering: frame → (pid,
/// address) in process-id then address order, and the process names.
struct ReverseMap {
    frames: HashMap<Pfn, Vec<(Pid, u32)>>,
    names: HashMap<Pid, String>,
}

/// The name of a protection value, `PAGE_` prefixes dropped (`READWRITE|GUARD`).
pub fn protection_name(p: Protection) -> String {
    let names = [
        (Protection::NOACCESS, "NOACCESS"),
        (Protection::READONLY, "READONLY"),
        (Protection::READWRITE, "READWRITE"),
        (Protection::EXECUTE, "EXECUTE"),
        (Protection::EXECUTE_READ, "EXECUTE_READ"),
        (Protection::EXECUTE_READWRITE, "EXECUTE_READWRITE"),
        (Protection::GUARD, "GUARD"),
        (Protection::NOCACHE, "NOCACHE"),
    ];
    let parts: Vec<&str> = names
        .iter()
        .filter(|(f, _)| p.contains(*f))
        .map(|(_, n)| *n)
        .collect();
    if parts.is_empty() {
        format!("0x{:X}", p.bits())
    } else {
        parts.join("|")
    }
}

impl Kernel {
    /// Every mapping of every RAM or device frame, once for all processes.
    fn reverse_map(&self) -> ReverseMap {
        let mut frames: HashMap<Pfn, Vec<(Pid, u32)>> = HashMap::new();
        let mut names = HashMap::new();
        for p in self.processes() {
            names.insert(p.pid(), p.name().to_string());
            let Ok(mut spaces) = Spaces::lock(self.nk(), &[&p], false) else {
                continue;
            };
            spaces.get(p.pid()).table.for_each_used(|va, e| {
                if e.is_committed() {
                    frames.entry(e.pfn()).or_default().push((p.pid(), va));
                }
            });
        }
        ReverseMap { frames, names }
    }

    /// The regions of process `pid` (its own tables; for NK.EXE also the shared heap and
    /// kernel memory), in address order. To map every process, [`Kernel::all_regions`]
    /// does the work once instead of once per process.
    pub fn regions(&self, pid: Pid) -> Vec<Region> {
        let rev = self.reverse_map();
        self.regions_with(pid, &rev)
    }

    /// The regions of every live process, NK.EXE first (process-id order), from one pass
    /// over every page table: linear in the pages mapped, however many processes there are
    /// and however often a frame is mapped.
    pub fn all_regions(&self) -> Vec<(Pid, Vec<Region>)> {
        let rev = self.reverse_map();
        self.processes()
            .iter()
            .map(|p| (p.pid(), self.regions_with(p.pid(), &rev)))
            .collect()
    }

    fn regions_with(&self, pid: Pid, rev: &ReverseMap) -> Vec<Region> {
        let Some(proc) = self.process(pid) else {
            return Vec::new();
        };
        let Ok(mut spaces) = Spaces::lock(self.nk(), &[&proc], false) else {
            return Vec::new();
        };
        let space = spaces.get(pid);
        let mut pages: Vec<(u32, Pte)> = Vec::new();
        space.table.for_each_used(|va, e| pages.push((va, e)));
        let mut out: Vec<Region> = Vec::new();
        for (va, e) in pages {
            let rec = space.record_at(va).copied();
            let (others, others_not_listed) = if e.is_committed() {
                match rev.frames.get(&e.pfn()) {
                    Some(all) => {
                        let others: Vec<OtherMapping> = all
                            .iter()
                            .filter(|&&(p, a)| !(p == pid && a == va))
                            .take(OTHERS_LISTED)
                            .map(|&(p, a)| OtherMapping {
                                pid: p,
                                name: rev.names.get(&p).cloned().unwrap_or_default(),
                                address: a,
                            })
                            .collect();
                        // `all` holds this page itself once (it is committed here).
                        let total = all.len().saturating_sub(1);
                        let not_listed = total.saturating_sub(others.len());
                        (others, not_listed)
                    }
                    None => (Vec::new(), 0),
                }
            } else {
                (Vec::new(), 0)
            };
            let device = if e.is_committed() {
                self.memory().device_name(e.pfn())
            } else {
                None
            };
            let requested = rec.and_then(|r| r.origin.requested());
            let exposed = match requested {
                Some((s, n)) if e.is_committed() => {
                    let before = if va <= s && s < va + 0x1000 {
                        s - va
                    } else {
                        0
                    };
                    let end = u64::from(s) + u64::from(n);
                    let page_end = u64::from(va) + 0x1000;
                    let after = if u64::from(va) < end && end < page_end {
                        (page_end - end) as u32
                    } else {
                        0
                    };
                    (before + after > 0).then_some((before, after))
                }
                _ => None,
            };
            let reservation = rec.map(|r| (r.base, r.size));
            if let Some(last) = out.last_mut() {
                let contiguous = u64::from(last.start) + u64::from(last.size) == u64::from(va);
                let same_others = last.others.len() == others.len()
                    && last.others_not_listed == others_not_listed
                    && last.others.iter().zip(&others).all(|(a, b)| {
                        a.pid == b.pid
                            && u64::from(a.address) + u64::from(last.size) == u64::from(b.address)
                    });
                if contiguous
                    && last.state == e.state()
                    && last.protect == e.read_back()
                    && last.reservation == reservation
                    && last.mapped == e.mapped()
                    && last.device == device
                    && same_others
                    && last.exposed.is_none()
                    && exposed.is_none()
                {
                    last.size += 0x1000;
                    continue;
                }
            }
            out.push(Region {
                start: va,
                size: 0x1000,
                state: e.state(),
                protect: e.read_back(),
                reservation,
                origin: rec.map(|r| r.origin),
                mapped: e.is_committed() && e.mapped(),
                device,
                others,
                others_not_listed,
                exposed,
                requested,
            });
        }
        out
    }
}
