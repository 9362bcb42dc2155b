//go:build !nolocal

// Local mode runs the gateway on a developer's machine in front of the
// E-HPC simulator. It is left out of the Function Compute package
// (deploy/package builds with -tags nolocal): a production function has no
// use for a simulator that runs commands with bash.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"

	"github.com/hpcgate/hpcgate/function/internal/audit"
	"github.com/hpcgate/hpcgate/function/internal/authn"
	"github.com/hpcgate/hpcgate/function/internal/config"
	"github.com/hpcgate/hpcgate/function/internal/devidp"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/page"
	"github.com/hpcgate/hpcgate/test/ehpcsim/simulator"
)

// localFlags are the flags of `hpcgate local`.
type localFlags struct {
	listen           string
	insecureListen   bool
	cluster          string
	nodes            int
	policies         string
	jwks             string
	issuer, audience string
	groupsClaim      string
	endpoint         string
	user             string
	groups           string
	simDir           string
	events           string
	account          string
	devTokenTTL      time.Duration
}

func runLocal(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var f localFlags
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:9000", "address to serve the HTTP API on (loopback only, unless --insecure-listen)")
	fs.BoolVar(&f.insecureListen, "insecure-listen", false, "allow --listen beyond loopback: anyone who reaches the port can POST /invoke, which is unauthenticated and may act as any service principal")
	fs.StringVar(&f.cluster, "cluster", "ehpc-hz-demo01", "id of the simulated cluster")
	fs.IntVar(&f.nodes, "nodes", 3, "nodes in the simulated cluster")
	fs.StringVar(&f.policies, "policies", "", "directory of governance data (*.json) and extension rules (*.rego); default: the embedded policies")
	fs.StringVar(&f.jwks, "jwks", "", "JWKS file to verify tokens with (needs --issuer and --audience); default: a dev issuer whose token is printed")
	fs.StringVar(&f.issuer, "issuer", "", "token issuer, with --jwks")
	fs.StringVar(&f.audience, "audience", "", "token audience, with --jwks")
	fs.StringVar(&f.groupsClaim, "groups-claim", config.DefaultGroupsClaim, "claim that lists the caller's groups")
	fs.StringVar(&f.endpoint, "ehpc-endpoint", "", "a real E-HPC endpoint URL (credentials from ALIBABA_CLOUD_* variables); default: the built-in simulator")
	fs.StringVar(&f.user, "user", "alice", "user the printed dev token names")
	fs.StringVar(&f.groups, "groups", "researchers", "comma-separated groups of the dev token")
	fs.StringVar(&f.events, "events", "", "kinds of event /invoke accepts, comma separated (http, invoke, oss, eventbridge, timer); default: HPCGATE_EVENTS, else http")
	fs.StringVar(&f.account, "account", "", "the account id OSS buckets must belong to; default: HPCGATE_ACCOUNT_ID")
	fs.StringVar(&f.simDir, "sim-dir", "", "directory for the simulated nodes; default: a temporary directory")
	fs.DurationVar(&f.devTokenTTL, "dev-token-ttl", 12*time.Hour, "how long the dev issuer's tokens are valid (printed and signed in on the page)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hpcgate local [flags]\n\nRuns the gateway on this machine with the built-in E-HPC simulator and a dev token.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hpcgate local: unexpected argument %q\n", fs.Arg(0))
		return 1
	}
	if err := checkListen(f.listen, f.insecureListen); err != nil {
		fmt.Fprintf(stderr, "hpcgate local: %v\n", err)
		return 1
	}
	if err := serveLocal(ctx, f, getenv, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "hpcgate local: %v\n", err)
		return 1
	}
	return 0
}

// checkListen refuses a listen address beyond loopback unless insecure:
// local mode serves POST /invoke, which takes any FC event without a
// token, so whoever reaches the port could run commands as any service
// principal.
func checkListen(addr string, insecure bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	if hpcgate.IsLoopbackHost(host) || insecure {
		return nil
	}
	if host == "" {
		host = "every interface"
	}
	return fmt.Errorf("--listen %s serves %s beyond this machine, and POST /invoke there is unauthenticated (any event, as any service principal); listen on 127.0.0.1 or add --insecure-listen if you mean it", addr, host)
}

