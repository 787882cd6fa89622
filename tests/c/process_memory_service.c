/* ReadProcessMemory / WriteProcessMemory from a service: host buffers in, guest addresses
 * of the target, the byte counts written only on success; OpenProcess rights are checked. */
#include <string.h>
#include <pkfuncs.h>
#include <cevm.h>
#include "check.h"

int main(void) {
    CHECK_EQ(cevm_boot(NULL), 0);
    DWORD app = cevm_create_process("app.exe");
    DWORD svc = cevm_create_process("services.exe");
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    char *buf = VirtualAlloc(NULL, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    strcpy(buf, "state");
    CHECK(cevm_enter(svc, CEVM_USER_MODE, 0));
    HANDLE h = OpenProcess(PROCESS_VM_READ | PROCESS_VM_WRITE, FALSE, app);
    CHECK(h != NULL);
    char local[6] = {0};
    DWORD done = 0x1234;
    CHECK(ReadProcessMemory(h, buf, local, 6, &done));
    CHECK_EQ(done, 6);
    CHECK(strcmp(local, "state") == 0);
    /* The raw 32-bit guest address works as well as the window pointer. */
    CHECK(ReadProcessMemory(h, (LPCVOID)(DWORD_PTR)(DWORD)(DWORD_PTR)buf, local, 6, NULL));
    CHECK(WriteProcessMemory(h, buf + 1, "TATE", 4, &done));
    CHECK_EQ(done, 4);
    CHECK(strcmp(buf, "sTATE") == 0);
    /* A failure leaves *lpNumberOfBytesRead alone: an uncommitted address (87). */
    done = 0x1234;
    CHECK(!ReadProcessMemory(h, (LPCVOID)0x00500000, local, 4, &done));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK_EQ(done, 0x1234);
    /* Without PROCESS_VM_WRITE: 5. */
    HANDLE ro = OpenProcess(PROCESS_VM_READ, FALSE, app);
    CHECK(!WriteProcessMemory(ro, buf, "x", 1, &done));
    CHECK_EQ(GetLastError(), ERROR_ACCESS_DENIED);
    CHECK(CloseHandle(ro));
    CHECK(!CloseHandle(ro));
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK(CloseHandle(h));
    CHECK(cevm_check_invariants(NULL));
    return CHECK_DONE();
}
