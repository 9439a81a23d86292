#include "db/snowflake/sfjwt.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/xalloc.h"

/* Longest key file read: a PEM RSA key of 16384 bits is under 13 KiB. */
#define MAX_KEY_FILE (256 * 1024)

struct sfjwt_key {
    EVP_PKEY *pkey;
    int bits;
    char fingerprint[80];
};

char *sfjwt_b64url(const unsigned char *data, size_t n)
{
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);
    int len = EVP_EncodeBlock((unsigned char *)out, data, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (char *p = out; *p; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
    }
    return out;
}

/* Reads a whole file into a NUL-terminated buffer the caller wipes and frees. */
static char *read_key_file(const char *path, size_t *len, err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(err, ERR_INVALID,
                "cannot read the private key file %s (SNOWFLAKE_PRIVATE_KEY_PATH): %s", path,
                strerror(errno));
        return NULL;
    }
    char *buf = xmalloc(MAX_KEY_FILE + 1);
    size_t n = fread(buf, 1, MAX_KEY_FILE + 1, f);
    bool bad = ferror(f) || n > MAX_KEY_FILE;
    fclose(f);
    if (bad) {
        err_set(err, ERR_INVALID, "cannot read the private key file %s: %s", path,
                n > MAX_KEY_FILE ? "too large for a key" : "read error");
        OPENSSL_cleanse(buf, n > MAX_KEY_FILE ? MAX_KEY_FILE : n);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Never prompts: a missing passphrase is an error, not a terminal question. */
static int pass_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const char *pass = u;
    if (!pass)
        return -1;
    size_t n = strlen(pass);
    if (n > (size_t)size)
        n = (size_t)size;
    memcpy(buf, pass, n);
    return (int)n;
}

/* A copy of pem with literal "\n" turned into line breaks when it has no
 * real line break (a key pasted into one .env line). */
static char *unescape_pem(const char *pem, size_t *len)
{
    size_t n = strlen(pem);
    char *out = xmalloc(n + 2);
    size_t k = 0;
    bool escaped = !strchr(pem, '\n') && strstr(pem, "\\n");
    for (size_t i = 0; i < n; i++) {
        if (escaped && pem[i] == '\\' && pem[i + 1] == 'n') {
            out[k++] = '\n';
            i++;
        } else {
            out[k++] = pem[i];
        }
    }
    out[k++] = '\n';
    out[k] = '\0';
    *len = k;
    return out;
}

static bool fill_fingerprint(sfjwt_key *k, err_t *err)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k->pkey, &der);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    bool ok = n > 0 && EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1;
    OPENSSL_free(der);
    if (!ok) {
        err_set(err, ERR_INTERNAL, "cannot compute the public key fingerprint");
        return false;
    }
    memcpy(k->fingerprint, "SHA256:", 7);
    EVP_EncodeBlock((unsigned char *)k->fingerprint + 7, md, (int)mdlen);
    return true;
}

static void describe_load_error(const char *where, bool encrypted, bool have_pass, err_t *err)
{
    unsigned long e = ERR_peek_last_error();
    int reason = ERR_GET_REASON(e);
    if (encrypted && !have_pass) {
        err_set(err, ERR_INVALID,
                "the private key %s is encrypted: set SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", where);
    } else if (encrypted) {
        err_set(err, ERR_INVALID,
                "cannot decrypt the private key %s: wrong SNOWFLAKE_PRIVATE_KEY_PASSPHRASE?",
                where);
    } else {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        err_set(err, ERR_INVALID,
                "the private key %s is not a PEM private key (expected -----BEGIN PRIVATE KEY----- "
                "or -----BEGIN ENCRYPTED PRIVATE KEY-----)%s%s",
                where, reason ? ": " : "", reason ? buf : "");
    }
    ERR_clear_error();
}

