//! Proptest strategies: worlds with little RAM (so ERROR_NOT_ENOUGH_MEMORY is reached) and
//! op sequences with hostile arguments — edge sizes, layout edges, addresses of live
//! reservations and returned pointers with small offsets, dead, closed and query-only
//! handles, both modes.

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::{BoxedStrategy, Union};

use crate::hostile::*;
use crate::model::{Mode, WorldConfig};
use crate::op::{Addr, H, Op, P, Phys, Src, Width};
use crate::spec::page;

/// A world: 1–4 MiB of RAM (at physical 0, sometimes at 16 MiB so physical sources
/// pass VirtualAllocCopyEx's 0x10000 check), a device at 256 MiB, sometimes a second
/// device right after RAM, and 1–3 user processes.
pub fn world() -> BoxedStrategy<WorldConfig> {
    (
        1u64..=4,
        prop_oneof![4 => Just(0u64), 1 => Just(0x100_0000u64)],
        any::<bool>(),
        1u8..=3,
    )
        .prop_map(|(mib, base, after, processes)| {
            let ram_bytes = mib << 20;
            let mut devices = vec![(0x1000_0000, 0x4000)];
            if after {
                devices.push((base + ram_bytes, 0x2000));
            }
            WorldConfig {
                ram_bytes,
                ram_base: base,
                devices,
                processes,
            }
        })
        .boxed()
}

/// A size argument: mostly small, sometimes edges or anything.
pub fn size() -> BoxedStrategy<u32> {
    prop_oneof![
        6 => 1u32..0x5000,
        3 => (1u32..=8).prop_map(|p| p * 0x1000),
        1 => (0x10u32..0x400).prop_map(|p| p * 0x1000),
        2 => select(SIZES),
        1 => any::<u32>(),
    ]
    .boxed()
}

/// An offset from a live address: mostly inside its first pages.
fn near() -> BoxedStrategy<i32> {
    prop_oneof![
        6 => select(NEAR),
        1 => select(OFFSETS),
        1 => -0x3000i32..0x13000,
    ]
    .boxed()
}

/// An address argument: mostly recently returned pointers and live reservations with
/// small offsets, sometimes layout edges or anything.
pub fn addr() -> BoxedStrategy<Addr> {
    prop_oneof![
        6 => (0u8..4, near()).prop_map(|(back, off)| Addr::Ret { back, off }),
        4 => (any::<u8>(), near()).prop_map(|(pick, off)| Addr::Rec { pick, off }),
        1 => select(ADDRS).prop_map(Addr::Abs),
        1 => (0u32..0x40).prop_map(|p| Addr::Abs(0x1_0000 + p * 0x1000)),
        1 => (0u32..0x410, near()).prop_map(|(f, off)| Addr::Abs(
            (0x8000_0000u32 + f * 0x1000).wrapping_add(off as u32)
        )),
        1 => any::<u32>().prop_map(Addr::Abs),
    ]
    .boxed()
}

/// An address for an allocation: often NULL.
fn alloc_addr() -> BoxedStrategy<Addr> {
    prop_oneof![5 => Just(Addr::Abs(0)), 2 => addr()].boxed()
}

/// An allocation type: mostly valid.
fn alloc_type() -> BoxedStrategy<u32> {
    prop_oneof![
        8 => select(GOOD_ALLOC_TYPES),
        2 => select(ALLOC_TYPES),
        1 => any::<u32>(),
    ]
    .boxed()
}

/// A VirtualFree (size, type) pair: mostly one of the two accepted forms.
fn free_form() -> BoxedStrategy<(u32, u32)> {
    prop_oneof![
        4 => Just((0u32, crate::spec::mem::RELEASE)),
        3 => size().prop_map(|n| (n, crate::spec::mem::DECOMMIT)),
        1 => (size(), select(FREE_TYPES)),
    ]
    .boxed()
}

/// A protection: mostly valid.
pub fn prot() -> BoxedStrategy<u32> {
    prop_oneof![
        8 => select(GOOD_PROTS),
        2 => select(BAD_PROTS),
        1 => any::<u32>(),
    ]
    .boxed()
}

