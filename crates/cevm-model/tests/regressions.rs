//! Named regression tests: each pins one case the differential runs found, as the exact
//! op sequence, run with no step filtered, and asserts the outcome semantics.md gives.
//! While the kernel is wrong in such a case, its test is `#[ignore = "kernel bug: …"]`
//! and `src/known.rs` skips exactly that case in the random runs. Every kernel bug found
//! before issue 10 has been fixed, and so have the two found in the §7 helpers, so none
//! is ignored now. The tests say in a comment which were kernel bugs and which were the model's
//! mistakes.

use cevm_model::op::{Addr, H, P, Phys, Width};
use cevm_model::outcome::{Outcome, Ret};
use cevm_model::spec::{arg, hr, lockflag, mem, page};
use cevm_model::{Harness, Mode, Op, WorldConfig};

fn world(processes: u8) -> WorldConfig {
    WorldConfig {
        ram_bytes: 1 << 20,
        ram_base: 0,
        devices: vec![(0x1000_0000, 0x4000)],
        processes,
    }
}

/// Runs `ops` with no step filtered; kernel and model must agree on every step.
#[track_caller]
fn agree(cfg: &WorldConfig, ops: &[Op]) -> Harness {
    match Harness::run_exact(cfg, ops) {
        Ok(h) => h,
        Err(m) => panic!("{m}"),
    }
}

/// The kernel's outcome of `ops[i]` in a run of `agree` (after the world's processes).
fn outcome(h: &Harness, cfg: &WorldConfig, i: usize) -> Outcome {
    h.outcomes[usize::from(cfg.processes) + i].clone()
}

#[test]
fn a_frame_written_through_the_static_mapping_while_free_is_handed_out_zeroed() {
    // Found as a kernel bug (since fixed): process creation took frame 0; frame 1 is
    // free. The kernel writes it through the static mapping, then a commit hands it out:
    // it must read as zero (§2: committed frames are zero-filled when handed out).
    let cfg = world(1);
    let h = agree(
        &cfg,
        &[
            Op::Write {
                a: Addr::Abs(0x8000_1234),
                width: Width::B1,
                seed: 0,
            },
            Op::VirtualAlloc {
                h: None,
                a: Addr::Abs(0),
                n: 0x1000,
                ty: mem::COMMIT,
                prot: page::READWRITE,
            },
            Op::Read {
                a: Addr::Ret {
                    back: 0,
                    off: 0x234,
                },
                width: Width::B1,
            },
        ],
    );
    assert_eq!(outcome(&h, &cfg, 2).ret, Ret::Bytes(vec![Some(0)]));
}

#[test]
fn mm_map_io_space_in_a_terminated_process_reports_invalid_handle() {
    // Found as a kernel bug (since fixed): 50 (the kernel-only rule) came before 6 (§2
    // order; deviations.md: every call on a terminated active process gets 6).
    let cfg = world(1);
    let h = agree(
        &cfg,
        &[
            Op::Enter {
                pid: P::Nth(1),
                mode: Mode::User,
                caller: None,
            },
            Op::TerminateProcess { h: H::Pseudo },
            Op::MmMapIoSpace {
                pa: Phys::Raw(0x1000_0000),
                n: 0x1000,
                cached: false,
            },
        ],
    );
    assert_eq!(outcome(&h, &cfg, 2).last_error, 6);
}

#[test]
fn mm_map_io_space_of_zero_bytes_is_an_invalid_parameter() {
    // Model fix: the mapping is VirtualCopy's, whose (int)n > 0 rule applies to n itself,
    // not only to the reservation's n + (pa & 0xFFF).
    let cfg = world(1);
    let h = agree(
        &cfg,
        &[Op::MmMapIoSpace {
            pa: Phys::Raw(0x100),
            n: 0,
            cached: false,
        }],
    );
    assert_eq!(outcome(&h, &cfg, 0).last_error, 87);
}

