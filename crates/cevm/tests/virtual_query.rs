//! VirtualQuery / VirtualQueryEx (semantics.md §5.4) and their handle checks (§2).

mod common;

use cevm::{AllocType, Config, ErrorCode, Handle, MemoryInfo, ProcessAccess, Protection};
use common::{COMMIT, NA, RESERVE, RW, World, assert_fails, committed, free_info, p, q, reserved};

// ---------------------------------------------------------------- step 1: buffer length

#[test]
fn a_buffer_shorter_than_28_bytes_fails_with_bad_length() {
    let mut w = World::new();
    w.user(w.app);
    for len in [0, 1, 27] {
        assert_fails(
            w.t.virtual_query(0x10000, len),
            (ErrorCode::BadLength, "5.4.1"),
            &w,
        );
        // The length is checked before the address.
        assert_fails(
            w.t.virtual_query(0, len),
            (ErrorCode::BadLength, "5.4.1"),
            &w,
        );
        assert_fails(
            w.t.virtual_query(0xFFFF_FFFF, len),
            (ErrorCode::BadLength, "5.4.1"),
            &w,
        );
    }
    for len in [28, 29, 0xFFFF_FFFF] {
        assert_eq!(
            w.t.virtual_query(0x10000, len).unwrap(),
            free_info(0x10000, 0x3FFF_0000)
        );
        w.check();
    }
}

// ---------------------------------------------------------------- step 2: address checks

#[test]
fn addresses_in_the_first_64k_cannot_be_queried_in_either_mode() {
    let mut w = World::new();
    for kernel in [false, true] {
        w.enter_app(kernel);
        for a in [0, 0x5000, 0x5FFF, 0xF000, 0xFFFF] {
            assert_fails(
                w.t.virtual_query(a, 28),
                (ErrorCode::InvalidParameter, "5.4.2"),
                &w,
            );
        }
        assert_eq!(q(&mut w, 0x10000), free_info(0x10000, 0x3FFF_0000));
    }
}

#[test]
fn user_mode_queries_follow_the_read_pointer_rule() {
    let mut w = World::new();
    w.user(w.app);
    // (a, 4) must end below 0x7FF00000.
    assert_eq!(q(&mut w, 0x7FEF_FFFB), free_info(0x7FEF_F000, 0x1000));
    for a in [
        0x7FEF_FFFC,
        0x7FEF_FFFF,
        0x7FF0_0000,
        0x8000_0000,
        0xFFFF_F000,
        0xFFFF_FFFF,
    ] {
        assert_fails(
            w.t.virtual_query(a, 28),
            (ErrorCode::InvalidParameter, "5.4.2"),
            &w,
        );
    }
    // Kernel mode has no such rule.
    w.kmode(w.app);
    assert_eq!(q(&mut w, 0x7FEF_FFFC), free_info(0x7FEF_F000, 0x1000));
    assert_eq!(q(&mut w, 0x7FF0_0000), free_info(0x7FF0_0000, 0x10_0000));
    assert_eq!(q(&mut w, 0xFFFF_FFFF), free_info(0xFFFF_F000, 0x1000));
}

// ---------------------------------------------------------------- free pages

#[test]
fn a_fresh_process_reports_one_free_run_up_to_the_dll_area() {
    let mut w = World::new();
    w.user(w.app);
    assert_eq!(q(&mut w, 0x10000), free_info(0x10000, 0x3FFF_0000));
    assert_eq!(q(&mut w, 0x12345), free_info(0x12000, 0x3FFE_E000));
    assert_eq!(q(&mut w, 0x3FFF_FFFF), free_info(0x3FFF_F000, 0x1000));
}

#[test]
fn a_free_run_stops_at_the_first_block_in_use() {
    let mut w = World::new();
    w.user(w.app);
    assert_eq!(
        w.t.virtual_alloc(0x30000, 100, RESERVE, NA).unwrap(),
        0x30000
    );
    w.check();
    assert_eq!(q(&mut w, 0x10000), free_info(0x10000, 0x20000));
    assert_eq!(q(&mut w, 0x2F000), free_info(0x2F000, 0x1000));
    // A free page inside a block in use: the rest of its own block plus the free
    // blocks after it.
    assert_eq!(
        q(&mut w, 0x31000),
        free_info(0x31000, 0x4000_0000 - 0x31000)
    );
    assert_eq!(
        w.t.virtual_alloc(0x50000, 0x10000, RESERVE, NA).unwrap(),
        0x50000
    );
    w.check();
    assert_eq!(q(&mut w, 0x31000), free_info(0x31000, 0x1F000));
    assert_eq!(q(&mut w, 0x40000), free_info(0x40000, 0x10000));
    assert_eq!(
        q(&mut w, 0x60000),
        free_info(0x60000, 0x4000_0000 - 0x60000)
    );
}

