//! Memory access by a thread (semantics.md §6): reads, writes and instruction fetches of
//! 1, 2, 4 and n bytes, page crossing, protection, one-shot guard pages, auto-commit, the
//! user/kernel address rules, the kernel static mapping and the exception's fields.

mod common;

use cevm::consts::STATUS_ACCESS_VIOLATION;
use cevm::{AllocType, Config, Exception, Handle, Protection};
use common::{
    COMMIT, NA, RC, RESERVE, RO, RW, World, assert_av, committed, phys_of, q, small_world,
};

const GUARD: Protection = Protection::GUARD;

// Every access violation carries the code 0xC0000005.
const _: () = assert!(STATUS_ACCESS_VIOLATION == 0xC000_0005);

// ---------------------------------------------------------------- sizes and page crossing

#[test]
fn reads_and_writes_of_1_2_4_and_n_bytes_are_little_endian() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    w.t.write_u32(b, 0x1122_3344).unwrap();
    w.t.write_u16(b + 4, 0x5566).unwrap();
    w.t.write_u8(b + 6, 0x77).unwrap();
    w.t.write_bytes(b + 7, &[0x88, 0x99]).unwrap();
    w.check();
    let mut buf = [0u8; 9];
    w.t.read_bytes(b, &mut buf).unwrap();
    assert_eq!(buf, [0x44, 0x33, 0x22, 0x11, 0x66, 0x55, 0x77, 0x88, 0x99]);
    assert_eq!(w.t.read_u8(b + 3).unwrap(), 0x11);
    assert_eq!(w.t.read_u16(b + 1).unwrap(), 0x2233);
    assert_eq!(w.t.read_u32(b + 5).unwrap(), 0x9988_7755);
    assert_eq!(w.t.read_u32(b + 0xFFC).unwrap(), 0);
    w.check();
}

#[test]
fn accesses_cross_page_boundaries() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x3000, COMMIT, RW).unwrap();
    w.t.write_u32(b + 0xFFE, 0xAABB_CCDD).unwrap();
    w.t.write_u16(b + 0x1FFF, 0xEEFF).unwrap();
    w.check();
    assert_eq!(w.t.read_u16(b + 0xFFE).unwrap(), 0xCCDD);
    assert_eq!(w.t.read_u16(b + 0x1000).unwrap(), 0xAABB);
    assert_eq!(w.t.read_u8(b + 0x1FFF).unwrap(), 0xFF);
    assert_eq!(w.t.read_u8(b + 0x2000).unwrap(), 0xEE);
    let data: Vec<u8> = (0..0x2800u32).map(|i| (i % 251) as u8).collect();
    w.t.write_bytes(b + 0x400, &data).unwrap();
    let mut back = vec![0u8; data.len()];
    w.t.read_bytes(b + 0x400, &mut back).unwrap();
    assert_eq!(back, data);
    w.check();
}

#[test]
fn a_crossing_access_faults_at_the_first_byte_of_the_faulting_page() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x3000, COMMIT, RW).unwrap();
    w.t.write_u16(b + 0xFFE, 0x1234).unwrap();
    w.t.virtual_protect(b + 0x1000, 0x1000, RO).unwrap();
    w.t.virtual_free(b + 0x2000, 0x1000, AllocType::DECOMMIT)
        .unwrap();
    w.check();
    // A write that runs into a read-only page faults there and writes nothing.
    assert_av(w.t.write_u32(b + 0xFFE, 0xFFFF_FFFF), b + 0x1000, true, &w);
    assert_eq!(w.t.read_u16(b + 0xFFE).unwrap(), 0x1234);
    assert_av(w.t.write_u16(b + 0xFFF, 0xFFFF), b + 0x1000, true, &w);
    assert_eq!(w.t.read_u8(b + 0xFFF).unwrap(), 0x12);
    // Reads run into the decommitted page.
    assert_eq!(w.t.read_u16(b + 0x1FFE).unwrap(), 0);
    assert_av(w.t.read_u32(b + 0x1FFE), b + 0x2000, false, &w);
    // When the first page faults, the address is the access's own.
    assert_av(w.t.write_u32(b + 0x1FFE, 1), b + 0x1FFE, true, &w);
    assert_av(w.t.read_u16(b + 0x2FFF), b + 0x2FFF, false, &w);
}

// ---------------------------------------------------------------- protection

