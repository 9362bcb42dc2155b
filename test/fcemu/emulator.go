package fcemu

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIVersion is the runtime API version in every path the SDK calls.
const APIVersion = "2020-11-11"

// Headers the emulator sends with each invocation (GET …/next). The SDK reads
// them into fccontext.FcContext.
const (
	HeaderRequestID       = "x-fc-request-id"
	HeaderDeadline        = "x-fc-function-deadline" // epoch milliseconds; required by the SDK
	HeaderTimeout         = "x-fc-function-timeout"  // whole seconds; required by the SDK
	HeaderAccessKeyID     = "x-fc-access-key-id"
	HeaderAccessKeySecret = "x-fc-access-key-secret"
	HeaderSecurityToken   = "x-fc-security-token"
	HeaderFunctionName    = "x-fc-function-name"
	HeaderFunctionHandler = "x-fc-function-handler"
	HeaderFunctionMemory  = "x-fc-function-memory"
	HeaderFunctionType    = "x-fc-function-type"
	HeaderServiceName     = "x-fc-service-name"
	HeaderQualifier       = "x-fc-qualifier"
	HeaderVersionID       = "x-fc-version-id"
	HeaderRegion          = "x-fc-region"
	HeaderAccountID       = "x-fc-account-id"
	HeaderRetryCount      = "x-fc-retry-count"
)

// Defaults applied to a zero Config.
const (
	DefaultFunctionName = "hpcgate"
	DefaultHandler      = "main"
	DefaultMemoryMB     = 512
	DefaultTimeout      = 3 * time.Second // FC's default function timeout
	DefaultGrace        = 250 * time.Millisecond
	DefaultRegion       = "cn-hangzhou"
	DefaultAccountID    = "1234567890123456"
	DefaultQualifier    = "LATEST"
	DefaultMaxBodyBytes = 32 << 20 // FC's synchronous payload limit
	DefaultLogLimit     = 8 << 20
)

// Errors returned by the emulator.
var (
	ErrClosed           = errors.New("fcemu: emulator closed")
	ErrDuplicateRequest = errors.New("fcemu: request id already in flight")
	ErrBodyTooLarge     = errors.New("fcemu: function posted a body over the size limit")
	ErrMalformedError   = errors.New("fcemu: function posted an error body that is not JSON")
	ErrExited           = errors.New("fcemu: process exited")
)

// FunctionType is the value of x-fc-function-type: which handler the SDK runs.
type FunctionType int

// Function types as the SDK numbers them (fc/function.go).
const (
	TypeHandler     FunctionType = 0
	TypeInitializer FunctionType = 1
	TypePreStop     FunctionType = 2
	TypePreFreeze   FunctionType = 3
)

// Credentials are the STS credentials FC hands a function with each
// invocation (headers) and at start-up (ALIBABA_CLOUD_* variables).
// String and LogValue hide the secret and the token.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

// IsZero reports whether no credential field is set.
func (c Credentials) IsZero() bool { return c == Credentials{} }

// String names the key id only.
func (c Credentials) String() string {
	return fmt.Sprintf("{AccessKeyID:%s AccessKeySecret:%s SecurityToken:%s}",
		c.AccessKeyID, redact(c.AccessKeySecret), redact(c.SecurityToken))
}

// GoString is String, so %#v hides the secret too.
func (c Credentials) GoString() string { return "fcemu.Credentials" + c.String() }