/// A process handle: the pseudo handle, process ids (live or dead), opened handles
/// (whatever their access, open or closed), NULL, or values that name nothing.
pub fn handle() -> BoxedStrategy<H> {
    prop_oneof![
        5 => Just(H::Pseudo),
        5 => any::<u8>().prop_map(H::Pid),
        2 => any::<u8>().prop_map(H::Opened),
        1 => Just(H::Null),
        1 => select(BAD_HANDLES).prop_map(H::Raw),
    ]
    .boxed()
}

fn opt_handle() -> BoxedStrategy<Option<H>> {
    prop_oneof![3 => Just(None), 2 => handle().prop_map(Some)].boxed()
}

/// A physical address: RAM frames (and just past RAM), device frames, anything.
pub fn phys() -> BoxedStrategy<Phys> {
    let off = select(&[0u16, 0, 0x100, 0x123, 0xF00][..]);
    prop_oneof![
        3 => (any::<u16>(), off.clone()).prop_map(|(frame, off)| Phys::Ram { frame, off }),
        2 => (any::<u8>(), any::<u16>(), off).prop_map(|(dev, frame, off)| Phys::Dev { dev, frame, off }),
        1 => (0u64..1 << 41).prop_map(Phys::Raw),
    ]
    .boxed()
}

/// A copy source and a protection that mostly agree on PAGE_PHYSICAL.
fn src_and_prot() -> BoxedStrategy<(Src, u32)> {
    (
        prop_oneof![3 => addr().prop_map(Src::Virt), 1 => phys().prop_map(Src::Phys)],
        prot(),
        prop::bool::weighted(0.9),
    )
        .prop_map(|(src, prot, agree)| {
            let physical = matches!(src, Src::Phys(_));
            let prot = if agree == physical {
                prot | page::PHYSICAL
            } else {
                prot & !page::PHYSICAL
            };
            (src, prot)
        })
        .boxed()
}

fn pid() -> BoxedStrategy<P> {
    prop_oneof![6 => any::<u8>().prop_map(P::Nth), 1 => select(BAD_HANDLES).prop_map(P::Raw)]
        .boxed()
}

fn mode() -> BoxedStrategy<Mode> {
    prop_oneof![2 => Just(Mode::User), 3 => Just(Mode::Kernel)].boxed()
}

fn width() -> BoxedStrategy<Width> {
    prop_oneof![
        2 => Just(Width::B1),
        1 => Just(Width::B2),
        2 => Just(Width::B4),
        2 => (0u16..0x100).prop_map(Width::N),
        1 => (0u16..0x2100).prop_map(Width::N),
    ]
    .boxed()
}

/// An ArgumentDescriptor: mostly valid, with and without MARSHAL_FORCE_ALIAS, sometimes
/// invalid or anything.
pub fn desc() -> BoxedStrategy<u32> {
    prop_oneof![
        8 => select(DESCS),
        1 => any::<u32>(),
    ]
    .boxed()
}

/// A helper's byte count: around 520, the PDW/PI64 sizes, 64 KiB, small, or anything.
pub fn cb() -> BoxedStrategy<u32> {
    prop_oneof![
        5 => select(CBS),
        3 => 1u32..0x1000,
        1 => 0x1000u32..0x1_2000,
        1 => size(),
    ]
    .boxed()
}

/// A pointer for a helper: recent results (buffers, duplicates, aliases), reservations,
/// the bounds the helpers test, or any address.
pub fn maddr() -> BoxedStrategy<Addr> {
    prop_oneof![
        6 => (0u8..4, select(&[0i32, 0, 0, 0x10, 0x123, 0xFF0, -0x10, 0x1000][..]))
            .prop_map(|(back, off)| Addr::Ret { back, off }),
        2 => (any::<u8>(), near()).prop_map(|(pick, off)| Addr::Rec { pick, off }),
        2 => select(MARSHAL_ADDRS).prop_map(Addr::Abs),
        1 => addr(),
    ]
    .boxed()
}

fn opt_pid() -> BoxedStrategy<Option<P>> {
    prop_oneof![3 => Just(None), 2 => pid().prop_map(Some)].boxed()
}

/// Enter a full context: any P, V, C, O (dead and unknown ones too), either mode.
fn enter_context() -> BoxedStrategy<Op> {
    (pid(), mode(), opt_pid(), opt_pid(), opt_pid())
        .prop_map(|(process, mode, vm, caller, owner)| Op::EnterContext {
            process,
            mode,
            vm,
            caller,
            owner,
        })
        .boxed()
}

