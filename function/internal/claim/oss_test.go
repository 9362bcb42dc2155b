package claim_test

import (
	"cmp"
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"github.com/hpcgate/hpcgate/function/internal/claim"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/oss"
	"github.com/hpcgate/hpcgate/test/osssim"
)

const (
	claimBucket = "hpcgate-claims"
	stsAK       = "STS.NUfcInvocation01"
	stsSecret   = "sts-secret"
	stsToken    = "CAIS-token"
)

// fnPolicy is deploy/ram/event-function-policy.json as an operator renders it.
func fnPolicy(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../../deploy/ram/event-function-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.NewReplacer("{{ACCOUNT_ID}}", osssim.DefaultAccount, "{{REGION}}", osssim.DefaultRegion,
		"{{CLAIM_BUCKET}}", claimBucket, "{{POLICY_BUCKET}}", "gov", "{{POLICY_OBJECT}}", "bundle.tar.gz",
		"{{LOG_PROJECT}}", "p", "{{LOG_STORE}}", "s", "{{RAW_BUCKET}}", "raw-data", "{{FAILURE_QUEUE}}", "q").Replace(string(b)))
}

// ossSetup starts the OSS stand-in with the claim bucket and the
// function's RAM policy, and returns a context carrying the invocation's
// STS credentials.
func ossSetup(t *testing.T) (*osssim.Server, string, context.Context) {
	t.Helper()
	s := osssim.New(osssim.Config{})
	endpoint, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.AddSTS(stsAK, stsSecret, stsToken, time.Now().Add(time.Hour))
	if err := s.SetPolicy(stsAK, fnPolicy(t)); err != nil {
		t.Fatal(err)
	}
	s.CreateBucket(claimBucket)
	ctx := fccontext.NewContext(t.Context(), &fccontext.FcContext{RequestID: "fc-req",
		Credentials: fccontext.Credentials{AccessKeyId: stsAK, AccessKeySecret: stsSecret, SecurityToken: stsToken}})
	return s, endpoint, ctx
}

// ossLedger is one function instance's ledger: its own client.
func ossLedger(t *testing.T, endpoint, bucket, prefix string) *claim.Ledger {
	t.Helper()
	c, err := oss.New(oss.Config{Region: osssim.DefaultRegion, Endpoint: endpoint,
		Credentials: credentials.NewStaticAKCredentialsProvider("LTAI5tUnknownKey", "x")})
	if err != nil {
		t.Fatal(err)
	}
	return claim.New(claim.Config{Store: claim.NewOSS(c, bucket), Prefix: prefix, Lease: time.Minute, Wait: 10 * time.Second, Poll: 5 * time.Millisecond})
}

func TestOSSConcurrentCopiesOnTwoInstances(t *testing.T) {
	s, endpoint, ctx := ossSetup(t)
	instances := []*claim.Ledger{ossLedger(t, endpoint, claimBucket, claim.DefaultPrefix), ossLedger(t, endpoint, claimBucket, claim.DefaultPrefix)}
	ls := &lister{}
	const copies = 8
	var (
		wg      sync.WaitGroup
		tickets atomic.Int32
		dups    atomic.Int32
	)
	for i := range copies {
		wg.Go(func() {
			v, err := instances[i%2].Acquire(ctx, attempt(ls))
			switch {
			case err != nil:
				t.Error(err)
			case v.Ticket != nil:
				tickets.Add(1)
				v.Ticket.Complete(ctx, "c-one")
			case v.Original.CommandID == "c-one":
				dups.Add(1)
			}
		})
	}
	wg.Wait()
	if tickets.Load() != 1 || dups.Load() != copies-1 {
		t.Errorf("owners %d, duplicates %d; want 1 and %d", tickets.Load(), dups.Load(), copies-1)
	}
	if n := s.Count("DeleteObject"); n != 0 {
		t.Errorf("%d DeleteObject calls; claims are never deleted", n)
	}
	for _, c := range s.Calls() {
		if c.Status == 403 {
			t.Errorf("%s %s refused: the deploy RAM policy must allow the claim step", c.Op, c.Key)
		}
	}
}

func TestOSSFaultsFailClosed(t *testing.T) {
	tests := map[string]struct {
		fault      *osssim.Fault
		bucket     string
		prefix     string
		wantTicket bool
	}{
		"PutObject 503":           {fault: &osssim.Fault{Op: "PutObject", Times: 10, Code: osssim.CodeServiceUnavailable}},
		"PutObject dropped":       {fault: &osssim.Fault{Op: "PutObject", Times: 10, Drop: true}},
		"PutObject slow, dropped": {fault: &osssim.Fault{Op: "PutObject", Times: 10, Latency: 50 * time.Millisecond, Drop: true}},
		// The create went through, its answer was lost: the client's retry
		// finds its own bytes, so the claim is this delivery's.
		"PutObject answer lost once": {fault: &osssim.Fault{Op: "PutObject", DropAfter: true}, wantTicket: true},
		"no such bucket":             {bucket: "no-such-claims"},
		"outside the granted prefix": {prefix: "elsewhere/"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, endpoint, ctx := ossSetup(t)
			if tc.fault != nil {
				s.Inject(*tc.fault)
			}
			bucket, prefix := cmp.Or(tc.bucket, claimBucket), cmp.Or(tc.prefix, claim.DefaultPrefix)
			v, err := ossLedger(t, endpoint, bucket, prefix).Acquire(ctx, attempt(&lister{}))
			if tc.wantTicket {
				if err != nil || v.Ticket == nil {
					t.Fatalf("got %+v, %v; want the claim", v, err)
				}
				return
			}
			if code(err) != hpcgate.CodeClaimUnavailable || v.Ticket != nil || v.Original != nil {
				t.Fatalf("got %+v, %v; want ClaimUnavailable and no claim", v, err)
			}
		})
	}
}

func TestOSSGetFaultAfterAClaimFailsClosed(t *testing.T) {
	s, endpoint, ctx := ossSetup(t)
	l := ossLedger(t, endpoint, claimBucket, claim.DefaultPrefix)
	ls := &lister{}
	if v, err := l.Acquire(ctx, attempt(ls)); err != nil || v.Ticket == nil {
		t.Fatal(v, err)
	}
	s.Inject(osssim.Fault{Op: "GetObject", Times: 10, Code: osssim.CodeInternalError})
	if _, err := l.Acquire(ctx, attempt(ls)); code(err) != hpcgate.CodeClaimUnavailable {
		t.Fatalf("reading the claim failed: %v; want ClaimUnavailable", err)
	}
	if ls.calls.Load() != 0 {
		t.Error("looked up in E-HPC although the claim could not be read")
	}
}
