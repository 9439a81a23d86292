/* emu_auth: the emulator's check of the SQL API's Authorization header.
 *
 * KEYPAIR_JWT tokens are verified the way Snowflake documents it: RS256
 * over header.payload against one of the registered public keys, iss =
 * "<ACCOUNT>.<USER>.SHA256:<fingerprint of that key>", sub =
 * "<ACCOUNT>.<USER>", exp in the future and exp - iat within an hour (plus
 * slack). OAUTH and PROGRAMMATIC_ACCESS_TOKEN bearer tokens must equal the
 * configured token, or the token file's content (read on every check, so
 * tests can rotate it). emu_auth is immutable after creation and safe to
 * share between threads. */
#ifndef SNOWEMU_AUTH_H
#define SNOWEMU_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "emu_result.h"

typedef struct emu_auth_cfg {
    const char *account;        /* upper case */
    const char *user;           /* upper case */
    const char *pubkey_path[2]; /* PEM SubjectPublicKeyInfo; NULL = unused */
    const char *token;          /* OAuth / PAT secret, or NULL */
    const char *token_file;     /* read on every request, or NULL */
    int slack_s;                /* tolerance on iat/exp */
} emu_auth_cfg;

typedef struct emu_auth emu_auth;

typedef enum emu_tok_kind { EMU_TOK_JWT, EMU_TOK_OAUTH, EMU_TOK_PAT } emu_tok_kind;

emu_auth *emu_auth_new(const emu_auth_cfg *cfg, err_t *err);
void emu_auth_free(emu_auth *a);
/* "SHA256:<base64>" of registered key i (0 or 1), or NULL. */
const char *emu_auth_fingerprint(const emu_auth *a, size_t i);

/* Checks one request. authorization is the raw header, token_type the
 * X-Snowflake-Authorization-Token-Type header (either may be NULL). On
 * success returns true and sets *kind. On failure returns false with a 401
 * in e (code 390144 for JWTs, 390303 for OAuth/PAT); e->message says why. */
bool emu_auth_check(const emu_auth *a, const char *authorization, const char *token_type,
                    emu_tok_kind *kind, emu_error *e);

#endif
