/* The auditor through the C front (audit.md, "Output"): the strict policy refuses an
 * exposing alias into a user-mode process, cevm_audit_report hands out the findings so far as
 * JSON lines, and with CEVM_AUDIT set the findings (never-released ones included) are written
 * to that file when the program exits. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pkfuncs.h>
#include <cevm.h>
#include "check.h"

/* An application's unaligned buffer aliased by its driver host into udevice.exe. */
static LPVOID alias_unaligned(DWORD *app, DWORD *drv, LPVOID *buf) {
    *app = cevm_create_process("app.exe");
    *drv = cevm_create_process("udevice.exe");
    cevm_enter(*app, CEVM_USER_MODE, 0);
    *buf = VirtualAlloc(NULL, 0x2000, MEM_COMMIT, PAGE_READWRITE);
    cevm_enter(*drv, CEVM_KERNEL_MODE, *app);
    return VirtualAllocCopyEx((HANDLE)(DWORD_PTR)*app, (HANDLE)(DWORD_PTR)*drv,
                              (BYTE *)*buf + 0x123, 13, PAGE_READWRITE);
}

static int strict_policy_and_report(void) {
    cevm_config cfg = {0};
    cfg.exposure_policy = CEVM_POLICY_STRICT;
    CHECK_EQ(cevm_boot(&cfg), 0);
    DWORD app, drv;
    LPVOID buf;
    SetLastError(0);
    LPVOID p = alias_unaligned(&app, &drv, &buf);
    CHECK(p == NULL);
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    /* The page-aligned, whole-page alias exposes nothing and is made. */
    LPVOID whole = VirtualAllocCopyEx((HANDLE)(DWORD_PTR)app, (HANDLE)(DWORD_PTR)drv, buf,
                                      0x2000, PAGE_READWRITE);
    CHECK(whole != NULL);
    char *json = NULL;
    CHECK(cevm_audit_report(&json));
    CHECK(json != NULL);
    if (json) {
        CHECK(strstr(json, "\"kind\":\"exposure\"") != NULL);
        CHECK(strstr(json, "\"severity\":\"warning\"") != NULL);
        CHECK(strstr(json, "\"location\":\"VirtualAllocCopyEx\"") != NULL);
        /* One line: the refused alias, nothing for the whole-page one. */
        CHECK(strchr(json, '\n') == json + strlen(json) - 1);
        cevm_free_string(json);
    }
    CHECK(VirtualFreeEx((HANDLE)(DWORD_PTR)drv, (LPVOID)((DWORD_PTR)whole & ~0xFFFFull), 0,
                        MEM_RELEASE));
    return 0;
}

int main(void) {
    strict_policy_and_report();

    /* CEVM_AUDIT: a child runs a compatible scenario that keeps its alias; when it exits
     * the report holds the exposure and the never-released alias. */
    char path[] = "/tmp/cevm-audit-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    pid_t child = fork();
    if (child == 0) {
        setenv("CEVM_AUDIT", path, 1);
        if (cevm_boot(NULL) != 0) _exit(5);
        DWORD app, drv;
        LPVOID buf;
        exit(alias_unaligned(&app, &drv, &buf) ? 0 : 6); /* exit, not _exit: atexit runs */
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (f) {
        char text[8192] = {0};
        size_t got = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        CHECK(got > 0);
        CHECK(strstr(text, "\"kind\":\"exposure\"") != NULL);
        CHECK(strstr(text, "\"severity\":\"error\"") != NULL);
        CHECK(strstr(text, "\"kind\":\"never-released\"") != NULL);
    }
    unlink(path);
    return CHECK_DONE();
}
