// Command hpcgate is the E-HPC shell-command gateway: the Function Compute
// handler (when FC_RUNTIME_API is set), a local server (`local`), and a
// policy decision tool (`check`).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/hpcgate/hpcgate/function/internal/check"
)

func main() {
	if os.Getenv("FC_RUNTIME_API") != "" && len(os.Args) == 1 {
		os.Exit(runFC(os.Getenv))
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return 1
	}
	switch args[0] {
	case "local":
		return runLocal(context.Background(), args[1:], os.Getenv, os.Stdout, os.Stderr)
	case "check":
		return check.Main(args[1:], os.Stdin, os.Stdout, os.Stderr)
	case "help", "-h", "--help":
		fmt.Println(usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "hpcgate: unknown command %q\n%s\n", args[0], usage)
		return 1
	}
}

const usage = `usage: hpcgate <command> [flags]

commands:
  local   run the gateway on this machine (built-in E-HPC simulator, dev token;
          not in the FC code package, which is built with -tags nolocal)
  check   decide a request read from stdin against a policy set

Without a command and with FC_RUNTIME_API set, hpcgate runs as the
Function Compute handler.`
