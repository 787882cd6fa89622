//! The marshalling helpers of semantics.md §7 through the Rust API: what the conformance
//! scripts cannot reach (the typed results, frames and maps after failures, duplicates
//! dying with their process, several host threads, guard pages met on the way).

mod common;

use cevm::{ArgDescriptor, Context, HResult, MarshalFailure, Mode};
use common::*;

const IO: ArgDescriptor = ArgDescriptor::IO_PTR;
const I: ArgDescriptor = ArgDescriptor::I_PTR;

/// P = NK.EXE, V = C = O = app.exe, kernel mode.
fn kernel_driver(w: &mut World) {
    let ctx = Context {
        vm: Some(w.app),
        caller: Some(w.app),
        ..Context::new(w.kernel.kernel_pid(), Mode::Kernel)
    };
    w.t.enter_context(ctx).unwrap();
}

fn fail(hr: HResult) -> MarshalFailure {
    MarshalFailure { hr, written: None }
}

#[test]
fn hresult_values_and_from_win32() {
    assert_eq!(HResult::S_OK.0, 0);
    assert_eq!(HResult::E_INVALIDARG.0, 0x8007_0057);
    assert_eq!(HResult::E_ACCESSDENIED.0, 0x8007_0005);
    assert_eq!(HResult::E_OUTOFMEMORY.0, 0x8007_000E);
    assert_eq!(HResult::from_win32(50).0, 0x8007_0032);
    assert_eq!(HResult::from_win32(87), HResult::E_INVALIDARG);
    assert_eq!(HResult::from_win32(5), HResult::E_ACCESSDENIED);
    assert_eq!(
        HResult::from_win32(0),
        HResult::S_OK,
        "as the Windows macro"
    );
    assert!(HResult::S_OK.is_ok());
    assert!(!HResult::E_INVALIDARG.is_ok());
}

#[test]
fn descriptor_parts() {
    let d = ArgDescriptor(ArgDescriptor::O_PTR.0 | ArgDescriptor::FORCE_ALIAS);
    assert!(d.force_alias());
    assert!(d.has_o_bit());
    assert_eq!(d.kind(), 0x8);
    assert!(!ArgDescriptor::I_WSTR.has_o_bit());
    assert!(ArgDescriptor::IO_PI64.has_o_bit());
}

#[test]
fn shared_heap_async_failure_reports_the_duplicate_it_wrote() {
    let mut w = World::new();
    let s =
        w.t.ce_virtual_shared_alloc(0, 0x1000, RC)
            .expect("shared heap");
    w.t.write_bytes(s, b"shared").unwrap();
    kernel_driver(&mut w);
    let f = w.t.ce_alloc_asynchronous_buffer(s, 6, I).unwrap_err();
    assert_eq(f.hr, HResult::E_INVALIDARG);
    let d = f.written.expect("the duplicate is written anyway");
    let mut got = [0u8; 6];
    w.t.read_bytes(d, &mut got).unwrap();
    assert_eq!(&got, b"shared");
    w.check();
    assert_eq!(w.t.ce_free_asynchronous_buffer(d, s, 6, I), Ok(()));
    w.check();
}

fn assert_eq<T: PartialEq + std::fmt::Debug>(a: T, b: T) {
    assert_eq!(a, b);
}

#[test]
fn failures_change_no_frame_and_no_region() {
    let mut w = World::new();
    let buf = w.app_buffer(0x2000);
    w.user(w.app);
    let res = w.t.virtual_alloc(0, 0x2000, RESERVE, NA).unwrap();
    kernel_driver(&mut w);
    let before = w.snapshot();
    let cases: Vec<Result<u32, MarshalFailure>> = vec![
        w.t.ce_open_caller_buffer(res, 16, IO, true),
        w.t.ce_open_caller_buffer(0x8000_1000, 16, IO, false),
        w.t.ce_open_caller_buffer(buf, 16, ArgDescriptor(7), true),
        w.t.ce_alloc_asynchronous_buffer(res, 16, IO),
        w.t.ce_alloc_asynchronous_buffer(res, 0x1000, IO),
        w.t.ce_alloc_duplicate_buffer(res, 0x1000, I),
        w.t.ce_alloc_duplicate_buffer(buf, 0xFFFF_FFF0, I),
        w.t.ce_alloc_duplicate_buffer(buf, 0x1000_0000, I),
    ];
    for r in &cases {
        assert!(r.is_err(), "{r:?}");
        assert_eq!(r.unwrap_err().written, None);
    }
    assert_eq!(
        w.snapshot(),
        before,
        "a failed helper left something behind"
    );
    assert_eq!(
        w.t.ce_free_duplicate_buffer(buf, buf + 1, 4, IO),
        Err(HResult::E_INVALIDARG)
    );
    assert_eq!(w.snapshot(), before);
    w.check();
}

