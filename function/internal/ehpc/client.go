package ehpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"

	"github.com/hpcgate/hpcgate/function/internal/creds"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/pause"
)

// APIVersion is the E-HPC API version the client speaks.
const APIVersion = "2018-04-12"

// Defaults of Config.
const (
	DefaultOutputCap      = 64 << 10
	DefaultCallTimeout    = 10 * time.Second
	DefaultConnectTimeout = 5 * time.Second
	DefaultMaxPages       = 100
	PageSize              = 50
)

// Config configures a Client.
type Config struct {
	// Region is the E-HPC region, e.g. cn-hangzhou. Required.
	Region string
	// Endpoint overrides https://ehpc.<Region>.aliyuncs.com with a URL made
	// of a scheme and host[:port] only. Plain http is allowed only for a
	// loopback host (a local simulator).
	Endpoint string
	// OutputCap is the number of bytes of output kept per node (0: 64 KiB).
	OutputCap int
	// Credentials sign calls whose context carries no FC credentials. Nil:
	// the SDK's default chain (ALIBABA_CLOUD_ACCESS_KEY_ID,
	// ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN
	// first, then the CLI profile and the instance's RAM role).
	Credentials credentials.CredentialsProvider
	// CallTimeout bounds one HTTP exchange (0: 10 s); the context deadline
	// bounds it further.
	CallTimeout time.Duration
	// MaxPages bounds the result pages read for one command (0: 100 pages
	// of 50 nodes).
	MaxPages int
	// Logger receives warnings about odd answers (nil: slog.Default()).
	Logger *slog.Logger
	// Debug is the process's DEBUG variable, which the SDK reads by
	// itself; the caller passes it in so that New can refuse "sdk".
	Debug string
}

// Client calls the E-HPC interactive-command API through the Alibaba Cloud
// SDK core, signing each call with the invocation's credentials. It is
// safe for concurrent use.
type Client struct {
	region   string
	scheme   string // "https" or "http"
	domain   string // host[:port]
	cap      int
	callTO   time.Duration
	maxPages int
	log      *slog.Logger
	fallback *creds.Fallback

	reads, invokes *http.Transport
	pool           sync.Pool // of *conn

	// Retry and poll schedules; tests shorten them.
	retry retryPolicy
	poll  retryPolicy
}

var regionRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// New validates cfg and returns a Client. It fails when cfg.Debug (the
// process's DEBUG) names "sdk":
// the SDK then prints every signed request, security token included, to
// standard output.
func New(cfg Config) (*Client, error) {
	if !regionRE.MatchString(cfg.Region) {
		return nil, fmt.Errorf("ehpc: region %q: want letters, digits, '-' or '_'", cfg.Region)
	}
	if debugSDK(cfg.Debug) {
		return nil, errors.New("ehpc: DEBUG=sdk makes the Alibaba Cloud SDK print signed requests with their security tokens; unset it")
	}
	if cfg.OutputCap < 0 || cfg.CallTimeout < 0 || cfg.MaxPages < 0 {
		return nil, errors.New("ehpc: OutputCap, CallTimeout and MaxPages must not be negative")
	}
	c := &Client{
		region:   cfg.Region,
		scheme:   "https",
		domain:   "ehpc." + cfg.Region + ".aliyuncs.com",
		cap:      cfg.OutputCap,
		callTO:   cfg.CallTimeout,
		maxPages: cfg.MaxPages,
		log:      cfg.Logger,
		retry:    retryPolicy{first: 100 * time.Millisecond, factor: 2, max: time.Second, attempts: 4, jitter: true},
		poll:     retryPolicy{first: 100 * time.Millisecond, factor: 1.5, max: 2 * time.Second},
	}
	if c.cap == 0 {
		c.cap = DefaultOutputCap
	}
	if c.callTO == 0 {
		c.callTO = DefaultCallTimeout
	}
	if c.maxPages == 0 {
		c.maxPages = DefaultMaxPages
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if cfg.Endpoint != "" {
		scheme, host, err := parseEndpoint(cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		c.scheme, c.domain = scheme, host
	}
	c.fallback = creds.NewFallback(cfg.Credentials)
	c.reads = newTransport(false)
	c.invokes = newTransport(true)
	c.pool.New = func() any { return c.newConn() }
	return c, nil
}

func debugSDK(v string) bool {
	for f := range strings.SplitSeq(v, ",") {
		if strings.TrimSpace(f) == "sdk" {
			return true
		}
	}
	return false
}

// parseEndpoint checks an endpoint override and returns its scheme and
// host[:port].
func parseEndpoint(raw string) (scheme, host string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("ehpc: endpoint %q: %v", raw, err)
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", "", fmt.Errorf("ehpc: endpoint %q: want scheme://host[:port] and nothing else", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !hpcgate.IsLoopbackHost(u.Hostname()) {
			return "", "", fmt.Errorf("ehpc: endpoint %q: plain http is allowed only for a loopback host; use https", raw)
		}
	default:
		return "", "", fmt.Errorf("ehpc: endpoint %q: scheme must be https (or http for a loopback host)", raw)
	}
	return u.Scheme, u.Host, nil
}

