//! semantics.md §5.9 MmMapIoSpace / MmUnmapIoSpace: kernel mode, the reservation of
//! n + (pa & 0xFFF) bytes, the physical mapping (PAGE_NOCACHE unless cached), the
//! result base + (pa & 0xFFF), failures, and release by the page of p.
//!
//! MmMapIoSpace is VirtualAlloc + VirtualCopy(PAGE_PHYSICAL): its failure codes are
//! theirs (a bad size 87, no room 8, a physical range that is neither RAM nor a device
//! 87 as every VirtualCopy failure of §5.5 steps 2-7).

mod common;

use cevm::{AllocType, ErrorCode, LockFlags, Protection};
use common::{RW, World, assert_fails};

const RW_NOCACHE: Protection = Protection::READWRITE.union(Protection::NOCACHE);
const DEV: u64 = 0xFED0_0000;

fn with_device() -> World {
    let w = World::new();
    w.kernel.add_device("regs", DEV, 0x2000).unwrap();
    w
}

#[test]
fn mmmapio_in_user_mode_is_50() {
    let mut w = with_device();
    w.user(w.app);
    let before = w.snapshot();
    assert_fails(
        w.t.mm_map_io_space(DEV, 0x1000, false),
        (ErrorCode::NotSupported, "2"),
        &w,
    );
    // Before the argument checks.
    assert_fails(
        w.t.mm_map_io_space(1 << 45, 0, false),
        (ErrorCode::NotSupported, "2"),
        &w,
    );
    assert_eq!(w.snapshot(), before);
}

#[test]
fn mmmapio_maps_a_device_uncached_at_base_plus_the_page_offset() {
    let mut w = with_device();
    w.nk();
    let start = w.free_frames();
    let p = w.t.mm_map_io_space(DEV + 0x10, 0x20, false).unwrap();
    w.check();
    assert_eq!(p, 0x8400_0010);
    assert_eq!(w.free_frames(), start, "device frames are never counted");
    assert_eq!(
        w.q4(p),
        (AllocType::COMMIT, RW_NOCACHE, 0x1000, 0x8400_0000)
    );
    assert_eq!(
        w.t.lock_pages(p, 0x20, LockFlags::QUERY_ONLY).unwrap(),
        vec![DEV]
    );
    // The record is {0x84000000, 0x20 + 0x10}.
    let region = w
        .kernel
        .regions(w.kernel.kernel_pid())
        .into_iter()
        .find(|r| r.start == 0x8400_0000)
        .unwrap();
    assert_eq!(region.reservation, Some((0x8400_0000, 0x30)));
    assert_eq!(region.device.as_deref(), Some("regs"));
    w.t.write_bytes(p, b"device registers").unwrap();
    // A cached mapping of the same page sees the bytes and reads back without NOCACHE.
    let c = w.t.mm_map_io_space(DEV, 0x1000, true).unwrap();
    w.check();
    assert_eq!(c, 0x8401_0000);
    assert_eq!(w.q4(c), (AllocType::COMMIT, RW, 0x1000, 0x8401_0000));
    let mut buf = [0u8; 16];
    w.t.read_bytes(c + 0x10, &mut buf).unwrap();
    assert_eq!(&buf, b"device registers");
    // Unmapping keeps the device's bytes.
    w.t.mm_unmap_io_space(p, 0x20).unwrap();
    w.check();
    assert_eq!(w.q4(0x8400_0000).0, AllocType::FREE);
    w.t.mm_unmap_io_space(c, 0x1000).unwrap();
    w.check();
    let again = w.t.mm_map_io_space(DEV + 0x10, 16, true).unwrap();
    w.check();
    assert_eq!(again, 0x8400_0010);
    w.t.read_bytes(again, &mut buf).unwrap();
    assert_eq!(&buf, b"device registers");
    assert_eq!(w.free_frames(), start);
}

#[test]
fn mmmapio_covers_every_page_of_pa_to_pa_plus_n() {
    let mut w = with_device();
    w.nk();
    // 0xFF0 + 0x20 bytes: two pages.
    let p = w.t.mm_map_io_space(DEV + 0xFF0, 0x20, false).unwrap();
    w.check();
    assert_eq!(p, 0x8400_0FF0);
    assert_eq!(
        w.q4(0x8400_0000),
        (AllocType::COMMIT, RW_NOCACHE, 0x2000, 0x8400_0000)
    );
    assert_eq!(
        w.t.lock_pages(p, 0x20, LockFlags::QUERY_ONLY).unwrap(),
        vec![DEV, DEV + 0x1000]
    );
    w.t.write_u32(p + 0xE, 0xDEAD_BEEF).unwrap(); // straddles the two device pages
    let q = w.t.mm_map_io_space(DEV + 0x1000, 4, true).unwrap();
    assert_eq!(w.t.read_u16(q).unwrap(), 0xDEAD);
    w.check();
}

