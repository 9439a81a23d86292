/* utf8: validation and repair of UTF-8 text.
 *
 * JSON must be valid UTF-8, but database values, error messages and file
 * names need not be. utf8_sanitize returns a new string (caller frees)
 * where every invalid sequence is replaced by U+FFFD. */
#ifndef SMCP_UTF8_H
#define SMCP_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
size_t utf8_seq_len(const unsigned char *s, size_t n);
bool utf8_valid(const char *s, size_t n);
char *utf8_sanitize(const char *s, size_t n, size_t *out_len);
/* Copies the NUL-terminated src into dst (cap bytes, cap >= 1) as valid
 * UTF-8: invalid sequences become U+FFFD and the copy is cut only between
 * characters. Returns the bytes written, without the NUL. */
size_t utf8_copy(char *dst, size_t cap, const char *src);

#endif
