/* Rows 11, 12 and 17 (codec, JPEG and GPU drivers): size rounded to 4 KiB, a NOACCESS
 * reservation in the caller, VirtualCopyEx of kernel memory into it, the address handed
 * back inside __try, freed with MEM_RELEASE; a failing VirtualCopyEx is followed by a free of
 * the reservation (the clean pattern), and the user process then sees nothing there. */
#include <string.h>
#include <pkfuncs.h>
#include <cevm.h>
#include "check.h"

int main(void) {
    CHECK_EQ(cevm_boot(NULL), 0);
    DWORD app = cevm_create_process("app.exe");
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    DWORD *out = VirtualAlloc(NULL, 0x1000, MEM_COMMIT, PAGE_READWRITE); /* the IOCTL output */
    cevm_context drv = {cevm_kernel_pid(), CEVM_KERNEL_MODE, app, app, 0};
    CHECK(cevm_enter_ex(&drv));

    DWORD sz = (5000 + 0xFFF) & ~0xFFFu;
    char *kva = VirtualAlloc(NULL, sz, MEM_COMMIT, PAGE_READWRITE);
    strcpy(kva + 0x1000, "frame");
    HANDLE caller = (HANDLE)(DWORD_PTR)GetCallerVMProcessId();
    char *u = VirtualAllocEx(caller, NULL, sz, MEM_RESERVE, PAGE_NOACCESS);
    CHECK(u != NULL);
    CHECK_EQ(cevm_pid_of(u), app);
    CHECK(VirtualCopyEx(caller, u, GetCurrentProcess(), kva, sz, PAGE_READWRITE));
    volatile int ok = 0;
    __try {
        *out = (DWORD)(DWORD_PTR)u; /* pointers go back to callers as DWORDs */
        ok = 1;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        ok = -1;
    }
    CHECK_EQ(ok, 1);
    /* The DWORD is enough to reach the user's view again. */
    char *again = cevm_ptr(app, *out);
    CHECK(strcmp(again + 0x1000, "frame") == 0);
    again[0x1000] = 'F';
    CHECK_EQ(kva[0x1000], 'F');

    /* A failing VirtualCopyEx (a source range that is not committed) leaves the
     * reservation, which the clean pattern frees. */
    char *u2 = VirtualAllocEx(caller, NULL, 0x1000, MEM_RESERVE, PAGE_NOACCESS);
    CHECK(!VirtualCopyEx(caller, u2, GetCurrentProcess(), (LPVOID)0x00F00000, 0x1000,
                         PAGE_READWRITE));
    CHECK(GetLastError() != 0);
    CHECK(VirtualFreeEx(caller, u2, 0, MEM_RELEASE));

    CHECK(VirtualFreeEx(caller, u, 0, MEM_RELEASE));
    cevm_exception e;
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    char c;
    CHECK(!cevm_read(*out, &c, 1, &e));
    CHECK(cevm_check_invariants(NULL));
    return CHECK_DONE();
}
