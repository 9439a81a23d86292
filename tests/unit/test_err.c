/* Error messages stay valid UTF-8 whatever they quote and wherever they
 * are cut, so they can always travel in JSON. */
#include "core/err.h"
#include "core/strbuf.h"
#include "core/utf8.h"
#include "testlib.h"

static void test_cut_between_characters(void)
{
    strbuf sb;
    sb_init(&sb);
    for (int i = 0; i < 400; i++)
        sb_puts(&sb, "\xe6\x97\xa5"); /* 日: three bytes, far past the buffer */
    for (int shift = 0; shift < 3; shift++) {
        err_t e;
        err_set(&e, ERR_SQL, "%.*sno such table: %s", shift, "ab", sb.data);
        CHECK(utf8_valid(e.msg, strlen(e.msg)));
        CHECK(strlen(e.msg) < sizeof e.msg);
        CHECK(strlen(e.msg) > sizeof e.msg - 8); /* cut late, not early */
    }
    sb_free(&sb);
}

static void test_invalid_bytes_replaced(void)
{
    err_t e;
    err_set(&e, ERR_SQL, "column Stra%ce", 0xdf); /* Latin-1 ß */
    CHECK(utf8_valid(e.msg, strlen(e.msg)));
    CHECK_STR(e.msg, "column Stra\xef\xbf\xbd"
                     "e");
    err_prefix(&e, "while reading %s", "t\xff");
    CHECK(utf8_valid(e.msg, strlen(e.msg)));
    CHECK_CONTAINS(e.msg, "while reading t\xef\xbf\xbd: column");
    CHECK(e.kind == ERR_SQL);
}

static void test_utf8_copy_bounds(void)
{
    char small[5];
    CHECK(utf8_copy(small, sizeof small, "\xe6\x97\xa5\xe6\x97\xa5") == 3);
    CHECK_STR(small, "\xe6\x97\xa5");
    CHECK(utf8_copy(small, 1, "abc") == 0);
    CHECK_STR(small, "");
}

int main(void)
{
    TEST_RUN(test_cut_between_characters);
    TEST_RUN(test_invalid_bytes_replaced);
    TEST_RUN(test_utf8_copy_bounds);
    return test_summary();
}
