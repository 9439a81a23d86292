/* Tests of the Snowflake backend's configuration: environment, DSNs,
 * validation messages, name resolution, qualify and the request body. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/strbuf.h"
#include "db/driver.h"
#include "db/snowflake/sfapi.h"
#include "db/snowflake/sfconfig.h"
#include "db/snowflake/snowflake.h"
#include "testlib.h"

static char dir[] = "/tmp/smcp-test-sfcfg-XXXXXX";
static char key[600];

static const char *const all_vars[] = {"SNOWFLAKE_ACCOUNT",
                                       "SNOWFLAKE_USER",
                                       "SNOWFLAKE_AUTH_TYPE",
                                       "SNOWFLAKE_AUTHENTICATOR",
                                       "SNOWFLAKE_PRIVATE_KEY_PATH",
                                       "SNOWFLAKE_PRIVATE_KEY_FILE",
                                       "SNOWFLAKE_PRIVATE_KEY",
                                       "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
                                       "SNOWFLAKE_PRIVATE_KEY_FILE_PWD",
                                       "SNOWFLAKE_TOKEN",
                                       "SNOWFLAKE_TOKEN_FILE",
                                       "SNOWFLAKE_WAREHOUSE",
                                       "SNOWFLAKE_DATABASE",
                                       "SNOWFLAKE_SCHEMA",
                                       "SNOWFLAKE_ROLE",
                                       "SNOWFLAKE_HOST",
                                       "SNOWFLAKE_CA_FILE",
                                       "SNOWFLAKE_JWT_ACCOUNT"};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof all_vars / sizeof *all_vars; i++)
        unsetenv(all_vars[i]);
}

static void setup(void)
{
    if (!mkdtemp(dir))
        exit(2);
    snprintf(key, sizeof key, "%s/k.p8", dir);
    char cmd[800];
    snprintf(cmd, sizeof cmd,
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s 2>/dev/null",
             key);
    if (system(cmd) != 0)
        exit(2);
}

static void teardown(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static void test_ident(void)
{
    char *s;
    s = sfcfg_ident("sales");
    CHECK_STR(s, "SALES");
    free(s);
    s = sfcfg_ident("My_Db$1");
    CHECK_STR(s, "MY_DB$1");
    free(s);
    s = sfcfg_ident("\"lower case\"");
    CHECK_STR(s, "lower case");
    free(s);
    s = sfcfg_ident("\"a\"\"b\"");
    CHECK_STR(s, "a\"b");
    free(s);
    s = sfcfg_ident("has space");
    CHECK_STR(s, "has space"); /* not an identifier: verbatim */
    free(s);
    s = sfcfg_ident("1abc");
    CHECK_STR(s, "1abc");
    free(s);
    CHECK(sfcfg_ident("") == NULL && sfcfg_ident(NULL) == NULL);
}

static void test_env(void)
{
    clear_env();
    CHECK(!sfcfg_env_present());
    setenv("SNOWFLAKE_ACCOUNT", "myorg-myacct", 1);
    setenv("SNOWFLAKE_USER", "svc", 1);
    setenv("SNOWFLAKE_WAREHOUSE", "compute_wh", 1);
    setenv("SNOWFLAKE_ROLE", "\"Reader\"", 1);
    setenv("SNOWFLAKE_TOKEN", "tok", 1);
    setenv("SNOWFLAKE_AUTH_TYPE", "PAT", 1);
    CHECK(sfcfg_env_present());
    sf_settings s;
    err_t e;
    REQUIRE(sfcfg_from_env(&s, &e));
    CHECK(s.auth == SF_AUTH_PAT);
    CHECK_STR(s.warehouse, "COMPUTE_WH");
    CHECK_STR(s.role, "Reader");
    CHECK(s.database == NULL);
    CHECK(sfcfg_validate(&s, &e));
    sfcfg_free(&s);
    CHECK(s.token == NULL && s.account == NULL);

    setenv("SNOWFLAKE_AUTH_TYPE", "external_browser", 1);
    err_clear(&e);
    CHECK(!sfcfg_from_env(&s, &e));
    CHECK(e.kind == ERR_INVALID);
    CHECK_CONTAINS(e.msg, "external_browser is not supported");
    CHECK_CONTAINS(e.msg, "private_key");
    CHECK_CONTAINS(e.msg, "pat");
    CHECK_CONTAINS(e.msg, "oauth");
    sfcfg_free(&s);

    setenv("SNOWFLAKE_AUTH_TYPE", "snowflake", 1);
    err_clear(&e);
    CHECK(!sfcfg_from_env(&s, &e));
    CHECK_CONTAINS(e.msg, "SNOWFLAKE_AUTH_TYPE=snowflake is not supported");
    sfcfg_free(&s);
    clear_env();
}

