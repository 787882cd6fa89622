//! VirtualCopy / VirtualCopyEx (semantics.md §5.5) and their handle checks (§2).

mod common;

use cevm::{AllocType, ErrorCode, Handle, ProcessAccess, Protection};
use common::{
    COMMIT, NA, RESERVE, RO, RW, World, assert_av, assert_fails, committed, phys_of, q, reserved,
};

const PHYS: Protection = Protection::PHYSICAL;

/// Kernel mode in app: `src` = 0x10000, two committed read/write pages with markers;
/// `dst` = 0x20000, a 0x2000-byte reservation.
fn setup() -> (World, u32, u32) {
    let mut w = World::new();
    w.kmode(w.app);
    let src = w.t.virtual_alloc(0, 0x2000, COMMIT, RW).unwrap();
    let dst = w.t.virtual_alloc(0, 0x2000, RESERVE, NA).unwrap();
    assert_eq!((src, dst), (0x10000, 0x20000));
    w.t.write_u32(src + 0x10, 0xCAFE_F00D).unwrap();
    w.t.write_u32(src + 0x1010, 0x0BAD_BEEF).unwrap();
    w.check();
    (w, src, dst)
}

#[track_caller]
fn assert_dst_untouched(w: &mut World, dst: u32, size: u32) {
    assert_eq!(q(w, dst), reserved(dst, dst, size));
}

// ---------------------------------------------------------------- effects

#[test]
fn copy_maps_the_source_frames_with_the_requested_protection() {
    let (mut w, src, dst) = setup();
    let frames = w.free_frames();
    w.t.virtual_copy(dst, src, 0x2000, RO).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames, "no new frames");
    assert_eq!(q(&mut w, dst), committed(dst, dst, 0x2000, RO));
    assert_eq!(q(&mut w, src), committed(src, src, 0x2000, RW));
    assert_eq!(w.t.read_u32(dst + 0x10).unwrap(), 0xCAFE_F00D);
    assert_eq!(w.t.read_u32(dst + 0x1010).unwrap(), 0x0BAD_BEEF);
    w.t.write_u32(src + 0x1010, 0x1122_3344).unwrap();
    assert_eq!(
        w.t.read_u32(dst + 0x1010).unwrap(),
        0x1122_3344,
        "both map the same frames"
    );
    assert_av(w.t.write_u8(dst, 1), dst, true, &w);
}

#[test]
fn a_read_write_copy_of_a_read_only_source_is_writable() {
    let (mut w, src, dst) = setup();
    w.t.virtual_protect(src, 0x2000, RO).unwrap();
    w.check();
    w.t.virtual_copy(dst, src, 0x2000, RW).unwrap();
    w.check();
    w.t.write_u32(dst + 0x10, 5).unwrap();
    assert_eq!(w.t.read_u32(src + 0x10).unwrap(), 5);
    assert_av(w.t.write_u8(src, 1), src, true, &w);
}

#[test]
fn a_copied_page_outlives_the_release_of_its_source() {
    let (mut w, src, dst) = setup();
    w.t.virtual_copy(dst, src, 0x2000, RW).unwrap();
    w.check();
    let frames = w.free_frames();
    w.t.virtual_free(src, 0, AllocType::RELEASE).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames, "the copy still holds the frames");
    assert_eq!(w.t.read_u32(dst + 0x10).unwrap(), 0xCAFE_F00D);
    w.t.virtual_free(dst, 0, AllocType::RELEASE).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames + 2);
}

#[test]
fn decommit_ends_the_mapping_of_copied_pages() {
    let (mut w, src, dst) = setup();
    w.t.virtual_copy(dst, src, 0x2000, RW).unwrap();
    w.check();
    let frames = w.free_frames();
    w.t.virtual_free(dst, 0x1000, AllocType::DECOMMIT).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames);
    assert_eq!(q(&mut w, dst), reserved(dst, dst, 0x1000));
    assert_av(w.t.read_u8(dst), dst, false, &w);
    assert_eq!(w.t.read_u32(src + 0x10).unwrap(), 0xCAFE_F00D);
    w.t.virtual_free(src, 0, AllocType::RELEASE).unwrap();
    w.check();
    assert_eq!(
        w.free_frames(),
        frames + 1,
        "page 0's frame is free, page 1's still mapped"
    );
}

