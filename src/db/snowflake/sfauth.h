/* sfauth: the bearer token every SQL API request carries, cached per backend.
 *
 * Key-pair: an RS256 JWT (sfjwt) with a 59-minute lifetime, re-signed when
 * it is 50 minutes old, or at once after Snowflake rejected it (401).
 * PAT/OAuth: SNOWFLAKE_TOKEN, or the contents of SNOWFLAKE_TOKEN_FILE,
 * which is read again after a 401 so a refreshed token is picked up without
 * a restart.
 *
 * Threading: one sfauth is shared by every connection of a backend; all
 * functions are thread-safe. A mutex guards the cached token; signing (CPU
 * only) happens under it, reading the token file does not.
 * Ownership: sfauth_token hands out a copy the caller must release with
 * sfauth_token_wipe (it is a credential). */
#ifndef SMCP_SFAUTH_H
#define SMCP_SFAUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "db/snowflake/sfconfig.h"

typedef struct sfauth sfauth;

#define SFAUTH_JWT_LIFETIME_S (59 * 60)
#define SFAUTH_JWT_RENEW_S (50 * 60)

/* Loads the key or the token now, so that configuration errors show at
 * start. s is read, not kept. */
sfauth *sfauth_new(const sf_settings *s, err_t *err);
void sfauth_free(sfauth *a);

/* The current token (renewed first when due). *gen identifies it for
 * sfauth_renew. The caller releases *token with sfauth_token_wipe. */
bool sfauth_token(sfauth *a, char **token, uint64_t *gen, err_t *err);
void sfauth_token_wipe(char *token);

/* Called after Snowflake answered 401 to token generation gen: makes a new
 * token unless another thread already did. False (ERR_AUTH) when no new
 * token can exist (a fixed SNOWFLAKE_TOKEN). */
bool sfauth_renew(sfauth *a, uint64_t gen, err_t *err);

/* The X-Snowflake-Authorization-Token-Type value. */
const char *sfauth_token_type(const sfauth *a);
sf_auth_type sfauth_kind(const sfauth *a);
/* "SHA256:…" of the public key, or NULL for token authentication. */
const char *sfauth_fingerprint(const sfauth *a);
/* The account and user as they appear in the JWT, or NULL. */
const char *sfauth_jwt_account(const sfauth *a);

/* Replaces the wall clock (seconds since the epoch) used for iat; tests. */
void sfauth_set_clock(sfauth *a, int64_t (*now_s)(void));

#endif