#[test]
fn every_helper_path_gives_its_frames_back() {
    let mut w = World::new();
    let buf = w.app_buffer(0x4000);
    let free0 = w.free_frames();
    kernel_driver(&mut w);
    for (cb, desc) in [(16, IO), (520, IO), (521, IO), (0x3000, I)] {
        let a = w.t.ce_alloc_asynchronous_buffer(buf, cb, desc).unwrap();
        w.check();
        w.t.ce_free_asynchronous_buffer(a, buf, cb, desc).unwrap();
    }
    let d = w.t.ce_open_caller_buffer(buf, 0x3000, IO, true).unwrap();
    w.t.ce_close_caller_buffer(d, buf, 0x3000, IO).unwrap();
    let d = w.t.ce_alloc_duplicate_buffer(buf, 0x100, IO).unwrap();
    w.t.ce_free_duplicate_buffer(d, buf, 0x100, IO).unwrap();
    w.check();
    assert_eq!(w.free_frames(), free0);
}

#[test]
fn duplicates_die_with_their_process() {
    let mut w = World::new();
    let buf = w.app_buffer(0x1000);
    let free0 = w.free_frames();
    // A user-mode driver in udevice.exe holds a duplicate of app's buffer.
    w.t.enter(w.drv, Mode::User, Some(w.app)).unwrap();
    let d = w.t.ce_open_caller_buffer(buf, 0x800, IO, false).unwrap();
    assert_eq!(d, 0x10010);
    assert!(w.free_frames() < free0);
    // A second host thread is still inside udevice.exe when it ends.
    let mut inside = w.kernel.thread();
    inside.enter(w.drv, Mode::User, Some(w.app)).unwrap();
    w.nk();
    w.t.terminate_process(w.drv.into(), 0).unwrap();
    w.check();
    assert_eq!(
        w.free_frames(),
        free0 + 1,
        "the duplicate's frame went with udevice.exe, and so did its kernel-data page"
    );
    assert!(w.kernel.process(w.drv).is_none());
    // Its duplicate is no longer live there: the free is refused outright.
    assert_eq!(
        inside.ce_close_caller_buffer(d, buf, 0x800, IO),
        Err(HResult::E_INVALIDARG)
    );
}

#[test]
fn duplicate_released_by_virtual_free_is_no_longer_live() {
    let mut w = World::new();
    let buf = w.app_buffer(0x1000);
    kernel_driver(&mut w);
    let d = w.t.ce_alloc_duplicate_buffer(buf, 16, IO).unwrap();
    w.t.virtual_free(d - 16, 0, RELEASE).unwrap();
    w.check();
    assert_eq!(
        w.t.ce_free_duplicate_buffer(d, buf, 16, IO),
        Err(HResult::E_INVALIDARG)
    );
    // A plain region at the same place is not taken for the dead duplicate: nothing is
    // written back from it and it is not released.
    let again = w.t.virtual_alloc(0, 32, COMMIT, RW).unwrap();
    assert_eq!(again, d - 16);
    w.t.write_u32(d, 0xBAD).unwrap();
    assert_eq!(
        w.t.ce_free_duplicate_buffer(d, buf, 16, IO),
        Err(HResult::E_INVALIDARG)
    );
    assert_eq!(w.t.read_u32(buf).unwrap(), 0, "nothing written back");
    assert_eq!(w.t.read_u32(d).unwrap(), 0xBAD, "the region is still there");
    w.check();
}

