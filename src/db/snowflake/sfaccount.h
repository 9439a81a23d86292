/* sfaccount: from a Snowflake account identifier to a host name and to the
 * account part of a key-pair JWT.
 *
 * Accepted identifiers (case-insensitive; a full https:// URL or a name
 * ending in .snowflakecomputing.com/.cn is accepted too):
 *   myorg-myacct                 preferred form
 *   myorg.myacct                 SQL form: the host uses myorg-myacct
 *   xy12345[.region[.cloud]]     legacy locator, region kept verbatim
 *   <any of these>.privatelink   PrivateLink
 *   name-xxxx.global             global (replication) URL
 * Host: lower case, '_' in the name written as '-' (Snowflake's URL form),
 * domain .snowflakecomputing.cn for China regions (a region part starting
 * with "cn-", or a given .cn domain), .snowflakecomputing.com otherwise.
 * JWT account: upper case; the part before the first '-' when the identifier
 * contains ".global", otherwise the part before the first '.' (myorg.myacct
 * counts as myorg-myacct). Results are appended to caller-owned strbufs. */
#ifndef SMCP_SFACCOUNT_H
#define SMCP_SFACCOUNT_H

#include <stdbool.h>

#include "core/err.h"
#include "core/strbuf.h"

/* Appends the host ("myorg-myacct.snowflakecomputing.com"). ERR_INVALID
 * with a message showing the accepted forms when account is malformed. */
bool sfacct_host(const char *account, strbuf *out, err_t *err);

/* Appends the JWT account ("MYORG-MYACCT", "XY12345"). */
bool sfacct_jwt_account(const char *account, strbuf *out, err_t *err);

#endif
