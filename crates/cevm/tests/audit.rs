//! The auditor in the library: off by default, the isolate policy's bounce frames and pins
//! kept consistent with the invariant checker, and the policies changing nothing when they
//! refuse.

mod common;

use cevm::{AllocType, Config, ExposurePolicy, FindingKind, Handle};
use common::{RO, RW, World, h};

const COMMIT_RESERVE: AllocType = AllocType::COMMIT.union(AllocType::RESERVE);

fn world(policy: ExposurePolicy, audit: bool) -> World {
    World::with_config(Config {
        audit,
        exposure_policy: policy,
        ..Config::default()
    })
}

/// app.exe commits 0x3000 bytes of 0x5A at its first placement; returns the address.
fn app_source(w: &mut World) -> u32 {
    w.user(w.app);
    let src = w.t.virtual_alloc(0, 0x3000, COMMIT_RESERVE, RW).unwrap();
    w.t.write_bytes(src, &[0x5A; 0x3000]).unwrap();
    w.check();
    src
}

#[test]
fn auditing_is_off_by_default_and_reports_nothing() {
    let mut w = World::new();
    let src = app_source(&mut w);
    w.driver();
    let a =
        w.t.virtual_alloc_copy_ex(h(w.app), h(w.drv), src + 1, 2, RO)
            .unwrap();
    assert_ne!(a, 0);
    assert!(w.kernel.audit_findings().is_empty());
    assert!(w.kernel.audit_finish().is_empty());
    assert_eq!(w.kernel.exposure_policy(), ExposurePolicy::Compatible);
}

#[test]
fn exposure_finding_names_both_sides_and_the_source_reservation() {
    let mut w = world(ExposurePolicy::Compatible, true);
    let src = app_source(&mut w);
    w.driver();
    w.t.set_call_site(7, "drv.c:12");
    let a =
        w.t.virtual_alloc_copy_ex(h(w.app), h(w.drv), src + 0x100, 0x18, RO)
            .unwrap();
    let f = w.kernel.audit_findings();
    assert_eq!(f.len(), 1, "{f:#?}");
    let f = &f[0];
    assert_eq!(f.kind, FindingKind::Exposure);
    assert_eq!(f.seq, 7);
    assert_eq!(f.location, "drv.c:12");
    let page = u64::from(a & !0xFFF);
    // 0x100 bytes before the request and 0x1000 - 0x118 after it, in the alias.
    assert_eq!(
        f.bytes,
        vec![(page, page + 0x100), (page + 0x118, page + 0x1000)]
    );
    assert!(
        f.message.contains("reservation 0x00010000 of app.exe"),
        "{}",
        f.message
    );
    assert!(
        f.to_json()
            .starts_with("{\"kind\":\"exposure\",\"severity\":\"error\",\"seq\":7,")
    );
}

#[test]
fn isolated_alias_keeps_the_invariants_and_counts_its_bounce_frames() {
    let mut w = world(ExposurePolicy::Isolate, false);
    let src = app_source(&mut w);
    let free = w.free_frames();
    w.driver();
    let a =
        w.t.virtual_alloc_copy_ex(h(w.app), h(w.drv), src + 0xF00, 0x1200, RW)
            .unwrap();
    w.check();
    // Two bounce frames (first and last page); the middle page is shared.
    assert_eq!(w.free_frames(), free - 2);
    // The source releases its buffer: the pins keep the partial pages' frames, the alias
    // keeps the middle one; the invariant checker counts both.
    w.user(w.app);
    w.t.virtual_free(src, 0, AllocType::RELEASE).unwrap();
    w.check();
    assert_eq!(w.free_frames(), free - 2 + 3 - 3);
    w.driver();
    w.t.virtual_free_ex(h(w.drv), a & !0xFFFF, 0, AllocType::RELEASE)
        .unwrap();
    w.check();
    // Everything back: the source's three frames and the two bounce frames.
    assert_eq!(w.free_frames(), free + 3);
}

