#include "db/snowflake/sfauth.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "core/xalloc.h"
#include "db/snowflake/sfaccount.h"
#include "db/snowflake/sfjwt.h"

#define MAX_TOKEN_FILE (64 * 1024)

struct sfauth {
    sf_auth_type kind;
    sfjwt_key *key;    /* key-pair only */
    char *jwt_account; /* key-pair only */
    char *user;
    char *fixed_token; /* SNOWFLAKE_TOKEN without a token file */
    char *token_file;
    int64_t (*now_s)(void);
    pthread_mutex_t mu; /* guards the fields below */
    char *token;
    uint64_t gen;
    int64_t issued_s; /* JWT iat */
};

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void sfauth_token_wipe(char *token)
{
    wipe_free(token);
}

/* Reads the token file, trimmed; NULL with err when unreadable or empty. */
static char *read_token_file(const char *path, err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(err, ERR_AUTH, "cannot read SNOWFLAKE_TOKEN_FILE %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = xmalloc(MAX_TOKEN_FILE + 1);
    size_t n = fread(buf, 1, MAX_TOKEN_FILE, f);
    fclose(f);
    buf[n] = '\0';
    size_t start = 0;
    while (start < n && isspace((unsigned char)buf[start]))
        start++;
    while (n > start && isspace((unsigned char)buf[n - 1]))
        n--;
    char *tok = n > start ? xstrndup(buf + start, n - start) : NULL;
    OPENSSL_cleanse(buf, MAX_TOKEN_FILE + 1);
    free(buf);
    if (!tok)
        err_set(err, ERR_AUTH, "SNOWFLAKE_TOKEN_FILE %s is empty", path);
    return tok;
}

sfauth *sfauth_new(const sf_settings *s, err_t *err)
{
    sfauth *a = xcalloc(1, sizeof *a);
    pthread_mutex_init(&a->mu, NULL);
    a->kind = s->auth;
    a->now_s = clock_wall_s;
    a->user = s->user ? xstrdup(s->user) : NULL;
    if (s->auth == SF_AUTH_KEYPAIR) {
        strbuf acct;
        sb_init(&acct);
        bool ok = s->jwt_account ? (sb_puts(&acct, s->jwt_account), true)
                                 : sfacct_jwt_account(s->account, &acct, err);
        a->jwt_account = sb_detach(&acct);
        if (!ok)
            goto fail;
        for (char *p = a->jwt_account; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        a->key = sfjwt_key_load(s->key_pem ? NULL : s->key_path, s->key_pem, s->passphrase, err);
        if (!a->key)
            goto fail;
        return a;
    }
    if (s->token_file) {
        a->token_file = xstrdup(s->token_file);
        a->token = read_token_file(s->token_file, err);
        if (!a->token) {
            err->kind = ERR_INVALID;
            goto fail;
        }
    } else {
        a->fixed_token = xstrdup(s->token);
        a->token = xstrdup(s->token);
    }
    a->gen = 1;
    return a;
fail:
    sfauth_free(a);
    return NULL;
}

void sfauth_free(sfauth *a)
{
    if (!a)
        return;
    sfjwt_key_free(a->key);
    free(a->jwt_account);
    free(a->user);
    wipe_free(a->fixed_token);
    free(a->token_file);
    wipe_free(a->token);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* Signs a new JWT; called with mu held. */
static bool sign_locked(sfauth *a, int64_t now, err_t *err)
{
    char *jwt = sfjwt_sign(a->key, a->jwt_account, a->user, now, SFAUTH_JWT_LIFETIME_S, err);
    if (!jwt)
        return false;
    wipe_free(a->token);
    a->token = jwt;
    a->issued_s = now;
    a->gen++;
    return true;
}

bool sfauth_token(sfauth *a, char **token, uint64_t *gen, err_t *err)
{
    pthread_mutex_lock(&a->mu);
    bool ok = true;
    if (a->kind == SF_AUTH_KEYPAIR) {
        int64_t now = a->now_s();
        /* A clock that went backwards makes the cached iat suspect too. */
        if (!a->token || now - a->issued_s >= SFAUTH_JWT_RENEW_S || now < a->issued_s)
            ok = sign_locked(a, now, err);
    }
    if (ok) {
        *token = xstrdup(a->token);
        *gen = a->gen;
    }
    pthread_mutex_unlock(&a->mu);
    return ok;
}

bool sfauth_renew(sfauth *a, uint64_t gen, err_t *err)
{
    if (a->kind == SF_AUTH_KEYPAIR) {
        pthread_mutex_lock(&a->mu);
        /* A token re-signed within the same second would be byte-identical
         * to the rejected one: back-date it by a second instead. */
        int64_t now = a->now_s();
        bool ok = a->gen != gen || sign_locked(a, now == a->issued_s ? now - 1 : now, err);
        pthread_mutex_unlock(&a->mu);
        return ok;
    }
    if (!a->token_file) {
        err_set(err, ERR_AUTH,
                "Snowflake rejected SNOWFLAKE_TOKEN (expired or revoked?); put the token in "
                "SNOWFLAKE_TOKEN_FILE instead so a refreshed token is read without a restart");
        return false;
    }
    char *fresh = read_token_file(a->token_file, err); /* outside the lock: file I/O */
    if (!fresh)
        return false;
    pthread_mutex_lock(&a->mu);
    bool changed = strcmp(fresh, a->token) != 0;
    if (changed) {
        wipe_free(a->token);
        a->token = fresh;
        fresh = NULL;
        a->gen++;
    }
    bool ok = changed || a->gen != gen;
    pthread_mutex_unlock(&a->mu);
    wipe_free(fresh);
    if (!ok) {
        err_set(err, ERR_AUTH,
                "Snowflake rejected the token in SNOWFLAKE_TOKEN_FILE %s (expired or revoked?) "
                "and the file still holds the same token; write a fresh one to the file",
                a->token_file);
        log_warn("snowflake", "the token in %s was rejected and has not changed", a->token_file);
    }
    return ok;
}

const char *sfauth_token_type(const sfauth *a)
{
    switch (a->kind) {
    case SF_AUTH_PAT:
        return "PROGRAMMATIC_ACCESS_TOKEN";
    case SF_AUTH_OAUTH:
        return "OAUTH";
    default:
        return "KEYPAIR_JWT";
    }
}

sf_auth_type sfauth_kind(const sfauth *a)
{
    return a->kind;
}

const char *sfauth_fingerprint(const sfauth *a)
{
    return a->key ? sfjwt_key_fingerprint(a->key) : NULL;
}

const char *sfauth_jwt_account(const sfauth *a)
{
    return a->jwt_account;
}

void sfauth_set_clock(sfauth *a, int64_t (*now_s)(void))
{
    pthread_mutex_lock(&a->mu);
    a->now_s = now_s;
    pthread_mutex_unlock(&a->mu);
}
