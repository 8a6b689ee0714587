#!/bin/bash
# contoso/golden-images v1.4.0, linux/baseline.sh: what the dev stack's `baseline` step downloads from
# https://raw.githubusercontent.com/contoso/golden-images/v1.4.0/linux/baseline.sh and checks against its
# sha256Checksum. Publish exactly these bytes at that URL (or change the URL and the pin together).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
sudo apt-get update -q
sudo apt-get upgrade -y -q
sudo timedatectl set-timezone UTC
sudo install -d -m 0755 /etc/golden-image
echo "baseline=v1.4.0" | sudo tee /etc/golden-image/baseline >/dev/null
