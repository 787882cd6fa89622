/* Rows 1 and 2 (device manager I/O packet, reflector): kernel data is copied into a
 * VirtualAlloc bounce buffer inside __try, aliased into the user-mode driver host with
 * PAGE_READONLY because it is an input buffer; the driver host can read it, a write through
 * the read-only alias raises STATUS_ACCESS_VIOLATION, and the alias is released with the
 * masked base in the target. */
#include <string.h>
#include <pkfuncs.h>
#include <cevm.h>
#include "check.h"

int main(void) {
    CHECK_EQ(cevm_boot(NULL), 0);
    DWORD app = cevm_create_process("app.exe");
    DWORD udev = cevm_create_process("udevice.exe");
    DWORD nk = cevm_kernel_pid();
    CHECK(cevm_enter(nk, CEVM_KERNEL_MODE, 0));
    const char input[] = "ioctl input from the kernel";
    DWORD len = sizeof input;

    /* The initiator is the kernel: bounce through a VirtualAlloc buffer. */
    char *bounce = VirtualAlloc(NULL, len, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    CHECK(bounce != NULL);
    volatile int copied = 0;
    __try {
        memcpy(bounce, input, len);
        copied = 1;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        copied = -1;
    }
    CHECK_EQ(copied, 1);

    char *alias = VirtualAllocCopyEx(GetCurrentProcess(), (HANDLE)(DWORD_PTR)udev, bounce, len,
                                     PAGE_READONLY);
    CHECK(alias != NULL);
    CHECK_EQ(cevm_pid_of(alias), udev);
    CHECK(strcmp(alias, input) == 0);

    volatile DWORD code = 0;
    __try {
        alias[0] = 'X';
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        code = GetExceptionCode();
        CHECK_EQ(CevmExceptionAddress(), (DWORD)(DWORD_PTR)alias);
        CHECK(CevmExceptionWasWrite());
    }
    CHECK_EQ(code, STATUS_ACCESS_VIOLATION);
    CHECK_EQ(bounce[0], 'i'); /* the faulting store did not happen */

    /* The reflector variant: the caller's buffer, read-write, in the driver host. */
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    char *ubuf = VirtualAlloc(NULL, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    cevm_context refl = {nk, CEVM_KERNEL_MODE, app, app, 0};
    CHECK(cevm_enter_ex(&refl));
    char *rw = VirtualAllocCopyEx((HANDLE)(DWORD_PTR)GetCallerVMProcessId(), (HANDLE)(DWORD_PTR)udev,
                                  ubuf + 8, 16, PAGE_READWRITE);
    CHECK(rw != NULL);
    strcpy(rw, "out");
    CHECK(strcmp(ubuf + 8, "out") == 0);
    CHECK(VirtualFreeEx((HANDLE)(DWORD_PTR)udev, (LPVOID)((DWORD_PTR)rw & ~(DWORD_PTR)0xFFFF), 0,
                        MEM_RELEASE));
    CHECK(VirtualFreeEx((HANDLE)(DWORD_PTR)udev, (LPVOID)((DWORD_PTR)alias & ~(DWORD_PTR)0xFFFF),
                        0, MEM_RELEASE));
    CHECK(cevm_enter(nk, CEVM_KERNEL_MODE, 0));
    CHECK(VirtualFree(bounce, 0, MEM_RELEASE));
    CHECK(cevm_check_invariants(NULL));
    return CHECK_DONE();
}
