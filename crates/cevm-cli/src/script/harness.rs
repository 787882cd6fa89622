//! The harness of interfaces.md §2.2: what a host program does around the kernel (boot,
//! processes, devices, switching context), the maps, and the assertions scripts check
//! themselves with.

use cevm::{Context, Pid};
use rhai::{Dynamic, INT};

use super::binding::{Binding, Call, Fail, Outcome};
use super::constants;
use super::values::{self, equal, first_difference, int, show};
use crate::maps;
use crate::visual;

/// The harness functions.
#[rustfmt::skip]
pub static BINDINGS: &[Binding] = &[
    Binding::harness("boot", &[], "nothing", boot_default),
    Binding::harness("boot", &["options"], "nothing", boot),
    Binding::harness("kernel_pid", &[], "id", kernel_pid),
    Binding::harness("create_process", &["name"], "id", create_process),
    Binding::harness("add_device", &["name", "pa", "n"], "nothing", add_device),
    Binding::harness("enter", &["pid", "mode"], "nothing", enter),
    Binding::harness("enter", &["pid", "mode", "caller_pid"], "nothing", enter_for),
    Binding::harness("enter", &["context"], "nothing", enter_context),
    Binding::harness("maps", &[], "text", maps_all),
    Binding::harness("maps", &["pid"], "text", maps_of),
    Binding::harness("save_maps_html", &["path"], "nothing", save_maps_html),
    Binding::harness("assert", &["condition"], "nothing", assert),
    Binding::harness("assert", &["condition", "message"], "nothing", assert_msg),
    Binding::harness("assert_eq", &["actual", "expected"], "nothing", assert_eq),
    Binding::harness("assert_eq", &["actual", "expected", "message"], "nothing", assert_eq_msg),
    Binding::harness("hex", &["n"], "text", hex),
];

fn misuse(m: impl Into<String>) -> Fail {
    Fail::Message(m.into())
}

// ---- The machine --------------------------------------------------------------------------

fn boot_default(c: &mut Call<'_>) -> Outcome {
    let defaults = c.session.defaults;
    c.session.reboot(defaults).map_err(misuse)?;
    Ok(Dynamic::UNIT)
}

/// `boot(#{ram_mb, ram_base, host_windows})`: every key optional; an unknown key is a
/// mistake worth reporting rather than ignoring.
fn boot(c: &mut Call<'_>) -> Outcome {
    let options = c.map()?;
    let mut boot = c.session.defaults;
    for (key, value) in &options {
        if key.as_str() == "host_windows" {
            boot.host_windows = value.as_bool().map_err(|_| {
                misuse(format!(
                    "host_windows must be a bool, not {}",
                    values::type_label(value)
                ))
            })?;
            continue;
        }
        let n = value.as_int().map_err(|_| {
            misuse(format!(
                "{key} must be an integer, not {}",
                values::type_label(value)
            ))
        })?;
        let n = u64::try_from(n).map_err(|_| misuse(format!("{key} must not be negative")))?;
        match key.as_str() {
            "ram_mb" => boot.ram_mb = n,
            "ram_base" => boot.ram_base = n,
            other => {
                return Err(misuse(format!(
                    "unknown option {other:?} (the options are ram_mb, ram_base and host_windows)"
                )));
            }
        }
    }
    c.session.reboot(boot).map_err(misuse)?;
    Ok(Dynamic::UNIT)
}

fn kernel_pid(c: &mut Call<'_>) -> Outcome {
    Ok(int(c.session.kernel.kernel_pid().0))
}

fn create_process(c: &mut Call<'_>) -> Outcome {
    let name = c.text()?;
    let pid = c
        .session
        .kernel
        .create_process(&name)
        .map_err(|e| misuse(e.to_string()))?;
    Ok(int(pid.0))
}

/// Device ranges are physical, so `pa` and `n` are 64-bit, not DWORDs.
fn add_device(c: &mut Call<'_>) -> Outcome {
    let (name, pa, n) = (c.text()?, c.wide()?, c.wide()?);
    c.session
        .kernel
        .add_device(&name, pa, n)
        .map_err(|e| misuse(e.to_string()))?;
    Ok(Dynamic::UNIT)
}

fn mode_of(mode: INT) -> Result<cevm::Mode, Fail> {
    constants::mode(mode).ok_or_else(|| {
        misuse(format!(
            "mode must be KERNEL_MODE ({}) or USER_MODE ({}), not {mode}",
            constants::KERNEL_MODE,
            constants::USER_MODE
        ))
    })
}

fn switch(c: &mut Call<'_>, pid: u32, mode: INT, caller: Option<u32>) -> Outcome {
    let mode = mode_of(mode)?;
    c.thread()
        .enter(Pid(pid), mode, caller.map(Pid))
        .map_err(|e| misuse(e.to_string()))?;
    Ok(Dynamic::UNIT)
}

