/* Tests of account identifier → host and JWT account, for every form the
 * SQL API reference lists. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/strbuf.h"
#include "db/snowflake/sfaccount.h"
#include "testlib.h"

typedef struct acct_case {
    const char *account;
    const char *host;
    const char *jwt;
} acct_case;

static const acct_case cases[] = {
    /* preferred org-account form */
    {"myorg-myacct", "myorg-myacct.snowflakecomputing.com", "MYORG-MYACCT"},
    {"MyOrg-MyAcct", "myorg-myacct.snowflakecomputing.com", "MYORG-MYACCT"},
    /* SQL form org.account: a hyphen in the host, and in the JWT */
    {"myorg.myacct", "myorg-myacct.snowflakecomputing.com", "MYORG-MYACCT"},
    /* underscores: URL form uses hyphens, the JWT keeps the real name */
    {"myorg-my_acct", "myorg-my-acct.snowflakecomputing.com", "MYORG-MY_ACCT"},
    /* legacy locators, region kept verbatim */
    {"xy12345", "xy12345.snowflakecomputing.com", "XY12345"},
    {"xy12345.us-east-2.aws", "xy12345.us-east-2.aws.snowflakecomputing.com", "XY12345"},
    {"xy12345.us-east-2", "xy12345.us-east-2.snowflakecomputing.com", "XY12345"},
    {"xy12345.west-us-2.azure", "xy12345.west-us-2.azure.snowflakecomputing.com", "XY12345"},
    {"xy12345.europe-west4.gcp", "xy12345.europe-west4.gcp.snowflakecomputing.com", "XY12345"},
    /* China regions live under .snowflakecomputing.cn */
    {"xy12345.cn-north-1.aws", "xy12345.cn-north-1.aws.snowflakecomputing.cn", "XY12345"},
    {"xy12345.cn-northwest-1.snowflakecomputing.cn", "xy12345.cn-northwest-1.snowflakecomputing.cn",
     "XY12345"},
    /* PrivateLink */
    {"myorg-myacct.privatelink", "myorg-myacct.privatelink.snowflakecomputing.com", "MYORG-MYACCT"},
    {"xy12345.us-east-1.privatelink", "xy12345.us-east-1.privatelink.snowflakecomputing.com",
     "XY12345"},
    /* global URLs: the JWT account is the part before the first '-' */
    {"myacct-abcdefgh.global", "myacct-abcdefgh.global.snowflakecomputing.com", "MYACCT"},
    /* full host names and URLs as users paste them */
    {"myorg-myacct.snowflakecomputing.com", "myorg-myacct.snowflakecomputing.com", "MYORG-MYACCT"},
    {"https://xy12345.us-east-2.aws.snowflakecomputing.com/",
     "xy12345.us-east-2.aws.snowflakecomputing.com", "XY12345"},
};

static void test_every_form(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        strbuf h, j;
        sb_init(&h);
        sb_init(&j);
        err_t e;
        bool ok =
            sfacct_host(cases[i].account, &h, &e) && sfacct_jwt_account(cases[i].account, &j, &e);
        if (!CHECK(ok) || !CHECK_STR(h.data, cases[i].host) || !CHECK_STR(j.data, cases[i].jwt))
            fprintf(stderr, "    for %s: host %s, jwt %s\n", cases[i].account, h.data, j.data);
        sb_free(&h);
        sb_free(&j);
    }
}

static void test_malformed(void)
{
    const char *bad[] = {"", "   ", "my org", "acct/x", "a@b", ".leading"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        strbuf h;
        sb_init(&h);
        err_t e;
        err_clear(&e);
        CHECK(!sfacct_host(bad[i], &h, &e));
        CHECK(e.kind == ERR_INVALID);
        CHECK_CONTAINS(e.msg, "myorg-myaccount");
        sb_free(&h);
    }
    strbuf h;
    sb_init(&h);
    err_t e;
    CHECK(!sfacct_host(NULL, &h, &e));
    sb_free(&h);
}

int main(void)
{
    TEST_RUN(test_every_form);
    TEST_RUN(test_malformed);
    return test_summary();
}
