/* Row 8 (an SDMA proxy): LockPages of the caller's source and destination buffers gives
 * one page-aligned physical address per page; pfn[0] + (va & 0xFFF) is the physical byte,
 * reached here through the kernel static mapping (as a DMA engine would reach RAM). */
#include <string.h>
#include <pkfuncs.h>
#include <cevm.h>
#include "check.h"

int main(void) {
    CHECK_EQ(cevm_boot(NULL), 0);
    DWORD app = cevm_create_process("app.exe");
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    char *src = VirtualAlloc(NULL, 0x3000, MEM_COMMIT, PAGE_READWRITE);
    char *dst = VirtualAlloc(NULL, 0x3000, MEM_COMMIT, PAGE_READWRITE);
    strcpy(src + 0x234, "dma payload");
    cevm_context drv = {cevm_kernel_pid(), CEVM_KERNEL_MODE, app, app, 0};
    CHECK(cevm_enter_ex(&drv));

    DWORD spfn[3] = {0}, dpfn[3] = {0};
    CHECK(LockPages(src + 0x234, 0x2000, spfn, LOCKFLAG_READ));
    CHECK(LockPages(dst + 0x234, 0x2000, dpfn, LOCKFLAG_WRITE));
    CHECK_EQ(spfn[0] & 0xFFF, 0);
    CHECK(spfn[2] != 0 && dpfn[2] != 0); /* 0x234 + 0x2000 spans three pages */
    DWORD spa = spfn[0] + (((DWORD)(DWORD_PTR)src + 0x234) & 0xFFF);
    DWORD dpa = dpfn[0] + (((DWORD)(DWORD_PTR)dst + 0x234) & 0xFFF);
    char *s = cevm_ptr(cevm_kernel_pid(), 0x80000000u + spa);
    char *d = cevm_ptr(cevm_kernel_pid(), 0x80000000u + dpa);
    CHECK(strcmp(s, "dma payload") == 0);
    memcpy(d, s, 12); /* the "engine" copies, only within the first page as the driver assumes */
    CHECK(strcmp(dst + 0x234, "dma payload") == 0);
    CHECK(UnlockPages(src + 0x234, 0x2000));
    CHECK(UnlockPages(dst + 0x234, 0x2000));
    /* Unlocking again names no lock record. */
    CHECK(!UnlockPages(src + 0x234, 0x2000));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    /* User mode may not lock. */
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    CHECK(!LockPages(src, 0x1000, spfn, LOCKFLAG_READ));
    CHECK(cevm_check_invariants(NULL));
    return CHECK_DONE();
}
