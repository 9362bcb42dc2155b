package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of Config and DefaultConfig.
const (
	DefaultRegion          = "cn-hangzhou"
	DefaultAccessKeyID     = "LTAIhpcgateDevKey01"
	DefaultAccessKeySecret = "hpcgate-dev-secret"
	DefaultClusterID       = "ehpc-hz-demo01"
	DefaultOutputCap       = 16 << 10
	DefaultMaxProcesses    = 256

	// systemPath is the PATH of commands after Config.Path.
	systemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// APIVersion is the only E-HPC API version the simulator answers.
	APIVersion = "2018-04-12"
)

// Window is how far a request's Timestamp may be from the simulator's clock,
// and how long a SignatureNonce stays used.
const Window = 15 * time.Minute

// Config configures a Simulator. Zero fields take the defaults noted.
type Config struct {
	Region    string            // default "cn-hangzhou"
	Keys      map[string]string // AccessKeyId -> AccessKeySecret (long-term keys); nil => the dev key of DefaultConfig
	Clusters  []Cluster         // nil => one running cluster "ehpc-hz-demo01" with 3 nodes
	Dir       string            // root directory for node dirs; "" => a temp dir removed by Close
	OutputCap int               // bytes of output kept per node (default 16 KiB)
	Logger    *slog.Logger      // nil => discard
	// Path lists directories searched for commands before the system's
	// (local mode puts demo Slurm commands there).
	Path []string
	// MaxProcesses bounds the commands running at once across all nodes
	// (default 256); node runs beyond it wait, shown as Running.
	MaxProcesses int
}

// Cluster is one simulated E-HPC cluster.
type Cluster struct {
	ID     string
	Status string   // "Running" (default); any other status refuses commands
	Nodes  []string // instance ids, i-...
}

// Call is one request the simulator received.
type Call struct {
	Time          time.Time
	Method        string
	Action        string
	AccessKeyID   string
	SecurityToken string
	Params        url.Values // every parameter except Signature
	RequestID     string
	Status        int    // HTTP status answered; 0 when the connection was dropped
	Code          string // error code answered; "" on success
}

// LogValue keeps the security token out of logs.
func (c Call) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("action", c.Action),
		slog.String("accessKeyId", c.AccessKeyID),
		slog.Bool("securityToken", c.SecurityToken != ""),
		slog.String("requestId", c.RequestID),
		slog.Int("status", c.Status),
		slog.String("code", c.Code),
	)
}

// redacted returns c with the security token hidden, also in Params.
func (c Call) redacted() Call {
	if c.SecurityToken != "" {
		c.SecurityToken = "[REDACTED]"
	}
	if c.Params.Has("SecurityToken") {
		c.Params = cloneValues(c.Params)
		c.Params.Set("SecurityToken", "[REDACTED]")
	}
	return c
}

// MarshalJSON encodes c with the security token hidden.
func (c Call) MarshalJSON() ([]byte, error) {
	type plain Call // no methods: no recursion
	return json.Marshal(plain(c.redacted()))
}

// String formats c with the security token hidden.
func (c Call) String() string {
	type plain Call
	return fmt.Sprintf("%+v", plain(c.redacted()))
}

// DefaultConfig returns the configuration of the bare `go run ./test/ehpcsim`:
// region cn-hangzhou, key LTAIhpcgateDevKey01/hpcgate-dev-secret, cluster
// ehpc-hz-demo01 (Running) with nodes i-hpcgatedemo00001..3.
func DefaultConfig() Config {
	return Config{
		Region:    DefaultRegion,
		Keys:      map[string]string{DefaultAccessKeyID: DefaultAccessKeySecret},
		Clusters:  []Cluster{{ID: DefaultClusterID, Status: StatusRunning, Nodes: NodeIDs(3)}},
		OutputCap: DefaultOutputCap,
	}
}

// NodeIDs returns n instance ids i-hpcgatedemo00001, i-hpcgatedemo00002, ...
func NodeIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("i-hpcgatedemo%05d", i+1)
	}
	return ids
}

// Simulator is an E-HPC endpoint. It is safe for concurrent use.
type Simulator struct {
	region   string
	hostID   string
	dir      string
	ownDir   bool
	outCap   int
	log      *slog.Logger
	clusters map[string]*Cluster
	nodeDirs map[string]string // clusterID + "/" + instanceID -> node directory
	run      runner
	path     string // PATH of every command
	now      func() time.Time
	procs    chan struct{}

	ctx    context.Context // ends at Close; parents every command
	cancel context.CancelFunc
	wg     sync.WaitGroup // node runs

	mu          sync.Mutex
	closed      bool
	keys        map[string]string
	sts         map[string]stsKey
	nonces      map[string]time.Time
	lastSweep   time.Time
	invocations map[string]*invocation
	order       []*invocation
	accepted    int
	runs        map[string]int
	calls       []Call
	faults      []*Fault
	servers     []*http.Server
}

type stsKey struct {
	secret, token string
	expires       time.Time
}

