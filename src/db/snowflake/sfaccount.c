#include "db/snowflake/sfaccount.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"

#define FORMS                                                                                      \
    "expected an account identifier such as myorg-myaccount, myorg.myaccount or a locator such "   \
    "as xy12345.us-east-2.aws"

#define MAX_PARTS 8

/* An identifier reduced to lower-case dot-separated parts. */
typedef struct acct_parts {
    char *buf;
    char *part[MAX_PARTS];
    int n;
    bool china; /* a .snowflakecomputing.cn domain was given */
} acct_parts;

static bool strip_suffix(char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    if (n > k && strcasecmp(s + n - k, suffix) == 0) {
        s[n - k] = '\0';
        return true;
    }
    return false;
}

static bool is_keyword(const char *p)
{
    static const char *const words[] = {"global", "privatelink", "aws", "azure", "gcp"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        if (strcmp(p, words[i]) == 0)
            return true;
    }
    return false;
}

static bool split_account(const char *account, acct_parts *a, err_t *err)
{
    memset(a, 0, sizeof *a);
    const char *s = account ? account : "";
    while (isspace((unsigned char)*s))
        s++;
    if (strncasecmp(s, "https://", 8) == 0)
        s += 8;
    a->buf = xstrdup(s);
    size_t n = strlen(a->buf);
    while (n > 0 && (a->buf[n - 1] == '/' || isspace((unsigned char)a->buf[n - 1])))
        a->buf[--n] = '\0';
    a->china = strip_suffix(a->buf, ".snowflakecomputing.cn");
    if (!a->china)
        strip_suffix(a->buf, ".snowflakecomputing.com");
    for (char *p = a->buf; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!isalnum(c) && c != '-' && c != '_' && c != '.') {
            err_set(err, ERR_INVALID, "SNOWFLAKE_ACCOUNT contains '%c'; %s", c, FORMS);
            goto bad;
        }
        *p = (char)tolower(c);
    }
    char *save = NULL;
    for (char *tok = strtok_r(a->buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        if (a->n == MAX_PARTS) {
            err_set(err, ERR_INVALID, "SNOWFLAKE_ACCOUNT has too many '.' parts; %s", FORMS);
            goto bad;
        }
        a->part[a->n++] = tok;
    }
    if (a->n == 0 || a->buf[0] == '.') {
        err_set(err, ERR_INVALID, "SNOWFLAKE_ACCOUNT is empty or malformed; %s", FORMS);
        goto bad;
    }
    return true;
bad:
    free(a->buf);
    a->buf = NULL;
    return false;
}

/* myorg.myacct[.privatelink]: the second part is an account name (no '-',
 * unlike every region id) rather than a region or a keyword. */
static bool is_org_dot_account(const acct_parts *a)
{
    return a->n >= 2 && !strchr(a->part[1], '-') && !is_keyword(a->part[1]);
}

static void put_name(strbuf *out, const char *s, bool upper, bool hyphens)
{
    for (; *s; s++) {
        char c = *s;
        if (hyphens && c == '_')
            c = '-';
        sb_putc(out, upper ? (char)toupper((unsigned char)c) : c);
    }
}

bool sfacct_host(const char *account, strbuf *out, err_t *err)
{
    acct_parts a;
    if (!split_account(account, &a, err))
        return false;
    bool china = a.china;
    int first = 1;
    put_name(out, a.part[0], false, true);
    if (is_org_dot_account(&a)) {
        sb_putc(out, '-');
        put_name(out, a.part[1], false, true);
        first = 2;
    }
    for (int i = first; i < a.n; i++) {
        sb_printf(out, ".%s", a.part[i]);
        if (strncmp(a.part[i], "cn-", 3) == 0)
            china = true;
    }
    sb_puts(out, china ? ".snowflakecomputing.cn" : ".snowflakecomputing.com");
    free(a.buf);
    return true;
}

bool sfacct_jwt_account(const char *account, strbuf *out, err_t *err)
{
    acct_parts a;
    if (!split_account(account, &a, err))
        return false;
    bool global = false;
    for (int i = 1; i < a.n; i++)
        global = global || strcmp(a.part[i], "global") == 0;
    if (global) {
        size_t k = strcspn(a.part[0], "-");
        a.part[0][k] = '\0';
        put_name(out, a.part[0], true, false);
    } else {
        put_name(out, a.part[0], true, false);
        if (is_org_dot_account(&a)) {
            sb_putc(out, '-');
            put_name(out, a.part[1], true, false);
        }
    }
    free(a.buf);
    return true;
}
