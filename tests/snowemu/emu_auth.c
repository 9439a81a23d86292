#include "emu_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/strbuf.h"
#include "core/xalloc.h"

struct emu_auth {
    char *account;
    char *user;
    EVP_PKEY *key[2];
    char *fp[2];
    char *token;
    char *token_file;
    int slack_s;
};

static char *fingerprint(EVP_PKEY *key)
{
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(key, &der);
    if (len <= 0)
        return NULL;
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
    OPENSSL_free(der);
    char b64[64];
    EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
    strbuf sb;
    sb_init(&sb);
    sb_printf(&sb, "SHA256:%s", b64);
    return sb_detach(&sb);
}

emu_auth *emu_auth_new(const emu_auth_cfg *cfg, err_t *err)
{
    emu_auth *a = xcalloc(1, sizeof *a);
    a->account = xstrdup(cfg->account ? cfg->account : "");
    a->user = xstrdup(cfg->user ? cfg->user : "");
    a->token = cfg->token ? xstrdup(cfg->token) : NULL;
    a->token_file = cfg->token_file ? xstrdup(cfg->token_file) : NULL;
    a->slack_s = cfg->slack_s;
    for (size_t i = 0; i < 2; i++) {
        if (!cfg->pubkey_path[i])
            continue;
        FILE *f = fopen(cfg->pubkey_path[i], "r");
        if (!f) {
            err_set(err, ERR_INVALID, "cannot open public key %s", cfg->pubkey_path[i]);
            emu_auth_free(a);
            return NULL;
        }
        a->key[i] = PEM_read_PUBKEY(f, NULL, NULL, NULL);
        fclose(f);
        if (!a->key[i] || !(a->fp[i] = fingerprint(a->key[i]))) {
            err_set(err, ERR_INVALID, "%s is not a PEM public key", cfg->pubkey_path[i]);
            emu_auth_free(a);
            return NULL;
        }
    }
    return a;
}

void emu_auth_free(emu_auth *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < 2; i++) {
        EVP_PKEY_free(a->key[i]);
        free(a->fp[i]);
    }
    free(a->account);
    free(a->user);
    free(a->token);
    free(a->token_file);
    free(a);
}

const char *emu_auth_fingerprint(const emu_auth *a, size_t i)
{
    return i < 2 ? a->fp[i] : NULL;
}

/* base64url without padding; false on any other byte. */
static bool b64url_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
    unsigned char *buf = xmalloc(len * 3 / 4 + 3);
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        else {
            free(buf);
            return false;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *out = buf;
    *outlen = n;
    return true;
}

static json_t *decode_json_segment(const char *s, size_t len)
{
    unsigned char *raw;
    size_t n;
    if (!b64url_decode(s, len, &raw, &n))
        return NULL;
    json_t *j = json_loadb((const char *)raw, n, 0, NULL);
    free(raw);
    return json_is_object(j) ? j : (json_decref(j), NULL);
}

static bool fail(emu_error *e, const char *code, const char *why)
{
    const char *base =
        strcmp(code, "390144") == 0 ? "JWT token is invalid." : "Invalid OAuth access token.";
    emu_error_set(e, 401, code, "", "%s [%s]", base, why);
    return false;
}

