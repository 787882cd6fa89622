/* A committed buffer is host memory: written through its window pointer, read back by the
 * checked path, and the pointer's low 32 bits are the guest address. */
#include <string.h>
#include <windows.h>
#include <cevm.h>
#include "check.h"

int main(void) {
    CHECK_EQ(cevm_boot(NULL), 0);
    DWORD app = cevm_create_process("app.exe");
    CHECK(app != 0);
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    char *p = VirtualAlloc(NULL, 0x2000, MEM_COMMIT, PAGE_READWRITE);
    CHECK(p != NULL);
    CHECK_EQ((DWORD)(uintptr_t)p, 0x10000); /* placement is deterministic */
    CHECK_EQ(cevm_pid_of(p), app);
    CHECK(cevm_ptr(app, 0x10000) == p);
    memcpy(p + 5, "hello", 5);
    char back[5];
    cevm_exception e;
    CHECK(cevm_read(0x10005, back, 5, &e));
    CHECK(memcmp(back, "hello", 5) == 0);
    char *why = NULL;
    CHECK(cevm_check_invariants(&why));
    if (why) {
        fprintf(stderr, "%s\n", why);
        cevm_free_string(why);
    }
    return CHECK_DONE();
}
