#!/usr/bin/env bash
# Run the compatibility suite against the router over the deterministic fake
# backend (no model needed): checks the wire protocol with the real clients.
#
#   tests/compat/run-fake.sh [pytest args…]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
cargo build -q -p hearth-server --example fake_server
log=$(mktemp)
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
"$target/debug/examples/fake_server" 127.0.0.1:0 >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
    grep -q "listening on" "$log" && break
    sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$log")
[ -n "$url" ] || { cat "$log"; echo "fake server did not start" >&2; exit 1; }
HEARTH_URL=$url HEARTH_COMPAT_FAKE=1 "$here/run.sh" "$@"
