#!/usr/bin/env bash
# Creates .venv beside the project and installs requirements.txt into it (a no-op when up to date).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${PYTHON:-python3}"
if [ ! -x "$root/.venv/bin/python" ]; then
  "$py" -m venv "$root/.venv"
fi
stamp="$root/.venv/.requirements.sha256"
want="$(sha256sum "$root/requirements.txt" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$root/.venv/bin/python" -m pip install -qq --disable-pip-version-check --upgrade pip >/dev/null
  "$root/.venv/bin/python" -m pip install -qq --disable-pip-version-check -r "$root/requirements.txt"
  echo "$want" > "$stamp"
fi
# Azurite (the Azure Storage emulator) for local runs of stacks with repository scripts: once, when node exists.
if [ ! -x "$root/.local/node_modules/.bin/azurite-blob" ] && command -v npm >/dev/null 2>&1; then
  npm install --prefix "$root/.local" --no-audit --no-fund --loglevel=error azurite >/dev/null \
    || echo "bootstrap: could not install Azurite (npm install azurite); local runs with repository scripts need it" >&2
fi
