package harness

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/test/fcemu"
)

// RunWithGateway is a package's TestMain for tests that drive the gateway
// binary: it builds GatewayPackage once into *binary, runs the tests,
// removes the build and returns the exit code for os.Exit.
func RunWithGateway(m *testing.M, binary *string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bin, err := fcemu.BuildBinary(ctx, GatewayPackage, "")
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build gateway:", err)
		return 1
	}
	*binary = bin
	defer fcemu.RemoveBuilds()
	return m.Run()
}