#[test]
fn virtual_query_of_the_static_mapping_reports_the_block_as_allocation_base() {
    // Model fix: the static mapping has no record, so §5.4 gives a & ~0xFFFF.
    let mut cfg = world(1);
    cfg.ram_bytes = 4 << 20;
    let h = agree(
        &cfg,
        &[Op::VirtualQuery {
            h: None,
            a: Addr::Abs(0x803F_F000),
            len: 28,
        }],
    );
    let Ret::Query(q) = outcome(&h, &cfg, 0).ret else {
        panic!("query failed")
    };
    assert_eq!((q.allocation_base, q.region_size), (0x803F_0000, 0x1000));
}

#[test]
fn virtual_protect_with_null_old_in_a_terminated_process_reports_invalid_handle() {
    // Found as a kernel bug (since fixed): the NULL lpflOldProtect was checked before the
    // active process (deviations.md: every call on a terminated active process gets 6).
    let cfg = world(1);
    let h = agree(
        &cfg,
        &[
            Op::Enter {
                pid: P::Nth(1),
                mode: Mode::User,
                caller: None,
            },
            Op::TerminateProcess { h: H::Pseudo },
            Op::VirtualProtect {
                h: None,
                a: Addr::Abs(0x1_0000),
                n: 0x1000,
                prot: page::READWRITE,
                old_null: true,
            },
        ],
    );
    assert_eq!(outcome(&h, &cfg, 2).last_error, 6);
}

#[test]
fn write_through_does_not_split_a_query_region() {
    // Model fix: §5.4 "same ... cache bits" is read as the bit VirtualQuery reports.
    let cfg = world(1);
    let h = agree(
        &cfg,
        &[
            Op::VirtualAlloc {
                h: None,
                a: Addr::Abs(0),
                n: 0x3000,
                ty: mem::COMMIT,
                prot: page::READWRITE,
            },
            Op::VirtualSetAttributes {
                h: None,
                a: Addr::Ret {
                    back: 0,
                    off: 0x1000,
                },
                n: 1,
                new: 0x08,
                mask: 0x18,
            },
            Op::VirtualQuery {
                h: None,
                a: Addr::Ret { back: 0, off: 0 },
                len: 28,
            },
            Op::Sweep,
        ],
    );
    let Ret::Query(q) = outcome(&h, &cfg, 2).ret else {
        panic!("query failed")
    };
    assert_eq!(q.region_size, 0x3000);
}

#[test]
fn an_access_that_runs_out_of_frames_faults_where_the_frames_run_out() {
    // Found as a kernel bug (since fixed): the fault was reported at the first
    // auto-commit page, which would have got the one free frame (§6: the faulting
    // address).
    // 1 MiB = 256 frames: the kernel-data page and 254 committed pages leave one free.
    // A write over three auto-commit pages gets that frame for its first page; the
    // second page is where it faults.
    let cfg = world(1);
    let h = agree(
        &cfg,
        &[
            Op::Enter {
                pid: P::Nth(1),
                mode: Mode::Kernel,
                caller: None,
            },
            Op::VirtualAlloc {
                h: None,
                a: Addr::Abs(0),
                n: 0xFE000,
                ty: mem::COMMIT,
                prot: page::READWRITE,
            },
            Op::VirtualAlloc {
                h: None,
                a: Addr::Abs(0),
                n: 0x3000,
                ty: mem::RESERVE | mem::AUTO_COMMIT,
                prot: page::READWRITE,
            },
            Op::Write {
                a: Addr::Ret { back: 0, off: 0x10 },
                width: Width::N(0x2100),
                seed: 1,
            },
        ],
    );
    assert!(matches!(
        outcome(&h, &cfg, 3).ret,
        Ret::Raised {
            address: 0x11_1000,
            ..
        }
    ));
}