/// The contexts drivers meet (§2), calling app.exe = `P::Nth(1)`: a kernel-mode driver
/// (and the reflector), a user-mode driver in `P::Nth(2)`, kernel code calling a
/// kernel-mode driver directly, and the application itself.
fn driver_context() -> BoxedStrategy<Op> {
    let nk = P::Nth(0);
    let app = P::Nth(1);
    prop_oneof![
        4 => Just(Op::EnterContext {
            process: nk,
            mode: Mode::Kernel,
            vm: Some(app),
            caller: Some(app),
            owner: None,
        }),
        2 => Just(Op::EnterContext {
            process: P::Nth(2),
            mode: Mode::User,
            vm: None,
            caller: Some(app),
            owner: None,
        }),
        1 => Just(Op::EnterContext {
            process: nk,
            mode: Mode::Kernel,
            vm: Some(app),
            caller: Some(nk),
            owner: Some(app),
        }),
        1 => Just(Op::EnterContext {
            process: app,
            mode: Mode::User,
            vm: None,
            caller: None,
            owner: None,
        }),
        1 => Just(Op::EnterContext {
            process: nk,
            mode: Mode::Kernel,
            vm: None,
            caller: None,
            owner: None,
        }),
    ]
    .boxed()
}

/// A driver's use of one helper pair: app.exe fills a buffer (sometimes leaving a string
/// terminator), a driver context marshals it, writes through the result, flushes, and
/// frees it — with the same arguments or mismatched ones (another cb, descriptor or
/// pointer) — then the application reads its buffer back.
pub fn marshal_snippet() -> BoxedStrategy<Vec<Op>> {
    use crate::spec::mem;
    let same_or = |s: BoxedStrategy<u32>| prop_oneof![3 => Just(None), 1 => s.prop_map(Some)];
    (
        (
            prop_oneof![4 => 0x100u32..0x3000, 1 => 0x1_0000u32..0x1_3000],
            select(&[0i32, 0x10, 0x123, 0xFF0, 0xFFE][..]),
            0u16..0x300,
            any::<u32>(),
            driver_context(),
        ),
        (
            0u8..3,
            cb(),
            desc(),
            prop::bool::weighted(0.3),
            prop::bool::weighted(0.5),
            prop::bool::weighted(0.3),
        ),
        (
            same_or(cb()),
            same_or(desc()),
            prop_oneof![6 => Just(0i32), 1 => Just(0x10), 1 => Just(-0x10)],
            any::<u32>(),
        ),
    )
        .prop_map(
            |(
                (size, off, len, seed, ctx),
                (which, cb, desc, force, write, flush),
                (cb2, desc2, bad, seed2),
            )| {
                let src = Addr::Ret { back: 0, off };
                let mut ops = vec![
                    Op::Enter {
                        pid: P::Nth(1),
                        mode: Mode::User,
                        caller: None,
                    },
                    Op::VirtualAlloc {
                        h: None,
                        a: Addr::Abs(0),
                        n: size,
                        ty: mem::COMMIT,
                        prot: page::READWRITE,
                    },
                    Op::Write {
                        a: src,
                        width: Width::N(len),
                        seed,
                    },
                    ctx,
                ];
                ops.push(match which {
                    0 => Op::CeOpenCallerBuffer {
                        src,
                        cb,
                        desc,
                        force,
                    },
                    1 => Op::CeAllocAsynchronousBuffer { src, cb, desc },
                    _ => Op::CeAllocDuplicateBuffer { src, cb, desc },
                });
                // From here Ret 0 is the helper's result, Ret 1 the buffer.
                let out = Addr::Ret { back: 0, off: bad };
                let src = Addr::Ret { back: 1, off };
                if write {
                    ops.push(Op::Write {
                        a: Addr::Ret { back: 0, off: 0 },
                        width: Width::N(len.min(0x40)),
                        seed: seed2,
                    });
                }
                let (cb2, desc2) = (cb2.unwrap_or(cb), desc2.unwrap_or(desc));
                if flush {
                    ops.push(Op::CeFlushAsynchronousBuffer {
                        async_ptr: out,
                        src,
                        src_unmarshalled: Addr::Ret { back: 1, off: 0 },
                        cb: cb2,
                        desc: desc2,
                    });
                }
                ops.push(match which {
                    0 => Op::CeCloseCallerBuffer {
                        dest: out,
                        src,
                        cb: cb2,
                        desc: desc2,
                    },
                    1 => Op::CeFreeAsynchronousBuffer {
                        async_ptr: out,
                        src,
                        cb: cb2,
                        desc: desc2,
                    },
                    _ => Op::CeFreeDuplicateBuffer {
                        dest: out,
                        src,
                        cb: cb2,
                        desc: desc2,
                    },
                });
                ops.push(Op::Ids);
                ops.push(Op::Enter {
                    pid: P::Nth(1),
                    mode: Mode::User,
                    caller: None,
                });
                ops.push(Op::Read {
                    a: src,
                    width: Width::N(len.min(0x40)),
                });
                ops
            },
        )
        .boxed()
}

