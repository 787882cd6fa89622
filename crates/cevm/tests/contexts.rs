//! The richer thread context of semantics.md §2 "Contexts": the VM process, the direct
//! caller and the owner, the identity calls of §5.13, §6 routing by V, LockPages by V and
//! the translation cache across context changes.

mod common;

use cevm::{Context, ErrorCode, Handle, LockFlags, Mode, Pid};
use common::*;

fn kernel_driver_called_by(w: &World, app: Pid) -> Context {
    Context {
        vm: Some(app),
        caller: Some(app),
        ..Context::new(w.kernel.kernel_pid(), Mode::Kernel)
    }
}

#[test]
fn old_enter_form_means_p_equals_v_and_owner_is_caller() {
    let mut w = World::new();
    w.t.enter(w.drv, Mode::Kernel, Some(w.app)).unwrap();
    let c = w.t.context();
    assert_eq!(c.process, w.drv);
    assert_eq!(c.vm, Some(w.drv));
    assert_eq!(c.caller, Some(w.app));
    assert_eq!(c.owner, Some(w.app));
    w.t.enter(w.drv, Mode::User, None).unwrap();
    assert_eq!(
        w.t.context().owner,
        Some(w.drv),
        "no caller: the owner is P"
    );
    assert_eq!(w.t.context().caller, None);
}

#[test]
fn context_defaults_resolve_vm_to_process_and_owner_to_caller() {
    let mut w = World::new();
    let ctx = Context {
        caller: Some(w.app),
        ..Context::new(w.drv, Mode::User)
    };
    w.t.enter_context(ctx).unwrap();
    let c = w.t.context();
    assert_eq!((c.vm, c.owner), (Some(w.drv), Some(w.app)));
    // An explicit owner wins over the caller.
    let k = w.kernel.kernel_pid();
    w.t.enter_context(Context {
        owner: Some(k),
        ..ctx
    })
    .unwrap();
    assert_eq!(w.t.context().owner, Some(k));
}

#[test]
fn enter_context_with_any_dead_process_is_6_and_changes_nothing() {
    let mut w = World::new();
    let dead = w.kernel.create_process("dead.exe").unwrap();
    w.t.terminate_process(dead.into(), 0).unwrap();
    w.t.enter(w.app, Mode::User, None).unwrap();
    let before = w.t.context();
    let base = Context::new(w.drv, Mode::Kernel);
    for ctx in [
        Context::new(dead, Mode::Kernel),
        Context {
            vm: Some(dead),
            ..base
        },
        Context {
            caller: Some(dead),
            ..base
        },
        Context {
            owner: Some(dead),
            ..base
        },
        Context {
            vm: Some(Pid(0x1234)),
            ..base
        },
    ] {
        let e = w.t.enter_context(ctx).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidHandle, "{ctx:?}");
        assert_eq!(w.t.context(), before, "{ctx:?} changed the context");
    }
}

#[test]
fn identity_kernel_mode_driver_called_by_app() {
    let mut w = World::new();
    let k = w.kernel.kernel_pid();
    w.t.enter_context(kernel_driver_called_by(&w, w.app))
        .unwrap();
    assert_eq!(w.t.current_process_id(), k);
    assert_eq!(w.t.caller_vm_process_id(), w.app);
    assert_eq!(w.t.direct_caller_process_id(), w.app);
    assert_eq!(w.t.owner_process(), w.app);
    assert_eq!(w.t.caller_process(), w.app.0);
}

#[test]
fn identity_user_mode_driver_in_udevice() {
    let mut w = World::new();
    w.t.enter(w.drv, Mode::User, Some(w.app)).unwrap();
    assert_eq!(w.t.current_process_id(), w.drv);
    assert_eq!(w.t.caller_vm_process_id(), w.app);
    assert_eq!(w.t.direct_caller_process_id(), w.app);
    assert_eq!(w.t.owner_process(), w.app);
    assert_eq!(w.t.caller_process(), w.app.0);
}

#[test]
fn identity_application_own_code_has_caller_process_zero() {
    let mut w = World::new();
    w.t.enter(w.app, Mode::User, None).unwrap();
    assert_eq!(w.t.current_process_id(), w.app);
    assert_eq!(w.t.caller_vm_process_id(), w.app);
    assert_eq!(w.t.direct_caller_process_id(), w.app);
    assert_eq!(w.t.owner_process(), w.app);
    assert_eq!(w.t.caller_process(), 0);
}

#[test]
fn identity_kernel_without_caller_reports_v() {
    let mut w = World::new();
    // A kernel thread that switched into app's VM, nobody calling it.
    let k = w.kernel.kernel_pid();
    w.t.enter_context(Context {
        vm: Some(w.app),
        ..Context::new(k, Mode::Kernel)
    })
    .unwrap();
    assert_eq!(w.t.caller_vm_process_id(), w.app);
    assert_eq!(w.t.direct_caller_process_id(), w.app, "no caller: V's id");
    assert_eq!(w.t.caller_process(), w.app.0);
    assert_eq!(w.t.owner_process(), k);
}

