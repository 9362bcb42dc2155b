package ehpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

func TestInvokeEncodesParameters(t *testing.T) {
	tests := map[string]struct {
		req  hpcgate.Request
		want map[string]string // "" = must be absent
	}{
		"all fields": {
			req: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: `echo "hello world"`, WorkingDir: "/home", Timeout: 30, InstanceIDs: []string{"i-1", "i-2"}},
			want: map[string]string{"ClusterId": "ehpc-hz-abc", "Command": `echo "hello world"`, "WorkingDir": "/home", "Timeout": "30",
				"Instance.1.Id": "i-1", "Instance.2.Id": "i-2", "Instance.0.Id": "", "Instance.3.Id": ""},
		},
		"empty values left out": {
			req:  hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "ls"},
			want: map[string]string{"ClusterId": "ehpc-hz-abc", "Command": "ls", "WorkingDir": "", "Timeout": "", "Instance.1.Id": ""},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, cs := newCanned(t, func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) { answer(w, 200, okInvoke) })
			if _, err := c.Invoke(t.Context(), tc.req); err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			q := cs.requests()[0]
			for k, v := range tc.want {
				if v == "" {
					if q.Has(k) {
						t.Errorf("%s = %q, want it left out", k, q.Get(k))
					}
				} else if q.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, q.Get(k), v)
				}
			}
			common := map[string]string{"Action": "InvokeShellCommand", "Version": "2018-04-12", "Format": "JSON", "RegionId": "cn-hangzhou",
				"AccessKeyId": testAK, "SecurityToken": testToken, "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0"}
			for k, v := range common {
				if q.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, q.Get(k), v)
				}
			}
			if q.Get("Signature") == "" || q.Get("SignatureNonce") == "" {
				t.Errorf("request not signed: %v", q)
			}
		})
	}
}

func TestInvokeRejectsBadRequests(t *testing.T) {
	tests := map[string]hpcgate.Request{
		"no cluster":        {Command: "ls"},
		"one-char command":  {ClusterID: "ehpc-hz-abc", Command: "l"},
		"command too long":  {ClusterID: "ehpc-hz-abc", Command: strings.Repeat("x", 2049)},
		"negative timeout":  {ClusterID: "ehpc-hz-abc", Command: "ls", Timeout: -1},
		"empty instance id": {ClusterID: "ehpc-hz-abc", Command: "ls", InstanceIDs: []string{"i-1", ""}},
	}
	for name, r := range tests {
		t.Run(name, func(t *testing.T) {
			c, cs := newCanned(t, func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) { answer(w, 200, okInvoke) })
			_, err := c.Invoke(t.Context(), r)
			if e := asError(t, err); e.Code != hpcgate.CodeInvalidRequest || e.Status != 400 {
				t.Errorf("got %+v, want InvalidRequest 400", e)
			}
			if n := len(cs.requests()); n != 0 {
				t.Errorf("%d requests sent, want 0", n)
			}
		})
	}
}

func TestInstanceIDShapes(t *testing.T) {
	tests := map[string]struct {
		body string
		want []string
	}{
		"flat list":                {`{"InstanceId":["i-a","i-b"]}`, []string{"i-a", "i-b"}},
		"list of one encoded list": {`{"InstanceId":["[ \"i-a\", \"i-b\", \"i-c\" ]"]}`, []string{"i-a", "i-b", "i-c"}},
		"nested lists":             {`{"InstanceId":[["i-a",["i-b"]],"i-c"]}`, []string{"i-a", "i-b", "i-c"}},
		"bare string":              {`{"InstanceId":"i-a"}`, []string{"i-a"}},
		"bare encoded list":        {`{"InstanceId":"[\"i-a\",\"i-b\"]"}`, []string{"i-a", "i-b"}},
		"bare list":                {`["i-a","i-b"]`, []string{"i-a", "i-b"}},
		"string at top":            {`"i-a,i-b"`, []string{"i-a", "i-b"}},
		"duplicates and blanks":    {`{"InstanceId":["i-a"," i-a ","","i-b"]}`, []string{"i-a", "i-b"}},
		"doc sample with masks":    {`{"InstanceId":["[ \"i-uf68t1zu3jkhs8w****\", \"i-uf6abz34m2714bp****\" ]"]}`, []string{"i-uf68t1zu3jkhs8w****", "i-uf6abz34m2714bp****"}},
		"non-strings ignored":      {`{"InstanceId":[1,null,true,"i-a"]}`, []string{"i-a"}},
		"empty object":             {`{}`, []string{}},
		"null":                     {`null`, []string{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := InstanceIDs(json.RawMessage(tc.body)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("InstanceIDs(%s) = %q, want %q", tc.body, got, tc.want)
			}
			// The same through the SDK and Invoke.
			body := `{"RequestId":"R","CommandId":"c-1","InstanceIds":` + tc.body + `}`
			c, _ := newCanned(t, func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) { answer(w, 200, body) })
			inv, err := c.Invoke(t.Context(), testRequest())
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if !reflect.DeepEqual(inv.InstanceIDs, tc.want) || inv.CommandID != "c-1" || inv.RequestID != "R" {
				t.Errorf("Invoke = %+v, want InstanceIDs %q", inv, tc.want)
			}
		})
	}
}

