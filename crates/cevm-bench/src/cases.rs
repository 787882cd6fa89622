//! The cases: each builds its kernel, measures the operation and its baseline.

use std::hint::black_box;
use std::time::{Duration, Instant};

use cevm::{
    AllocType, ArgDescriptor, Config, Context, Handle, Kernel, Mode, Pid, Protection, Thread,
};

use crate::measure::{Figure, time_per_iter};

const MIB: u32 = 1 << 20;

/// A kernel with `ram_mb` of RAM and one process `app.exe`, a thread in it (kernel mode).
pub fn world(ram_mb: u64) -> (Kernel, Thread, Pid) {
    world_with(ram_mb, false)
}

/// As [`world`], with host windows on or off.
pub fn world_with(ram_mb: u64, host_windows: bool) -> (Kernel, Thread, Pid) {
    let k = Kernel::boot(Config {
        ram_bytes: ram_mb << 20,
        host_windows,
        ..Config::default()
    })
    .expect("boot");
    let app = k.create_process("app.exe").expect("process");
    let mut t = k.thread();
    t.enter(app, Mode::Kernel, None).expect("enter");
    (k, t, app)
}

/// Deterministic pseudo-random page-aligned offsets (xorshift), so both sides touch the
/// same places.
pub fn random_offsets(count: usize, span: u32) -> Vec<u32> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    (0..count)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s as u32) % span) & !3
        })
        .collect()
}

pub(crate) fn figure(
    id: &'static str,
    what: String,
    ns: f64,
    baseline_what: &str,
    baseline_ns: f64,
    target: Option<(&str, bool)>,
) -> Figure {
    Figure {
        id,
        what,
        ns,
        baseline_what: baseline_what.to_string(),
        baseline_ns,
        target: target.map(|(t, _)| t.to_string()),
        met: target.map(|(_, m)| m),
    }
}

/// Checked 4-byte reads and writes at random committed pages, beside plain host reads of
/// the same data; and the same read with 1 000 processes alive.
pub fn access(rounds: u32, quick: bool) -> Vec<Figure> {
    let span = 16 * MIB;
    let (k, mut t, _) = world(64);
    let base = t
        .virtual_alloc(0, span, AllocType::COMMIT, Protection::READWRITE)
        .expect("commit");
    let offs = random_offsets(4096, span);
    let host = vec![1u8; span as usize];
    let iters = if quick { 20_000 } else { 2_000_000 };
    let mut i = 0usize;
    let mut next = || {
        i = (i + 1) & 4095;
        offs[i]
    };
    let read = time_per_iter(rounds, iters, || {
        black_box(t.read_u32(base + next()).ok());
    });
    let mut j = 0usize;
    let plain = time_per_iter(rounds, iters, || {
        j = (j + 1) & 4095;
        let o = offs[j] as usize;
        black_box(u32::from_le_bytes(
            host[o..o + 4].try_into().unwrap_or([0; 4]),
        ));
    });
    let mut i2 = 0usize;
    let write = time_per_iter(rounds, iters, || {
        i2 = (i2 + 1) & 4095;
        black_box(t.write_u32(base + offs[i2], 7).ok());
    });
    let mut out = vec![
        figure(
            "read4_random",
            "checked 4-byte read, random committed pages (16 MiB)".into(),
            read,
            "plain host read of the same data",
            plain,
            Some((
                "<= 10 ns/op and <= 3x the baseline",
                read <= 10.0 && read <= 3.0 * plain,
            )),
        ),
        figure(
            "write4_random",
            "checked 4-byte write, random committed pages (16 MiB)".into(),
            write,
            "plain host read of the same data",
            plain,
            Some((
                "<= 10 ns/op and <= 3x the baseline",
                write <= 10.0 && write <= 3.0 * plain,
            )),
        ),
    ];
    for _ in 0..if quick { 99 } else { 999 } {
        k.create_process("idle.exe").expect("process");
    }
    let many = time_per_iter(rounds, iters, || {
        black_box(t.read_u32(base + next()).ok());
    });
    out.push(figure(
        "read4_1000_processes",
        format!(
            "checked 4-byte read with {} processes alive",
            k.processes().len() - 1
        ),
        many,
        "the same read with 1 process",
        read,
        None,
    ));
    out
}

/// Nanoseconds of one VirtualAllocCopyEx of `pages` committed pages into the kernel
/// (best of `rounds` rounds of `iters`), and of the VirtualFreeEx that releases it.
pub(crate) fn alias_ns(
    t: &mut Thread,
    app: Pid,
    src: u32,
    pages: u32,
    rounds: u32,
    iters: u64,
) -> (f64, f64) {
    let nk = t.kernel().kernel_pid();
    alias_into_ns(t, app, nk, src, pages, rounds, iters)
}