#[test]
fn identity_kernel_to_kernel_direct_call() {
    let mut w = World::new();
    let k = w.kernel.kernel_pid();
    w.t.enter_context(Context {
        vm: Some(w.app),
        caller: Some(k),
        owner: Some(w.app),
        ..Context::new(k, Mode::Kernel)
    })
    .unwrap();
    assert_eq!(w.t.direct_caller_process_id(), k);
    assert_eq!(w.t.caller_process(), k.0);
    assert_eq!(w.t.caller_vm_process_id(), w.app);
    assert_eq!(w.t.owner_process(), w.app);
    assert_eq!(w.t.current_process_id(), k);
}

#[test]
fn low_addresses_use_the_vm_process_tables() {
    let mut w = World::new();
    w.user(w.app);
    let a = w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    w.t.write_u32(a, 0xA11C_E000).unwrap();
    w.user(w.drv);
    let d = w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    assert_eq!(a, d, "both first allocations sit at the same address");
    w.t.write_u32(d, 0xD0D0_D0D0).unwrap();
    // P = udevice, V = app: the thread sees app's page.
    w.t.enter_context(Context {
        vm: Some(w.app),
        ..Context::new(w.drv, Mode::Kernel)
    })
    .unwrap();
    assert_eq!(w.t.read_u32(a).unwrap(), 0xA11C_E000);
    w.t.write_u32(a + 4, 7).unwrap();
    let mut buf = [0u8; 8];
    w.t.read_bytes(a, &mut buf).unwrap();
    assert_eq!(&buf[4..], &7u32.to_le_bytes());
    // The non-Ex calls still name P: VirtualQuery of udevice's page.
    assert_eq!(w.t.virtual_query(a, 28).unwrap().base_address, a);
    // Back in udevice's own VM: its own data, not a stale translation of app's page.
    w.t.enter(w.drv, Mode::Kernel, None).unwrap();
    assert_eq!(w.t.read_u32(a).unwrap(), 0xD0D0_D0D0);
    w.check();
}

#[test]
fn translation_cache_is_flushed_when_only_vm_changes() {
    let mut w = World::new();
    w.user(w.app);
    let a = w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    w.t.write_u8(a, 1).unwrap();
    w.user(w.drv);
    w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    w.t.write_u8(a, 2).unwrap();
    let k = w.kernel.kernel_pid();
    for (vm, want) in [(w.app, 1), (w.drv, 2), (w.app, 1)] {
        w.t.enter_context(Context {
            vm: Some(vm),
            ..Context::new(k, Mode::Kernel)
        })
        .unwrap();
        assert_eq!(w.t.read_u8(a).unwrap(), want);
    }
}

#[test]
fn lock_pages_uses_v_and_the_ex_form_names_its_process() {
    let mut w = World::new();
    w.user(w.app);
    let a = w.t.virtual_alloc(0, 0x2000, COMMIT, RW).unwrap();
    let k = w.kernel.kernel_pid();
    w.t.enter_context(kernel_driver_called_by(&w, w.app))
        .unwrap();
    // The kernel has nothing at `a`; app does.
    let pfns = w.t.lock_pages(a, 0x2000, LockFlags::empty()).unwrap();
    assert_eq!(pfns.len(), 2);
    // The lock is app's: releasing app's region is refused while it lasts.
    w.t.enter(w.app, Mode::Kernel, None).unwrap();
    assert_eq!(
        w.t.virtual_free(a, 0, RELEASE).unwrap_err().code,
        ErrorCode::InvalidParameter
    );
    w.t.enter_context(kernel_driver_called_by(&w, w.app))
        .unwrap();
    w.t.unlock_pages(a, 0x2000).unwrap();
    // LockPagesEx on the pseudo handle names P (the kernel), which has nothing there.
    assert_eq!(
        w.t.lock_pages_ex(Handle::CURRENT_PROCESS, a, 0x2000, LockFlags::empty())
            .unwrap_err()
            .code,
        ErrorCode::NotEnoughMemory
    );
    assert!(
        w.t.lock_pages_ex(k.into(), a, 0x1000, LockFlags::empty())
            .is_err()
    );
    w.check();
}

#[test]
fn lock_pages_with_dead_vm_is_6() {
    let mut w = World::new();
    let k = w.kernel.kernel_pid();
    w.t.enter_context(kernel_driver_called_by(&w, w.app))
        .unwrap();
    w.t.terminate_process(w.app.into(), 0).unwrap();
    let e =
        w.t.lock_pages(0x10000, 0x1000, LockFlags::empty())
            .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidHandle);
    assert_eq!(w.t.last_error(), 6);
    let _ = k;
}

#[test]
fn pseudo_handle_names_p_not_v() {
    let mut w = World::new();
    let k = w.kernel.kernel_pid();
    w.t.enter_context(kernel_driver_called_by(&w, w.app))
        .unwrap();
    // A NULL reservation through the pseudo handle lands in the kernel's VM.
    let p =
        w.t.virtual_alloc_ex(Handle::CURRENT_PROCESS, 0, 0x1000, RC, RW)
            .unwrap();
    assert!(p >= w.kernel.layout().kernel_vm_start, "0x{p:08X}");
    let _ = k;
    w.check();
}