func TestInvokeMalformedAnswerIsOutcomeUnknown(t *testing.T) {
	bodies := map[string]string{
		"not json":             `<html>ok</html>`,
		"truncated json":       `{"RequestId":"R","CommandId":"c-1","Instan`,
		"no CommandId":         `{"RequestId":"R"}`,
		"empty CommandId":      `{"RequestId":"R","CommandId":" "}`,
		"CommandId wrong type": `{"RequestId":"R","CommandId":42}`,
		"empty body":           ``,
		"json array":           `["c-1"]`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			c, cs := newCanned(t, func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) { answer(w, 200, body) })
			_, err := c.Invoke(t.Context(), testRequest())
			e := asError(t, err)
			want := hpcgate.Error{Code: hpcgate.CodeOutcomeUnknown, Status: 502, Retryable: false, Source: "ehpc"}
			if e.Code != want.Code || e.Status != want.Status || e.Retryable || e.Source != want.Source {
				t.Errorf("got %+v, want %+v", e, want)
			}
			if n := len(cs.requests()); n != 1 {
				t.Errorf("%d requests, want exactly 1", n)
			}
		})
	}
}

func TestErrorTableMapped(t *testing.T) {
	for _, m := range ErrorTable {
		code := m.Code
		if m.Prefix && code != "Throttling" {
			code += ".Sub"
		}
		t.Run(code, func(t *testing.T) {
			c, cs := newCanned(t, func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) {
				answer(w, m.UpstreamStatus, errBody(code, "The thing "+code+" happened."))
			})
			_, err := c.Invoke(t.Context(), testRequest())
			e := asError(t, err)
			if e.Code != code || e.Status != m.Status || e.Retryable != m.Retryable || e.Source != hpcgate.SourceEHPC {
				t.Errorf("got %s/%d/retryable=%t/%s, want %s/%d/retryable=%t/ehpc", e.Code, e.Status, e.Retryable, e.Source, code, m.Status, m.Retryable)
			}
			if !strings.Contains(e.Message, code+" happened") {
				t.Errorf("message %q lost E-HPC's text", e.Message)
			}
			var ue *UpstreamError
			if !errors.As(err, &ue) || ue.RequestID != "REQ-1" || ue.Status != m.UpstreamStatus {
				t.Errorf("cause = %+v, want the upstream request id and status", ue)
			}
			want := 1
			if answeredBeforeExecution(code) {
				want = c.retry.attempts
			}
			if n := len(cs.requests()); n != want {
				t.Errorf("%d requests, want %d", n, want)
			}
		})
	}
}

func TestLookupUnknownCodes(t *testing.T) {
	tests := []struct {
		code      string
		upstream  int
		status    int
		retryable bool
	}{
		{"Throttling.Whatever", 400, 503, true},
		{"SignatureSomething", 400, 502, false},
		{"InvalidSecurityToken.New", 400, 502, false},
		{"MissingClusterId", 400, 400, false},
		{"SomethingNew", 400, 400, false},
		{"SomethingNotFound", 404, 404, false},
		{"SomethingBusy", 409, 409, false},
		{"SomethingLimited", 429, 503, true},
		{"SomethingDown", 503, 503, true},
		{"SomethingBroke", 500, 502, false},
		{"SomethingForbidden", 403, 502, false},
		{"AgentError.Timeout", 406, 502, false},
	}
	for _, tc := range tests {
		m := Lookup(tc.code, tc.upstream)
		if m.Status != tc.status || m.Retryable != tc.retryable || m.Code != tc.code {
			t.Errorf("Lookup(%s, %d) = %+v, want status %d retryable %t", tc.code, tc.upstream, m, tc.status, tc.retryable)
		}
	}
}

func TestSignatureMessageStripped(t *testing.T) {
	sts := "GET&%2F&AccessKeyId%3D" + testAK + "%26Action%3DInvokeShellCommand%26SecurityToken%3D" + testToken
	for _, code := range []string{"SignatureDoesNotMatch", "IncompleteSignature"} {
		t.Run(code, func(t *testing.T) {
			c, _ := newCanned(t, func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) {
				answer(w, 400, errBody(code, "Specified signature is not matched with our calculation. server string to sign is:"+sts))
			})
			_, err := c.Invoke(t.Context(), testRequest())
			e := asError(t, err)
			for _, s := range []string{e.Message, e.Error(), fmt.Sprint(e.Body())} {
				for _, secret := range []string{testToken, "string to sign", "SecurityToken"} {
					if strings.Contains(s, secret) {
						t.Errorf("%q leaks %q", s, secret)
					}
				}
			}
			if e.Message != "Specified signature is not matched with our calculation." || e.Status != 502 {
				t.Errorf("got %d %q", e.Status, e.Message)
			}
		})
	}
}