/// As [`alias_ns`], into process `dst` (NK.EXE: the kernel half).
pub(crate) fn alias_into_ns(
    t: &mut Thread,
    app: Pid,
    dst: Pid,
    src: u32,
    pages: u32,
    rounds: u32,
    iters: u64,
) -> (f64, f64) {
    let into = if dst == t.kernel().kernel_pid() {
        Handle::NULL
    } else {
        Handle::from(dst)
    };
    let (mut best_make, mut best_free) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let (mut make, mut free) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..iters {
            let t0 = Instant::now();
            let p = t
                .virtual_alloc_copy_ex(app.into(), into, src, pages * 4096, Protection::READWRITE)
                .expect("alias");
            let t1 = Instant::now();
            t.virtual_free_ex(dst.into(), p & !0xFFFF, 0, AllocType::RELEASE)
                .expect("release");
            free += t1.elapsed();
            make += t1 - t0;
        }
        best_make = best_make.min(make.as_nanos() as f64 / iters as f64);
        best_free = best_free.min(free.as_nanos() as f64 / iters as f64);
    }
    (best_make, best_free)
}

/// VirtualAllocCopyEx of 16 MiB beside memcpy of 16 MiB, its per-page cost beside writing
/// the page-table entries alone, and how it grows from 1 to 65 536 pages.
pub fn alloc_copy(rounds: u32, quick: bool) -> Vec<Figure> {
    let (_k, mut t, app) = world(if quick { 128 } else { 384 });
    let big_pages: u32 = if quick { 16384 } else { 65536 };
    let src = t
        .virtual_alloc(
            0,
            big_pages * 4096,
            AllocType::COMMIT,
            Protection::READWRITE,
        )
        .expect("commit");
    let mut out = Vec::new();
    let (sixteen, release) = alias_ns(&mut t, app, src, 4096, rounds, if quick { 3 } else { 50 });
    let a = vec![1u8; 16 * MIB as usize];
    let mut b = vec![0u8; 16 * MIB as usize];
    let memcpy = time_per_iter(rounds, if quick { 3 } else { 20 }, || {
        b.copy_from_slice(black_box(&a));
        black_box(&b);
    });
    out.push(figure(
        "alloccopy_16mib",
        "VirtualAllocCopyEx of 16 MiB (4096 pages)".into(),
        sixteen,
        "memcpy of 16 MiB",
        memcpy,
        Some((">= 100x faster than memcpy", memcpy / sixteen >= 100.0)),
    ));
    out.push(figure(
        "alias_release_16mib",
        "VirtualFreeEx of that 16 MiB alias".into(),
        release,
        "memcpy of 16 MiB",
        memcpy,
        None,
    ));
    let mut ptes = vec![0u64; 4096];
    let pte_ns = time_per_iter(rounds, if quick { 100 } else { 5000 }, || {
        for (i, e) in ptes.iter_mut().enumerate() {
            *e = black_box((i as u64) << 32 | 0x404);
        }
        black_box(&ptes);
    }) / 4096.0;
    let per_page = sixteen / 4096.0;
    out.push(figure(
        "alloccopy_per_page",
        "VirtualAllocCopyEx per page, 4096-page alias".into(),
        per_page,
        "writing the page-table entries alone, per page",
        pte_ns,
        Some((
            "<= 3x the baseline and <= 5 ns/page",
            per_page <= 5.0 && per_page <= 3.0 * pte_ns,
        )),
    ));
    for pages in [1u32, 16, 256, 4096, 65536] {
        if pages > big_pages {
            continue;
        }
        let iters = (200_000 / u64::from(pages)).clamp(2, 20_000) / if quick { 20 } else { 1 };
        let (ns, _) = alias_ns(&mut t, app, src, pages, rounds, iters.max(2));
        out.push(figure(
            "alloccopy_scaling",
            format!(
                "VirtualAllocCopyEx of {pages} pages ({:.1} ns/page)",
                ns / f64::from(pages)
            ),
            ns,
            "",
            0.0,
            None,
        ));
    }
    out
}

