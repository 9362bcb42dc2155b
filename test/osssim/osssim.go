package osssim

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc64"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults of a new Server.
const (
	DefaultRegion = "cn-hangzhou"
	// DefaultAccount is the account id in the resource names policies match.
	DefaultAccount = "1234567890123456"
	// MaxObjectSize bounds one PutObject body (OSS allows 5 GB; tests need
	// far less).
	MaxObjectSize = 64 << 20
)

// Config configures a Server; the zero value is usable.
type Config struct {
	Region  string           // region of the V4 signing scope; DefaultRegion when empty
	Account string           // account id in resource names; DefaultAccount when empty
	Now     func() time.Time // clock for signature times and token expiry; time.Now when nil
	Logger  *slog.Logger     // call log (debug level); discarded when nil
}

// Server is the stand-in. It is safe for concurrent use.
type Server struct {
	region, account string
	now             func() time.Time
	log             *slog.Logger

	mu      sync.Mutex
	buckets map[string]map[string]*object
	keys    map[string]*accessKey
	faults  []*Fault
	calls   []Call
	seq     uint64

	srv      *http.Server
	ln       net.Listener
	endpoint string
}

type object struct {
	data        []byte
	etag        string // quoted, upper-case MD5 as OSS gives for a simple upload
	crc64       uint64
	contentType string
	modified    time.Time
}

type accessKey struct {
	secret  string
	token   string    // "" for a long-term key
	expires time.Time // zero for a long-term key
	policy  *Policy   // nil: the account owner, allowed everything
}

// New returns a Server with no buckets and no keys.
func New(cfg Config) *Server {
	s := &Server{region: cfg.Region, account: cfg.Account, now: cfg.Now, log: cfg.Logger,
		buckets: map[string]map[string]*object{}, keys: map[string]*accessKey{}}
	if s.region == "" {
		s.region = DefaultRegion
	}
	if s.account == "" {
		s.account = DefaultAccount
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Region is the region requests must be signed for.
func (s *Server) Region() string { return s.region }

// Account is the account id of resource names.
func (s *Server) Account() string { return s.account }

// AddKey accepts a long-term AccessKey pair. Without a policy (SetPolicy)
// it may do everything, as the account owner may.
func (s *Server) AddKey(accessKeyID, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[accessKeyID] = &accessKey{secret: secret}
}

// AddSTS accepts STS credentials until expires: requests must carry token
// in x-oss-security-token.
func (s *Server) AddSTS(accessKeyID, secret, token string, expires time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[accessKeyID] = &accessKey{secret: secret, token: token, expires: expires}
}

// SetPolicy restricts accessKeyID to a RAM policy document (see Policy);
// nil lifts the restriction. The key must have been added.
func (s *Server) SetPolicy(accessKeyID string, doc []byte) error {
	var p *Policy
	if doc != nil {
		var err error
		if p, err = ParsePolicy(doc); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[accessKeyID]
	if !ok {
		return fmt.Errorf("osssim: no key %q", accessKeyID)
	}
	k.policy = p
	return nil
}

// CreateBucket makes an empty private bucket (no-op if it exists).
func (s *Server) CreateBucket(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[name] == nil {
		s.buckets[name] = map[string]*object{}
	}
}

// DeleteBucket removes a bucket and its objects.
func (s *Server) DeleteBucket(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.buckets, name)
}

// Put stores an object without a request (creating the bucket), as a
// publisher outside the test would, and returns its ETag (quoted).
func (s *Server) Put(bucket, key string, data []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[bucket] == nil {
		s.buckets[bucket] = map[string]*object{}
	}
	o := s.newObject(data, "application/octet-stream")
	s.buckets[bucket][key] = o
	return o.etag
}

// Get returns an object's bytes and ETag.
func (s *Server) Get(bucket, key string) (data []byte, etag string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.buckets[bucket][key]
	if o == nil {
		return nil, "", false
	}
	return append([]byte(nil), o.data...), o.etag, true
}

// Remove deletes an object without a request.
func (s *Server) Remove(bucket, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.buckets[bucket], key)
}

func (s *Server) newObject(data []byte, contentType string) *object {
	sum := md5.Sum(data)
	return &object{data: append([]byte(nil), data...), etag: `"` + strings.ToUpper(hex.EncodeToString(sum[:])) + `"`,
		crc64: crc64.Checksum(data, crcTable), contentType: contentType, modified: s.now().UTC()}
}

var crcTable = crc64.MakeTable(crc64.ECMA)

// ETagOf is the ETag OSS gives data uploaded with one PutObject.
func ETagOf(data []byte) string {
	sum := md5.Sum(data)
	return `"` + strings.ToUpper(hex.EncodeToString(sum[:])) + `"`
}

// Call is one answered request.
type Call struct {
	Op          string // GetObject, HeadObject, PutObject, DeleteObject, or "" when the request named none
	Bucket, Key string
	AccessKeyID string // "" when anonymous
	Status      int
	Code        string // error code, "" on success and 304
	RequestID   string
	Conditional string // If-None-Match / If-Match / forbid-overwrite as sent
}

// Calls returns a copy of the call log.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Count returns how many answered requests had op ("" counts all).
func (s *Server) Count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if op == "" || c.Op == op {
			n++
		}
	}
	return n
}

// Listen serves on addr (a loopback address such as 127.0.0.1:0) and
// returns the endpoint URL to give the SDK (path-style, since it is an IP).
func (s *Server) Listen(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("osssim: listen: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", errors.New("osssim: listen on a loopback address only")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("osssim: listen: %w", err)
	}
	s.mu.Lock()
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.endpoint = "http://" + ln.Addr().String()
	srv, endpoint := s.srv, s.endpoint
	s.mu.Unlock()
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	return endpoint, nil
}

// Endpoint is the URL Listen returned ("" before).
func (s *Server) Endpoint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endpoint
}

// Close stops serving.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return srv.Close()
	}
	return nil
}
