//! semantics.md §5.12 ReadProcessMemory / WriteProcessMemory: access rights, sizes,
//! the user pointer rule (read bound for reading, write bound for writing), touching as
//! a kernel-mode thread in the target, all or nothing, guard pages consumed.

mod common;

use cevm::{AllocType, ErrorCode, Handle, ProcessAccess, Protection};
use common::{RW, World, assert_fails, h};

fn pattern(a: u32) -> u8 {
    (a as u8) ^ ((a >> 8) as u8).wrapping_mul(7)
}

fn expected(a: u32, n: u32) -> Vec<u8> {
    (a..a + n).map(pattern).collect()
}

/// A fresh world whose app.exe has `bytes` committed at 0x10000 filled with `pattern`.
fn with_buffer(bytes: u32) -> World {
    let mut w = World::new();
    w.app_buffer_with(bytes, pattern);
    w
}

#[test]
fn rpm_and_wpm_copy_between_processes() {
    let mut w = with_buffer(0x3000);
    w.user(w.drv);
    let app = h(w.app);
    assert_eq!(
        w.t.read_process_memory(app, 0x10FF0, 0x1020).unwrap(),
        expected(0x10FF0, 0x1020)
    );
    w.check();
    assert_eq!(w.t.write_process_memory(app, 0x11FFE, b"span").unwrap(), 4);
    w.check();
    let mut buf = [0u8; 4];
    w.t.read_process_memory_into(app, 0x11FFE, &mut buf)
        .unwrap();
    assert_eq!(&buf, b"span");
    w.user(w.app);
    assert_eq!(w.t.read_u32(0x11FFE).unwrap(), u32::from_le_bytes(*b"span"));
    // The pseudo handle is the calling process.
    assert_eq!(
        w.t.read_process_memory(Handle::CURRENT_PROCESS, 0x11FFC, 8)
            .unwrap(),
        [
            pattern(0x11FFC),
            pattern(0x11FFD),
            b's',
            b'p',
            b'a',
            b'n',
            pattern(0x12002),
            pattern(0x12003)
        ]
    );
    w.check();
}

#[test]
fn rpm_and_wpm_of_zero_bytes_succeed_without_copying() {
    let mut w = World::new();
    w.user(w.drv);
    let app = h(w.app);
    for a in [0, 0x10000, 0xFFFF_F000, 0x8000_0000, 0x7000_0000] {
        assert_eq!(
            w.t.read_process_memory(app, a, 0).unwrap(),
            Vec::<u8>::new()
        );
        assert_eq!(w.t.write_process_memory(app, a, &[]).unwrap(), 0);
        w.t.read_process_memory_into(app, a, &mut []).unwrap();
    }
    assert_eq!(w.t.last_error(), 0);
    w.check();
}

#[test]
fn rpm_negative_size_is_87() {
    let mut w = with_buffer(0x1000);
    let app = h(w.app);
    for mode_kernel in [false, true] {
        if mode_kernel {
            w.kmode(w.drv);
        } else {
            w.user(w.drv);
        }
        for n in [0x8000_0000, 0xFFFF_FFFF] {
            assert_fails(
                w.t.read_process_memory(app, 0x10000, n),
                (ErrorCode::InvalidParameter, "5.12"),
                &w,
            );
        }
    }
}

