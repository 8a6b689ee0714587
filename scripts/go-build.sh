#!/usr/bin/env bash
# Builds one Go command from a pinned module folder, printing progress while it runs (a cold build of the Pulumi CLI
# takes minutes on 2 cores, and printed nothing for 11 of them).
#   scripts/go-build.sh LABEL MODULE_DIR OUTPUT PACKAGE LDFLAGS
# GOFLAGS, CGO_ENABLED and the rest come from the caller's environment (with -mod=readonly, go.sum decides every
# module). A line every 30 s says how many of the command's packages are compiled so far; cached ones are not
# compiled again, so a warm build ends early. On failure the compiler's output is printed whole.
set -euo pipefail
label="$1" dir="$2" out="$3" package="$4" ldflags="$5"
cd "$dir"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "bootstrap: $label: resolving and downloading its modules (hashes from go.sum)..." >&2
total="$(go list -deps "$package" | wc -l)"
echo "bootstrap: $label: compiling up to $total packages (the Go build cache keeps them for the next build)..." >&2
start=$SECONDS
go build -v -ldflags "$ldflags" -o "$out" "$package" 2>"$log" &
build=$!
said=$SECONDS
while kill -0 "$build" 2>/dev/null; do
  sleep 1
  if (( SECONDS - said >= 30 )); then
    said=$SECONDS
    echo "bootstrap: $label: $(grep -c . "$log" || true) of $total packages compiled, $((SECONDS - start)) s" >&2
  fi
done
if ! wait "$build"; then
  cat "$log" >&2
  exit 1
fi
echo "bootstrap: $label: $(grep -c . "$log" || true) of $total packages compiled (the rest cached) in $((SECONDS - start)) s" >&2
