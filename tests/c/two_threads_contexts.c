/* Each host thread has its own CE thread: a new thread starts in NK.EXE kernel mode with no
 * direct caller and last error 0, cevm_enter switches only the calling thread, and the last
 * error is per thread. */
#include <pthread.h>
#include <pkfuncs.h>
#include <cevm.h>
#include "check.h"

static DWORD app, other;
static pthread_barrier_t bar;
static int worker_failures;

static void *worker(void *arg) {
    (void)arg;
    int before = check_failures;
    CHECK_EQ(GetCurrentProcessId(), cevm_kernel_pid());   /* starts in NK.EXE */
    /* with no direct caller: kernel mode reports V (NK.EXE itself), semantics.md §5.13 */
    CHECK_EQ(GetDirectCallerProcessId(), cevm_kernel_pid());
    CHECK_EQ(GetLastError(), 0);
    CHECK(cevm_enter(other, CEVM_USER_MODE, 0));
    SetLastError(1234);
    pthread_barrier_wait(&bar); /* main has entered app and set its own last error */
    CHECK_EQ(GetCurrentProcessId(), other);
    CHECK_EQ(GetLastError(), 1234);
    char *p = VirtualAlloc(NULL, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    CHECK_EQ(cevm_pid_of(p), other);
    p[0] = 'w';
    pthread_barrier_wait(&bar);
    worker_failures = check_failures - before;
    return NULL;
}

int main(void) {
    CHECK_EQ(cevm_boot(NULL), 0);
    app = cevm_create_process("app.exe");
    other = cevm_create_process("other.exe");
    pthread_barrier_init(&bar, NULL, 2);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, worker, NULL), 0);
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    SetLastError(42);
    pthread_barrier_wait(&bar);
    char *p = VirtualAlloc(NULL, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    CHECK_EQ(cevm_pid_of(p), app);
    pthread_barrier_wait(&bar);
    pthread_join(t, NULL);
    CHECK_EQ(worker_failures, 0);
    CHECK_EQ(GetCurrentProcessId(), app);
    CHECK_EQ(GetLastError(), 42);
    /* Both allocations are the first in their processes: the same guest address, two
     * different host pages. */
    CHECK_EQ((DWORD)(DWORD_PTR)p, 0x10000);
    char *q = cevm_ptr(other, 0x10000);
    CHECK_EQ(q[0], 'w');
    CHECK_EQ(p[0], 0);
    CHECK(cevm_check_invariants(NULL));
    return CHECK_DONE();
}