/// ReadProcessMemory of 1 MiB beside memcpy of 1 MiB.
pub fn process_memory(rounds: u32, quick: bool) -> Vec<Figure> {
    let (_k, mut t, app) = world(64);
    let src = t
        .virtual_alloc(0, MIB, AllocType::COMMIT, Protection::READWRITE)
        .expect("commit");
    let mut buf = vec![0u8; MIB as usize];
    let iters = if quick { 20 } else { 2000 };
    let rpm = time_per_iter(rounds, iters, || {
        t.read_process_memory_into(app.into(), src, &mut buf)
            .expect("read");
        black_box(&buf);
    });
    let a = vec![1u8; MIB as usize];
    let memcpy = time_per_iter(rounds, iters, || {
        buf.copy_from_slice(black_box(&a));
        black_box(&buf);
    });
    let mut out = vec![figure(
        "rpm_1mib",
        "ReadProcessMemory of 1 MiB".into(),
        rpm,
        "memcpy of 1 MiB",
        memcpy,
        Some((">= 0.8x memcpy bandwidth", memcpy / rpm >= 0.8)),
    )];
    let rb = time_per_iter(rounds, iters, || {
        t.read_bytes(src, &mut buf).expect("read");
        black_box(&buf);
    });
    out.push(figure(
        "read_bytes_1mib",
        "read_bytes of 1 MiB".into(),
        rb,
        "memcpy of 1 MiB",
        memcpy,
        Some((">= 0.8x memcpy bandwidth", memcpy / rb >= 0.8)),
    ));
    out
}

/// VirtualAlloc + VirtualFree of a committed 64 KiB region, with 10 and 10 000 other
/// reservations alive, beside zeroing 64 KiB: committed frames are zero-filled when
/// handed out (semantics.md), so that is the floor of the pair.
pub fn alloc_free(rounds: u32, quick: bool) -> Vec<Figure> {
    let mut out = Vec::new();
    let mut zeroes = vec![1u8; 0x10000];
    let zero = time_per_iter(rounds, if quick { 200 } else { 20_000 }, || {
        black_box(&mut zeroes).fill(0);
    });
    for live in [10u32, 10_000] {
        let (_k, mut t, _) = world(64);
        for _ in 0..live {
            t.virtual_alloc(0, 0x1000, AllocType::RESERVE, Protection::NOACCESS)
                .expect("reserve");
        }
        let iters = if quick { 200 } else { 20_000 };
        let ns = time_per_iter(rounds, iters, || {
            let p = t
                .virtual_alloc(0, 0x10000, AllocType::COMMIT, Protection::READWRITE)
                .expect("alloc");
            t.virtual_free(p, 0, AllocType::RELEASE).expect("free");
        });
        out.push(figure(
            "alloc_free_64k",
            format!(
                "VirtualAlloc + VirtualFree of a committed 64 KiB region, {live} live reservations"
            ),
            ns,
            "zeroing 64 KiB (the 16 frames' zero fill)",
            zero,
            Some(("<= 1 us/pair", ns <= 1000.0)),
        ));
    }
    out
}

/// CeAllocAsynchronousBuffer + CeFreeAsynchronousBuffer of 64 KiB (the alias path) by a
/// kernel-mode driver called by app.exe (P = NK.EXE, V = C = app.exe), beside the
/// VirtualAllocCopyEx + VirtualFreeEx pair the helpers make, in the same context.
pub fn marshal(rounds: u32, quick: bool) -> Vec<Figure> {
    let (k, mut t, app) = world(64);
    let src = t
        .virtual_alloc(0, 0x10000, AllocType::COMMIT, Protection::READWRITE)
        .expect("commit");
    t.enter_context(Context {
        vm: Some(app),
        caller: Some(app),
        ..Context::new(k.kernel_pid(), Mode::Kernel)
    })
    .expect("enter");
    let desc = ArgDescriptor::IO_PTR;
    let iters = if quick { 200 } else { 20_000 };
    let (mut helpers, mut direct) = (f64::MAX, f64::MAX);
    // Alternate the two so that neither gets a warmer machine.
    for _ in 0..rounds {
        helpers = helpers.min(time_per_iter(1, iters, || {
            let a = t
                .ce_alloc_asynchronous_buffer(src, 0x10000, desc)
                .expect("alias");
            t.ce_free_asynchronous_buffer(a, src, 0x10000, desc)
                .expect("free");
        }));
        direct = direct.min(time_per_iter(1, iters, || {
            let p = t
                .virtual_alloc_copy_ex(
                    app.into(),
                    Handle::CURRENT_PROCESS,
                    src,
                    0x10000,
                    Protection::READWRITE,
                )
                .expect("alias");
            t.virtual_free_ex(Handle::CURRENT_PROCESS, p & !0xFFFF, 0, AllocType::RELEASE)
                .expect("release");
        }));
    }
    vec![figure(
        "marshal_async_alias_64k",
        "CeAllocAsynchronousBuffer + CeFreeAsynchronousBuffer of 64 KiB (alias)".into(),
        helpers,
        "VirtualAllocCopyEx + VirtualFreeEx of the same buffer",
        direct,
        Some(("<= 1.5x the baseline", helpers <= 1.5 * direct)),
    )]
}
