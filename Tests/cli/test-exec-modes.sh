#!/usr/bin/env bash
# Files keep their source's mode bits in ERMFS: exec refuses a file without execute
# permission (and does not blame vm.memfd_noexec for it); export reports the mode.
set -euo pipefail
tool=$1
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
fail() { echo "$*"; exit 1; }
cp /bin/echo "$dir/plain"; chmod 644 "$dir/plain"
if out=$("$tool" exec "$dir/plain" ran 2>&1); then fail "exec ran a file without execute permission: $out"; fi
grep -qi "execute permission" <<< "$out" || fail "the error does not say why: $out"
if grep -q memfd_noexec <<< "$out"; then fail "blamed vm.memfd_noexec: $out"; fi
cp /bin/echo "$dir/program"; chmod 700 "$dir/program"
[ "$("$tool" exec "$dir/program" ran)" = ran ] || fail "an executable file did not run"
printf 'data\n' > "$dir/data"; chmod 640 "$dir/data"
"$tool" export "$dir/data" | grep -q "mode 0640" || fail "export of a host file does not keep its mode: $("$tool" export "$dir/data")"
out=$("$tool" export --import "$dir" "/$(basename "$dir")/data")
grep -q "mode 0640" <<< "$out" || fail "an imported tree does not keep modes: $out"
echo "modes kept; exec refuses non-executable files"
