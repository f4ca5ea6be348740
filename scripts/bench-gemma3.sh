#!/usr/bin/env bash
# Benchmark Hearth against llama-server on Gemma 3 270M (a base model without a
# chat template). llama-server renders chat with its ChatML fallback; Hearth
# gets the same ChatML template through a preset (`hearth create
# --template-file`), so both servers see the same prompt tokens.
# Usage: scripts/bench-gemma3.sh [cargo xtask bench options]
# Writes docs/PERFORMANCE-gemma3.md unless --output/--no-write say otherwise.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [[ "${1:-}" == "--serve" ]]; then
    # Called by the bench as the Hearth launch command.
    bin="$2" model="$3" data_dir="$4" port="$5" threads="$6" ctx_per_seq="$7" parallel="$8"
    "$bin" import "$model" gemma3:270m --data-dir "$data_dir" >/dev/null
    "$bin" create gemma3-chat --from gemma3:270m \
        --template-file "$here/../xtask/assets/chatml.jinja" --data-dir "$data_dir" >/dev/null
    exec env HEARTH_AUTH_ENABLED=false HEARTH_ENGINE_THREADS="$threads" \
        HEARTH_ENGINE_CONTEXT_TOKENS="$ctx_per_seq" HEARTH_ENGINE_PARALLEL="$parallel" \
        "$bin" serve --bind "127.0.0.1:$port" --data-dir "$data_dir"
fi
cd "$here/.."
cargo xtask fetch-test-models
cargo build --release -p hearth
model="${HEARTH_TEST_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/hearth/test-models}/gemma3-270m-q4_k_m.gguf"
exec cargo xtask bench --model "$model" --model-name gemma3-chat \
    --output docs/PERFORMANCE-gemma3.md \
    --hearth-cmd "$here/bench-gemma3.sh --serve {target_dir}/release/hearth {model} {data_dir} {port} {threads} {ctx_per_seq} {parallel}" \
    "$@"
