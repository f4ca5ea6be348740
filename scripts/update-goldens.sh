#!/usr/bin/env bash
# Regenerate the checked-in goldens (OpenAPI document, example config) from the code.
set -euo pipefail
cd "$(dirname "$0")/.."
UPDATE_GOLDENS=1 cargo test -q -p hearth-server --test http golden
cargo run -q -p hearth -- config example > docs/hearth.example.toml
echo "goldens updated: docs/openapi.json docs/ERRORS.md docs/hearth.example.toml"
