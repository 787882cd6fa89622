//! Host windows: each window shows exactly what a kernel-mode thread of its process may
//! reach (semantics.md §6), an alias and its source are one host page, revocation is
//! synchronous, the fault path follows §6, and the mapping budget is honoured.
#![cfg(target_os = "linux")]

mod common;
#[path = "windows_probe.rs"]
mod probe;

use cevm::{AllocType, Config, Kernel, Pid, Protection, WindowFault};
use common::{World, h};

const RW: Protection = Protection::READWRITE;
const COMMIT: AllocType = AllocType::COMMIT;

fn on() -> Config {
    Config {
        host_windows: true,
        ..Config::default()
    }
}

fn world() -> World {
    World::with_config(on())
}

/// The host address of guest address `va` in `pid`'s window.
fn at(k: &Kernel, pid: Pid, va: u32) -> *mut u8 {
    let base = k.window(pid).expect("a window");
    base.wrapping_add(va as usize)
}

fn get(p: *mut u8) -> u8 {
    // SAFETY: the caller probed the page readable; guest memory may change under us,
    // which a volatile read tolerates.
    unsafe { p.read_volatile() }
}

fn put(p: *mut u8, v: u8) {
    // SAFETY: the caller probed the page writable.
    unsafe { p.write_volatile(v) }
}

#[test]
fn windows_are_off_by_default_and_4_gib_aligned_one_per_process_when_on() {
    let k = Kernel::boot(Config {
        host_windows: false,
        ..Config::default()
    })
    .unwrap();
    let app = k.create_process("app.exe").unwrap();
    assert!(k.window(app).is_none());
    assert_eq!(k.window_stats(), cevm::WindowStats::default());

    let w = world();
    let bases: Vec<usize> = [w.kernel.kernel_pid(), w.app, w.drv]
        .iter()
        .map(|&p| w.kernel.window(p).unwrap() as usize)
        .collect();
    for b in &bases {
        assert_eq!(b % (1 << 32), 0, "window at 0x{b:X} is not 4 GiB aligned");
    }
    assert!(bases[0] != bases[1] && bases[1] != bases[2] && bases[0] != bases[2]);
    // Guest page 0 is reserved no-access; the kernel-data page is committed read-only.
    assert_eq!(probe::access(at(&w.kernel, w.app, 0)), (false, false));
    assert_eq!(probe::access(at(&w.kernel, w.app, 0x5000)), (true, false));
}

#[test]
fn a_commit_shows_its_protection_and_every_revocation_takes_it_away() {
    let mut w = world();
    w.kmode(w.app);
    let a = w.t.virtual_alloc(0, 0x4000, COMMIT, RW).unwrap();
    w.check();
    let p = |va: u32| at(&w.kernel, w.app, va);
    for i in 0..4 {
        assert_eq!(probe::access(p(a + i * 0x1000)), (true, true), "page {i}");
    }
    // A write through the window is seen by the checked path, and the reverse.
    put(p(a + 0x10), 0x5A);
    assert_eq!(w.t.read_u8(a + 0x10).unwrap(), 0x5A);
    w.t.write_u8(a + 0x1011, 0xA5).unwrap();
    assert_eq!(get(p(a + 0x1011)), 0xA5);

    w.t.virtual_protect(a, 0x1000, Protection::READONLY)
        .unwrap();
    w.check();
    assert_eq!(probe::access(p(a)), (true, false));
    assert_eq!(probe::access(p(a + 0x1000)), (true, true));
    w.t.virtual_protect(a + 0x1000, 0x1000, RW | Protection::GUARD)
        .unwrap();
    w.check();
    assert_eq!(probe::access(p(a + 0x1000)), (false, false), "guard");
    w.t.virtual_protect(a + 0x2000, 0x1000, Protection::NOACCESS)
        .unwrap();
    assert_eq!(probe::access(p(a + 0x2000)), (false, false), "no access");
    w.t.virtual_protect(a + 0x2000, 0x1000, Protection::EXECUTE_READ)
        .unwrap();
    assert_eq!(probe::access(p(a + 0x2000)), (true, false), "execute-read");
    w.t.virtual_free(a + 0x3000, 0x1000, AllocType::DECOMMIT)
        .unwrap();
    w.check();
    assert_eq!(probe::access(p(a + 0x3000)), (false, false), "decommitted");
    assert_eq!(probe::access(p(a)), (true, false));
    w.t.virtual_free(a, 0, AllocType::RELEASE).unwrap();
    w.check();
    for i in 0..4 {
        assert_eq!(
            probe::access(p(a + i * 0x1000)),
            (false, false),
            "released {i}"
        );
    }
    // Reserved pages are not accessible either.
    let r =
        w.t.virtual_alloc(0, 0x2000, AllocType::RESERVE, RW)
            .unwrap();
    assert_eq!(probe::access(p(r)), (false, false));
    w.check();
}