// LogValue logs the key id only.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("accessKeyId", c.AccessKeyID),
		slog.String("accessKeySecret", redact(c.AccessKeySecret)),
		slog.String("securityToken", redact(c.SecurityToken)),
	)
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// Config describes the function the emulator pretends to host. The zero
// value is usable: empty fields take the Default* constants.
type Config struct {
	FunctionName string        // x-fc-function-name, FC_FUNCTION_NAME
	Handler      string        // x-fc-function-handler, FC_FUNCTION_HANDLER
	MemoryMB     int           // x-fc-function-memory, FC_FUNCTION_MEMORY_SIZE
	Timeout      time.Duration // per invocation unless Invocation.Timeout is set
	// Grace is how long after an invocation's deadline Invoke still waits for
	// the function's answer before reporting Response.TimedOut.
	Grace       time.Duration
	Region      string      // x-fc-region, FC_REGION
	AccountID   string      // x-fc-account-id, FC_ACCOUNT_ID
	ServiceName string      // x-fc-service-name; omitted when empty (FC 3.0 has no services)
	Qualifier   string      // x-fc-qualifier
	VersionID   string      // x-fc-version-id and FC_FUNCTION_VERSION; omitted when empty
	Credentials Credentials // default invocation credentials and ALIBABA_CLOUD_* variables; zero = none
	// Initializer is the initializer's timeout (s.yaml's
	// instanceLifecycleConfig.initializer.timeout); zero = none configured.
	// When set, Start calls the initializer (x-fc-function-type 1) and
	// returns only once it answered, as FC routes no request to a new
	// instance before its initializer succeeded; an initializer error,
	// timeout or exit fails Start (FC discards such an instance).
	Initializer time.Duration
	// MaxBodyBytes bounds what the function may post (response or error).
	MaxBodyBytes int64
	// LogLimit bounds the bytes of function output kept per process; the
	// rest is dropped (a runtime loop spinning on a dead API logs forever).
	LogLimit int
	// Output, when set, also receives everything the function writes.
	Output io.Writer
	// Logger receives the emulator's own records; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.FunctionName == "" {
		c.FunctionName = DefaultFunctionName
	}
	if c.Handler == "" {
		c.Handler = DefaultHandler
	}
	if c.MemoryMB == 0 {
		c.MemoryMB = DefaultMemoryMB
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Grace == 0 {
		c.Grace = DefaultGrace
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.AccountID == "" {
		c.AccountID = DefaultAccountID
	}
	if c.Qualifier == "" {
		c.Qualifier = DefaultQualifier
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.LogLimit == 0 {
		c.LogLimit = DefaultLogLimit
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Invocation is one event for the function. Zero fields take the
// emulator's Config values.
type Invocation struct {
	Payload      []byte
	RequestID    string        // "" = a fresh random id
	Timeout      time.Duration // deadline = delivery time + Timeout; header = whole seconds, rounded up
	Credentials  Credentials
	FunctionName string
	Region       string
	AccountID    string
	RetryCount   int
	Type         FunctionType
	// Header is applied last: each key replaces the header the emulator
	// would send, and a key with no values removes it (for example
	// {HeaderDeadline: nil} to exercise the SDK's missing-deadline path).
	Header http.Header
}

// Response is what the function posted for one invocation.
type Response struct {
	RequestID   string
	Body        []byte     // the /response body; nil when the function posted an error
	ContentType string     // of the posted body
	Error       *ErrorBody // the /error body, nil on success
	// TimedOut reports that neither arrived by the deadline plus Config.Grace.
	TimedOut bool
	// Duration runs from the function fetching the invocation (GET next
	// returning) to its answer arriving.
	Duration time.Duration

	received time.Time
}

// ErrorBody is what the SDK posts to …/error: the handler's error (errorType =
// the Go type name) or a panic (with its stack).
type ErrorBody struct {
	ErrorMessage string       `json:"errorMessage"`
	ErrorType    string       `json:"errorType"`
	StackTrace   []StackFrame `json:"stackTrace,omitempty"`
}

// Error makes an ErrorBody usable as an error.
func (e *ErrorBody) Error() string { return e.ErrorType + ": " + e.ErrorMessage }

// StackFrame is one frame of a panic's stack as the SDK reports it.
type StackFrame struct {
	Path  string `json:"path"`
	Line  int    `json:"line"`
	Label string `json:"label"`
}

// Emulator serves the FC runtime API on a loopback port and hands
// invocations to whichever function process polls it. All methods are safe
// for concurrent use.
type Emulator struct {
	cfg    Config
	ln     net.Listener
	srv    *http.Server
	ready  chan *call // unbuffered: a send completes only when a function takes the call
	closed chan struct{}
	once   sync.Once

	mu    sync.Mutex
	calls map[string]*call
	procs map[*Process]struct{}
}

type call struct {
	id        string
	inv       Invocation
	timeout   time.Duration
	delivered chan time.Time // buffered 1: when GET next handed the call out
	result    chan Response  // buffered 1
	failed    chan error     // buffered 1: the function posted something unusable
	taken     bool           // guarded by Emulator.mu: a function holds the call
}

// New starts an emulator listening on 127.0.0.1 at a free port.
func New(cfg Config) (*Emulator, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fcemu: listen: %w", err)
	}
	e := &Emulator{
		cfg:    cfg.withDefaults(),
		ln:     ln,
		ready:  make(chan *call),
		closed: make(chan struct{}),
		calls:  make(map[string]*call),
		procs:  make(map[*Process]struct{}),
	}
	base := "/" + APIVersion + "/runtime/invocation/"
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+base+"next", e.next)
	mux.HandleFunc("POST "+base+"{id}/response", e.post)
	mux.HandleFunc("POST "+base+"{id}/error", e.post)
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.cfg.Logger.Error("fcemu: serve", "err", err)
		}
	}()
	return e, nil
}

