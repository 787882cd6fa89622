//! How a script function is bound: a table entry names it, lists its CE parameters and
//! points at a handler that reads the arguments in order through [`Call`].
//!
//! Every parameter is registered as `Dynamic`, so a wrong type reaches the handler and is
//! reported as "VirtualAlloc: argument 2 (n) must be an integer, not a string" instead of a
//! bare "function not found". Overloads (`VirtualQuery(a)` / `VirtualQuery(a, len)`) are
//! simply two entries with different parameter lists.

use std::any::TypeId;
use std::cell::RefCell;
use std::rc::Rc;

use cevm::Thread;
use rhai::{Blob, Dynamic, Engine, EvalAltResult, INT, Position};

use super::session::Session;
use super::values::{self, type_label};
use crate::trace::TracedCall;

/// Whether a function is a CE API call (traced) or part of the harness (not traced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A call of interfaces.md §2.1.
    Ce,
    /// A harness function of interfaces.md §2.2.
    Harness,
}

/// Why a handler did not return a value.
#[derive(Debug)]
pub enum Fail {
    /// A misuse (wrong argument type, harness error): becomes an error naming the function.
    Message(String),
    /// A value thrown as is: a fault map, a failed assertion.
    Throw(Dynamic),
}

/// What a handler returns.
pub type Outcome = Result<Dynamic, Fail>;

/// One script function.
#[derive(Debug)]
pub struct Binding {
    /// The script name.
    pub name: &'static str,
    /// Parameter names, as in the CE signature.
    pub params: &'static [&'static str],
    /// What it returns, for `:help`.
    pub returns: &'static str,
    /// Traced or not.
    pub kind: Kind,
    /// Reads the arguments and does the work.
    pub handler: fn(&mut Call<'_>) -> Outcome,
}

impl Binding {
    /// A CE API call.
    pub const fn ce(
        name: &'static str,
        params: &'static [&'static str],
        returns: &'static str,
        handler: fn(&mut Call<'_>) -> Outcome,
    ) -> Self {
        Self {
            name,
            params,
            returns,
            kind: Kind::Ce,
            handler,
        }
    }

    /// A harness function.
    pub const fn harness(
        name: &'static str,
        params: &'static [&'static str],
        returns: &'static str,
        handler: fn(&mut Call<'_>) -> Outcome,
    ) -> Self {
        Self {
            name,
            params,
            returns,
            kind: Kind::Harness,
            handler,
        }
    }

    /// `VirtualAlloc(a, n, type, prot)`.
    pub fn signature(&self) -> String {
        format!("{}({})", self.name, self.params.join(", "))
    }
}

/// One call in progress: its arguments, read in order, and the session.
pub struct Call<'a> {
    binding: &'static Binding,
    args: Vec<Dynamic>,
    next: usize,
    /// The arguments as the kernel saw them, for the trace.
    traced: Vec<serde_json::Value>,
    /// The kernel and thread the call acts on.
    pub session: &'a mut Session,
}