#[test]
fn unlocking_half_of_a_lock_across_the_shared_heap_fails() {
    // Found as a kernel bug (since fixed): the lock was kept as two records and either
    // half unlocked on its own (§4: one record per LockPages; §5.7 step 6).
    let cfg = world(1);
    let h = agree(
        &cfg,
        &[
            Op::Enter {
                pid: P::Nth(1),
                mode: Mode::Kernel,
                caller: None,
            },
            Op::VirtualAlloc {
                h: None,
                a: Addr::Abs(0x6FFF_0000),
                n: 0x1_0000,
                ty: mem::RESERVE | mem::COMMIT,
                prot: page::READWRITE,
            },
            Op::CeVirtualSharedAlloc {
                a: Addr::Abs(0),
                n: 0x2000,
                action: mem::COMMIT,
            },
            Op::LockPages {
                h: None,
                a: Addr::Abs(0x6FFF_F000),
                n: 0x2000,
                flags: lockflag::READ,
            },
            Op::UnlockPages {
                h: None,
                a: Addr::Abs(0x6FFF_F000),
                n: 0x1000,
            },
        ],
    );
    assert_eq!(outcome(&h, &cfg, 4).ret, Ret::Fail(Some("5.7.6")));
}

#[test]
fn a_lock_across_the_shared_heap_pins_both_sides_until_unlocked_whole() {
    // The model's reading of one record per LockPages, where the kernel agrees.
    let cfg = world(1);
    let h = agree(
        &cfg,
        &[
            Op::Enter {
                pid: P::Nth(1),
                mode: Mode::Kernel,
                caller: None,
            },
            Op::VirtualAlloc {
                h: None,
                a: Addr::Abs(0x6FFF_0000),
                n: 0x1_0000,
                ty: mem::RESERVE | mem::COMMIT,
                prot: page::READWRITE,
            },
            Op::CeVirtualSharedAlloc {
                a: Addr::Abs(0),
                n: 0x2000,
                action: mem::COMMIT,
            },
            Op::LockPages {
                h: None,
                a: Addr::Abs(0x6FFF_F000),
                n: 0x2000,
                flags: lockflag::READ,
            },
            Op::VirtualProtect {
                h: None,
                a: Addr::Abs(0x7000_0000),
                n: 0x1000,
                prot: page::READONLY,
                old_null: false,
            },
            Op::VirtualFree {
                h: None,
                a: Addr::Abs(0x6FFF_F000),
                n: 0x1000,
                ty: mem::DECOMMIT,
            },
            Op::UnlockPages {
                h: None,
                a: Addr::Abs(0x6FFF_F000),
                n: 0x2000,
            },
            Op::VirtualProtect {
                h: None,
                a: Addr::Abs(0x7000_0000),
                n: 0x1000,
                prot: page::READONLY,
                old_null: false,
            },
            Op::LockPages {
                h: None,
                a: Addr::Abs(0x6FFF_F000),
                n: 0x2000,
                flags: lockflag::READ,
            },
            Op::TerminateProcess { h: H::Pseudo },
            Op::Enter {
                pid: P::Nth(0),
                mode: Mode::Kernel,
                caller: None,
            },
            Op::VirtualProtect {
                h: None,
                a: Addr::Abs(0x7000_0000),
                n: 0x1000,
                prot: page::READONLY,
                old_null: false,
            },
        ],
    );
    assert_eq!(
        outcome(&h, &cfg, 4).last_error,
        32,
        "the page above the heap base is locked"
    );
    assert_eq!(
        outcome(&h, &cfg, 7).ret,
        Ret::Value(page::READWRITE),
        "unlocked"
    );
    assert_eq!(
        outcome(&h, &cfg, 11).ret,
        Ret::Value(page::READONLY),
        "the lock died with its process"
    );
}

#[test]
fn unlocking_a_kernel_lock_across_the_shared_heap_does_not_panic() {
    // Found as a kernel bug (since fixed): the unlock panicked with an index out of
    // bounds (design.md: no panics on any input).
    let cfg = world(1);
    let h = agree(
        &cfg,
        &[
            Op::VirtualAlloc {
                h: None,
                a: Addr::Abs(0x6FFF_0000),
                n: 0x1_0000,
                ty: mem::RESERVE | mem::COMMIT,
                prot: page::READWRITE,
            },
            Op::CeVirtualSharedAlloc {
                a: Addr::Abs(0),
                n: 0x1000,
                action: mem::COMMIT,
            },
            Op::LockPages {
                h: None,
                a: Addr::Abs(0x6FFF_F000),
                n: 0x2000,
                flags: lockflag::READ,
            },
            Op::UnlockPages {
                h: None,
                a: Addr::Abs(0x6FFF_F000),
                n: 0x2000,
            },
        ],
    );
    assert_eq!(outcome(&h, &cfg, 3).ret, Ret::Done);
}

