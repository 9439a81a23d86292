#!/usr/bin/env bash
# mkjwt.sh KEY.pem ACCOUNT USER [LIFETIME_S] [IAT_OFFSET_S] [FP_KEY.pem]:
# prints a Snowflake key-pair JWT signed with KEY.pem (RS256), as the
# reference describes it. IAT_OFFSET_S shifts iat (negative = in the past)
# to make expired tokens; FP_KEY.pem puts another key's fingerprint in iss.
set -euo pipefail
key=$1 account=$2 user=$3 life=${4:-3540} off=${5:-0} fpkey=${6:-$1}
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
fp=$(openssl pkey -in "$fpkey" -pubout -outform DER 2>/dev/null |
    openssl dgst -sha256 -binary | openssl base64 -A)
iat=$(( $(date +%s) + off ))
exp=$(( iat + life ))
hdr=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
pay=$(printf '{"iss":"%s.%s.SHA256:%s","sub":"%s.%s","iat":%d,"exp":%d}' \
    "$account" "$user" "$fp" "$account" "$user" "$iat" "$exp" | b64url)
sig=$(printf '%s.%s' "$hdr" "$pay" | openssl dgst -sha256 -sign "$key" -binary | b64url)
printf '%s.%s.%s\n' "$hdr" "$pay" "$sig"
