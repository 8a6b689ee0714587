# contoso/golden-images v1.4.0, windows/baseline.ps1: what the prod stack's `baseline` step downloads from
# https://raw.githubusercontent.com/contoso/golden-images/v1.4.0/windows/baseline.ps1 and checks against its
# sha256Checksum. Publish exactly these bytes at that URL (or change the URL and the pin together).
$ErrorActionPreference = 'Stop'
Set-TimeZone -Id 'UTC'
New-Item -ItemType Directory -Force -Path 'C:\golden-image' | Out-Null
Set-Content -Path 'C:\golden-image\baseline.txt' -Value 'baseline=v1.4.0'
