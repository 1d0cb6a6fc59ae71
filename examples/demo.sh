#!/bin/sh
# The demo (`make demo`): a server and a client in two lua5.4 processes exchange a few tables
# and print their events. mmnet must be on LUA_PATH / LUA_CPATH (make demo installs it into
# out/tree and sets them). Exits 0 when both ends finished cleanly, within a few seconds.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
lua=${LUA:-lua5.4}
dir=$(mktemp -d /tmp/mmnet-demo.XXXXXX)
trap 'rm -rf "$dir"' EXIT

timeout 15 "$lua" "$here/demo_server.lua" "$dir/port" &
server=$!
# Wait (at most 5 s) for the server to write its port.
i=0
while [ ! -s "$dir/port" ]; do
  i=$((i + 1))
  if [ $i -gt 50 ]; then echo "demo: the server did not start" >&2; kill $server 2>/dev/null; exit 1; fi
  sleep 0.1
done
status=0
timeout 10 "$lua" "$here/demo_client.lua" "$(cat "$dir/port")" || status=$?
wait $server || status=$?
if [ $status = 0 ]; then echo "demo: OK"; else echo "demo: FAILED ($status)"; fi
exit $status