func TestOddErrorBodiesDoNotPanic(t *testing.T) {
	bodies := map[string]struct {
		status int
		body   string
		code   string
	}{
		"numeric code":   {400, `{"Code":123,"Message":"x"}`, ""},
		"html 502":       {502, `<html>bad gateway</html>`, hpcgate.CodeOutcomeUnknown},
		"empty 503":      {503, ``, hpcgate.CodeOutcomeUnknown},
		"list as object": {400, `[1,2]`, hpcgate.CodeOutcomeUnknown},
	}
	for name, tc := range bodies {
		t.Run(name, func(t *testing.T) {
			c, cs := newCanned(t, func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) { answer(w, tc.status, tc.body) })
			_, err := c.Invoke(t.Context(), testRequest())
			e := asError(t, err)
			if tc.code != "" && e.Code != tc.code {
				t.Errorf("code %s, want %s", e.Code, tc.code)
			}
			if e.Retryable || e.Status < 500 {
				t.Errorf("got %+v, want a non-retryable 5xx for an invocation", e)
			}
			if n := len(cs.requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestInvokeRetryPolicy(t *testing.T) {
	tests := map[string]struct {
		first      func(w http.ResponseWriter, r *http.Request) // answer to the first request; later ones succeed
		wantErr    string                                       // code; "" = success
		wantStatus int
		wantReqs   int
	}{
		"throttling is retried": {
			first:    func(w http.ResponseWriter, _ *http.Request) { answer(w, 400, errBody("Throttling.User", "slow down")) },
			wantReqs: 2,
		},
		"service unavailable is retried": {
			first: func(w http.ResponseWriter, _ *http.Request) {
				answer(w, 503, errBody("ServiceUnavailable", "try later"))
			},
			wantReqs: 2,
		},
		"unknown error is not retried": {
			first:   func(w http.ResponseWriter, _ *http.Request) { answer(w, 500, errBody("UnknownError", "boom")) },
			wantErr: "UnknownError", wantStatus: 502, wantReqs: 1,
		},
		"5xx without a code is not retried": {
			first:   func(w http.ResponseWriter, _ *http.Request) { answer(w, 502, "bad gateway") },
			wantErr: hpcgate.CodeOutcomeUnknown, wantStatus: 502, wantReqs: 1,
		},
		"reset after the request was sent is not retried": {
			first:   hangUp,
			wantErr: hpcgate.CodeOutcomeUnknown, wantStatus: 502, wantReqs: 1,
		},
		"body cut short is not retried": {
			first: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "500")
				w.WriteHeader(200)
				w.Write([]byte(`{"CommandId":"c-1"`))
				hangUp(w, nil)
			},
			wantErr: hpcgate.CodeOutcomeUnknown, wantStatus: 502, wantReqs: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, cs := newCanned(t, func(n int, _ url.Values, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					tc.first(w, r)
					return
				}
				answer(w, 200, okInvoke)
			})
			inv, err := c.Invoke(t.Context(), testRequest())
			if tc.wantErr == "" {
				if err != nil || inv.CommandID != "c-hz01abc" {
					t.Fatalf("Invoke = %+v, %v; want success", inv, err)
				}
			} else {
				e := asError(t, err)
				if e.Code != tc.wantErr || e.Status != tc.wantStatus || e.Retryable {
					t.Errorf("got %s/%d/retryable=%t, want %s/%d/false", e.Code, e.Status, e.Retryable, tc.wantErr, tc.wantStatus)
				}
			}
			if n := len(cs.requests()); n != tc.wantReqs {
				t.Errorf("%d requests, want %d", n, tc.wantReqs)
			}
		})
	}
}