#[test]
fn an_alias_and_its_source_are_one_host_page_across_processes() {
    let mut w = world();
    let buf = w.app_buffer(0x3000);
    w.driver();
    let alias =
        w.t.virtual_alloc_copy_ex(h(w.app), h(w.drv), buf + 0x10, 0x2000, RW)
            .unwrap();
    w.check();
    let src = at(&w.kernel, w.app, buf + 0x10);
    let dst = at(&w.kernel, w.drv, alias);
    assert_eq!(probe::access(dst), (true, true));
    put(src, 0x11);
    assert_eq!(get(dst), 0x11, "source write seen through the alias");
    put(dst.wrapping_add(0x1000), 0x22);
    assert_eq!(
        get(src.wrapping_add(0x1000)),
        0x22,
        "alias write seen at the source"
    );
    w.kmode(w.app);
    assert_eq!(
        w.t.read_u8(buf + 0x1010).unwrap(),
        0x22,
        "and by the checked path"
    );

    // Releasing the alias takes it out of the driver's window; the source stays.
    w.driver();
    w.t.virtual_free_ex(h(w.drv), alias & !0xFFFF, 0, AllocType::RELEASE)
        .unwrap();
    w.check();
    assert_eq!(probe::access(dst), (false, false));
    assert_eq!(probe::access(src), (true, true));

    // An alias survives its source's process; the ended process's window is gone.
    let alias =
        w.t.virtual_alloc_copy_ex(h(w.app), h(w.drv), buf, 0x1000, RW)
            .unwrap();
    let dst = at(&w.kernel, w.drv, alias);
    put(dst, 0x33);
    let app = w.app;
    w.nk();
    w.t.terminate_process(h(app), 0).unwrap();
    w.check();
    assert!(w.kernel.window(app).is_none());
    assert!(
        !probe::can_read(src),
        "the ended process's window is unmapped"
    );
    assert_eq!(probe::read(dst), Some(0x33), "the alias keeps the frame");
}

