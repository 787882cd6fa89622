/* Row 14 (an installable ISR): the driver, in NK.EXE on an application's behalf, aliases
 * the caller's unaligned buffer into the kernel with
 * VirtualAllocCopyEx((HANDLE)GetDirectCallerProcessId(), GetCurrentProcess(), ...), reads it
 * "at interrupt time" through the pointer, and frees it with the 64 KiB-masked base. */
#include <string.h>
#include <pkfuncs.h>
#include <cevm.h>
#include "check.h"

int main(void) {
    CHECK_EQ(cevm_boot(NULL), 0);
    DWORD app = cevm_create_process("app.exe");
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    BYTE *buf = VirtualAlloc(NULL, 0x3000, MEM_COMMIT, PAGE_READWRITE);
    CHECK(buf != NULL);
    BYTE *pBuffer = buf + 0x123;
    memcpy(pBuffer, "rx fifo", 7);

    cevm_context drv = {cevm_kernel_pid(), CEVM_KERNEL_MODE, app, app, 0};
    CHECK(cevm_enter_ex(&drv));
    CHECK_EQ(GetDirectCallerProcessId(), app);
    BYTE *p = VirtualAllocCopyEx((HANDLE)(DWORD_PTR)GetDirectCallerProcessId(), GetCurrentProcess(),
                                 pBuffer, 0x100, PAGE_READWRITE | PAGE_NOCACHE);
    CHECK(p != NULL);
    CHECK_EQ((DWORD_PTR)p & 0xFFFF, (DWORD_PTR)pBuffer & 0xFFFF); /* same low 16 bits */
    CHECK_EQ(cevm_pid_of(p), cevm_kernel_pid());                /* a window pointer of NK */
    CHECK(memcmp(p, "rx fifo", 7) == 0);
    CHECK_EQ(p[-0x123], 0); /* the whole first page is aliased */
    p[0] = 'R';             /* the ISR writes; the application sees it at once */
    CHECK_EQ(pBuffer[0], 'R');

    /* The unmasked pointer is not a reservation base. */
    CHECK(!VirtualFreeEx(GetCurrentProcess(), p, 0, MEM_RELEASE));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(VirtualFreeEx(GetCurrentProcess(), (LPVOID)((DWORD_PTR)p & ~(DWORD_PTR)0xFFFF), 0,
                        MEM_RELEASE));
    /* After the release the alias is gone: the checked path faults there. */
    cevm_exception e = {0};
    BYTE b;
    CHECK(!cevm_read((DWORD)(DWORD_PTR)p, &b, 1, &e));
    CHECK_EQ(e.code, STATUS_ACCESS_VIOLATION);
    CHECK(cevm_check_invariants(NULL));
    return CHECK_DONE();
}
