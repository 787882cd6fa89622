/* The C half of libcevm's exceptions: the per-thread handler stack of __try frames, the
 * raise (siglongjmp to the innermost frame), and the SIGSEGV/SIGBUS handler that asks
 * cevm what a fault in a host window means. Written for cevm. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "cevm_seh.h"

/* Implemented in Rust (src/fault.rs): 0 not a window, 1 retry, 2 access violation, 3 busy. */
extern int cevm_ffi_resolve_fault(uintptr_t addr, int write, uint32_t *guest, uint32_t *pid);

static __thread cevm_try_frame *top;

__attribute__((noreturn)) void cevm_c_raise(uint32_t code, uint32_t address, int32_t write_, uint32_t pid);

cevm_try_frame *cevm_c_try_top(void) { return top; }

int cevm_c_try_enter(cevm_try_frame *f) {
    if (f->state == 0) {
        f->prev = top;
        top = f;
        f->state = 1;
        return 1;
    }
    if (f->state == 1 && top == f)
        top = f->prev;
    f->state = 2;
    return 0;
}

void cevm_c_try_cleanup(cevm_try_frame *f) {
    if (f->state == 1) {
        /* Left by return or goto: every frame above it belongs to scopes already left. */
        top = f->prev;
        f->state = 2;
    }
}

static void write_str(const char *s) {
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

__attribute__((noreturn)) void cevm_c_raise(uint32_t code, uint32_t address, int32_t write_, uint32_t pid) {
    cevm_try_frame *f = top;
    if (!f) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "cevm: unhandled exception 0x%08X (access violation) at guest address 0x%08X "
                 "in process 0x%X on a %s\n",
                 code, address, pid, write_ ? "write" : "read");
        write_str(msg);
        _exit(3);
    }
    top = f->prev;
    f->state = 2;
    f->code = code;
    f->address = address;
    f->write = write_;
    f->pid = pid;
    siglongjmp(f->env, 1);
}

int cevm_c_try_filter(cevm_try_frame *f, int disposition) {
    if (disposition == EXCEPTION_CONTINUE_SEARCH)
        cevm_c_raise(f->code, f->address, f->write, f->pid);
    if (disposition < 0) {
        write_str("cevm: EXCEPTION_CONTINUE_EXECUTION is not supported\n");
        _exit(3);
    }
    return 1;
}

static struct sigaction old_segv, old_bus;
static atomic_int installed;

static void chain(int sig, siginfo_t *si, void *uc) {
    struct sigaction *old = sig == SIGBUS ? &old_bus : &old_segv;
    if (old->sa_flags & SA_SIGINFO) {
        if (old->sa_sigaction) {
            old->sa_sigaction(sig, si, uc);
            return;
        }
    } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    /* Default (or ignored, which cannot work for a fault): restore it and return, so the
     * access faults again and the default action happens. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
}

static void on_fault(int sig, siginfo_t *si, void *ucv) {
    int write_ = 0;
#if defined(__x86_64__)
    ucontext_t *uc = ucv;
    write_ = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#endif
    uint32_t guest = 0, pid = 0;
    switch (cevm_ffi_resolve_fault((uintptr_t)si->si_addr, write_, &guest, &pid)) {
    case 1: /* retry */
    case 3: /* busy: fault again */
        return;
    case 2:
        cevm_c_raise(0xC0000005u, guest, write_, pid);
    default:
        chain(sig, si, ucv);
    }
}

int cevm_c_install_fault_handler(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&installed, &expected, 1))
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv) != 0)
        return -1;
    if (sigaction(SIGBUS, &sa, &old_bus) != 0)
        return -1;
    return 0;
}