// hangUp closes the connection without answering.
func hangUp(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

func TestInvokeTimeoutAfterSendIsNotRetried(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c, cs := newCanned(t, func(_ int, _ url.Values, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	_, err := c.Invoke(ctxTimeout(t, 200*time.Millisecond), testRequest())
	e := asError(t, err)
	if e.Code != hpcgate.CodeUpstreamTimeout || e.Status != 504 || e.Retryable {
		t.Errorf("got %+v, want UpstreamTimeout 504 not retryable", e)
	}
	if n := len(cs.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestInvokeDialFailureIsRetried(t *testing.T) {
	c, cs := newCanned(t, func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) { answer(w, 200, okInvoke) })
	var dials atomic.Int32
	dial := c.invokes.DialContext
	c.invokes.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
		}
		return dial(ctx, network, addr)
	}
	inv, err := c.Invoke(t.Context(), testRequest())
	if err != nil || inv.CommandID == "" {
		t.Fatalf("Invoke = %+v, %v; want success after a refused dial", inv, err)
	}
	if d, n := dials.Load(), len(cs.requests()); d != 2 || n != 1 {
		t.Errorf("dials %d, requests %d; want 2 and 1", d, n)
	}
}

func TestInvokeConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newTestClient(t, Config{Endpoint: "http://" + addr})
	_, err = c.Invoke(t.Context(), testRequest())
	e := asError(t, err)
	if e.Code != hpcgate.CodeUpstreamFailure || e.Status != 502 || !e.Retryable {
		t.Errorf("got %+v, want UpstreamFailure 502 retryable (nothing ran)", e)
	}
	if s := e.Error(); strings.Contains(s, testToken) || strings.Contains(s, "Signature=") && !strings.Contains(s, "[redacted]") {
		t.Errorf("error leaks the request: %s", s)
	}
	if strings.Contains(e.Error(), testToken) {
		t.Errorf("error leaks the token")
	}
}

// TestInvokeNeverReplayed checks that net/http does not resend an
// invocation by itself when a kept-alive connection fails before the
// answer (it does for plain GETs), with the client's transport and with
// fresh connections.
func TestInvokeNeverReplayed(t *testing.T) {
	for _, fresh := range []bool{false, true} {
		t.Run(fmt.Sprintf("fresh=%t", fresh), func(t *testing.T) {
			var conns atomic.Int32
			cs := &canned{handle: func(n int, _ url.Values, w http.ResponseWriter, r *http.Request) {
				if n == 2 {
					hangUp(w, r)
					return
				}
				answer(w, 200, okInvoke)
			}}
			cs.srv = httptest.NewUnstartedServer(cs)
			cs.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			cs.srv.Start()
			t.Cleanup(cs.srv.Close)
			c := newTestClient(t, Config{Endpoint: cs.srv.URL})
			c.invokes.DisableKeepAlives = fresh
			if _, err := c.Invoke(t.Context(), testRequest()); err != nil {
				t.Fatalf("first Invoke: %v", err)
			}
			_, err := c.Invoke(t.Context(), testRequest())
			if e := asError(t, err); e.Code != hpcgate.CodeOutcomeUnknown {
				t.Errorf("second Invoke: %+v, want OutcomeUnknown", e)
			}
			if n := len(cs.requests()); n != 2 {
				t.Errorf("%d requests, want 2: the failed invocation was replayed", n)
			}
			if want := map[bool]int32{false: 1, true: 2}[fresh]; conns.Load() != want {
				t.Errorf("%d connections, want %d", conns.Load(), want)
			}
		})
	}
}

func TestReadRetryPolicy(t *testing.T) {
	tests := map[string]struct {
		answers  []func(w http.ResponseWriter, r *http.Request)
		wantErr  string
		wantReqs int
	}{
		"5xx, throttling and reset are retried": {
			answers: []func(http.ResponseWriter, *http.Request){
				func(w http.ResponseWriter, _ *http.Request) { answer(w, 500, errBody("UnknownError", "x")) },
				func(w http.ResponseWriter, _ *http.Request) { answer(w, 400, errBody("Throttling", "x")) },
				hangUp,
			},
			wantReqs: 4,
		},
		"not found is final": {
			answers:  []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, _ *http.Request) { answer(w, 404, errBody("ClusterNotFound", "x")) }},
			wantErr:  "ClusterNotFound",
			wantReqs: 1,
		},
		"gives up after the attempts": {
			answers: []func(http.ResponseWriter, *http.Request){
				func(w http.ResponseWriter, _ *http.Request) { answer(w, 503, errBody("ServiceUnavailable", "x")) },
				func(w http.ResponseWriter, _ *http.Request) { answer(w, 503, errBody("ServiceUnavailable", "x")) },
				func(w http.ResponseWriter, _ *http.Request) { answer(w, 503, errBody("ServiceUnavailable", "x")) },
				func(w http.ResponseWriter, _ *http.Request) { answer(w, 503, errBody("ServiceUnavailable", "x")) },
			},
			wantErr:  "ServiceUnavailable",
			wantReqs: 4,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, cs := newCanned(t, func(n int, q url.Values, w http.ResponseWriter, r *http.Request) {
				if n <= len(tc.answers) {
					tc.answers[n-1](w, r)
					return
				}
				answer(w, 200, `{"RequestId":"R","CommandId":"c-1","InvokeStatus":"Running","InvokeInstances":{"InvokeInstance":[]}}`)
			})
			_, err := c.status(t.Context(), "ehpc-hz-abc", "c-1")
			if tc.wantErr == "" && err != nil {
				t.Fatalf("status: %v", err)
			}
			if tc.wantErr != "" {
				if e := asError(t, err); e.Code != tc.wantErr {
					t.Errorf("code %s, want %s", e.Code, tc.wantErr)
				}
			}
			if n := len(cs.requests()); n != tc.wantReqs {
				t.Errorf("%d requests, want %d", n, tc.wantReqs)
			}
		})
	}
}

func TestCapOutput(t *testing.T) {
	tests := []struct {
		in    string
		cap   int
		want  string
		trunc bool
	}{
		{"hello", 10, "hello", false},
		{"hello", 5, "hello", false},
		{"hello", 4, "hell", true},
		{"héllo", 2, "h", true}, // é is 2 bytes: cut before it
		{"héllo", 3, "hé", true},
		{"日本語", 4, "日", true}, // 3-byte runes
		{"日本語", 5, "日", true},
		{"日本語", 6, "日本", true},
		{"🙂x", 3, "", true}, // a 4-byte rune does not fit
	}
	for _, tc := range tests {
		got, trunc := capOutput(tc.in, tc.cap)
		if got != tc.want || trunc != tc.trunc || !utf8.ValidString(got) || len(got) > tc.cap {
			t.Errorf("capOutput(%q, %d) = %q, %t; want %q, %t", tc.in, tc.cap, got, trunc, tc.want, tc.trunc)
		}
	}
}

func TestResultsOutputCappedAndKeptOpaque(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes
	b64 := "aGVsbG8gd29ybGQ="
	c, _ := newCanned(t, func(_ int, q url.Values, w http.ResponseWriter, _ *http.Request) {
		switch q.Get("Action") {
		case ActionListInvocationStatus:
			answer(w, 200, `{"InvokeStatus":"Finished","InvokeInstances":{"InvokeInstance":[{"InstanceId":"i-a","InstanceInvokeStatus":"Finished"},{"InstanceId":"i-b","InstanceInvokeStatus":"Finished"}]}}`)
		default:
			answer(w, 200, fmt.Sprintf(`{"PageNumber":1,"PageSize":50,"TotalCount":2,"InvocationResults":{"InvocationResult":[
				{"InstanceId":"i-a","Success":true,"Message":%q,"ExitCode":0,"FinishedTime":"2021-09-06T09:14:56Z","InvokeRecordStatus":"Finished"},
				{"InstanceId":"i-b","Success":true,"Message":%q,"ExitCode":"0","InvokeRecordStatus":"Finished"}]}}`, long, b64))
		}
	})
	c.cap = 51
	out, err := c.Results(t.Context(), "ehpc-hz-abc", "c-1")
	if err != nil {
		t.Fatal(err)
	}
	a, b := out.Results[0], out.Results[1]
	if a.Output != strings.Repeat("é", 25) || !a.Truncated || a.FinishedAt != "2021-09-06T09:14:56Z" {
		t.Errorf("node a = %+v, want 25 é (50 bytes) truncated", a)
	}
	if b.Output != b64 || b.Truncated {
		t.Errorf("node b output %q, want it verbatim", b.Output)
	}
}