#[test]
fn isolated_alias_decommit_and_process_end_keep_the_invariants() {
    let mut w = world(ExposurePolicy::Isolate, false);
    let src = app_source(&mut w);
    let free = w.free_frames();
    w.driver();
    let a =
        w.t.virtual_alloc_copy_ex(h(w.app), h(w.drv), src + 0x10, 0x20, RW)
            .unwrap();
    w.t.virtual_free_ex(h(w.drv), a & !0xFFF, 0x30, AllocType::DECOMMIT)
        .unwrap();
    w.check();
    assert_eq!(
        w.free_frames(),
        free,
        "the bounce frame went back with the decommit"
    );
    let b =
        w.t.virtual_alloc_copy_ex(h(w.app), h(w.drv), src + 0x1010, 0x20, RW)
            .unwrap();
    assert_ne!(b, 0);
    w.check();
    w.nk();
    w.t.terminate_process(h(w.drv), 0).unwrap();
    w.check();
    assert_eq!(
        w.free_frames(),
        free + 1,
        "the host's kernel-data page and the bounce frame"
    );
}

#[test]
fn strict_refusal_changes_nothing() {
    let mut w = world(ExposurePolicy::Strict, false);
    let src = app_source(&mut w);
    w.driver();
    let before = w.snapshot();
    let r =
        w.t.virtual_alloc_copy_ex(h(w.app), h(w.drv), src + 1, 2, RO);
    assert_eq!(r.unwrap_err().win32(), 87);
    assert_eq!(w.t.last_error(), 87);
    assert_eq!(w.snapshot(), before);
    w.check();
    // VirtualCopyEx into a user process, unaligned: refused the same way.
    let dst =
        w.t.virtual_alloc_ex(
            h(w.drv),
            0,
            0x2000,
            AllocType::RESERVE,
            cevm::Protection::NOACCESS,
        )
        .unwrap();
    let before = w.snapshot();
    let r =
        w.t.virtual_copy_ex(h(w.drv), dst + 0x10, h(w.app), src + 0x10, 0x20, RW);
    assert_eq!(r.unwrap_err().win32(), 87);
    assert_eq!(w.snapshot(), before);
    // Into NK.EXE nothing is refused.
    let k =
        w.t.virtual_alloc_copy_ex(h(w.app), Handle::NULL, src + 1, 2, RO)
            .unwrap();
    assert_ne!(k, 0);
    w.check();
}

#[test]
fn isolated_virtual_copy_keeps_the_invariants_and_writes_back_on_release() {
    let mut w = world(ExposurePolicy::Isolate, false);
    let src = app_source(&mut w);
    let free = w.free_frames();
    w.nk();
    let dst =
        w.t.virtual_alloc_ex(
            h(w.drv),
            0,
            0x2000,
            AllocType::RESERVE,
            cevm::Protection::NOACCESS,
        )
        .unwrap();
    w.t.virtual_copy_ex(h(w.drv), dst + 0x10, h(w.app), src + 0x10, 0x1000, RW)
        .unwrap();
    w.check();
    assert_eq!(
        w.free_frames(),
        free - 2,
        "two partial pages, two bounce frames"
    );
    w.user(w.drv);
    let mut b = [0u8; 0x10];
    w.t.read_bytes(dst, &mut b).unwrap();
    assert_eq!(b, [0; 0x10]);
    w.t.write_u8(dst + 0x100F, 0xEE).unwrap();
    w.nk();
    w.t.virtual_free_ex(h(w.drv), dst, 0, AllocType::RELEASE)
        .unwrap();
    w.check();
    assert_eq!(w.free_frames(), free);
    w.user(w.app);
    assert_eq!(w.t.read_u8(src + 0x100F).unwrap(), 0xEE);
    assert_eq!(w.t.read_u8(src + 0x1010).unwrap(), 0x5A);
}

#[test]
fn the_json_report_is_one_line_per_finding_unreleased_items_included() {
    let mut w = world(ExposurePolicy::Compatible, true);
    w.nk();
    w.t.set_call_site(1, "main.c: AllocPhysMem");
    let (va, _) = w.t.alloc_phys_mem(0x1000, RW, 0, 0).unwrap();
    w.t.set_call_site(2, "main.c: VirtualFree");
    let _ = w.t.virtual_free(va, 0x1000, AllocType::RELEASE);
    let report = w.kernel.audit_report_json();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 2, "{report}");
    assert!(report.ends_with('\n'));
    assert!(lines[0].contains("\"kind\":\"malformed-free\"") && lines[0].contains("\"seq\":2"));
    assert!(lines[1].contains("\"kind\":\"never-released\"") && lines[1].contains("\"seq\":1"));
    assert!(lines[1].contains("main.c: AllocPhysMem"));
    // Finishing twice reports the unreleased block once.
    assert_eq!(w.kernel.audit_finish().len(), 2);
}