#[test]
fn each_protection_allows_exactly_its_accesses_in_both_modes() {
    // (protection, read, write, execute)
    let cases = [
        (Protection::NOACCESS, false, false, false),
        (Protection::READONLY, true, false, false),
        (Protection::READWRITE, true, true, false),
        (Protection::EXECUTE, true, false, true),
        (Protection::EXECUTE_READ, true, false, true),
        (Protection::EXECUTE_READWRITE, true, true, true),
    ];
    for kernel in [false, true] {
        let mut w = World::new();
        w.enter_app(kernel);
        for (prot, r, wr, x) in cases {
            let b = w.t.virtual_alloc(0, 0x1000, COMMIT, prot).unwrap();
            let a = b + 0x123;
            w.check();
            match w.t.write_u16(a, 0xBEEF) {
                Ok(()) => assert!(wr, "{prot:?} write"),
                Err(e) => {
                    assert!(!wr, "{prot:?} write");
                    assert_eq!(e, Exception::access_violation(a, true));
                }
            }
            w.check();
            match w.t.read_u16(a) {
                Ok(v) => {
                    assert!(r, "{prot:?} read");
                    assert_eq!(v, if wr { 0xBEEF } else { 0 });
                }
                Err(e) => {
                    assert!(!r, "{prot:?} read");
                    assert_eq!(e, Exception::access_violation(a, false));
                }
            }
            w.check();
            match w.t.execute(a) {
                Ok(()) => assert!(x, "{prot:?} execute"),
                Err(e) => {
                    assert!(!x, "{prot:?} execute");
                    assert_eq!(e, Exception::access_violation(a, false));
                }
            }
            w.check();
        }
    }
}

#[test]
fn reserved_free_and_decommitted_pages_fault() {
    let mut w = World::new();
    w.user(w.app);
    let r = w.t.virtual_alloc(0, 0x1000, RESERVE, NA).unwrap();
    let i =
        w.t.virtual_alloc(0, 0x1000, RESERVE | AllocType::IMAGE, NA)
            .unwrap();
    let d = w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    w.t.virtual_free(d, 0x1000, AllocType::DECOMMIT).unwrap();
    let frames = w.free_frames();
    for a in [r + 4, i + 4, d + 4, 0x50004, 0x4] {
        assert_av(w.t.read_u8(a), a, false, &w);
        assert_av(w.t.write_u32(a, 1), a, true, &w);
        assert_av(w.t.execute(a), a, false, &w);
    }
    assert_eq!(w.free_frames(), frames);
    assert_eq!(q(&mut w, r).state, RESERVE);
}

#[test]
fn the_kernel_data_page_is_read_only_for_user_and_kernel() {
    let mut w = World::new();
    for kernel in [false, true] {
        w.enter_app(kernel);
        assert_eq!(w.t.read_u32(0x5000).unwrap(), 0);
        assert_av(w.t.write_u8(0x5000, 1), 0x5000, true, &w);
        assert_av(w.t.read_u8(0x4FFF), 0x4FFF, false, &w);
        assert_av(w.t.read_u16(0x5FFF), 0x6000, false, &w);
    }
}

// ---------------------------------------------------------------- guard pages

#[test]
fn a_guard_page_faults_once_for_each_kind_of_access() {
    let mut w = World::new();
    w.user(w.app);
    let erw = Protection::EXECUTE_READWRITE;
    let b = w.t.virtual_alloc(0, 0x3000, COMMIT, erw | GUARD).unwrap();
    w.check();
    // Page 0: read; page 1: write; page 2: execute.
    assert_av(w.t.read_u32(b + 0x10), b + 0x10, false, &w);
    assert_eq!(q(&mut w, b).protect, erw, "the guard is consumed");
    assert_eq!(
        q(&mut w, b + 0x1000).protect,
        erw | GUARD,
        "only that page's"
    );
    assert_eq!(w.t.read_u32(b + 0x10).unwrap(), 0);

    assert_av(w.t.write_u32(b + 0x1010, 5), b + 0x1010, true, &w);
    assert_eq!(q(&mut w, b + 0x1000).protect, erw);
    assert_eq!(
        w.t.read_u32(b + 0x1010).unwrap(),
        0,
        "the faulting write wrote nothing"
    );
    w.t.write_u32(b + 0x1010, 5).unwrap();
    assert_eq!(w.t.read_u32(b + 0x1010).unwrap(), 5);

    assert_av(w.t.execute(b + 0x2010), b + 0x2010, false, &w);
    w.t.execute(b + 0x2010).unwrap();
    assert_eq!(q(&mut w, b), committed(b, b, 0x3000, erw));
}