#[test]
fn decommitted_duplicate_write_back_is_access_denied_and_still_released() {
    let mut w = World::new();
    let buf = w.app_buffer(0x1000);
    kernel_driver(&mut w);
    let d = w.t.ce_alloc_duplicate_buffer(buf, 16, IO).unwrap();
    w.t.virtual_free(d - 16, 32, DECOMMIT).unwrap();
    assert_eq!(
        w.t.ce_free_duplicate_buffer(d, buf, 16, IO),
        Err(HResult::E_ACCESSDENIED)
    );
    assert_eq!(
        w.t.virtual_query(d, 28).unwrap().state,
        cevm::AllocType::FREE
    );
    w.check();
}

#[test]
fn copy_in_consumes_a_guard_page_and_fails() {
    let mut w = World::new();
    w.user(w.app);
    let g = w.t.virtual_alloc(0, 0x1000, COMMIT, p(0x104)).unwrap();
    kernel_driver(&mut w);
    let last = w.t.last_error();
    assert_eq!(
        w.t.ce_alloc_duplicate_buffer(g, 16, I),
        Err(fail(HResult::E_ACCESSDENIED))
    );
    assert_eq!(w.t.last_error(), last, "a thread's read sets no last error");
    // The guard is gone: the second attempt succeeds.
    let d = w.t.ce_alloc_duplicate_buffer(g, 16, I).unwrap();
    w.t.ce_free_duplicate_buffer(d, g, 16, I).unwrap();
    w.check();
}

#[test]
fn helpers_keep_the_thread_context() {
    let mut w = World::new();
    let buf = w.app_buffer(0x4000);
    kernel_driver(&mut w);
    let before = w.t.context();
    let a = w.t.ce_alloc_asynchronous_buffer(buf, 0x2000, IO).unwrap();
    w.t.ce_free_asynchronous_buffer(a, buf, 0x2000, IO).unwrap();
    let d = w.t.ce_open_caller_buffer(buf, 16, IO, true).unwrap();
    w.t.ce_close_caller_buffer(d, buf, 16, IO).unwrap();
    assert_eq!(w.t.context(), before);
}

#[test]
fn alias_uses_the_vm_process_not_the_caller() {
    // V = app, C = udevice.exe: the alias maps V's pages (GetCallerVMProcessId).
    let mut w = World::new();
    let buf = w.app_buffer_with(0x2000, |a| (a >> 4) as u8);
    w.user(w.drv);
    w.t.virtual_alloc(0, 0x2000, COMMIT, RW).unwrap();
    let k = w.kernel.kernel_pid();
    w.t.enter_context(Context {
        vm: Some(w.app),
        caller: Some(w.drv),
        ..Context::new(k, Mode::Kernel)
    })
    .unwrap();
    let a = w.t.ce_alloc_asynchronous_buffer(buf, 0x1000, I).unwrap();
    assert_eq!(w.t.read_u8(a + 0x20).unwrap(), 0x02);
    w.t.ce_free_asynchronous_buffer(a, buf, 0x1000, I).unwrap();
    w.check();
}

#[test]
fn duplicate_records_the_caller_vm_as_source_process() {
    // Made with V = app, freed later with V = udevice.exe: the write-back goes to app by
    // WriteProcessMemory, not into udevice.exe's page at the same address.
    let mut w = World::new();
    let buf = w.app_buffer(0x1000);
    w.user(w.drv);
    assert_eq!(w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap(), buf);
    kernel_driver(&mut w);
    let d = w.t.ce_alloc_asynchronous_buffer(buf, 4, IO).unwrap();
    w.t.write_u32(d, 0xFEED).unwrap();
    let k = w.kernel.kernel_pid();
    w.t.enter_context(Context {
        vm: Some(w.drv),
        caller: Some(w.drv),
        ..Context::new(k, Mode::Kernel)
    })
    .unwrap();
    w.t.ce_free_asynchronous_buffer(d, buf, 4, IO).unwrap();
    assert_eq!(
        w.t.read_u32(buf).unwrap(),
        0,
        "udevice.exe's page untouched"
    );
    w.user(w.app);
    assert_eq!(w.t.read_u32(buf).unwrap(), 0xFEED);
    w.check();
}