func TestResultsPagination(t *testing.T) {
	const total = 120
	page := func(n, size int) string {
		var rs []string
		for i := (n - 1) * size; i < min(n*size, total); i++ {
			rs = append(rs, fmt.Sprintf(`{"InstanceId":"i-%03d","Success":true,"Message":"out %d","ExitCode":0,"InvokeRecordStatus":"Finished"}`, i, i))
		}
		return fmt.Sprintf(`{"PageNumber":%d,"PageSize":%d,"TotalCount":%d,"InvocationResults":{"InvocationResult":[%s]}}`, n, size, total, strings.Join(rs, ","))
	}
	for _, serverSize := range []int{50, 40} {
		t.Run(fmt.Sprintf("server page size %d", serverSize), func(t *testing.T) {
			c, cs := newCanned(t, func(_ int, q url.Values, w http.ResponseWriter, _ *http.Request) {
				if q.Get("PageSize") != "50" {
					t.Errorf("PageSize %q, want 50", q.Get("PageSize"))
				}
				var n int
				fmt.Sscan(q.Get("PageNumber"), &n)
				answer(w, 200, page(n, serverSize))
			})
			rs, err := c.results(t.Context(), "ehpc-hz-abc", "c-1")
			if err != nil {
				t.Fatal(err)
			}
			wantPages := (total + serverSize - 1) / serverSize
			if len(rs) != total || len(cs.requests()) != wantPages {
				t.Errorf("%d results in %d requests, want %d in %d", len(rs), len(cs.requests()), total, wantPages)
			}
			for i, q := range cs.requests() {
				if q.Get("PageNumber") != fmt.Sprint(i+1) {
					t.Errorf("request %d asked page %s", i, q.Get("PageNumber"))
				}
			}
		})
	}
	t.Run("page limit", func(t *testing.T) {
		c, cs := newCanned(t, func(_ int, q url.Values, w http.ResponseWriter, _ *http.Request) {
			answer(w, 200, `{"PageNumber":1,"PageSize":1,"TotalCount":100000,"InvocationResults":{"InvocationResult":[{"InstanceId":"i-x","ExitCode":0}]}}`)
		})
		c.maxPages = 3
		if _, err := c.results(t.Context(), "ehpc-hz-abc", "c-1"); err != nil {
			t.Fatal(err)
		}
		if n := len(cs.requests()); n != 3 {
			t.Errorf("%d requests, want 3 (MaxPages)", n)
		}
	})
}

func TestOutcomeRules(t *testing.T) {
	type node struct {
		status string
		exit   int
	}
	tests := map[string]struct {
		overall string
		nodes   []node
		want    string
		sum     hpcgate.Summary
	}{
		"all finished 0":          {"Finished", []node{{"Finished", 0}, {"Finished", 0}}, hpcgate.StatusSucceeded, hpcgate.Summary{Nodes: 2, Succeeded: 2}},
		"one exit 1":              {"Finished", []node{{"Finished", 0}, {"Finished", 1}}, hpcgate.StatusPartial, hpcgate.Summary{Nodes: 2, Succeeded: 1, Failed: 1}},
		"all exit 1":              {"Finished", []node{{"Finished", 1}, {"Finished", 2}}, hpcgate.StatusFailed, hpcgate.Summary{Nodes: 2, Failed: 2}},
		"failed node":             {"Failed", []node{{"Failed", -1}}, hpcgate.StatusFailed, hpcgate.Summary{Nodes: 1, Failed: 1}},
		"stopped, none succeeded": {"Stopped", []node{{"Stopped", 137}, {"Finished", 1}}, hpcgate.StatusTimedOut, hpcgate.Summary{Nodes: 2, Failed: 2}},
		"stopped, one succeeded":  {"Stopped", []node{{"Stopped", 137}, {"Finished", 0}}, hpcgate.StatusPartial, hpcgate.Summary{Nodes: 2, Succeeded: 1, Failed: 1}},
		"one still running":       {"Running", []node{{"Running", 0}, {"Finished", 0}}, hpcgate.StatusRunning, hpcgate.Summary{Nodes: 2, Succeeded: 1, Running: 1}},
		"pending is running":      {"Pending", []node{{"Pending", 0}}, hpcgate.StatusRunning, hpcgate.Summary{Nodes: 1, Running: 1}},
		"no nodes, running":       {"Running", nil, hpcgate.StatusRunning, hpcgate.Summary{}},
		"no nodes, finished":      {"Finished", nil, hpcgate.StatusSucceeded, hpcgate.Summary{}},
	}
	c := newTestClient(t, Config{Endpoint: "http://127.0.0.1:1"})
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := invocationStatus{Overall: tc.overall}
			var rs []invocationResult
			for i, n := range tc.nodes {
				id := fmt.Sprintf("i-%d", i)
				st.Nodes = append(st.Nodes, nodeStatus{InstanceID: id, Status: n.status})
				rs = append(rs, invocationResult{InstanceID: flexString(id), ExitCode: flexInt(n.exit), InvokeRecordStatus: flexString(n.status)})
			}
			out := c.outcome(st, rs)
			if out.Status != tc.want || out.Summary != tc.sum {
				t.Errorf("outcome = %s %+v, want %s %+v", out.Status, out.Summary, tc.want, tc.sum)
			}
		})
	}
	t.Run("ended without a record counts as running", func(t *testing.T) {
		st := invocationStatus{Overall: "Finished", Nodes: []nodeStatus{{"i-a", "Finished"}, {"i-b", "Finished"}}}
		out := c.outcome(st, []invocationResult{{InstanceID: "i-a", InvokeRecordStatus: "Finished"}})
		if out.Status != hpcgate.StatusRunning || out.Summary != (hpcgate.Summary{Nodes: 2, Succeeded: 1, Running: 1}) {
			t.Errorf("outcome %s %+v, want running with i-b pending", out.Status, out.Summary)
		}
	})
	t.Run("Success false counts as failed", func(t *testing.T) {
		f := flexBool(false)
		out := c.outcome(invocationStatus{Overall: "Finished"}, []invocationResult{{InstanceID: "i-a", Success: &f, InvokeRecordStatus: "Finished"}})
		if out.Status != hpcgate.StatusFailed {
			t.Errorf("status %s, want failed", out.Status)
		}
	})
}

