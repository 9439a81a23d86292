/* strbuf: a growable, always NUL-terminated byte string.
 *
 * The caller owns the strbuf value and its data; sb_free releases the data,
 * sb_detach hands it to the caller (free() it). Allocation failure aborts the
 * process through xalloc: there is no sensible recovery from OOM here. */
#ifndef SMCP_STRBUF_H
#define SMCP_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct strbuf {
    char *data; /* never NULL after sb_init */
    size_t len;
    size_t cap;
} strbuf;

void sb_init(strbuf *sb);
void sb_free(strbuf *sb);
void sb_reset(strbuf *sb);
void sb_append(strbuf *sb, const char *s, size_t n);
void sb_puts(strbuf *sb, const char *s);
void sb_putc(strbuf *sb, char c);
void sb_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(strbuf *sb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Returns the data (caller frees). sb is then released: sb_init it again
 * before reuse; sb_free on it is a harmless no-op. */
char *sb_detach(strbuf *sb);

#endif