impl Call<'_> {
    /// The calling thread.
    pub fn thread(&mut self) -> &mut Thread {
        &mut self.session.thread
    }

    /// The next argument, its parameter name and its 1-based position.
    fn take(&mut self) -> (Dynamic, &'static str, usize) {
        let i = self.next;
        self.next += 1;
        let v = self.args.get_mut(i).map(std::mem::take).unwrap_or_default();
        (v, self.binding.params.get(i).copied().unwrap_or("?"), i + 1)
    }

    fn wrong(&self, (v, name, pos): &(Dynamic, &str, usize), expected: &str) -> Fail {
        let got = if v.is_unit() {
            "() (nothing)".to_string()
        } else {
            format!("{} {}", type_label(v), values::show(v))
        };
        Fail::Message(format!(
            "argument {pos} ({name}) must be {expected}, not {got}"
        ))
    }

    /// A DWORD argument: an integer, wrapped to 32 bits.
    pub fn dword(&mut self) -> Result<u32, Fail> {
        let arg = self.take();
        let d = arg
            .0
            .as_int()
            .map(values::dword)
            .map_err(|_| self.wrong(&arg, "an integer"))?;
        self.traced.push(d.into());
        Ok(d)
    }

    /// An integer argument taken as it is (a harness value, not a DWORD).
    pub fn integer(&mut self) -> Result<INT, Fail> {
        let arg = self.take();
        let n = arg.0.as_int().map_err(|_| self.wrong(&arg, "an integer"))?;
        self.traced.push(n.into());
        Ok(n)
    }

    /// A 64-bit argument (a physical address or a byte count of the host machine): an
    /// integer taken as its 64-bit two's-complement value.
    pub fn wide(&mut self) -> Result<u64, Fail> {
        let arg = self.take();
        let w = arg
            .0
            .as_int()
            .map(|n| n as u64)
            .map_err(|_| self.wrong(&arg, "an integer"))?;
        self.traced.push(w.into());
        Ok(w)
    }

    /// A BOOL argument: a bool, or an integer (non-zero is TRUE).
    pub fn boolean(&mut self) -> Result<bool, Fail> {
        let arg = self.take();
        let b = match (arg.0.as_bool(), arg.0.as_int()) {
            (Ok(b), _) => b,
            (_, Ok(n)) => values::dword(n) != 0,
            _ => return Err(self.wrong(&arg, "a bool or an integer")),
        };
        self.traced.push(b.into());
        Ok(b)
    }

    /// A condition: a bool and nothing else, so `assert(1)` is caught as a mistake.
    pub fn condition(&mut self) -> Result<bool, Fail> {
        let arg = self.take();
        arg.0.as_bool().map_err(|_| self.wrong(&arg, "a bool"))
    }

    /// A byte buffer argument.
    pub fn blob(&mut self) -> Result<Blob, Fail> {
        let arg = self.take();
        if !arg.0.is_blob() {
            return Err(self.wrong(&arg, "a blob (use \"text\".to_blob())"));
        }
        let b = arg.0.cast::<Blob>();
        self.traced.push(values::blob_json(&b));
        Ok(b)
    }

    /// A string argument.
    pub fn text(&mut self) -> Result<String, Fail> {
        let arg = self.take();
        if !arg.0.is_string() {
            return Err(self.wrong(&arg, "a string"));
        }
        let s = arg.0.into_string().unwrap_or_default();
        self.traced.push(s.clone().into());
        Ok(s)
    }

    /// A map argument.
    pub fn map(&mut self) -> Result<rhai::Map, Fail> {
        let arg = self.take();
        if !arg.0.is_map() {
            return Err(self.wrong(&arg, "a map"));
        }
        Ok(arg.0.cast::<rhai::Map>())
    }

    /// An argument of any type.
    pub fn value(&mut self) -> Dynamic {
        self.take().0
    }
}

/// Registers every binding of `table` on `engine`, acting on `session`.
pub fn register(engine: &mut Engine, session: &Rc<RefCell<Session>>, table: &'static [Binding]) {
    for b in table {
        let session = session.clone();
        let types = vec![TypeId::of::<Dynamic>(); b.params.len()];
        engine.register_raw_fn(b.name, types, move |ctx, args| {
            let at = ctx.call_position();
            invoke(b, &session, args, at).map_err(|f| into_error(b, f, at))
        });
    }
}

fn invoke(
    b: &'static Binding,
    session: &RefCell<Session>,
    args: &mut [&mut Dynamic],
    at: Position,
) -> Outcome {
    let mut s = session.borrow_mut();
    if s.defaults.audit {
        let loc = match (at.line(), at.position()) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", s.source),
            _ => format!("{}: {}", s.source, b.name),
        };
        // The number the trace gives this call (a memory read: the last call's).
        let seq = s.calls + u64::from(b.kind == Kind::Ce);
        s.thread.set_call_site(seq, &loc);
    }
    let before = s.context();
    let mut call = Call {
        binding: b,
        // Cloned, not taken: Rhai may pass a script variable itself, and taking would
        // leave () in it.
        args: args.iter().map(|a| (**a).clone()).collect(),
        next: 0,
        traced: Vec::new(),
        session: &mut s,
    };
    let out = (b.handler)(&mut call)?;
    let traced = std::mem::take(&mut call.traced);
    if b.kind == Kind::Ce {
        // Numbered as the trace numbers it: only calls that reached the kernel.
        s.calls += 1;
        let (ret, outs) = split_out_params(&out);
        let error = s.thread.last_error();
        s.trace(TracedCall {
            call: b.name,
            context: before,
            args: traced,
            ret,
            out: outs,
            error,
        });
        s.record_step(b.name, at.line());
    }
    Ok(out)
}

/// A result map's `ret` and its out-parameters; any other value is all `ret`.
fn split_out_params(
    out: &Dynamic,
) -> (
    serde_json::Value,
    Option<serde_json::Map<String, serde_json::Value>>,
) {
    match out.read_lock::<rhai::Map>() {
        Some(m) => {
            let ret = m
                .get("ret")
                .map_or(serde_json::Value::Null, values::to_json);
            let rest = m
                .iter()
                .filter(|(k, _)| k.as_str() != "ret")
                .map(|(k, v)| (k.to_string(), values::to_json(v)))
                .collect();
            (ret, Some(rest))
        }
        None => (values::to_json(out), None),
    }
}

fn into_error(b: &Binding, f: Fail, pos: Position) -> Box<EvalAltResult> {
    let value = match f {
        Fail::Message(m) => format!("{}: {m}", b.name).into(),
        Fail::Throw(v) => v,
    };
    Box::new(EvalAltResult::ErrorRuntime(value, pos))
}
