#!/usr/bin/env bash
# Installs what the tests need, type-checks the package, then runs every test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/bootstrap.sh"
cd "$root"
echo "== pyright (azure-native type information)"
"$root/.venv/bin/pyright" -p pyrightconfig.json
echo "== ruff (unused imports and variables), lint-imports (layers import only downward), vulture (dead code)"
"$root/.venv/bin/ruff" check --quiet
"$root/.venv/bin/lint-imports" --no-cache --no-logo
"$root/.venv/bin/vulture" components __main__.py tests bench examples policy tools/arm_definitions.py \
  vulture_whitelist.py --min-confidence 60 --exclude tests/fixtures
echo "== pytest"
exec "$root/.venv/bin/python" -m pytest -q "$@"