#[test]
fn a_partial_range_maps_every_page_it_touches() {
    let (mut w, src, dst) = setup();
    // (0x20FF0, 0x20): bytes from page 0 into page 1; offsets agree (0xFF0).
    w.t.virtual_copy(dst + 0xFF0, src + 0xFF0, 0x20, RW)
        .unwrap();
    w.check();
    assert_eq!(q(&mut w, dst), committed(dst, dst, 0x2000, RW));
    assert_eq!(w.t.read_u32(dst + 0x10).unwrap(), 0xCAFE_F00D);
}

#[test]
fn copy_with_guard_gives_the_destination_its_own_guard_pages() {
    let (mut w, src, dst) = setup();
    w.t.virtual_copy(dst, src, 0x1000, RW | Protection::GUARD)
        .unwrap();
    w.check();
    assert_eq!(q(&mut w, dst).protect, RW | Protection::GUARD);
    assert_eq!(
        w.t.read_u32(src + 0x10).unwrap(),
        0xCAFE_F00D,
        "source is no guard page"
    );
    assert_av(w.t.read_u32(dst + 0x10), dst + 0x10, false, &w);
    assert_eq!(w.t.read_u32(dst + 0x10).unwrap(), 0xCAFE_F00D);
}

#[test]
fn virtual_copy_ex_maps_another_processs_pages() {
    let (mut w, src, _) = setup();
    w.kmode(w.drv);
    let d = w.t.virtual_alloc(0, 0x2000, RESERVE, NA).unwrap();
    w.t.virtual_copy_ex(w.drv.into(), d, w.app.into(), src, 0x2000, RW)
        .unwrap();
    w.check();
    assert_eq!(w.t.read_u32(d + 0x1010).unwrap(), 0x0BAD_BEEF);
    w.t.write_u32(d + 0x10, 7).unwrap();
    // Named from a third context: NK in kernel mode.
    w.nk();
    let d2 =
        w.t.virtual_alloc_ex(w.drv.into(), 0, 0x1000, RESERVE, NA)
            .unwrap();
    w.t.virtual_copy_ex(w.drv.into(), d2, w.app.into(), src, 0x1000, RO)
        .unwrap();
    w.check();
    w.kmode(w.app);
    assert_eq!(w.t.read_u32(src + 0x10).unwrap(), 7);
    w.kmode(w.drv);
    assert_eq!(w.t.read_u32(d2 + 0x10).unwrap(), 7);
}

#[test]
fn a_null_source_handle_means_the_destination_process() {
    let (mut w, _, _) = setup();
    w.nk();
    let drv = Handle::from(w.drv);
    let s = w.t.virtual_alloc_ex(drv, 0, 0x1000, COMMIT, RW).unwrap();
    let d = w.t.virtual_alloc_ex(drv, 0, 0x1000, RESERVE, NA).unwrap();
    assert_eq!((s, d), (0x10000, 0x20000));
    w.t.virtual_copy_ex(drv, d, Handle::NULL, s, 0x1000, RW)
        .unwrap();
    w.check();
    w.kmode(w.drv);
    w.t.write_u8(s + 3, 0x33).unwrap();
    assert_eq!(w.t.read_u8(d + 3).unwrap(), 0x33);
    // The app's 0x10000/0x20000 are untouched.
    w.kmode(w.app);
    assert_dst_untouched(&mut w, 0x20000, 0x2000);
}

#[test]
fn copies_into_and_out_of_kernel_memory() {
    let (mut w, src, _) = setup();
    let nk = w.kernel.kernel_pid();
    w.kmode(nk);
    let k = w.t.virtual_alloc(0, 0x1000, RESERVE, NA).unwrap();
    assert_eq!(k, 0x8400_0000);
    w.t.virtual_copy_ex(nk.into(), k, w.app.into(), src, 0x1000, RW)
        .unwrap();
    w.check();
    assert_eq!(w.t.read_u32(k + 0x10).unwrap(), 0xCAFE_F00D);
    // Kernel pages are a valid source for a process destination.
    let k2 =
        w.t.virtual_alloc(0x9000_0000, 0x1000, RESERVE | COMMIT, RW)
            .unwrap();
    w.t.write_u32(k2 + 0x20, 0x600D).unwrap();
    w.kmode(w.drv);
    let d = w.t.virtual_alloc(0, 0x1000, RESERVE, NA).unwrap();
    w.t.virtual_copy(d, k2, 0x1000, RO).unwrap();
    w.check();
    assert_eq!(w.t.read_u32(d + 0x20).unwrap(), 0x600D);
    w.user(w.drv);
    assert_eq!(
        w.t.read_u32(d + 0x20).unwrap(),
        0x600D,
        "the alias is a user page"
    );
}