#[test]
fn alloc_phys_mem_devices_and_the_static_mapping_are_coherent_with_their_aliases() {
    let mut w = world();
    let ram_base = w.kernel.phys().ram_base();
    w.nk();
    let nk = w.kernel.kernel_pid();
    let (va, pa) = w.t.alloc_phys_mem(0x2000, RW, 0, 0).unwrap();
    w.check();
    let stat = 0x8000_0000 + (pa - ram_base) as u32;
    // The kernel half is the same in every window; the static mapping shows the frame.
    let in_nk = at(&w.kernel, nk, va);
    let in_app = at(&w.kernel, w.app, va);
    let static_drv = at(&w.kernel, w.drv, stat);
    put(in_nk, 0x44);
    assert_eq!(get(in_app), 0x44);
    assert_eq!(get(static_drv), 0x44);
    put(static_drv.wrapping_add(0x1001), 0x55);
    assert_eq!(get(in_app.wrapping_add(0x1001)), 0x55);
    assert_eq!(w.t.read_u8(va + 0x1001).unwrap(), 0x55);
    w.t.free_phys_mem(va).unwrap();
    w.check();
    assert_eq!(
        probe::access(in_app),
        (false, false),
        "freed: gone everywhere"
    );
    assert_eq!(probe::access(in_nk), (false, false));
    assert_eq!(
        probe::access(static_drv),
        (true, true),
        "the static mapping stays, as on CE"
    );

    // Device memory mapped into two processes is one host page.
    w.kernel.add_device("fb", 0x1000_0000, 0x4000).unwrap();
    w.kmode(w.drv);
    let d1 = w.t.mm_map_io_space(0x1000_0000, 0x2000, false).unwrap();
    w.kmode(w.app);
    let d2 = w.t.mm_map_io_space(0x1000_1000, 0x1000, false).unwrap();
    w.check();
    let p1 = at(&w.kernel, w.drv, d1 + 0x1000);
    let p2 = at(&w.kernel, w.app, d2);
    put(p1.wrapping_add(8), 0x66);
    assert_eq!(get(p2.wrapping_add(8)), 0x66);
    put(p2, 0x77);
    assert_eq!(get(p1), 0x77);
    assert_eq!(w.t.read_u8(d2).unwrap(), 0x77);
    w.t.mm_unmap_io_space(d2, 0x1000).unwrap();
    w.check();
    assert!(!probe::can_read(p2));
    assert_eq!(probe::read(p1), Some(0x77));
}

#[test]
fn shared_heap_commits_appear_in_every_window() {
    let mut w = world();
    w.nk();
    let s =
        w.t.ce_virtual_shared_alloc(0, 0x1000, AllocType::RESERVE | COMMIT)
            .unwrap();
    w.check();
    let in_app = at(&w.kernel, w.app, s);
    let in_drv = at(&w.kernel, w.drv, s);
    assert_eq!(probe::access(in_app), (true, true), "kernel-mode view");
    put(in_app, 0x99);
    assert_eq!(get(in_drv), 0x99);
    // A process created later shows it too.
    let late = w.kernel.create_process("late.exe").unwrap();
    assert_eq!(probe::read(at(&w.kernel, late, s)), Some(0x99));
    w.check();
    w.t.virtual_free(s, 0, AllocType::RELEASE).unwrap();
    w.check();
    assert!(!probe::can_read(in_drv) && !probe::can_read(at(&w.kernel, late, s)));
}

#[test]
fn a_guard_page_fault_is_consumed_and_reported_then_the_page_works() {
    let mut w = world();
    w.kmode(w.app);
    let a =
        w.t.virtual_alloc(0, 0x2000, COMMIT, RW | Protection::GUARD)
            .unwrap();
    let p = at(&w.kernel, w.app, a + 0x1004);
    assert!(!probe::can_read(p));
    assert_eq!(
        w.kernel.resolve_window_fault(p as usize, true),
        WindowFault::AccessViolation {
            address: a + 0x1004,
            write: true
        }
    );
    w.check();
    assert_eq!(probe::access(p), (true, true), "consumed: the page works");
    assert!(
        !probe::can_read(at(&w.kernel, w.app, a)),
        "the other stays a guard"
    );
    assert_eq!(w.q_in(w.app, a + 0x1000).protect, RW);
}

#[test]
fn an_auto_commit_fault_commits_a_zeroed_page_and_asks_for_a_retry() {
    let mut w = world();
    w.kmode(w.app);
    let a =
        w.t.virtual_alloc(0, 0x4000, AllocType::RESERVE | AllocType::AUTO_COMMIT, RW)
            .unwrap();
    let p = at(&w.kernel, w.app, a + 0x2008);
    assert!(!probe::can_read(p), "not committed yet");
    let free = w.free_frames();
    assert_eq!(
        w.kernel.resolve_window_fault(p as usize, false),
        WindowFault::Retry
    );
    w.check();
    assert_eq!(w.free_frames(), free - 1);
    assert_eq!(probe::access(p), (true, true));
    assert_eq!(get(p), 0);
    assert_eq!(w.q_in(w.app, a + 0x2000).state, COMMIT);
    assert!(
        !probe::can_read(at(&w.kernel, w.app, a)),
        "only the touched page"
    );
}

