#!/usr/bin/env bash
# Build the web app into web/dist; the next `cargo build` embeds it into the
# binary (crates/hearth-server/build.rs). Needs Node.js >= 20.19 and npm.
set -euo pipefail
cd "$(dirname "$0")/../web"
npm ci --no-audit --no-fund
npm run build
# Make cargo notice the new files even when a shared target dir saw another tree.
touch ../crates/hearth-server/build.rs