#[test]
fn a_free_run_stops_at_the_end_of_its_layout_area() {
    let mut w = World::new();
    w.kmode(w.app);
    // The DLL area, the mapped-view area, the shared heap, the guard, kernel VM and the
    // CPU area each end a free run.
    assert_eq!(q(&mut w, 0x4001_0000), free_info(0x4001_0000, 0x1FFF_0000));
    assert_eq!(q(&mut w, 0x5FFF_F000), free_info(0x5FFF_F000, 0x1000));
    assert_eq!(q(&mut w, 0x6000_0000), free_info(0x6000_0000, 0x1000_0000));
    assert_eq!(q(&mut w, 0x7000_0000), free_info(0x7000_0000, 0x0FF0_0000));
    assert_eq!(q(&mut w, 0x7FF8_0000), free_info(0x7FF8_0000, 0x8_0000));
    assert_eq!(q(&mut w, 0x8400_0000), free_info(0x8400_0000, 0x6C00_0000));
    assert_eq!(q(&mut w, 0xEFFF_F000), free_info(0xEFFF_F000, 0x1000));
    assert_eq!(q(&mut w, 0xF000_0000), free_info(0xF000_0000, 0x1000_0000));
    assert_eq!(q(&mut w, 0xFFFF_F000), free_info(0xFFFF_F000, 0x1000));
    // User mode sees the same for what it may query.
    w.user(w.app);
    assert_eq!(q(&mut w, 0x4001_0000), free_info(0x4001_0000, 0x1FFF_0000));
    assert_eq!(q(&mut w, 0x7000_0000), free_info(0x7000_0000, 0x0FF0_0000));
}

#[test]
fn a_free_run_in_kernel_memory_stops_at_a_kernel_reservation() {
    let mut w = World::new();
    w.nk();
    assert_eq!(
        w.t.virtual_alloc(0x9000_0000, 0x1000, RESERVE, NA).unwrap(),
        0x9000_0000
    );
    w.check();
    assert_eq!(q(&mut w, 0x8400_0000), free_info(0x8400_0000, 0x0C00_0000));
    assert_eq!(
        q(&mut w, 0x9000_1000),
        free_info(0x9000_1000, 0xF000_0000 - 0x9000_1000)
    );
}

// ---------------------------------------------------------------- reserved and committed

#[test]
fn fields_of_reserved_and_committed_runs() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x5000, RESERVE, NA).unwrap();
    assert_eq!(
        w.t.virtual_alloc(b + 0x1000, 0x2000, COMMIT, RW).unwrap(),
        b + 0x1000
    );
    w.check();
    assert_eq!(q(&mut w, b + 0x1234), committed(b + 0x1000, b, 0x2000, RW));
    assert_eq!(q(&mut w, b + 0x2FFF), committed(b + 0x2000, b, 0x1000, RW));
    assert_eq!(q(&mut w, b), reserved(b, b, 0x1000));
    assert_eq!(q(&mut w, b + 0x3000), reserved(b + 0x3000, b, 0x2000));
    assert_eq!(
        q(&mut w, b + 0x5000),
        free_info(b + 0x5000, 0x4000_0000 - (b + 0x5000))
    );
}

#[test]
fn a_run_ends_at_the_requested_size_rounded_up_to_a_page() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x1801, RESERVE, NA).unwrap();
    w.check();
    assert_eq!(q(&mut w, b), reserved(b, b, 0x2000));
    assert_eq!(q(&mut w, b + 0x2000).state, AllocType::FREE);
    w.t.virtual_alloc(b, 0x1801, COMMIT, RW).unwrap();
    w.check();
    assert_eq!(q(&mut w, b + 0x1800), committed(b + 0x1000, b, 0x1000, RW));
}

#[test]
fn a_run_ends_before_the_next_reservation() {
    let mut w = World::new();
    w.user(w.app);
    let a = w.t.virtual_alloc(0, 0x10000, COMMIT, RW).unwrap();
    let b = w.t.virtual_alloc(0, 0x10000, COMMIT, RW).unwrap();
    let c = w.t.virtual_alloc(0, 0x10000, RESERVE, NA).unwrap();
    let d = w.t.virtual_alloc(0, 0x10000, RESERVE, NA).unwrap();
    w.check();
    assert_eq!(q(&mut w, a), committed(a, a, 0x10000, RW));
    assert_eq!(q(&mut w, a + 0x8000), committed(a + 0x8000, a, 0x8000, RW));
    assert_eq!(q(&mut w, b), committed(b, b, 0x10000, RW));
    assert_eq!(q(&mut w, c), reserved(c, c, 0x10000));
    assert_eq!(q(&mut w, d), reserved(d, d, 0x10000));
}

