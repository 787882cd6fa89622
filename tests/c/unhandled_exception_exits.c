/* An access violation with no __try prints the code, the guest address, the process and the
 * access on stderr and ends the program with status 3. */
// expect-exit: 3
// expect-stderr: unhandled exception 0xC0000005
// expect-stderr: at guest address 0x00010010
// expect-stderr: on a write
#include <pkfuncs.h>
#include <cevm.h>

int main(void) {
    if (cevm_boot(NULL) != 0)
        return 1;
    DWORD app = cevm_create_process("app.exe");
    if (!cevm_enter(app, CEVM_USER_MODE, 0))
        return 1;
    volatile BYTE *p = VirtualAlloc(NULL, 0x1000, MEM_RESERVE, PAGE_NOACCESS);
    if ((DWORD)(DWORD_PTR)p != 0x10000)
        return 1;
    p[0x10] = 1;
    return 0; /* not reached */
}