fn enter(c: &mut Call<'_>) -> Outcome {
    let (pid, mode) = (c.dword()?, c.integer()?);
    switch(c, pid, mode, None)
}

fn enter_for(c: &mut Call<'_>) -> Outcome {
    let (pid, mode, caller) = (c.dword()?, c.integer()?, c.dword()?);
    switch(c, pid, mode, Some(caller))
}

/// `enter(#{process, mode, vm, caller, owner})`: `process` and `mode` required, the rest
/// optional with the defaults of semantics.md §2 (`vm` = `process`, `owner` = `caller` or
/// else `process`, no caller). An unknown key is reported rather than ignored.
fn enter_context(c: &mut Call<'_>) -> Outcome {
    let options = c.map()?;
    let (mut process, mut mode) = (None, None);
    let (mut vm, mut caller, mut owner) = (None, None, None);
    for (key, value) in &options {
        let n = value.as_int().map_err(|_| {
            misuse(format!(
                "{key} must be an integer, not {}",
                values::type_label(value)
            ))
        })?;
        match key.as_str() {
            "process" => process = Some(Pid(values::dword(n))),
            "mode" => mode = Some(mode_of(n)?),
            "vm" => vm = Some(Pid(values::dword(n))),
            "caller" => caller = Some(Pid(values::dword(n))),
            "owner" => owner = Some(Pid(values::dword(n))),
            other => {
                return Err(misuse(format!(
                    "unknown key {other:?} (the keys are process, mode, vm, caller and owner)"
                )));
            }
        }
    }
    let process = process.ok_or_else(|| misuse("the context needs a process"))?;
    let mode = mode.ok_or_else(|| misuse("the context needs a mode"))?;
    let ctx = Context {
        process,
        mode,
        vm,
        caller,
        owner,
    };
    c.thread()
        .enter_context(ctx)
        .map_err(|e| misuse(e.to_string()))?;
    Ok(Dynamic::UNIT)
}

// ---- Maps -----------------------------------------------------------------------------------

fn maps_all(c: &mut Call<'_>) -> Outcome {
    Ok(maps::render_all(&c.session.kernel).into())
}

fn maps_of(c: &mut Call<'_>) -> Outcome {
    let pid = c.dword()?;
    maps::render_process(&c.session.kernel, Pid(pid))
        .map(Dynamic::from)
        .ok_or_else(|| misuse(format!("no live process has id {pid}")))
}

/// `save_maps_html(path)`: the visual map of the present state (interfaces.md §5).
fn save_maps_html(c: &mut Call<'_>) -> Outcome {
    let path = c.text()?;
    if path.is_empty() {
        return Err(misuse("the path must not be empty"));
    }
    visual::write_single(std::path::Path::new(&path), &path, &c.session.kernel).map_err(misuse)?;
    Ok(Dynamic::UNIT)
}

// ---- Assertions -------------------------------------------------------------------------------

/// A message argument: strings as they are, anything else as `show` writes it.
fn message_text(v: &Dynamic) -> String {
    if v.is_string() {
        v.clone().into_string().unwrap_or_default()
    } else {
        show(v)
    }
}

fn check(condition: bool, message: Option<String>) -> Outcome {
    if condition {
        return Ok(Dynamic::UNIT);
    }
    let text = match message {
        Some(m) => format!("assertion failed: {m}"),
        None => "assertion failed".to_string(),
    };
    Err(Fail::Throw(text.into()))
}

fn assert(c: &mut Call<'_>) -> Outcome {
    let ok = c.condition()?;
    check(ok, None)
}

fn assert_msg(c: &mut Call<'_>) -> Outcome {
    let (ok, message) = (c.condition()?, c.value());
    check(ok, Some(message_text(&message)))
}

fn compare(actual: &Dynamic, expected: &Dynamic, message: Option<String>) -> Outcome {
    if equal(actual, expected) {
        return Ok(Dynamic::UNIT);
    }
    let what = message.map_or_else(String::new, |m| format!(" ({m})"));
    let at = first_difference(actual, expected).map_or_else(String::new, |i| {
        format!("; first difference at byte 0x{i:X}")
    });
    Err(Fail::Throw(
        format!(
            "assert_eq failed{what}: got {}, expected {}{at}",
            show(actual),
            show(expected)
        )
        .into(),
    ))
}

fn assert_eq(c: &mut Call<'_>) -> Outcome {
    let (actual, expected) = (c.value(), c.value());
    compare(&actual, &expected, None)
}

fn assert_eq_msg(c: &mut Call<'_>) -> Outcome {
    let (actual, expected, message) = (c.value(), c.value(), c.value());
    compare(&actual, &expected, Some(message_text(&message)))
}

fn hex(c: &mut Call<'_>) -> Outcome {
    let n = c.integer()?;
    Ok(values::hex(n).into())
}