#[test]
fn runs_split_on_protection_guard_and_cache_bits() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x7000, COMMIT, RW).unwrap();
    let prots = [0x04, 0x02, 0x104, 0x04, 0x204, 0x10, 0x20];
    for (i, &pr) in prots.iter().enumerate() {
        w.t.virtual_protect(b + i as u32 * 0x1000, 0x1000, p(pr))
            .unwrap();
        w.check();
    }
    assert_eq!(q(&mut w, b), committed(b, b, 0x1000, RW));
    assert_eq!(
        q(&mut w, b + 0x1000),
        committed(b + 0x1000, b, 0x1000, p(0x02))
    );
    assert_eq!(
        q(&mut w, b + 0x2000),
        committed(b + 0x2000, b, 0x1000, p(0x104))
    );
    assert_eq!(q(&mut w, b + 0x3000), committed(b + 0x3000, b, 0x1000, RW));
    assert_eq!(
        q(&mut w, b + 0x4000),
        committed(b + 0x4000, b, 0x1000, p(0x204))
    );
    assert_eq!(
        q(&mut w, b + 0x5000).protect,
        p(0x20),
        "EXECUTE reads back as EXECUTE_READ"
    );
    // Consuming the guard joins the page to the read/write page after it.
    assert!(w.t.read_u8(b + 0x2000).is_err());
    w.check();
    assert_eq!(q(&mut w, b + 0x2000), committed(b + 0x2000, b, 0x2000, RW));
}

#[test]
fn reserved_pages_of_image_and_auto_commit_reservations() {
    let mut w = World::new();
    w.user(w.app);
    let i =
        w.t.virtual_alloc(0, 0x2000, RESERVE | AllocType::IMAGE, NA)
            .unwrap();
    let a =
        w.t.virtual_alloc(0, 0x2000, RESERVE | AllocType::AUTO_COMMIT, NA)
            .unwrap();
    w.check();
    assert_eq!(
        q(&mut w, i),
        MemoryInfo {
            kind: AllocType::IMAGE,
            ..reserved(i, i, 0x2000)
        }
    );
    assert_eq!(q(&mut w, a), reserved(a, a, 0x2000));
    w.t.virtual_alloc(i, 0x1000, COMMIT, Protection::EXECUTE)
        .unwrap();
    w.check();
    assert_eq!(q(&mut w, i), committed(i, i, 0x1000, p(0x20)));
    assert_eq!(
        q(&mut w, i + 0x1000),
        MemoryInfo {
            kind: AllocType::IMAGE,
            ..reserved(i + 0x1000, i, 0x1000)
        }
    );
}

#[test]
fn the_dll_barrier_is_a_reserved_block() {
    let mut w = World::new();
    w.user(w.app);
    assert_eq!(
        q(&mut w, 0x4000_0000),
        reserved(0x4000_0000, 0x4000_0000, 0x10000)
    );
    assert_eq!(
        q(&mut w, 0x4000_FFFF),
        reserved(0x4000_F000, 0x4000_0000, 0x1000)
    );
}

#[test]
fn the_static_mapping_reads_as_committed_cached_read_write() {
    let mut w = World::new();
    w.kmode(w.app);
    let end = w.kernel.layout().static_end;
    assert_eq!(end, 0x8400_0000);
    assert_eq!(
        q(&mut w, 0x8000_0000),
        committed(0x8000_0000, 0x8000_0000, 0x0400_0000, RW)
    );
    // Outside any record, AllocationBase is the address rounded down to its block.
    assert_eq!(
        q(&mut w, 0x8001_2345),
        committed(0x8001_2000, 0x8001_0000, end - 0x8001_2000, RW)
    );
    assert_eq!(
        q(&mut w, 0x83FF_FFFF),
        committed(0x83FF_F000, 0x83FF_0000, 0x1000, RW)
    );
}

#[test]
fn a_small_ram_moves_the_static_end_and_the_kernel_vm_start() {
    let mut w = World::with_config(Config {
        ram_bytes: 5 << 20,
        ..Config::default()
    });
    w.nk();
    assert_eq!(
        q(&mut w, 0x804F_F000),
        committed(0x804F_F000, 0x804F_0000, 0x1000, RW)
    );
    assert_eq!(
        q(&mut w, 0x8080_0000),
        free_info(0x8080_0000, 0xF000_0000 - 0x8080_0000)
    );
}

