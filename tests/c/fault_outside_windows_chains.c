/* A fault outside every window goes to the handler that was installed before cevm booted:
 * here one that makes the page writable and returns, so the store then completes. */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <pkfuncs.h>
#include <cevm.h>
#include "check.h"

static char *page;
static volatile int seen;

static void mine(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    if ((char *)si->si_addr >= page && (char *)si->si_addr < page + 4096) {
        seen++;
        mprotect(page, 4096, PROT_READ | PROT_WRITE);
        return;
    }
    _exit(9);
}

int main(void) {
    page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(page != MAP_FAILED);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = mine;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);

    CHECK_EQ(cevm_boot(NULL), 0); /* installs cevm's handler, keeping mine */
    DWORD app = cevm_create_process("app.exe");
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    volatile BYTE *bad = VirtualAlloc(NULL, 0x1000, MEM_RESERVE, PAGE_NOACCESS);

    page[10] = 'x'; /* not a window: chained to mine */
    CHECK_EQ(seen, 1);
    CHECK_EQ(page[10], 'x');
    /* A window fault is still cevm's. */
    volatile DWORD code = 0;
    __try {
        bad[0] = 1;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        code = GetExceptionCode();
    }
    CHECK_EQ(code, STATUS_ACCESS_VIOLATION);
    CHECK_EQ(seen, 1);
    return CHECK_DONE();
}
