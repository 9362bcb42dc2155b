//go:build nolocal

package main

import (
	"context"
	"fmt"
	"io"
)

// runLocal is absent from this build: the Function Compute package is
// built with -tags nolocal, so it holds no E-HPC simulator.
func runLocal(_ context.Context, _ []string, _ func(string) string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "hpcgate local: not in this build (built with -tags nolocal); use go run ./function local")
	return 1
}