/// Helpers on pointers at the range bounds: app.exe's memory just below 0x70000000 (made
/// in kernel mode), the shared heap, and the kernel's, in a driver context.
pub fn bound_snippet() -> BoxedStrategy<Vec<Op>> {
    use crate::spec::mem;
    (
        select(&[0u32, 0x10, 0x100, 0x1F8, 0x200, 0xE00, 0xFF0, 0xFFF][..]),
        select(MARSHAL_ADDRS),
        prop::bool::weighted(0.5),
        driver_context(),
        0u8..3,
        cb(),
        desc(),
    )
        .prop_map(|(back, edge, below, ctx, which, cb, desc)| {
            let src = if below {
                Addr::Abs(0x7000_0000 - back)
            } else {
                Addr::Abs(edge.wrapping_sub(back))
            };
            vec![
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
                    n: 0x3000,
                    action: mem::COMMIT,
                },
                ctx,
                match which {
                    0 => Op::CeOpenCallerBuffer {
                        src,
                        cb,
                        desc,
                        force: false,
                    },
                    1 => Op::CeAllocAsynchronousBuffer { src, cb, desc },
                    _ => Op::CeAllocDuplicateBuffer { src, cb, desc },
                },
                Op::Ids,
                match which {
                    0 => Op::CeCloseCallerBuffer {
                        dest: Addr::Ret { back: 0, off: 0 },
                        src,
                        cb,
                        desc,
                    },
                    1 => Op::CeFreeAsynchronousBuffer {
                        async_ptr: Addr::Ret { back: 0, off: 0 },
                        src,
                        cb,
                        desc,
                    },
                    _ => Op::CeFreeDuplicateBuffer {
                        dest: Addr::Ret { back: 0, off: 0 },
                        src,
                        cb,
                        desc,
                    },
                },
            ]
        })
        .boxed()
}

