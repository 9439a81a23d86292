#!/usr/bin/env bash
# test_snowemu.sh SNOWEMU_BIN WORKDIR: drives the emulator over HTTPS with
# curl(1) and checks what it answers (ctest label: snowflake). Every request
# goes to 127.0.0.1 with a time limit; the emulator is stopped on exit and
# stops by itself after 120 s idle anyway. Exits 77 (skipped) when curl, jq or
# openssl are missing.
set -uo pipefail
bin=${1:?usage: test_snowemu.sh SNOWEMU_BIN WORKDIR}
work=${2:?usage: test_snowemu.sh SNOWEMU_BIN WORKDIR}
here=$(cd "$(dirname "$0")" && pwd)
for tool in curl jq openssl gzip; do
    command -v "$tool" >/dev/null || { echo "skipped: $tool is not installed"; exit 77; }
done

rm -rf "$work/run"
mkdir -p "$work/run" "$work/cache"
run=$work/run
"$here/gen-certs.sh" "$run/certs"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$run/user.key" 2>/dev/null
openssl pkey -in "$run/user.key" -pubout -out "$run/user.pub"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$run/other.key" 2>/dev/null
printf 'oauth-secret-1\n' >"$run/token"

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    wait 2>/dev/null
}
trap cleanup EXIT

# start_emu READY_FILE EXTRA_FLAGS...: starts snowemu, waits (at most 120 s,
# the first run builds the demo warehouse) for its ready file.
start_emu() {
    local ready=$1
    shift
    "$bin" --cert "$run/certs/server.pem" --key "$run/certs/server.key" \
        --cache-dir "$work/cache" --account ACME --user ALICE --public-key "$run/user.pub" \
        --token-file "$run/token" --ready-file "$ready" "$@" >>"$run/emu.out" 2>>"$run/emu.err" &
    pids+=($!)
    for _ in $(seq 600); do
        [ -s "$ready" ] && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.2
    done
    echo "snowemu did not start:" >&2
    cat "$run/emu.err" >&2
    exit 1
}

start_emu "$run/ready" --rows-per-partition 100 --idle-timeout 120
read -r port pid <"$run/ready"
base=https://127.0.0.1:$port
jwt() { "$here/mkjwt.sh" "$@"; }
JWT=$(jwt "$run/user.key" ACME ALICE)

passed=0 failed=0
check() { # check NAME TEST...
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name (http $CODE): $(head -c 400 "$run/body")"
    fi
}
eq() { [ "$1" = "$2" ] || { echo "  expected [$2], got [$1]" >&2; return 1; }; }
jqb() { jq -r "$1" "$run/body"; }

# req METHOD PATH [BODY] [curl args...]: sets CODE; body in $run/body,
# headers in $run/headers. Default auth: the JWT.
AUTH=("-H" "Authorization: Bearer $JWT" "-H" "X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT")
req() {
    local method=$1 path=$2 data=${3:-}
    shift 3 2>/dev/null || shift $#
    local args=(-sS --max-time 30 --cacert "$run/certs/ca.pem" -X "$method" -o "$run/body"
        -D "$run/headers" -w '%{http_code}' -A "snowemu-test/1.0" "${AUTH[@]}")
    if [ -n "$data" ]; then
        args+=(-H "Content-Type: application/json" --data-binary "$data")
    fi
    CODE=$(curl "${args[@]}" "$@" "$base$path")
}
submit() { # submit REQUEST_ID JSON_BODY [query suffix] [curl args...]
    local rid=$1 body=$2 extra=${3:-}
    shift 3 2>/dev/null || shift $#
    req POST "/api/v2/statements?requestId=$rid$extra" "$body" "$@"
}
stats() { curl -sS --max-time 10 --cacert "$run/certs/ca.pem" "$base/emu/stats" >"$run/stats"; }
jqs() { jq -r "$1" "$run/stats"; }
# poll HANDLE: GETs until not 202 (at most 40 x 0.25 s).
poll() {
    for _ in $(seq 40); do
        req GET "/api/v2/statements/$1"
        [ "$CODE" = 202 ] || return 0
        sleep 0.25
    done
}

# ---- authentication ----
submit a1 '{"statement":"select 1"}'
check "JWT accepted" eq "$CODE/$(jqb '.data[0][0]')/$(jqb .code)/$(jqb .sqlState)" "200/1/090001/00000"
check "statementStatusUrl is relative" eq "$(jqb .statementStatusUrl)" \
    "/api/v2/statements/$(jqb .statementHandle)?requestId=a1"