#[test]
fn a_guard_page_faults_whatever_the_access_then_behaves_as_its_base_protection() {
    let mut w = World::new();
    w.kmode(w.app);
    let b = w.t.virtual_alloc(0, 0x1000, COMMIT, RO | GUARD).unwrap();
    w.check();
    assert_av(w.t.write_u8(b, 1), b, true, &w);
    assert_eq!(q(&mut w, b).protect, RO);
    assert_av(w.t.write_u8(b, 1), b, true, &w);
    assert_eq!(w.t.read_u8(b).unwrap(), 0);
    assert_av(w.t.execute(b), b, false, &w);
}

#[test]
fn a_guard_page_met_by_a_crossing_access_faults_at_its_first_byte() {
    let mut w = World::new();
    w.user(w.app);
    let b = w.t.virtual_alloc(0, 0x2000, COMMIT, RW).unwrap();
    w.t.write_u16(b + 0xFFE, 0x4242).unwrap();
    w.t.virtual_protect(b + 0x1000, 0x1000, RW | GUARD).unwrap();
    w.check();
    assert_av(w.t.write_u32(b + 0xFFE, 0x0101_0101), b + 0x1000, true, &w);
    assert_eq!(
        w.t.read_u16(b + 0xFFE).unwrap(),
        0x4242,
        "nothing was written"
    );
    assert_eq!(q(&mut w, b + 0x1000).protect, RW);
    w.t.write_u32(b + 0xFFE, 0x0101_0101).unwrap();
    assert_eq!(w.t.read_u32(b + 0xFFE).unwrap(), 0x0101_0101);
    // The same for a read.
    w.t.virtual_protect(b + 0x1000, 0x1000, RW | GUARD).unwrap();
    assert_av(w.t.read_u32(b + 0xFFE), b + 0x1000, false, &w);
    assert_eq!(w.t.read_u32(b + 0xFFE).unwrap(), 0x0101_0101);
    w.check();
}

// ---------------------------------------------------------------- auto-commit

#[test]
fn a_crossing_access_auto_commits_both_pages() {
    let mut w = World::new();
    w.user(w.app);
    let b =
        w.t.virtual_alloc(0, 0x3000, RESERVE | AllocType::AUTO_COMMIT, NA)
            .unwrap();
    let frames = w.free_frames();
    w.t.write_u32(b + 0xFFE, 0xA1B2_C3D4).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames - 2);
    let m = q(&mut w, b);
    assert_eq!((m.state, m.protect, m.region_size), (COMMIT, RW, 0x2000));
    assert_eq!(q(&mut w, b + 0x2000).state, RESERVE);
    assert_eq!(w.t.read_u32(b + 0xFFE).unwrap(), 0xA1B2_C3D4);
    assert_eq!(w.t.read_u32(b).unwrap(), 0, "the rest of the page is zero");
    // An instruction fetch after auto-commit still needs an execute protection.
    assert_av(w.t.execute(b), b, false, &w);
}

#[test]
fn auto_commit_without_a_free_frame_faults_and_commits_nothing() {
    let mut w = small_world();
    w.user(w.app);
    let a =
        w.t.virtual_alloc(0, 0x2000, RESERVE | AllocType::AUTO_COMMIT, NA)
            .unwrap();
    let f = w.free_frames() as u32;
    let big = w.t.virtual_alloc(0, f * 0x1000, COMMIT, RW).unwrap();
    w.check();
    assert_eq!(w.free_frames(), 0);
    assert_av(w.t.read_u8(a + 5), a + 5, false, &w);
    assert_av(w.t.write_u32(a + 0x1010, 1), a + 0x1010, true, &w);
    assert_eq!(w.free_frames(), 0);
    assert_eq!(q(&mut w, a).state, RESERVE);
    assert_eq!(q(&mut w, a).region_size, 0x2000);
    // One frame back: the next touch commits.
    w.t.virtual_free(big, 0x1000, AllocType::DECOMMIT).unwrap();
    w.check();
    w.t.write_u32(a + 0x1010, 1).unwrap();
    w.check();
    assert_eq!(w.free_frames(), 0);
    assert_eq!(w.t.read_u32(a + 0x1010).unwrap(), 1);
    assert_eq!(q(&mut w, a + 0x1000).state, COMMIT);
}

// ---------------------------------------------------------------- user mode and kernel mode

