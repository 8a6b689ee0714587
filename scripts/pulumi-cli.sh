#!/usr/bin/env bash
# The Pulumi CLI for local runs, in .local/bin: a `pulumi` already on PATH when it is the pinned version, otherwise
# built once from the Go module proxy (tools/pulumi-cli pins it; go.sum holds the hashes of every module).
# Beside it go the SDK's Python shims the CLI runs: the dynamic-provider launcher and the program launcher.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.local/bin"
module="$root/tools/pulumi-cli"
version="$(sed -n 's/.*github.com\/pulumi\/pulumi\/pkg\/v3 \(v[0-9][0-9.]*\).*/\1/p' "$module/go.mod" | head -n 1)"
mkdir -p "$bin"

have() { [ -x "$1" ] && [ "$("$1" version 2>/dev/null)" = "$version" ]; }

if ! have "$bin/pulumi"; then
  ambient="$(command -v pulumi || true)"
  if [ -n "$ambient" ] && have "$ambient"; then
    ln -sf "$ambient" "$bin/pulumi"
  else
    command -v go >/dev/null || { echo "bootstrap: the Pulumi CLI $version is not installed and Go is missing to build it" >&2; exit 1; }
    echo "bootstrap: building the Pulumi CLI $version from the Go module proxy (once; 3.5 to 11 minutes on 2 cores with cold Go caches: 208 s and 676 s measured)..." >&2
    start=$SECONDS
    CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath -tags=osusergo,grpcnotrace" "$root/scripts/go-build.sh" \
      "Pulumi CLI $version" "$module" "$bin/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
      "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version"
    mv "$bin/pulumi.tmp" "$bin/pulumi"
    echo "bootstrap: built $("$bin/pulumi" version) in $((SECONDS - start)) s" >&2
  fi
fi

if [ ! -x "$bin/pulumi-language-python-exec" ] || [ ! -x "$bin/pulumi-resource-pulumi-python" ]; then
  sdk="$(cd "$module" && go mod download -json "github.com/pulumi/pulumi/sdk/v3@$version" \
        | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
  install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$sdk/python/dist/pulumi-resource-pulumi-python" "$bin/"
fi
