#!/usr/bin/env bash
# `make run`: shows snowflake-mcp answering questions about the demo
# warehouse, first through `call` (the same code path a client uses), then
# as a real MCP stdio session, and prints how to connect a client.
set -uo pipefail
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
bold='' plain=''
if [ -t 1 ]; then # no escape codes in a log file or a pipe
  bold=$(tput bold 2>/dev/null || true)
  plain=$(tput sgr0 2>/dev/null || true)
fi

show() {
  printf '\n%s$ snowflake-mcp %s%s\n' "$bold" "$*" "$plain"
  "$bin" --log-level warning "$@"
  local rc=$?
  [ $rc -ne 0 ] && printf '(exit code %d)\n' "$rc"
  return 0
}

echo "${bold}snowflake-mcp $("$bin" --version | cut -d' ' -f2) on the demo warehouse${plain}"
echo "(the first start generates the warehouse into ~/.cache/snowflake-mcp; later starts reuse it)"
show call list_databases
show call list_views '{"database":"SALES"}'
show call query_view '{"database":"SALES","view_name":"REVENUE_BY_REGION","limit":5}'
show call execute_query '{"query":"SELECT c.segment, count(DISTINCT c.id) AS customers, round(sum(o.total_amount), 2) AS revenue FROM ORDERS o JOIN CUSTOMERS c ON c.id = o.customer_id GROUP BY c.segment ORDER BY revenue DESC"}'
echo
echo "${bold}Writes are refused, whatever the disguise:${plain}"
show call execute_query '{"query":"SELECT 1; DROP TABLE ORDERS"}'

echo
echo "${bold}A raw MCP session over stdio (what Claude Desktop does), one JSON-RPC message per line:${plain}"
{
  printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"demo","version":"1"}}}'
  printf '%s\n' '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  printf '%s\n' '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"execute_query","arguments":{"query":"SELECT count(*) AS orders FROM ORDERS"}}}'
  printf '%s\n' '{"jsonrpc":"2.0","id":3,"method":"ping"}'
} | "$bin" --log-level warning | cut -c1-240

# Last, the daemon: one server that Claude Desktop, Claude Code, Cursor…
# share over Streamable HTTP, until Ctrl-C.
port=${PORT:-8080}
"$bin" --log-level warning serve --http "127.0.0.1:$port" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit 0' INT TERM
up=0
for _ in $(seq 100); do
  if ! kill -0 $pid 2>/dev/null; then break; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
  sleep 0.1
done
if [ $up = 0 ]; then
  echo "The HTTP daemon did not start on 127.0.0.1:$port (is the port taken? try: make run PORT=9000)" >&2
  wait $pid
  exit 1
fi

cat <<MSG

${bold}The daemon is running on the demo warehouse: http://127.0.0.1:$port/mcp${plain}
  Claude Code (HTTP, shared):  claude mcp add --transport http snowflake http://127.0.0.1:$port/mcp
  Claude Code (stdio):         claude mcp add snowflake -- $bin
  Claude Desktop:              add to claude_desktop_config.json:
    "mcpServers": { "snowflake": { "command": "$bin" } }
  Health: http://127.0.0.1:$port/healthz  Ready: http://127.0.0.1:$port/readyz  Metrics: http://127.0.0.1:$port/metrics
  Your own data: SNOWFLAKE_MCP_DSN=sqlite:///path/to/file.db or postgres://user@host/db
  More: $bin --help
Press Ctrl-C to stop.
MSG
wait $pid
