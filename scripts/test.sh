#!/usr/bin/env bash
# Run every test of the project on a fresh machine: installs the system packages
# it needs, fetches the test models, starts PostgreSQL and Redis on loopback,
# then runs formatting and lint checks and all test suites.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/services.sh

need_packages cmake:cmake clang:clang "/usr/lib/llvm-*/lib/libclang.so*:libclang-dev" chromium:chromium \
    "/usr/lib/postgresql/*/bin/initdb:postgresql" redis-server:redis-server psql:postgresql-client \
    openssl:openssl

echo "==> fetching test models"
cargo xtask fetch-test-models

trap stop_services EXIT
start_services

echo "==> format and lint"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> Rust tests"
cargo test --workspace --locked

echo "==> compatibility with the official clients (real model)"
./scripts/compat.sh

echo "==> web app: unit tests, build checks, end-to-end in Chromium against hearth serve"
./scripts/test-ui.sh --real
