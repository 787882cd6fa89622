//! `cevm maps --steps`: the map after every CE call, kept as differences.
//!
//! Step 0 is the state when recording began, stored whole (`base`). Every later step
//! stores only what changed since the one before it:
//! `{"call","line","seq"?, "d": {"procs"?, "devices"?, "layout"?, "r"?: {"<pid>": {"del": [start…], "put": [region…]}}}}`,
//! where `procs`, `devices` and `layout` appear (whole, they are small) only when they
//! changed, a pid whose process is gone has `"gone": true`, and regions are keyed by their
//! start address within their process.

use std::collections::{BTreeMap, HashMap};

use cevm::Kernel;
use serde_json::{Map, Value, json};

use super::snapshot;

/// At most this many steps are kept; later calls are counted but not drawn, so a long
/// script cannot make the file (or memory) grow without bound.
pub const MAX_STEPS: usize = 100_000;

/// A snapshot split for comparison.
#[derive(Debug, Default, PartialEq)]
struct State {
    layout: Value,
    procs: Value,
    devices: Value,
    regions: HashMap<String, BTreeMap<u64, Value>>,
}

impl State {
    fn of(snapshot: Value) -> Self {
        let Value::Object(mut o) = snapshot else {
            return Self::default();
        };
        let mut regions = HashMap::new();
        if let Some(Value::Object(by_pid)) = o.remove("regions") {
            for (pid, list) in by_pid {
                let Value::Array(list) = list else { continue };
                let keyed = list
                    .into_iter()
                    .map(|r| (r["s"].as_u64().unwrap_or(0), r))
                    .collect();
                regions.insert(pid, keyed);
            }
        }
        Self {
            layout: o.remove("layout").unwrap_or_default(),
            procs: o.remove("procs").unwrap_or_default(),
            devices: o.remove("devices").unwrap_or_default(),
            regions,
        }
    }

    /// What changed from `self` to `next`, or `None` when nothing did.
    fn diff(&self, next: &State) -> Option<Value> {
        let mut d = Map::new();
        for (key, a, b) in [
            ("layout", &self.layout, &next.layout),
            ("procs", &self.procs, &next.procs),
            ("devices", &self.devices, &next.devices),
        ] {
            if a != b {
                d.insert(key.into(), b.clone());
            }
        }
        let mut r = Map::new();
        for (pid, old) in &self.regions {
            if !next.regions.contains_key(pid) {
                r.insert(pid.clone(), json!({ "gone": true }));
            } else if let Some(change) = diff_regions(old, &next.regions[pid]) {
                r.insert(pid.clone(), change);
            }
        }
        for (pid, new) in &next.regions {
            if !self.regions.contains_key(pid) {
                let put: Vec<Value> = new.values().cloned().collect();
                r.insert(pid.clone(), json!({ "put": put }));
            }
        }
        if !r.is_empty() {
            d.insert("r".into(), Value::Object(r));
        }
        (!d.is_empty()).then_some(Value::Object(d))
    }

    #[cfg(test)]
    fn whole(&self) -> Value {
        let regions: Map<String, Value> = self
            .regions
            .iter()
            .map(|(pid, list)| (pid.clone(), Value::Array(list.values().cloned().collect())))
            .collect();
        json!({
            "layout": self.layout,
            "procs": self.procs,
            "devices": self.devices,
            "regions": regions,
        })
    }
}

fn diff_regions(old: &BTreeMap<u64, Value>, new: &BTreeMap<u64, Value>) -> Option<Value> {
    let del: Vec<u64> = old
        .keys()
        .filter(|s| !new.contains_key(s))
        .copied()
        .collect();
    let put: Vec<&Value> = new
        .iter()
        .filter(|(s, r)| old.get(s) != Some(r))
        .map(|(_, r)| r)
        .collect();
    if del.is_empty() && put.is_empty() {
        return None;
    }
    let mut o = Map::new();
    if !del.is_empty() {
        o.insert("del".into(), json!(del));
    }
    if !put.is_empty() {
        o.insert("put".into(), json!(put));
    }
    Some(Value::Object(o))
}

/// The steps of one script run.
#[derive(Debug)]
pub struct Recorder {
    base: Value,
    last: State,
    steps: Vec<Value>,
    /// CE calls seen, numbered as the trace numbers them (`seq` starts at 1).
    calls: u64,
    /// Whether the labels carry the trace's `seq`.
    with_seq: bool,
    /// Calls after [`MAX_STEPS`] that were not kept.
    dropped: u64,
}

