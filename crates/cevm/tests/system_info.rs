//! semantics.md §5.13 GetSystemInfo, GlobalMemoryStatus and the process-id calls.

mod common;

use cevm::{AllocType, Config, Mode, Protection};
use common::{RW, World};

#[test]
fn system_info_reports_the_x86_ce_constants() {
    let mut w = World::new();
    for (pid, mode) in [(w.app, Mode::User), (w.kernel.kernel_pid(), Mode::Kernel)] {
        w.t.enter(pid, mode, None).unwrap();
        let s = w.t.get_system_info();
        assert_eq!(s.page_size, 4096);
        assert_eq!(s.minimum_application_address, 0x10000);
        assert_eq!(s.maximum_application_address, 0x7FFF_FFFF);
        assert_eq!(s.allocation_granularity, 0x10000);
        assert_eq!(s.active_processor_mask, 1);
        assert_eq!(s.number_of_processors, 1);
        assert_eq!(s.processor_architecture, 0);
        assert_eq!(s.processor_type, 586);
    }
    w.check();
}

#[test]
fn memory_status_of_a_fresh_kernel() {
    let mut w = World::new();
    w.user(w.app);
    let m = w.t.global_memory_status();
    // 16384 frames, two in use (the kernel-data pages of app.exe and udevice.exe).
    assert_eq!(m.length, 32);
    assert_eq!(m.total_phys, 0x400_0000);
    assert_eq!(m.avail_phys, 16382 * 4096);
    // 100 - 16382 * 100 / 16384 = 100 - 99 (integer division).
    assert_eq!(m.memory_load, 1);
    assert_eq!(m.total_page_file, 0);
    assert_eq!(m.avail_page_file, 0);
    assert_eq!(m.total_virtual, 0x4000_0000);
    // Every block from 0x10000 to 0x40000000 is free: the first block and the DLL
    // barrier at 0x40000000 lie outside that range.
    assert_eq!(m.avail_virtual, 0x3FFF_0000);
    w.check();
}

#[test]
fn memory_status_follows_the_frames_in_use() {
    let mut w = World::with_config(Config {
        ram_bytes: 100 * 4096,
        ..Config::default()
    });
    w.user(w.app);
    // 100 frames, 2 used: 100 - 9800 / 100 = 2.
    assert_eq!(w.t.global_memory_status().memory_load, 2);
    w.t.virtual_alloc(0, 33 * 4096, AllocType::COMMIT, RW)
        .unwrap();
    w.check();
    let m = w.t.global_memory_status();
    assert_eq!(m.total_phys, 100 * 4096);
    assert_eq!(m.avail_phys, 65 * 4096);
    assert_eq!(m.memory_load, 35);
    // 98 frames used: 100 - 200 / 100 = 98; all used: 100.
    w.t.virtual_alloc(0, 63 * 4096, AllocType::COMMIT, RW)
        .unwrap();
    assert_eq!(w.t.global_memory_status().memory_load, 98);
    w.t.virtual_alloc(0, 2 * 4096, AllocType::COMMIT, RW)
        .unwrap();
    w.check();
    let m = w.t.global_memory_status();
    assert_eq!((m.avail_phys, m.memory_load), (0, 100));
}

#[test]
fn memory_load_rounds_the_free_share_down() {
    // 3 frames, 2 used: 100 - 100 / 3 = 100 - 33 = 67.
    let mut w = World::with_config(Config {
        ram_bytes: 3 * 4096,
        ..Config::default()
    });
    w.user(w.app);
    let m = w.t.global_memory_status();
    assert_eq!(
        (m.total_phys, m.avail_phys, m.memory_load),
        (0x3000, 0x1000, 67)
    );
}

#[test]
fn avail_virtual_counts_wholly_free_blocks_of_the_active_process() {
    let mut w = World::new();
    w.user(w.app);
    // One page reserves a whole block.
    w.t.virtual_alloc(0, 0x1000, AllocType::RESERVE, Protection::NOACCESS)
        .unwrap();
    assert_eq!(w.t.global_memory_status().avail_virtual, 0x3FFE_0000);
    // 0x10001 bytes take two blocks.
    w.t.virtual_alloc(0, 0x10001, AllocType::COMMIT, RW)
        .unwrap();
    w.check();
    assert_eq!(w.t.global_memory_status().avail_virtual, 0x3FFC_0000);
    // The last block below 0x40000000 counts too.
    w.t.virtual_alloc(
        0x3FFF_0000,
        0x10000,
        AllocType::RESERVE,
        Protection::NOACCESS,
    )
    .unwrap();
    w.check();
    assert_eq!(w.t.global_memory_status().avail_virtual, 0x3FFB_0000);
    // It is the active process's figure: udevice.exe is untouched.
    w.user(w.drv);
    assert_eq!(w.t.global_memory_status().avail_virtual, 0x3FFF_0000);
    // A kernel-mode reservation above 0x40000000 is outside the range.
    w.kmode(w.drv);
    w.t.virtual_alloc(
        0x6000_0000,
        0x10000,
        AllocType::RESERVE,
        Protection::NOACCESS,
    )
    .unwrap();
    w.check();
    assert_eq!(w.t.global_memory_status().avail_virtual, 0x3FFF_0000);
    // Releasing gives the blocks back.
    w.user(w.app);
    w.t.virtual_free(0x20000, 0, AllocType::RELEASE).unwrap();
    w.check();
    assert_eq!(w.t.global_memory_status().avail_virtual, 0x3FFD_0000);
    // The kernel process has nothing of its own there.
    w.nk();
    assert_eq!(w.t.global_memory_status().avail_virtual, 0x3FFF_0000);
}

#[test]
fn process_ids_follow_the_context() {
    let mut w = World::new();
    let k = w.kernel.kernel_pid();
    // A new thread runs in NK.EXE and nobody called it.
    assert_eq!(w.t.current_process_id(), k);
    assert_eq!(w.t.caller_vm_process_id(), k);
    assert_eq!(w.t.direct_caller_process_id(), k);
    // A driver in udevice.exe called by app.exe.
    w.t.enter(w.drv, Mode::Kernel, Some(w.app)).unwrap();
    assert_eq!(w.t.current_process_id(), w.drv);
    assert_eq!(w.t.caller_vm_process_id(), w.drv);
    assert_eq!(w.t.direct_caller_process_id(), w.app);
    // User mode without a caller: the owner, here the process itself (§5.13).
    w.t.enter(w.drv, Mode::User, None).unwrap();
    assert_eq!(w.t.current_process_id(), w.drv);
    assert_eq!(w.t.direct_caller_process_id(), w.drv);
    // The ids are distinct and each is the process's own.
    assert_ne!(w.app, w.drv);
    assert_ne!(w.app, k);
    assert_eq!(w.kernel.process(w.app).unwrap().name(), "app.exe");
    assert_eq!(w.kernel.process(k).unwrap().name(), "NK.EXE");
    assert!(w.kernel.process(k).unwrap().is_kernel());
    w.check();
}