static bool check_jwt(const emu_auth *a, const char *tok, emu_error *e)
{
    const char *d1 = strchr(tok, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.'))
        return fail(e, "390144", "not three dot-separated segments");
    json_t *hdr = decode_json_segment(tok, (size_t)(d1 - tok));
    json_t *claims = decode_json_segment(d1 + 1, (size_t)(d2 - d1 - 1));
    bool ok = false;
    const char *why = NULL;
    if (!hdr || !claims) {
        why = "header or payload is not base64url JSON";
    } else if (!json_string_value(json_object_get(hdr, "alg")) ||
               strcmp(json_string_value(json_object_get(hdr, "alg")), "RS256") != 0) {
        why = "alg is not RS256";
    } else if (!json_string_value(json_object_get(hdr, "typ")) ||
               strcmp(json_string_value(json_object_get(hdr, "typ")), "JWT") != 0) {
        why = "typ is not JWT";
    } else {
        const char *iss = json_string_value(json_object_get(claims, "iss"));
        const char *sub = json_string_value(json_object_get(claims, "sub"));
        json_t *jiat = json_object_get(claims, "iat"), *jexp = json_object_get(claims, "exp");
        char want_sub[512];
        snprintf(want_sub, sizeof want_sub, "%s.%s", a->account, a->user);
        long long now = (long long)time(NULL);
        int key = -1;
        for (int i = 0; i < 2 && iss; i++) {
            char want_iss[700];
            if (!a->fp[i])
                continue;
            snprintf(want_iss, sizeof want_iss, "%s.%s", want_sub, a->fp[i]);
            if (strcmp(iss, want_iss) == 0)
                key = i;
        }
        if (!sub || strcmp(sub, want_sub) != 0) {
            why = "sub is not <ACCOUNT>.<USER>";
        } else if (!iss || strncmp(iss, want_sub, strlen(want_sub)) != 0) {
            why = "iss does not start with <ACCOUNT>.<USER>";
        } else if (key < 0) {
            why = "iss fingerprint matches no registered public key";
        } else if (!json_is_integer(jiat) || !json_is_integer(jexp)) {
            why = "iat and exp must be integers";
        } else if (json_integer_value(jexp) <= now - a->slack_s) {
            why = "token expired";
        } else if (json_integer_value(jiat) > now + a->slack_s) {
            why = "iat is in the future";
        } else if (json_integer_value(jexp) - json_integer_value(jiat) > 3600 + a->slack_s) {
            why = "lifetime exceeds one hour";
        } else {
            unsigned char *sig;
            size_t siglen;
            if (!b64url_decode(d2 + 1, strlen(d2 + 1), &sig, &siglen)) {
                why = "signature is not base64url";
            } else {
                EVP_MD_CTX *ctx = EVP_MD_CTX_new();
                ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, a->key[key]) == 1 &&
                     EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)tok,
                                      (size_t)(d2 - tok)) == 1;
                EVP_MD_CTX_free(ctx);
                free(sig);
                if (!ok)
                    why = "signature does not verify";
            }
        }
    }
    json_decref(hdr);
    json_decref(claims);
    return ok ? true : fail(e, "390144", why);
}

/* The current secret: the file's content (trailing whitespace cut) if a
 * file is configured, else the flag's value. Caller frees. */
static char *current_secret(const emu_auth *a)
{
    if (a->token_file) {
        FILE *f = fopen(a->token_file, "r");
        if (!f)
            return NULL;
        strbuf sb;
        sb_init(&sb);
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            sb_append(&sb, buf, n);
        fclose(f);
        while (sb.len && (sb.data[sb.len - 1] == '\n' || sb.data[sb.len - 1] == '\r' ||
                          sb.data[sb.len - 1] == ' '))
            sb.data[--sb.len] = '\0';
        return sb_detach(&sb);
    }
    return a->token ? xstrdup(a->token) : NULL;
}

bool emu_auth_check(const emu_auth *a, const char *authorization, const char *token_type,
                    emu_tok_kind *kind, emu_error *e)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return fail(e, "390144", "no Authorization: Bearer header");
    const char *tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    if (!token_type) {
        /* Snowflake guesses from the token's shape; so do we. */
        token_type = strncmp(tok, "eyJ", 3) == 0 ? "KEYPAIR_JWT" : "OAUTH";
    }
    if (strcasecmp(token_type, "KEYPAIR_JWT") == 0) {
        *kind = EMU_TOK_JWT;
        if (!a->key[0] && !a->key[1])
            return fail(e, "390144", "no public key registered");
        return check_jwt(a, tok, e);
    }
    if (strcasecmp(token_type, "OAUTH") == 0)
        *kind = EMU_TOK_OAUTH;
    else if (strcasecmp(token_type, "PROGRAMMATIC_ACCESS_TOKEN") == 0)
        *kind = EMU_TOK_PAT;
    else
        return fail(e, "390144", "unknown X-Snowflake-Authorization-Token-Type");
    char *secret = current_secret(a);
    bool ok = secret && *secret && strcmp(secret, tok) == 0;
    free(secret);
    return ok ? true : fail(e, "390303", "token does not match");
}
