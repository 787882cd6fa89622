/* The __try machinery: nesting, EXCEPTION_CONTINUE_SEARCH to the next outer __try, a fault
 * inside a handler or a filter going outward, return and goto out of a __try body keeping
 * the handler stack right, and a faulting load that does not happen. */
#include <pkfuncs.h>
#include <cevm.h>
#include "check.h"

static volatile BYTE *bad; /* a reserved, uncommitted page: every access faults */

static int returns_from_try(void) {
    __try {
        return 5; /* the frame is popped by its cleanup */
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        return -1;
    }
    return 0;
}

static int faults_with_continue_search(void) {
    __try {
        (void)bad[0];
    } __except (EXCEPTION_CONTINUE_SEARCH) {
        return -1; /* never: the search goes on */
    }
    return 0;
}

static int filter_faults(void) {
    return bad[1]; /* a fault while evaluating a filter */
}

int main(void) {
    CHECK_EQ(cevm_boot(NULL), 0);
    DWORD app = cevm_create_process("app.exe");
    CHECK(cevm_enter(app, CEVM_USER_MODE, 0));
    bad = VirtualAlloc(NULL, 0x1000, MEM_RESERVE, PAGE_NOACCESS);
    CHECK(bad != NULL);

    /* Nesting: the inner handler runs, the outer one does not. */
    volatile int inner = 0, outer = 0;
    __try {
        __try {
            (void)bad[0];
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            inner = 1;
        }
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        outer = 1;
    }
    CHECK(inner == 1 && outer == 0);

    /* EXCEPTION_CONTINUE_SEARCH: the next outer __try, across a function. */
    volatile DWORD code = 0;
    __try {
        faults_with_continue_search();
        code = 1;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        code = GetExceptionCode();
    }
    CHECK_EQ(code, STATUS_ACCESS_VIOLATION);

    /* A fault in a handler goes to the next outer __try. */
    volatile int reached = 0;
    __try {
        __try {
            (void)bad[2];
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            reached = 1;
            (void)bad[3];
            reached = 2;
        }
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        CHECK_EQ(CevmExceptionAddress(), (DWORD)(DWORD_PTR)bad + 3);
        reached += 10;
    }
    CHECK_EQ(reached, 11);

    /* A fault in a filter goes to the next outer __try. */
    reached = 0;
    __try {
        __try {
            (void)bad[4];
        } __except (filter_faults()) {
            reached = 1;
        }
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        CHECK_EQ(CevmExceptionAddress(), (DWORD)(DWORD_PTR)bad + 1);
        reached = 2;
    }
    CHECK_EQ(reached, 2);

    /* return out of a __try body, then goto out of one: the stack is empty again. */
    CHECK_EQ(returns_from_try(), 5);
    CHECK(cevm_try_top() == NULL);
    __try {
        goto out;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
    }
out:
    CHECK(cevm_try_top() == NULL);
    /* ... and a later fault is caught by the right frame. */
    code = 0;
    __try {
        (void)bad[5];
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        code = GetExceptionCode();
    }
    CHECK_EQ(code, STATUS_ACCESS_VIOLATION);

    /* The faulting load does not happen: the destination keeps its value. */
    volatile BYTE v = 0x42;
    __try {
        v = bad[6];
    } __except (EXCEPTION_EXECUTE_HANDLER) {
    }
    CHECK_EQ(v, 0x42);
    CHECK(cevm_try_top() == NULL);
    return CHECK_DONE();
}
