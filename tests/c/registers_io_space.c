/* Rows 7, 13, 18 and 3: device registers through MmMapIoSpace (PHYSICAL_ADDRESS.QuadPart),
 * through VirtualAlloc(MEM_RESERVE) + VirtualCopy(PAGE_PHYSICAL, pa >> 8), and into a user
 * process with VirtualCopyEx(..., GetCurrentProcess(), kernel view, ...). Every view shows
 * the same device bytes. */
#include <pkfuncs.h>
#include <ceddk.h>
#include <cevm.h>
#include "check.h"

#define UART_PA 0xF0000000ull

int main(void) {
    CHECK_EQ(cevm_boot(NULL), 0);
    CHECK(cevm_add_device("uart", UART_PA, 0x10000));
    DWORD app = cevm_create_process("app.exe");
    CHECK(cevm_enter(cevm_kernel_pid(), CEVM_KERNEL_MODE, 0));

    PHYSICAL_ADDRESS pa;
    pa.QuadPart = UART_PA + 0x10; /* not page aligned: the offset is kept */
    volatile DWORD *regs = MmMapIoSpace(pa, 0x20, FALSE);
    CHECK(regs != NULL);
    CHECK_EQ((DWORD_PTR)regs & 0xFFF, 0x10);
    regs[1] = 0xC0FFEE;

    /* HaRET / CEDDK style: reserve, then VirtualCopy the physical page (pa >> 8). */
    volatile DWORD *view = VirtualAlloc(NULL, 0x1000, MEM_RESERVE, PAGE_NOACCESS);
    CHECK(view != NULL);
    CHECK(VirtualCopy((LPVOID)view, (LPVOID)(DWORD_PTR)(UART_PA >> 8), 0x1000,
                      PAGE_READWRITE | PAGE_PHYSICAL | PAGE_NOCACHE));
    CHECK_EQ(view[0x14 / 4], 0xC0FFEE);

    /* The reflector's MmMapIoSpace for a user process: reserve in it, VirtualCopyEx. */
    LPVOID u = VirtualAllocEx((HANDLE)(DWORD_PTR)app, NULL, 0x1000, MEM_RESERVE, PAGE_NOACCESS);
    CHECK(u != NULL);
    CHECK_EQ(cevm_pid_of(u), app);
    CHECK(VirtualCopyEx((HANDLE)(DWORD_PTR)app, u, GetCurrentProcess(),
                        (LPVOID)(DWORD_PTR)(UART_PA >> 8), 0x1000,
                        PAGE_PHYSICAL | PAGE_READWRITE | PAGE_NOCACHE));
    volatile DWORD *uregs = u;
    CHECK_EQ(uregs[0x14 / 4], 0xC0FFEE);
    uregs[0x14 / 4] = 7;
    CHECK_EQ(regs[1], 7);

    CHECK(VirtualFreeEx((HANDLE)(DWORD_PTR)app, u, 0, MEM_RELEASE));
    CHECK(VirtualFree((LPVOID)view, 0, MEM_RELEASE));
    MmUnmapIoSpace((PVOID)regs, 0x20);
    CHECK(cevm_check_invariants(NULL));
    return CHECK_DONE();
}
