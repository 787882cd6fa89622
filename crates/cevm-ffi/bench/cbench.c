/* The C ABI benchmark: VirtualQuery through the C ABI against the same call through the Rust
 * API (target <= 1.5x), and a direct C read loop over a 1 MiB VirtualAllocCopyEx alias against
 * host memcpy bandwidth (target >= 0.9x). Build and run (release library):
 *   cargo build --release -p cevm-ffi
 *   gcc -O2 -std=gnu11 -Iinclude -Iinclude/ce crates/cevm-ffi/bench/cbench.c -Ltarget/release \
 *       -lcevm -Wl,-rpath,$PWD/target/release -o /tmp/cbench && /tmp/cbench
 * Exit status 0 when both targets hold. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pkfuncs.h>
#include <cevm.h>

double cevm_bench_rust_virtual_query(DWORD va, DWORD iterations);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(void) {
    if (cevm_boot(NULL) != 0)
        return 2;
    DWORD app = cevm_create_process("app.exe");
    cevm_enter(app, CEVM_USER_MODE, 0);
    const DWORD MB = 1u << 20;
    BYTE *buf = VirtualAlloc(NULL, MB, MEM_COMMIT, PAGE_READWRITE);
    for (DWORD i = 0; i < MB; i++)
        buf[i] = (BYTE)i;

    /* VirtualQuery: C ABI vs Rust API, best of 5 runs each. */
    const DWORD N = 200000;
    MEMORY_BASIC_INFORMATION mbi;
    double c_best = 1e9, r_best = 1e9;
    for (int run = 0; run < 5; run++) {
        double t0 = now();
        for (DWORD i = 0; i < N; i++)
            VirtualQuery(buf + 0x3000, &mbi, sizeof mbi);
        double c = (now() - t0) * 1e9 / N;
        double r = cevm_bench_rust_virtual_query((DWORD)(DWORD_PTR)buf + 0x3000, N);
        if (c < c_best)
            c_best = c;
        if (r < r_best)
            r_best = r;
    }
    double q_ratio = c_best / r_best;
    printf("VirtualQuery: C ABI %.1f ns, Rust API %.1f ns, ratio %.2fx (target <= 1.5x)\n", c_best,
           r_best, q_ratio);

    /* Read loop over the alias in the driver host vs memcpy between host buffers. */
    DWORD drv = cevm_create_process("udevice.exe");
    cevm_context k = {cevm_kernel_pid(), CEVM_KERNEL_MODE, app, app, 0};
    cevm_enter_ex(&k);
    const uint64_t *alias =
        VirtualAllocCopyEx((HANDLE)(DWORD_PTR)app, (HANDLE)(DWORD_PTR)drv, buf, MB, PAGE_READONLY);
    if (!alias)
        return 2;
    char *src = malloc(MB), *dst = malloc(MB);
    memset(src, 1, MB);
    memset(dst, 0, MB);
    const int R = 400;
    double read_best = 1e9, copy_best = 1e9;
    volatile uint64_t sink = 0;
    for (int run = 0; run < 5; run++) {
        double t0 = now();
        for (int r = 0; r < R; r++) {
            uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (size_t i = 0; i < MB / 8; i += 4) {
                s0 += alias[i];
                s1 += alias[i + 1];
                s2 += alias[i + 2];
                s3 += alias[i + 3];
            }
            sink += s0 + s1 + s2 + s3;
        }
        double t = now() - t0;
        if (t < read_best)
            read_best = t;
        t0 = now();
        for (int r = 0; r < R; r++) {
            memcpy(dst, src, MB);
            __asm__ volatile("" ::: "memory");
        }
        t = now() - t0;
        if (t < copy_best)
            copy_best = t;
    }
    double read_gbs = (double)MB * R / read_best / 1e9;
    double copy_gbs = (double)MB * R / copy_best / 1e9;
    double b_ratio = read_gbs / copy_gbs;
    printf("1 MiB alias read loop %.1f GB/s, memcpy %.1f GB/s, ratio %.2fx (target >= 0.9x)\n",
           read_gbs, copy_gbs, b_ratio);
    free(src);
    free(dst);
    return (q_ratio <= 1.5 && b_ratio >= 0.9) ? 0 : 1;
}