// Addr returns host:port, the value for FC_RUNTIME_API.
func (e *Emulator) Addr() string { return e.ln.Addr().String() }

// Config returns the emulator's configuration with defaults applied.
func (e *Emulator) Config() Config { return e.cfg }

// Close kills every process started by e that is still running, then stops
// the server. Pending Invoke calls return ErrClosed.
func (e *Emulator) Close() error {
	e.mu.Lock()
	procs := make([]*Process, 0, len(e.procs))
	for p := range e.procs {
		procs = append(procs, p)
	}
	e.mu.Unlock()
	// Processes first: the SDK retries a failed GET next without pause, so
	// a function outliving its API spins.
	for _, p := range procs {
		p.Close()
	}
	e.once.Do(func() { close(e.closed) })
	return e.srv.Close()
}

// Invoke queues inv and waits until a function process takes it and posts a
// response or an error, the deadline plus Config.Grace passes (TimedOut), or
// ctx ends. A function-reported error is Response.Error, not an error.
func (e *Emulator) Invoke(ctx context.Context, inv Invocation) (Response, error) {
	c := &call{
		id:        inv.RequestID,
		inv:       inv,
		timeout:   inv.Timeout,
		delivered: make(chan time.Time, 1),
		result:    make(chan Response, 1),
		failed:    make(chan error, 1),
	}
	if c.id == "" {
		c.id = "fcemu-" + rand.Text()
	}
	if c.timeout <= 0 {
		c.timeout = e.cfg.Timeout
	}
	e.mu.Lock()
	if _, dup := e.calls[c.id]; dup {
		e.mu.Unlock()
		return Response{}, fmt.Errorf("%w: %s", ErrDuplicateRequest, c.id)
	}
	e.calls[c.id] = c
	e.mu.Unlock()
	defer e.forget(c)

	select {
	case e.ready <- c:
	case <-ctx.Done():
		return Response{}, ctx.Err()
	case <-e.closed:
		return Response{}, ErrClosed
	}
	var start time.Time
	select {
	case start = <-c.delivered:
	case <-ctx.Done():
		return Response{}, ctx.Err()
	case <-e.closed:
		return Response{}, ErrClosed
	}
	timer := time.NewTimer(time.Until(start.Add(c.timeout + e.cfg.Grace)))
	defer timer.Stop()
	select {
	case r := <-c.result:
		r.Duration = r.received.Sub(start)
		return r, nil
	case err := <-c.failed:
		return Response{RequestID: c.id}, err
	case <-timer.C:
		e.cfg.Logger.Warn("fcemu: invocation timed out", "requestId", c.id, "timeout", c.timeout)
		return Response{RequestID: c.id, TimedOut: true, Duration: time.Since(start)}, nil
	case <-ctx.Done():
		return Response{}, ctx.Err()
	case <-e.closed:
		return Response{}, ErrClosed
	}
}

// forget removes c so that a late answer for it gets 404.
func (e *Emulator) forget(c *call) {
	e.mu.Lock()
	if e.calls[c.id] == c {
		delete(e.calls, c.id)
	}
	e.mu.Unlock()
}

