//! The host-window figures: a direct access through a window beside a plain host access;
//! what windows add to VirtualAllocCopyEx of 16 MiB and to VirtualAlloc+VirtualFree of
//! 64 KiB (the call with windows minus the call without, in the same run) beside the raw
//! host mmap they stand for; and how window work grows with the size of an alias and with
//! 10 000 scattered aliases.

use std::hint::black_box;
use std::os::fd::OwnedFd;
use std::time::Instant;

use cevm::{AllocType, Handle, Protection};
use rustix::mm::{MapFlags, ProtFlags, mmap, mmap_anonymous, munmap};

use crate::cases::{alias_into_ns, alias_ns, figure, random_offsets, world_with};
use crate::measure::{Figure, time_per_iter};

const MIB: u32 = 1 << 20;

fn memfd(bytes: usize) -> OwnedFd {
    let fd =
        rustix::fs::memfd_create("cevm-bench", rustix::fs::MemfdFlags::CLOEXEC).expect("memfd");
    rustix::fs::ftruncate(&fd, bytes as u64).expect("ftruncate");
    fd
}

/// Nanoseconds of one raw `mmap(MAP_SHARED|MAP_FIXED)` of `bytes` of a memfd over a
/// reserved (no-access) range in the middle of a 4 GiB reservation, as a window's pages
/// are; the range is reserved again, untimed, before each, best of `rounds`.
fn raw_fixed_map_ns(bytes: usize, rounds: u32, iters: u64) -> f64 {
    let fd = memfd(bytes);
    let span = 1usize << 32;
    let reserve = |at: *mut std::ffi::c_void, len: usize, fixed: MapFlags| {
        // SAFETY: either a fresh reservation at an address the host picks, or `at..at+len`
        // inside the reservation made here, which nothing else refers to.
        unsafe {
            mmap_anonymous(
                at,
                len,
                ProtFlags::empty(),
                MapFlags::PRIVATE | MapFlags::NORESERVE | fixed,
            )
        }
        .expect("reserve")
    };
    let range = reserve(std::ptr::null_mut(), span, MapFlags::empty());
    let at = range.cast::<u8>().wrapping_add(1 << 30).cast();
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let mut total = std::time::Duration::ZERO;
        for _ in 0..iters {
            let t0 = Instant::now();
            // SAFETY: maps over the reserved range inside the reservation made above.
            let p = unsafe {
                mmap(
                    at,
                    bytes,
                    ProtFlags::READ | ProtFlags::WRITE,
                    MapFlags::SHARED | MapFlags::FIXED,
                    &fd,
                    0,
                )
            };
            total += t0.elapsed();
            black_box(p.expect("map"));
            reserve(at, bytes, MapFlags::FIXED);
        }
        best = best.min(total.as_nanos() as f64 / iters as f64);
    }
    // SAFETY: the reservation made above.
    let _ = unsafe { munmap(range, span) };
    best
}

/// Nanoseconds of a raw mmap + munmap pair of `bytes` of a memfd.
fn raw_map_unmap_ns(bytes: usize, rounds: u32, iters: u64) -> f64 {
    let fd = memfd(bytes);
    time_per_iter(rounds, iters, || {
        // SAFETY: a fresh shared mapping at an address the host chooses, unmapped at once.
        unsafe {
            let p = mmap(
                std::ptr::null_mut(),
                bytes,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )
            .expect("map");
            munmap(black_box(p), bytes).expect("unmap");
        }
    })
}

/// Every window figure.
pub fn windows(rounds: u32, quick: bool) -> Vec<Figure> {
    let mut out = direct(rounds, quick);
    out.extend(alias_cost(rounds, quick));
    out.extend(alloc_free_cost(rounds, quick));
    out.extend(scaling(rounds, quick));
    out
}