#[test]
fn the_blocks_a_process_starts_with_are_not_va_records() {
    // Model fix: §4 lists the calls that make VA records; process creation is not one.
    let cfg = world(1);
    let h = agree(
        &cfg,
        &[
            Op::Enter {
                pid: P::Nth(1),
                mode: Mode::User,
                caller: None,
            },
            Op::VirtualFree {
                h: None,
                a: Addr::Abs(0),
                n: 0,
                ty: mem::RELEASE,
            },
            Op::VirtualProtect {
                h: None,
                a: Addr::Abs(0x1_0000 - 0xB000),
                n: 0x1000,
                prot: page::READWRITE,
                old_null: false,
            },
            Op::Enter {
                pid: P::Nth(1),
                mode: Mode::Kernel,
                caller: None,
            },
            Op::VirtualAlloc {
                h: None,
                a: Addr::Abs(0x4000_0000),
                n: 0x1000,
                ty: mem::COMMIT,
                prot: page::READWRITE,
            },
            Op::VirtualFree {
                h: None,
                a: Addr::Abs(0x4000_0000),
                n: 0x1000,
                ty: mem::DECOMMIT,
            },
            Op::Read {
                a: Addr::Abs(0x5000),
                width: Width::B4,
            },
        ],
    );
    assert_eq!(
        outcome(&h, &cfg, 1).ret,
        Ret::Fail(Some("5.2.3")),
        "release of the first block"
    );
    assert_eq!(
        outcome(&h, &cfg, 2).ret,
        Ret::Fail(Some("3")),
        "protect of the kernel-data page"
    );
    assert_eq!(
        outcome(&h, &cfg, 4).ret,
        Ret::Value(0x4000_0000),
        "kernel commit in the barrier"
    );
    assert_eq!(
        outcome(&h, &cfg, 5).ret,
        Ret::Fail(Some("5.2.4")),
        "decommit of the barrier"
    );
}

#[test]
fn execute_and_execute_read_pages_share_a_query_region() {
    // Model fix: §5.4's "same protection" compares what the query reports.
    let cfg = world(1);
    let h = agree(
        &cfg,
        &[
            Op::VirtualAlloc {
                h: None,
                a: Addr::Abs(0),
                n: 0x3000,
                ty: mem::COMMIT,
                prot: page::EXECUTE_READ,
            },
            Op::VirtualProtect {
                h: None,
                a: Addr::Ret {
                    back: 0,
                    off: 0x1000,
                },
                n: 1,
                prot: page::EXECUTE,
                old_null: false,
            },
            Op::VirtualQuery {
                h: None,
                a: Addr::Ret { back: 0, off: 0 },
                len: 28,
            },
        ],
    );
    let Ret::Query(q) = outcome(&h, &cfg, 2).ret else {
        panic!("query failed")
    };
    assert_eq!((q.region_size, q.protect), (0x3000, page::EXECUTE_READ));
}

#[test]
fn a_virtual_copy_source_running_out_of_the_static_mapping_fails() {
    // Model fix: §5.5 "a kernel static address → its RAM frames" when the whole source is
    // static; otherwise it is a virtual range, whose static pages are not committed
    // entries (unlike §5.6, which maps consecutive frames).
    let mut cfg = world(1);
    cfg.ram_base = 0x100_0000;
    cfg.devices.push((0x110_0000, 0x2000));
    let h = agree(
        &cfg,
        &[
            Op::Enter {
                pid: P::Nth(1),
                mode: Mode::Kernel,
                caller: None,
            },
            Op::VirtualAlloc {
                h: None,
                a: Addr::Abs(0),
                n: 0x2000,
                ty: mem::RESERVE,
                prot: page::NOACCESS,
            },
            Op::VirtualCopy {
                hs: None,
                dst: Addr::Ret { back: 0, off: 0 },
                src: cevm_model::Src::Virt(Addr::Abs(0x800F_F000)),
                n: 0x2000,
                prot: page::READWRITE,
            },
            Op::VirtualAllocCopyEx {
                hsrc: H::Pseudo,
                hdst: H::Pseudo,
                p: cevm_model::Src::Virt(Addr::Abs(0x800F_F000)),
                n: 0x2000,
                prot: page::READWRITE,
            },
            Op::Write {
                a: Addr::Ret {
                    back: 0,
                    off: 0x1000,
                },
                width: Width::B4,
                seed: 9,
            },
        ],
    );
    assert_eq!(outcome(&h, &cfg, 2).last_error, 87);
    assert!(
        matches!(outcome(&h, &cfg, 3).ret, Ret::Value(_)),
        "VirtualAllocCopyEx maps consecutive frames"
    );
}

