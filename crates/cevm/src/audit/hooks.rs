//! The auditor's hooks: `Thread` methods the calls reach only when the kernel has an
//! auditor (one `Option` test per call when it has none; nothing on the access path).
//! Each takes the auditor's mutex with no other kernel lock held.

use std::sync::Arc;

use super::{
    AliasEntry, Auditor, ExposurePolicy, Finding, FindingKind, HelperAlias, Item, ItemKind,
    Severity, Src, never_released,
};
use crate::consts::PAGE_SIZE;
use crate::descriptor::ArgDescriptor;
use crate::error::{Error, Result};
use crate::flags::{AllocType, Protection};
use crate::layout::{SHARED_HEAP_BASE, USER_BASE, page_span};
use crate::origin::{AliasSource, Origin};
use crate::process::{Pid, Process, Spaces};
use crate::thread::{Mode, Thread};

/// What a free looked like before it ran, for what it did after.
pub(crate) struct FreePre {
    space: Pid,
    /// The reservation base, for a release.
    base: Option<u32>,
    /// Its pages (release) or the decommitted pages.
    range: (u64, u64),
    /// The physical frames of an AllocPhysMem block being released.
    phys: Option<(u64, u64)>,
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Kernel => "kernel mode",
        Mode::User => "user mode",
    }
}

impl Thread {
    /// Numbers the next call and says where it is made: the auditor's findings carry
    /// both. The front end calls it before each CE call (the C front with the call's name).
    pub fn set_call_site(&mut self, seq: u64, location: &str) {
        self.site_seq = seq;
        if &*self.site_loc != location {
            self.site_loc = Arc::from(location);
        }
    }

    fn finding(
        &self,
        kind: FindingKind,
        severity: Severity,
        pids: Vec<u32>,
        addresses: Vec<u32>,
        bytes: Vec<(u64, u64)>,
        message: String,
    ) -> Finding {
        Finding {
            kind,
            severity,
            seq: self.site_seq,
            location: self.site_loc.to_string(),
            pids,
            addresses,
            bytes,
            message,
        }
    }

    fn push(&self, aud: &Auditor, f: Finding) {
        aud.state().findings.push(f);
    }

    fn item(&self, kind: ItemKind, space: Pid, base: u32, what: String) -> Item {
        Item {
            kind,
            space,
            base,
            seq: self.site_seq,
            location: self.site_loc.clone(),
            what,
        }
    }

    fn proc_label(&self, pid: Pid) -> String {
        match self.kernel.process(pid) {
            Some(p) => format!("{} (pid 0x{:X})", p.name(), pid.0),
            None => format!("process 0x{:X}", pid.0),
        }
    }

    /// The space whose tables hold `a` when `proc` is named.
    fn space_of(&self, proc: &Process, a: u32) -> Pid {
        if a >= SHARED_HEAP_BASE {
            self.kernel.kernel_pid()
        } else {
            proc.pid()
        }
    }

    /// Who owns the bytes at `a` of `space`: "reservation 0x… of NAME (pid 0x…)".
    fn owner_of(&self, space: Pid, a: u64) -> String {
        let Some(p) = self.kernel.process(space) else {
            return format!("process 0x{:X}", space.0);
        };
        let nk = self.kernel.nk().clone();
        let Ok(mut spaces) = Spaces::lock(&nk, &[&p], false) else {
            return self.proc_label(space);
        };
        let base = spaces.get(space).record_at(a as u32).map(|r| r.base);
        drop(spaces);
        match base {
            Some(b) => format!("reservation 0x{b:08X} of {}", self.proc_label(space)),
            None => format!("no reservation of {}", self.proc_label(space)),
        }
    }