// statusServer answers ListInvocationStatus with Running for the first
// runningPolls polls (forever when < 0), then Finished; results list two
// nodes.
func statusServer(runningPolls int) func(int, url.Values, http.ResponseWriter, *http.Request) {
	var polls atomic.Int32
	return func(_ int, q url.Values, w http.ResponseWriter, _ *http.Request) {
		switch q.Get("Action") {
		case ActionListInvocationStatus:
			st := "Finished"
			if n := int(polls.Add(1)); runningPolls < 0 || n <= runningPolls {
				st = "Running"
			}
			answer(w, 200, fmt.Sprintf(`{"InvokeStatus":%q,"InvokeInstances":{"InvokeInstance":[{"InstanceId":"i-a","InstanceInvokeStatus":%[1]q},{"InstanceId":"i-b","InstanceInvokeStatus":"Finished"}]}}`, st))
		case ActionListInvocationResults:
			a := `{"InstanceId":"i-a","Success":true,"Message":"a\n","ExitCode":0,"InvokeRecordStatus":"Finished"}`
			if runningPolls < 0 {
				a = `{"InstanceId":"i-a","Message":"partial","InvokeRecordStatus":"Running"}`
			}
			answer(w, 200, `{"PageNumber":1,"PageSize":50,"TotalCount":2,"InvocationResults":{"InvocationResult":[
				{"InstanceId":"i-b","Success":true,"Message":"b\n","ExitCode":0,"InvokeRecordStatus":"Finished"},`+a+`]}}`)
		}
	}
}

func TestWaitFinishes(t *testing.T) {
	c, cs := newCanned(t, statusServer(3))
	out, err := c.Wait(ctxTimeout(t, 10*time.Second), "ehpc-hz-abc", "c-1", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != hpcgate.StatusSucceeded || len(out.Results) != 2 || out.Results[0].InstanceID != "i-a" || out.Results[0].Output != "a\n" {
		t.Errorf("Wait = %+v", out)
	}
	if n := cs.count(ActionListInvocationStatus); n != 4 {
		t.Errorf("%d status polls, want 4", n)
	}
	if !reflect.DeepEqual(out.InstanceIDs, []string{"i-a", "i-b"}) {
		t.Errorf("InstanceIDs %q", out.InstanceIDs)
	}
}

func TestWaitDeadlineReturnsRunning(t *testing.T) {
	c, _ := newCanned(t, statusServer(-1))
	out, err := c.Wait(ctxTimeout(t, 300*time.Millisecond), "ehpc-hz-abc", "c-1", time.Minute)
	if err != nil {
		t.Fatalf("Wait: %v, want no error at the deadline", err)
	}
	if out.Status != hpcgate.StatusRunning || len(out.Results) != 2 || out.Results[0].Status != NodeRunning || out.Summary.Running < 1 {
		t.Errorf("Wait = %+v, want running with i-a running", out)
	}
}

// A slow E-HPC does not stretch a wait: a status read still in flight a
// second after the wait is abandoned and the answer is running, even if
// that read would have shown the command ended.
func TestWaitDoesNotOutlastASlowStatus(t *testing.T) {
	c, _ := newCanned(t, func(_ int, q url.Values, w http.ResponseWriter, r *http.Request) {
		if q.Get("Action") == ActionListInvocationStatus {
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
				return
			}
		}
		statusServer(0)(0, q, w, r)
	})
	out, err := c.Wait(ctxTimeout(t, 20*time.Second), "ehpc-hz-abc", "c-1", 100*time.Millisecond)
	if err != nil || out.Status != hpcgate.StatusRunning {
		t.Errorf("Wait = %+v, %v; want running once the wait and its grace passed", out, err)
	}
}