// next serves GET …/next: it blocks until an invocation is queued.
func (e *Emulator) next(w http.ResponseWriter, r *http.Request) {
	var c *call
	select {
	case c = <-e.ready:
	case <-r.Context().Done():
		return
	case <-e.closed:
		http.Error(w, "emulator closed", http.StatusServiceUnavailable)
		return
	}
	if r.Context().Err() != nil {
		// The process that asked has gone (killed while it waited): hand
		// the call to the next one that asks, as FC would never route it
		// to a dead instance.
		select {
		case e.ready <- c:
		case <-e.closed:
		}
		return
	}
	now := time.Now()
	e.mu.Lock()
	c.taken = true
	e.mu.Unlock()
	c.delivered <- now
	h := w.Header()
	for k, v := range e.headers(c, now) {
		h[k] = v
	}
	h.Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	w.Write(c.inv.Payload)
	e.cfg.Logger.Debug("fcemu: delivered", "requestId", c.id, "bytes", len(c.inv.Payload))
}

// headers renders what FC sends with an invocation delivered at now.
func (e *Emulator) headers(c *call, now time.Time) http.Header {
	inv, cfg := c.inv, e.cfg
	creds := inv.Credentials
	if creds.IsZero() {
		creds = cfg.Credentials
	}
	h := http.Header{}
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	set(HeaderRequestID, c.id)
	set(HeaderDeadline, strconv.FormatInt(now.Add(c.timeout).UnixMilli(), 10))
	set(HeaderTimeout, strconv.Itoa(max(1, int(math.Ceil(c.timeout.Seconds())))))
	set(HeaderAccessKeyID, creds.AccessKeyID)
	set(HeaderAccessKeySecret, creds.AccessKeySecret)
	set(HeaderSecurityToken, creds.SecurityToken)
	set(HeaderFunctionName, cmpOr(inv.FunctionName, cfg.FunctionName))
	set(HeaderFunctionHandler, cfg.Handler)
	set(HeaderFunctionMemory, strconv.Itoa(cfg.MemoryMB))
	set(HeaderServiceName, cfg.ServiceName)
	set(HeaderQualifier, cfg.Qualifier)
	set(HeaderVersionID, cfg.VersionID)
	set(HeaderRegion, cmpOr(inv.Region, cfg.Region))
	set(HeaderAccountID, cmpOr(inv.AccountID, cfg.AccountID))
	set(HeaderRetryCount, strconv.Itoa(inv.RetryCount))
	if inv.Type != TypeHandler {
		set(HeaderFunctionType, strconv.Itoa(int(inv.Type)))
	}
	for k, v := range inv.Header {
		if len(v) == 0 {
			h.Del(k)
			continue
		}
		h[http.CanonicalHeaderKey(k)] = v
	}
	return h
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// post serves POST …/{id}/response and …/{id}/error. An id that is not
// in flight (unknown, not yet delivered, answered, timed out, abandoned)
// gets 404.
func (e *Emulator) post(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	isError := strings.HasSuffix(r.URL.Path, "/error")
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, e.cfg.MaxBodyBytes))
	received := time.Now()

	e.mu.Lock()
	c, ok := e.calls[id]
	ok = ok && c.taken
	if ok {
		delete(e.calls, id)
	}
	e.mu.Unlock()
	if !ok {
		http.Error(w, "unknown request id", http.StatusNotFound)
		return
	}

	var tooBig *http.MaxBytesError
	switch {
	case errors.As(readErr, &tooBig):
		c.failed <- fmt.Errorf("%w (%d bytes)", ErrBodyTooLarge, tooBig.Limit)
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	case readErr != nil:
		c.failed <- fmt.Errorf("fcemu: read posted body: %w", readErr)
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	resp := Response{RequestID: id, ContentType: r.Header.Get("Content-Type"), received: received}
	if isError {
		var eb ErrorBody
		if err := json.Unmarshal(body, &eb); err != nil {
			c.failed <- fmt.Errorf("%w: %v", ErrMalformedError, err)
			http.Error(w, "error body is not JSON", http.StatusBadRequest)
			return
		}
		resp.Error = &eb
	} else {
		resp.Body = body
	}
	c.result <- resp
	e.cfg.Logger.Debug("fcemu: answered", "requestId", id, "error", isError)
	w.WriteHeader(http.StatusOK)
}
