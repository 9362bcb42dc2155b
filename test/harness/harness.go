// Package harness runs the real gateway binary for load tests, fault tests
// and benchmarks: a test identity provider that mints ES256 tokens, an
// E-HPC simulator, a policy set that allows a few harmless programs, and
// `hpcgate local` started against them.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/hpcgate/hpcgate/test/ehpcsim/simulator"
	"github.com/hpcgate/hpcgate/test/fcemu"
)

// Identity and cluster every harness run uses.
const (
	GatewayPackage = "github.com/hpcgate/hpcgate/function"
	HelloPackage   = "github.com/hpcgate/hpcgate/test/fcemu/hello"
	Issuer         = "https://idp.harness.test"
	Audience       = "hpcgate-harness"
	Cluster        = "ehpc-bench01"
	User           = "alice" // allowed true, echo, sleep, squeue, printf; denied rm
)

//go:embed policies/*.json
var policyFS embed.FS

// WritePolicies writes the harness governance data into dir and returns dir.
func WritePolicies(dir string) (string, error) {
	sub, err := fs.Sub(policyFS, "policies")
	if err != nil {
		return "", err
	}
	if err := os.CopyFS(dir, sub); err != nil {
		return "", fmt.Errorf("harness: write policies: %w", err)
	}
	return dir, nil
}

// IDP is a test identity provider: an ES256 signing key and its public
// JWKS in a file.
type IDP struct {
	key      jwk.Key
	JWKSFile string
}

// NewIDP generates a key and writes its JWKS into dir.
func NewIDP(dir string) (*IDP, error) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := jwk.Import(raw)
	if err != nil {
		return nil, err
	}
	key.Set(jwk.KeyIDKey, "harness-1")
	key.Set(jwk.AlgorithmKey, jwa.ES256())
	pub, err := key.PublicKey()
	if err != nil {
		return nil, err
	}
	set := jwk.NewSet()
	set.AddKey(pub)
	b, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, err
	}
	return &IDP{key: key, JWKSFile: file}, nil
}

// Token mints a token for sub in groups, valid for an hour.
func (p *IDP) Token(sub string, groups ...string) (string, error) {
	tok, err := jwt.NewBuilder().Issuer(Issuer).Audience([]string{Audience}).Subject(sub).
		IssuedAt(time.Now()).Expiration(time.Now().Add(time.Hour)).Claim("groups", groups).Build()
	if err != nil {
		return "", err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), p.key))
	return string(signed), err
}

// NewSimulator starts an E-HPC simulator with Cluster of n nodes on
// loopback and returns it with its endpoint.
func NewSimulator(n int) (*simulator.Simulator, string, error) {
	cfg := simulator.DefaultConfig()
	cfg.Clusters = []simulator.Cluster{{ID: Cluster, Status: simulator.StatusRunning, Nodes: simulator.NodeIDs(n)}}
	sim, err := simulator.New(cfg)
	if err != nil {
		return nil, "", err
	}
	endpoint, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		sim.Close()
		return nil, "", err
	}
	return sim, endpoint, nil
}

// SimulatorEnv is the environment that lets the gateway sign calls to the
// simulator with its dev key.
func SimulatorEnv() []string {
	return []string{
		"ALIBABA_CLOUD_ACCESS_KEY_ID=" + simulator.DefaultAccessKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + simulator.DefaultAccessKeySecret,
	}
}

// LocalConfig says how to start `hpcgate local`.
type LocalConfig struct {
	Binary   string   // the gateway binary
	Endpoint string   // E-HPC endpoint (a simulator)
	Policies string   // policy directory; "" = none given (the embedded set, or a bundle from Env)
	IDP      *IDP     // whose JWKS verifies tokens
	Env      []string // added to a minimal environment
	Wrap     []string // a command the binary runs under, such as taskset -c 0,1
}

// Local is a running `hpcgate local`.
type Local struct {
	Base   string
	cmd    *exec.Cmd
	cancel context.CancelFunc
	logs   *syncBuffer
	done   chan struct{}
}