#[test]
fn rpm_and_wpm_need_vm_read_and_vm_write() {
    let mut w = with_buffer(0x1000);
    w.user(w.drv);
    let read_only = w.open(ProcessAccess::VM_READ, w.app);
    let write_only = w.open(ProcessAccess::VM_WRITE, w.app);
    let op_only = w.open(
        ProcessAccess::VM_OPERATION | ProcessAccess::QUERY_INFORMATION,
        w.app,
    );
    let before = w.snapshot();
    assert_eq!(
        w.t.read_process_memory(read_only, 0x10000, 4).unwrap(),
        expected(0x10000, 4)
    );
    assert_fails(
        w.t.write_process_memory(read_only, 0x10000, b"x"),
        (ErrorCode::AccessDenied, "2"),
        &w,
    );
    assert_fails(
        w.t.read_process_memory(write_only, 0x10000, 4),
        (ErrorCode::AccessDenied, "2"),
        &w,
    );
    assert_fails(
        w.t.read_process_memory(op_only, 0x10000, 4),
        (ErrorCode::AccessDenied, "2"),
        &w,
    );
    assert_fails(
        w.t.write_process_memory(op_only, 0x10000, b"x"),
        (ErrorCode::AccessDenied, "2"),
        &w,
    );
    // The access check comes before the size and pointer checks.
    assert_fails(
        w.t.read_process_memory(write_only, 0x10000, 0x8000_0000),
        (ErrorCode::AccessDenied, "2"),
        &w,
    );
    assert_fails(
        w.t.write_process_memory(read_only, 0x8000_0000, b"x"),
        (ErrorCode::AccessDenied, "2"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    assert_eq!(
        w.t.write_process_memory(write_only, 0x10000, b"xy")
            .unwrap(),
        2
    );
    w.check();
    assert_eq!(
        w.t.read_process_memory(read_only, 0x10000, 2).unwrap(),
        b"xy"
    );
}

#[test]
fn rpm_and_wpm_invalid_or_closed_handles_are_6() {
    let mut w = with_buffer(0x1000);
    w.user(w.drv);
    let opened = w.closed_handle(w.app);
    for bad in [opened, Handle(0xDEAD_0000), Handle::NULL, Handle(0x41)] {
        assert_fails(
            w.t.read_process_memory(bad, 0x10000, 4),
            (ErrorCode::InvalidHandle, "2"),
            &w,
        );
        assert_fails(
            w.t.read_process_memory(bad, 0x10000, 0x8000_0000),
            (ErrorCode::InvalidHandle, "2"),
            &w,
        );
        assert_fails(
            w.t.write_process_memory(bad, 0x10000, b"x"),
            (ErrorCode::InvalidHandle, "2"),
            &w,
        );
        assert_fails(
            w.t.write_process_memory(bad, 0x10000, &[]),
            (ErrorCode::InvalidHandle, "2"),
            &w,
        );
    }
}

#[test]
fn rpm_and_wpm_in_user_mode_follow_the_user_pointer_rule() {
    let mut w = with_buffer(0x1000);
    w.nk();
    let s =
        w.t.ce_virtual_shared_alloc(0, 0x1000, AllocType::RESERVE | AllocType::COMMIT)
            .unwrap();
    w.t.write_bytes(s, b"heap").unwrap();
    // A kernel-mode commit right below the write bound, in app.exe.
    let app = h(w.app);
    w.t.virtual_alloc_ex(
        app,
        0x6FFF_0000,
        0x10000,
        AllocType::RESERVE | AllocType::COMMIT,
        RW,
    )
    .unwrap();
    w.check();
    w.user(w.drv);
    let before = w.snapshot();
    // Reading: p >= 0x10000 and p + n < 0x7FF00000.
    for (a, n) in [
        (0xFFFF, 1),
        (0x5000, 4), // app's committed kernel-data page
        (0x7FEF_FFFF, 1),
        (0x7FEF_F000, 0x1000),
        (0x8000_0000, 4),
        (0x8000_2000, 4),
        (0xFFFF_F000, 0x1000),
        (0xFFFF_FFFF, 2),
    ] {
        assert_fails(
            w.t.read_process_memory(app, a, n),
            (ErrorCode::InvalidParameter, "5.12"),
            &w,
        );
    }
    // The shared heap is readable from user mode, through any process.
    assert_eq!(w.t.read_process_memory(app, s, 4).unwrap(), b"heap");
    assert_eq!(
        w.t.read_process_memory(app, 0x6FFF_FFFC, 8).unwrap(),
        [0, 0, 0, 0, b'h', b'e', b'a', b'p']
    );
    // Writing: p + n < 0x70000000.
    for (a, data) in [
        (0x6FFF_FFFF, &b"x"[..]),
        (0x6FFF_FFFC, &b"four"[..]),
        (s, &b"x"[..]),
        (0xFFFF, &b"x"[..]),
        (0x8000_2000, &b"x"[..]),
    ] {
        assert_fails(
            w.t.write_process_memory(app, a, data),
            (ErrorCode::InvalidParameter, "5.12"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
    assert_eq!(
        w.t.write_process_memory(app, 0x6FFF_FFFC, b"abc").unwrap(),
        3
    );
    w.check();
}

#[test]
fn rpm_and_wpm_in_kernel_mode_touch_as_a_kernel_thread_in_the_target() {
    // app's page is frame 2: static address 0x80002000.
    let mut w = with_buffer(0x1000);
    w.nk();
    let s =
        w.t.ce_virtual_shared_alloc(0, 0x1000, AllocType::RESERVE | AllocType::COMMIT)
            .unwrap();
    w.check();
    w.kmode(w.drv);
    let app = h(w.app);
    assert_eq!(
        w.t.read_process_memory(app, 0x8000_2010, 0x10).unwrap(),
        expected(0x10010, 0x10)
    );
    // Kernel-mode writes reach the shared heap and the static mapping.
    assert_eq!(w.t.write_process_memory(app, s, b"kw").unwrap(), 2);
    assert_eq!(
        w.t.write_process_memory(app, 0x8000_2000, b"st").unwrap(),
        2
    );
    w.check();
    w.user(w.app);
    assert_eq!(w.t.read_u16(s).unwrap(), u16::from_le_bytes(*b"kw"));
    assert_eq!(w.t.read_u16(0x10000).unwrap(), u16::from_le_bytes(*b"st"));
    // Nothing is mapped at the top, nor in the CPU-specific range.
    w.kmode(w.drv);
    let before = w.snapshot();
    for (a, n) in [(0xFFFF_F000, 0x1000), (0xF000_0000, 4), (0xFFFF_FFFF, 2)] {
        assert_fails(
            w.t.read_process_memory(app, a, n),
            (ErrorCode::InvalidParameter, "5.12"),
            &w,
        );
        assert_fails(
            w.t.write_process_memory(app, a, &vec![1u8; n as usize]),
            (ErrorCode::InvalidParameter, "5.12"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
}

#[test]
fn rpm_and_wpm_are_all_or_nothing() {
    let mut w = World::new();
    w.user(w.app);
    // 0x10000 RW, 0x11000 RO, 0x12000 reserved.
    w.t.virtual_alloc(0, 0x3000, AllocType::RESERVE, Protection::NOACCESS)
        .unwrap();
    w.t.virtual_alloc(0x10000, 0x2000, AllocType::COMMIT, RW)
        .unwrap();
    w.t.write_bytes(0x10000, &expected(0x10000, 0x2000))
        .unwrap();
    w.t.virtual_protect(0x11000, 0x1000, Protection::READONLY)
        .unwrap();
    w.check();
    w.kmode(w.drv);
    let app = h(w.app);
    let before = w.snapshot();
    // Reading into the reserved page: nothing is copied into the caller's buffer.
    let mut buf = vec![0xEEu8; 0x2000];
    assert_fails(
        w.t.read_process_memory_into(app, 0x11000, &mut buf),
        (ErrorCode::InvalidParameter, "5.12"),
        &w,
    );
    assert!(buf.iter().all(|&b| b == 0xEE));
    assert_fails(
        w.t.read_process_memory(app, 0x10000, 0x3000),
        (ErrorCode::InvalidParameter, "5.12"),
        &w,
    );
    // Writing across the read-only page (even in kernel mode) or into the reserved one:
    // the writable page before it is left as it was.
    assert_fails(
        w.t.write_process_memory(app, 0x10FF0, &[0u8; 0x20]),
        (ErrorCode::InvalidParameter, "5.12"),
        &w,
    );
    assert_fails(
        w.t.write_process_memory(app, 0x11000, &[0u8; 4]),
        (ErrorCode::InvalidParameter, "5.12"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    assert_eq!(
        w.t.read_process_memory(app, 0x10000, 0x2000).unwrap(),
        expected(0x10000, 0x2000)
    );
    w.check();
}

#[test]
fn rpm_and_wpm_consume_a_guard_page_and_fail() {
    let mut w = World::new();
    w.user(w.app);
    w.t.virtual_alloc(0, 0x2000, AllocType::COMMIT, RW).unwrap();
    w.t.write_bytes(0x10000, &expected(0x10000, 0x2000))
        .unwrap();
    w.t.virtual_protect(0x11000, 0x1000, RW | Protection::GUARD)
        .unwrap();
    w.check();
    w.user(w.drv);
    let app = h(w.app);
    let frames = w.free_frames();
    assert_fails(
        w.t.read_process_memory(app, 0x10FF0, 0x20),
        (ErrorCode::InvalidParameter, "5.12"),
        &w,
    );
    assert_eq!(w.q_in(w.app, 0x11000).protect, RW, "the guard was consumed");
    assert_eq!(
        w.t.read_process_memory(app, 0x10FF0, 0x20).unwrap(),
        expected(0x10FF0, 0x20)
    );
    // Writing meets a guard page the same way, and writes nothing.
    w.kmode(w.app);
    w.t.virtual_protect(0x10000, 0x1000, RW | Protection::GUARD)
        .unwrap();
    w.user(w.drv);
    assert_fails(
        w.t.write_process_memory(app, 0x10FFF, b"ab"),
        (ErrorCode::InvalidParameter, "5.12"),
        &w,
    );
    assert_eq!(w.q_in(w.app, 0x10000).protect, RW);
    assert_eq!(
        w.t.read_process_memory(app, 0x10FFF, 2).unwrap(),
        expected(0x10FFF, 2)
    );
    assert_eq!(w.t.write_process_memory(app, 0x10FFF, b"ab").unwrap(), 2);
    assert_eq!(w.free_frames(), frames);
    w.check();
}

#[test]
fn rpm_commits_auto_commit_pages_in_the_target() {
    let mut w = World::new();
    w.user(w.app);
    w.t.virtual_alloc(0, 0x2000, AllocType::RESERVE | AllocType::AUTO_COMMIT, RW)
        .unwrap();
    w.check();
    w.user(w.drv);
    let app = h(w.app);
    let frames = w.free_frames();
    assert_eq!(w.t.read_process_memory(app, 0x11000, 4).unwrap(), [0; 4]);
    w.check();
    assert_eq!(w.free_frames(), frames - 1);
    assert_eq!(w.t.write_process_memory(app, 0x10000, b"ac").unwrap(), 2);
    w.check();
    assert_eq!(w.free_frames(), frames - 2);
    let i = w.t.virtual_query_ex(app, 0x10000, 28).unwrap();
    assert_eq!(
        (i.state, i.protect, i.region_size),
        (AllocType::COMMIT, RW, 0x2000)
    );
}

#[test]
fn rpm_and_wpm_hostile_inputs_fail_cleanly() {
    let mut w = with_buffer(0x1000);
    w.kmode(w.drv);
    let app = h(w.app);
    let before = w.snapshot();
    for (a, n) in [
        (0x10000, 0x7FFF_FFFF),
        (0xFFFF_FFFF, 0x7FFF_FFFF),
        (0x7000_0000, 0x1000),
        (0, 1),
    ] {
        assert_fails(
            w.t.read_process_memory(app, a, n),
            (ErrorCode::InvalidParameter, "5.12"),
            &w,
        );
    }
    assert_fails(
        w.t.write_process_memory(app, 0xFFFF_F000, &[0u8; 0x2000]),
        (ErrorCode::InvalidParameter, "5.12"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
    let victim = w.kernel.create_process("victim.exe").unwrap();
    w.t.terminate_process(h(victim), 0).unwrap();
    w.check();
    assert_fails(
        w.t.read_process_memory(h(victim), 0x10000, 4),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_fails(
        w.t.write_process_memory(h(victim), 0x10000, b"x"),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
}

#[test]
fn rpm_success_leaves_the_last_error_alone() {
    let mut w = with_buffer(0x1000);
    w.user(w.drv);
    let app = h(w.app);
    w.t.set_last_error(4321);
    w.t.read_process_memory(app, 0x10000, 4).unwrap();
    w.t.write_process_memory(app, 0x10000, b"z").unwrap();
    assert_eq!(w.t.last_error(), 4321);
    assert_fails(
        w.t.read_process_memory(app, 0x20000, 4),
        (ErrorCode::InvalidParameter, "5.12"),
        &w,
    );
    w.t.read_process_memory(app, 0x10000, 4).unwrap();
    assert_eq!(w.t.last_error(), 87);
}
