//go:build tools

// Package tools pins the commands built from github.com/kedacore/keda/v2 so
// that `go mod tidy` records every module they need in go.mod and go.sum.
package tools

import (
	_ "github.com/kedacore/keda/v2/cmd/adapter"
	_ "github.com/kedacore/keda/v2/cmd/operator"
)
