#!/usr/bin/env bash
# The Pulumi YAML language host (pulumi-language-yaml) in .local/bin, beside the CLI, which finds it there when it runs
# a `runtime: yaml` program (examples/yaml-platform). Built from the Go module proxy like the CLI
# (scripts/pulumi-cli.sh): this folder's go.mod requires github.com/pulumi/pulumi-yaml at the pinned version, go.sum
# holds the hash of every module it is built from, and -mod=readonly keeps the build from resolving anything else.
# Built once: .local/bin/.pulumi-language-yaml.sha256 records the sha256 of go.mod, go.sum and the build flags, and a
# run whose stamp matches (and whose binary exists) does nothing.
#
# v1.25.0 is built with github.com/pulumi/pulumi/sdk/v3 v3.206.0 (its own go.mod; the CLI pinned in tools/pulumi-cli
# is v3.274.1, newer, and speaks the same language-host protocol). Measured from cold Go caches on this project's
# 2-core machine: 19 s to download the modules + 73 s to build (load average 2 to 3).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
module="$root/tools/pulumi-yaml"
bin="$root/.local/bin"
version="$(sed -n 's/^require github.com\/pulumi\/pulumi-yaml \(v[0-9][0-9.]*\)$/\1/p' "$module/go.mod" | head -n 1)"
[ -n "$version" ] || { echo "bootstrap: tools/pulumi-yaml/go.mod does not require github.com/pulumi/pulumi-yaml" >&2; exit 1; }
ldflags="-s -w -X github.com/pulumi/pulumi-yaml/pkg/version.Version=$version"
stamp="$bin/.pulumi-language-yaml.sha256"
want="$(cat "$module/go.mod" "$module/go.sum" <(echo "$ldflags") | sha256sum | cut -d' ' -f1)"
if [ -x "$bin/pulumi-language-yaml" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
command -v go >/dev/null || { echo "bootstrap: Go is missing to build the Pulumi YAML language host $version" >&2; exit 1; }
mkdir -p "$bin"
echo "bootstrap: building the Pulumi YAML language host $version from the Go module proxy (once; 1.5 to 2.5 minutes on 2 cores with cold Go caches: 92 s and 147 s measured)..." >&2
start=$SECONDS
CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath" "$root/scripts/go-build.sh" "pulumi-language-yaml $version" "$module" \
  "$bin/pulumi-language-yaml.tmp" github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml "$ldflags"
mv "$bin/pulumi-language-yaml.tmp" "$bin/pulumi-language-yaml"
echo "$want" > "$stamp"
echo "bootstrap: built pulumi-language-yaml $version in $((SECONDS - start)) s" >&2
