#!/bin/bash
# Baseline for the dev image: unattended upgrades on, a marker file the validator checks.
# Runs on the build VM as the packer user (sudo available). Editing this file rebuilds the image.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
sudo apt-get update -q
sudo apt-get install -y -q --no-install-recommends unattended-upgrades ca-certificates
sudo systemctl enable unattended-upgrades

sudo install -d -m 0755 /etc/golden-image
echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)" | sudo tee /etc/golden-image/build-info >/dev/null
