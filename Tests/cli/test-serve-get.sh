#!/usr/bin/env bash
# serve answers paths with memfds over a UNIX socket; get, a second process, prints them.
set -euo pipefail
tool=$1
dir=$(mktemp -d); tree="$dir/tree"; mkdir -p "$tree/sub"
seq 1 100000 > "$tree/sub/numbers"; head -c 100000 /dev/urandom > "$tree/blob"
sock="$dir/ermfs.sock"
"$tool" serve --socket "$sock" --import "$tree" > "$dir/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
# Ready once it says so (the socket exists earlier, from before the import).
for _ in $(seq 1 600); do grep -q "^serving" "$dir/serve.log" && break; sleep 0.1; done
grep -q "^serving" "$dir/serve.log" || { echo "server never said it was serving"; cat "$dir/serve.log"; exit 1; }
[ "$(stat -c %a "$sock")" = 600 ] || { echo "socket mode is $(stat -c %a "$sock"), want 600"; exit 1; }
"$tool" get --socket "$sock" /tree/sub/numbers | cmp - "$tree/sub/numbers"
"$tool" get --socket "$sock" --sealed /tree/blob | cmp - "$tree/blob"
if out=$("$tool" get --socket "$sock" /tree/nope 2>&1); then echo "get of a missing path succeeded"; exit 1; fi
grep -qi "no such file" <<< "$out" || { echo "unclear error: $out"; exit 1; }
kill -0 $server || { echo "server died on a bad request"; exit 1; }
echo "served and fetched across processes"
