/* check.h: the tiny assertion helper the C test programs share (written for cevm). */
#ifndef CEVM_TEST_CHECK_H
#define CEVM_TEST_CHECK_H
#include <stdio.h>
#include <stdlib.h>

static int check_failures;

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);        \
            check_failures++;                                                               \
        }                                                                                   \
    } while (0)

#define CHECK_EQ(a, b)                                                                      \
    do {                                                                                    \
        unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b);      \
        if (_a != _b) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s = 0x%llX, %s = 0x%llX\n", __FILE__, \
                    __LINE__, #a, _a, #b, _b);                                              \
            check_failures++;                                                               \
        }                                                                                   \
    } while (0)

#define CHECK_DONE() (check_failures ? (fprintf(stderr, "%d check(s) failed\n", check_failures), 1) : 0)

#endif