bad_jwt() { # bad_jwt NAME TOKEN
    AUTH=("-H" "Authorization: Bearer $2" "-H" "X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT")
    submit "bad-${1// /-}" '{"statement":"select 1"}'
    check "JWT rejected: $1" eq "$CODE/$(jqb .code)" "401/390144"
}
bad_jwt "wrong key" "$(jwt "$run/other.key" ACME ALICE 3540 0 "$run/other.key")"
bad_jwt "signed by another key" "$(jwt "$run/other.key" ACME ALICE 3540 0 "$run/user.key")"
bad_jwt "wrong account in iss/sub" "$(jwt "$run/user.key" OTHER ALICE)"
bad_jwt "expired" "$(jwt "$run/user.key" ACME ALICE 3600 -7200)"
bad_jwt "lifetime over an hour" "$(jwt "$run/user.key" ACME ALICE 7200)"
bad_jwt "garbage" "not.a.jwt"
AUTH=()
submit bad-none '{"statement":"select 1"}'
check "no Authorization header" eq "$CODE/$(jqb .code)" "401/390144"

AUTH=("-H" "Authorization: Bearer oauth-secret-1" "-H" "X-Snowflake-Authorization-Token-Type: OAUTH")
submit o1 '{"statement":"select 2"}'
check "OAuth token from file accepted" eq "$CODE/$(jqb '.data[0][0]')" "200/2"
printf 'oauth-secret-2\n' >"$run/token"
submit o2 '{"statement":"select 2"}'
check "rotated token file: old token refused" eq "$CODE/$(jqb .code)" "401/390303"
AUTH=("-H" "Authorization: Bearer oauth-secret-2" "-H" "X-Snowflake-Authorization-Token-Type: PROGRAMMATIC_ACCESS_TOKEN")
submit o3 '{"statement":"select 3"}'
check "rotated token accepted (as PAT)" eq "$CODE/$(jqb '.data[0][0]')" "200/3"
AUTH=("-H" "Authorization: Bearer $JWT" "-H" "X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT")

# ---- request checks ----
req POST "/api/v2/statements?requestId=ct" "" -H "Content-Type: text/plain" --data-binary 'select 1'
check "wrong content type: 415" eq "$CODE" 415
submit bad-json '{"statement":'
check "malformed body: 400" eq "$CODE" 400
req GET "/api/v2/statements"
check "GET on the submit path: 405" eq "$CODE" 405
req GET "/api/v2/nothing"
check "unknown path: 404" eq "$CODE" 404

submit m1 '{"statement":"select 1; select 2"}'
check "two statements refused" eq "$CODE/$(jqb .code)/$(jqb .message)" \
    "422/000008/Actual statement count 2 did not match the desired statement count 1."
submit m2 '{"statement":"select 1; select 2;","parameters":{"multi_statement_count":"1"}}'
check "MULTI_STATEMENT_COUNT=\"1\" (any case) refuses two" eq "$CODE/$(jqb .code)" "422/000008"
submit m3 '{"statement":"select 1; -- trailing comment\n;","parameters":{"MULTI_STATEMENT_COUNT":1}}'
check "empty statements and comments do not count" eq "$CODE" 200
submit m4 '{"statement":"select 1; select 2","parameters":{"MULTI_STATEMENT_COUNT":2}}'
check "MULTI_STATEMENT_COUNT=2 runs both" eq "$CODE/$(jqb '.statementHandles | length')" "200/2"
child=$(jqb '.statementHandles[1]')
req GET "/api/v2/statements/$child"
check "child statement result" eq "$CODE/$(jqb '.data[0][0]')" "200/2"

# ---- SQL and encoding ----
submit e1 '{"statement":"select * from NO_SUCH_TABLE"}'
check "unknown table: 422 002003" eq "$CODE/$(jqb .code)/$(jqb .sqlState)/$(jqb '.statementHandle|length')" \
    "422/002003/42S02/36"
