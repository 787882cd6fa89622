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

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

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
}

impl Options {
    /// A fresh 64 MiB kernel, no trace, output to stdout.
    pub fn new(ram_mb: u64) -> Self {
        Self {
            ram_mb,
            trace: None,
            output: Output::Stdout,
        }
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
            BootOptions::with_ram(options.ram_mb),
            tracer,
        )?));
        let mut engine = Engine::new();
        engine.register_global_module(constants::module().into());
        binding::register(&mut engine, &session, ce_calls::BINDINGS);
        binding::register(&mut engine, &session, harness::BINDINGS);
        binding::register(&mut engine, &session, memory::BINDINGS);
        match options.output {
            Output::Stdout => {
                engine.on_print(|s| println!("{s}"));
            }
            Output::Stderr => {
                engine.on_print(|s| eprintln!("{s}"));
            }
            Output::Quiet => {
                engine.on_print(|_| {});
                engine.on_debug(|_, _, _| {});
            }
        }
        Ok(Self { engine, session })
    }

    /// Runs the script at `path`; errors name the path as given.
    pub fn run_file(&self, path: &Path) -> Result<(), Failure> {
        let name = path.display().to_string();
        let source = std::fs::read_to_string(path)
            .map_err(|e| Failure::plain(&name, format!("cannot read the script: {e}")))?;
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