// newTransport returns the transport shared by all pooled SDK clients for
// reads, or for invocations (invoke). An invocation reuses a kept-alive
// connection only when it has been idle for less than invokeIdle: a
// connection the server has since closed would fail a command that never
// left, and net/http must not (and, see callTransport, cannot) resend it,
// so the call would end as CodeOutcomeUnknown. Servers keep idle
// connections open far longer than that, and a frozen FC instance finds
// its connections too old to reuse.
func newTransport(invoke bool) *http.Transport {
	d := &net.Dialer{Timeout: DefaultConnectTimeout, KeepAlive: 30 * time.Second}
	idle := 30 * time.Second
	if invoke {
		idle = invokeIdle
	}
	t := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         d.DialContext,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: DefaultConnectTimeout,
		MaxIdleConns:        32,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     idle,
		Protocols:           new(http.Protocols),
	}
	t.Protocols.SetHTTP1(true)
	return t
}

// invokeIdle is how long an idle connection may still carry an invocation.
const invokeIdle = 5 * time.Second

// conn is one SDK client with the transport and credentials provider that
// carry the state of the call it serves. A conn serves one call at a time:
// the SDK writes per-call timeouts into its client, so SDK clients must
// not be shared by concurrent calls. Pooling them (rather than keying them
// by credentials) keeps the cost of sdk.NewClientWithOptions off the
// request path whatever credentials each call uses.
type conn struct {
	sdk   *sdk.Client
	rt    *callTransport
	creds *callCredentials
}

func (c *Client) newConn() any {
	rt := &callTransport{reads: c.reads, invokes: c.invokes}
	creds := &callCredentials{}
	cfg := sdk.NewConfig().WithAutoRetry(false).WithMaxRetryTime(0).WithScheme(strings.ToUpper(c.scheme))
	cfg.Transport = rt
	s, err := sdk.NewClientWithOptions(c.region, cfg, creds)
	if err != nil {
		return err // the region was validated in New; kept for completeness
	}
	return &conn{sdk: s, rt: rt, creds: creds}
}

// callTransport adds what the SDK cannot: the call's context (so that a
// canceled context ends the exchange), a trace of whether a connection was
// obtained (after which bytes of the request may have left), and for
// InvokeShellCommand a request net/http will not replay.
type callTransport struct {
	reads, invokes *http.Transport

	ctx     context.Context
	invoke  bool
	gotConn atomic.Bool
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(t.ctx, cancel)
	release := func() { stop(); cancel() }
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { t.gotConn.Store(true) }}
	r := req.Clone(httptrace.WithClientTrace(ctx, trace))
	base := t.reads
	if t.invoke {
		base = t.invokes
		// A GET without a body is "replayable" for net/http, which resends
		// it by itself when a reused connection fails before the answer.
		// A body without GetBody is not: the command is sent at most once.
		// The body is empty, so nothing is written on the wire for it.
		r.Body, r.GetBody, r.ContentLength = io.NopCloser(strings.NewReader("")), nil, 0
	}
	resp, err := base.RoundTrip(r)
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &releaseBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// releaseBody ends the exchange's context once the SDK closed the body.
type releaseBody struct {
	io.ReadCloser
	release func()
	once    sync.Once
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// sdkPanic is a panic of the SDK while it read an answer.
type sdkPanic struct{ v any }

func (p sdkPanic) Error() string { return fmt.Sprintf("SDK panic reading the answer: %v", p.v) }

// reply is the raw outcome of one HTTP exchange.
type reply struct {
	body []byte
	err  error // SDK server error, transport error or panic
	sent bool  // a connection was obtained: bytes of the request may have left
}

// exchange sends one signed GET request for action and returns what came
// back. It never retries.
func (c *Client) exchange(ctx context.Context, cr Credentials, action string, params map[string]string, invoke bool) reply {
	req := requests.NewCommonRequest()
	req.Method = http.MethodGet
	req.Scheme = c.scheme
	req.Domain = c.domain
	req.Product = "EHPC"
	req.Version = APIVersion
	req.ApiName = action
	for k, v := range params {
		req.QueryParams[k] = v
	}
	// The SDK call takes no context: its timeouts come from the deadline.
	read := c.callTO
	if dl, ok := ctx.Deadline(); ok {
		read = min(read, time.Until(dl))
	}
	if read <= 0 {
		return reply{err: context.DeadlineExceeded}
	}
	req.ReadTimeout = read
	req.ConnectTimeout = min(read, DefaultConnectTimeout)

	v := c.pool.Get()
	cn, ok := v.(*conn)
	if !ok {
		return reply{err: fmt.Errorf("create SDK client: %v", v)}
	}
	cn.creds.cur = cr
	cn.rt.ctx, cn.rt.invoke = ctx, invoke
	cn.rt.gotConn.Store(false)

	var rep reply
	panicked := true
	func() {
		defer func() {
			if p := recover(); p != nil {
				// The SDK type-asserts fields of error bodies and panics on
				// odd ones: an unreadable answer, not a crash.
				rep.err = sdkPanic{p}
			}
		}()
		resp, err := cn.sdk.ProcessCommonRequest(req)
		rep.err = err
		if err == nil {
			rep.body = resp.GetHttpContentBytes()
		}
		panicked = false
	}()
	rep.sent = cn.rt.gotConn.Load()
	cn.creds.cur = Credentials{}
	cn.rt.ctx = nil
	if !panicked {
		c.pool.Put(cn)
	}
	return rep
}

// read performs a read action (List*) and hands the 2xx answer to parse.
// It retries transport failures, 5xx answers, throttling and answers parse
// rejects, with exponential backoff and jitter, within the context's
// deadline.
func (c *Client) read(ctx context.Context, action string, params map[string]string, parse func(body []byte) error) error {
	cr, err := c.credentialsFor(ctx)
	if err != nil {
		return err
	}
	var last *hpcgate.Error
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			if last != nil {
				return last
			}
			return ctxError(action, err)
		}
		rep := c.exchange(ctx, cr, action, params, false)
		retry := true
		if rep.err == nil {
			err := parse(rep.body)
			if err == nil {
				return nil
			}
			last = malformed(action, err)
		} else {
			last, retry = c.classify(ctx, action, rep, false)
		}
		if !retry || !c.retry.sleep(ctx, attempt) {
			return last
		}
	}
}

