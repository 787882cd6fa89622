//! The script language: a Rhai engine with the CE calls, the harness, memory access and
//! the constants bound to one kernel and the thread the script runs as.

mod binding;
mod ce_calls;
mod constants;
mod harness;
mod memory;
mod report;
mod session;
mod values;

use std::cell::{Cell, RefCell};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use cevm::Kernel;
use rhai::{AST, Dynamic, Engine, Scope};

pub use binding::{Binding, Kind};
pub use report::Failure;
pub use values::show;

use session::{BootOptions, Session};

use crate::trace::Tracer;

/// Where a script's `print` and `debug` output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Standard output (`cevm run`, `cevm shell`).
    Stdout,
    /// Standard error, keeping standard output for something else (`cevm maps`).
    Stderr,
    /// Nowhere (`cevm check`, which prints one line per script).
    Quiet,
}

/// How to set a script up.
#[derive(Debug, Clone)]
pub struct Options {
    /// RAM of the kernel booted before the script (and of a `boot()` without `ram_mb`).
    pub ram_mb: u64,
    /// Where to trace CE calls, if anywhere.
    pub trace: Option<PathBuf>,
    /// Where `print` goes.
    pub output: Output,
    /// The wall-clock limit of one evaluation (`--timeout`); `None` for no limit.
    pub timeout: Option<Duration>,
    /// Boot kernels with host windows on (`cevm check --windows`).
    pub host_windows: bool,
}

impl Options {
    /// A fresh 64 MiB kernel, no trace, output to stdout.
    pub fn new(ram_mb: u64) -> Self {
        Self {
            ram_mb,
            trace: None,
            output: Output::Stdout,
            timeout: None,
            host_windows: false,
        }
    }
}

/// The largest script file read (a bounded read: `/dev/zero` is refused, not swallowed).
pub const MAX_SCRIPT_BYTES: u64 = 16 << 20;

/// Rhai's limits: generous for any real script (a 1 MiB blob, arrays of 10 000 elements,
/// a few hundred nested calls), finite for a hostile one, whose excess becomes an error of
/// that script instead of an abort of the process.
mod limits {
    /// Bytes of one string (and of all the strings inside one value).
    pub const STRING_BYTES: usize = 16 << 20;
    /// Elements of one array or bytes of one blob, nested arrays and blobs included.
    pub const ARRAY_ELEMENTS: usize = 8 << 20;
    /// Entries of one object map, nested maps included.
    pub const MAP_ENTRIES: usize = 1 << 20;
    /// Nested function calls.
    pub const CALL_LEVELS: usize = 1_000;
    /// Nesting of one expression, at the top level and inside functions.
    pub const EXPR_DEPTH: usize = 256;
    /// How many operations pass between two looks at the clock.
    pub const CLOCK_EVERY: u64 = 1 << 10;
}