// StartLocal starts the gateway in local mode and waits until it serves.
func StartLocal(ctx context.Context, c LocalConfig) (*Local, error) {
	fcemu.NoteSources()
	args := []string{c.Binary, "local", "--listen", "127.0.0.1:0",
		"--jwks", c.IDP.JWKSFile, "--issuer", Issuer, "--audience", Audience,
		"--ehpc-endpoint", c.Endpoint}
	if c.Policies != "" {
		args = append(args, "--policies", c.Policies)
	}
	args = append(append([]string{}, c.Wrap...), args...)
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	home, err := os.MkdirTemp("", "hpcgate-home-")
	if err != nil {
		cancel()
		return nil, err
	}
	cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "HPCGATE_LOG_LEVEL=warn"},
		SimulatorEnv()...), c.Env...)
	l := &Local{cmd: cmd, cancel: cancel, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = l.logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "hpcgate listening on "); ok {
				select {
				case found <- strings.Fields(rest)[0]:
				default:
				}
			}
		}
		cmd.Wait()
		os.RemoveAll(home)
		close(l.done)
	}()
	select {
	case l.Base = <-found:
		return l, nil
	case <-l.done:
		return nil, fmt.Errorf("harness: gateway exited before serving:\n%s", l.logs.String())
	case <-time.After(60 * time.Second):
		l.Close()
		return nil, fmt.Errorf("harness: gateway did not start:\n%s", l.logs.String())
	}
}

// PID is the process id of the gateway (of Wrap, which execs it, when set).
func (l *Local) PID() int { return l.cmd.Process.Pid }

// Logs returns what the gateway wrote to stderr so far.
func (l *Local) Logs() string { return l.logs.String() }

// ExitState describes how the process ended ("" while it runs).
func (l *Local) ExitState() string {
	if !l.Exited() || l.cmd.ProcessState == nil {
		return ""
	}
	return l.cmd.ProcessState.String()
}

// Exited reports whether the process has ended.
func (l *Local) Exited() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Close stops the gateway and waits for it.
func (l *Local) Close() error {
	l.cancel()
	<-l.done
	return nil
}

// PeakRSS reads VmHWM, the peak resident set size, of process pid in bytes.
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("harness: odd VmHWM line %q", line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("harness: no VmHWM in /proc status")
}

// Result is the normalized result as a caller reads it.
type Result struct {
	Status  string `json:"status"`
	Request *struct {
		ClusterID string `json:"clusterId"`
		Command   string `json:"command"`
	} `json:"request"`
	Decision *struct {
		Allow   bool `json:"allow"`
		Reasons []struct {
			Effect, Policy, Sid, Detail string
		} `json:"reasons"`
	} `json:"decision"`
	CommandID   string   `json:"commandId"`
	RequestID   string   `json:"requestId"`
	InstanceIDs []string `json:"instanceIds"`
	Results     []struct {
		InstanceID string `json:"instanceId"`
		Status     string `json:"status"`
		ExitCode   int    `json:"exitCode"`
		Output     string `json:"output"`
	} `json:"results"`
	Summary *struct{ Nodes, Succeeded, Failed, Running int } `json:"summary"`
	Error   *struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		HTTPStatus int    `json:"httpStatus"`
		Retryable  bool   `json:"retryable"`
		Source     string `json:"source"`
	} `json:"error"`
}

// Client posts to a gateway. Its zero value is not usable; see NewClient.
type Client struct {
	HTTP *http.Client
	Base string
}

// NewClient returns a client for base that keeps up to conns connections
// open, so that load does not measure TCP handshakes.
func NewClient(base string, conns int) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = conns, conns, 0
	return &Client{HTTP: &http.Client{Transport: tr, Timeout: 2 * time.Minute}, Base: base}
}

// Do sends body (nil, string, []byte or a value encoded as JSON) to path
// with a bearer token when token is not empty, and decodes the answer as a
// Result; an answer that is a JSON list (OSS events) is only returned raw.
func (c *Client) Do(ctx context.Context, method, path, token string, body any) (status int, res Result, raw []byte, err error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, res, nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return 0, res, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, res, nil, err
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, res, raw, err
	}
	if len(raw) > 0 && raw[0] == '[' {
		return resp.StatusCode, res, raw, nil
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return resp.StatusCode, res, raw, fmt.Errorf("answer is not a JSON result (%v): %.300s", err, raw)
	}
	return resp.StatusCode, res, raw, nil
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 8<<20 { // keep memory bounded under load
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