func serveLocal(ctx context.Context, f localFlags, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Flags win over the environment, which still sets everything else.
	env := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			env[k] = v
		}
	}
	set("HPCGATE_POLICIES_DIR", f.policies)
	set("HPCGATE_JWKS_FILE", f.jwks)
	set("HPCGATE_JWT_ISSUER", f.issuer)
	set("HPCGATE_JWT_AUDIENCE", f.audience)
	set("HPCGATE_JWT_GROUPS_CLAIM", f.groupsClaim)
	set("HPCGATE_EHPC_ENDPOINT", f.endpoint)
	set("HPCGATE_EVENTS", f.events)
	set("HPCGATE_ACCOUNT_ID", f.account)
	cfg, err := config.Load(func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return getenv(k)
	})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := audit.NewLogger(stderr, cfg.LogLevel)

	// Seals made with a random key open only while this process runs.
	opt := options{anyOwnerKey: true}
	if cfg.EHPCEndpoint == "" {
		sc := simulator.DefaultConfig()
		nodes := simulator.NodeIDs(f.nodes)
		sc.Clusters = []simulator.Cluster{{ID: f.cluster, Status: "Running", Nodes: nodes}}
		sc.Region = cfg.Region
		sc.Dir = f.simDir
		sc.Logger = log.With("component", "ehpcsim")
		bin, err := os.MkdirTemp("", "hpcgate-demo-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(bin)
		if err := simulator.WriteDemoCommands(bin); err != nil {
			return fmt.Errorf("e-hpc simulator: %w", err)
		}
		sc.Path = []string{bin}
		sim, err := simulator.New(sc)
		if err != nil {
			return fmt.Errorf("e-hpc simulator: %w", err)
		}
		defer sim.Close()
		endpoint, err := sim.Listen("127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("e-hpc simulator: %w", err)
		}
		cfg.EHPCEndpoint = endpoint
		opt.credentials = credentials.NewStaticAKCredentialsProvider(simulator.DefaultAccessKeyID, simulator.DefaultAccessKeySecret)
		fmt.Fprintf(stdout, "E-HPC simulator: %s, cluster %s, nodes %s\n", endpoint, f.cluster, strings.Join(nodes, " "))
	}

	var (
		token string
		idp   *devidp.Provider
	)
	if !cfg.HasJWKS() {
		dev, err := authn.NewDevIssuer()
		if err != nil {
			return fmt.Errorf("dev issuer: %w", err)
		}
		// The dev issuer writes groups to its own claim, whatever
		// --groups-claim says for real tokens.
		opt.verifier, err = authn.New(dev.Config())
		if err != nil {
			return fmt.Errorf("dev issuer: %w", err)
		}
		var groups []string
		if f.groups != "" {
			groups = strings.Split(f.groups, ",")
		}
		token, err = dev.Token(f.user, groups, false, f.devTokenTTL)
		if err != nil {
			return fmt.Errorf("dev token: %w", err)
		}
		idp = devidp.New(dev, f.user, groups, f.devTokenTTL)
		opt.page = &page.Config{Issuer: authn.LocalIssuer, ClientID: devidp.ClientID, Scopes: config.DefaultOIDCScopes,
			Discovery: devidp.Path + "/.well-known/openid-configuration", Dev: true, Clusters: []string{f.cluster}}
	} else {
		opt.page = &page.Config{Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, Scopes: cfg.OIDCScopes, Clusters: []string{f.cluster}}
	}

	gw, err := newGateway(ctx, cfg, log, opt)
	if err != nil {
		return err
	}
	if err := gw.loadPolicy(ctx); err != nil {
		return err
	}
	gw.api.Extra = map[string]http.Handler{"/invoke": gw.invokeHandler()}
	if idp != nil {
		gw.api.Extra[devidp.Path+"/"] = idp.Handler()
	}
	if gw.bundles != nil {
		go gw.bundles.Run(ctx)
	}

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: gw.handler(), ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "hpcgate listening on %s (policies: %s)\n", base, gw.api.Revision())
	if f.insecureListen {
		if host, _, _ := net.SplitHostPort(ln.Addr().String()); !hpcgate.IsLoopbackHost(host) {
			fmt.Fprintf(stderr, "WARNING: --insecure-listen: %s serves POST /invoke without authentication to every host that reaches it; anyone there can run what any service principal may\n", base)
			log.Warn("local mode listens beyond loopback; POST /invoke is unauthenticated", "addr", ln.Addr().String())
		}
	}
	if idp != nil {
		fmt.Fprintf(stdout, "\nThe researchers' page (one-click dev sign-in): %s/\n", base)
	} else {
		fmt.Fprintf(stdout, "\nThe researchers' page: %s/\n", base)
	}
	if token != "" {
		fmt.Fprintf(stdout, "\nDev token for %s (groups %s), valid %s:\n\n  export HPCGATE_TOKEN=%s\n\n", f.user, f.groups, f.devTokenTTL, token)
		fmt.Fprintf(stdout, "Try:\n\n  curl -s -H \"Authorization: Bearer $HPCGATE_TOKEN\" -d '{\"clusterId\":\"%s\",\"command\":\"squeue -u %s\",\"wait\":10}' %s/v1/commands\n\n", f.cluster, f.user, base)
	}
	if slices.Equal(cfg.Events, []string{"http"}) {
		fmt.Fprintf(stdout, "POST %s/invoke takes raw FC HTTP trigger events only; start with --events oss,eventbridge,timer,invoke --account ID to try the other samples in deploy/events/\n", base)
	} else {
		fmt.Fprintf(stdout, "Raw FC events accepted (%s): curl -s -d @deploy/events/timer.json %s/invoke\n", strings.Join(cfg.Events, ", "), base)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Fprintln(stdout, "shutting down")
	return srv.Shutdown(shutdown)
}