#[test]
fn user_mode_virtual_protect_obeys_the_user_pointer_rule() {
    // Model fix (deviations.md): §3's rule applies to every user-mode call, so user mode
    // cannot protect kernel pages even in NK.EXE.
    let cfg = world(1);
    let h = agree(
        &cfg,
        &[
            Op::VirtualAlloc {
                h: None,
                a: Addr::Abs(0),
                n: 0x1000,
                ty: mem::COMMIT,
                prot: page::READWRITE,
            },
            Op::Enter {
                pid: P::Nth(0),
                mode: Mode::User,
                caller: None,
            },
            Op::VirtualProtect {
                h: None,
                a: Addr::Ret { back: 0, off: 0 },
                n: 0x1000,
                prot: page::NOACCESS,
                old_null: false,
            },
        ],
    );
    assert_eq!(outcome(&h, &cfg, 2).last_error, 87);
}

// ----- issue 10: contexts and the §7 helpers ---------------------------------------------

/// app.exe (`P::Nth(1)`) commits a read/write page; then a kernel-mode driver called by it
/// runs (P = NK.EXE, V = C = O = app, kernel mode).
fn driver_called_by_app() -> Vec<Op> {
    vec![
        Op::Enter {
            pid: P::Nth(1),
            mode: Mode::User,
            caller: None,
        },
        Op::VirtualAlloc {
            h: None,
            a: Addr::Abs(0),
            n: 0x1000,
            ty: mem::COMMIT,
            prot: page::READWRITE,
        },
        Op::EnterContext {
            process: P::Nth(0),
            mode: Mode::Kernel,
            vm: Some(P::Nth(1)),
            caller: Some(P::Nth(1)),
            owner: None,
        },
    ]
}

fn marshal(hr: u32, out: Option<u32>) -> Ret {
    Ret::Marshal { hr, out }
}

#[test]
fn an_overlapping_input_buffer_that_cannot_be_duplicated_still_gives_e_invalidarg() {
    // Model fix: §7.2 3a "the call still returns E_INVALIDARG" whatever making the
    // duplicate gave; the model returned the copy-in's E_ACCESSDENIED. NK.EXE has nothing
    // at 0x6FFFFDF8, so the copy-in faults and no duplicate is written.
    let cfg = world(1);
    let h = agree(
        &cfg,
        &[Op::CeAllocAsynchronousBuffer {
            src: Addr::Abs(0x6FFF_FDF8),
            cb: 521,
            desc: arg::I_WSTR,
        }],
    );
    assert_eq!(outcome(&h, &cfg, 0).ret, marshal(hr::E_INVALIDARG, None));
}

