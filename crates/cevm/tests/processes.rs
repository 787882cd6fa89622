//! semantics.md §2 processes and handles: OpenProcess access masks, CloseHandle,
//! TerminateProcess releasing the whole address space while aliases elsewhere survive,
//! a process id used as a handle, the pseudo handle 0x42, and the last error being set
//! only on failure.

mod common;

use cevm::{
    AllocType, ErrorCode, Handle, LockFlags, Mode, PageAttributes, ProcessAccess, Protection,
};
use common::{RW, World, assert_fails, h};

#[test]
fn open_process_returns_a_new_handle_with_exactly_the_requested_access() {
    let mut w = World::new();
    w.user(w.app);
    w.t.virtual_alloc(0, 0x1000, AllocType::COMMIT, RW).unwrap();
    w.check();
    w.user(w.drv);
    let read = w.open(ProcessAccess::VM_READ, w.app);
    let none = w.open(ProcessAccess::empty(), w.app);
    assert_ne!(read, h(w.app));
    assert_ne!(read, none);
    let before = w.snapshot();
    // VirtualQueryEx needs only a valid handle.
    for hnd in [read, none] {
        let i = w.t.virtual_query_ex(hnd, 0x10000, 28).unwrap();
        assert_eq!(i.state, AllocType::COMMIT);
    }
    assert_eq!(w.t.read_process_memory(read, 0x10000, 4).unwrap(), [0; 4]);
    assert_fails(
        w.t.read_process_memory(none, 0x10000, 4),
        (ErrorCode::AccessDenied, "2"),
        &w,
    );
    for hnd in [read, none] {
        assert_fails(
            w.t.virtual_alloc_ex(hnd, 0, 0x1000, AllocType::COMMIT, RW),
            (ErrorCode::AccessDenied, "2"),
            &w,
        );
        assert_fails(
            w.t.write_process_memory(hnd, 0x10000, b"x"),
            (ErrorCode::AccessDenied, "2"),
            &w,
        );
        assert_fails(
            w.t.terminate_process(hnd, 0),
            (ErrorCode::AccessDenied, "2"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
    // Access rights are not inherited between handles of the same process.
    let term = w.open(ProcessAccess::TERMINATE, w.app);
    assert_fails(
        w.t.read_process_memory(term, 0x10000, 4),
        (ErrorCode::AccessDenied, "2"),
        &w,
    );
    w.t.terminate_process(term, 0).unwrap();
    w.check();
    assert!(w.kernel.process(w.app).is_none());
}

#[test]
fn every_call_that_changes_memory_needs_vm_operation() {
    let mut w = World::new();
    w.user(w.app);
    w.t.virtual_alloc(0, 0x2000, AllocType::COMMIT, RW).unwrap();
    w.check();
    w.kmode(w.drv);
    let weak = w.open(
        ProcessAccess::ALL_ACCESS.difference(ProcessAccess::VM_OPERATION),
        w.app,
    );
    let drv = h(w.drv);
    let r =
        w.t.virtual_alloc(0, 0x1000, AllocType::RESERVE, Protection::NOACCESS)
            .unwrap();
    assert_eq!(r, 0x10000);
    w.check();
    let before = w.snapshot();
    let denied = ErrorCode::AccessDenied;
    assert_fails(
        w.t.virtual_alloc_ex(weak, 0, 0x1000, AllocType::COMMIT, RW),
        (denied, "2"),
        &w,
    );
    assert_fails(
        w.t.virtual_free_ex(weak, 0x10000, 0, AllocType::RELEASE),
        (denied, "2"),
        &w,
    );
    assert_fails(
        w.t.virtual_free_ex(weak, 0x10000, 0x1000, AllocType::DECOMMIT),
        (denied, "2"),
        &w,
    );
    assert_fails(
        w.t.virtual_protect_ex(weak, 0x10000, 0x1000, Protection::READONLY),
        (denied, "2"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy_ex(drv, 0x10000, weak, 0x10000, 0x1000, RW),
        (denied, "5.5.1"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy_ex(weak, 0x10000, drv, 0x10000, 0x1000, RW),
        (denied, "5.5.1"),
        &w,
    );
    assert_fails(
        w.t.virtual_alloc_copy_ex(weak, drv, 0x10000, 0x1000, RW),
        (denied, "5.6.1"),
        &w,
    );
    assert_fails(
        w.t.lock_pages_ex(weak, 0x10000, 0x1000, LockFlags::READ),
        (denied, "2"),
        &w,
    );
    assert_fails(
        w.t.unlock_pages_ex(weak, 0x10000, 0x1000),
        (denied, "2"),
        &w,
    );
    assert_fails(
        w.t.virtual_set_attributes_ex(
            weak,
            0x10000,
            0x1000,
            PageAttributes::WRITE_THROUGH,
            PageAttributes::WRITE_THROUGH,
        ),
        (denied, "2"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    // Reading, writing and querying do not need it.
    assert_eq!(w.t.write_process_memory(weak, 0x10000, b"ok").unwrap(), 2);
    assert_eq!(w.t.read_process_memory(weak, 0x10000, 2).unwrap(), b"ok");
    assert_eq!(
        w.t.virtual_query_ex(weak, 0x10000, 28).unwrap().state,
        AllocType::COMMIT
    );
    w.check();
}

#[test]
fn a_process_id_is_a_full_access_handle() {
    let mut w = World::new();
    w.kmode(w.drv);
    let app = h(w.app);
    let b =
        w.t.virtual_alloc_ex(app, 0, 0x2000, AllocType::COMMIT, RW)
            .unwrap();
    assert_eq!(b, 0x10000);
    w.t.write_process_memory(app, b, b"pid").unwrap();
    assert_eq!(w.t.read_process_memory(app, b, 3).unwrap(), b"pid");
    w.t.virtual_protect_ex(app, b, 0x1000, Protection::READONLY)
        .unwrap();
    w.t.lock_pages_ex(app, b, 0x1000, LockFlags::READ).unwrap();
    w.t.unlock_pages_ex(app, b, 0x1000).unwrap();
    w.t.virtual_free_ex(app, b + 0x1000, 0x1000, AllocType::DECOMMIT)
        .unwrap();
    w.t.virtual_free_ex(app, b, 0, AllocType::RELEASE).unwrap();
    w.check();
    // NK.EXE's id too.
    let k = h(w.kernel.kernel_pid());
    let kb =
        w.t.virtual_alloc_ex(k, 0, 0x1000, AllocType::COMMIT, RW)
            .unwrap();
    assert_eq!(kb, w.kernel.layout().kernel_vm_start);
    w.t.virtual_free_ex(k, kb, 0, AllocType::RELEASE).unwrap();
    w.check();
    w.t.terminate_process(app, 0).unwrap();
    w.check();
}

#[test]
fn close_handle_closes_only_that_handle() {
    let mut w = World::new();
    w.user(w.drv);
    let a = w.open(ProcessAccess::ALL_ACCESS, w.app);
    let b = w.open(ProcessAccess::ALL_ACCESS, w.app);
    assert_ne!(a, b);
    w.t.close_handle(a).unwrap();
    w.check();
    assert_fails(
        w.t.virtual_query_ex(a, 0x10000, 28),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_fails(
        w.t.virtual_alloc_ex(a, 0, 0x1000, AllocType::COMMIT, RW),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_fails(w.t.close_handle(a), (ErrorCode::InvalidHandle, "2"), &w);
    assert_fails(
        w.t.close_handle(Handle(0xDEAD_0000)),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    // The other handle and the process id still work; the process lives on.
    assert_eq!(
        w.t.virtual_alloc_ex(b, 0, 0x1000, AllocType::COMMIT, RW)
            .unwrap(),
        0x10000
    );
    assert_eq!(
        w.t.virtual_query_ex(h(w.app), 0x10000, 28).unwrap().state,
        AllocType::COMMIT
    );
    assert!(w.kernel.process(w.app).is_some());
    w.check();
}

#[test]
fn the_pseudo_handle_0x42_is_the_active_process() {
    let mut w = World::new();
    assert_eq!(Handle::CURRENT_PROCESS, Handle(0x42));
    for mode in [Mode::User, Mode::Kernel] {
        w.t.enter(w.app, mode, None).unwrap();
        let a =
            w.t.virtual_alloc_ex(Handle(0x42), 0, 0x1000, AllocType::COMMIT, RW)
                .unwrap();
        w.t.write_bytes(a, b"app").unwrap();
        w.t.enter(w.drv, mode, None).unwrap();
        let d =
            w.t.virtual_alloc_ex(Handle(0x42), 0, 0x1000, AllocType::COMMIT, RW)
                .unwrap();
        w.check();
        assert_eq!(a, d, "each process has its own placement");
        // 0x42 in udevice.exe does not see app.exe's bytes.
        assert_eq!(w.t.read_process_memory(Handle(0x42), d, 3).unwrap(), [0; 3]);
        assert_eq!(w.t.read_process_memory(h(w.app), a, 3).unwrap(), b"app");
    }
    // Kernel mode in NK.EXE: the kernel.
    w.nk();
    let kb =
        w.t.virtual_alloc_ex(Handle(0x42), 0, 0x1000, AllocType::COMMIT, RW)
            .unwrap();
    assert_eq!(kb, 0x8400_0000);
    w.check();
}

#[test]
fn terminate_process_releases_the_whole_address_space() {
    let mut w = World::new();
    let start = w.free_frames();
    let app = h(w.app);
    w.user(w.app);
    w.t.virtual_alloc(0, 0x5000, AllocType::COMMIT, RW).unwrap();
    w.t.virtual_alloc(0, 0x20000, AllocType::RESERVE, Protection::NOACCESS)
        .unwrap();
    w.t.virtual_alloc(0x30000, 0x3000, AllocType::COMMIT, RW)
        .unwrap();
    w.t.virtual_alloc(0, 0x2000, AllocType::RESERVE | AllocType::AUTO_COMMIT, RW)
        .unwrap();
    w.t.write_u8(0x40000, 1).unwrap(); // commits an auto-commit page
    w.check();
    assert_eq!(w.free_frames(), start - 9);
    w.kmode(w.drv);
    let opened = w.open(ProcessAccess::ALL_ACCESS, w.app);
    // A locked page does not keep it alive.
    w.t.lock_pages_ex(app, 0x10000, 0x1000, LockFlags::WRITE)
        .unwrap();
    w.check();
    w.t.terminate_process(opened, 0).unwrap();
    w.check();
    // Every frame is back, the kernel-data page too.
    assert_eq!(w.free_frames(), start + 1);
    assert!(w.kernel.process(w.app).is_none());
    assert!(w.kernel.processes().iter().all(|p| p.pid() != w.app));
    assert!(w.kernel.all_regions().iter().all(|(p, _)| *p != w.app));
    // Its id and every handle to it are dead.
    for dead in [app, opened] {
        assert_fails(
            w.t.virtual_query_ex(dead, 0x10000, 28),
            (ErrorCode::InvalidHandle, "2"),
            &w,
        );
        assert_fails(
            w.t.terminate_process(dead, 0),
            (ErrorCode::InvalidHandle, "2"),
            &w,
        );
    }
    // OpenProcess of an id no live process has: semantics.md does not give the code;
    // cevm reports Win32's ERROR_INVALID_PARAMETER, as OpenProcess does.
    assert_fails(
        w.t.open_process(ProcessAccess::ALL_ACCESS, false, w.app)
            .map(|_| ()),
        (ErrorCode::InvalidParameter, "2"),
        &w,
    );
    // Entering a context is the host program's request, not a CE call.
    let e = w.t.enter(w.app, Mode::User, None).unwrap_err();
    assert_eq!((e.code, e.step), (ErrorCode::InvalidHandle, "host"));
    // udevice.exe is unaffected.
    assert_eq!(
        w.t.virtual_alloc(0, 0x1000, AllocType::COMMIT, RW).unwrap(),
        0x10000
    );
    w.check();
}

#[test]
fn terminate_process_needs_process_terminate() {
    let mut w = World::new();
    w.user(w.drv);
    let weak = w.open(
        ProcessAccess::ALL_ACCESS.difference(ProcessAccess::TERMINATE),
        w.app,
    );
    let before = w.snapshot();
    assert_fails(
        w.t.terminate_process(weak, 0),
        (ErrorCode::AccessDenied, "2"),
        &w,
    );
    assert_fails(
        w.t.terminate_process(Handle(0xDEAD_0000), 0),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    assert!(w.kernel.process(w.app).is_some());
    w.t.virtual_query_ex(weak, 0x10000, 28).unwrap();
}

#[test]
fn terminating_a_process_leaves_aliases_of_its_pages_elsewhere() {
    let mut w = World::new();
    let start = w.free_frames();
    w.user(w.app);
    w.t.virtual_alloc(0, 0x2000, AllocType::COMMIT, RW).unwrap();
    w.t.write_bytes(0x10FFE, b"live").unwrap();
    w.user(w.drv);
    w.t.virtual_alloc(0, 0x1000, AllocType::COMMIT, RW).unwrap();
    w.t.write_bytes(0x10000, b"drv").unwrap();
    w.check();
    assert_eq!(w.free_frames(), start - 3);
    w.t.enter(w.drv, Mode::Kernel, Some(w.app)).unwrap();
    let (app, drv) = (h(w.app), h(w.drv));
    // udevice.exe aliases app's two pages; app.exe aliases udevice's page.
    let r = w.t.virtual_alloc_copy_ex(app, drv, 0x10FFE, 4, RW).unwrap();
    let back = w.t.virtual_alloc_copy_ex(drv, app, 0x10000, 3, RW).unwrap();
    w.check();
    assert_eq!((r, back), (0x20FFE, 0x20000));
    w.t.terminate_process(app, 0).unwrap();
    w.check();
    // app's kernel-data page is back; its two pages live on in udevice.exe; app's
    // alias of udevice's page is gone but the page is udevice's own.
    assert_eq!(w.free_frames(), start - 3 + 1);
    let mut buf = [0u8; 4];
    w.t.read_bytes(r, &mut buf).unwrap();
    assert_eq!(&buf, b"live");
    w.t.write_u8(r, b'L').unwrap();
    w.t.read_bytes(0x10000, &mut buf[..3]).unwrap();
    assert_eq!(&buf[..3], b"drv");
    w.t.virtual_free(r & !0xFFFF, 0, AllocType::RELEASE)
        .unwrap();
    w.check();
    assert_eq!(w.free_frames(), start - 1 + 1);
}

#[test]
fn a_process_can_terminate_itself_through_the_pseudo_handle() {
    let mut w = World::new();
    let start = w.free_frames();
    w.user(w.app);
    w.t.virtual_alloc(0, 0x1000, AllocType::COMMIT, RW).unwrap();
    w.t.terminate_process(Handle::CURRENT_PROCESS, 0).unwrap();
    w.check();
    assert_eq!(w.free_frames(), start + 1);
    // The thread is still "in" the dead process: calls fail, touches fault.
    assert_fails(
        w.t.virtual_alloc(0, 0x1000, AllocType::COMMIT, RW),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_fails(
        w.t.virtual_query(0x10000, 28),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_fails(
        w.t.terminate_process(Handle::CURRENT_PROCESS, 0),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert!(w.t.read_u8(0x10000).is_err());
    assert!(w.t.write_u8(0x10000, 1).is_err());
    assert_eq!(w.free_frames(), start + 1);
    // It can move on to a live process.
    w.user(w.drv);
    w.t.virtual_alloc(0, 0x1000, AllocType::COMMIT, RW).unwrap();
    w.check();
}

#[test]
fn nk_cannot_be_terminated() {
    let mut w = World::new();
    let k = h(w.kernel.kernel_pid());
    let before = w.snapshot();
    // The code is cevm's choice (semantics.md does not say); it must fail cleanly.
    let e = w.t.terminate_process(k, 0).unwrap_err();
    assert_eq!(w.t.last_error(), e.win32());
    w.t.set_last_error(0);
    assert!(w.t.terminate_process(Handle::CURRENT_PROCESS, 0).is_err());
    w.check();
    assert_eq!(w.snapshot(), before);
    assert!(w.kernel.process(w.kernel.kernel_pid()).is_some());
    assert_eq!(
        w.t.virtual_alloc(0, 0x1000, AllocType::COMMIT, RW).unwrap(),
        0x8400_0000
    );
    w.check();
}

#[test]
fn the_last_error_is_set_only_on_failure() {
    let mut w = World::new();
    w.user(w.app);
    w.t.set_last_error(99);
    let hnd = w.open(ProcessAccess::ALL_ACCESS, w.drv);
    let b =
        w.t.virtual_alloc_ex(hnd, 0, 0x1000, AllocType::COMMIT, RW)
            .unwrap();
    w.t.virtual_query_ex(hnd, b, 28).unwrap();
    w.t.virtual_protect_ex(hnd, b, 0x1000, Protection::READONLY)
        .unwrap();
    w.t.virtual_free_ex(hnd, b, 0, AllocType::RELEASE).unwrap();
    w.t.close_handle(hnd).unwrap();
    assert_eq!(w.t.last_error(), 99);
    assert_fails(w.t.close_handle(hnd), (ErrorCode::InvalidHandle, "2"), &w);
    w.t.virtual_alloc(0, 0x1000, AllocType::COMMIT, RW).unwrap();
    assert_eq!(w.t.last_error(), 6);
    assert_fails(
        w.t.virtual_alloc(0, 0, AllocType::COMMIT, RW),
        (ErrorCode::InvalidParameter, "5.1.3"),
        &w,
    );
    assert_eq!(w.t.last_error(), 87);
    // The last error is per thread.
    let other = w.kernel.thread();
    assert_eq!(other.last_error(), 0);
}

#[test]
fn handles_and_process_ids_share_one_value_space() {
    let mut w = World::new();
    let mut seen = vec![w.kernel.kernel_pid().0, w.app.0, w.drv.0];
    for _ in 0..4 {
        let hnd = w.open(ProcessAccess::VM_READ, w.app);
        seen.push(hnd.0);
        let p = w.kernel.create_process("extra.exe").unwrap();
        seen.push(p.0);
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "no value is handed out twice");
    assert!(!seen.contains(&0x42));
    assert!(!seen.contains(&0));
    w.check();
}
