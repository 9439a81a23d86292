#include "testlib.h"

int test_checks_failed;
int test_checks_passed;
static int tests_failed;
static int tests_passed;

bool test_check(bool ok, const char *expr, const char *file, int line)
{
    if (ok) {
        test_checks_passed++;
        return true;
    }
    test_checks_failed++;
    fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, expr);
    return false;
}

void test_run(const char *name, void (*fn)(void))
{
    int before = test_checks_failed;
    fn();
    if (test_checks_failed == before) {
        tests_passed++;
        fprintf(stderr, "ok   %s\n", name);
    } else {
        tests_failed++;
        fprintf(stderr, "FAIL %s\n", name);
    }
}

int test_summary(void)
{
    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    printf("(%d checks passed, %d checks failed)\n", test_checks_passed, test_checks_failed);
    return tests_failed == 0 && test_checks_passed > 0 ? 0 : 1;
}