/// Direct 4-byte reads and writes through a window at random committed pages, beside the
/// same accesses to a plain host buffer.
fn direct(rounds: u32, quick: bool) -> Vec<Figure> {
    let span = 16 * MIB;
    let (k, mut t, app) = world_with(64, true);
    let base = t
        .virtual_alloc(0, span, AllocType::COMMIT, Protection::READWRITE)
        .expect("commit");
    let win = k.window(app).expect("window").wrapping_add(base as usize);
    let mut host = vec![1u8; span as usize];
    let hp = host.as_mut_ptr();
    let offs = random_offsets(4096, span);
    let iters = if quick { 20_000 } else { 4_000_000 };
    let run = |p: *mut u8, write: bool| {
        let mut i = 0usize;
        time_per_iter(rounds, iters, || {
            i = (i + 1) & 4095;
            let q = p.wrapping_add(offs[i] as usize).cast::<u32>();
            // SAFETY: `q` is 4-aligned inside 16 MiB of committed read/write memory (the
            // window's run of the commit, or the host buffer).
            unsafe {
                if write {
                    q.write_volatile(7);
                } else {
                    black_box(q.read_volatile());
                }
            }
        })
    };
    let (wr, hr) = (run(win, false), run(hp, false));
    let (ww, hw) = (run(win, true), run(hp, true));
    black_box(&host);
    vec![
        figure(
            "window_read4",
            "direct 4-byte read through a window, random committed pages (16 MiB)".into(),
            wr,
            "plain host read of a 16 MiB buffer, same offsets",
            hr,
            Some(("<= 1.1x", wr <= 1.1 * hr)),
        ),
        figure(
            "window_write4",
            "direct 4-byte write through a window, same pages".into(),
            ww,
            "plain host write, same offsets",
            hw,
            Some(("<= 1.1x", ww <= 1.1 * hw)),
        ),
    ]
}

/// VirtualAllocCopyEx of 16 MiB of consecutive frames with windows minus without, beside
/// one raw fixed mmap of 16 MiB of a memfd over a reserved range: into a user process
/// (one window shows it), and into the kernel half (every window shows it: one mapping
/// each).
fn alias_cost(rounds: u32, quick: bool) -> Vec<Figure> {
    // A difference of two ~6 µs calls: both kernels stay alive and their rounds take turns
    // (and the raw mmap's with them), so drift in the host touches both sides alike.
    let iters = if quick { 3 } else { 100 };
    let worlds: Vec<_> = [false, true]
        .into_iter()
        .map(|on| {
            let (k, mut t, app) = world_with(64, on);
            let drv = k.create_process("drv.exe").expect("process");
            let src = t
                .virtual_alloc(0, 16 * MIB, AllocType::COMMIT, Protection::READWRITE)
                .expect("commit");
            (k, t, app, drv, src)
        })
        .collect();
    let windows = worlds[1].0.processes().len();
    // [windows off, on] × [into drv.exe, into the kernel], best round of each.
    let mut ns = [[f64::MAX; 2]; 2];
    let mut raw = f64::MAX;
    let mut worlds = worlds;
    for _ in 0..rounds.max(5) * 4 {
        for (slot, (_, t, app, drv, src)) in worlds.iter_mut().enumerate() {
            let into = alias_into_ns(t, *app, *drv, *src, 4096, 1, iters).0;
            let kernel = alias_ns(t, *app, *src, 4096, 1, iters).0;
            ns[slot][0] = ns[slot][0].min(into);
            ns[slot][1] = ns[slot][1].min(kernel);
        }
        raw = raw.min(raw_fixed_map_ns(
            16 * MIB as usize,
            1,
            if quick { 20 } else { 100 },
        ));
    }
    let added = |d: usize| (ns[1][d] - ns[0][d]).max(0.0);
    let per_window = added(1) / windows as f64;
    vec![
        figure(
            "window_alias_16mib",
            format!(
                "what windows add to VirtualAllocCopyEx of 16 MiB into a process ({:.1} µs with, {:.1} µs without)",
                ns[1][0] / 1e3,
                ns[0][0] / 1e3
            ),
            added(0),
            "one raw mmap(MAP_SHARED|MAP_FIXED) of 16 MiB of a memfd over a reserved range",
            raw,
            Some(("<= 1.3x", added(0) <= 1.3 * raw)),
        ),
        figure(
            "window_alias_16mib_kernel",
            format!(
                "the same into the kernel half, per window showing it ({windows} windows; {:.1} µs with, {:.1} µs without)",
                ns[1][1] / 1e3,
                ns[0][1] / 1e3
            ),
            per_window,
            "the same raw mmap",
            raw,
            Some(("<= 1.3x", per_window <= 1.3 * raw)),
        ),
    ]
}