// A wait of d lasts d when the command runs on: the last pause is cut to
// end at d, never skipped because a full backoff step would pass it (a
// wait of 5 s once came back after 3.25 s). Only the lower bound is
// asserted; how late the answer may be depends on the machine.
func TestWaitLastsItsDuration(t *testing.T) {
	c, _ := newCanned(t, statusServer(-1))
	c.poll = retryPolicy{first: 100 * time.Millisecond, factor: 1.5, max: 2 * time.Second}
	for _, d := range []time.Duration{700 * time.Millisecond, 1100 * time.Millisecond} {
		start := time.Now()
		out, err := c.Wait(ctxTimeout(t, 10*time.Second), "ehpc-hz-abc", "c-1", d)
		if took := time.Since(start); err != nil || out.Status != hpcgate.StatusRunning || took < d {
			t.Errorf("Wait(%s) = %s, %v after %s; want running after at least %s", d, out.Status, err, took, d)
		}
		for _, n := range out.Results {
			if n.Status == NodeRunning && n.ExitCode != nil {
				t.Errorf("running node %s has exit code %d, want null", n.InstanceID, *n.ExitCode)
			}
		}
	}
}

func TestWaitRereadsLaggingResults(t *testing.T) {
	var reads atomic.Int32
	c, _ := newCanned(t, func(_ int, q url.Values, w http.ResponseWriter, _ *http.Request) {
		if q.Get("Action") == ActionListInvocationStatus {
			answer(w, 200, `{"InvokeStatus":"Finished","InvokeInstances":{"InvokeInstance":[{"InstanceId":"i-a","InstanceInvokeStatus":"Finished"},{"InstanceId":"i-b","InstanceInvokeStatus":"Finished"}]}}`)
			return
		}
		b := `{"InstanceId":"i-b","Message":"b","ExitCode":0,"InvokeRecordStatus":"Finished"},`
		if reads.Add(1) == 1 {
			b = "" // the first read lacks i-b's record
		}
		answer(w, 200, `{"TotalCount":2,"PageSize":50,"InvocationResults":{"InvocationResult":[`+b+`{"InstanceId":"i-a","Message":"a","ExitCode":0,"InvokeRecordStatus":"Finished"}]}}`)
	})
	out, err := c.Wait(ctxTimeout(t, 10*time.Second), "ehpc-hz-abc", "c-1", 10*time.Second)
	if err != nil || out.Status != hpcgate.StatusSucceeded || out.Results[1].Output != "b" || reads.Load() != 2 {
		t.Errorf("Wait = %+v, %v after %d reads; want succeeded after 2", out, err, reads.Load())
	}
}

func TestWaitRefusalIsAnError(t *testing.T) {
	c, _ := newCanned(t, func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) {
		answer(w, 404, errBody("ClusterNotFound", "The specified cluster does not exist."))
	})
	_, err := c.Wait(ctxTimeout(t, 5*time.Second), "ehpc-hz-abc", "c-1", 5*time.Second)
	if e := asError(t, err); e.Code != "ClusterNotFound" || e.Status != 404 {
		t.Errorf("got %+v", e)
	}
}