/// One step, every call of §5, the accesses of §6, context switches and sweeps.
pub fn op() -> BoxedStrategy<Op> {
    let arms: Vec<(u32, BoxedStrategy<Op>)> = vec![
        (1, Just(Op::CreateProcess).boxed()),
        (
            4,
            (pid(), mode(), proptest::option::of(pid()))
                .prop_map(|(pid, mode, caller)| Op::Enter { pid, mode, caller })
                .boxed(),
        ),
        (1, Just(Op::SetLastError(0)).boxed()),
        (1, Just(Op::SwitchThread).boxed()),
        (
            12,
            (opt_handle(), alloc_addr(), size(), alloc_type(), prot())
                .prop_map(|(h, a, n, ty, prot)| Op::VirtualAlloc { h, a, n, ty, prot })
                .boxed(),
        ),
        (
            5,
            (opt_handle(), addr(), free_form())
                .prop_map(|(h, a, (n, ty))| Op::VirtualFree { h, a, n, ty })
                .boxed(),
        ),
        (
            4,
            (
                opt_handle(),
                addr(),
                size(),
                prot(),
                prop::bool::weighted(0.05),
            )
                .prop_map(|(h, a, n, prot, old_null)| Op::VirtualProtect {
                    h,
                    a,
                    n,
                    prot,
                    old_null,
                })
                .boxed(),
        ),
        (
            5,
            (opt_handle(), addr(), select(QUERY_LENS))
                .prop_map(|(h, a, len)| Op::VirtualQuery { h, a, len })
                .boxed(),
        ),
        (
            4,
            (
                proptest::option::of((handle(), prop_oneof![Just(H::Null), handle()])),
                addr(),
                src_and_prot(),
                size(),
            )
                .prop_map(|(hs, dst, (src, prot), n)| Op::VirtualCopy {
                    hs,
                    dst,
                    src,
                    n,
                    prot,
                })
                .boxed(),
        ),
        (
            6,
            (
                handle(),
                prop_oneof![Just(H::Null), handle()],
                src_and_prot(),
                size(),
            )
                .prop_map(|(hsrc, hdst, (p, prot), n)| Op::VirtualAllocCopyEx {
                    hsrc,
                    hdst,
                    p,
                    n,
                    prot,
                })
                .boxed(),
        ),
        (
            3,
            (opt_handle(), addr(), size(), select(LOCK_FLAGS))
                .prop_map(|(h, a, n, flags)| Op::LockPages { h, a, n, flags })
                .boxed(),
        ),
        (
            2,
            (opt_handle(), addr(), size())
                .prop_map(|(h, a, n)| Op::UnlockPages { h, a, n })
                .boxed(),
        ),
        (
            2,
            (
                size(),
                prot(),
                select(ALIGNS),
                prop_oneof![5 => Just(0u32), 1 => any::<u32>()],
                prop::bool::weighted(0.05),
            )
                .prop_map(|(n, prot, align, flags, pa_null)| Op::AllocPhysMem {
                    n,
                    prot,
                    align,
                    flags,
                    pa_null,
                })
                .boxed(),
        ),
        (1, addr().prop_map(|a| Op::FreePhysMem { a }).boxed()),
        (
            2,
            (phys(), size(), any::<bool>())
                .prop_map(|(pa, n, cached)| Op::MmMapIoSpace { pa, n, cached })
                .boxed(),
        ),
        (
            1,
            (addr(), size())
                .prop_map(|(a, n)| Op::MmUnmapIoSpace { a, n })
                .boxed(),
        ),
        (
            2,
            (opt_handle(), addr(), size(), select(ATTRS), select(ATTRS))
                .prop_map(|(h, a, n, new, mask)| Op::VirtualSetAttributes { h, a, n, new, mask })
                .boxed(),
        ),
        (
            2,
            (alloc_addr(), size(), select(SHARED_ACTIONS))
                .prop_map(|(a, n, action)| Op::CeVirtualSharedAlloc { a, n, action })
                .boxed(),
        ),
        (
            3,
            (
                handle(),
                addr(),
                prop_oneof![4 => 0u32..0x3000, 1 => select(SIZES)],
            )
                .prop_map(|(h, a, n)| Op::ReadProcessMemory { h, a, n })
                .boxed(),
        ),
        (
            3,
            (handle(), addr(), 0u16..0x2100, any::<u32>())
                .prop_map(|(h, a, len, seed)| Op::WriteProcessMemory { h, a, len, seed })
                .boxed(),
        ),
        (
            2,
            (select(ACCESS_MASKS), pid())
                .prop_map(|(access, pid)| Op::OpenProcess { access, pid })
                .boxed(),
        ),
        (1, handle().prop_map(|h| Op::CloseHandle { h }).boxed()),
        (1, handle().prop_map(|h| Op::TerminateProcess { h }).boxed()),
        (1, Just(Op::GlobalMemoryStatus).boxed()),
        (1, Just(Op::GetSystemInfo).boxed()),
        (2, Just(Op::Ids).boxed()),
        (3, enter_context().boxed()),
        (
            3,
            (maddr(), cb(), desc(), prop::bool::weighted(0.3))
                .prop_map(|(src, cb, desc, force)| Op::CeOpenCallerBuffer {
                    src,
                    cb,
                    desc,
                    force,
                })
                .boxed(),
        ),
        (
            2,
            (maddr(), maddr(), cb(), desc())
                .prop_map(|(dest, src, cb, desc)| Op::CeCloseCallerBuffer {
                    dest,
                    src,
                    cb,
                    desc,
                })
                .boxed(),
        ),
        (
            3,
            (maddr(), cb(), desc())
                .prop_map(|(src, cb, desc)| Op::CeAllocAsynchronousBuffer { src, cb, desc })
                .boxed(),
        ),
        (
            2,
            (maddr(), maddr(), cb(), desc())
                .prop_map(|(async_ptr, src, cb, desc)| Op::CeFreeAsynchronousBuffer {
                    async_ptr,
                    src,
                    cb,
                    desc,
                })
                .boxed(),
        ),
        (
            1,
            (maddr(), maddr(), maddr(), cb(), desc())
                .prop_map(|(async_ptr, src, src_unmarshalled, cb, desc)| {
                    Op::CeFlushAsynchronousBuffer {
                        async_ptr,
                        src,
                        src_unmarshalled,
                        cb,
                        desc,
                    }
                })
                .boxed(),
        ),
        (
            2,
            (maddr(), cb(), desc())
                .prop_map(|(src, cb, desc)| Op::CeAllocDuplicateBuffer { src, cb, desc })
                .boxed(),
        ),
        (
            2,
            (maddr(), maddr(), cb(), desc())
                .prop_map(|(dest, src, cb, desc)| Op::CeFreeDuplicateBuffer {
                    dest,
                    src,
                    cb,
                    desc,
                })
                .boxed(),
        ),
        (
            10,
            (addr(), width())
                .prop_map(|(a, width)| Op::Read { a, width })
                .boxed(),
        ),
        (
            9,
            (addr(), width(), any::<u32>())
                .prop_map(|(a, width, seed)| Op::Write { a, width, seed })
                .boxed(),
        ),
        (2, addr().prop_map(|a| Op::Execute { a }).boxed()),
        (1, Just(Op::Sweep).boxed()),
    ];
    Union::new_weighted(arms).boxed()
}

