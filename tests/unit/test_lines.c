/* Line framing of the stdio transport, including the size bound. */
#include "core/strbuf.h"
#include "transport/lines.h"
#include "testlib.h"

typedef struct seen {
    strbuf all;
    int lines;
    int oversize;
    size_t oversize_len;
} seen;

static void on_line(void *ctx, const char *line, size_t len)
{
    seen *s = ctx;
    sb_append(&s->all, line, len);
    sb_putc(&s->all, '|');
    s->lines++;
}

static void on_oversize(void *ctx, size_t len)
{
    seen *s = ctx;
    s->oversize++;
    s->oversize_len = len;
}

static void test_split_across_reads(void)
{
    seen s = {.lines = 0};
    sb_init(&s.all);
    lines *l = lines_new(100, on_line, on_oversize, &s);
    lines_feed(l, "{\"a\":1}\n{\"b\"", 12);
    lines_feed(l, ":2}\r\n\n\nlast", 11);
    lines_finish(l);
    CHECK_STR(s.all.data, "{\"a\":1}|{\"b\":2}|last|");
    CHECK(s.lines == 3);
    CHECK(s.oversize == 0);
    lines_free(l);
    sb_free(&s.all);
}

static void test_oversize_dropped_then_recovers(void)
{
    seen s = {.lines = 0};
    sb_init(&s.all);
    lines *l = lines_new(10, on_line, on_oversize, &s);
    lines_feed(l, "0123456789", 10); /* exactly the limit: still fine */
    lines_feed(l, "\n", 1);
    lines_feed(l, "0123456789abcdef", 16);
    lines_feed(l, "ghij\nok\n", 8);
    lines_finish(l);
    CHECK_STR(s.all.data, "0123456789|ok|");
    CHECK(s.oversize == 1);
    CHECK(s.oversize_len == 20);
    lines_free(l);
    sb_free(&s.all);
}

int main(void)
{
    TEST_RUN(test_split_across_reads);
    TEST_RUN(test_oversize_dropped_then_recovers);
    return test_summary();
}