#[test]
fn mmmapio_maps_ram_and_references_a_free_frame() {
    let mut w = World::new();
    // app's page is frame 2 (PA 0x2000).
    w.user(w.app);
    w.t.virtual_alloc(0, 0x1000, AllocType::COMMIT, RW).unwrap();
    w.t.write_bytes(0x10123, b"ram").unwrap();
    w.check();
    w.nk();
    let start = w.free_frames();
    let p = w.t.mm_map_io_space(0x2123, 3, true).unwrap();
    w.check();
    assert_eq!(p, 0x8400_0123);
    assert_eq!(w.free_frames(), start);
    let mut buf = [0u8; 3];
    w.t.read_bytes(p, &mut buf).unwrap();
    assert_eq!(&buf, b"ram");
    // [cevm] A free RAM frame reached by physical address leaves the pool while mapped.
    let f = w.t.mm_map_io_space(0x10_0000, 0x2000, false).unwrap();
    w.check();
    assert_eq!(f, 0x8401_0000);
    assert_eq!(w.free_frames(), start - 2);
    w.t.mm_unmap_io_space(f, 0x2000).unwrap();
    w.check();
    assert_eq!(w.free_frames(), start);
}

#[test]
fn mmmapio_in_kernel_mode_maps_into_the_active_process() {
    let mut w = with_device();
    w.kmode(w.drv);
    let p = w.t.mm_map_io_space(DEV + 0x8, 8, false).unwrap();
    w.check();
    assert_eq!(p, 0x10008);
    assert_eq!(w.q4(p), (AllocType::COMMIT, RW_NOCACHE, 0x1000, 0x10000));
    w.t.mm_unmap_io_space(p, 8).unwrap();
    w.check();
    assert_eq!(w.q4(p).0, AllocType::FREE);
}

#[test]
fn mmmapio_failures_return_nothing_and_change_nothing() {
    let mut w = with_device();
    w.nk();
    let before = w.snapshot();
    for (pa, n, code) in [
        (0x9000_0000, 0x1000, ErrorCode::InvalidParameter), // neither RAM nor device
        (DEV + 0x1000, 0x2000, ErrorCode::InvalidParameter), // runs past the device
        (0x3FF_F000, 0x2000, ErrorCode::InvalidParameter),  // runs past RAM
        (DEV, 0, ErrorCode::InvalidParameter),
        (DEV, 0x8000_0000, ErrorCode::InvalidParameter),
        (DEV, 0xFFFF_FFFF, ErrorCode::InvalidParameter),
        (DEV + 0x10, 0x7FFF_FFFF, ErrorCode::InvalidParameter), // n + 0x10 is negative
        (DEV, 0x7FFF_FFFF, ErrorCode::NotEnoughMemory),         // no room in kernel VM
        (0xFF_FFFF_FFFF, 1, ErrorCode::InvalidParameter),
        (1 << 40, 0x1000, ErrorCode::InvalidParameter),
        (u64::MAX, 0x1000, ErrorCode::InvalidParameter),
    ] {
        // §5.9 has no numbered steps: every one of its checks is "5.9".
        assert_fails(w.t.mm_map_io_space(pa, n, false), (code, "5.9"), &w);
        assert_eq!(w.snapshot(), before, "map 0x{pa:X}+0x{n:X}");
    }
    // No reservation was left behind and the cursor did not move.
    let p = w.t.mm_map_io_space(DEV, 0x1000, false).unwrap();
    w.check();
    assert_eq!(p, 0x8400_0000);
}

#[test]
fn mmunmap_releases_by_the_page_of_p_only() {
    let mut w = with_device();
    w.nk();
    let p = w.t.mm_map_io_space(DEV + 0x123, 0x1000, false).unwrap();
    w.check();
    assert_eq!(p, 0x8400_0123);
    let before = w.snapshot();
    for wrong in [p + 0x1000, 0x8401_0000, 0, 0xFFFF_FFFF] {
        assert_fails(
            w.t.mm_unmap_io_space(wrong, 0x1000),
            (ErrorCode::InvalidParameter, "5.2.3"),
            &w,
        );
    }
    assert_eq!(w.snapshot(), before);
    // The size is ignored; any address in p's page names the reservation.
    w.t.mm_unmap_io_space(0x8400_0FFF, 0).unwrap();
    w.check();
    assert_eq!(w.q4(0x8400_0000).0, AllocType::FREE);
    assert_fails(
        w.t.mm_unmap_io_space(p, 0x1000),
        (ErrorCode::InvalidParameter, "5.2.3"),
        &w,
    );
}