var (
	regionRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	idRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// New validates cfg, creates a directory per node and returns a Simulator.
func New(cfg Config) (*Simulator, error) {
	def := DefaultConfig()
	if cfg.Region == "" {
		cfg.Region = def.Region
	}
	if cfg.Keys == nil {
		cfg.Keys = def.Keys
	}
	if cfg.Clusters == nil {
		cfg.Clusters = def.Clusters
	}
	if cfg.OutputCap == 0 {
		cfg.OutputCap = DefaultOutputCap
	}
	if cfg.MaxProcesses == 0 {
		cfg.MaxProcesses = DefaultMaxProcesses
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if !regionRE.MatchString(cfg.Region) {
		return nil, fmt.Errorf("simulator: invalid region %q", cfg.Region)
	}
	if cfg.OutputCap < 0 || cfg.MaxProcesses < 0 {
		return nil, errors.New("simulator: OutputCap and MaxProcesses must not be negative")
	}
	for id, secret := range cfg.Keys {
		if id == "" || secret == "" {
			return nil, errors.New("simulator: empty access key id or secret")
		}
	}
	s := &Simulator{
		region:      cfg.Region,
		hostID:      "ehpc." + cfg.Region + ".aliyuncs.com",
		dir:         cfg.Dir,
		outCap:      cfg.OutputCap,
		log:         cfg.Logger,
		clusters:    make(map[string]*Cluster, len(cfg.Clusters)),
		nodeDirs:    make(map[string]string),
		run:         execRun,
		path:        strings.Join(append(slices.Clone(cfg.Path), systemPath), ":"),
		now:         time.Now,
		procs:       make(chan struct{}, cfg.MaxProcesses),
		keys:        maps.Clone(cfg.Keys),
		sts:         make(map[string]stsKey),
		nonces:      make(map[string]time.Time),
		invocations: make(map[string]*invocation),
		runs:        make(map[string]int),
	}
	for _, c := range cfg.Clusters {
		if !idRE.MatchString(c.ID) {
			return nil, fmt.Errorf("simulator: invalid cluster id %q", c.ID)
		}
		if _, dup := s.clusters[c.ID]; dup {
			return nil, fmt.Errorf("simulator: duplicate cluster id %q", c.ID)
		}
		c.Status = cmpOr(c.Status, StatusRunning)
		c.Nodes = slices.Clone(c.Nodes)
		s.clusters[c.ID] = &c
	}
	if s.dir == "" {
		d, err := os.MkdirTemp("", "ehpcsim-")
		if err != nil {
			return nil, fmt.Errorf("simulator: %w", err)
		}
		s.dir, s.ownDir = d, true
	}
	for _, c := range s.clusters {
		for _, n := range c.Nodes {
			key := c.ID + "/" + n
			if !idRE.MatchString(n) {
				return nil, s.failNew(fmt.Errorf("simulator: invalid node id %q in cluster %s", n, c.ID))
			}
			if _, dup := s.nodeDirs[key]; dup {
				return nil, s.failNew(fmt.Errorf("simulator: duplicate node id %q in cluster %s", n, c.ID))
			}
			d := filepath.Join(s.dir, c.ID, n)
			if err := os.MkdirAll(filepath.Join(d, "root"), 0o755); err != nil {
				return nil, s.failNew(fmt.Errorf("simulator: node directory: %w", err))
			}
			s.nodeDirs[key] = d
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func (s *Simulator) failNew(err error) error {
	if s.ownDir {
		os.RemoveAll(s.dir)
	}
	return err
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Region returns the region the simulator serves.
func (s *Simulator) Region() string { return s.region }

// Dir returns the root of the node directories: <Dir>/<clusterId>/<instanceId>/.
func (s *Simulator) Dir() string { return s.dir }

// Clusters returns the configured clusters.
func (s *Simulator) Clusters() []Cluster {
	out := make([]Cluster, 0, len(s.clusters))
	for _, c := range s.clusters {
		out = append(out, Cluster{ID: c.ID, Status: c.Status, Nodes: slices.Clone(c.Nodes)})
	}
	slices.SortFunc(out, func(a, b Cluster) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Listen serves the simulator on addr (e.g. "127.0.0.1:0") in the background
// until Close and returns its endpoint, "http://127.0.0.1:PORT".
func (s *Simulator) Listen(addr string) (endpoint string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("simulator: %w", err)
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return "", errors.New("simulator: closed")
	}
	s.servers = append(s.servers, srv)
	s.mu.Unlock()
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// Close stops the servers started by Listen, kills every running command
// (whole process group), waits for them and removes the temp directory New
// created. Later InvokeShellCommand calls get ServiceUnavailable.
func (s *Simulator) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	servers := s.servers
	s.mu.Unlock()

	s.cancel()
	var errs []error
	for _, srv := range servers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, srv.Close())
		}
		cancel()
	}
	s.wg.Wait()
	if s.ownDir {
		errs = append(errs, os.RemoveAll(s.dir))
	}
	return errors.Join(errs...)
}

// AddSTS registers a temporary access key: requests signed with it must carry
// SecurityToken == token, and are refused after expires.
func (s *Simulator) AddSTS(accessKeyID, secret, token string, expires time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sts[accessKeyID] = stsKey{secret: secret, token: token, expires: expires}
}

// Invocations returns how many InvokeShellCommand calls were accepted (each
// counts once, whatever its nodes did).
func (s *Simulator) Invocations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Runs returns how many accepted invocations had Command exactly equal to command.
func (s *Simulator) Runs(command string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[command]
}

// RunsBy returns how many accepted invocations there were per key of
// their Command, the text E-HPC received (RunsBy(identity)[c] == Runs(c)).
// key is called without the simulator's lock held.
func (s *Simulator) RunsBy(key func(command string) string) map[string]int {
	s.mu.Lock()
	runs := make(map[string]int, len(s.runs))
	for c, n := range s.runs {
		runs[c] = n
	}
	s.mu.Unlock()
	out := make(map[string]int, len(runs))
	for c, n := range runs {
		out[key(c)] += n
	}
	return out
}

// Calls returns every request received so far, oldest answer first.
func (s *Simulator) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		c.Params = cloneValues(c.Params)
		out[i] = c
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
