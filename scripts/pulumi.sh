#!/usr/bin/env bash
# Any Pulumi command against the local emulator (no Azure account), as `pulumi ARGS...` runs against Azure:
#   bash scripts/pulumi.sh preview --stack dev --diff
#   bash scripts/pulumi.sh up --stack dev --yes
#   bash scripts/pulumi.sh config set --stack dev --secret aib-images:someKey value
#   bash scripts/pulumi.sh stack export --stack dev
#   bash scripts/pulumi.sh destroy --stack dev --yes
# The first call starts the local cloud (the ARM emulator, and Azurite for repository scripts) in the background, with
# its state under .local/cloud; `bash scripts/pulumi.sh cloud stop` stops it. The backend is .local/backend.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/bootstrap.sh" >&2
if [ "${1:-}" = "cloud" ] && [ "${2:-}" = "stop" ]; then
  exec "$root/.venv/bin/python" -m components.local.cloud stop --dir "${AIB_LOCAL_STATE_DIR:-$root/.local}/cloud"
fi
# The project is the current folder when it has a Pulumi.yaml (examples/platform), else this repository.
[ -f Pulumi.yaml ] || cd "$root"
exec "$root/.venv/bin/python" -m components.local.engine "$@"
