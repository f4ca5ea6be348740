#!/usr/bin/env bash
# Black-box compatibility suite: drives a running Hearth with the official
# `openai`, `ollama` and `anthropic` Python packages and raw HTTP.
#
#   HEARTH_URL=http://127.0.0.1:4327 tests/compat/run.sh [pytest args…]
#
# Optional: HEARTH_API_KEY (sent as bearer / x-api-key), HEARTH_CHAT_MODEL and
# HEARTH_EMBED_MODEL (otherwise discovered through /api/tags and /api/show),
# HEARTH_COMPAT_VENV (where the venv lives; default tests/compat/.venv).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${HEARTH_URL:?set HEARTH_URL to the server under test, e.g. http://127.0.0.1:4327}"
venv=${HEARTH_COMPAT_VENV:-$here/.venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
cd "$here"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