static void test_validate_messages(void)
{
    sf_settings s = {0};
    err_t e;
    CHECK(!sfcfg_validate(&s, &e));
    CHECK_CONTAINS(e.msg, "SNOWFLAKE_ACCOUNT is not set");
    s.account = "a";
    CHECK(!sfcfg_validate(&s, &e));
    CHECK_CONTAINS(e.msg, "SNOWFLAKE_USER is not set");
    s.user = "u";
    CHECK(!sfcfg_validate(&s, &e));
    CHECK_CONTAINS(e.msg, "SNOWFLAKE_PRIVATE_KEY_PATH");
    s.key_path = "/x";
    CHECK(sfcfg_validate(&s, &e));
    s.auth = SF_AUTH_OAUTH;
    CHECK(!sfcfg_validate(&s, &e));
    CHECK_CONTAINS(e.msg, "SNOWFLAKE_TOKEN_FILE");
    s.token_file = "/t";
    CHECK(sfcfg_validate(&s, &e));
}

static void test_dsn(void)
{
    sf_settings s = {0};
    err_t e;
    REQUIRE(sfcfg_apply_dsn(&s,
                            "snowflake://svc%40corp@myorg-myacct/sales/\"Mixed\"?warehouse=wh&"
                            "role=analyst&host=127.0.0.1%3A8443",
                            &e));
    CHECK_STR(s.user, "svc@corp");
    CHECK_STR(s.account, "myorg-myacct");
    CHECK_STR(s.database, "SALES");
    CHECK_STR(s.schema, "Mixed");
    CHECK_STR(s.warehouse, "WH");
    CHECK_STR(s.role, "ANALYST");
    CHECK_STR(s.host, "127.0.0.1:8443");
    sfcfg_free(&s);

    memset(&s, 0, sizeof s);
    err_clear(&e);
    CHECK(!sfcfg_apply_dsn(&s, "snowflake://u:secretpw@acct/db", &e));
    CHECK_CONTAINS(e.msg, "password or token");
    CHECK(strstr(e.msg, "secretpw") == NULL);
    sfcfg_free(&s);

    memset(&s, 0, sizeof s);
    CHECK(!sfcfg_apply_dsn(&s, "snowflake://u@acct/db?colour=blue", &e));
    CHECK_CONTAINS(e.msg, "unknown snowflake:// DSN parameter 'colour'");
    sfcfg_free(&s);

    memset(&s, 0, sizeof s);
    CHECK(!sfcfg_apply_dsn(&s, "snowflake://u@acct/db/sch/extra", &e));
    CHECK_CONTAINS(e.msg, "too many parts");
    sfcfg_free(&s);

    memset(&s, 0, sizeof s);
    CHECK(!sfcfg_apply_dsn(&s, "snowflake://u@acct/db%zz", &e));
    sfcfg_free(&s);
}

static void test_backend_errors(void)
{
    clear_env();
    err_t e;
    err_clear(&e);
    CHECK(snowflake_backend_from_env(&e) == NULL);
    CHECK_CONTAINS(e.msg, "SNOWFLAKE_ACCOUNT is not set");

    setenv("SNOWFLAKE_ACCOUNT", "myorg-myacct", 1);
    err_clear(&e);
    CHECK(snowflake_backend_from_env(&e) == NULL);
    CHECK_CONTAINS(e.msg, "SNOWFLAKE_USER");

    setenv("SNOWFLAKE_USER", "svc", 1);
    setenv("SNOWFLAKE_PRIVATE_KEY_PATH", "/no/such/key.p8", 1);
    err_clear(&e);
    CHECK(snowflake_backend_from_env(&e) == NULL);
    CHECK_CONTAINS(e.msg, "cannot read the private key file /no/such/key.p8");

    setenv("SNOWFLAKE_PRIVATE_KEY_PATH", key, 1);
    setenv("SNOWFLAKE_ACCOUNT", "my org", 1);
    err_clear(&e);
    CHECK(snowflake_backend_from_env(&e) == NULL);
    CHECK_CONTAINS(e.msg, "myorg-myaccount");

    setenv("SNOWFLAKE_ACCOUNT", "myorg-myacct", 1);
    setenv("SNOWFLAKE_HOST", "https://127.0.0.1:1/", 1);
    err_clear(&e);
    CHECK(snowflake_backend_from_env(&e) == NULL);
    CHECK_CONTAINS(e.msg, "SNOWFLAKE_HOST");
    clear_env();
}

