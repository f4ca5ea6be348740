#!/usr/bin/env bash
# Test the web app: unit tests (Vitest), the production build and its checks
# (no inline code, JS budget), then the end-to-end tests in Debian's Chromium.
#   scripts/test-ui.sh          e2e against the mock server (web/e2e/mock-server.mjs)
#   scripts/test-ui.sh --real   e2e against a fresh `hearth serve` with the small
#                               test model (builds the binary with the app embedded)
# Needs Node.js >= 20.19 with npm; installs Debian's chromium when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_packages chromium:chromium
command -v node >/dev/null || { echo "Node.js >= 20.19 is needed for the web app" >&2; exit 1; }

echo "==> web: install, unit tests, build"
(cd web && npm ci --no-audit --no-fund && npm test && npm run build && npm run check)
touch crates/hearth-server/build.rs

if [ "${1:-}" != "--real" ]; then
    echo "==> web: end-to-end (mock server)"
    (cd web && npm run e2e)
    exit 0
fi

echo "==> web: end-to-end against hearth serve"
cargo xtask fetch-test-models
model="$(cargo xtask test-models-dir)/smollm2-135m-instruct-q4_1.gguf"
cargo build --locked -p hearth
data="$(mktemp -d)"
port="$(free_port)"
log="$data/serve.log"
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
"$target/debug/hearth" serve --bind "127.0.0.1:$port" --data-dir "$data" --model "$model" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.5
done
token="$(sed -n 's/.*"token": "\([^"]*\)".*/\1/p' "$log" | head -n 1)"
[ -n "$token" ] || { echo "no setup token in the server's output:" >&2; cat "$log" >&2; exit 1; }
# The e2e serves the same model file from a loopback HTTP server and pulls it.
(cd web && HEARTH_URL="http://127.0.0.1:$port" HEARTH_SETUP_TOKEN="$token" HEARTH_TEST_MODEL="$model" npm run e2e)
