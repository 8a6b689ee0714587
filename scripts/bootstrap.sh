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
# --- Azurite (the Azure Storage emulator, npm): local runs and tests only -----------------------------------------
# AIB_AZURITE=auto (default): installed when AIB_LOCK=dev and npm exists; 1 (true): required; 0 (false): never. AIB_LOCK=runtime (what
# deploy and preview jobs use, with credentials) never installs an npm package, whatever AIB_AZURITE says. It comes
# only from the committed tools/azurite/package-lock.json (every package pinned by its sha512 integrity) through
# `npm ci --ignore-scripts` (no install scripts run), never from `npm install`, which resolves versions at install
# time. The copy of the lock in .local/ is the stamp: a changed lock re-installs.
azurite="${AIB_AZURITE:-auto}"
case "$azurite" in
  auto) ;;
  1|true) azurite=1 ;;
  0|false) azurite=0 ;;
  *) echo "bootstrap: AIB_AZURITE must be auto, 1 (true) or 0 (false), not '${azurite}'" >&2; exit 2 ;;
esac
if [ "${AIB_LOCK:-dev}" = runtime ]; then
  azurite=0
fi
if [ "$azurite" != 0 ] && { ! cmp -s "$root/tools/azurite/package-lock.json" "$root/.local/package-lock.json" \
    || [ ! -x "$root/.local/node_modules/.bin/azurite-blob" ]; }; then
  if command -v npm >/dev/null 2>&1; then
    mkdir -p "$root/.local"
    cp "$root/tools/azurite/package.json" "$root/tools/azurite/package-lock.json" "$root/.local/"
    npm ci --prefix "$root/.local" --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null \
      || { echo "bootstrap: could not install Azurite (npm ci from tools/azurite/package-lock.json); local runs with repository scripts need it" >&2
           rm -f "$root/.local/package-lock.json"; [ "$azurite" != 1 ] || exit 1; }
  elif [ "$azurite" = 1 ]; then
    echo "bootstrap: AIB_AZURITE=1 but npm is missing (Azurite comes from tools/azurite/package-lock.json)" >&2; exit 1
  fi
fi
# --- end of Azurite -----------------------------------------------------------------------------------------------
# The Pulumi CLI (built once from the Go module proxy when no fitting one is installed) and its Python shims.
bash "$root/scripts/pulumi-cli.sh"
# --- The Pulumi YAML language host (Go module proxy): local runs and tests only --------------------------------------
# pulumi-language-yaml, beside the CLI in .local/bin, runs `runtime: yaml` programs (examples/yaml-platform, which uses
# the pipeline as a component package). Built once by tools/pulumi-yaml/build.sh from tools/pulumi-yaml/go.sum (about
# 1.5 minutes on 2 cores from cold Go caches; nothing when its stamp matches). AIB_YAML=auto (default): built when
# AIB_LOCK=dev and Go exists; 1 (true): required; 0 (false): never. AIB_LOCK=runtime never builds it.
yaml_host="${AIB_YAML:-auto}"
case "$yaml_host" in
  auto) ;;
  1|true) yaml_host=1 ;;
  0|false) yaml_host=0 ;;
  *) echo "bootstrap: AIB_YAML must be auto, 1 (true) or 0 (false), not '${yaml_host}'" >&2; exit 2 ;;
esac
if [ "${AIB_LOCK:-dev}" = runtime ]; then
  yaml_host=0
fi
if [ "$yaml_host" = 1 ] || { [ "$yaml_host" = auto ] && command -v go >/dev/null 2>&1; }; then
  bash "$root/tools/pulumi-yaml/build.sh"
fi
# --- end of the Pulumi YAML language host ------------------------------------------------------------------------
