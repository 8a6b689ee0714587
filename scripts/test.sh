#!/usr/bin/env bash
# Installs what the tests need, type-checks the package, then runs every test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/bootstrap.sh"
cd "$root"
echo "== pyright (azure-native type information)"
"$root/.venv/bin/pyright" -p pyrightconfig.json
echo "== pytest"
exec "$root/.venv/bin/python" -m pytest -q "$@"
