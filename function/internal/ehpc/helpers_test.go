package ehpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

const (
	testAK     = "STS.testAccessKey01"
	testSecret = "test-secret-value"
	testToken  = "test-security-token-0123456789"
)

// canned is an httptest server that answers with canned bodies and records
// every request's query.
type canned struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []url.Values
	handle func(n int, q url.Values, w http.ResponseWriter, r *http.Request)
}

func (c *canned) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c.mu.Lock()
	c.reqs = append(c.reqs, q)
	n := len(c.reqs)
	c.mu.Unlock()
	c.handle(n, q, w, r)
}

func (c *canned) requests() []url.Values {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]url.Values(nil), c.reqs...)
}

// count returns how many requests of action arrived.
func (c *canned) count(action string) int {
	n := 0
	for _, q := range c.requests() {
		if q.Get("Action") == action {
			n++
		}
	}
	return n
}

// newCanned starts a canned server and a client pointed at it, with
// schedules short enough for tests.
func newCanned(t *testing.T, handle func(n int, q url.Values, w http.ResponseWriter, r *http.Request)) (*Client, *canned) {
	t.Helper()
	cs := &canned{handle: handle}
	cs.srv = httptest.NewServer(cs)
	t.Cleanup(cs.srv.Close)
	c := newTestClient(t, Config{Endpoint: cs.srv.URL})
	return c, cs
}

func newTestClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	if cfg.Region == "" {
		cfg.Region = "cn-hangzhou"
	}
	if cfg.Credentials == nil {
		cfg.Credentials = credentials.NewStaticSTSCredentialsProvider(testAK, testSecret, testToken)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.retry.first, c.retry.max = time.Millisecond, 4*time.Millisecond
	c.poll.first, c.poll.max = time.Millisecond, 5*time.Millisecond
	return c
}

// answer writes a JSON body with status.
func answer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func errBody(code, msg string) string {
	return fmt.Sprintf(`{"RequestId":"REQ-1","HostId":"ehpc.cn-hangzhou.aliyuncs.com","Code":%q,"Message":%q,"Recommend":"https://api.aliyun.com/troubleshoot?q=%s"}`, code, msg, code)
}

const okInvoke = `{"RequestId":"REQ-OK","CommandId":"c-hz01abc","InstanceIds":{"InstanceId":["i-a","i-b"]}}`

// asError fails the test unless err is an *hpcgate.Error.
func asError(t *testing.T, err error) *hpcgate.Error {
	t.Helper()
	var e *hpcgate.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *hpcgate.Error", err, err)
	}
	return e
}

func testRequest() hpcgate.Request {
	return hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "echo hi", WorkingDir: "/root", Timeout: 30}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// newServer serves cs on loopback and returns its URL.
func newServer(t *testing.T, cs *canned) string {
	t.Helper()
	cs.srv = httptest.NewServer(cs)
	t.Cleanup(cs.srv.Close)
	return cs.srv.URL
}

// ListCommands lists the commands E-HPC keeps for a cluster, all pages;
// with commandID set, only that command. Only tests list whole pages: the
// gateway reads ListCommands through FindMarked.
func (c *Client) ListCommands(ctx context.Context, clusterID, commandID string) ([]Command, error) {
	all := []Command{}
	_, err := c.listCommands(ctx, clusterID, commandID, c.maxPages, func(cs []Command) bool {
		all = append(all, cs...)
		return true
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}
