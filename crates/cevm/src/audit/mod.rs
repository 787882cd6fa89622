//! The driver auditor (audit.md): a sanitizer for CE memory-API use. It watches the calls
//! a thread makes (the hooks in `hooks.rs`, reached only when the kernel was booted with
//! auditing or a non-default exposure policy) and reports each hazard with the call that
//! caused it. It reads reservation origins, lock records and duplicates and keeps its own
//! registry of the aliases and kernel-made items it saw created; it changes behaviour only
//! under [`ExposurePolicy::Strict`] and [`ExposurePolicy::Isolate`].
//!
//! Its one mutex is innermost: it may be taken under space locks, and no other lock is
//! taken while it is held (sentences naming processes are formatted after dropping it).

mod findings;
mod hooks;
mod isolate;

pub(crate) use isolate::bounce_plan;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

pub use findings::{Finding, FindingKind, Severity};

use crate::flags::Access;
use crate::process::Pid;
use crate::thread::Mode;

/// What to do with an alias that would expose bytes its caller did not ask for into a
/// process other than NK.EXE (audit.md "Policies").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExposurePolicy {
    /// CE's behaviour; findings only.
    #[default]
    Compatible,
    /// An exposing alias, and an upgrading VirtualProtect of an alias, fail with 87.
    Strict,
    /// Partial pages of an exposing alias map private bounce frames.
    Isolate,
}

impl ExposurePolicy {
    /// The policy named `compatible`, `strict` or `isolate`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "compatible" => Self::Compatible,
            "strict" => Self::Strict,
            "isolate" => Self::Isolate,
            _ => return None,
        })
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Compatible => "compatible",
            Self::Strict => "strict",
            Self::Isolate => "isolate",
        }
    }
}

/// Where an alias's pages come from, as the auditor keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Src {
    /// Pages of `space` (NK.EXE for addresses from the shared heap up) from `page`.
    Virtual { space: Pid, page: u32 },
    /// RAM reached through the kernel static mapping, from the physical address `pa`.
    Static { pa: u64 },
    /// Physical frames from `pa` (PAGE_PHYSICAL).
    Physical { pa: u64 },
}

/// A live alias (VirtualAllocCopyEx, or a VirtualCopy(Ex) mapping) the auditor saw made.
#[derive(Debug, Clone)]
pub(crate) struct AliasEntry {
    pub id: u64,
    /// The space whose tables hold it.
    pub space: Pid,
    /// The process named as destination.
    pub holder: Pid,
    /// The base of its reservation.
    pub base: u32,
    /// Its mapped pages `[first, end)`.
    pub first: u32,
    pub end: u64,
    /// Exposed byte ranges `[start, end)` in the alias.
    pub exposed: Vec<(u32, u64)>,
    /// Whose bytes each exposed range shows.
    pub owners: Vec<String>,
    pub src: Src,
    /// The access its creator granted.
    pub granted: Access,
    /// The call that made it.
    pub name: &'static str,
}

impl AliasEntry {
    /// The source address (virtual or physical) of alias address `a`.
    pub fn source_of(&self, a: u64) -> u64 {
        let off = a - u64::from(self.first);
        match self.src {
            Src::Virtual { page, .. } => u64::from(page) + off,
            Src::Static { pa } | Src::Physical { pa } => pa + off,
        }
    }

    /// Bytes of its source.
    pub fn source_len(&self) -> u64 {
        self.end - u64::from(self.first)
    }
}

/// What a `never-released` finding may be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKind {
    Alias,
    CopyMapping,
    IoMapping,
    PhysBlock,
    Lock { pages: u32 },
    Duplicate,
}

/// Something a kernel-mode call made that must be released.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub kind: ItemKind,
    /// The space that holds it (for a lock, the process it was made for).
    pub space: Pid,
    /// Its reservation base (for a lock, its first page).
    pub base: u32,
    pub seq: u64,
    pub location: Arc<str>,
    pub what: String,
}

/// A marshalling alias: what CeAllocAsynchronousBuffer was given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HelperAlias {
    pub space: Pid,
    pub ptr: u32,
    pub cb: u32,
    pub desc: u32,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub findings: Vec<Finding>,
    pub aliases: Vec<AliasEntry>,
    pub items: Vec<Item>,
    pub helper_aliases: Vec<HelperAlias>,
    /// (alias id, reader process, reader mode) already reported as leak-observed.
    pub leaks: HashSet<(u64, u32, Mode)>,
    pub next_id: u64,
}

/// The auditor of one kernel.
#[derive(Debug)]
pub(crate) struct Auditor {
    pub policy: ExposurePolicy,
    state: Mutex<State>,
}

impl Auditor {
    pub fn new(policy: ExposurePolicy) -> Self {
        Self {
            policy,
            state: Mutex::new(State::default()),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl crate::kernel::Kernel {
    /// Every finding so far, in the order they were made (empty when auditing is off).
    pub fn audit_findings(&self) -> Vec<Finding> {
        self.auditor()
            .map(|a| a.state().findings.clone())
            .unwrap_or_default()
    }

    /// Ends the scenario: everything a kernel-mode call made and nothing released becomes
    /// a `never-released` finding (once). Returns every finding.
    pub fn audit_finish(&self) -> Vec<Finding> {
        let Some(a) = self.auditor() else {
            return Vec::new();
        };
        let mut st = a.state();
        let items = std::mem::take(&mut st.items);
        for it in items {
            let f = never_released(&it, false);
            st.findings.push(f);
        }
        st.findings.clone()
    }

    /// Ends the scenario ([`audit_finish`](Self::audit_finish)) and returns every finding
    /// as JSON lines, one object per line, each ending in a newline: what the C front
    /// writes to the file named by `CEVM_AUDIT` and hands out from `cevm_audit_report`.
    pub fn audit_report_json(&self) -> String {
        let mut out = String::new();
        for f in self.audit_finish() {
            out.push_str(&f.to_json());
            out.push('\n');
        }
        out
    }

    /// Whether the kernel was booted with the auditor on.
    pub fn audit_enabled(&self) -> bool {
        self.auditor().is_some()
    }

    /// The exposure policy the kernel was booted with.
    pub fn exposure_policy(&self) -> ExposurePolicy {
        self.auditor()
            .map_or(ExposurePolicy::Compatible, |a| a.policy)
    }
}

pub(crate) fn never_released(it: &Item, process_ended: bool) -> Finding {
    let tail = if process_ended {
        format!(
            "; it was released only because process 0x{:X} ended",
            it.space.0
        )
    } else {
        "; it is still live when the scenario ends".to_string()
    };
    Finding {
        kind: FindingKind::NeverReleased,
        severity: Severity::Error,
        seq: it.seq,
        location: it.location.to_string(),
        pids: vec![it.space.0],
        addresses: vec![it.base],
        bytes: Vec::new(),
        message: format!("{} was never released{tail}", it.what),
    }
}
