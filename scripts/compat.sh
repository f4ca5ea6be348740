#!/usr/bin/env bash
# Black-box compatibility: start the real `hearth serve` with the SmolLM2 test
# model on a free loopback port, create an admin and an API key with the CLI,
# then drive it with the official openai, ollama and anthropic Python clients
# (tests/compat). Used by scripts/test.sh; runnable alone.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

cargo build -q --locked -p hearth
bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/hearth"
model="$(cargo xtask test-models-dir)/smollm2-135m-instruct-q4_1.gguf"
data=$(mktemp -d -t hearth-compat.XXXXXX)
port=$(free_port)
log="$data/server.log"

echo "compat admin password" | "$bin" user add admin --admin --password-stdin --data-dir "$data" >/dev/null
key=$("$bin" key create --user admin --name compat --data-dir "$data" | grep -o 'hk_[A-Za-z0-9]*' | head -n 1)
"$bin" serve --data-dir "$data" --model "$model" --bind "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
echo "==> compatibility suite against http://127.0.0.1:$port"
HEARTH_URL="http://127.0.0.1:$port" HEARTH_API_KEY="$key" HEARTH_MODEL_FILE="$model" \
    HEARTH_CHAT_MODEL=smollm2-135m-instruct-q4_1 HEARTH_EMBED_MODEL=smollm2-135m-instruct-q4_1 \
    HEARTH_COMPAT_VENV="${HEARTH_COMPAT_VENV:-$HOME/.cache/hearth/compat-venv}" \
    tests/compat/run.sh -q -rs || { echo "--- server log"; tail -n 50 "$log"; exit 1; }