// classify maps a failed exchange and says whether the same request may be
// sent again.
func (c *Client) classify(ctx context.Context, action string, rep reply, invoke bool) (*hpcgate.Error, bool) {
	var se *sdkerrors.ServerError
	if errors.As(rep.err, &se) {
		e := fromServerError(action, se)
		if invoke {
			if se.ErrorCode() == "" {
				// Not E-HPC's answer but a proxy's: E-HPC may have run it.
				e.Code, e.Retryable = hpcgate.CodeOutcomeUnknown, false
				e.Message = "E-HPC's answer to the command was not its own (HTTP " + strconv.Itoa(se.HttpStatus()) + "); it may have started: look it up before sending it again"
			}
			return e, answeredBeforeExecution(se.ErrorCode())
		}
		return e, e.Retryable || se.HttpStatus() >= 500
	}
	if errors.As(rep.err, new(sdkPanic)) {
		if invoke {
			return outcomeUnknown(rep.err), false
		}
		return malformed(action, rep.err), true
	}
	e := transportError(ctx, action, rep.err, rep.sent, invoke)
	if invoke {
		// Retry only what surely never left: no connection was obtained
		// because dialing failed.
		return e, !rep.sent && isDialError(rep.err)
	}
	return e, true
}

// retryPolicy is an exponential backoff schedule.
type retryPolicy struct {
	first    time.Duration
	factor   float64
	max      time.Duration
	attempts int  // total attempts; 0 = unbounded
	jitter   bool // full jitter: sleep a random time in [d/2, d]
}

// delay returns the pause after attempt n (from 0).
func (p retryPolicy) delay(n int) time.Duration {
	d := float64(p.first)
	for range n {
		d *= p.factor
		if d >= float64(p.max) {
			d = float64(p.max)
			break
		}
	}
	if p.jitter {
		d = d/2 + rand.Float64()*d/2
	}
	return time.Duration(d)
}

// sleep pauses after attempt n and reports whether another attempt may
// follow: false when the attempts are used up or the pause would reach
// past the context's deadline.
func (p retryPolicy) sleep(ctx context.Context, n int) bool {
	if p.attempts > 0 && n+1 >= p.attempts {
		return false
	}
	return pause.Within(ctx, p.delay(n))
}

// pauseUpTo waits the n-th backoff delay, or left when that is shorter,
// and reports whether ctx is still live. Unlike sleep it never gives up
// early because the delay would reach past a deadline: a wait of N
// seconds lasts N seconds.
func (p retryPolicy) pauseUpTo(ctx context.Context, n int, left time.Duration) bool {
	return pause.For(ctx, min(p.delay(n), left))
}
