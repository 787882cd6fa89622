/* The C half of the C ABI figures of `cevm bench` (crates/cevm-bench/src/cabi.rs): the
 * calls are made from C, through libcevm's exported CE functions, exactly as a driver's
 * code makes them. Each function times one thing and returns nanoseconds; the Rust side
 * runs the baselines beside them in the same process. */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <pkfuncs.h>
#include <cevm.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Nanoseconds per VirtualQuery of `p` through the C ABI, over `n` calls (-1 on failure). */
double cevm_cbench_query_ns(const void *p, unsigned n) {
    MEMORY_BASIC_INFORMATION mbi;
    double t0 = now_ns();
    for (unsigned i = 0; i < n; i++) {
        if (VirtualQuery(p, &mbi, sizeof mbi) != sizeof mbi)
            return -1.0;
        __asm__ volatile("" : : "r"(&mbi) : "memory");
    }
    return (now_ns() - t0) / (n ? n : 1);
}

/* Nanoseconds per pass of a plain C read loop (four 8-byte sums) over `bytes` at `p`,
 * best of `reps` passes. */
double cevm_cbench_read_ns(const uint64_t *p, size_t bytes, unsigned reps) {
    double best = 1e30;
    volatile uint64_t sink = 0;
    for (unsigned r = 0; r < reps; r++) {
        double t0 = now_ns();
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t i = 0; i < bytes / 8; i += 4) {
            s0 += p[i];
            s1 += p[i + 1];
            s2 += p[i + 2];
            s3 += p[i + 3];
        }
        sink += s0 + s1 + s2 + s3;
        double t = now_ns() - t0;
        if (t < best)
            best = t;
    }
    (void)sink;
    return best;
}

/* Nanoseconds per memcpy of `bytes` between two host buffers, best of `reps`. */
double cevm_cbench_memcpy_ns(void *dst, const void *src, size_t bytes, unsigned reps) {
    double best = 1e30;
    for (unsigned r = 0; r < reps; r++) {
        double t0 = now_ns();
        memcpy(dst, src, bytes);
        __asm__ volatile("" : : "r"(dst) : "memory");
        double t = now_ns() - t0;
        if (t < best)
            best = t;
    }
    return best;
}

/* Boots libcevm's kernel, commits `bytes` in app.exe (user mode) and aliases them read-only
 * into udevice.exe from a kernel-mode driver; returns the buffer (in app.exe's window) and
 * the alias (in udevice.exe's), or 0 on failure. The calling thread stays in app.exe. */
int cevm_cbench_setup(size_t bytes, void **buf, const void **alias) {
    if (cevm_boot(NULL) != 0)
        return 0;
    DWORD app = cevm_create_process("app.exe");
    DWORD drv = cevm_create_process("udevice.exe");
    if (!app || !drv)
        return 0;
    cevm_enter(app, CEVM_USER_MODE, 0);
    BYTE *b = VirtualAlloc(NULL, bytes, MEM_COMMIT, PAGE_READWRITE);
    if (!b)
        return 0;
    for (size_t i = 0; i < bytes; i++)
        b[i] = (BYTE)i;
    cevm_context k = {cevm_kernel_pid(), CEVM_KERNEL_MODE, app, app, 0};
    cevm_enter_ex(&k);
    const void *a =
        VirtualAllocCopyEx((HANDLE)(DWORD_PTR)app, (HANDLE)(DWORD_PTR)drv, b, bytes, PAGE_READONLY);
    cevm_enter(app, CEVM_USER_MODE, 0);
    if (!a)
        return 0;
    *buf = b;
    *alias = a;
    return 1;
}
