/* testlib: the tiny assertion kit every unit test program uses.
 *
 * CHECK(cond) records a failure with file:line and goes on; REQUIRE(cond)
 * stops the current test function. TEST_RUN(fn) runs one test function.
 * test_summary() prints "N passed, N failed" and returns the exit code. */
#ifndef SMCP_TESTLIB_H
#define SMCP_TESTLIB_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

extern int test_checks_failed;
extern int test_checks_passed;

bool test_check(bool ok, const char *expr, const char *file, int line);

#define CHECK(cond) test_check((cond), #cond, __FILE__, __LINE__)
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!test_check((cond), #cond, __FILE__, __LINE__))                                        \
            return;                                                                                \
    } while (0)
#define CHECK_STR(a, b) CHECK((a) != NULL && (b) != NULL && strcmp((a), (b)) == 0)
#define CHECK_CONTAINS(hay, needle) CHECK((hay) != NULL && strstr((hay), (needle)) != NULL)

void test_run(const char *name, void (*fn)(void));
#define TEST_RUN(fn) test_run(#fn, fn)
int test_summary(void);

#endif
