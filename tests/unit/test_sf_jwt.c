/* Tests of Snowflake key loading, fingerprints, JWTs and the token cache,
 * checked against the openssl command line on keys made at test time. */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/strbuf.h"
#include "core/xalloc.h"
#include "db/snowflake/sfauth.h"
#include "db/snowflake/sfconfig.h"
#include "db/snowflake/sfjwt.h"
#include "testlib.h"

static char dir[] = "/tmp/smcp-test-sfjwt-XXXXXX";
static char key_plain[600], key_enc[600], key_small[600], key_ec[600], key_pkcs1[600];

static void sh(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "command failed: %s\n", cmd);
        exit(2);
    }
}

static void setup(void)
{
    if (!mkdtemp(dir))
        exit(2);
    snprintf(key_plain, sizeof key_plain, "%s/plain.p8", dir);
    snprintf(key_enc, sizeof key_enc, "%s/enc.p8", dir);
    snprintf(key_small, sizeof key_small, "%s/small.p8", dir);
    snprintf(key_ec, sizeof key_ec, "%s/ec.p8", dir);
    snprintf(key_pkcs1, sizeof key_pkcs1, "%s/pkcs1.pem", dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s 2>/dev/null",
             key_plain);
    sh(cmd);
    /* encrypted PKCS#8 from the plain key, as Snowflake's docs make it */
    snprintf(cmd, sizeof cmd,
             "openssl pkcs8 -topk8 -v2 aes-256-cbc -in %s -out %s -passout pass:s3cr3t "
             "2>/dev/null",
             key_plain, key_enc);
    sh(cmd);
    snprintf(cmd, sizeof cmd, "openssl pkey -in %s -traditional -out %s 2>/dev/null", key_plain,
             key_pkcs1);
    sh(cmd);
    snprintf(cmd, sizeof cmd,
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out %s 2>/dev/null",
             key_small);
    sh(cmd);
    snprintf(cmd, sizeof cmd,
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s 2>/dev/null",
             key_ec);
    sh(cmd);
}

static void teardown(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* The fingerprint the openssl command line computes for a private key. */
static void openssl_fingerprint(const char *key, const char *pass, char *out, size_t n)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "openssl pkey -in %s %s%s -pubout -outform DER | openssl dgst -sha256 -binary | "
             "openssl enc -base64",
             key, pass ? "-passin pass:" : "", pass ? pass : "");
    FILE *p = popen(cmd, "r");
    out[0] = '\0';
    if (!p)
        return;
    char line[256] = "";
    if (fgets(line, sizeof line, p))
        line[strcspn(line, "\r\n")] = '\0';
    pclose(p);
    snprintf(out, n, "SHA256:%s", line);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = xcalloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* base64url (no padding) to bytes; returns the length or -1. */