// ---------------------------------------------------------------- step 1: handles

#[test]
fn virtual_copy_in_user_mode_fails_with_50_and_changes_nothing() {
    let (mut w, src, dst) = setup();
    w.user(w.app);
    let frames = w.free_frames();
    assert_fails(
        w.t.virtual_copy(dst, src, 0x2000, RW),
        (ErrorCode::NotSupported, "5.5.1"),
        &w,
    );
    // 50 comes before every argument check.
    assert_fails(
        w.t.virtual_copy(0xFFFF_F000, 1, 0, Protection::empty()),
        (ErrorCode::NotSupported, "5.5.1"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy_ex(w.app.into(), dst, Handle::NULL, src, 0x2000, RW),
        (ErrorCode::NotSupported, "5.5.1"),
        &w,
    );
    assert_eq!(w.free_frames(), frames);
    assert_dst_untouched(&mut w, dst, 0x2000);
}

#[test]
fn destination_handle_checks_go_6_then_50_then_5() {
    let (mut w, src, dst) = setup();
    let weak = w.open(ProcessAccess::VM_READ | ProcessAccess::VM_WRITE, w.app);
    let closed = w.closed_handle(w.app);
    let app = Handle::from(w.app);
    w.user(w.app);
    // User mode: an invalid handle is 6, a weak one 50 (not 5).
    assert_fails(
        w.t.virtual_copy_ex(Handle(0xDEAD), dst, app, src, 0x1000, RW),
        (ErrorCode::InvalidHandle, "5.5.1"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy_ex(closed, dst, app, src, 0x1000, RW),
        (ErrorCode::InvalidHandle, "5.5.1"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy_ex(weak, dst, app, src, 0x1000, RW),
        (ErrorCode::NotSupported, "5.5.1"),
        &w,
    );
    // The destination's 50 comes before the source handle's checks.
    assert_fails(
        w.t.virtual_copy_ex(app, dst, Handle(0xDEAD), src, 0x1000, RW),
        (ErrorCode::NotSupported, "5.5.1"),
        &w,
    );
    // Kernel mode: a weak destination is 5, even with an invalid source handle.
    w.kmode(w.app);
    assert_fails(
        w.t.virtual_copy_ex(weak, dst, app, src, 0x1000, RW),
        (ErrorCode::AccessDenied, "5.5.1"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy_ex(weak, dst, Handle(0xDEAD), src, 0x1000, RW),
        (ErrorCode::AccessDenied, "5.5.1"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy_ex(Handle(0xDEAD), dst, weak, src, 0x1000, RW),
        (ErrorCode::InvalidHandle, "5.5.1"),
        &w,
    );
    assert_dst_untouched(&mut w, dst, 0x2000);
}

#[test]
fn source_handle_checks_come_after_the_destinations_and_before_the_arguments() {
    let (mut w, src, dst) = setup();
    let weak = w.open(ProcessAccess::VM_READ, w.app);
    let closed = w.closed_handle(w.app);
    let app = Handle::from(w.app);
    for (d, s, n, prot) in [
        (dst, src, 0x1000, RW),
        (0xFFFF_F000, 0x123, 0, Protection::empty()),
    ] {
        assert_fails(
            w.t.virtual_copy_ex(app, d, Handle(0xDEAD), s, n, prot),
            (ErrorCode::InvalidHandle, "5.5.1"),
            &w,
        );
        assert_fails(
            w.t.virtual_copy_ex(app, d, closed, s, n, prot),
            (ErrorCode::InvalidHandle, "5.5.1"),
            &w,
        );
        assert_fails(
            w.t.virtual_copy_ex(app, d, weak, s, n, prot),
            (ErrorCode::AccessDenied, "5.5.1"),
            &w,
        );
    }
    assert_dst_untouched(&mut w, dst, 0x2000);
    let ok = w.open(ProcessAccess::VM_OPERATION, w.app);
    w.t.virtual_copy_ex(Handle::CURRENT_PROCESS, dst, ok, src, 0x1000, RW)
        .unwrap();
    w.check();
    assert_eq!(w.t.read_u32(dst + 0x10).unwrap(), 0xCAFE_F00D);
}

#[test]
fn terminated_processes_fail_with_6_on_either_side() {
    let (mut w, src, dst) = setup();
    let h = w.terminate_with_handle(w.drv);
    let app = Handle::from(w.app);
    let drv = Handle::from(w.drv);
    assert_fails(
        w.t.virtual_copy_ex(drv, dst, app, src, 0x1000, RW),
        (ErrorCode::InvalidHandle, "5.5.1"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy_ex(h, dst, app, src, 0x1000, RW),
        (ErrorCode::InvalidHandle, "5.5.1"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy_ex(app, dst, drv, src, 0x1000, RW),
        (ErrorCode::InvalidHandle, "5.5.1"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy_ex(app, dst, h, src, 0x1000, RW),
        (ErrorCode::InvalidHandle, "5.5.1"),
        &w,
    );
    assert_dst_untouched(&mut w, dst, 0x2000);
    // A thread left in a terminated process: 6 before 50.
    w.user(w.app);
    w.t.terminate_process(Handle::CURRENT_PROCESS, 0).unwrap();
    w.check();
    assert_fails(
        w.t.virtual_copy(dst, src, 0x1000, RW),
        (ErrorCode::InvalidHandle, "5.5.1"),
        &w,
    );
}

// ---------------------------------------------------------------- steps 2 and 3

#[test]
fn the_destination_must_lie_inside_the_requested_size_of_one_reservation() {
    let (mut w, src, _) = setup();
    let d = w.t.virtual_alloc(0, 100, RESERVE, NA).unwrap();
    let frames = w.free_frames();
    assert_fails(
        w.t.virtual_copy(d, src, 0x1000, RW),
        (ErrorCode::InvalidParameter, "5.5.2"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy(d, src, 101, RW),
        (ErrorCode::InvalidParameter, "5.5.2"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy(0x50000, src, 0x1000, RW),
        (ErrorCode::InvalidParameter, "5.5.2"),
        &w,
    );
    // Across two reservations (0x20000 and d = 0x30000).
    assert_fails(
        w.t.virtual_copy(0x21000, src, 0x10000, RW),
        (ErrorCode::InvalidParameter, "5.5.2"),
        &w,
    );
    assert_eq!(w.free_frames(), frames);
    assert_dst_untouched(&mut w, d, 0x1000);
    assert_dst_untouched(&mut w, 0x20000, 0x2000);
    w.t.virtual_copy(d, src, 100, RW).unwrap();
    w.check();
    assert_eq!(w.t.read_u32(d + 0x10).unwrap(), 0xCAFE_F00D);
}

#[test]
fn a_process_destination_below_0x10000_or_in_the_kernel_half_fails() {
    let (mut w, src, _) = setup();
    // 0x1000 is a reserved page of the app's first block, which is not a VA record (§4):
    // step 2 rejects it before step 3's area rule can. No process record lies below
    // 0x10000, so that half of the area rule is never the first to fail.
    assert_fails(
        w.t.virtual_copy(0x1000, src, 0x1000, RW),
        (ErrorCode::InvalidParameter, "5.5.2"),
        &w,
    );
    assert_av(w.t.read_u8(0x1000), 0x1000, false, &w);
    // A kernel reservation named through a process handle.
    let nk = w.kernel.kernel_pid();
    w.kmode(nk);
    let k = w.t.virtual_alloc(0, 0x1000, RESERVE, NA).unwrap();
    let app = Handle::from(w.app);
    assert_fails(
        w.t.virtual_copy_ex(app, k, app, src, 0x1000, RW),
        (ErrorCode::InvalidParameter, "5.5.3"),
        &w,
    );
    assert_dst_untouched(&mut w, k, 0x1000);
    w.t.virtual_copy_ex(nk.into(), k, app, src, 0x1000, RW)
        .unwrap();
    w.check();
    assert_eq!(w.t.read_u32(k + 0x10).unwrap(), 0xCAFE_F00D);
}

#[test]
fn non_positive_sizes_and_invalid_protections_fail_with_87() {
    let (mut w, src, dst) = setup();
    // Step 2 comes first: a size that is negative as an int runs past the destination's
    // record as an unsigned length, so only the empty range reaches step 3's size check.
    for n in [0, 0x8000_0000, 0xFFFF_FFFF, 0x7FFF_FFFF] {
        assert_fails(
            w.t.virtual_copy(dst, src, n, RW),
            (
                ErrorCode::InvalidParameter,
                if n == 0 { "5.5.3" } else { "5.5.2" },
            ),
            &w,
        );
    }
    for bad in [
        0,
        0x08,
        0x80,
        0x100,
        0x200,
        0x101,
        0x06,
        0x400,
        0x408,
        0x800 | 0x04,
    ] {
        assert_fails(
            w.t.virtual_copy(dst, src, 0x1000, Protection::from_bits_retain(bad)),
            (ErrorCode::InvalidParameter, "5.5.3"),
            &w,
        );
    }
    assert_dst_untouched(&mut w, dst, 0x2000);
}

// ---------------------------------------------------------------- step 4: page offsets

#[test]
fn page_offsets_must_agree() {
    let (mut w, src, dst) = setup();
    assert_fails(
        w.t.virtual_copy(dst + 0x10, src + 0x20, 0x100, RW),
        (ErrorCode::InvalidParameter, "5.5.4"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy(dst, src + 0x10, 0x100, RW),
        (ErrorCode::InvalidParameter, "5.5.4"),
        &w,
    );
    assert_dst_untouched(&mut w, dst, 0x2000);
    w.t.virtual_copy(dst + 0x1010, src + 0x10, 0x100, RW)
        .unwrap();
    w.check();
    assert_eq!(w.t.read_u32(dst + 0x1010).unwrap(), 0xCAFE_F00D);
    assert_eq!(q(&mut w, dst), reserved(dst, dst, 0x1000));
}

#[test]
fn a_physical_source_offset_is_taken_from_the_shifted_address() {
    let (mut w, src, dst) = setup();
    let pa = phys_of(&mut w, src);
    // PA + 0x10 shifted right by 8 loses the low byte: offset 0x000 (not 0x010).
    let s = ((pa + 0x110) >> 8) as u32;
    assert_fails(
        w.t.virtual_copy(dst + 0x110, s, 0x10, RW | PHYS),
        (ErrorCode::InvalidParameter, "5.5.4"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy(dst + 0x10, s, 0x10, RW | PHYS),
        (ErrorCode::InvalidParameter, "5.5.4"),
        &w,
    );
    assert_dst_untouched(&mut w, dst, 0x2000);
    w.t.virtual_copy(dst + 0x100, s, 0x10, RW | PHYS).unwrap();
    w.check();
    assert_eq!(w.t.read_u32(dst + 0x10).unwrap(), 0xCAFE_F00D);
}

// ---------------------------------------------------------------- step 5: sources

#[test]
fn a_physical_ram_source_maps_that_frame_and_holds_a_reference() {
    let (mut w, src, dst) = setup();
    let pa = phys_of(&mut w, src + 0x1000);
    let frames = w.free_frames();
    w.t.virtual_copy(dst, (pa >> 8) as u32, 0x1000, RW | PHYS)
        .unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames);
    assert_eq!(q(&mut w, dst), committed(dst, dst, 0x1000, RW));
    assert_eq!(w.t.read_u32(dst + 0x10).unwrap(), 0x0BAD_BEEF);
    w.t.virtual_free(src, 0, AllocType::RELEASE).unwrap();
    w.check();
    assert_eq!(
        w.free_frames(),
        frames + 1,
        "only the unmapped page's frame is freed"
    );
    assert_eq!(w.t.read_u32(dst + 0x10).unwrap(), 0x0BAD_BEEF);
    w.t.virtual_free(dst, 0, AllocType::RELEASE).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames + 2);
}

#[test]
fn a_free_ram_frame_mapped_by_physical_address_leaves_the_pool() {
    let (mut w, _, dst) = setup();
    // The last RAM frame (64 MiB - 4 KiB) is free in a fresh world.
    let pa: u64 = (64 << 20) - 0x1000;
    assert!(w.kernel.phys().is_free(((64 << 20) >> 12) - 1));
    let frames = w.free_frames();
    w.t.virtual_copy(dst, (pa >> 8) as u32, 0x1000, RW | PHYS)
        .unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames - 1);
    w.t.virtual_free(dst, 0, AllocType::RELEASE).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames);
}

#[test]
fn a_physical_source_outside_ram_and_devices_fails() {
    let (mut w, _, dst) = setup();
    let frames = w.free_frames();
    let last: u64 = (64 << 20) - 0x1000;
    for (pa, n) in [(64u64 << 20, 0x1000), (last, 0x2000), (0x9000_0000, 0x1000)] {
        assert_fails(
            w.t.virtual_copy(dst, (pa >> 8) as u32, n, RW | PHYS),
            (ErrorCode::InvalidParameter, "5.5.5"),
            &w,
        );
    }
    // The largest shifted value: PA 0xFF_FFFF_FF00, page offset 0xF00.
    assert_fails(
        w.t.virtual_copy(dst + 0xF00, 0xFFFF_FFFF, 0x100, RW | PHYS),
        (ErrorCode::InvalidParameter, "5.5.5"),
        &w,
    );
    assert_eq!(w.free_frames(), frames);
    assert_dst_untouched(&mut w, dst, 0x2000);
}

#[test]
fn a_device_source_maps_device_memory_without_counting_frames() {
    let (mut w, _, dst) = setup();
    w.kernel.add_device("uart", 0x9000_0000, 0x2000).unwrap();
    w.check();
    let frames = w.free_frames();
    let s = (0x9000_0000u64 >> 8) as u32;
    // Past the end of dst's record: step 2.
    assert_fails(
        w.t.virtual_copy(dst, s, 0x3000, RW | PHYS),
        (ErrorCode::InvalidParameter, "5.5.2"),
        &w,
    );
    // Into a record big enough, past the end of the device: step 5.
    let d3 = w.t.virtual_alloc(0, 0x3000, RESERVE, NA).unwrap();
    assert_fails(
        w.t.virtual_copy(d3, s, 0x3000, RW | PHYS),
        (ErrorCode::InvalidParameter, "5.5.5"),
        &w,
    );
    assert_dst_untouched(&mut w, d3, 0x3000);
    w.t.virtual_copy(dst, s, 0x2000, RW | Protection::NOCACHE | PHYS)
        .unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames);
    assert_eq!(
        q(&mut w, dst),
        committed(dst, dst, 0x2000, RW | Protection::NOCACHE)
    );
    w.t.write_u32(dst + 0x1004, 0x55AA).unwrap();
    let d2 = w.t.virtual_alloc(0, 0x1000, RESERVE, NA).unwrap();
    w.t.virtual_copy(d2, s + 0x10, 0x1000, RO | PHYS).unwrap();
    w.check();
    assert_eq!(w.t.read_u32(d2 + 4).unwrap(), 0x55AA);
    w.t.virtual_free(dst, 0, AllocType::RELEASE).unwrap();
    w.t.virtual_free(d2, 0, AllocType::RELEASE).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames);
}

#[test]
fn a_kernel_static_source_maps_its_ram_frames() {
    let (mut w, src, dst) = setup();
    let pa = phys_of(&mut w, src);
    let s = 0x8000_0000 + pa as u32;
    let frames = w.free_frames();
    w.t.virtual_copy(dst + 0x10, s + 0x10, 4, RW).unwrap();
    w.check();
    assert_eq!(w.free_frames(), frames);
    assert_eq!(w.t.read_u32(dst + 0x10).unwrap(), 0xCAFE_F00D);
    w.t.write_u32(dst + 0x10, 1).unwrap();
    assert_eq!(w.t.read_u32(src + 0x10).unwrap(), 1);
    // A static range that runs past the end of RAM is not a static source.
    let end = w.kernel.layout().static_end;
    let d2 = w.t.virtual_alloc(0, 0x2000, RESERVE, NA).unwrap();
    assert_fails(
        w.t.virtual_copy(d2, end - 0x1000, 0x2000, RW),
        (ErrorCode::InvalidParameter, "5.5.5"),
        &w,
    );
    assert_dst_untouched(&mut w, d2, 0x2000);
    w.t.virtual_copy(d2, end - 0x1000, 0x1000, RW).unwrap();
    w.check();
}

#[test]
fn every_virtual_source_page_must_be_committed() {
    let mut w = World::new();
    w.kmode(w.app);
    let r = w.t.virtual_alloc(0, 0x2000, RESERVE, NA).unwrap();
    let a =
        w.t.virtual_alloc(0, 0x2000, RESERVE | AllocType::AUTO_COMMIT, NA)
            .unwrap();
    let dst = w.t.virtual_alloc(0, 0x2000, RESERVE, NA).unwrap();
    w.t.virtual_alloc(r, 0x1000, COMMIT, RW).unwrap();
    w.check();
    let frames = w.free_frames();
    // Page 1 of r is reserved; a is auto-commit reserved; 0x50000 is free.
    assert_fails(
        w.t.virtual_copy(dst, r, 0x2000, RW),
        (ErrorCode::InvalidParameter, "5.5.5"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy(dst, a, 0x1000, RW),
        (ErrorCode::InvalidParameter, "5.5.5"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy(dst, 0x50000, 0x1000, RW),
        (ErrorCode::InvalidParameter, "5.5.5"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy(dst, 0xFFFF_F000, 0x2000, RW),
        (ErrorCode::InvalidParameter, "5.5.5"),
        &w,
    );
    assert_eq!(
        w.free_frames(),
        frames,
        "the auto-commit page is not brought in"
    );
    assert_eq!(q(&mut w, a), reserved(a, a, 0x2000));
    assert_dst_untouched(&mut w, dst, 0x2000);
}

#[test]
fn committed_guard_and_no_access_sources_are_copied_without_being_touched() {
    let mut w = World::new();
    w.kmode(w.app);
    let s = w.t.virtual_alloc(0, 0x2000, COMMIT, RW).unwrap();
    w.t.write_u32(s, 11).unwrap();
    w.t.write_u32(s + 0x1000, 22).unwrap();
    w.t.virtual_protect(s, 0x1000, RW | Protection::GUARD)
        .unwrap();
    w.t.virtual_protect(s + 0x1000, 0x1000, NA).unwrap();
    let dst = w.t.virtual_alloc(0, 0x2000, RESERVE, NA).unwrap();
    w.check();
    w.t.virtual_copy(dst, s, 0x2000, RO).unwrap();
    w.check();
    assert_eq!(
        q(&mut w, s).protect,
        RW | Protection::GUARD,
        "the guard is not consumed"
    );
    assert_eq!(q(&mut w, dst), committed(dst, dst, 0x2000, RO));
    assert_eq!(w.t.read_u32(dst).unwrap(), 11);
    assert_eq!(w.t.read_u32(dst + 0x1000).unwrap(), 22);
}

// ---------------------------------------------------------------- step 6: destination pages

#[test]
fn a_committed_destination_page_fails_the_whole_copy() {
    let (mut w, src, dst) = setup();
    w.t.virtual_alloc(dst + 0x1000, 0x1000, COMMIT, RW).unwrap();
    w.t.write_u32(dst + 0x1010, 0x77).unwrap();
    w.check();
    let frames = w.free_frames();
    assert_fails(
        w.t.virtual_copy(dst, src, 0x2000, RW),
        (ErrorCode::InvalidParameter, "5.5.6"),
        &w,
    );
    assert_fails(
        w.t.virtual_copy(src, dst + 0x1000, 0x1000, RW),
        (ErrorCode::InvalidParameter, "5.5.6"),
        &w,
    );
    assert_eq!(w.free_frames(), frames);
    assert_eq!(
        q(&mut w, dst),
        reserved(dst, dst, 0x1000),
        "page 0 stays reserved"
    );
    assert_eq!(w.t.read_u32(dst + 0x1010).unwrap(), 0x77);
    assert_eq!(w.t.read_u32(src + 0x10).unwrap(), 0xCAFE_F00D);
    // A second copy over already copied pages fails too.
    w.t.virtual_copy(dst, src, 0x1000, RW).unwrap();
    w.check();
    assert_fails(
        w.t.virtual_copy(dst, src, 0x1000, RW),
        (ErrorCode::InvalidParameter, "5.5.6"),
        &w,
    );
}

#[test]
fn hostile_arguments_fail_with_87_and_change_nothing() {
    let (mut w, src, dst) = setup();
    let frames = w.free_frames();
    for d in [0xFFFF_F000, 0x4000_0000, 0x7000_0000, 0x8000_0000, dst] {
        for s in [0xFFFF_F000, 0x4000_0000, 0x7000_0000, 0x8000_0000, 0] {
            for n in [0, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF] {
                for prot in [RW, RW | PHYS] {
                    // Only the empty range at dst is inside a record (step 2); step 3
                    // then rejects its size.
                    let step = if d == dst && n == 0 { "5.5.3" } else { "5.5.2" };
                    assert_fails(
                        w.t.virtual_copy(d, s, n, prot),
                        (ErrorCode::InvalidParameter, step),
                        &w,
                    );
                }
            }
        }
    }
    assert_eq!(w.free_frames(), frames);
    assert_dst_untouched(&mut w, dst, 0x2000);
    assert_eq!(q(&mut w, src), committed(src, src, 0x2000, RW));
}
