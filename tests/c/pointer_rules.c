/* The pointer rules of c-abi.md: a host pointer outside every window fails with 87 before
 * any other check; a raw 32-bit guest address and a window pointer of any process name the
 * same guest address; results are window pointers of the process they belong to; buffers
 * and out-parameters are host memory written only on success; VirtualQuery needs
 * sizeof(MEMORY_BASIC_INFORMATION). */
#include <string.h>
#include <pkfuncs.h>
#include <ceddk.h>
#include <cevm.h>
#include "check.h"

static char host_buf[0x2000];

int main(void) {
    CHECK_EQ(cevm_boot(NULL), 0);
    DWORD app = cevm_create_process("app.exe");
    DWORD other = cevm_create_process("other.exe");
    LPVOID host = host_buf + 0x100; /* at or above 4 GiB, in no window */
    CHECK((DWORD_PTR)host > 0xFFFFFFFFull);
    CHECK_EQ(cevm_pid_of(host), 0);

    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    char *p = VirtualAlloc(NULL, 0x2000, MEM_COMMIT, PAGE_READWRITE);
    CHECK(p != NULL);
    CHECK_EQ(cevm_pid_of(p), app);

    /* 87 before any other check: VirtualAlloc with an otherwise invalid type would give 87
     * anyway, so use calls whose other checks give other codes. */
    DWORD old = 0x77;
    SetLastError(0);
    CHECK(!VirtualFreeEx((HANDLE)0x999, host, 0, MEM_RELEASE)); /* bad handle would be 6 */
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(!VirtualProtect(host, 0x1000, PAGE_READONLY, &old));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK_EQ(old, 0x77);
    MEMORY_BASIC_INFORMATION mbi;
    memset(&mbi, 0xEE, sizeof mbi);
    CHECK_EQ(VirtualQuery(host, &mbi, 28), 0); /* bad length would be 24 */
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK_EQ(mbi.State, 0xEEEEEEEE);
    CHECK(VirtualAlloc(host, 0x1000, MEM_COMMIT, PAGE_READWRITE) == NULL);
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    HANDLE h = OpenProcess(PROCESS_VM_READ, FALSE, app);
    char tmp[4];
    CHECK(!ReadProcessMemory((HANDLE)0x999, host, tmp, 4, NULL)); /* bad handle would be 6 */
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(!VirtualCopy(p, host, 0x1000, PAGE_READWRITE));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    MmUnmapIoSpace(host, 0x1000);
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(!FreePhysMem(host));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    PVOID out = (PVOID)0x55;
    CHECK_EQ(CeOpenCallerBuffer(&out, host, 4, ARG_I_PTR, FALSE), E_INVALIDARG);
    CHECK(out == (PVOID)0x55);

    /* The same guest address three ways. */
    DWORD va = (DWORD)(DWORD_PTR)p;
    MEMORY_BASIC_INFORMATION a, b, c;
    CHECK_EQ(VirtualQuery(p, &a, sizeof a), sizeof(MEMORY_BASIC_INFORMATION));
    CHECK_EQ(VirtualQuery((LPCVOID)(DWORD_PTR)va, &b, sizeof b), sizeof b);
    CHECK_EQ(VirtualQuery(cevm_ptr(other, va), &c, sizeof c), sizeof c); /* low 32 bits count */
    CHECK(a.BaseAddress == p && b.BaseAddress == p && c.BaseAddress == p);
    CHECK(a.AllocationBase == p);
    CHECK_EQ(a.RegionSize, 0x2000);
    CHECK_EQ(a.State, MEM_COMMIT);
    CHECK_EQ(a.Type, MEM_PRIVATE);
    /* CE's 28-byte length is too small for the host structure. */
    CHECK_EQ(VirtualQuery(p, &a, 28), 0);
    CHECK_EQ(GetLastError(), ERROR_BAD_LENGTH);
    CHECK_EQ(VirtualQuery(p, &a, sizeof a - 1), 0);
    CHECK_EQ(GetLastError(), ERROR_BAD_LENGTH);
    /* VirtualQueryEx: BaseAddress is a window pointer of the queried process. */
    CHECK(cevm_enter(cevm_kernel_pid(), CEVM_KERNEL_MODE, 0));
    CHECK_EQ(VirtualQueryEx((HANDLE)(DWORD_PTR)app, (LPCVOID)(DWORD_PTR)va, &a, sizeof a),
             sizeof a);
    CHECK(a.BaseAddress == p);
    CHECK_EQ(cevm_pid_of(a.BaseAddress), app);
    /* Results: VirtualAllocEx -> the handle's process; VirtualAlloc -> the active one. */
    char *q = VirtualAllocEx((HANDLE)(DWORD_PTR)other, NULL, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    CHECK_EQ(cevm_pid_of(q), other);
    char *k = VirtualAlloc(NULL, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    CHECK_EQ(cevm_pid_of(k), cevm_kernel_pid());
    CHECK((DWORD_PTR)k - (DWORD_PTR)cevm_ptr(cevm_kernel_pid(), 0) >= 0x80000000ull);
    /* Out-parameters: VirtualProtect's old protection, written on success only. */
    CHECK(VirtualProtectEx((HANDLE)(DWORD_PTR)other, q, 0x1000, PAGE_READONLY, &old));
    CHECK_EQ(old, PAGE_READWRITE);
    old = 0x77;
    CHECK(!VirtualProtectEx((HANDLE)(DWORD_PTR)other, q, 0x1000, PAGE_WRITECOPY, &old));
    CHECK_EQ(old, 0x77);
    CHECK(!VirtualProtectEx((HANDLE)(DWORD_PTR)other, q, 0x1000, PAGE_READONLY, NULL));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    /* GetSystemInfo's addresses are window pointers of the active process; MEMORYSTATUS. */
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    CHECK_EQ(si.dwPageSize, 4096);
    CHECK_EQ(si.dwAllocationGranularity, 0x10000);
    CHECK_EQ(si.dwProcessorType, 586);
    CHECK_EQ(cevm_va(si.lpMinimumApplicationAddress), 0x10000);
    CHECK_EQ(cevm_va(si.lpMaximumApplicationAddress), 0x7FFFFFFF);
    CHECK_EQ(cevm_pid_of(si.lpMinimumApplicationAddress), cevm_kernel_pid());
    MEMORYSTATUS ms;
    GlobalMemoryStatus(&ms);
    CHECK_EQ(ms.dwLength, 32);
    CHECK_EQ(ms.dwTotalPhys, 64u << 20);
    CHECK_EQ(ms.dwTotalVirtual, 0x40000000);
    /* Handles. */
    CHECK(GetCurrentProcess() == (HANDLE)0x42);
    CHECK(CloseHandle(h));
    CHECK(cevm_check_invariants(NULL));
    return CHECK_DONE();
}
