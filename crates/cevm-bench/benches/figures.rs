//! Criterion benches for development: the same cases `cevm bench` reports.

use std::hint::black_box;

use cevm::{AllocType, ArgDescriptor, Context, Handle, Mode, Protection};
use cevm_bench::cases::{random_offsets, world};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn access(c: &mut Criterion) {
    let (_k, mut t, _) = world(64);
    let span = 16 << 20;
    let base = t
        .virtual_alloc(0, span, AllocType::COMMIT, Protection::READWRITE)
        .expect("commit");
    let offs = random_offsets(4096, span);
    let mut i = 0;
    c.bench_function("read4_random", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(t.read_u32(base + offs[i]).ok())
        })
    });
    c.bench_function("write4_random", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(t.write_u32(base + offs[i], 7).ok())
        })
    });
}

fn alloc_copy(c: &mut Criterion) {
    let (_k, mut t, app) = world(384);
    let src = t
        .virtual_alloc(0, 65536 * 4096, AllocType::COMMIT, Protection::READWRITE)
        .expect("commit");
    let nk = Handle::from(t.kernel().kernel_pid());
    let mut g = c.benchmark_group("alloccopy");
    for pages in [1u32, 16, 256, 4096, 65536] {
        g.bench_with_input(BenchmarkId::from_parameter(pages), &pages, |b, &pages| {
            b.iter(|| {
                let p = t
                    .virtual_alloc_copy_ex(
                        app.into(),
                        Handle::NULL,
                        src,
                        pages * 4096,
                        Protection::READWRITE,
                    )
                    .expect("alias");
                t.virtual_free_ex(nk, p & !0xFFFF, 0, AllocType::RELEASE)
                    .expect("release");
            })
        });
    }
    g.finish();
}

fn process_memory(c: &mut Criterion) {
    let (_k, mut t, app) = world(64);
    let src = t
        .virtual_alloc(0, 1 << 20, AllocType::COMMIT, Protection::READWRITE)
        .expect("commit");
    let mut buf = vec![0u8; 1 << 20];
    c.bench_function("rpm_1mib", |b| {
        b.iter(|| {
            t.read_process_memory_into(app.into(), src, &mut buf)
                .expect("read")
        })
    });
}

fn alloc_free(c: &mut Criterion) {
    let mut g = c.benchmark_group("alloc_free_64k");
    for live in [10u32, 10_000] {
        let (_k, mut t, _) = world(64);
        for _ in 0..live {
            t.virtual_alloc(0, 0x1000, AllocType::RESERVE, Protection::NOACCESS)
                .expect("reserve");
        }
        g.bench_with_input(BenchmarkId::from_parameter(live), &live, |b, _| {
            b.iter(|| {
                let p = t
                    .virtual_alloc(0, 0x10000, AllocType::COMMIT, Protection::READWRITE)
                    .expect("alloc");
                t.virtual_free(p, 0, AllocType::RELEASE).expect("free");
            })
        });
    }
    g.finish();
}

fn marshal(c: &mut Criterion) {
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
    c.bench_function("marshal_async_alias_64k", |b| {
        b.iter(|| {
            let a = t
                .ce_alloc_asynchronous_buffer(src, 0x10000, desc)
                .expect("alias");
            t.ce_free_asynchronous_buffer(a, src, 0x10000, desc)
                .expect("free");
        })
    });
}

criterion_group!(
    benches,
    access,
    alloc_copy,
    process_memory,
    alloc_free,
    marshal
);
criterion_main!(benches);
