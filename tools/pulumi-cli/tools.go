//go:build tools

// Package tools pins the Pulumi CLI that scripts/pulumi-cli.sh builds. pkg/v3's own go.mod has replace
// directives, so `go install pkg/v3/cmd/pulumi@v` refuses; this module requires it instead and copies the
// non-filesystem replace (see go.mod).
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
