/* The host API of cevm.h: boot configuration errors, contexts, the checked access with its
 * exception, maps, the invariant checker, the auditor off by default. */
#include <string.h>
#include <pkfuncs.h>
#include <cevm.h>
#include "check.h"

int main(void) {
    cevm_config cfg = {0};
    cfg.exposure_policy = 7;
    CHECK_EQ(cevm_boot(&cfg), ERROR_INVALID_PARAMETER);
    cfg.exposure_policy = CEVM_POLICY_STRICT;
    CHECK_EQ(cevm_boot(&cfg), 0); /* the auditor is on */
    cfg.exposure_policy = CEVM_POLICY_COMPATIBLE;
    cfg.ram_mb = 16;
    CHECK_EQ(cevm_boot(&cfg), 0);
    MEMORYSTATUS ms;
    GlobalMemoryStatus(&ms);
    CHECK_EQ(ms.dwTotalPhys, 16u << 20);

    DWORD nk = cevm_kernel_pid();
    DWORD app = cevm_create_process("app.exe");
    CHECK(app != 0 && app != nk);
    CHECK_EQ(cevm_create_process(NULL), 0);
    /* A process that does not exist: 6, the context unchanged. */
    CHECK(!cevm_enter(0x7777, CEVM_USER_MODE, 0));
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK_EQ(GetCurrentProcessId(), nk);
    CHECK(!cevm_enter(app, 9, 0)); /* no such mode */
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);

    /* A kernel-mode driver called by app: P = NK, V = C = app, O = app. */
    cevm_context ctx = {nk, CEVM_KERNEL_MODE, app, app, 0};
    CHECK(cevm_enter_ex(&ctx));
    CHECK_EQ(GetCurrentProcessId(), nk);
    CHECK_EQ(GetCallerVMProcessId(), app);
    CHECK_EQ(GetDirectCallerProcessId(), app);
    CHECK_EQ((DWORD)(DWORD_PTR)GetCallerProcess(), app);
    CHECK_EQ((DWORD)(DWORD_PTR)GetOwnerProcess(), app);

    /* The checked access keeps user-mode rules: a user thread cannot write the kernel. */
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    DWORD *p = VirtualAlloc(NULL, 0x1000, MEM_COMMIT, PAGE_READONLY);
    DWORD v = 0x11223344;
    cevm_exception e = {0};
    CHECK(!cevm_write((DWORD)(DWORD_PTR)p, &v, 4, &e));
    CHECK_EQ(e.code, STATUS_ACCESS_VIOLATION);
    CHECK_EQ(e.address, (DWORD)(DWORD_PTR)p);
    CHECK(e.write);
    CHECK(!cevm_read(0x80001000, &v, 4, &e)); /* kernel memory from user mode */
    CHECK_EQ(e.address, 0x80001000);
    CHECK(!e.write);
    CHECK(cevm_read((DWORD)(DWORD_PTR)p, &v, 4, NULL));
    CHECK_EQ(v, 0);
    CHECK_EQ(cevm_va(p), (DWORD)(DWORD_PTR)p);
    CHECK(cevm_ptr(app, 0) == NULL);

    char *m = cevm_maps(app);
    CHECK(m != NULL && strstr(m, "app.exe") != NULL);
    cevm_free_string(m);
    m = cevm_maps(0);
    CHECK(m != NULL && strstr(m, "NK.EXE") != NULL);
    cevm_free_string(m);
    CHECK(cevm_maps(0x7777) == NULL);
    cevm_free_string(NULL);

    char *json = (char *)0x1;
    CHECK(!cevm_audit_report(&json));
    CHECK_EQ(GetLastError(), ERROR_NOT_SUPPORTED);
    CHECK(json == (char *)0x1);
    char *why = NULL;
    CHECK(cevm_check_invariants(&why));
    CHECK(why == NULL);

    /* A second boot replaces the kernel; this thread, which used the old one from app.exe
     * with a last error set, gets a fresh CE thread in NK.EXE on the new kernel. */
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    SetLastError(1234);
    CHECK_EQ(GetCurrentProcessId(), app);
    CHECK_EQ(cevm_boot(NULL), 0);
    CHECK_EQ(GetCurrentProcessId(), cevm_kernel_pid());
    CHECK_EQ(GetLastError(), 0);
    GlobalMemoryStatus(&ms);
    CHECK(ms.dwTotalPhys != 16u << 20); /* the default RAM, not the 16 MiB kernel's */
    return CHECK_DONE();
}