submit e2 '{"statement":"delete from SALES.PUBLIC.REGIONS"}'
check "writes refused: 422" eq "$CODE/$(jqb .code)" "422/003001"
submit e3 '{"statement":"selct 1"}'
check "syntax error: 422 001003" eq "$CODE/$(jqb .code)" "422/001003"
submit n1 '{"statement":"select count(*) from REGIONS","database":"SALES","schema":"PUBLIC"}'
check "unqualified name in the request database" eq "$CODE/$(jqb '.data[0][0]')" "200/5"
submit n2 '{"statement":"select count(*) AS N from \"MARKETING\".\"PUBLIC\".\"CHANNELS\""}'
check "three-part quoted name" eq "$CODE/$(jqb '.data[0][0]')/$(jqb '.resultSetMetaData.rowType[0].name')" "200/8/N"
submit n3 '{"statement":"select count(*) from REGIONS","database":"NOPE"}'
check "unknown request database: 422" eq "$CODE" 422
submit b1 '{"statement":"select name from SALES.PUBLIC.REGIONS where region_id = ?","bindings":{"1":{"type":"FIXED","value":"2"}}}'
check "bindings" eq "$CODE/$(jqb '.data[0][0]')" "200/Europe"
submit t1 '{"statement":"select * from EMU_TYPES order by id"}'
check "EMU_TYPES types" eq "$(jqb '[.resultSetMetaData.rowType[].type] | join(",")')" \
    "fixed,fixed,fixed,real,text,boolean,date,time,timestamp_ntz,timestamp_ltz,timestamp_tz,variant,object,array,binary"
check "EMU_TYPES values as strings" eq "$(jqb '.data[0] | join("|")')" \
    '1|123|1.50|15000000000|hello, "world"|true|18262|82919.000000000|1611871777.123456789|1611871777.000000000|1616173619.000000000 1500|{"a":[1,2]}|{"k":"v"}|[1,"two",null]|DEADBEEF'
check "NULLs are JSON null" eq "$(jqb '.data[2][1:] | map(. == null) | all')" true
check "NUMBER(10,2) scale" eq "$(jqb '.resultSetMetaData.rowType[2] | "\(.precision),\(.scale)"')" "10,2"
submit d1 '{"statement":"select order_date, total_amount from ORDERS where order_id = 1","database":"SALES"}'
check "DATE as days, NUMERIC(12,2) with 2 decimals" eq \
    "$(jqb '.resultSetMetaData.rowType | map(.type) | join(",")')/$(jqb '.data[0] | join(",")')" "date,fixed/19358,263.14"
submit nn '{"statement":"select null as x"}' "&nullable=false"
check "nullable=false sends \"null\"" eq "$(jqb '.data[0][0]')" "null"

# ---- partitions ----
submit p1 '{"statement":"select order_id from SALES.PUBLIC.ORDERS where order_id <= 250 order by order_id"}'
h=$(jqb .statementHandle)
check "partitioned result metadata" eq \
    "$(jqb '.resultSetMetaData.numRows')/$(jqb '.resultSetMetaData.partitionInfo | map(.rowCount) | join(",")')/$(jqb '.data | length')" \
    "250/100,100,50/100"
