package simulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"

	"github.com/hpcgate/hpcgate/test/goldenfile"
)

const (
	testAK     = "LTAItestkey"
	testSecret = "test-secret"
	testCID    = "ehpc-hz-test01"
)

var testNodes = []string{"i-node00001", "i-node00002"}

// newTestSim returns a simulator (cluster ehpc-hz-test01 with two nodes and a
// stopped cluster ehpc-hz-stopped) served by an httptest server.
func newTestSim(t testing.TB, edit func(*Config)) (*Simulator, *httptest.Server) {
	t.Helper()
	cfg := Config{
		Keys: map[string]string{testAK: testSecret},
		Clusters: []Cluster{
			{ID: testCID, Nodes: testNodes},
			{ID: "ehpc-hz-stopped", Status: "Stopped", Nodes: []string{"i-stopped001"}},
		},
		Dir: t.TempDir(),
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	return s, srv
}

// fakeRun replaces command execution: it writes "ran: <command>" and
// finishes with exit code 0.
func fakeRun(_ context.Context, sp runSpec, out io.Writer) runResult {
	io.WriteString(out, "ran: "+sp.Command)
	return runResult{Status: StatusFinished}
}

var nonceSeq atomic.Int64

// signed adds the common parameters to params (those already set win) and
// signs them with secret for method.
func signed(method, secret string, params url.Values) url.Values {
	p := url.Values{}
	defaults := map[string]string{
		"Format": "JSON", "Version": APIVersion, "AccessKeyId": testAK,
		"SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureType": "",
		"SignatureNonce": "nonce-" + strconv.FormatInt(nonceSeq.Add(1), 10) + "-" + rand.Text(),
		"Timestamp":      time.Now().UTC().Format(timestampLayout), "RegionId": DefaultRegion,
	}
	for k, v := range defaults {
		p.Set(k, v)
	}
	for k, vs := range params {
		p[k] = vs
	}
	for k, vs := range p {
		if len(vs) == 1 && vs[0] == "\x00drop" {
			delete(p, k)
		}
	}
	p.Set("Signature", Sign(secret, StringToSign(method, p)))
	return p
}

// without marks a parameter to be left out of a signed request.
const without = "\x00drop"

// get sends a signed GET and decodes the JSON answer.
func get(t testing.TB, srv *httptest.Server, params url.Values) (int, map[string]any) {
	t.Helper()
	return do(t, srv, http.MethodGet, signed(http.MethodGet, testSecret, params))
}

func do(t testing.TB, srv *httptest.Server, method string, q url.Values) (int, map[string]any) {
	t.Helper()
	var (
		resp *http.Response
		err  error
	)
	if method == http.MethodPost {
		resp, err = srv.Client().PostForm(srv.URL+"/", q)
	} else {
		resp, err = srv.Client().Get(srv.URL + "/?" + q.Encode())
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("answer is not JSON: %v: %q", err, body)
	}
	if id, _ := m["RequestId"].(string); !requestIDRE.MatchString(id) {
		t.Errorf("RequestId = %q, want an upper-case UUID", id)
	}
	return resp.StatusCode, m
}

var (
	requestIDRE = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`)
	commandIDRE = regexp.MustCompile(`^c-[a-z0-9]{16}$`)
)

// vals builds url.Values from name, value pairs.
func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// invoke starts command on the test cluster and returns its CommandId.
func invoke(t testing.TB, srv *httptest.Server, kv ...string) string {
	t.Helper()
	p := vals(append([]string{"Action", "InvokeShellCommand", "ClusterId", testCID}, kv...)...)
	st, m := get(t, srv, p)
	if st != http.StatusOK {
		t.Fatalf("InvokeShellCommand: %d %v", st, m)
	}
	return m["CommandId"].(string)
}

func waitDone(t testing.TB, s *Simulator, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := s.Wait(ctx, id); err != nil {
		t.Fatal(err)
	}
}

// sdkClient returns an SDK client for srv with long-term or STS credentials.
func sdkClient(t testing.TB, ak, secret, token string) *sdk.Client {
	t.Helper()
	var (
		c   *sdk.Client
		err error
	)
	if token != "" {
		c, err = sdk.NewClientWithStsToken(DefaultRegion, ak, secret, token)
	} else {
		c, err = sdk.NewClientWithAccessKey(DefaultRegion, ak, secret)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sdkCall(c *sdk.Client, srv *httptest.Server, api string, params map[string]string) (*responses.CommonResponse, error) {
	r := requests.NewCommonRequest()
	r.Method = "GET"
	r.Scheme = "http"
	r.Domain = strings.TrimPrefix(srv.URL, "http://")
	r.Version = APIVersion
	r.ApiName = api
	for k, v := range params {
		r.QueryParams[k] = v
	}
	return c.ProcessCommonRequest(r)
}

// golden compares got (JSON) with testdata/name after replacing the values
// that change per run; -update rewrites the file.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	v = normalise(v, "")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	goldenfile.Check(t, filepath.Join("testdata", name), buf.Bytes())
}

func normalise(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalise(e, k)
		}
	case []any:
		for i, e := range x {
			x[i] = normalise(e, key)
		}
	case string:
		switch {
		case key == "RequestId" && requestIDRE.MatchString(x):
			return "<RequestId>"
		case key == "CommandId" && commandIDRE.MatchString(x):
			return "<CommandId>"
		case key == "FinishedTime" && x != "":
			if _, err := time.Parse(timeLayoutFinished, x); err == nil {
				return "<FinishedTime>"
			}
		}
	}
	return v
}
