//go:build tools

// Package tools pins the Pulumi YAML language host (pulumi-language-yaml) that tools/pulumi-yaml/build.sh builds
// into .local/bin, the same way tools/pulumi-cli pins the CLI: this module requires it, go.sum holds the hash of
// every module it is built from, and the build runs with -mod=readonly so nothing is resolved at build time.
package tools

import _ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
