/* cevm_seh.h: the __try / __except machinery of libcevm for gcc (included by windows.h).
 *
 * Written for cevm. How it works: every __try puts a frame (a sigjmp_buf and the exception
 * fields) on the calling thread's handler stack and runs its body after sigsetjmp. A fault
 * in a host window that cevm classifies as an access violation (a guard page, a page the
 * kernel-mode view cannot reach) pops the innermost frame and siglongjmps to it; the filter
 * is evaluated with that frame already popped, so a fault in a filter or in a handler goes
 * to the next outer __try. EXCEPTION_CONTINUE_SEARCH re-raises to the next outer __try; with
 * none left the exception is reported on stderr and the program ends with status 3.
 *
 * Leaving a __try body by return or goto is supported: the frame is a variable with gcc's
 * cleanup attribute, so it is popped on every exit from its scope.
 *
 * Not supported: `break` and `continue` directly inside a __try or __except block (they act
 * on the hidden loop the macros use, not on your loop: restructure the code or use goto);
 * __finally, __leave, EXCEPTION_CONTINUE_EXECUTION (a filter returning it ends the program).
 * Locals changed inside the __try body and read in the handler must be `volatile`, as
 * with any setjmp.
 */
#ifndef CEVM_SEH_H
#define CEVM_SEH_H

#include <setjmp.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cevm_try_frame {
    sigjmp_buf env;
    struct cevm_try_frame *prev;
    uint32_t code;    /* the exception code (STATUS_ACCESS_VIOLATION) */
    uint32_t address; /* the guest address of the fault */
    int32_t write;    /* non-zero when the access was a write */
    uint32_t pid;     /* the process whose window faulted */
    int32_t state;    /* 0 new, 1 on the handler stack, 2 done */
} cevm_try_frame;

int cevm_try_enter(cevm_try_frame *f);
void cevm_try_cleanup(cevm_try_frame *f);
int cevm_try_filter(cevm_try_frame *f, int disposition);
void cevm_raise_exception(uint32_t code, uint32_t address, int32_t write, uint32_t pid)
    __attribute__((noreturn));
/* The innermost frame of the calling thread, NULL when no __try is active. */
cevm_try_frame *cevm_try_top(void);

#define EXCEPTION_EXECUTE_HANDLER 1
#define EXCEPTION_CONTINUE_SEARCH 0
#define EXCEPTION_CONTINUE_EXECUTION (-1) /* not supported */

#define __try                                                                              \
    for (cevm_try_frame __cevm_frame __attribute__((cleanup(cevm_try_cleanup))) = {.state = 0}; \
         cevm_try_enter(&__cevm_frame);)                                                     \
        if (sigsetjmp(__cevm_frame.env, 1) == 0)

#define __except(filter) else if (cevm_try_filter(&__cevm_frame, (filter)))

#define GetExceptionCode() (__cevm_frame.code)
#define _exception_code() (__cevm_frame.code)
/* cevm extras: the guest address and access of the exception being handled. */
#define CevmExceptionAddress() (__cevm_frame.address)
#define CevmExceptionWasWrite() (__cevm_frame.write)

#ifdef __cplusplus
}
#endif

#endif /* CEVM_SEH_H */
