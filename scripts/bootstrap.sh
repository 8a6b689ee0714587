#!/usr/bin/env bash
# Creates .venv beside the project and installs the locked dependencies and the project itself into it (a no-op when
# up to date).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# --- Python: .venv from the hash-locked requirements, then this project editable ---------------------------------
# AIB_LOCK=dev (default): requirements-dev.lock (runtime + local emulator + tests); AIB_LOCK=runtime: requirements.lock
# (what the program and its provider processes need). Both install with --require-hashes; then `pip install --no-deps
# --no-build-isolation -e .` (setuptools comes from the lock) makes `components` importable from any folder. The
# stamp (lock + pyproject.toml) re-installs only when either changes, so a warm run costs one sha256sum.
py="${PYTHON:-python3}"
case "${AIB_LOCK:-dev}" in
  dev) lock="$root/requirements-dev.lock" ;;
  runtime) lock="$root/requirements.lock" ;;
  *) echo "bootstrap: AIB_LOCK must be dev or runtime, not '${AIB_LOCK}'" >&2; exit 2 ;;
esac
if [ ! -x "$root/.venv/bin/python" ]; then
  "$py" -m venv "$root/.venv"
fi
stamp="$root/.venv/.requirements.sha256"
want="$(cat "$lock" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1) ${AIB_LOCK:-dev}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] \
    || ! compgen -G "$root/.venv/lib/python*/site-packages/aib_images-*.dist-info" >/dev/null; then
  "$root/.venv/bin/python" -m pip install -qq --disable-pip-version-check --require-hashes -r "$lock"
  "$root/.venv/bin/python" -m pip install -qq --disable-pip-version-check --no-deps --no-build-isolation -e "$root"
  echo "$want" > "$stamp"
fi
# --- end of Python ------------------------------------------------------------------------------------------------
# Azurite (the Azure Storage emulator) for local runs of stacks with repository scripts: once, when node exists.
if [ ! -x "$root/.local/node_modules/.bin/azurite-blob" ] && command -v npm >/dev/null 2>&1; then
  npm install --prefix "$root/.local" --no-audit --no-fund --loglevel=error azurite >/dev/null \
    || echo "bootstrap: could not install Azurite (npm install azurite); local runs with repository scripts need it" >&2
fi
# The Pulumi CLI (built once from the Go module proxy when no fitting one is installed) and its Python shims.
bash "$root/scripts/pulumi-cli.sh"