impl Recorder {
    /// Starts with the state of `kernel` as step 0.
    pub fn new(kernel: &Kernel, with_seq: bool) -> Self {
        let snap = snapshot::from_kernel(kernel);
        Self {
            base: snap.clone(),
            last: State::of(snap),
            steps: Vec::new(),
            calls: 0,
            with_seq,
            dropped: 0,
        }
    }

    /// Records the state after CE call `call` made at script line `line`.
    pub fn record(&mut self, kernel: &Kernel, call: &str, line: Option<usize>) {
        self.calls += 1;
        if self.steps.len() >= MAX_STEPS {
            self.dropped += 1;
            return;
        }
        let next = State::of(snapshot::from_kernel(kernel));
        let d = self.last.diff(&next).unwrap_or_else(|| json!({}));
        let mut step = json!({ "call": call, "line": line, "d": d });
        if self.with_seq {
            step["seq"] = self.calls.into();
        }
        self.steps.push(step);
        self.last = next;
    }

    /// Adds an "end of script" step when the state changed after the last CE call (a
    /// harness call such as `create_process`), so the last step is the final map.
    pub fn finish(&mut self, kernel: &Kernel) {
        if self.steps.len() >= MAX_STEPS {
            return;
        }
        let next = State::of(snapshot::from_kernel(kernel));
        if let Some(d) = self.last.diff(&next) {
            self.steps
                .push(json!({ "call": "end of script", "line": null, "d": d }));
            self.last = next;
        }
    }

    /// Steps recorded, step 0 included.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.steps.len() + 1
    }

    /// The page data: `{title, base, steps, dropped}`.
    pub fn page_data(&self, title: &str) -> Value {
        json!({
            "title": title,
            "base": self.base,
            "steps": self.steps,
            "dropped": self.dropped,
        })
    }

    /// The state after the last recorded step, whole (for tests of the differences).
    #[cfg(test)]
    fn last_whole(&self) -> Value {
        self.last.whole()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(s: u64, p: &str) -> Value {
        json!({ "s": s, "n": 4096, "st": "committed", "p": p })
    }

    fn snap(regions: Value) -> Value {
        json!({ "layout": {}, "procs": [], "devices": [], "regions": regions })
    }

    #[test]
    fn a_difference_names_only_the_changed_regions() {
        let a = State::of(snap(json!({
            "1": [region(0x10000, "READWRITE"), region(0x20000, "READWRITE")],
            "2": [region(0x10000, "READONLY")],
        })));
        let b = State::of(snap(json!({
            "1": [region(0x10000, "READWRITE"), region(0x30000, "READONLY")],
            "3": [region(0x50000, "READONLY")],
        })));
        let d = a.diff(&b).unwrap();
        assert_eq!(d["r"]["1"]["del"], json!([0x20000]));
        assert_eq!(d["r"]["1"]["put"], json!([region(0x30000, "READONLY")]));
        assert_eq!(d["r"]["2"], json!({ "gone": true }));
        assert_eq!(d["r"]["3"]["put"], json!([region(0x50000, "READONLY")]));
        assert!(
            d.get("procs").is_none(),
            "unchanged parts are left out: {d}"
        );
    }

    #[test]
    fn equal_states_have_no_difference() {
        let a = State::of(snap(json!({ "1": [region(0x10000, "READWRITE")] })));
        let b = State::of(snap(json!({ "1": [region(0x10000, "READWRITE")] })));
        assert_eq!(a.diff(&b), None);
    }

    #[test]
    fn whole_gives_back_the_snapshot() {
        let s = snap(json!({ "1": [region(0x10000, "READWRITE"), region(0x20000, "READONLY")] }));
        assert_eq!(State::of(s.clone()).whole(), s);
    }

    #[test]
    fn steps_after_the_limit_are_counted_not_kept() {
        let k = Kernel::boot(cevm::Config::default()).unwrap();
        let mut r = Recorder::new(&k, true);
        r.steps = vec![Value::Null; MAX_STEPS];
        r.record(&k, "VirtualAlloc", Some(1));
        assert_eq!(r.len(), MAX_STEPS + 1);
        assert_eq!(r.dropped, 1);
        assert_eq!(r.last_whole(), snapshot::from_kernel(&k));
    }
}
