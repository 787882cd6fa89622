//! What the auditor reports (audit.md "Findings"): a finding's kind, severity, the call
//! that caused it and the sentence, and its JSON line.

use std::fmt::Write as _;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// A hazard: `cevm audit` exits 1.
    Error,
    /// Worth knowing, not fatal.
    Warning,
}

impl Severity {
    /// `"error"` or `"warning"`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// The kinds of audit.md's table, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// An alias maps bytes its caller did not ask for.
    Exposure,
    /// A checked read touched exposed bytes of an alias.
    LeakObserved,
    /// MEM_RELEASE of an address inside a reservation but not its base.
    ReleaseNotBase,
    /// VirtualFree(Ex) arguments that are not one of the two accepted forms.
    MalformedFree,
    /// A call names a process that holds nothing at the address while another does.
    WrongProcess,
    /// The source of a live alias is released, decommitted or its process ends.
    BackingFreed,
    /// A kernel-made mapping, block, lock or buffer never released.
    NeverReleased,
    /// A PAGE_PHYSICAL value that only makes sense unshifted.
    PhysicalUnshifted,
    /// VirtualProtect(Ex) gives an alias page an access its creator did not grant.
    AliasUpgraded,
    /// A marshalling free, flush or close with other arguments than the Alloc or Open.
    MarshalMismatch,
}

impl FindingKind {
    /// Every kind, in audit.md's order.
    pub const ALL: [FindingKind; 10] = [
        FindingKind::Exposure,
        FindingKind::LeakObserved,
        FindingKind::ReleaseNotBase,
        FindingKind::MalformedFree,
        FindingKind::WrongProcess,
        FindingKind::BackingFreed,
        FindingKind::NeverReleased,
        FindingKind::PhysicalUnshifted,
        FindingKind::AliasUpgraded,
        FindingKind::MarshalMismatch,
    ];

    /// The kind's name as audit.md spells it (`"release-not-base"`).
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Exposure => "exposure",
            FindingKind::LeakObserved => "leak-observed",
            FindingKind::ReleaseNotBase => "release-not-base",
            FindingKind::MalformedFree => "malformed-free",
            FindingKind::WrongProcess => "wrong-process",
            FindingKind::BackingFreed => "backing-freed",
            FindingKind::NeverReleased => "never-released",
            FindingKind::PhysicalUnshifted => "physical-unshifted",
            FindingKind::AliasUpgraded => "alias-upgraded",
            FindingKind::MarshalMismatch => "marshal-mismatch",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it is.
    pub kind: FindingKind,
    /// How bad.
    pub severity: Severity,
    /// The sequence number of the call that caused it (as the front end numbered it).
    pub seq: u64,
    /// Where that call was made (file:line:column, or the call's name), as the front end
    /// gave it.
    pub location: String,
    /// The processes involved.
    pub pids: Vec<u32>,
    /// The addresses involved.
    pub addresses: Vec<u32>,
    /// The byte ranges involved, `[start, end)`.
    pub bytes: Vec<(u64, u64)>,
    /// The sentence.
    pub message: String,
}

impl Finding {
    /// The finding as one JSON object on one line:
    /// `{"kind","severity","seq","location","pids","addresses","bytes","message"}`.
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(160 + self.message.len());
        let _ = write!(
            s,
            "{{\"kind\":\"{}\",\"severity\":\"{}\",\"seq\":{},\"location\":",
            self.kind.name(),
            self.severity.name(),
            self.seq
        );
        json_string(&mut s, &self.location);
        s.push_str(",\"pids\":[");
        list(&mut s, self.pids.iter().map(|p| p.to_string()));
        s.push_str("],\"addresses\":[");
        list(&mut s, self.addresses.iter().map(|a| a.to_string()));
        s.push_str("],\"bytes\":[");
        list(&mut s, self.bytes.iter().map(|(a, b)| format!("[{a},{b}]")));
        s.push_str("],\"message\":");
        json_string(&mut s, &self.message);
        s.push('}');
        s
    }
}

fn list(s: &mut String, items: impl Iterator<Item = String>) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&item);
    }
}

fn json_string(s: &mut String, text: &str) {
    s.push('"');
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_escapes_quotes_and_control_characters() {
        let f = Finding {
            kind: FindingKind::MalformedFree,
            severity: Severity::Error,
            seq: 3,
            location: "a \"b\".rhai:1:2".into(),
            pids: vec![1, 2],
            addresses: vec![0x10000],
            bytes: vec![(0, 16)],
            message: "x\ny".into(),
        };
        assert_eq!(
            f.to_json(),
            "{\"kind\":\"malformed-free\",\"severity\":\"error\",\"seq\":3,\
             \"location\":\"a \\\"b\\\".rhai:1:2\",\"pids\":[1,2],\"addresses\":[65536],\
             \"bytes\":[[0,16]],\"message\":\"x\\ny\"}"
        );
    }
}