#[test]
fn shared_heap_pages_are_seen_through_every_process() {
    let mut w = World::new();
    w.nk();
    let s =
        w.t.ce_virtual_shared_alloc(0, 0x2000, RESERVE | COMMIT)
            .unwrap();
    w.check();
    assert!((0x7000_0000..0x7FF0_0000).contains(&s));
    w.kmode(w.app);
    assert_eq!(q(&mut w, s), committed(s, s, 0x2000, RW));
    w.user(w.drv);
    let m = q(&mut w, s + 0x1000);
    assert_eq!(
        (m.base_address, m.allocation_base, m.state),
        (s + 0x1000, s, COMMIT)
    );
}

// ---------------------------------------------------------------- VirtualQueryEx and handles

#[test]
fn virtual_query_ex_needs_only_a_valid_handle() {
    let mut w = World::new();
    w.user(w.app);
    w.t.virtual_alloc_ex(w.drv.into(), 0, 0x1000, COMMIT, RW)
        .unwrap();
    w.check();
    let none = w.open(ProcessAccess::empty(), w.drv);
    assert_eq!(
        w.t.virtual_query_ex(none, 0x10000, 28).unwrap(),
        committed(0x10000, 0x10000, 0x1000, RW)
    );
    w.check();
    assert_eq!(
        w.t.virtual_query_ex(Handle::CURRENT_PROCESS, 0x10000, 28)
            .unwrap(),
        free_info(0x10000, 0x3FFF_0000)
    );
    w.check();
}

#[test]
fn virtual_query_ex_with_a_dead_handle_fails_with_6_before_the_arguments() {
    let mut w = World::new();
    w.kmode(w.app);
    let closed = w.closed_handle(w.drv);
    let later = w.terminate_with_handle(w.drv);
    for h in [
        Handle(0xDEAD),
        Handle::NULL,
        closed,
        later,
        Handle::from(w.drv),
    ] {
        for (a, len) in [(0x10000, 28), (0, 0), (0xFFFF_FFFF, 27)] {
            assert_fails(
                w.t.virtual_query_ex(h, a, len),
                (ErrorCode::InvalidHandle, "2"),
                &w,
            );
        }
    }
}

#[test]
fn virtual_query_in_a_terminated_active_process_fails_with_6() {
    let mut w = World::new();
    w.kmode(w.app);
    w.t.terminate_process(Handle::CURRENT_PROCESS, 0).unwrap();
    w.check();
    assert_fails(
        w.t.virtual_query(0x10000, 28),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
    assert_fails(
        w.t.virtual_query_ex(Handle::CURRENT_PROCESS, 0x10000, 28),
        (ErrorCode::InvalidHandle, "2"),
        &w,
    );
}

#[test]
fn queries_above_0x70000000_read_the_kernel_tables_whichever_process_is_named() {
    let mut w = World::new();
    w.nk();
    w.t.virtual_alloc(0x9000_0000, 0x3000, RESERVE, NA).unwrap();
    w.t.virtual_alloc(0x9000_1000, 0x1000, COMMIT, RW).unwrap();
    w.check();
    w.kmode(w.app);
    for h in [Handle::from(w.drv), Handle::CURRENT_PROCESS] {
        assert_eq!(
            w.t.virtual_query_ex(h, 0x9000_0000, 28).unwrap(),
            reserved(0x9000_0000, 0x9000_0000, 0x1000)
        );
        assert_eq!(
            w.t.virtual_query_ex(h, 0x9000_1000, 28).unwrap(),
            committed(0x9000_1000, 0x9000_0000, 0x1000, RW)
        );
        w.check();
    }
}

#[test]
fn a_query_changes_nothing() {
    let mut w = World::new();
    w.user(w.app);
    let b =
        w.t.virtual_alloc(0, 0x2000, COMMIT, RW | Protection::GUARD)
            .unwrap();
    let a =
        w.t.virtual_alloc(0, 0x1000, RESERVE | AllocType::AUTO_COMMIT, NA)
            .unwrap();
    let frames = w.free_frames();
    for _ in 0..3 {
        assert_eq!(q(&mut w, b), committed(b, b, 0x2000, p(0x104)));
        assert_eq!(q(&mut w, a), reserved(a, a, 0x1000));
    }
    assert_eq!(
        w.free_frames(),
        frames,
        "a query neither consumes guards nor auto-commits"
    );
}
