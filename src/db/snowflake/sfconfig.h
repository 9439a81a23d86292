/* sfconfig: the Snowflake backend's settings, from the environment and DSNs.
 *
 * Settings keep the names of the server snowflake-mcp replaces
 * (SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, SNOWFLAKE_PRIVATE_KEY_PATH …). An
 * sf_settings owns every string in it; sfcfg_free wipes the secrets (inline
 * key, passphrase, token) with OPENSSL_cleanse before freeing them. No
 * function here logs or puts a secret in an error message.
 *
 * Names (database, schema, warehouse, role, objects) are resolved the way
 * Snowflake resolves identifiers in SQL: a name that is a plain unquoted
 * identifier (letters, digits, _ and $, not starting with a digit) is
 * upper-cased; a name written in double quotes ("my db") keeps its case and
 * loses the quotes; anything else is taken verbatim. */
#ifndef SMCP_SFCONFIG_H
#define SMCP_SFCONFIG_H

#include <stdbool.h>

#include "core/err.h"

typedef enum sf_auth_type {
    SF_AUTH_KEYPAIR, /* RS256 JWT signed with an RSA private key (default) */
    SF_AUTH_PAT,     /* programmatic access token */
    SF_AUTH_OAUTH    /* OAuth access token */
} sf_auth_type;

typedef struct sf_settings {
    char *account; /* SNOWFLAKE_ACCOUNT, as given */
    char *user;    /* SNOWFLAKE_USER */
    sf_auth_type auth;
    char *key_path;   /* SNOWFLAKE_PRIVATE_KEY_PATH */
    char *key_pem;    /* SNOWFLAKE_PRIVATE_KEY (secret) */
    char *passphrase; /* SNOWFLAKE_PRIVATE_KEY_PASSPHRASE (secret) */
    char *token;      /* SNOWFLAKE_TOKEN (secret) */
    char *token_file; /* SNOWFLAKE_TOKEN_FILE, re-read when the token expires */
    char *warehouse, *database, *schema, *role; /* resolved names, or NULL */
    char *host;                                 /* SNOWFLAKE_HOST host[:port] override, or NULL */
    char *ca_file;                              /* SNOWFLAKE_CA_FILE */
    char *jwt_account;                          /* SNOWFLAKE_JWT_ACCOUNT override, or NULL */
} sf_settings;

/* True when SNOWFLAKE_ACCOUNT is set and not empty. */
bool sfcfg_env_present(void);

/* Fills s (zeroed first) from the environment. Fails (ERR_INVALID) only on
 * values that cannot be understood, e.g. an unknown SNOWFLAKE_AUTH_TYPE;
 * completeness is sfcfg_validate's job. s must be freed either way. */
bool sfcfg_from_env(sf_settings *s, err_t *err);

/* Overrides s from snowflake://user@account[/database[/schema]][?k=v&…]
 * (keys: warehouse, role, host, auth_type, private_key_path, token_file,
 * ca_file, jwt_account; values percent-decoded). A password in the DSN is
 * refused: secrets belong in the environment. */
bool sfcfg_apply_dsn(sf_settings *s, const char *dsn, err_t *err);

/* Checks that s names an account, a user and the credentials its auth type
 * needs (a key file or inline key; a token or token file). Does not read
 * files: sfauth does, with its own messages. */
bool sfcfg_validate(const sf_settings *s, err_t *err);

void sfcfg_free(sf_settings *s);

/* Wipes and frees the inline key, passphrase and token once they have been
 * used (the settings stay otherwise intact). */
void sfcfg_forget_secrets(sf_settings *s);

/* Resolves a name as described above; the caller frees the result. NULL
 * for NULL or an empty name. */
char *sfcfg_ident(const char *name);

const char *sfcfg_auth_name(sf_auth_type t);

#endif