/// A short coherent scenario: the steps of one typical use (alias, copy, lock, guard,
/// auto-commit, protect-query-free, remote access), aimed at what the previous steps
/// returned, so the interesting paths are reached often.
pub fn snippet() -> BoxedStrategy<Vec<Op>> {
    use crate::spec::{lockflag, mem};
    let small = || prop_oneof![3 => 1u32..0x3000, 1 => (1u32..=4).prop_map(|p| p * 0x1000)];
    let good = || select(GOOD_PROTS);
    let copy = (
        small(),
        good(),
        opt_pair(),
        prop::bool::weighted(0.2),
        phys(),
    )
        .prop_map(|(n, prot, hs, physical, pa)| {
            let (src, prot) = if physical {
                (Src::Phys(pa), prot | page::PHYSICAL)
            } else {
                (Src::Virt(Addr::Ret { back: 1, off: 0 }), prot)
            };
            vec![
                Op::VirtualAlloc {
                    h: None,
                    a: Addr::Abs(0),
                    n,
                    ty: mem::RESERVE,
                    prot: page::NOACCESS,
                },
                Op::VirtualCopy {
                    hs,
                    dst: Addr::Ret { back: 0, off: 0 },
                    src,
                    n,
                    prot,
                },
                Op::Read {
                    a: Addr::Ret { back: 0, off: 0 },
                    width: Width::B4,
                },
            ]
        });
    let alias = (
        1u8..4,
        1u8..4,
        prop_oneof![2 => (0u8..3).prop_map(H::Pid), 1 => Just(H::Null), 1 => Just(H::Pseudo)],
        near(),
        small(),
        good(),
        any::<u32>(),
    )
        .prop_map(|(src, dst, hdst, off, n, prot, seed)| {
            vec![
                Op::Enter {
                    pid: P::Nth(dst),
                    mode: Mode::Kernel,
                    caller: Some(P::Nth(src)),
                },
                Op::VirtualAllocCopyEx {
                    hsrc: H::Pid(src),
                    hdst: match hdst {
                        H::Pid(_) => H::Pid(dst),
                        other => other,
                    },
                    p: Src::Virt(Addr::Ret { back: 0, off }),
                    n,
                    prot,
                },
                Op::Write {
                    a: Addr::Ret { back: 0, off: 0 },
                    width: Width::B4,
                    seed,
                },
                Op::Read {
                    a: Addr::Ret {
                        back: 0,
                        off: -0x10,
                    },
                    width: Width::N(0x40),
                },
            ]
        });
    let lock = (
        opt_handle(),
        near(),
        small(),
        select(&[0, 1, 2, 4, 5][..]),
        good(),
    )
        .prop_map(|(h, off, n, flags, prot)| {
            let a = Addr::Ret { back: 0, off };
            vec![
                Op::LockPages { h, a, n, flags },
                Op::VirtualProtect {
                    h: None,
                    a,
                    n,
                    prot,
                    old_null: false,
                },
                Op::VirtualFree {
                    h: None,
                    a,
                    n,
                    ty: mem::DECOMMIT,
                },
                Op::VirtualFree {
                    h: None,
                    a: Addr::Ret { back: 0, off: 0 },
                    n: 0,
                    ty: mem::RELEASE,
                },
                Op::UnlockPages { h, a, n },
            ]
        });
    let guard = (
        small(),
        select(&[page::READWRITE, page::READONLY, page::EXECUTE_READ][..]),
    )
        .prop_map(|(n, prot)| {
            vec![
                Op::VirtualAlloc {
                    h: None,
                    a: Addr::Abs(0),
                    n,
                    ty: mem::COMMIT,
                    prot: prot | page::GUARD,
                },
                Op::Write {
                    a: Addr::Ret { back: 0, off: 8 },
                    width: Width::B1,
                    seed: 7,
                },
                Op::Write {
                    a: Addr::Ret { back: 0, off: 8 },
                    width: Width::B1,
                    seed: 7,
                },
                Op::Read {
                    a: Addr::Ret { back: 0, off: 8 },
                    width: Width::B4,
                },
            ]
        });
    let auto = (small(), near(), width(), any::<u32>()).prop_map(|(n, off, width, seed)| {
        vec![
            Op::VirtualAlloc {
                h: None,
                a: Addr::Abs(0),
                n,
                ty: mem::RESERVE | mem::AUTO_COMMIT,
                prot: page::READWRITE,
            },
            Op::Write {
                a: Addr::Ret { back: 0, off },
                width,
                seed,
            },
            Op::LockPages {
                h: None,
                a: Addr::Ret {
                    back: 0,
                    off: 0x1000,
                },
                n: 0x1000,
                flags: lockflag::QUERY_ONLY,
            },
            Op::VirtualFree {
                h: None,
                a: Addr::Ret { back: 0, off: 0 },
                n: 0x2000,
                ty: mem::DECOMMIT,
            },
            Op::Read {
                a: Addr::Ret { back: 0, off },
                width,
            },
        ]
    });
    let protect = (0u8..3, near(), small(), prot(), select(QUERY_LENS)).prop_map(
        |(back, off, n, prot, len)| {
            let a = Addr::Ret { back, off };
            vec![
                Op::VirtualProtect {
                    h: None,
                    a,
                    n,
                    prot,
                    old_null: false,
                },
                Op::VirtualQuery { h: None, a, len },
                Op::Execute { a },
                Op::VirtualFree {
                    h: None,
                    a: Addr::Ret { back, off: 0 },
                    n: 0,
                    ty: mem::RELEASE,
                },
            ]
        },
    );
    let remote = (
        select(ACCESS_MASKS),
        0u8..4,
        near(),
        prop_oneof![4 => 0u32..0x2100, 1 => select(SIZES)],
        any::<u32>(),
    )
        .prop_map(|(access, pid, off, n, seed)| {
            let a = Addr::Ret { back: 0, off };
            vec![
                Op::OpenProcess {
                    access,
                    pid: P::Nth(pid),
                },
                Op::WriteProcessMemory {
                    h: H::Opened(255),
                    a,
                    len: (n & 0x1FFF) as u16,
                    seed,
                },
                Op::ReadProcessMemory {
                    h: H::Opened(255),
                    a,
                    n,
                },
                Op::CloseHandle { h: H::Opened(255) },
            ]
        });
    // Little RAM left: a large commit, then auto-commit pages touched several at a time.
    let exhaust = (
        (0xC0u32..0x400).prop_map(|p| p * 0x1000),
        small(),
        near(),
        width(),
        prop_oneof![Just(Mode::User), Just(Mode::Kernel)],
    )
        .prop_map(|(big, n, off, width, mode)| {
            vec![
                Op::VirtualAlloc {
                    h: None,
                    a: Addr::Abs(0),
                    n: big,
                    ty: mem::COMMIT,
                    prot: page::READWRITE,
                },
                Op::VirtualAlloc {
                    h: None,
                    a: Addr::Abs(0),
                    n,
                    ty: mem::RESERVE | mem::AUTO_COMMIT,
                    prot: page::READWRITE,
                },
                Op::Enter {
                    pid: P::Nth(1),
                    mode,
                    caller: None,
                },
                Op::Write {
                    a: Addr::Ret { back: 0, off },
                    width,
                    seed: 3,
                },
                Op::GlobalMemoryStatus,
            ]
        });
    // Pages on both sides of the shared heap's base, locked and unlocked in parts.
    let boundary = (
        select(&[0x6FFF_E000u32, 0x6FFF_F000, 0x6FFF_F800, 0x7000_0000][..]),
        select(&[0x800u32, 0x1000, 0x1001, 0x2000, 0x3000][..]),
        select(&[0x6FFF_F000u32, 0x7000_0000][..]),
        select(&[0x1000u32, 0x2000][..]),
        opt_handle(),
    )
        .prop_map(|(a, n, ua, un, h)| {
            vec![
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
                    n: 0x3000,
                    action: mem::COMMIT,
                },
                Op::LockPages {
                    h,
                    a: Addr::Abs(a),
                    n,
                    flags: lockflag::READ,
                },
                Op::UnlockPages {
                    h,
                    a: Addr::Abs(ua),
                    n: un,
                },
                Op::VirtualProtect {
                    h: None,
                    a: Addr::Abs(0x6FFF_F000),
                    n: 0x2000,
                    prot: page::READONLY,
                    old_null: false,
                },
                Op::ReadProcessMemory {
                    h: H::Pseudo,
                    a: Addr::Abs(0x6FFF_FFF0),
                    n: 0x20,
                },
            ]
        });
    prop_oneof![
        3 => copy,
        4 => alias,
        2 => lock,
        2 => guard,
        2 => auto,
        2 => protect,
        2 => remote,
        1 => exhaust,
        1 => boundary,
        4 => marshal_snippet(),
        1 => bound_snippet(),
    ]
    .boxed()
}