#[test]
fn a_fault_on_an_inaccessible_page_is_an_access_violation_with_the_guest_address() {
    let mut w = world();
    w.kmode(w.app);
    let a =
        w.t.virtual_alloc(0, 0x1000, AllocType::RESERVE, RW)
            .unwrap();
    let ro =
        w.t.virtual_alloc(0, 0x1000, COMMIT, Protection::READONLY)
            .unwrap();
    let k = &w.kernel;
    for (va, write) in [(a + 0x123, false), (ro + 4, true), (0x3000_0000, false)] {
        assert_eq!(
            k.resolve_window_fault(at(k, w.app, va) as usize, write),
            WindowFault::AccessViolation { address: va, write },
            "0x{va:08X}"
        );
    }
    let host = &w as *const World as usize;
    assert_eq!(k.resolve_window_fault(host, false), WindowFault::NotAWindow);
    w.check();
}

#[test]
fn ten_thousand_scattered_aliases_work_within_a_small_budget() {
    const N: u32 = 10_000;
    const BUDGET: usize = 64;
    let mut w = World::with_config(Config {
        host_windows: true,
        window_map_budget: Some(BUDGET),
        ram_bytes: 128 << 20,
        ..Config::default()
    });
    // Every other page of one buffer: no two aliases map consecutive frames.
    let buf = w.app_buffer(2 * N * 0x1000);
    w.kmode(w.app);
    for i in 0..N {
        w.t.write_u32(buf + 2 * i * 0x1000, i ^ 0xC0DE_0000)
            .unwrap();
    }
    w.driver();
    let mut aliases = Vec::with_capacity(N as usize);
    for i in 0..N {
        let a =
            w.t.virtual_alloc_copy_ex(h(w.app), h(w.drv), buf + 2 * i * 0x1000, 4, RW)
                .unwrap();
        aliases.push(a);
        assert!(w.kernel.window_stats().mappings <= BUDGET);
    }
    w.check();
    let stats = w.kernel.window_stats();
    assert_eq!(stats.budget, BUDGET);
    assert!(
        stats.pages_to_fault_path > 0,
        "the budget left pages to the fault path"
    );
    let mut faults = 0;
    for (i, &a) in aliases.iter().enumerate() {
        let p = at(&w.kernel, w.drv, a);
        let mut tries = 0;
        while !probe::can_read(p) {
            assert_eq!(
                w.kernel.resolve_window_fault(p as usize, false),
                WindowFault::Retry,
                "alias {i}"
            );
            faults += 1;
            tries += 1;
            assert!(tries < 3, "alias {i} never became readable");
        }
        // SAFETY: just probed readable; nothing else runs.
        let v = unsafe { p.cast::<u32>().read_volatile() };
        assert_eq!(v, i as u32 ^ 0xC0DE_0000, "alias {i}");
        assert!(w.kernel.window_stats().mappings <= BUDGET);
    }
    assert!(
        faults > N as usize / 2,
        "most aliases came through the fault path"
    );
    w.check();
}

#[test]
fn a_16_mib_commit_and_its_alias_are_one_host_mapping_each() {
    let mut w = world();
    w.kmode(w.app);
    let before = w.kernel.window_stats().mappings;
    let a = w.t.virtual_alloc(0, 16 << 20, COMMIT, RW).unwrap();
    assert_eq!(w.kernel.window_stats().mappings, before + 1);
    w.driver();
    let alias =
        w.t.virtual_alloc_copy_ex(h(w.app), h(w.drv), a, 16 << 20, RW)
            .unwrap();
    assert_eq!(w.kernel.window_stats().mappings, before + 2);
    put(at(&w.kernel, w.app, a + (16 << 20) - 1), 0xEE);
    assert_eq!(get(at(&w.kernel, w.drv, alias + (16 << 20) - 1)), 0xEE);
    w.check();
}