    /// Under `strict`, refuses an alias that would expose bytes into a process other than
    /// NK.EXE (87, with a warning saying what it would have exposed).
    pub(crate) fn audit_strict_exposure(
        &self,
        call: &str,
        dst: &Process,
        first_byte_offset: u32,
        n: u32,
        src: u32,
        physical: bool,
    ) -> Result<()> {
        let Some(aud) = self.kernel.auditor() else {
            return Ok(());
        };
        if aud.policy != ExposurePolicy::Strict || physical || dst.is_kernel() {
            return Ok(());
        }
        let po = u64::from(first_byte_offset & 0xFFF);
        let after = (po + u64::from(n)).next_multiple_of(u64::from(PAGE_SIZE)) - po - u64::from(n);
        if po == 0 && after == 0 {
            return Ok(());
        }
        let f = self.finding(
            FindingKind::Exposure,
            Severity::Warning,
            vec![dst.pid().0],
            vec![src],
            Vec::new(),
            format!(
                "{call} of 0x{n:X} bytes at 0x{src:08X} into {} would have exposed 0x{po:X} \
                 bytes before them and 0x{after:X} after them; refused by the strict policy (87)",
                // Not `proc_label`: the caller may hold space locks, and the process
                // table comes before them in the lock order.
                format_args!("{} (pid 0x{:X})", dst.name(), dst.pid().0)
            ),
        );
        self.push(aud, f);
        Err(Error::invalid(
            "audit",
            format!("{call}: the alias would expose bytes beyond the request (strict policy)"),
        ))
    }

    /// `physical-unshifted`: a PAGE_PHYSICAL value that reaches nothing decoded but RAM or
    /// a device read as it is.
    pub(crate) fn audit_physical_value(&self, call: &str, value: u32) {
        let Some(aud) = self.kernel.auditor() else {
            return;
        };
        let mem = self.kernel.memory();
        let reaches = |pa: u64| mem.kind(crate::phys::Pfn(pa >> 12)).is_some();
        let decoded = u64::from(value) << 8;
        if !reaches(decoded) && reaches(u64::from(value)) {
            let f = self.finding(
                FindingKind::PhysicalUnshifted,
                Severity::Warning,
                vec![self.active.pid().0],
                vec![value],
                Vec::new(),
                format!(
                    "{call} with PAGE_PHYSICAL was given 0x{value:08X}, which decodes to \
                     physical 0x{decoded:X} (value << 8), where there is no RAM or device; \
                     0x{value:08X} itself is a physical address in use: the value looks \
                     unshifted (pass pa >> 8)"
                ),
            );
            self.push(aud, f);
        }
    }

    /// After a successful VirtualAllocCopyEx: register the alias, report its exposure.
    pub(crate) fn audit_alias_made(&self, dst: &Arc<Process>, result: u32, prot: Protection) {
        let Some(aud) = self.kernel.auditor() else {
            return;
        };
        let base = result & !0xFFFF;
        let space = self.space_of(dst, base);
        let nk = self.kernel.nk().clone();
        let origin = {
            let Ok(mut spaces) = Spaces::for_range(&nk, dst, base, 1) else {
                return;
            };
            let s = spaces.holding(dst.pid(), base);
            match s.record_based_at(base) {
                Some(r) => r.origin,
                None => return,
            }
        };
        let Origin::Alias { requested, source } = origin else {
            return;
        };
        let src = match source {
            AliasSource::Physical { pa } => Src::Physical { pa: pa & !0xFFF },
            AliasSource::Virtual { pid, address } => match self.kernel.static_range(address, 1) {
                Some(pa) => Src::Static { pa: pa & !0xFFF },
                None => Src::Virtual {
                    space: if address >= SHARED_HEAP_BASE {
                        self.kernel.kernel_pid()
                    } else {
                        pid
                    },
                    page: address & !0xFFF,
                },
            },
        };
        let src_pid = match source {
            AliasSource::Virtual { pid, .. } => Some(pid),
            AliasSource::Physical { .. } => None,
        };
        self.register_alias(
            aud,
            "VirtualAllocCopyEx",
            dst,
            space,
            base,
            requested,
            src,
            src_pid,
            prot,
            ItemKind::Alias,
        );
    }

