/* Row 6 (a test driver's "allocate physical memory" IOCTL): AllocPhysMem with the physical
 * address written to a DWORD, aliased to the owner process with VirtualAllocCopyEx; both
 * pointers and the kernel static mapping at 0x80000000 + pa show the same bytes. */
#include <string.h>
#include <pkfuncs.h>
#include <cevm.h>
#include "check.h"

int main(void) {
    CHECK_EQ(cevm_boot(NULL), 0);
    DWORD app = cevm_create_process("app.exe");
    cevm_context drv = {cevm_kernel_pid(), CEVM_KERNEL_MODE, app, app, 0};
    CHECK(cevm_enter_ex(&drv));
    CHECK_EQ((DWORD)(DWORD_PTR)GetOwnerProcess(), app);

    DWORD pa = 0xFFFFFFFF;
    DWORD n = 0x2000;
    BYTE *va = AllocPhysMem(n, PAGE_READWRITE | PAGE_NOCACHE, 0, 0, (PULONG)&pa);
    CHECK(va != NULL);
    CHECK_EQ(pa & 0xFFF, 0);
    CHECK_EQ(va[0], 0); /* zeroed */
    BYTE *user = VirtualAllocCopyEx(GetCurrentProcess(), GetOwnerProcess(), va, n,
                                    PAGE_READWRITE | PAGE_NOCACHE);
    CHECK(user != NULL);
    CHECK_EQ(cevm_pid_of(user), app);
    va[0x1001] = 0x5A;
    CHECK_EQ(user[0x1001], 0x5A);
    BYTE *stat = cevm_ptr(cevm_kernel_pid(), 0x80000000u + pa);
    CHECK_EQ(stat[0x1001], 0x5A);

    /* NULL pPhysicalAddress: 87, nothing allocated. */
    SetLastError(0);
    CHECK(AllocPhysMem(n, PAGE_READWRITE, 0, 0, NULL) == NULL);
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);

    /* The alias is freed before the backing (the driver's hazard is the reverse order). */
    CHECK(VirtualFreeEx(GetOwnerProcess(), (LPVOID)((DWORD_PTR)user & ~(DWORD_PTR)0xFFFF), 0,
                        MEM_RELEASE));
    CHECK(FreePhysMem(va));
    CHECK(cevm_check_invariants(NULL));
    return CHECK_DONE();
}