#[test]
fn freeing_a_duplicate_whose_pages_are_locked_fails_and_keeps_it() {
    // Model fix, where §7 is silent: the release is VirtualFree's, which refuses a
    // reservation with locked pages (§5.2 [cevm]); the library then answers E_INVALIDARG,
    // leaves the last error and keeps the duplicate live, so the free works once unlocked.
    // The model had dropped the record and reported the write-back's S_OK with error 87.
    let cfg = world(1);
    let mut ops = driver_called_by_app();
    ops.extend([
        Op::CeAllocDuplicateBuffer {
            src: Addr::Ret { back: 0, off: 0 },
            cb: 16,
            desc: arg::IO_PTR,
        },
        Op::LockPages {
            h: None,
            a: Addr::Ret { back: 0, off: 0 },
            n: 16,
            flags: lockflag::READ,
        },
        Op::CeFreeDuplicateBuffer {
            dest: Addr::Ret { back: 0, off: 0 },
            src: Addr::Ret { back: 1, off: 0 },
            cb: 16,
            desc: arg::IO_PTR,
        },
        Op::UnlockPages {
            h: None,
            a: Addr::Ret { back: 0, off: 0 },
            n: 16,
        },
        Op::CeFreeDuplicateBuffer {
            dest: Addr::Ret { back: 0, off: 0 },
            src: Addr::Ret { back: 1, off: 0 },
            cb: 16,
            desc: arg::IO_PTR,
        },
    ]);
    let h = agree(&cfg, &ops);
    let n = ops.len();
    assert_eq!(
        outcome(&h, &cfg, n - 3).ret,
        marshal(hr::E_INVALIDARG, None)
    );
    assert_eq!(outcome(&h, &cfg, n - 3).last_error, 0);
    assert_eq!(outcome(&h, &cfg, n - 1).ret, marshal(hr::S_OK, None));
}

#[test]
fn a_flush_on_the_alias_path_refuses_a_live_duplicate() {
    // Found as a kernel bug (fixed on the library side meanwhile, c4c4377). §7 [cevm]: "A pointer handed to a free or flush that is … a live duplicate where an
    // alias is expected → E_INVALIDARG, nothing changes". With MARSHAL_FORCE_ALIAS (or
    // cb > 520) the flush expects an alias; the library returned S_OK.
    let cfg = world(1);
    let mut ops = driver_called_by_app();
    ops.extend([
        Op::CeAllocDuplicateBuffer {
            src: Addr::Ret { back: 0, off: 0 },
            cb: 16,
            desc: arg::IO_PTR,
        },
        Op::CeFlushAsynchronousBuffer {
            async_ptr: Addr::Ret { back: 0, off: 0 },
            src: Addr::Ret { back: 1, off: 0 },
            src_unmarshalled: Addr::Abs(0),
            cb: 16,
            desc: arg::IO_PTR | arg::FORCE_ALIAS,
        },
    ]);
    let h = agree(&cfg, &ops);
    assert_eq!(
        outcome(&h, &cfg, ops.len() - 1).ret,
        marshal(hr::E_INVALIDARG, None)
    );
}

#[test]
fn a_user_mode_duplicate_at_its_sources_address_cannot_be_closed() {
    // Both sides agree; pinned because it is a trap of [cevm] "Duplicates" (a region of
    // the active process, not CE's heap): udevice.exe's first duplicate is 0x10000 + 16,
    // the very address of app.exe's buffer at 0x10010, so CeCloseCallerBuffer sees
    // pDest = pSrc, which user mode refuses (§7.1), and the duplicate stays.
    let cfg = world(2);
    let ops = vec![
        Op::Enter {
            pid: P::Nth(1),
            mode: Mode::User,
            caller: None,
        },
        Op::VirtualAlloc {
            h: None,
            a: Addr::Abs(0),
            n: 0x1000,
            ty: mem::COMMIT,
            prot: page::READWRITE,
        },
        Op::EnterContext {
            process: P::Nth(2),
            mode: Mode::User,
            vm: None,
            caller: Some(P::Nth(1)),
            owner: None,
        },
        Op::CeOpenCallerBuffer {
            src: Addr::Abs(0x1_0010),
            cb: 0x40,
            desc: arg::IO_PTR,
            force: false,
        },
        Op::CeCloseCallerBuffer {
            dest: Addr::Abs(0x1_0010),
            src: Addr::Abs(0x1_0010),
            cb: 0x40,
            desc: arg::IO_PTR,
        },
        Op::CeFreeDuplicateBuffer {
            dest: Addr::Abs(0x1_0010),
            src: Addr::Abs(0x1_0010),
            cb: 0x40,
            desc: arg::IO_PTR,
        },
    ];
    let h = agree(&cfg, &ops);
    assert_eq!(outcome(&h, &cfg, 3).ret, marshal(hr::S_OK, Some(0x1_0010)));
    assert_eq!(outcome(&h, &cfg, 4).ret, marshal(hr::E_INVALIDARG, None));
    // Still live: CeFreeDuplicateBuffer has no pDest = pSrc rule and frees it.
    assert_eq!(outcome(&h, &cfg, 5).ret, marshal(hr::S_OK, None));
}

