/* A small driver story in C, run on cevm: an application opens a "sensor" driver and asks it
 * to fill a sample buffer. The driver is kernel-mode code in NK.EXE called on the
 * application's behalf: it checks the caller's buffer with CeOpenCallerBuffer, keeps an
 * asynchronous alias of it for the "interrupt" that completes the request later, maps its
 * device registers with MmMapIoSpace, and releases everything at the end. The application
 * then reads the samples through its own pointer.
 *
 *   cargo build --release -p cevm-ffi && make -C examples/c run
 */
#include <stdio.h>
#include <string.h>
#include <pkfuncs.h>
#include <ceddk.h>
#include <cevm.h>

#define SENSOR_PA 0xF1000000ull
#define SAMPLES 1024

typedef struct {
    DWORD count;
    DWORD samples[SAMPLES];
} SAMPLE_BUFFER;

/* The driver's state between the IOCTL and the interrupt. */
static volatile DWORD *g_regs;
static SAMPLE_BUFFER *g_async;
static PVOID g_caller_ptr;

static BOOL SNS_IOControl(PVOID pOut, DWORD cbOut) {
    PVOID mapped = NULL;
    if (FAILED(CeOpenCallerBuffer(&mapped, pOut, cbOut, ARG_O_PTR, FALSE))) {
        RETAILMSG(1, (TEXT("SNS: bad caller buffer\r\n")));
        return FALSE;
    }
    /* Completed later, from the interrupt: keep an asynchronous view. */
    PVOID async = NULL;
    if (FAILED(CeAllocAsynchronousBuffer(&async, mapped, cbOut, ARG_O_PTR))) {
        CeCloseCallerBuffer(mapped, pOut, cbOut, ARG_O_PTR);
        return FALSE;
    }
    g_async = async;
    g_caller_ptr = mapped;
    g_regs[0] = 1; /* start conversion */
    DEBUGMSG(1, (TEXT("SNS: request queued, async view %p\r\n"), async));
    return SUCCEEDED(CeCloseCallerBuffer(mapped, pOut, cbOut, ARG_O_PTR));
}

static void SNS_Interrupt(void) {
    /* The "hardware" produced samples in its data register window. */
    __try {
        for (DWORD i = 0; i < SAMPLES; i++)
            g_async->samples[i] = g_regs[1] + i;
        g_async->count = SAMPLES;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        RETAILMSG(1, (TEXT("SNS: exception 0x%08X while completing\r\n"), GetExceptionCode()));
    }
    CeFreeAsynchronousBuffer(g_async, g_caller_ptr, sizeof(SAMPLE_BUFFER), ARG_O_PTR);
    g_regs[0] = 0;
}

int main(void) {
    if (cevm_boot(NULL) != 0 || !cevm_add_device("sensor", SENSOR_PA, 0x1000))
        return 1;
    DWORD nk = cevm_kernel_pid();
    DWORD app = cevm_create_process("app.exe");

    /* Driver init, in NK.EXE. */
    cevm_enter(nk, CEVM_KERNEL_MODE, 0);
    PHYSICAL_ADDRESS pa;
    pa.QuadPart = SENSOR_PA;
    g_regs = MmMapIoSpace(pa, 0x1000, FALSE);
    if (!g_regs)
        return 1;
    g_regs[1] = 1000; /* the device's first sample value */

    /* The application allocates its buffer and calls the driver. */
    cevm_enter(app, CEVM_USER_MODE, 0);
    SAMPLE_BUFFER *buf = VirtualAlloc(NULL, sizeof *buf, MEM_COMMIT, PAGE_READWRITE);
    cevm_context call = {nk, CEVM_KERNEL_MODE, app, app, 0};
    cevm_enter_ex(&call);
    if (!SNS_IOControl(buf, sizeof *buf))
        return 1;
    SNS_Interrupt();

    /* Back in the application. */
    cevm_enter(app, CEVM_USER_MODE, 0);
    printf("app: %u samples, first %u, last %u\n", buf->count, buf->samples[0],
           buf->samples[SAMPLES - 1]);
    int ok = buf->count == SAMPLES && buf->samples[0] == 1000 && buf->samples[SAMPLES - 1] == 2023;

    cevm_enter(nk, CEVM_KERNEL_MODE, 0);
    MmUnmapIoSpace((PVOID)g_regs, 0x1000);
    char *why = NULL;
    if (!cevm_check_invariants(&why)) {
        fprintf(stderr, "invariant: %s\n", why);
        cevm_free_string(why);
        return 1;
    }
    char *maps = cevm_maps(app);
    printf("%s", maps);
    cevm_free_string(maps);
    return ok ? 0 : 1;
}
