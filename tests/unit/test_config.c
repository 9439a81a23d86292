/* Settings: durations and sizes with units, .env parsing, precedence and
 * the errors a user sees for nonsense values. */
#include <stdlib.h>

#include "core/config.h"
#include "testlib.h"

static void test_durations(void)
{
    int64_t ms = -1;
    CHECK(config_parse_duration("30", 1000, &ms) && ms == 30000);
    CHECK(config_parse_duration("500ms", 1000, &ms) && ms == 500);
    CHECK(config_parse_duration("2m", 1000, &ms) && ms == 120000);
    CHECK(config_parse_duration("1.5h", 1000, &ms) && ms == 5400000);
    CHECK(config_parse_duration(" 8 ", 3600000, &ms) && ms == 8 * 3600000);
    CHECK(config_parse_duration("0.5", 60000, &ms) && ms == 30000);
    CHECK(!config_parse_duration("30x", 1000, &ms));
    CHECK(!config_parse_duration("-5", 1000, &ms));
    CHECK(!config_parse_duration("", 1000, &ms));
    CHECK(!config_parse_duration("s", 1000, &ms));
    CHECK(!config_parse_duration("1e30", 1000, &ms));
}

static void test_sizes(void)
{
    int64_t n = -1;
    CHECK(config_parse_size("4M", &n) && n == 4 << 20);
    CHECK(config_parse_size("512k", &n) && n == 512 << 10);
    CHECK(config_parse_size("100", &n) && n == 100);
    CHECK(!config_parse_size("1.5", &n));
    CHECK(!config_parse_size("12 apples", &n));
}

static void test_dotenv(void)
{
    unsetenv("SMCP_T_A");
    unsetenv("SMCP_T_B");
    unsetenv("SMCP_T_C");
    setenv("SMCP_T_KEEP", "from-env", 1);
    err_t e;
    CHECK(config_apply_dotenv("# comment\n\nSMCP_T_A=1\nexport SMCP_T_B = \"two words\"\n"
                              "SMCP_T_C=x # trailing\nSMCP_T_KEEP=from-file\n",
                              "test.env", &e));
    CHECK_STR(getenv("SMCP_T_A"), "1");
    CHECK_STR(getenv("SMCP_T_B"), "two words");
    CHECK_STR(getenv("SMCP_T_C"), "x");
    /* The environment wins over the file. */
    CHECK_STR(getenv("SMCP_T_KEEP"), "from-env");
    CHECK(!config_apply_dotenv("SMCP_T_A=1\nthis line is wrong\n", "bad.env", &e));
    CHECK_CONTAINS(e.msg, "bad.env line 2");
    /* blank lines count */
    CHECK(!config_apply_dotenv("SMCP_T_A=1\n\n\nwrong\n", "bad.env", &e));
    CHECK_CONTAINS(e.msg, "bad.env line 4");
}

static void test_load_errors(void)
{
    app_config cfg;
    err_t e;
    int argi = 1;
    char *argv_ok[] = {"x", "--no-env-file", "--max-rows", "50", "--log-level=debug", "call", NULL};
    config_defaults(&cfg);
    CHECK(config_load(&cfg, 6, argv_ok, &argi, &e));
    CHECK(cfg.max_rows == 50);
    CHECK(cfg.log_level == LOG_DEBUG);
    CHECK(argi == 5);
    config_free(&cfg);

    setenv("SNOWFLAKE_POOL_CONNECTION_TIMEOUT", "30 parsecs", 1);
    config_defaults(&cfg);
    argi = 1;
    char *argv_none[] = {"x", "--no-env-file", NULL};
    CHECK(!config_load(&cfg, 2, argv_none, &argi, &e));
    CHECK_CONTAINS(e.msg, "SNOWFLAKE_POOL_CONNECTION_TIMEOUT");
    CHECK_CONTAINS(e.msg, "30 parsecs");
    config_free(&cfg);
    unsetenv("SNOWFLAKE_POOL_CONNECTION_TIMEOUT");

    setenv("SNOWFLAKE_POOL_MIN_SIZE", "8", 1);
    setenv("SNOWFLAKE_POOL_MAX_SIZE", "4", 1);
    config_defaults(&cfg);
    argi = 1;
    CHECK(!config_load(&cfg, 2, argv_none, &argi, &e));
    CHECK_CONTAINS(e.msg, "SNOWFLAKE_POOL_MIN_SIZE (8) is larger than SNOWFLAKE_POOL_MAX_SIZE (4)");
    config_free(&cfg);
    unsetenv("SNOWFLAKE_POOL_MIN_SIZE");
    unsetenv("SNOWFLAKE_POOL_MAX_SIZE");

    setenv("SNOWFLAKE_POOL_MAX_SIZE", "-3", 1);
    config_defaults(&cfg);
    argi = 1;
    CHECK(!config_load(&cfg, 2, argv_none, &argi, &e));
    CHECK_CONTAINS(e.msg, "SNOWFLAKE_POOL_MAX_SIZE");
    config_free(&cfg);
    unsetenv("SNOWFLAKE_POOL_MAX_SIZE");

    config_defaults(&cfg);
    argi = 1;
    char *argv_bad_flag[] = {"x", "--no-env-file", "--query-timeout", "soon", NULL};
    CHECK(!config_load(&cfg, 4, argv_bad_flag, &argi, &e));
    CHECK_CONTAINS(e.msg, "flag --query-timeout");
    config_free(&cfg);
}

static void test_flags_override_env(void)
{
    setenv("SNOWFLAKE_MCP_MAX_ROWS", "70", 1);
    app_config cfg;
    config_defaults(&cfg);
    err_t e;
    int argi = 1;
    char *argv[] = {"x", "--no-env-file", NULL};
    CHECK(config_load(&cfg, 2, argv, &argi, &e));
    CHECK(cfg.max_rows == 70);
    config_free(&cfg);
    config_defaults(&cfg);
    argi = 1;
    char *argv2[] = {"x", "--no-env-file", "--max-rows=90", NULL};
    CHECK(config_load(&cfg, 3, argv2, &argi, &e));
    CHECK(cfg.max_rows == 90);
    config_free(&cfg);
    unsetenv("SNOWFLAKE_MCP_MAX_ROWS");
}

int main(void)
{
    TEST_RUN(test_durations);
    TEST_RUN(test_sizes);
    TEST_RUN(test_dotenv);
    TEST_RUN(test_load_errors);
    TEST_RUN(test_flags_override_env);
    return test_summary();
}
