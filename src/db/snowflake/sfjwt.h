/* sfjwt: RSA private keys and the RS256 JSON Web Tokens Snowflake's key-pair
 * authentication accepts.
 *
 * A key is loaded once from a PEM file or PEM text (PKCS#8, encrypted PKCS#8
 * with a passphrase, or PKCS#1), checked to be RSA of at least 2048 bits,
 * and kept with its public-key fingerprint "SHA256:<base64 of the SHA-256
 * of the DER SubjectPublicKeyInfo>" — the value DESC USER shows as
 * RSA_PUBLIC_KEY_FP. The key object owns the EVP_PKEY; sfjwt_key_free
 * releases it. PEM text and passphrases passed in are only read; buffers
 * this module makes from them are wiped before they are freed. */
#ifndef SMCP_SFJWT_H
#define SMCP_SFJWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct sfjwt_key sfjwt_key;

#define SFJWT_MIN_BITS 2048

/* Loads the key from path (when pem is NULL) or from pem text. passphrase
 * may be NULL. Errors (ERR_INVALID) name the setting to fix: unreadable
 * file, not PEM, encrypted without a passphrase, wrong passphrase, not RSA,
 * too short. Literal "\n" sequences in pem (a key pasted into one line of a
 * .env file) are read as line breaks. */
sfjwt_key *sfjwt_key_load(const char *path, const char *pem, const char *passphrase, err_t *err);
void sfjwt_key_free(sfjwt_key *k);

/* "SHA256:…" (standard base64 with padding); owned by the key. */
const char *sfjwt_key_fingerprint(const sfjwt_key *k);
int sfjwt_key_bits(const sfjwt_key *k);

/* Signs a JWT: header {"alg":"RS256","typ":"JWT"}, claims
 * iss "<ACCOUNT>.<USER>.<fingerprint>", sub "<ACCOUNT>.<USER>", iat, exp =
 * iat + lifetime_s. account and user are upper-cased here. Returns a new
 * string the caller frees (it is a credential: wipe it first). */
char *sfjwt_sign(const sfjwt_key *k, const char *account, const char *user, int64_t iat,
                 int64_t lifetime_s, err_t *err);

/* base64url without padding of data[0..n) appended to a new string. */
char *sfjwt_b64url(const unsigned char *data, size_t n);

#endif
