/* An auto-commit reservation is committed by its first direct access, invisibly: the store
 * lands, no exception is raised, and VirtualQuery shows the page committed read/write. */
#include <pkfuncs.h>
#include <cevm.h>
#include "check.h"

int main(void) {
    CHECK_EQ(cevm_boot(NULL), 0);
    DWORD app = cevm_create_process("app.exe");
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    volatile DWORD *p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_AUTO_COMMIT, PAGE_READWRITE);
    CHECK(p != NULL);
    MEMORY_BASIC_INFORMATION mbi;
    CHECK_EQ(VirtualQuery((LPCVOID)(p + 0x800), &mbi, sizeof mbi), sizeof mbi);
    CHECK_EQ(mbi.State, MEM_RESERVE);
    volatile int raised = 0;
    __try {
        p[0x800] = 0xABCD; /* byte offset 0x2000: page 2 of the region */
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        raised = 1;
    }
    CHECK_EQ(raised, 0);
    CHECK_EQ(p[0x800], 0xABCD);
    CHECK_EQ(VirtualQuery((LPCVOID)(p + 0x800), &mbi, sizeof mbi), sizeof mbi);
    CHECK_EQ(mbi.State, MEM_COMMIT);
    CHECK_EQ(mbi.Protect, PAGE_READWRITE);
    CHECK(mbi.BaseAddress == (PVOID)(p + 0x800)); /* byte offset 0x2000: page aligned */
    CHECK_EQ(mbi.RegionSize, 0x1000);
    /* The checked path sees the same bytes. */
    DWORD v = 0;
    CHECK(cevm_read((DWORD)(DWORD_PTR)(p + 0x800), &v, 4, NULL));
    CHECK_EQ(v, 0xABCD);
    CHECK(cevm_check_invariants(NULL));
    return CHECK_DONE();
}