#[test]
fn helpers_from_several_host_threads() {
    let w = World::new();
    let kernel = w.kernel.clone();
    let app = w.app;
    let mut t = kernel.thread();
    t.enter(app, Mode::User, None).unwrap();
    let buf = t.virtual_alloc(0, 0x10000, COMMIT, RW).unwrap();
    let free0 = kernel.phys().free_frames();
    let nk = kernel.kernel_pid();
    std::thread::scope(|s| {
        for i in 0..4u32 {
            let kernel = kernel.clone();
            s.spawn(move || {
                let mut t = kernel.thread();
                t.enter_context(Context {
                    vm: Some(app),
                    caller: Some(app),
                    ..Context::new(nk, Mode::Kernel)
                })
                .unwrap();
                let src = buf + i * 0x4000;
                for n in 0..50u32 {
                    let cb = if n % 2 == 0 { 64 } else { 0x2000 };
                    let a = t.ce_alloc_asynchronous_buffer(src, cb, IO).unwrap();
                    t.write_u32(a, n).unwrap();
                    t.ce_free_asynchronous_buffer(a, src, cb, IO).unwrap();
                    assert_eq!(t.read_u32(src).unwrap(), n);
                }
            });
        }
    });
    check_kernel(&kernel);
    assert_eq!(kernel.phys().free_frames(), free0);
}

#[test]
fn foreign_string_read_stops_when_its_duplicate_could_not_be_made() {
    // 1 MiB of RAM: app.exe fills 200 pages with an unterminated string. Each round of
    // the page-by-page read needs a duplicate as large as what it read, so the read ends
    // with E_OUTOFMEMORY once the free frames cannot hold it, long before the end of the
    // committed pages (where it would be E_ACCESSDENIED), and no more than RAM is read.
    let mut w = small_world();
    w.user(w.app);
    let n = 200 * 0x1000;
    let b = w.t.virtual_alloc(0, n, COMMIT, RW).unwrap();
    w.t.write_bytes(b, &vec![b'A'; n as usize]).unwrap();
    assert!(w.free_frames() < 100);
    w.t.enter(w.drv, Mode::User, Some(w.app)).unwrap();
    let before = w.snapshot();
    assert_eq!(
        w.t.ce_open_caller_buffer(b, 0, ArgDescriptor::I_ASTR, false),
        Err(fail(HResult::E_OUTOFMEMORY))
    );
    assert_eq!(w.snapshot(), before);
    // With a terminator within reach the same read succeeds.
    w.user(w.app);
    w.t.write_u8(b + 0x2000, 0).unwrap();
    w.t.enter(w.drv, Mode::User, Some(w.app)).unwrap();
    let d =
        w.t.ce_open_caller_buffer(b, 0, ArgDescriptor::I_ASTR, false)
            .unwrap();
    w.t.ce_close_caller_buffer(d, b, 0x3000, ArgDescriptor::I_ASTR)
        .unwrap();
    w.check();
}

#[test]
fn a_duplicate_nk_made_is_not_a_duplicate_of_another_active_process() {
    // Found by the differential tests: the duplicate NK.EXE made lives at a kernel
    // address, which every process's calls reach through the kernel's tables, but it is
    // NK.EXE's, so for app.exe as the active process it is no live duplicate (§7's [cevm]
    // rule names "a live duplicate of the active process").
    let mut w = World::new();
    let buf = w.app_buffer(0x1000);
    kernel_driver(&mut w);
    let d = w.t.ce_alloc_duplicate_buffer(buf, 16, IO).unwrap();
    assert!(
        d >= 0x8000_0000,
        "NK.EXE's duplicate is in kernel memory: {d:#x}"
    );
    let app = w.app;
    w.t.enter(app, Mode::Kernel, Some(app)).unwrap();
    // For app.exe the pointer is not a duplicate: a large I-only free takes the alias path,
    // VirtualFreeEx(GetCurrentProcess(), d & ~0xFFFF, 0, MEM_RELEASE), which releases the
    // kernel reservation based there (addresses from the shared heap up are the kernel's).
    assert_eq!(d & 0xFFFF, 16);
    assert_eq!(
        w.t.ce_free_asynchronous_buffer(d, buf + 0x20, 521, I),
        Ok(())
    );
    w.check();
    // The region and the duplicate went with it: back in NK.EXE it is no longer live.
    kernel_driver(&mut w);
    assert_eq!(
        w.t.ce_free_duplicate_buffer(d, buf, 16, IO),
        Err(HResult::E_INVALIDARG)
    );
}