#[test]
fn a_wide_terminator_split_across_pages_ends_a_string_read_page_by_page() {
    // Found as a kernel bug (fixed on the library side meanwhile, 14f48ba).
    // §7.1 user mode: another process's string of unknown length is read page by page
    // "until the terminator"; the duplicate holds the bytes from p to the end of the page
    // that holds it. Here p = 0x10FFF is odd, so the terminator (the first character, two
    // zero bytes at 0x10FFF and 0x11000) straddles the first page boundary; the rest of
    // the second page is non-zero. The duplicate is 0x1001 bytes (to the end of page
    // 0x11000), so its region (size + 16) has two pages.
    let cfg = world(2);
    let ops = vec![
        Op::Enter {
            pid: P::Nth(1),
            mode: Mode::User,
            caller: None,
        },
        Op::VirtualAlloc {
            h: None,
            a: Addr::Abs(0),
            n: 0x3000,
            ty: mem::COMMIT,
            prot: page::READWRITE,
        },
        Op::Write {
            a: Addr::Abs(0x1_1001),
            width: Width::N(0xFFF),
            seed: 5,
        },
        Op::EnterContext {
            process: P::Nth(2),
            mode: Mode::User,
            vm: None,
            caller: Some(P::Nth(1)),
            owner: None,
        },
        Op::CeOpenCallerBuffer {
            src: Addr::Abs(0x1_0FFF),
            cb: 0,
            desc: arg::I_WSTR,
            force: false,
        },
        Op::VirtualQuery {
            h: None,
            a: Addr::Ret { back: 0, off: 0 },
            len: 28,
        },
    ];
    let h = agree(&cfg, &ops);
    assert_eq!(outcome(&h, &cfg, 4).ret, marshal(hr::S_OK, Some(0x1_0010)));
    let Ret::Query(q) = outcome(&h, &cfg, 5).ret else {
        panic!("query")
    };
    assert_eq!(q.region_size, 0x2000);
}

#[test]
fn a_page_by_page_string_read_needs_frames_for_each_rounds_duplicate() {
    // Model fix, where §7 is silent: as CE's loop (which allocates each round's
    // duplicate before reading), a round without the frames for a duplicate of the chunk
    // read so far fails with E_OUTOFMEMORY before reading. Here one frame is free and the
    // first round's duplicate (0x1000 + 16 bytes) needs two; the model used to read on,
    // meet the unmapped page after the string and answer E_ACCESSDENIED (last error 87).
    let cfg = world(2);
    let ops = vec![
        Op::Enter {
            pid: P::Nth(1),
            mode: Mode::User,
            caller: None,
        },
        Op::VirtualAlloc {
            h: None,
            a: Addr::Abs(0),
            n: 0x1000,
            ty: mem::COMMIT,
            prot: page::READWRITE,
        },
        Op::Write {
            a: Addr::Abs(0x1_0000),
            width: Width::N(0x1000),
            seed: 9,
        },
        // 256 frames: two process pages, the string's page, and 252 more leave one.
        Op::VirtualAlloc {
            h: None,
            a: Addr::Abs(0),
            n: 252 * 0x1000,
            ty: mem::COMMIT,
            prot: page::READWRITE,
        },
        Op::EnterContext {
            process: P::Nth(2),
            mode: Mode::User,
            vm: None,
            caller: Some(P::Nth(1)),
            owner: None,
        },
        Op::CeOpenCallerBuffer {
            src: Addr::Abs(0x1_0000),
            cb: 0,
            desc: arg::I_ASTR,
            force: false,
        },
    ];
    let h = agree(&cfg, &ops);
    assert_eq!(outcome(&h, &cfg, 3).ret, Ret::Value(0x2_0000));
    assert_eq!(outcome(&h, &cfg, 5).ret, marshal(hr::E_OUTOFMEMORY, None));
    assert_eq!(outcome(&h, &cfg, 5).last_error, 0);
}
