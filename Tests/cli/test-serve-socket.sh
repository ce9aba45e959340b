#!/usr/bin/env bash
# serve owns its socket: --replace takes over only a stale socket (nobody listening), a
# stopping server removes only its own socket, --allow-any-user lets other users in
# (socket mode 0666 plus the uid check), and a bad socket path fails before any import.
set -euo pipefail
tool=$1
dir=$(mktemp -d); chmod 755 "$dir"
mkdir -p "$dir/one" "$dir/two"; echo one > "$dir/one/file"; echo two > "$dir/two/file"
sock="$dir/s"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "$*"; exit 1; }
# Waits until a server started in the background says it serves, or ends.
outcome() { # LOG PID
  for _ in $(seq 1 1200); do
    grep -q "^serving" "$1" && { echo serving; return; }
    kill -0 "$2" 2>/dev/null || { echo exited; return; }
    sleep 0.05
  done
  echo "still starting"
}

"$tool" serve --socket "$sock" --import "$dir/one" > "$dir/a.log" 2>&1 & a=$!; pids+=("$a")
[ "$(outcome "$dir/a.log" "$a")" = serving ] || { cat "$dir/a.log"; fail "server a did not start"; }

# 1. A live server's socket is never replaced.
"$tool" serve --replace --socket "$sock" --import "$dir/two" > "$dir/b.log" 2>&1 & b=$!; pids+=("$b")
[ "$(outcome "$dir/b.log" "$b")" = exited ] || fail "--replace took over a live server's socket"
grep -qi "listening" "$dir/b.log" || { cat "$dir/b.log"; fail "the refusal does not say a server is listening"; }
[ "$("$tool" get --socket "$sock" /one/file)" = one ] || fail "the live server lost its socket"

# 2. A stale socket (its server was killed) needs --replace, and --replace takes it.
kill -KILL "$a"; wait "$a" 2>/dev/null || true
[ -S "$sock" ] || fail "SIGKILL left no socket behind to test with"
if "$tool" serve --socket "$sock" --import "$dir/two" > "$dir/c.log" 2>&1; then fail "serve took a stale socket without --replace"; fi
grep -q -- "--replace" "$dir/c.log" || { cat "$dir/c.log"; fail "no hint at --replace"; }
"$tool" serve --replace --socket "$sock" --import "$dir/two" > "$dir/d.log" 2>&1 & d=$!; pids+=("$d")
[ "$(outcome "$dir/d.log" "$d")" = serving ] || { cat "$dir/d.log"; fail "--replace did not take a stale socket"; }
[ "$("$tool" get --socket "$sock" /two/file)" = two ] || fail "the replacing server does not answer"

# 3. Stopping a server whose socket was taken over leaves the new socket alone.
rm "$sock"
"$tool" serve --socket "$sock" --import "$dir/one" > "$dir/e.log" 2>&1 & e=$!; pids+=("$e")
[ "$(outcome "$dir/e.log" "$e")" = serving ] || { cat "$dir/e.log"; fail "server e did not start"; }
kill -TERM "$d"; wait "$d" || true
[ -S "$sock" ] || fail "stopping the old server removed the new server's socket"
[ "$("$tool" get --socket "$sock" /one/file)" = one ] || fail "the new server does not answer"
kill -TERM "$e"; wait "$e" || true
[ ! -e "$sock" ] || fail "a stopped server left its own socket behind"

# 4. --allow-any-user: mode 0666 and another user is served; without it, mode 0600.
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  "$tool" serve --socket "$dir/private" --import "$dir/one" > "$dir/f.log" 2>&1 & f=$!; pids+=("$f")
  "$tool" serve --allow-any-user --socket "$dir/any" --import "$dir/one" > "$dir/g.log" 2>&1 & g=$!; pids+=("$g")
  [ "$(outcome "$dir/f.log" "$f")" = serving ] && [ "$(outcome "$dir/g.log" "$g")" = serving ] \
    || { cat "$dir/f.log" "$dir/g.log"; fail "servers f/g did not start"; }
  [ "$(stat -c %a "$dir/private")" = 600 ] || fail "default socket mode $(stat -c %a "$dir/private"), want 600"
  [ "$(stat -c %a "$dir/any")" = 666 ] || fail "--allow-any-user socket mode $(stat -c %a "$dir/any"), want 666"
  if out=$(as_nobody "$tool" get --socket "$dir/private" /one/file 2>&1); then fail "another user read a private server"; fi
  grep -qi "permission denied" <<< "$out" || fail "unclear refusal: $out"
  [ "$(as_nobody "$tool" get --socket "$dir/any" /one/file)" = one ] || fail "--allow-any-user did not serve another user"
else
  echo "(not root or no setpriv: --allow-any-user not checked against another user)"
fi

# 5. A socket path that cannot work fails before anything is imported.
ln -s /etc/hostname "$dir/one/link"   # import names it: "skipped ... (symbolic link"
if out=$("$tool" serve --socket "$dir/missing/s" --import "$dir/one" 2>&1); then fail "serve on a missing directory succeeded"; fi
grep -q "missing/s" <<< "$out" || fail "the error does not name the socket: $out"
if grep -q skipped <<< "$out"; then fail "the trees were imported before the socket path was checked: $out"; fi
# 6. SIGTERM while the trees are imported (the socket already exists): the socket goes.
# Sent while the server is stopped (SIGSTOP) before it says "serving", so no timing matters;
# a run that gets to serving first is stopped the ordinary way and tried with more files.
mkdir "$dir/big"; size=16
for attempt in 1 2 3 4 5; do
  head -c "${size}M" /dev/zero | split -b 8k - "$dir/big/part-$attempt-"
  "$tool" serve --socket "$dir/big.sock" --import "$dir/big" > "$dir/h.log" 2>&1 & h=$!; pids+=("$h")
  until [ -S "$dir/big.sock" ] || ! kill -0 "$h" 2>/dev/null; do sleep 0.01; done
  kill -STOP "$h"
  importing=yes; grep -q "^serving" "$dir/h.log" && importing=no
  kill -TERM "$h"; kill -CONT "$h"
  rc=0; wait "$h" || rc=$?
  [ ! -e "$dir/big.sock" ] || fail "SIGTERM (importing: $importing) left the socket behind"
  if [ "$importing" = yes ]; then
    [ "$rc" -eq 143 ] || { cat "$dir/h.log"; fail "serve interrupted during its import exited $rc, want 143"; }
    echo "SIGTERM during the import (attempt $attempt, ${size} MiB): socket removed, exit 143"
    break
  fi
  [ "$attempt" -lt 5 ] || fail "never caught serve inside its import"
  size=$((size * 2))
done

echo "serve replaces only stale sockets, removes only its own, and admits other users only when asked"
