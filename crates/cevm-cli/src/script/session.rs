//! The state a script acts on: the kernel, the one thread the script runs as, the boot
//! defaults and the trace.

use cevm::{Config, Kernel, Mode, Thread};

use crate::trace::{CallContext, TracedCall, Tracer};
use crate::visual::Recorder;

/// How to boot a kernel: the `boot()` map's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootOptions {
    /// RAM size in MiB.
    pub ram_mb: u64,
    /// Physical address of the first RAM byte.
    pub ram_base: u64,
    /// Host windows on (`Config::host_windows`; also on when `CEVM_HOST_WINDOWS=1`).
    pub host_windows: bool,
}

impl BootOptions {
    /// The default machine: `ram_mb` MiB of RAM at physical address 0.
    pub fn with_ram(ram_mb: u64) -> Self {
        Self {
            ram_mb,
            ram_base: 0,
            host_windows: false,
        }
    }

    fn config(self) -> Result<Config, String> {
        let ram_bytes = self
            .ram_mb
            .checked_mul(1 << 20)
            .ok_or_else(|| format!("{} MiB of RAM is too much", self.ram_mb))?;
        let defaults = Config::default();
        Ok(Config {
            ram_bytes,
            ram_base: self.ram_base,
            host_windows: self.host_windows || defaults.host_windows,
            ..defaults
        })
    }
}

/// A kernel and the thread a script runs as.
#[derive(Debug)]
pub struct Session {
    /// The kernel the script acts on; `boot()` replaces it.
    pub kernel: Kernel,
    /// The calling thread: starts in NK.EXE, kernel mode.
    pub thread: Thread,
    /// What `boot()` without a key uses (the runner's `--ram`).
    pub defaults: BootOptions,
    /// Where CE calls are traced, if anywhere.
    pub tracer: Option<Tracer>,
    /// The map after every CE call, when `cevm maps --steps` asked for it.
    pub steps: Option<Recorder>,
}

impl Session {
    /// Boots a kernel with `defaults`.
    pub fn boot(defaults: BootOptions, tracer: Option<Tracer>) -> Result<Self, String> {
        let kernel = boot_kernel(defaults)?;
        Ok(Self {
            thread: kernel.thread(),
            kernel,
            defaults,
            tracer,
            steps: None,
        })
    }

    /// Replaces the kernel with a fresh one; the thread returns to NK.EXE, kernel mode.
    pub fn reboot(&mut self, options: BootOptions) -> Result<(), String> {
        self.kernel = boot_kernel(options)?;
        self.thread = self.kernel.thread();
        Ok(())
    }

    /// Where the thread is now, for the trace.
    pub fn context(&self) -> CallContext {
        CallContext {
            pid: self.thread.current_process_id().0,
            kernel_mode: self.thread.mode() == Mode::Kernel,
        }
    }

    /// Starts recording the map after every CE call; step 0 is the state now. The steps
    /// carry the trace's sequence numbers when a trace is written.
    pub fn start_steps(&mut self) {
        self.steps = Some(Recorder::new(&self.kernel, self.tracer.is_some()));
    }

    /// The recorded steps, closed with the final state.
    pub fn take_steps(&mut self) -> Option<Recorder> {
        let mut r = self.steps.take()?;
        r.finish(&self.kernel);
        Some(r)
    }

    /// Records the map after a CE call made at script line `line`, if steps are recorded.
    pub fn record_step(&mut self, call: &str, line: Option<usize>) {
        if let Some(r) = &mut self.steps {
            r.record(&self.kernel, call, line);
        }
    }

    /// Traces a call if a trace was asked for.
    pub fn trace(&mut self, call: TracedCall<'_>) {
        if let Some(t) = &mut self.tracer {
            t.record(call);
        }
    }
}

fn boot_kernel(options: BootOptions) -> Result<Kernel, String> {
    Kernel::boot(options.config()?).map_err(|e| format!("cannot boot the kernel: {e}"))
}