/// A writer that knows its entries form one run hands it to the window whole; releasing
/// that alias takes exactly its one mapping away, and its pages fault again.
#[test]
fn releasing_a_16_mib_alias_takes_its_one_mapping_away() {
    let mut w = world();
    w.kmode(w.app);
    let a = w.t.virtual_alloc(0, 16 << 20, COMMIT, RW).unwrap();
    w.driver();
    let before = w.kernel.window_stats().mappings;
    let alias =
        w.t.virtual_alloc_copy_ex(h(w.app), h(w.drv), a, 16 << 20, RW)
            .unwrap();
    assert_eq!(w.kernel.window_stats().mappings, before + 1);
    w.t.virtual_free_ex(h(w.drv), alias & !0xFFFF, 0, AllocType::RELEASE)
        .unwrap();
    assert_eq!(w.kernel.window_stats().mappings, before);
    for off in [0u32, 0x7F_F000, (16 << 20) - 1] {
        assert!(!probe::can_read(at(&w.kernel, w.drv, alias + off)));
    }
    assert!(probe::can_read(at(&w.kernel, w.app, a)));
    w.check();
}

/// Two neighbouring reservations whose frames follow on become one run of the window
/// (their pages are consecutive and so are their frames); releasing one of them must then
/// cut that run, not drop it: the other's pages stay mapped to their own frames.
#[test]
fn releasing_one_of_two_reservations_sharing_a_run_keeps_the_other_mapped() {
    let mut w = world();
    w.kmode(w.app);
    let a =
        w.t.virtual_alloc(0, 0x10000, AllocType::RESERVE, RW)
            .unwrap();
    let b =
        w.t.virtual_alloc(a + 0x10000, 0x10000, AllocType::RESERVE, RW);
    let Ok(b) = b else {
        panic!("the block after 0x{a:08X} should be free");
    };
    let m0 = w.kernel.window_stats().mappings;
    w.t.virtual_alloc(a, 0x10000, COMMIT, RW).unwrap();
    assert_eq!(
        w.kernel.window_stats().mappings,
        m0 + 1,
        "one run per commit"
    );
    w.t.virtual_alloc(b, 0x10000, COMMIT, RW).unwrap();
    // A protection change and back on the page after the seam: the window re-derives
    // that page with its neighbours, which join across the seam (fresh commits take the
    // next frames, so the two commits are one run of frames).
    w.t.virtual_protect(b, 0x1000, Protection::READONLY)
        .unwrap();
    w.t.virtual_protect(b, 0x1000, RW).unwrap();
    assert_eq!(
        w.kernel.window_stats().mappings,
        m0 + 1,
        "one run across the seam"
    );
    w.check();
    put(at(&w.kernel, w.app, b + 0x10), 0x5B);
    w.t.virtual_free(a, 0, AllocType::RELEASE).unwrap();
    w.check();
    assert_eq!(w.kernel.window_stats().mappings, m0 + 1);
    assert!(!probe::can_read(at(&w.kernel, w.app, a + 0xF000)));
    assert_eq!(probe::read(at(&w.kernel, w.app, b + 0x10)), Some(0x5B));
    assert!(probe::can_write(at(&w.kernel, w.app, b + 0xFFFF)));
}