#[test]
fn user_mode_faults_on_every_address_from_0x80000000() {
    let mut w = World::new();
    w.nk();
    w.t.virtual_alloc(0x9000_0000, 0x1000, RC, RW).unwrap();
    w.check();
    w.user(w.app);
    for a in [
        0x8000_0000,
        0x8000_5000,
        0x83FF_FFFF,
        0x9000_0000,
        0xF000_0000,
        0xFFFF_FFFF,
    ] {
        assert_av(w.t.read_u8(a), a, false, &w);
        assert_av(w.t.write_u8(a, 1), a, true, &w);
        assert_av(w.t.execute(a), a, false, &w);
    }
    assert_av(w.t.read_u32(0x7FFF_FFFE), 0x7FFF_FFFE, false, &w);
    assert_av(w.t.write_bytes(0xFFFF_FFFF, &[1, 2]), 0xFFFF_FFFF, true, &w);
}

#[test]
fn kernel_memory_is_the_same_from_every_process_in_kernel_mode() {
    let mut w = World::new();
    w.nk();
    w.t.virtual_alloc(0x9000_0000, 0x2000, RC, RW).unwrap();
    w.t.write_u32(0x9000_0FFE, 0x1357_9BDF).unwrap();
    w.check();
    for pid in [w.app, w.drv] {
        w.kmode(pid);
        assert_eq!(w.t.read_u32(0x9000_0FFE).unwrap(), 0x1357_9BDF);
        w.t.write_u8(0x9000_1010, pid.0 as u8).unwrap();
        w.check();
    }
    w.nk();
    assert_eq!(w.t.read_u8(0x9000_1010).unwrap(), w.drv.0 as u8);
    // Free kernel memory, the unmapped guard and the CPU area fault in kernel mode.
    for a in [
        0x8400_0000,
        0x9000_2000,
        0x7FF0_0000,
        0x7FFF_FFFF,
        0xF000_0000,
        0xFFFF_F000,
    ] {
        assert_av(w.t.read_u8(a), a, false, &w);
        assert_av(w.t.write_u8(a, 1), a, true, &w);
    }
}

#[test]
fn user_mode_may_only_read_the_shared_heap() {
    let mut w = World::new();
    w.nk();
    let s = 0x7000_0000;
    assert_eq!(
        w.t.virtual_alloc(s, 0x1000, RC, Protection::EXECUTE_READWRITE)
            .unwrap(),
        s
    );
    w.t.write_u32(s + 8, 0xFEED).unwrap();
    w.check();
    for pid in [w.app, w.drv] {
        w.user(pid);
        assert_eq!(w.t.read_u32(s + 8).unwrap(), 0xFEED);
        assert_av(w.t.write_u32(s + 8, 1), s + 8, true, &w);
        assert_av(w.t.execute(s + 8), s + 8, false, &w);
        assert_eq!(w.t.read_u32(s + 8).unwrap(), 0xFEED);
    }
    // Kernel mode in a process writes it.
    w.kmode(w.app);
    w.t.write_u32(s + 8, 2).unwrap();
    w.t.execute(s + 8).unwrap();
    w.user(w.drv);
    assert_eq!(w.t.read_u32(s + 8).unwrap(), 2);
    // Nothing else of the shared heap is there.
    assert_av(w.t.read_u8(s + 0x1000), s + 0x1000, false, &w);
}

#[test]
fn a_user_write_running_into_the_shared_heap_faults_at_0x70000000() {
    let mut w = World::new();
    w.kmode(w.app);
    assert_eq!(
        w.t.virtual_alloc(0x6FFF_0000, 0x10000, RC, RW).unwrap(),
        0x6FFF_0000
    );
    w.nk();
    w.t.virtual_alloc(0x7000_0000, 0x1000, RC, RW).unwrap();
    w.t.write_u8(0x7000_0000, 0xAB).unwrap();
    w.check();
    w.user(w.app);
    w.t.write_u8(0x6FFF_FFFF, 0x01).unwrap();
    assert_eq!(w.t.read_u16(0x6FFF_FFFF).unwrap(), 0xAB01);
    assert_av(w.t.write_u16(0x6FFF_FFFF, 0x2233), 0x7000_0000, true, &w);
    assert_eq!(
        w.t.read_u16(0x6FFF_FFFF).unwrap(),
        0xAB01,
        "nothing was written"
    );
    w.kmode(w.app);
    w.t.write_u16(0x6FFF_FFFF, 0x2233).unwrap();
    assert_eq!(w.t.read_u16(0x6FFF_FFFF).unwrap(), 0x2233);
    w.check();
}

