#!/usr/bin/env bash
# Run Hearth on a fresh machine: install build packages, fetch the default small
# model (SmolLM2-135M-Instruct), build the release binary and serve it on
# http://127.0.0.1:4327. Extra arguments go to `hearth serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_packages cmake:cmake clang:clang "/usr/lib/llvm-*/lib/libclang.so*:libclang-dev" python3:python3
echo "==> fetching the default model"
cargo xtask fetch-test-models
model="$(cargo xtask test-models-dir)/smollm2-135m-instruct-q4_1.gguf"
if command -v npm >/dev/null 2>&1; then
    echo "==> building the web app"
    ./scripts/build-ui.sh
else
    echo "==> npm not found: serving without the web app (the APIs work; install Node.js >= 20.19 for the UI)"
fi
echo "==> building (the first build compiles llama.cpp: ~10 minutes on 2 cores)"
cargo build --release --locked -p hearth
exec cargo run --release --locked -q -p hearth -- serve --model "$model" "$@"