func TestListCommands(t *testing.T) {
	c, cs := newCanned(t, func(_ int, q url.Values, w http.ResponseWriter, _ *http.Request) {
		answer(w, 200, `{"PageNumber":1,"PageSize":50,"TotalCount":1,"Commands":{"Command":[{"CommandId":"c-1","CommandContent":"echo \"hello world\"","WorkingDir":"/home","Timeout":"60"}]}}`)
	})
	cmds, err := c.ListCommands(t.Context(), "ehpc-hz-abc", "c-1")
	if err != nil {
		t.Fatal(err)
	}
	want := []Command{{CommandID: "c-1", Content: `echo "hello world"`, WorkingDir: "/home", Timeout: 60}}
	if !reflect.DeepEqual(cmds, want) {
		t.Errorf("ListCommands = %+v, want %+v", cmds, want)
	}
	if q := cs.requests()[0]; q.Get("CommandId") != "c-1" || q.Get("Action") != ActionListCommands {
		t.Errorf("query %v", q)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	tests := map[string]struct {
		cfg Config

		wantOK bool
		scheme string
		domain string
	}{
		"default endpoint":       {cfg: Config{Region: "cn-shanghai"}, wantOK: true, scheme: "https", domain: "ehpc.cn-shanghai.aliyuncs.com"},
		"loopback http":          {cfg: Config{Region: "cn-hangzhou", Endpoint: "http://127.0.0.1:18080"}, wantOK: true, scheme: "http", domain: "127.0.0.1:18080"},
		"localhost http":         {cfg: Config{Region: "cn-hangzhou", Endpoint: "http://localhost:18080/"}, wantOK: true, scheme: "http", domain: "localhost:18080"},
		"ipv6 loopback":          {cfg: Config{Region: "cn-hangzhou", Endpoint: "http://[::1]:18080"}, wantOK: true, scheme: "http", domain: "[::1]:18080"},
		"private https":          {cfg: Config{Region: "cn-hangzhou", Endpoint: "https://ehpc-vpc.cn-hangzhou.aliyuncs.com"}, wantOK: true, scheme: "https", domain: "ehpc-vpc.cn-hangzhou.aliyuncs.com"},
		"remote http refused":    {cfg: Config{Region: "cn-hangzhou", Endpoint: "http://ehpc.cn-hangzhou.aliyuncs.com"}},
		"remote IP http refused": {cfg: Config{Region: "cn-hangzhou", Endpoint: "http://10.0.0.1:80"}},
		"other scheme":           {cfg: Config{Region: "cn-hangzhou", Endpoint: "ftp://127.0.0.1"}},
		"path":                   {cfg: Config{Region: "cn-hangzhou", Endpoint: "https://example.com/api"}},
		"query":                  {cfg: Config{Region: "cn-hangzhou", Endpoint: "https://example.com?x=1"}},
		"user info":              {cfg: Config{Region: "cn-hangzhou", Endpoint: "https://u:p@example.com"}},
		"no host":                {cfg: Config{Region: "cn-hangzhou", Endpoint: "127.0.0.1:8080"}},
		"bad region":             {cfg: Config{Region: "cn hangzhou"}},
		"no region":              {cfg: Config{}},
		"negative cap":           {cfg: Config{Region: "cn-hangzhou", OutputCap: -1}},
		"DEBUG=sdk refused":      {cfg: Config{Region: "cn-hangzhou", Debug: "tea,sdk"}},
		"other DEBUG is fine":    {cfg: Config{Region: "cn-hangzhou", Debug: "tea"}, wantOK: true, scheme: "https", domain: "ehpc.cn-hangzhou.aliyuncs.com"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// New reads only its Config: the environment's DEBUG is not its business.
			t.Setenv("DEBUG", "sdk")
			c, err := New(tc.cfg)
			if !tc.wantOK {
				if err == nil {
					t.Fatalf("New(%+v) succeeded, want an error", tc.cfg)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if c.scheme != tc.scheme || c.domain != tc.domain || c.cap != DefaultOutputCap {
				t.Errorf("scheme %s domain %s cap %d", c.scheme, c.domain, c.cap)
			}
		})
	}
}

func TestCredentialsRedacted(t *testing.T) {
	cr := Credentials{AccessKeyID: "STS.NUgYrLnoC37mZZCNnAbez2Ck", AccessKeySecret: "very-secret-value", SecurityToken: "CAIS-token-value-xyz"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("call", "creds", cr)
	j, _ := json.Marshal(map[string]any{"c": cr})
	outs := []string{fmt.Sprint(cr), fmt.Sprintf("%v %+v %#v %s", cr, cr, cr, cr), fmt.Sprintf("%+v", struct{ C Credentials }{cr}), buf.String(), string(j)}
	for _, s := range outs {
		for _, secret := range []string{"very-secret-value", "CAIS-token-value-xyz", "NUgYrLnoC37mZZCNnAbez2Ck"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q leaks %q", s, secret)
			}
		}
	}
	if !strings.Contains(buf.String(), "STS.****Ck") {
		t.Errorf("log %s lacks the masked key id", buf.String())
	}
}

func TestCredentialsSource(t *testing.T) {
	fcCreds := fccontext.Credentials{AccessKeyId: "STS.fromFC0001", AccessKeySecret: "fc-secret", SecurityToken: "fc-token"}
	tests := map[string]struct {
		ctx       func(context.Context) context.Context
		wantAK    string
		wantToken string
	}{
		"fc context": {func(ctx context.Context) context.Context {
			return fccontext.NewContext(ctx, &fccontext.FcContext{Credentials: fcCreds})
		}, "STS.fromFC0001", "fc-token"},
		"fc context, no creds": {func(ctx context.Context) context.Context {
			return fccontext.NewContext(ctx, &fccontext.FcContext{RequestID: "r"})
		}, testAK, testToken},
		"no fc context": {func(ctx context.Context) context.Context { return ctx }, testAK, testToken},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, cs := newCanned(t, func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) { answer(w, 200, okInvoke) })
			if _, err := c.Invoke(tc.ctx(t.Context()), testRequest()); err != nil {
				t.Fatal(err)
			}
			q := cs.requests()[0]
			if q.Get("AccessKeyId") != tc.wantAK || q.Get("SecurityToken") != tc.wantToken {
				t.Errorf("signed with %s/%s, want %s/%s", q.Get("AccessKeyId"), q.Get("SecurityToken"), tc.wantAK, tc.wantToken)
			}
		})
	}
	t.Run("long-term key from the environment", func(t *testing.T) {
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIenvKey0001")
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret")
		t.Setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "")
		cs := &canned{handle: func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) { answer(w, 200, okInvoke) }}
		srv := newServer(t, cs)
		c := newTestClient(t, Config{Endpoint: srv, Credentials: credentials.NewEnvironmentVariableCredentialsProvider()})
		if _, err := c.Invoke(t.Context(), testRequest()); err != nil {
			t.Fatal(err)
		}
		if q := cs.requests()[0]; q.Get("AccessKeyId") != "LTAIenvKey0001" || q.Has("SecurityToken") {
			t.Errorf("query %v", q)
		}
	})
	t.Run("no credentials at all", func(t *testing.T) {
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
		cs := &canned{handle: func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) { answer(w, 200, okInvoke) }}
		c := newTestClient(t, Config{Endpoint: newServer(t, cs), Credentials: credentials.NewEnvironmentVariableCredentialsProvider()})
		_, err := c.Invoke(t.Context(), testRequest())
		if e := asError(t, err); e.Status != 500 || len(cs.requests()) != 0 {
			t.Errorf("got %+v after %d requests", e, len(cs.requests()))
		}
	})
}

func TestCanceledContextSendsNothing(t *testing.T) {
	c, cs := newCanned(t, func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) { answer(w, 200, okInvoke) })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.Invoke(ctx, testRequest())
	if e := asError(t, err); e.Code != hpcgate.CodeUpstreamTimeout || !errors.Is(err, context.Canceled) {
		t.Errorf("got %+v", e)
	}
	if len(cs.requests()) != 0 {
		t.Errorf("a request was sent")
	}
}
