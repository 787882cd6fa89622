/* Row 5 (the asynchronous-buffer helper): a kernel-mode driver called by an application
 * keeps a large caller buffer (> 520 bytes) as a VirtualAllocCopyEx alias with the same low
 * 16 bits and a small one as a duplicate written back when freed. */
#include <string.h>
#include <pkfuncs.h>
#include <cevm.h>
#include "check.h"

int main(void) {
    CHECK_EQ(cevm_boot(NULL), 0);
    DWORD app = cevm_create_process("app.exe");
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    BYTE *buf = VirtualAlloc(NULL, 0x4000, MEM_COMMIT, PAGE_READWRITE);
    DWORD *small = (DWORD *)(buf + 0x3000);
    cevm_context drv = {cevm_kernel_pid(), CEVM_KERNEL_MODE, app, app, 0};
    CHECK(cevm_enter_ex(&drv));

    /* Synchronous: the pointer itself, used in place. */
    PVOID in_place = NULL;
    CHECK_EQ(CeOpenCallerBuffer(&in_place, buf, 16, ARG_IO_PTR, FALSE), S_OK);
    CHECK(in_place == buf);
    CHECK_EQ(CeCloseCallerBuffer(in_place, buf, 16, ARG_IO_PTR), S_OK);

    /* Large: an alias in NK.EXE. */
    PVOID big = NULL;
    CHECK_EQ(CeAllocAsynchronousBuffer(&big, buf + 0x10, 0x1800, ARG_O_PTR), S_OK);
    CHECK(big != NULL && big != buf + 0x10);
    CHECK_EQ((DWORD_PTR)big & 0xFFFF, (DWORD_PTR)(buf + 0x10) & 0xFFFF);
    CHECK_EQ(cevm_pid_of(big), cevm_kernel_pid());
    ((DWORD *)big)[0] = 7;
    CHECK_EQ(((DWORD *)(buf + 0x10))[0], 7); /* the same frame */
    CHECK_EQ(CeFreeAsynchronousBuffer(big, buf + 0x10, 0x1800, ARG_O_PTR), S_OK);

    /* Small: a duplicate, written back on free. */
    PVOID dup = NULL;
    CHECK_EQ(CeAllocAsynchronousBuffer(&dup, small, 4, ARG_IO_PDW), S_OK);
    CHECK(dup != NULL && dup != (PVOID)small);
    *(DWORD *)dup = 9;
    CHECK_EQ(*small, 0);
    CHECK_EQ(CeFreeAsynchronousBuffer(dup, small, 4, ARG_IO_PDW), S_OK);
    CHECK_EQ(*small, 9);

    /* NULL out-pointer and bad sizes: E_INVALIDARG, the out-pointer untouched. */
    CHECK_EQ(CeAllocAsynchronousBuffer(NULL, small, 4, ARG_IO_PDW), E_INVALIDARG);
    PVOID keep = (PVOID)0x1234;
    CHECK_EQ(CeAllocAsynchronousBuffer(&keep, small, 3, ARG_IO_PDW), E_INVALIDARG);
    CHECK(keep == (PVOID)0x1234);
    /* Flush without the O bit: HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED). */
    CHECK_EQ(CeFlushAsynchronousBuffer(buf, buf, NULL, 16, ARG_I_PTR), (HRESULT)0x80070032);
    /* CeAllocDuplicateBuffer / CeFreeDuplicateBuffer. */
    PVOID d2 = NULL;
    CHECK_EQ(CeAllocDuplicateBuffer(&d2, buf, 8, ARG_IO_PTR), S_OK);
    memcpy(d2, "dupdup!", 8);
    CHECK_EQ(CeFreeDuplicateBuffer(d2, buf, 8, ARG_IO_PTR), S_OK);
    CHECK(memcmp(buf, "dupdup!", 8) == 0);
    CHECK(cevm_check_invariants(NULL));
    return CHECK_DONE();
}