sfjwt_key *sfjwt_key_load(const char *path, const char *pem, const char *passphrase, err_t *err)
{
    size_t len = 0;
    char *text = pem ? unescape_pem(pem, &len) : read_key_file(path, &len, err);
    if (!text)
        return NULL;
    strbuf where;
    sb_init(&where);
    if (pem)
        sb_puts(&where, "in SNOWFLAKE_PRIVATE_KEY");
    else
        sb_printf(&where, "in %s", path);
    bool encrypted = strstr(text, "ENCRYPTED") != NULL;
    ERR_clear_error();
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, pass_cb, (void *)passphrase) : NULL;
    BIO_free(bio);
    OPENSSL_cleanse(text, len);
    free(text);
    sfjwt_key *k = NULL;
    if (!pkey) {
        describe_load_error(where.data, encrypted, passphrase != NULL, err);
    } else if (EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
        err_set(err, ERR_INVALID,
                "the private key %s is not an RSA key; Snowflake key-pair authentication needs "
                "RSA (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048)",
                where.data);
    } else if (EVP_PKEY_get_bits(pkey) < SFJWT_MIN_BITS) {
        err_set(err, ERR_INVALID,
                "the private key %s has %d bits; Snowflake needs an RSA key of at least %d bits",
                where.data, EVP_PKEY_get_bits(pkey), SFJWT_MIN_BITS);
    } else {
        k = xcalloc(1, sizeof *k);
        k->pkey = pkey;
        k->bits = EVP_PKEY_get_bits(pkey);
        pkey = NULL;
        if (!fill_fingerprint(k, err)) {
            sfjwt_key_free(k);
            k = NULL;
        }
    }
    EVP_PKEY_free(pkey);
    sb_free(&where);
    return k;
}

void sfjwt_key_free(sfjwt_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

const char *sfjwt_key_fingerprint(const sfjwt_key *k)
{
    return k->fingerprint;
}

int sfjwt_key_bits(const sfjwt_key *k)
{
    return k->bits;
}

static char *upper(const char *s)
{
    char *u = xstrdup(s);
    for (char *p = u; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return u;
}

static char *json_segment(json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!text)
        return NULL;
    char *seg = sfjwt_b64url((const unsigned char *)text, strlen(text));
    free(text);
    return seg;
}

static bool rs256(EVP_PKEY *pkey, const char *input, unsigned char **sig, size_t *siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
              EVP_DigestSign(ctx, NULL, siglen, (const unsigned char *)input, strlen(input)) == 1;
    if (ok) {
        *sig = xmalloc(*siglen);
        ok = EVP_DigestSign(ctx, *sig, siglen, (const unsigned char *)input, strlen(input)) == 1;
        if (!ok) {
            free(*sig);
            *sig = NULL;
        }
    }
    EVP_MD_CTX_free(ctx);
    return ok;
}

char *sfjwt_sign(const sfjwt_key *k, const char *account, const char *user, int64_t iat,
                 int64_t lifetime_s, err_t *err)
{
    char *acct = upper(account);
    char *usr = upper(user);
    strbuf sub, iss;
    sb_init(&sub);
    sb_init(&iss);
    sb_printf(&sub, "%s.%s", acct, usr);
    sb_printf(&iss, "%s.%s", sub.data, k->fingerprint);
    char *head = json_segment(json_pack("{s:s,s:s}", "alg", "RS256", "typ", "JWT"));
    char *claims =
        json_segment(json_pack("{s:s,s:s,s:I,s:I}", "iss", iss.data, "sub", sub.data, "iat",
                               (json_int_t)iat, "exp", (json_int_t)(iat + lifetime_s)));
    free(acct);
    free(usr);
    sb_free(&sub);
    sb_free(&iss);
    char *out = NULL;
    if (head && claims) {
        strbuf jwt;
        sb_init(&jwt);
        sb_printf(&jwt, "%s.%s", head, claims);
        unsigned char *sig = NULL;
        size_t siglen = 0;
        if (rs256(k->pkey, jwt.data, &sig, &siglen)) {
            char *s = sfjwt_b64url(sig, siglen);
            sb_printf(&jwt, ".%s", s);
            /* The signature makes the JWT a bearer credential: wipe copies. */
            OPENSSL_cleanse(s, strlen(s));
            OPENSSL_cleanse(sig, siglen);
            free(s);
            free(sig);
            out = sb_detach(&jwt);
        } else {
            sb_free(&jwt);
            ERR_clear_error();
        }
    }
    free(head);
    free(claims);
    if (!out)
        err_set(err, ERR_INTERNAL, "cannot sign the key-pair JWT with the private key");
    return out;
}