/// VirtualAlloc + VirtualFree of a committed 64 KiB region with windows minus without,
/// beside a raw mmap + munmap pair of 64 KiB of a memfd.
fn alloc_free_cost(rounds: u32, quick: bool) -> Vec<Figure> {
    let iters = if quick { 200 } else { 20_000 };
    let mut ns = [0.0f64; 2];
    for (slot, on) in [(0, false), (1, true)] {
        let (_k, mut t, _) = world_with(64, on);
        ns[slot] = time_per_iter(rounds, iters, || {
            let p = t
                .virtual_alloc(0, 0x10000, AllocType::COMMIT, Protection::READWRITE)
                .expect("alloc");
            t.virtual_free(p, 0, AllocType::RELEASE).expect("free");
        });
    }
    let added = (ns[1] - ns[0]).max(0.0);
    let raw = raw_map_unmap_ns(0x10000, rounds, iters);
    vec![figure(
        "window_alloc_free_64k",
        format!(
            "what windows add to VirtualAlloc + VirtualFree of 64 KiB ({:.2} µs with, {:.2} µs without)",
            ns[1] / 1e3,
            ns[0] / 1e3
        ),
        added,
        "a raw mmap + munmap pair of 64 KiB of a memfd",
        raw,
        Some(("<= 2x", added <= 2.0 * raw)),
    )]
}

/// VirtualAllocCopyEx of 1 … 65 536 pages with windows, and 10 000 single-page aliases
/// of scattered frames.
fn scaling(rounds: u32, quick: bool) -> Vec<Figure> {
    let big: u32 = if quick { 16384 } else { 65536 };
    let (k, mut t, app) = world_with(if quick { 128 } else { 384 }, true);
    let src = t
        .virtual_alloc(0, big * 4096, AllocType::COMMIT, Protection::READWRITE)
        .expect("commit");
    let mut out = Vec::new();
    for pages in [1u32, 16, 256, 4096, 65536] {
        if pages > big {
            continue;
        }
        let iters = (200_000 / u64::from(pages)).clamp(2, 20_000) / if quick { 20 } else { 1 };
        let (ns, _) = alias_ns(&mut t, app, src, pages, rounds, iters.max(2));
        out.push(figure(
            "window_alloccopy_scaling",
            format!(
                "with windows: VirtualAllocCopyEx of {pages} pages ({:.1} ns/page)",
                ns / f64::from(pages)
            ),
            ns,
            "",
            0.0,
            None,
        ));
    }
    // 10 000 single-page aliases of every other page: no two share a run.
    let n: u32 = if quick { 1000 } else { 10_000 };
    let drv = k.create_process("drv.exe").expect("process");
    let t0 = Instant::now();
    for i in 0..n {
        t.virtual_alloc_copy_ex(
            Handle::from(app),
            Handle::from(drv),
            src + 2 * (i % (big / 2)) * 4096,
            4,
            Protection::READWRITE,
        )
        .expect("alias");
    }
    let per = t0.elapsed().as_nanos() as f64 / f64::from(n);
    let stats = k.window_stats();
    out.push(figure(
        "window_scattered_aliases",
        format!(
            "with windows: {n} scattered single-page aliases, per alias ({} mappings of a budget of {}, {} pages left to the fault path)",
            stats.mappings, stats.budget, stats.pages_to_fault_path
        ),
        per,
        "",
        0.0,
        None,
    ));
    out
}
