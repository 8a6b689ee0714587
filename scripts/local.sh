#!/usr/bin/env bash
# The main job on the embedded default: run a stack against the local ARM emulator (no Azure account).
#   bash scripts/local.sh            # the dev stack
#   bash scripts/local.sh --stack prod --json
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/bootstrap.sh"
cd "$root"
if [ "$#" -eq 0 ]; then set -- --stack dev; fi
exec "$root/.venv/bin/python" -m components local "$@"