/// Reads a script file: at most [`MAX_SCRIPT_BYTES`] (read with a bounded reader, so a
/// device or a growing file cannot make it read forever), UTF-8, a leading byte-order mark
/// skipped.
pub fn read_script(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the script: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_SCRIPT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the script: {e}"))?;
    if bytes.len() as u64 > MAX_SCRIPT_BYTES {
        return Err(format!(
            "cannot read the script: it is larger than {} MiB",
            MAX_SCRIPT_BYTES >> 20
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "cannot read the script: it is not UTF-8 text (byte {} is not)",
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok(match text.strip_prefix('\u{FEFF}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// A `debug(…)` line as Rhai writes it by default: `[source @ ]position | text`.
fn debug_line(s: &str, source: Option<&str>, pos: rhai::Position) -> String {
    match (source, pos.is_none()) {
        (Some(src), true) => format!("{src} | {s}"),
        (Some(src), false) => format!("{src} @ {pos:?} | {s}"),
        (None, true) => s.to_string(),
        (None, false) => format!("{pos:?} | {s}"),
    }
}

/// Every function a script can call: the CE calls, then the harness and memory access.
pub fn bindings() -> impl Iterator<Item = &'static Binding> {
    ce_calls::BINDINGS
        .iter()
        .chain(harness::BINDINGS)
        .chain(memory::BINDINGS)
}

/// Every global constant as `(name, value)`.
pub fn constant_list() -> Vec<(&'static str, rhai::INT)> {
    constants::all()
}

/// "VirtualQuery takes (a) or (a, len)", for a call with the wrong number of arguments.
fn what_it_takes(name: &str) -> Option<String> {
    let forms: Vec<String> = bindings()
        .filter(|b| b.name == name)
        .map(|b| format!("({})", b.params.join(", ")))
        .collect();
    (!forms.is_empty()).then(|| format!("{name} takes {}", forms.join(" or ")))
}

/// A Rhai engine bound to a kernel.
pub struct Script {
    engine: Engine,
    session: Rc<RefCell<Session>>,
    /// When the evaluation under way started (the timeout's reference).
    started: Rc<Cell<Instant>>,
}

impl Script {
    /// Boots a kernel and builds the engine.
    pub fn new(options: &Options) -> Result<Self, String> {
        let tracer = match &options.trace {
            Some(path) => Some(
                Tracer::create(path)
                    .map_err(|e| format!("cannot create trace file {}: {e}", path.display()))?,
            ),
            None => None,
        };
        let session = Rc::new(RefCell::new(Session::boot(
            BootOptions {
                host_windows: options.host_windows,
                ..BootOptions::with_ram(options.ram_mb)
            },
            tracer,
        )?));
        let mut engine = Engine::new();
        engine
            .set_max_string_size(limits::STRING_BYTES)
            .set_max_array_size(limits::ARRAY_ELEMENTS)
            .set_max_map_size(limits::MAP_ENTRIES)
            .set_max_call_levels(limits::CALL_LEVELS)
            .set_max_expr_depths(limits::EXPR_DEPTH, limits::EXPR_DEPTH);
        let started = Rc::new(Cell::new(Instant::now()));
        if let Some(limit) = options.timeout {
            let started = started.clone();
            let secs = limit.as_secs_f64();
            engine.on_progress(move |ops| {
                (ops % limits::CLOCK_EVERY == 0 && started.get().elapsed() >= limit)
                    .then(|| Dynamic::from_float(secs))
            });
        }
        engine.register_global_module(constants::module().into());
        binding::register(&mut engine, &session, ce_calls::BINDINGS);
        binding::register(&mut engine, &session, harness::BINDINGS);
        binding::register(&mut engine, &session, memory::BINDINGS);
        match options.output {
            Output::Stdout => {
                engine.on_print(crate::out::line);
                engine.on_debug(|s, source, pos| crate::out::line(&debug_line(s, source, pos)));
            }
            Output::Stderr => {
                engine.on_print(crate::out::err_line);
                engine.on_debug(|s, source, pos| crate::out::err_line(&debug_line(s, source, pos)));
            }
            Output::Quiet => {
                engine.on_print(|_| {});
                engine.on_debug(|_, _, _| {});
            }
        }
        Ok(Self {
            engine,
            session,
            started,
        })
    }

    /// Runs the script at `path`; errors name the path as given.
    pub fn run_file(&self, path: &Path) -> Result<(), Failure> {
        let name = path.display().to_string();
        let source = read_script(path).map_err(|e| Failure::plain(&name, e))?;
        self.run_source(&name, &source)
    }

    /// Runs `source`, reporting failures against `name`.
    pub fn run_source(&self, name: &str, source: &str) -> Result<(), Failure> {
        let ast = self.compile(name, source, &Scope::new())?;
        self.eval(name, &mut Scope::new(), &ast).map(|_| ())
    }

    /// Compiles `source` in the presence of `scope`'s variables.
    pub fn compile(&self, name: &str, source: &str, scope: &Scope<'_>) -> Result<AST, Failure> {
        self.engine
            .compile_with_scope(scope, source)
            .map_err(|e| Failure::parse(name, &e))
    }

    /// Evaluates `ast` with `scope` (kept across calls by the shell).
    pub fn eval(&self, name: &str, scope: &mut Scope<'_>, ast: &AST) -> Result<Dynamic, Failure> {
        self.started.set(Instant::now());
        self.engine
            .eval_ast_with_scope::<Dynamic>(scope, ast)
            .map_err(|e| Failure::eval(name, &e, &what_it_takes))
    }

    /// The kernel the script acts on now (`boot()` may have replaced the first one).
    pub fn kernel(&self) -> Kernel {
        self.session.borrow().kernel.clone()
    }

    /// Records the map after every CE call from now on (`cevm maps --steps`).
    pub fn record_steps(&self) {
        self.session.borrow_mut().start_steps();
    }

    /// The steps recorded since [`Script::record_steps`], ending with the final state.
    pub fn take_steps(&self) -> Option<crate::visual::Recorder> {
        self.session.borrow_mut().take_steps()
    }

    /// Flushes the trace, reporting a write error met at any point.
    pub fn finish(&self) -> Result<(), String> {
        match &mut self.session.borrow_mut().tracer {
            Some(t) => t
                .finish()
                .map_err(|e| format!("cannot write the trace: {e}")),
            None => Ok(()),
        }
    }
}
