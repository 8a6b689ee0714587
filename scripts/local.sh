#!/usr/bin/env bash
# The main job on the embedded default: `pulumi up` of a stack on the local ARM emulator (no Azure account), with
# Pulumi's own progress, then the stack outputs. Successive runs update the same local cloud and backend (.local/).
#   bash scripts/local.sh                  # the dev stack
#   bash scripts/local.sh --stack prod --json   # stdout: only the outputs' JSON; progress on stderr
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stack=dev
json=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --stack|-s) stack="$2"; shift 2 ;;
    --json) json=(--json); shift ;;
    *) echo "usage: bash scripts/local.sh [--stack NAME] [--json]" >&2; exit 2 ;;
  esac
done
if [ "${#json[@]}" -gt 0 ]; then
  # --json: stdout is the outputs' JSON alone (for jq and other programs); Pulumi's progress goes to stderr.
  bash "$root/scripts/pulumi.sh" up --stack "$stack" --yes >&2
else
  bash "$root/scripts/pulumi.sh" up --stack "$stack" --yes
fi
bash "$root/scripts/pulumi.sh" stack output --stack "$stack" "${json[@]}"