#[test]
fn accesses_at_the_top_of_the_address_space_fault_without_wrapping() {
    let mut w = World::new();
    w.nk();
    w.t.virtual_alloc(0xEFFF_0000, 0x10000, RC, RW).unwrap();
    w.check();
    w.t.write_u8(0xEFFF_FFFF, 9).unwrap();
    assert_av(w.t.read_u16(0xEFFF_FFFF), 0xF000_0000, false, &w);
    assert_av(w.t.read_u32(0xFFFF_FFFE), 0xFFFF_FFFE, false, &w);
    assert_av(w.t.write_u32(0xFFFF_FFFE, 1), 0xFFFF_FFFE, true, &w);
    let mut buf = vec![0u8; 0x2000];
    assert_av(
        w.t.read_bytes(0xFFFF_F000, &mut buf),
        0xFFFF_F000,
        false,
        &w,
    );
    assert_av(w.t.write_bytes(0xFFFF_FFFF, &buf), 0xFFFF_FFFF, true, &w);
    assert_eq!(w.t.read_u8(0xEFFF_FFFF).unwrap(), 9);
}

// ---------------------------------------------------------------- the kernel static mapping

#[test]
fn the_static_mapping_shows_every_ram_frame_at_0x80000000_plus_its_offset() {
    let mut w = World::new();
    w.kmode(w.app);
    let b = w.t.virtual_alloc(0, 0x2000, COMMIT, RW).unwrap();
    w.t.write_u32(b + 0x1010, 0xDEAD_BEEF).unwrap();
    let pa = phys_of(&mut w, b + 0x1000);
    let va = 0x8000_0000 + pa as u32;
    assert_eq!(w.t.read_u32(va + 0x10).unwrap(), 0xDEAD_BEEF);
    w.t.write_u32(va + 0x14, 0x0102_0304).unwrap();
    w.check();
    // From another process too: the static mapping is the kernel's.
    w.kmode(w.drv);
    assert_eq!(w.t.read_u32(va + 0x14).unwrap(), 0x0102_0304);
    w.user(w.app);
    assert_eq!(w.t.read_u32(b + 0x1014).unwrap(), 0x0102_0304);
    assert_av(w.t.read_u32(va + 0x14), va + 0x14, false, &w);
}

#[test]
fn the_static_mapping_follows_ram_base_and_ends_with_ram() {
    let mut w = World::with_config(Config {
        ram_bytes: 1 << 20,
        ram_base: 0x1000_0000,
        ..Config::default()
    });
    w.kmode(w.app);
    let b = w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    w.t.write_u32(b + 0x20, 0x0BAD_F00D).unwrap();
    let pa = phys_of(&mut w, b);
    assert!(
        (0x1000_0000..0x1010_0000).contains(&pa),
        "PA 0x{pa:X} lies in RAM"
    );
    let va = 0x8000_0000 + (pa - 0x1000_0000) as u32;
    assert_eq!(w.t.read_u32(va + 0x20).unwrap(), 0x0BAD_F00D);
    // 1 MiB of RAM: the static mapping ends at 0x80100000; kernel VM starts at 0x80400000.
    w.t.read_u8(0x800F_FFFF).unwrap();
    assert_av(w.t.read_u8(0x8010_0000), 0x8010_0000, false, &w);
    assert_av(w.t.read_u16(0x800F_FFFF), 0x8010_0000, false, &w);
    assert_av(w.t.write_u8(0x803F_FFFF, 1), 0x803F_FFFF, true, &w);
    w.check();
}

#[test]
fn frames_written_through_the_static_mapping_while_free_are_zeroed_when_committed() {
    let mut w = small_world();
    w.nk();
    let ram = w.kernel.phys().total_frames() as u32;
    // Scribble over every RAM frame, in use or free.
    for i in 0..ram {
        w.t.write_u32(0x8000_0000 + i * 0x1000 + 0x40, 0xA5A5_A5A5)
            .unwrap();
    }
    w.check();
    w.user(w.app);
    let f = w.free_frames() as u32;
    let b = w.t.virtual_alloc(0, f * 0x1000, COMMIT, RW).unwrap();
    w.check();
    for i in 0..f {
        assert_eq!(
            w.t.read_u32(b + i * 0x1000 + 0x40).unwrap(),
            0,
            "semantics.md §2: committed RAM frames are zero-filled when handed out (page {i})"
        );
    }
}

// ---------------------------------------------------------------- terminated processes

#[test]
fn a_thread_left_in_a_terminated_process_faults_everywhere_below_the_kernel_half() {
    let mut w = World::new();
    w.kmode(w.app);
    let b = w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    w.t.terminate_process(Handle::CURRENT_PROCESS, 0).unwrap();
    w.check();
    assert_av(w.t.read_u8(b), b, false, &w);
    assert_av(w.t.write_u8(b, 1), b, true, &w);
    assert_av(w.t.read_u8(0x5000), 0x5000, false, &w);
}