    /// After a successful VirtualCopy(Ex): register the mapping, report its exposure.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn audit_copy_made(
        &self,
        dst_proc: &Arc<Process>,
        dst: u32,
        src_proc: &Arc<Process>,
        src: u32,
        n: u32,
        prot: Protection,
    ) {
        let Some(aud) = self.kernel.auditor() else {
            return;
        };
        let nk = self.kernel.nk().clone();
        let space = self.space_of(dst_proc, dst);
        let base = {
            let Ok(mut spaces) = Spaces::for_range(&nk, dst_proc, dst, 1) else {
                return;
            };
            match spaces
                .holding(dst_proc.pid(), dst)
                .record_holding_bytes(dst, n)
            {
                Some(r) => r.base,
                None => return,
            }
        };
        let (src_kind, src_pid) = if prot.contains(Protection::PHYSICAL) {
            (
                Src::Physical {
                    pa: (u64::from(src) << 8) & !0xFFF,
                },
                None,
            )
        } else if let Some(pa) = self.kernel.static_range(src, 1) {
            (Src::Static { pa: pa & !0xFFF }, Some(src_proc.pid()))
        } else {
            (
                Src::Virtual {
                    space: self.space_of(src_proc, src),
                    page: src & !0xFFF,
                },
                Some(src_proc.pid()),
            )
        };
        let name = if Arc::ptr_eq(dst_proc, src_proc) {
            "VirtualCopy"
        } else {
            "VirtualCopyEx"
        };
        self.register_alias(
            aud,
            name,
            dst_proc,
            space,
            base,
            (dst, n),
            src_kind,
            src_pid,
            prot,
            ItemKind::CopyMapping,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn register_alias(
        &self,
        aud: &Auditor,
        call: &'static str,
        dst: &Arc<Process>,
        space: Pid,
        base: u32,
        requested: (u32, u32),
        src: Src,
        src_pid: Option<Pid>,
        prot: Protection,
        item: ItemKind,
    ) {
        let (first, pages) = page_span(requested.0, requested.1);
        let end = u64::from(first) + u64::from(pages) * u64::from(PAGE_SIZE);
        let req_end = u64::from(requested.0) + u64::from(requested.1);
        let granted = prot
            .difference(Protection::PHYSICAL)
            .validate()
            .map_or(crate::flags::Access::NoAccess, |v| v.access);
        let isolated = aud.policy == ExposurePolicy::Isolate && !dst.is_kernel();
        let mut exposed = Vec::new();
        if !matches!(src, Src::Physical { .. }) && !isolated {
            if requested.0 > first {
                exposed.push((first, u64::from(requested.0)));
            }
            if req_end < end {
                exposed.push((req_end as u32, end));
            }
        }
        let mut entry = AliasEntry {
            id: 0,
            space,
            holder: dst.pid(),
            base,
            first,
            end,
            exposed,
            owners: Vec::new(),
            src,
            granted,
            name: call,
        };
        for &(s, _) in &entry.exposed {
            let owner = match src {
                Src::Virtual { space, .. } => self.owner_of(space, entry.source_of(u64::from(s))),
                Src::Static { .. } => "kernel static".to_string(),
                Src::Physical { .. } => String::new(),
            };
            entry.owners.push(owner);
        }
        let finding = (!entry.exposed.is_empty()).then(|| {
            let parts: Vec<String> = entry
                .exposed
                .iter()
                .zip(&entry.owners)
                .map(|(&(s, e), owner)| {
                    let side = if s < requested.0 { "before" } else { "after" };
                    let so = entry.source_of(u64::from(s));
                    format!(
                        "0x{:X} bytes {side} them (0x{s:08X}-0x{:08X}, source 0x{so:08X}-0x{:08X}: {owner})",
                        e - u64::from(s),
                        e - 1,
                        so + (e - u64::from(s)) - 1
                    )
                })
                .collect();
            let mut pids = vec![dst.pid().0];
            if let Some(p) = src_pid {
                if p != dst.pid() {
                    pids.push(p.0);
                }
            }
            let user = if dst.is_kernel() {
                ""
            } else {
                "; handing it to a process other than NK.EXE is the documented security issue"
            };
            self.finding(
                FindingKind::Exposure,
                if dst.is_kernel() {
                    Severity::Warning
                } else {
                    Severity::Error
                },
                pids,
                vec![requested.0, entry.source_of(u64::from(requested.0)) as u32],
                entry.exposed.iter().map(|&(s, e)| (u64::from(s), e)).collect(),
                format!(
                    "{call} mapped 0x{:X} bytes at 0x{:08X} into {} as whole pages, exposing {}{user}",
                    requested.1,
                    requested.0,
                    self.proc_label(dst.pid()),
                    parts.join(" and ")
                ),
            )
        });
        let what = format!(
            "the {} at 0x{:08X} in {} (reservation 0x{base:08X})",
            match item {
                ItemKind::Alias => "alias made by VirtualAllocCopyEx",
                _ => "mapping made by VirtualCopy(Ex)",
            },
            requested.0,
            self.proc_label(dst.pid())
        );
        let it = (self.mode == Mode::Kernel).then(|| self.item(item, space, base, what));
        let mut st = aud.state();
        entry.id = st.next_id;
        st.next_id += 1;
        st.aliases.push(entry);
        st.findings.extend(finding);
        st.items.extend(it);
    }

    /// Records an item a kernel-mode call made (MmMapIoSpace, AllocPhysMem, a lock, a
    /// duplicate).
    pub(crate) fn audit_item(&self, kind: ItemKind, space: Pid, base: u32, what: String) {
        let Some(aud) = self.kernel.auditor() else {
            return;
        };
        if self.mode != Mode::Kernel {
            return;
        }
        let it = self.item(kind, space, base, what);
        aud.state().items.push(it);
    }

    /// A successful UnlockPages(Ex) of the lock `(first, pages)` made for `owner`.
    pub(crate) fn audit_unlocked(&self, owner: Pid, first: u32, pages: u32) {
        let Some(aud) = self.kernel.auditor() else {
            return;
        };
        let mut st = aud.state();
        if let Some(i) = st.items.iter().position(|it| {
            it.kind == ItemKind::Lock { pages } && it.space == owner && it.base == first
        }) {
            st.items.remove(i);
        }
    }

    /// A CeAllocAsynchronousBuffer alias handed out as `ptr`.
    pub(crate) fn audit_helper_alias(&self, ptr: u32, cb: u32, desc: ArgDescriptor) {
        let Some(aud) = self.kernel.auditor() else {
            return;
        };
        let space = self.space_of(&self.active, ptr);
        aud.state().helper_aliases.push(HelperAlias {
            space,
            ptr,
            cb,
            desc: desc.0,
        });
    }

    /// `marshal-mismatch`: a free, flush or close given a live duplicate or alias with
    /// other arguments than the call that made it.
    pub(crate) fn audit_marshal(
        &self,
        call: &str,
        ptr: u32,
        src: u32,
        cb: u32,
        desc: ArgDescriptor,
    ) {
        let Some(aud) = self.kernel.auditor() else {
            return;
        };
        if ptr == 0 || ptr == src {
            return;
        }
        let made = match self.live_duplicate(ptr) {
            Some(d) => Some(("duplicate", d.cb, d.desc)),
            None => {
                let space = self.space_of(&self.active, ptr);
                let st = aud.state();
                let live = st
                    .aliases
                    .iter()
                    .any(|a| a.space == space && a.base == ptr & !0xFFFF);
                st.helper_aliases
                    .iter()
                    .find(|h| live && h.space == space && h.ptr == ptr)
                    .map(|h| ("alias", h.cb, h.desc))
            }
        };
        let Some((what, made_cb, made_desc)) = made else {
            return;
        };
        if made_cb == cb && made_desc == desc.0 {
            return;
        }
        let f = self.finding(
            FindingKind::MarshalMismatch,
            Severity::Error,
            vec![self.active.pid().0],
            vec![ptr, src],
            Vec::new(),
            format!(
                "{call} was given the {what} 0x{ptr:08X} with cb 0x{cb:X} and descriptor \
                 0x{:X}, but it was made with cb 0x{made_cb:X} and descriptor 0x{made_desc:X}",
                desc.0
            ),
        );
        self.push(aud, f);
    }

    /// Before VirtualFree(Ex) (and the frees built on it): `malformed-free`,
    /// `wrong-process` (VirtualFreeEx only) and `release-not-base`; captures what a
    /// release or decommit will free.
    pub(crate) fn audit_free_pre(
        &self,
        aud: &Auditor,
        proc: &Arc<Process>,
        a: u32,
        n: u32,
        t: AllocType,
        ex: bool,
    ) -> Option<FreePre> {
        let call = if ex { "VirtualFreeEx" } else { "VirtualFree" };
        let (rel, dec) = (AllocType::RELEASE, AllocType::DECOMMIT);
        let malformed = (t == rel && n != 0) || (t == dec && n == 0) || (t != rel && t != dec);
        if malformed {
            let swapped = (n == rel.bits() || n == dec.bits()) && t.bits() != n;
            let why = if swapped {
                format!(
                    "; the size 0x{n:X} is MEM_{} and the type 0x{:X} looks like a size: the \
                     arguments look swapped (the free fails and the memory stays)",
                    if n == rel.bits() {
                        "RELEASE"
                    } else {
                        "DECOMMIT"
                    },
                    t.bits()
                )
            } else {
                " (CE fails it with 87)".to_string()
            };
            let f = self.finding(
                FindingKind::MalformedFree,
                Severity::Error,
                vec![proc.pid().0],
                vec![a],
                Vec::new(),
                format!(
                    "{call}(0x{a:08X}, 0x{n:X}, 0x{:X}) is neither MEM_RELEASE with size 0 nor \
                     MEM_DECOMMIT with a positive size{why}",
                    t.bits()
                ),
            );
            self.push(aud, f);
            return None;
        }
        let release = t == rel;
        let space = self.space_of(proc, a);
        let nk = self.kernel.nk().clone();
        let (holds_base, holder) = {
            let mut spaces = Spaces::for_range(&nk, proc, a, 1).ok()?;
            let s = spaces.holding(proc.pid(), a);
            let based = s.record_based_at(a).copied();
            let holder = s.record_at(a).filter(|r| r.is_record()).copied();
            (based, holder)
        };
        // wrong-process: the named process holds nothing there, another live one does.
        if ex && a < SHARED_HEAP_BASE {
            let named_ok = if release {
                holds_base.is_some()
            } else {
                holder.is_some()
            };
            if !named_ok {
                if let Some(other) =
                    self.other_holder(proc.pid(), |s| s.record_based_at(a).is_some())
                {
                    let f = self.finding(
                        FindingKind::WrongProcess,
                        Severity::Error,
                        vec![proc.pid().0, other.0],
                        vec![a],
                        Vec::new(),
                        format!(
                            "{call} names {}, which holds no reservation based at 0x{a:08X}, \
                             while {} does: the handle names the wrong process",
                            self.proc_label(proc.pid()),
                            self.proc_label(other)
                        ),
                    );
                    self.push(aud, f);
                    return None;
                }
            }
        }
        if release {
            if holds_base.is_none() {
                if let Some(r) = holder {
                    let f = self.finding(
                        FindingKind::ReleaseNotBase,
                        Severity::Error,
                        vec![proc.pid().0],
                        vec![a, r.base],
                        Vec::new(),
                        format!(
                            "{call} MEM_RELEASE of 0x{a:08X}, inside the reservation 0x{:08X} of \
                             {} but not its base (CE fails it with 87): release 0x{:08X} (an \
                             alias's result & ~0xFFFF)",
                            r.base,
                            self.proc_label(space),
                            r.base
                        ),
                    );
                    self.push(aud, f);
                }
                return None;
            }
            let r = holds_base?;
            let phys = match r.origin {
                Origin::PhysAlloc { pa } => Some((pa, pa + (r.page_end() - u64::from(r.base)))),
                _ => None,
            };
            Some(FreePre {
                space,
                base: Some(r.base),
                range: (u64::from(r.base), r.page_end()),
                phys,
            })
        } else {
            let (first, pages) = page_span(a, n);
            Some(FreePre {
                space,
                base: None,
                range: (
                    u64::from(first),
                    u64::from(first) + u64::from(pages) * u64::from(PAGE_SIZE),
                ),
                phys: None,
            })
        }
    }

    /// A live process other than `named` whose space satisfies `holds`.
    fn other_holder(
        &self,
        named: Pid,
        holds: impl Fn(&crate::space::AddressSpace) -> bool,
    ) -> Option<Pid> {
        let nk = self.kernel.nk().clone();
        for p in self.kernel.processes() {
            if p.pid() == named || p.is_kernel() {
                continue;
            }
            let Ok(mut spaces) = Spaces::lock(&nk, &[&p], false) else {
                continue;
            };
            if holds(spaces.get(p.pid())) {
                return Some(p.pid());
            }
        }
        None
    }

    /// After a successful free: what it released stops being tracked; the aliases whose
    /// source it freed are `backing-freed`.
    pub(crate) fn audit_free_post(&self, aud: &Auditor, pre: FreePre, call: &str) {
        let mut st = aud.state();
        if let Some(base) = pre.base {
            st.items.retain(|it| {
                matches!(it.kind, ItemKind::Lock { .. })
                    || !(it.space == pre.space && it.base == base)
            });
            st.aliases
                .retain(|a| !(a.space == pre.space && a.base == base));
            st.helper_aliases
                .retain(|h| !(h.space == pre.space && h.ptr & !0xFFFF == base));
        }
        let mut hits = Vec::new();
        for a in &st.aliases {
            let hit = match a.src {
                Src::Virtual { space, page } => {
                    space == pre.space
                        && overlaps(
                            pre.range,
                            (u64::from(page), u64::from(page) + a.source_len()),
                        )
                }
                Src::Static { pa } | Src::Physical { pa } => pre
                    .phys
                    .is_some_and(|r| overlaps(r, (pa, pa + a.source_len()))),
            };
            if hit {
                hits.push(a.clone());
            }
        }
        // The sentences name processes (the process table): never with the auditor's
        // mutex held, which space-locked callers may be waiting for.
        drop(st);
        let out: Vec<Finding> = hits
            .iter()
            .map(|a| self.backing_freed(a, call, pre.space))
            .collect();
        aud.state().findings.extend(out);
    }

    fn backing_freed(&self, a: &AliasEntry, how: &str, src_space: Pid) -> Finding {
        let ce = match a.src {
            Src::Virtual { .. } => "",
            Src::Static { .. } | Src::Physical { .. } => {
                "; a CE kernel does not keep physical or kernel-static frames alive, so there the alias would map frames given to someone else"
            }
        };
        self.finding(
            FindingKind::BackingFreed,
            Severity::Warning,
            vec![src_space.0, a.holder.0],
            vec![a.first, a.source_of(u64::from(a.first)) as u32],
            vec![(u64::from(a.first), a.end)],
            format!(
                "{how} freed the source of the live {} alias at 0x{:08X} in {}, which still maps \
                 its frames; cevm keeps them alive by reference counts{ce}",
                a.name,
                a.first,
                self.proc_label(a.holder)
            ),
        )
    }

    /// Before a process ends: its kernel-made items become `never-released`, aliases of its
    /// pages elsewhere `backing-freed`, and its own aliases stop being tracked.
    pub(crate) fn audit_process_end(&self, proc: &Process) {
        let Some(aud) = self.kernel.auditor() else {
            return;
        };
        let pid = proc.pid();
        // Isolated aliases in the ending process write back first (their pins' frames are
        // still alive), so the sources see the aliases' last writes.
        if let Some(p) = self.kernel.process(pid) {
            let nk = self.kernel.nk().clone();
            if let Ok(mut spaces) = Spaces::lock(&nk, &[&p], false) {
                let space = spaces.get(pid);
                let bases: Vec<u32> = space.isolated.keys().copied().collect();
                let mut refs = crate::frame_refs::FrameRefs::new();
                for b in bases {
                    refs.append(self.kernel.isolate_unpin(space, b, None));
                }
                self.kernel.memory().release(refs);
            }
        }
        let mut st = aud.state();
        let (gone, kept): (Vec<Item>, Vec<Item>) = std::mem::take(&mut st.items)
            .into_iter()
            .partition(|it| it.space == pid);
        st.items = kept;
        let mut out: Vec<Finding> = gone.iter().map(|it| never_released(it, true)).collect();
        let hits: Vec<AliasEntry> = st
            .aliases
            .iter()
            .filter(|a| {
                matches!(a.src, Src::Virtual { space, .. } if space == pid) && a.holder != pid
            })
            .cloned()
            .collect();
        st.aliases.retain(|a| a.holder != pid && a.space != pid);
        st.helper_aliases.retain(|h| h.space != pid);
        drop(st);
        for a in &hits {
            out.push(self.backing_freed(a, "the end of its process", pid));
        }
        aud.state().findings.extend(out);
    }

    /// `alias-upgraded`: VirtualProtect(Ex) giving an alias page an access its creator did
    /// not grant. Under `strict` the call fails with 87 (returned here). Returns the
    /// finding to report once the call succeeded otherwise.
    pub(crate) fn audit_protect_pre(
        &self,
        proc: &Arc<Process>,
        a: u32,
        n: u32,
        new: Protection,
        ex: bool,
    ) -> Result<Option<Finding>> {
        let Some(aud) = self.kernel.auditor() else {
            return Ok(None);
        };
        let call = if ex {
            "VirtualProtectEx"
        } else {
            "VirtualProtect"
        };
        if ex && (USER_BASE..SHARED_HEAP_BASE).contains(&a) {
            let nk = self.kernel.nk().clone();
            let named_ok = Spaces::for_range(&nk, proc, a, 1)
                .map(|mut s| {
                    s.holding(proc.pid(), a)
                        .record_holding_bytes(a, 1)
                        .is_some()
                })
                .unwrap_or(true);
            if !named_ok {
                if let Some(other) =
                    self.other_holder(proc.pid(), |s| s.record_based_at(a).is_some())
                {
                    let f = self.finding(
                        FindingKind::WrongProcess,
                        Severity::Error,
                        vec![proc.pid().0, other.0],
                        vec![a],
                        Vec::new(),
                        format!(
                            "{call} names {}, which holds no reservation at 0x{a:08X}, while {} \
                             holds one based there: the handle names the wrong process",
                            self.proc_label(proc.pid()),
                            self.proc_label(other)
                        ),
                    );
                    self.push(aud, f);
                }
            }
        }
        let Some(v) = new.validate() else {
            return Ok(None);
        };
        if (n as i32) <= 0 {
            return Ok(None);
        }
        let (first, pages) = page_span(a, n);
        let range = (
            u64::from(first),
            u64::from(first) + u64::from(pages) * u64::from(PAGE_SIZE),
        );
        let space = self.space_of(proc, a);
        let found = aud
            .state()
            .aliases
            .iter()
            .find(|al| al.space == space && overlaps(range, (u64::from(al.first), al.end)))
            .cloned();
        let Some(al) = found else {
            return Ok(None);
        };
        let g = al.granted;
        let na = v.access;
        let up = (na.readable() && !g.readable())
            || (na.writable() && !g.writable())
            || (na.executable() && !g.executable());
        if !up {
            return Ok(None);
        }
        let holder_kernel = self.kernel.process(al.holder).is_none_or(|p| p.is_kernel());
        let strict = aud.policy == ExposurePolicy::Strict;
        let f = self.finding(
            FindingKind::AliasUpgraded,
            if holder_kernel {
                Severity::Warning
            } else {
                Severity::Error
            },
            vec![al.holder.0, self.active.pid().0],
            vec![a, al.first],
            vec![range],
            format!(
                "{call} by {} ({}) gives pages of the {} alias at 0x{:08X} in {} the protection \
                 0x{:X}, more than the 0x{:X} its creator granted{}",
                self.proc_label(self.active.pid()),
                mode_name(self.mode),
                al.name,
                al.first,
                self.proc_label(al.holder),
                new.bits(),
                g as u32,
                if strict {
                    "; refused by the strict policy (87)"
                } else {
                    ""
                }
            ),
        );
        if strict {
            self.push(aud, f);
            return Err(Error::invalid(
                "audit",
                format!("{call}: the alias's creator did not grant this access (strict policy)"),
            ));
        }
        Ok(Some(f))
    }

    /// Reports a finding made before a call that then succeeded.
    pub(crate) fn audit_report(&self, f: Option<Finding>) {
        if let (Some(aud), Some(f)) = (self.kernel.auditor(), f) {
            self.push(aud, f);
        }
    }

    /// `leak-observed`: a checked read of `[a, a + n)` by this thread (the front end calls
    /// it after each successful read; ReadProcessMemory calls it itself). `target` is the
    /// process whose tables the read used below the shared heap.
    pub fn audit_read(&self, a: u32, n: u32) {
        let target = self.vm.clone();
        self.audit_read_in(&target, a, n);
    }

    pub(crate) fn audit_read_in(&self, target: &Process, a: u32, n: u32) {
        let Some(aud) = self.kernel.auditor() else {
            return;
        };
        if n == 0 {
            return;
        }
        let space = self.space_of(target, a);
        let range = (u64::from(a), u64::from(a) + u64::from(n));
        let reader = self.active.pid();
        let mut st = aud.state();
        let mut found = Vec::new();
        let mut seen = Vec::new();
        for al in st.aliases.iter().filter(|al| al.space == space) {
            if st.leaks.contains(&(al.id, reader.0, self.mode)) {
                continue;
            }
            let hits: Vec<(u64, u64, String)> = al
                .exposed
                .iter()
                .zip(&al.owners)
                .filter_map(|(&(s, e), o)| {
                    let lo = range.0.max(u64::from(s));
                    let hi = range.1.min(e);
                    (lo < hi).then(|| (lo, hi, o.clone()))
                })
                .collect();
            if hits.is_empty() {
                continue;
            }
            seen.push((al.id, reader.0, self.mode));
            found.push((al.clone(), hits));
        }
        st.leaks.extend(seen);
        drop(st);
        let mut out = Vec::new();
        for (al, hits) in &found {
            let parts: Vec<String> = hits
                .iter()
                .map(|&(lo, hi, ref o)| {
                    format!(
                        "0x{lo:08X}-0x{:08X} (source 0x{:08X}: {o})",
                        hi - 1,
                        al.source_of(lo)
                    )
                })
                .collect();
            out.push(self.finding(
                FindingKind::LeakObserved,
                Severity::Error,
                vec![reader.0, al.holder.0],
                vec![a, al.first],
                hits.iter().map(|&(lo, hi, _)| (lo, hi)).collect(),
                format!(
                    "{} in {} read exposed bytes of the {} alias at 0x{:08X} in {}: {}",
                    self.proc_label(reader),
                    mode_name(self.mode),
                    al.name,
                    al.first,
                    self.proc_label(al.holder),
                    parts.join(", ")
                ),
            ));
        }
        aud.state().findings.extend(out);
    }

    /// Before UnlockPagesEx: `wrong-process` when the named process holds no lock at `a`
    /// while another live process does.
    pub(crate) fn audit_unlock_pre(&self, proc: &Arc<Process>, a: u32, n: u32) {
        let Some(aud) = self.kernel.auditor() else {
            return;
        };
        if a >= SHARED_HEAP_BASE || (n as i32) <= 0 {
            return;
        }
        let first = a & !0xFFF;
        let has = |s: &crate::space::AddressSpace, pid: Pid| {
            s.locks.iter().any(|l| l.start == first && l.owner == pid.0)
        };
        let nk = self.kernel.nk().clone();
        let named = Spaces::lock(&nk, &[proc], false)
            .map(|mut s| has(s.get(proc.pid()), proc.pid()))
            .unwrap_or(true);
        if named {
            return;
        }
        let procs = self.kernel.processes();
        let other = procs.iter().filter(|p| p.pid() != proc.pid()).find(|p| {
            Spaces::lock(&nk, &[p], false)
                .map(|mut s| has(s.get(p.pid()), p.pid()))
                .unwrap_or(false)
        });
        if let Some(o) = other {
            let f = self.finding(
                FindingKind::WrongProcess,
                Severity::Error,
                vec![proc.pid().0, o.pid().0],
                vec![a],
                Vec::new(),
                format!(
                    "UnlockPagesEx names {}, which holds no lock at 0x{a:08X}, while {} does: \
                     the handle names the wrong process",
                    self.proc_label(proc.pid()),
                    self.proc_label(o.pid())
                ),
            );
            self.push(aud, f);
        }
    }
}