/// With windows the allocator prefers consecutive frames: a commit on a pool with a
/// one-frame hole below takes the lowest run long enough, so it is one host mapping
/// (lowest-first would take the hole and make two).
#[test]
fn a_commit_over_a_fragmented_pool_takes_consecutive_frames_and_is_one_mapping() {
    let mut w = world();
    w.kmode(w.app);
    let pages: Vec<u32> = (0..3)
        .map(|_| w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap())
        .collect();
    let frame = |w: &mut World, va: u32| {
        let f =
            w.t.lock_pages(va, 0x1000, cevm::LockFlags::empty())
                .unwrap()[0];
        w.t.unlock_pages(va, 0x1000).unwrap();
        f
    };
    let hole = frame(&mut w, pages[1]);
    assert_eq!(
        frame(&mut w, pages[2]),
        hole + 0x1000,
        "fresh commits follow on"
    );
    w.t.virtual_free(pages[1], 0, AllocType::RELEASE).unwrap();
    let m0 = w.kernel.window_stats().mappings;
    let big = w.t.virtual_alloc(0, 0x4000, COMMIT, RW).unwrap();
    assert_eq!(w.kernel.window_stats().mappings, m0 + 1);
    let got: Vec<u64> = (0..4).map(|i| frame(&mut w, big + i * 0x1000)).collect();
    assert!(
        !got.contains(&hole),
        "the hole is left for a smaller request"
    );
    assert!(got.windows(2).all(|p| p[1] == p[0] + 0x1000), "{got:x?}");
    // A one-page request still takes the lowest free frame: the hole.
    let one = w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    assert_eq!(frame(&mut w, one), hole);
    w.check();
}

/// A range committed page by page, each page's frame following the last, is one run of the
/// window: a commit that continues a touching run joins it rather than standing beside it,
/// whether the touching run is after it or before it.
#[test]
fn a_range_committed_page_by_page_is_one_host_mapping() {
    let mut w = world();
    w.kmode(w.app);
    let a =
        w.t.virtual_alloc(0, 0x10000, AllocType::RESERVE, RW)
            .unwrap();
    let m0 = w.kernel.window_stats().mappings;
    // Page 1 first, on the frame after a placeholder's; then page 0 takes the
    // placeholder's frame: it continues the run after it.
    let hold = w.t.virtual_alloc(0, 0x1000, COMMIT, RW).unwrap();
    w.t.virtual_alloc(a + 0x1000, 0x1000, COMMIT, RW).unwrap();
    w.t.virtual_free(hold, 0, AllocType::RELEASE).unwrap();
    w.t.virtual_alloc(a, 0x1000, COMMIT, RW).unwrap();
    // Then pages 2 to 15 from the bottom up: each continues the run before it.
    for i in 2..16 {
        w.t.virtual_alloc(a + i * 0x1000, 0x1000, COMMIT, RW)
            .unwrap();
    }
    let frames: Vec<u64> = (0..16)
        .map(|i| {
            w.t.lock_pages(a + i * 0x1000, 0x1000, cevm::LockFlags::QUERY_ONLY)
                .unwrap()[0]
        })
        .collect();
    assert!(
        frames.windows(2).all(|p| p[1] == p[0] + 0x1000),
        "the frames follow the pages: {frames:x?}"
    );
    assert_eq!(w.kernel.window_stats().mappings, m0 + 1);
    w.check();
}

/// The writers that know what they wrote spare the sync its read-back: a 16 MiB commit, its
/// alias into another process and the alias's release re-derive no page from the entries,
/// while a protection change on one page (which says nothing of its shape) does.
#[test]
fn a_large_commit_alias_and_release_are_synced_without_reading_entries_back() {
    let mut w = world();
    w.kmode(w.app);
    let read = |w: &World| w.kernel.window_stats().pages_rederived;
    let r0 = read(&w);
    let a = w.t.virtual_alloc(0, 16 << 20, COMMIT, RW).unwrap();
    w.driver();
    let alias =
        w.t.virtual_alloc_copy_ex(h(w.app), h(w.drv), a, 16 << 20, RW)
            .unwrap();
    w.t.virtual_free_ex(h(w.drv), alias & !0xFFFF, 0, AllocType::RELEASE)
        .unwrap();
    assert_eq!(read(&w), r0, "nothing was read back");
    w.kmode(w.app);
    w.t.virtual_protect(a, 0x1000, Protection::READONLY)
        .unwrap();
    assert!(read(&w) > r0, "a protection change is re-derived");
    w.check();
}