static int b64url_decode(const char *in, size_t n, unsigned char *out)
{
    char *std = xcalloc(1, n + 4);
    for (size_t i = 0; i < n; i++)
        std[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    size_t pad = (4 - n % 4) % 4;
    for (size_t i = 0; i < pad; i++)
        std[n + i] = '=';
    int len = EVP_DecodeBlock(out, (unsigned char *)std, (int)(n + pad));
    free(std);
    return len < 0 ? -1 : len - (int)pad;
}

static json_t *segment_json(const char *seg, size_t n)
{
    unsigned char buf[4096];
    int len = b64url_decode(seg, n, buf);
    if (len < 0)
        return NULL;
    return json_loadb((const char *)buf, (size_t)len, 0, NULL);
}

static void test_fingerprint_matches_openssl(void)
{
    err_t e;
    sfjwt_key *k = sfjwt_key_load(key_plain, NULL, NULL, &e);
    REQUIRE(k != NULL);
    char want[128];
    openssl_fingerprint(key_plain, NULL, want, sizeof want);
    CHECK(strlen(want) > 20);
    CHECK_STR(sfjwt_key_fingerprint(k), want);
    CHECK(sfjwt_key_bits(k) == 2048);
    sfjwt_key_free(k);
}

static void test_jwt_claims_and_signature(void)
{
    err_t e;
    sfjwt_key *k = sfjwt_key_load(key_plain, NULL, NULL, &e);
    REQUIRE(k != NULL);
    char *jwt = sfjwt_sign(k, "myorg-myacct", "jsmith", 1700000000, 3540, &e);
    REQUIRE(jwt != NULL);
    char *dot1 = strchr(jwt, '.');
    REQUIRE(dot1 != NULL);
    char *dot2 = strchr(dot1 + 1, '.');
    REQUIRE(dot2 != NULL);
    CHECK(strchr(dot2 + 1, '.') == NULL);
    CHECK(strchr(jwt, '=') == NULL && strchr(jwt, '+') == NULL && strchr(jwt, '/') == NULL);

    json_t *head = segment_json(jwt, (size_t)(dot1 - jwt));
    REQUIRE(head != NULL);
    CHECK_STR(json_string_value(json_object_get(head, "alg")), "RS256");
    CHECK_STR(json_string_value(json_object_get(head, "typ")), "JWT");
    json_decref(head);

    json_t *claims = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    REQUIRE(claims != NULL);
    char iss[200];
    snprintf(iss, sizeof iss, "MYORG-MYACCT.JSMITH.%s", sfjwt_key_fingerprint(k));
    CHECK_STR(json_string_value(json_object_get(claims, "iss")), iss);
    CHECK_STR(json_string_value(json_object_get(claims, "sub")), "MYORG-MYACCT.JSMITH");
    CHECK(json_integer_value(json_object_get(claims, "iat")) == 1700000000);
    CHECK(json_integer_value(json_object_get(claims, "exp")) == 1700000000 + 3540);
    json_decref(claims);

    /* openssl verifies the RS256 signature over "header.claims" */
    char data[700], sig[700], pub[700];
    snprintf(data, sizeof data, "%s/signed.txt", dir);
    snprintf(sig, sizeof sig, "%s/sig.bin", dir);
    snprintf(pub, sizeof pub, "%s/pub.pem", dir);
    FILE *f = fopen(data, "wb");
    REQUIRE(f != NULL);
    fwrite(jwt, 1, (size_t)(dot2 - jwt), f);
    fclose(f);
    unsigned char raw[1024];
    int n = b64url_decode(dot2 + 1, strlen(dot2 + 1), raw);
    CHECK(n == 256);
    f = fopen(sig, "wb");
    REQUIRE(f != NULL);
    fwrite(raw, 1, (size_t)(n > 0 ? n : 0), f);
    fclose(f);
    char cmd[3000];
    snprintf(cmd, sizeof cmd,
             "openssl pkey -in %s -pubout -out %s && openssl dgst -sha256 -verify %s "
             "-signature %s %s",
             key_plain, pub, pub, sig, data);
    FILE *p = popen(cmd, "r");
    REQUIRE(p != NULL);
    char line[128] = "";
    if (!fgets(line, sizeof line, p))
        line[0] = '\0';
    CHECK(pclose(p) == 0);
    CHECK_CONTAINS(line, "Verified OK");
    /* a tampered signature must not verify */
    raw[10] ^= 1;
    f = fopen(sig, "wb");
    REQUIRE(f != NULL);
    fwrite(raw, 1, 256, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "openssl dgst -sha256 -verify %s -signature %s %s >/dev/null 2>&1",
             pub, sig, data);
    CHECK(system(cmd) != 0);
    free(jwt);
    sfjwt_key_free(k);
}

static void test_encrypted_pkcs8(void)
{
    err_t e;
    sfjwt_key *k = sfjwt_key_load(key_enc, NULL, "s3cr3t", &e);
    REQUIRE(k != NULL);
    char want[128];
    openssl_fingerprint(key_enc, "s3cr3t", want, sizeof want);
    CHECK_STR(sfjwt_key_fingerprint(k), want);
    sfjwt_key *plain = sfjwt_key_load(key_plain, NULL, NULL, &e);
    REQUIRE(plain != NULL);
    CHECK_STR(sfjwt_key_fingerprint(k), sfjwt_key_fingerprint(plain));
    sfjwt_key_free(plain);
    sfjwt_key_free(k);

    err_clear(&e);
    CHECK(sfjwt_key_load(key_enc, NULL, NULL, &e) == NULL);
    CHECK(e.kind == ERR_INVALID);
    CHECK_CONTAINS(e.msg, "encrypted");
    CHECK_CONTAINS(e.msg, "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE");

    err_clear(&e);
    CHECK(sfjwt_key_load(key_enc, NULL, "wrong", &e) == NULL);
    CHECK_CONTAINS(e.msg, "wrong SNOWFLAKE_PRIVATE_KEY_PASSPHRASE");
    CHECK(strstr(e.msg, "s3cr3t") == NULL);
}

static void test_bad_keys(void)
{
    err_t e;
    err_clear(&e);
    CHECK(sfjwt_key_load(key_small, NULL, NULL, &e) == NULL);
    CHECK_CONTAINS(e.msg, "1024 bits");
    CHECK_CONTAINS(e.msg, "at least 2048");

    err_clear(&e);
    CHECK(sfjwt_key_load(key_ec, NULL, NULL, &e) == NULL);
    CHECK_CONTAINS(e.msg, "not an RSA key");

    err_clear(&e);
    CHECK(sfjwt_key_load("/nonexistent/key.p8", NULL, NULL, &e) == NULL);
    CHECK_CONTAINS(e.msg, "cannot read the private key file /nonexistent/key.p8");

    err_clear(&e);
    CHECK(sfjwt_key_load(NULL, "not a key at all", NULL, &e) == NULL);
    CHECK_CONTAINS(e.msg, "not a PEM private key");

    sfjwt_key *k = sfjwt_key_load(key_pkcs1, NULL, NULL, &e);
    CHECK(k != NULL); /* -----BEGIN RSA PRIVATE KEY----- is read too */
    sfjwt_key_free(k);
}

/* A key pasted into one line of a .env file, with literal \n. */
static void test_inline_pem(void)
{
    char *pem = read_text(key_plain);
    REQUIRE(pem != NULL);
    strbuf one;
    sb_init(&one);
    for (const char *p = pem; *p; p++) {
        if (*p == '\n')
            sb_puts(&one, "\\n");
        else
            sb_putc(&one, *p);
    }
    err_t e;
    sfjwt_key *a = sfjwt_key_load(NULL, pem, NULL, &e);
    sfjwt_key *b = sfjwt_key_load(NULL, one.data, NULL, &e);
    sfjwt_key *c = sfjwt_key_load(key_plain, NULL, NULL, &e);
    CHECK(a && b && c);
    if (a && b && c) {
        CHECK_STR(sfjwt_key_fingerprint(a), sfjwt_key_fingerprint(c));
        CHECK_STR(sfjwt_key_fingerprint(b), sfjwt_key_fingerprint(c));
    }
    sfjwt_key_free(a);
    sfjwt_key_free(b);
    sfjwt_key_free(c);
    sb_free(&one);
    free(pem);
}

static int64_t fake_now;
static int64_t fake_clock(void)
{
    return fake_now;
}

static json_t *claims_of(const char *jwt)
{
    const char *d1 = strchr(jwt, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    return d2 ? segment_json(d1 + 1, (size_t)(d2 - d1 - 1)) : NULL;
}

static void test_jwt_cache_and_renewal(void)
{
    sf_settings s = {0};
    s.account = xstrdup("xy12345.us-east-2.aws");
    s.user = xstrdup("svc_mcp");
    s.key_path = xstrdup(key_enc);
    s.passphrase = xstrdup("s3cr3t");
    err_t e;
    sfauth *a = sfauth_new(&s, &e);
    sfcfg_free(&s);
    REQUIRE(a != NULL);
    CHECK_STR(sfauth_token_type(a), "KEYPAIR_JWT");
    CHECK_STR(sfauth_jwt_account(a), "XY12345");
    fake_now = 1800000000;
    sfauth_set_clock(a, fake_clock);
    char *t1 = NULL, *t2 = NULL, *t3 = NULL, *t4 = NULL;
    uint64_t g1, g2, g3, g4;
    REQUIRE(sfauth_token(a, &t1, &g1, &e));
    json_t *c1 = claims_of(t1);
    REQUIRE(c1 != NULL);
    CHECK_STR(json_string_value(json_object_get(c1, "sub")), "XY12345.SVC_MCP");
    CHECK(json_integer_value(json_object_get(c1, "exp")) ==
          json_integer_value(json_object_get(c1, "iat")) + 59 * 60);
    json_decref(c1);

    fake_now += 49 * 60; /* cached below 50 minutes */
    REQUIRE(sfauth_token(a, &t2, &g2, &e));
    CHECK(g2 == g1);
    CHECK_STR(t1, t2);

    fake_now += 60; /* 50 minutes: renewed */
    REQUIRE(sfauth_token(a, &t3, &g3, &e));
    CHECK(g3 != g2);
    CHECK(strcmp(t3, t2) != 0);
    json_t *c3 = claims_of(t3);
    CHECK(c3 && json_integer_value(json_object_get(c3, "iat")) == fake_now);
    json_decref(c3);

    /* a 401 on the current token forces a new one; a stale report does not */
    fake_now += 1;
    CHECK(sfauth_renew(a, g3, &e));
    REQUIRE(sfauth_token(a, &t4, &g4, &e));
    CHECK(g4 != g3);
    CHECK(sfauth_renew(a, g3, &e)); /* someone already renewed: nothing to do */
    char *t5 = NULL;
    uint64_t g5;
    REQUIRE(sfauth_token(a, &t5, &g5, &e));
    CHECK(g5 == g4);
    sfauth_token_wipe(t1);
    sfauth_token_wipe(t2);
    sfauth_token_wipe(t3);
    sfauth_token_wipe(t4);
    sfauth_token_wipe(t5);
    sfauth_free(a);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_token_file_reread(void)
{
    char path[700];
    snprintf(path, sizeof path, "%s/token", dir);
    write_file(path, "tok-one\n");
    sf_settings s = {0};
    s.account = xstrdup("myorg-myacct");
    s.user = xstrdup("u");
    s.auth = SF_AUTH_PAT;
    s.token_file = xstrdup(path);
    err_t e;
    sfauth *a = sfauth_new(&s, &e);
    sfcfg_free(&s);
    REQUIRE(a != NULL);
    CHECK_STR(sfauth_token_type(a), "PROGRAMMATIC_ACCESS_TOKEN");
    CHECK(sfauth_fingerprint(a) == NULL);
    char *t = NULL;
    uint64_t g;
    REQUIRE(sfauth_token(a, &t, &g, &e));
    CHECK_STR(t, "tok-one");
    sfauth_token_wipe(t);

    write_file(path, "  tok-two  \n");
    CHECK(sfauth_renew(a, g, &e));
    uint64_t g2;
    REQUIRE(sfauth_token(a, &t, &g2, &e));
    CHECK_STR(t, "tok-two");
    CHECK(g2 != g);
    sfauth_token_wipe(t);

    /* rejected again, file unchanged: a clear ERR_AUTH naming the file */
    err_clear(&e);
    CHECK(!sfauth_renew(a, g2, &e));
    CHECK(e.kind == ERR_AUTH);
    CHECK_CONTAINS(e.msg, path);
    CHECK(strstr(e.msg, "tok-two") == NULL);
    sfauth_free(a);

    /* a fixed SNOWFLAKE_TOKEN cannot be renewed */
    sf_settings f = {0};
    f.account = xstrdup("a");
    f.user = xstrdup("u");
    f.auth = SF_AUTH_OAUTH;
    f.token = xstrdup("fixed-oauth");
    a = sfauth_new(&f, &e);
    sfcfg_free(&f);
    REQUIRE(a != NULL);
    CHECK_STR(sfauth_token_type(a), "OAUTH");
    REQUIRE(sfauth_token(a, &t, &g, &e));
    CHECK_STR(t, "fixed-oauth");
    sfauth_token_wipe(t);
    err_clear(&e);
    CHECK(!sfauth_renew(a, g, &e));
    CHECK_CONTAINS(e.msg, "SNOWFLAKE_TOKEN_FILE");
    sfauth_free(a);
}

static void test_b64url(void)
{
    const unsigned char d[] = {0xfb, 0xff, 0xfe};
    char *s = sfjwt_b64url(d, 3);
    CHECK_STR(s, "-__-");
    free(s);
    s = sfjwt_b64url((const unsigned char *)"a", 1);
    CHECK_STR(s, "YQ");
    free(s);
}

int main(void)
{
    setup();
    TEST_RUN(test_fingerprint_matches_openssl);
    TEST_RUN(test_jwt_claims_and_signature);
    TEST_RUN(test_encrypted_pkcs8);
    TEST_RUN(test_bad_keys);
    TEST_RUN(test_inline_pem);
    TEST_RUN(test_jwt_cache_and_renewal);
    TEST_RUN(test_token_file_reread);
    TEST_RUN(test_b64url);
    teardown();
    return test_summary();
}