req GET "/api/v2/statements/$h?partition=1" "" -H "Accept-Encoding: gzip"
check "partition 1 is gzip" grep -qi '^content-encoding: gzip' "$run/headers"
gzip -dc <"$run/body" >"$run/part1.json" && cp "$run/part1.json" "$run/body"
check "partition 1 rows" eq "$(jqb '.data | length')/$(jqb '.data[0][0]')/$(jqb 'keys | join(",")')" "100/101/data"
req GET "/api/v2/statements/$h?partition=2"
check "partition 2 without Accept-Encoding is plain" eq "$(jqb '.data | length')/$(jqb '.data[49][0]')" "50/250"
req GET "/api/v2/statements/$h?partition=3"
check "partition out of range: 422" eq "$CODE" 422
stats
check "stats list the partitions fetched" eq \
    "$(jqs "[.partitions[] | select(.handle == \"$h\") | \"\(.partition):\(.gzip)\"] | join(\",\")")" "1:true,2:false"

# ---- asynchronous execution, cancel, timeout ----
submit s1 '{"statement":"/*emu:slow=1500*/ select 42"}'
h=$(jqb .statementHandle)
check "slow statement: 202 333334" eq "$CODE/$(jqb .code)/$(jqb .statementStatusUrl)" \
    "202/333334//api/v2/statements/$h?requestId=s1"
req GET "/api/v2/statements/$h"
check "poll before completion: 202" eq "$CODE" 202
poll "$h"
check "poll after completion: 200" eq "$CODE/$(jqb '.data[0][0]')" "200/42"
submit as1 '{"statement":"select 43"}' "&async=true"
check "async=true: 202" eq "$CODE" 202
poll "$(jqb .statementHandle)"
check "async result" eq "$CODE/$(jqb '.data[0][0]')" "200/43"

submit c1 '{"statement":"/*emu:slow=10000*/ select 1"}'
h=$(jqb .statementHandle)
req POST "/api/v2/statements/$h/cancel"
check "cancel: 200 000604" eq "$CODE/$(jqb .code)" "200/000604"
req GET "/api/v2/statements/$h"
check "cancelled statement: 422 000604 57014" eq "$CODE/$(jqb .code)/$(jqb .sqlState)" "422/000604/57014"
req POST "/api/v2/statements/no-such-handle/cancel"
check "cancel unknown handle: 422 000709" eq "$CODE/$(jqb .code)" "422/000709"
stats
check "stats record the cancel" eq "$(jqs "[.cancelled_handles[] | select(.handle == \"$h\") | .was_running] | join(\",\")")" true

submit to1 '{"statement":"with recursive r(x) as (select 1 union all select x + 1 from r) select count(*) from r","timeout":1}'
check "runaway query with timeout 1: 408 000630" eq "$CODE/$(jqb .code)" "408/000630"
submit to2 '{"statement":"/*emu:slow=5000*/ select 1","timeout":1}'
h=$(jqb .statementHandle)
poll "$h"
check "slow statement past its timeout: 408" eq "$CODE/$(jqb .sqlState)" "408/57014"

# ---- fault injection and retries ----
for i in 1 2 3; do
    submit r429 '{"statement":"/*emu:status=429,count=2*/ select 7"}' "$([ $i -gt 1 ] && echo '&retry=true')"
    codes[$i]=$CODE
done
check "429 twice, then 200" eq "${codes[1]},${codes[2]},${codes[3]}/$(jqb '.data[0][0]')" "429,429,200/7"
submit r503 '{"statement":"/*emu:status=503*/ select 8"}'
c1=$CODE
check "503 has an HTML body" grep -q '<html>' "$run/body"
submit r503 '{"statement":"/*emu:status=503*/ select 8"}' "&retry=true"
check "503 once, then 200" eq "$c1,$CODE" "503,200"
stats
check "stats per requestId (429)" eq \
    "$(jqs '.requests.r429 | "\(.submissions),\(.injected),\(.executions),\(.retries)"')" "3,2,1,2"
check "stats count injected statuses" eq "$(jqs '.injected["429"]'),$(jqs '.injected["503"]')" "2,1"

submit dup '{"statement":"select 9"}'
h=$(jqb .statementHandle)
submit dup '{"statement":"select 9"}' "&retry=true"
check "retry=true of a completed request: same handle" eq "$CODE/$(jqb .statementHandle)" "200/$h"
stats
check "retry did not execute again" eq "$(jqs '.requests.dup | "\(.executions),\(.deduplicated)"')" "1,1"

submit pollf '{"statement":"/*emu:slow=300,poll_status=429,poll_count=1*/ select 10"}'
h=$(jqb .statementHandle)
req GET "/api/v2/statements/$h"
check "poll injection: first GET 429" eq "$CODE/$(jqb .code)" "429/390505"
poll "$h"
check "poll injection: then 200" eq "$CODE/$(jqb '.data[0][0]')" "200/10"

submit xt '{"statement":"/*emu:expire_token*/ select 11"}'
check "expire_token: 401 390144 for a JWT" eq "$CODE/$(jqb .code)" "401/390144"
submit xt '{"statement":"/*emu:expire_token*/ select 11"}' "&retry=true"
check "expire_token: once per requestId" eq "$CODE/$(jqb '.data[0][0]')" "200/11"
AUTH=("-H" "Authorization: Bearer oauth-secret-2" "-H" "X-Snowflake-Authorization-Token-Type: OAUTH")
submit xo '{"statement":"/*emu:expire_token*/ select 12"}'
check "expire_token: 401 390318 for OAuth" eq "$CODE/$(jqb .code)" "401/390318"
AUTH=("-H" "Authorization: Bearer $JWT" "-H" "X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT")

curl -sS --max-time 10 --cacert "$run/certs/ca.pem" -X POST "$base/emu/expire-tokens" >/dev/null
submit xr '{"statement":"select 13"}'
check "after /emu/expire-tokens the old JWT is refused" eq "$CODE/$(jqb .code)" "401/390144"
AUTH=("-H" "Authorization: Bearer $(jwt "$run/user.key" ACME ALICE 3000 -5)" "-H" "X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT")
submit xr '{"statement":"select 13"}' "&retry=true"
check "a new JWT is accepted" eq "$CODE/$(jqb '.data[0][0]')" "200/13"
stats
check "stats: the request saw two tokens" eq "$(jqs '.requests.xr.tokens | length')" 2
check "stats: last request headers" eq \
    "$(jqs '.last_request | "\(.token_type)|\(.user_agent)|\(.method)"')" "KEYPAIR_JWT|snowemu-test/1.0|POST"

# ---- SHOW / DESCRIBE / GET_DDL ----
submit sh1 '{"statement":"SHOW DATABASES"}'
check "SHOW DATABASES columns" eq "$(jqb '[.resultSetMetaData.rowType[].name] | join(",")')" \
    "created_on,name,is_default,is_current,origin,owner,comment,options,retention_time,kind,budget,owner_role_type"
check "SHOW DATABASES names" eq "$(jqb '[.data[][1]] | join(",")')" "FINANCE,MARKETING,SALES"
submit sh2 '{"statement":"SHOW SCHEMAS IN DATABASE \"SALES\""}'
check "SHOW SCHEMAS IN DATABASE" eq "$(jqb '.data | map("\(.[1]).\(.[4])") | join(",")')" "PUBLIC.SALES"
submit sh3 '{"statement":"show tables in schema \"SALES\".\"PUBLIC\""}'
check "SHOW TABLES IN SCHEMA" eq "$(jqb '[.data[][1]] | join(",")')" "CUSTOMERS,ORDERS,ORDER_ITEMS,PRODUCTS,REGIONS"
check "SHOW TABLES rows column" eq "$(jqb '.data[] | select(.[1] == "REGIONS") | .[7]')" 5
submit sh4 '{"statement":"SHOW VIEWS LIKE '"'"'%revenue%'"'"' IN SCHEMA SALES.PUBLIC"}'
check "SHOW VIEWS LIKE" eq "$(jqb '[.data[][1]] | join(",")')/$(jqb '.data[0][7][0:11]')" "REVENUE_BY_REGION/CREATE VIEW"
submit sh5 '{"statement":"SHOW TABLES IN DATABASE NOPE"}'
check "SHOW in an unknown database: 422 002003" eq "$CODE/$(jqb .code)" "422/002003"
submit de1 '{"statement":"DESCRIBE TABLE \"SALES\".\"PUBLIC\".\"ORDERS\""}'
check "DESCRIBE TABLE columns" eq "$(jqb '[.resultSetMetaData.rowType[].name] | join(",")')" \
    "name,type,kind,null?,default,primary key,unique key,check,expression,comment,policy name,privacy domain"
check "DESCRIBE TABLE rows" eq "$(jqb '[.data[] | "\(.[0]) \(.[1]) \(.[3]) \(.[5])"] | join(";")')" \
    "order_id NUMBER(38,0) N Y;customer_id NUMBER(38,0) N N;order_date DATE N N;status VARCHAR(16777216) N N;channel VARCHAR(16777216) N N;total_amount NUMBER(12,2) N N"
submit de2 '{"statement":"DESCRIBE VIEW SALES.PUBLIC.NOPE"}'
check "DESCRIBE unknown object" eq "$CODE/$(jqb .code)/$(jqb .message)" \
    "422/002003/SQL compilation error:
Object 'NOPE' does not exist or not authorized."
submit gd1 "{\"statement\":\"SELECT GET_DDL('VIEW', 'SALES.PUBLIC.TOP_PRODUCTS')\"}"
check "GET_DDL view" eq "$CODE/$(jqb '.data[0][0] | split("\n")[0]')" "200/create or replace view SALES.PUBLIC.TOP_PRODUCTS("

# ---- stats and shutdown ----
stats
check "stats count submissions, polls, auth failures" eq \
    "$([ "$(jqs .submissions)" -gt 50 ] && [ "$(jqs .polls)" -ge 4 ] && echo yes)/$(jqs .auth_failures)" "yes/9"
curl -sS --max-time 10 --cacert "$run/certs/ca.pem" -X POST "$base/emu/reset" >/dev/null
stats
check "/emu/reset zeroes the counters" eq "$(jqs '"\(.submissions),\(.requests | length),\(.partitions | length)"')" "0,0,0"
kill -TERM "$pid"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "SIGTERM stops it and removes the ready file" eq "$(kill -0 "$pid" 2>/dev/null && echo alive || echo gone)/$([ -e "$run/ready" ] && echo ready || echo none)" "gone/none"

start_emu "$run/ready2" --idle-timeout 1
read -r port2 pid2 <"$run/ready2"
for _ in $(seq 300); do kill -0 "$pid2" 2>/dev/null || break; sleep 0.1; done
check "idle timeout stops it" eq "$(kill -0 "$pid2" 2>/dev/null && echo alive || echo gone)" gone

echo "snowemu: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
