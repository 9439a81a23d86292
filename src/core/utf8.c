#include "core/utf8.h"

#include <string.h>

#include "core/strbuf.h"

size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return len;
}

bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len(p + i, n - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

char *utf8_sanitize(const char *s, size_t n, size_t *out_len)
{
    strbuf sb;
    sb_init(&sb);
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len(p + i, n - i);
        if (len == 0) {
            sb_puts(&sb, "\xEF\xBF\xBD");
            i++;
        } else {
            sb_append(&sb, s + i, len);
            i += len;
        }
    }
    if (out_len)
        *out_len = sb.len;
    return sb_detach(&sb);
}

size_t utf8_copy(char *dst, size_t cap, const char *src)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    const unsigned char *p = (const unsigned char *)src;
    size_t n = strlen(src), out = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len(p + i, n - i);
        const char *piece = len ? src + i : replacement;
        size_t plen = len ? len : 3;
        if (out + plen + 1 > cap)
            break;
        memcpy(dst + out, piece, plen);
        out += plen;
        i += len ? len : 1;
    }
    dst[out] = '\0';
    return out;
}