static void test_backend_and_qualify(void)
{
    clear_env();
    setenv("SNOWFLAKE_ACCOUNT", "myorg.myacct", 1);
    setenv("SNOWFLAKE_USER", "svc", 1);
    setenv("SNOWFLAKE_PRIVATE_KEY_PATH", key, 1);
    setenv("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "unused-for-a-plain-key", 1);
    setenv("SNOWFLAKE_DATABASE", "sales", 1);
    err_t e;
    db_backend *be = snowflake_backend_from_env(&e);
    REQUIRE(be != NULL);
    CHECK_STR(be->driver->name, "snowflake");
    CHECK_CONTAINS(be->description, "myorg-myacct.snowflakecomputing.com");
    CHECK(strstr(be->description, "unused-for-a-plain-key") == NULL);

    strbuf q;
    sb_init(&q);
    CHECK(snowflake_qualify(be, NULL, "public", "orders", &q, &e));
    CHECK_STR(q.data, "\"SALES\".\"PUBLIC\".\"ORDERS\"");
    sb_reset(&q);
    CHECK(snowflake_qualify(be, "\"odd\"\"db\"", "\"s\"", "\"v 1\"", &q, &e));
    CHECK_STR(q.data, "\"odd\"\"db\".\"s\".\"v 1\"");
    sb_reset(&q);
    err_clear(&e);
    CHECK(!snowflake_qualify(be, NULL, NULL, "orders", &q, &e)); /* no schema configured */
    CHECK(e.kind == ERR_INVALID);
    CHECK_CONTAINS(e.msg, "SNOWFLAKE_SCHEMA");
    CHECK(q.len == 0);
    sb_free(&q);

    /* check() reports the fingerprint, then fails cleanly: nothing listens */
    db_backend_free(be);
    setenv("SNOWFLAKE_HOST", "127.0.0.1:9", 1);
    be = snowflake_backend_from_env(&e);
    REQUIRE(be != NULL);
    strbuf rep;
    sb_init(&rep);
    err_clear(&e);
    CHECK(!snowflake_check(be, &rep, &e));
    CHECK_CONTAINS(rep.data, "SHA256:");
    CHECK_CONTAINS(rep.data, "DESC USER svc");
    CHECK_CONTAINS(rep.data, "SELECT 1:      FAILED");
    CHECK(e.kind == ERR_CONN_LOST);
    CHECK_CONTAINS(e.msg, "cannot reach Snowflake at https://127.0.0.1:9");
    CHECK(e.never_ran);
    sb_free(&rep);
    db_backend_free(be);
    clear_env();
}

static void test_dsn_backend(void)
{
    clear_env();
    setenv("SNOWFLAKE_PRIVATE_KEY_PATH", key, 1);
    err_t e;
    db_backend *be =
        snowflake_backend_open("snowflake://svc@xy12345.us-east-2.aws/db1/sch1?warehouse=wh", &e);
    REQUIRE(be != NULL);
    CHECK_CONTAINS(be->description, "xy12345.us-east-2.aws.snowflakecomputing.com");
    CHECK_CONTAINS(be->description, "warehouse WH");
    strbuf q;
    sb_init(&q);
    CHECK(snowflake_qualify(be, NULL, NULL, "t", &q, &e));
    CHECK_STR(q.data, "\"DB1\".\"SCH1\".\"T\"");
    sb_free(&q);
    db_backend_free(be);
    clear_env();
}

static void test_request_body(void)
{
    sfapi_stmt st = {.sql = "select ?", .database = "DB", .warehouse = "WH"};
    char *body = sfapi_request_body(&st);
    json_t *j = json_loads(body, 0, NULL);
    REQUIRE(j != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "statement")), "select ?");
    CHECK(json_integer_value(json_object_get(j, "timeout")) == SFAPI_DEFAULT_TIMEOUT_S);
    CHECK_STR(json_string_value(json_object_get(j, "database")), "DB");
    CHECK_STR(json_string_value(json_object_get(j, "warehouse")), "WH");
    CHECK(json_object_get(j, "schema") == NULL && json_object_get(j, "role") == NULL);
    json_t *p = json_object_get(j, "parameters");
    CHECK_STR(json_string_value(json_object_get(p, "MULTI_STATEMENT_COUNT")), "1");
    CHECK_STR(json_string_value(json_object_get(p, "QUERY_TAG")), "snowflake-mcp");
    json_decref(j);
    free(body);

    char a[37], b[37];
    sfapi_uuid(a);
    sfapi_uuid(b);
    CHECK(strlen(a) == 36 && a[8] == '-' && a[13] == '-' && a[14] == '4' && a[18] == '-');
    CHECK(strchr("89ab", a[19]) != NULL);
    CHECK(strcmp(a, b) != 0);
}

int main(void)
{
    setup();
    TEST_RUN(test_ident);
    TEST_RUN(test_env);
    TEST_RUN(test_validate_messages);
    TEST_RUN(test_dsn);
    TEST_RUN(test_backend_errors);
    TEST_RUN(test_backend_and_qualify);
    TEST_RUN(test_dsn_backend);
    TEST_RUN(test_request_body);
    teardown();
    return test_summary();
}
