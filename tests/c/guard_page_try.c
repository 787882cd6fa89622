/* A guard page met by a direct access raises STATUS_ACCESS_VIOLATION to the innermost
 * __try (the store does not happen) and is consumed: the next access succeeds. */
#include <pkfuncs.h>
#include <cevm.h>
#include "check.h"

int main(void) {
    CHECK_EQ(cevm_boot(NULL), 0);
    DWORD app = cevm_create_process("app.exe");
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    volatile BYTE *p = VirtualAlloc(NULL, 0x2000, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    CHECK(p != NULL);
    MEMORY_BASIC_INFORMATION mbi;
    CHECK_EQ(VirtualQuery((LPCVOID)p, &mbi, sizeof mbi), sizeof mbi);
    CHECK_EQ(mbi.Protect, PAGE_READWRITE | PAGE_GUARD);

    volatile DWORD code = 0, addr = 0;
    __try {
        p[0x10] = 1;
    } __except (GetExceptionCode() == STATUS_ACCESS_VIOLATION ? EXCEPTION_EXECUTE_HANDLER
                                                             : EXCEPTION_CONTINUE_SEARCH) {
        code = GetExceptionCode();
        addr = CevmExceptionAddress();
    }
    CHECK_EQ(code, STATUS_ACCESS_VIOLATION);
    CHECK_EQ(addr, (DWORD)(DWORD_PTR)p + 0x10);
    CHECK(cevm_try_top() == NULL);
    /* Consumed: the page reads back without the guard and the access now works. */
    CHECK_EQ(VirtualQuery((LPCVOID)p, &mbi, sizeof mbi), sizeof mbi);
    CHECK_EQ(mbi.Protect, PAGE_READWRITE);
    CHECK_EQ(p[0x10], 0); /* the faulting store did not happen */
    p[0x10] = 2;
    CHECK_EQ(p[0x10], 2);
    /* The second page is still a guard page. */
    code = 0;
    __try {
        (void)p[0x1000];
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        code = GetExceptionCode();
    }
    CHECK_EQ(code, STATUS_ACCESS_VIOLATION);
    CHECK(cevm_check_invariants(NULL));
    return CHECK_DONE();
}