fn opt_pair() -> BoxedStrategy<Option<(H, H)>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some((H::Pseudo, H::Null))),
        1 => (handle(), prop_oneof![Just(H::Null), handle()]).prop_map(Some),
    ]
    .boxed()
}

/// A world and a sequence of up to `max` steps, which mostly starts by entering a user
/// process (the thread boots in NK.EXE, kernel mode).
pub fn scenario(max: usize) -> BoxedStrategy<(WorldConfig, Vec<Op>)> {
    let start = prop_oneof![
        1 => Just(None),
        4 => (1u8..4, mode()).prop_map(|(i, mode)| Some(Op::Enter {
            pid: P::Nth(i),
            mode,
            caller: None,
        })),
    ];
    let chunk = prop_oneof![5 => op().prop_map(|o| vec![o]), 1 => snippet()];
    (
        world(),
        start,
        setup(),
        prop::collection::vec(chunk, 1..max.max(2)),
    )
        .prop_map(|(w, start, setup, chunks)| {
            let mut all: Vec<Op> = start.into_iter().collect();
            all.extend(setup);
            all.extend(chunks.into_iter().flatten());
            (w, all)
        })
        .boxed()
}

/// A few ordinary allocations in the active process, so that later steps find live
/// memory through [`Addr::Ret`].
fn setup() -> BoxedStrategy<Vec<Op>> {
    use crate::spec::mem;
    let ty = select(
        &[
            mem::COMMIT,
            mem::COMMIT,
            mem::RESERVE | mem::COMMIT,
            mem::RESERVE,
        ][..],
    );
    let alloc = (1u32..0x6000, ty, select(GOOD_PROTS)).prop_map(|(n, ty, prot)| Op::VirtualAlloc {
        h: None,
        a: Addr::Abs(0),
        n,
        ty,
        prot,
    });
    prop::collection::vec(alloc, 0..4).boxed()
}
