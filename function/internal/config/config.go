// Package config reads the gateway's configuration from environment
// variables, once, at start. Every variable has a safe default; a bad value
// stops the function at start with a message naming the variable.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/oss"
)

// Defaults, named so the README table and the code cannot drift apart.
const (
	DefaultRegion        = "cn-hangzhou"
	DefaultGroupsClaim   = "groups"
	DefaultMaxTimeout    = 3600
	DefaultWait          = 10 * time.Second
	DefaultMaxWait       = 60 * time.Second
	DefaultMaxNodes      = 64
	DefaultMaxBodyBytes  = 64 << 10
	DefaultOutputCap     = 64 << 10
	DefaultPollInterval  = 60 * time.Second
	DefaultInvokePrinc   = "invoke"
	DefaultDeadlineSlack = 2 * time.Second
	// DefaultEvents: a deployment takes only HTTP requests unless it says
	// otherwise, so no direct invoke can pose as a trigger by default.
	DefaultEvents      = "http"
	DefaultClaimPrefix = "hpcgate/claims/"
	DefaultClaimLease  = 10 * time.Minute
	DefaultClaimWait   = 15 * time.Second
	DefaultOIDCScopes  = "openid profile"
)

// EventKinds are the kinds of event HPCGATE_EVENTS may list.
var EventKinds = []string{"http", "invoke", "oss", "eventbridge", "timer"}

// Config is everything the gateway reads from its environment.
type Config struct {
	Region       string // HPCGATE_REGION, else FC_REGION
	AccountID    string // HPCGATE_ACCOUNT_ID, else FC_ACCOUNT_ID
	EHPCEndpoint string // HPCGATE_EHPC_ENDPOINT: override URL; "" = https://ehpc.<region>.aliyuncs.com
	OSSRegion    string // HPCGATE_OSS_REGION, else Region (the policy bundle's bucket)

	JWKS        string   // HPCGATE_JWKS: inline JWKS JSON
	JWKSFile    string   // HPCGATE_JWKS_FILE
	JWKSURL     string   // HPCGATE_JWKS_URL
	Issuer      string   // HPCGATE_JWT_ISSUER
	Audience    string   // HPCGATE_JWT_AUDIENCE
	GroupsClaim string   // HPCGATE_JWT_GROUPS_CLAIM
	Algorithms  []string // HPCGATE_JWT_ALGORITHMS, comma separated; nil = the verifier's default

	// The researchers' page signs in with OpenID Connect (authorization
	// code flow with PKCE) when a client id is set.
	OIDCIssuer   string // HPCGATE_OIDC_ISSUER, else HPCGATE_JWT_ISSUER
	OIDCClientID string // HPCGATE_OIDC_CLIENT_ID: a public client (no secret)
	OIDCScopes   string // HPCGATE_OIDC_SCOPES, space separated

	PoliciesDir     string        // HPCGATE_POLICIES_DIR: replaces the embedded governance data
	BundleURL       string        // HPCGATE_POLICY_BUNDLE_URL: OPA bundle, oss://bucket/key, path or http(s) URL
	BundlePublicKey string        // HPCGATE_POLICY_BUNDLE_PUBLIC_KEY: PEM, verifies bundle signatures
	BundleInterval  time.Duration // HPCGATE_POLICY_POLL_INTERVAL
	MaxTimeout      int           // HPCGATE_MAX_TIMEOUT: seconds a command may ask for
	DefaultWait     time.Duration // HPCGATE_DEFAULT_WAIT: wait when a request does not say
	MaxWait         time.Duration // HPCGATE_MAX_WAIT
	MaxNodes        int           // HPCGATE_MAX_NODES: nodes one request may name
	MaxBodyBytes    int           // HPCGATE_MAX_BODY_BYTES
	OutputCap       int           // HPCGATE_OUTPUT_CAP: bytes of output kept per node
	InvokePrincipal string        // HPCGATE_INVOKE_PRINCIPAL: service principal of direct invokes
	Events          []string      // HPCGATE_EVENTS: kinds of event accepted, comma separated (EventKinds)
	HTTPSOnly       bool          // HPCGATE_HTTPS_ONLY: the HTTP trigger is reachable over HTTPS only
	VerifyObjects   bool          // HPCGATE_VERIFY_OBJECTS: HeadObject each routed OSS record's object
	OSSEndpoint     string        // HPCGATE_OSS_ENDPOINT: override URL; "" = the region's internal endpoint
	LogLevel        slog.Level    // HPCGATE_LOG_LEVEL: debug, info, warn, error
	DecisionDetail  string        // HPCGATE_DECISION_DETAIL: full (default) or reasons
	DeadlineSlack   time.Duration // time kept back from FC's deadline to answer in

	// Event claims (an event delivered again runs its command once).
	ClaimBucket string        // HPCGATE_CLAIM_BUCKET: OSS bucket of the claims (production)
	ClaimPrefix string        // HPCGATE_CLAIM_PREFIX: key prefix of the claims in the bucket
	ClaimDir    string        // HPCGATE_CLAIM_DIR: claims in a local directory (local mode, tests)
	ClaimLease  time.Duration // HPCGATE_CLAIM_LEASE: how long a claim without outcome counts as in flight
	ClaimWait   time.Duration // HPCGATE_CLAIM_WAIT: how long a copy waits for a claim in flight

	// OwnerKey (HPCGATE_OWNER_KEY) seals who started each command:
	// comma-separated base64 keys of at least 32 bytes, the first signs;
	// OwnerKeyOff to run without command owners; "" is refused in FC and
	// means a random key in local mode.
	OwnerKey Secret
	// Debug is DEBUG, which the Alibaba Cloud SDK reads by itself; the
	// E-HPC client refuses to start when it names "sdk".
	Debug string
}

// OwnerKeyOff as HPCGATE_OWNER_KEY runs without command owners: no
// command has one, so statements that grant a principal its own commands
// never match.
const OwnerKeyOff = "off"

// Secret is a configuration value that must never be printed or logged.
type Secret string

// String hides s from fmt.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides s from %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue hides s from log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText hides s from encoding/json and every text encoder (a
// Config logged whole goes through JSON, not LogValue).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Vars lists every variable Load reads, for docs and the s.yaml check.
var Vars = []string{
	"HPCGATE_REGION", "HPCGATE_ACCOUNT_ID", "HPCGATE_EHPC_ENDPOINT",
	"HPCGATE_OSS_REGION",
	"HPCGATE_JWKS", "HPCGATE_JWKS_FILE", "HPCGATE_JWKS_URL",
	"HPCGATE_JWT_ISSUER", "HPCGATE_JWT_AUDIENCE", "HPCGATE_JWT_GROUPS_CLAIM", "HPCGATE_JWT_ALGORITHMS",
	"HPCGATE_POLICIES_DIR", "HPCGATE_POLICY_BUNDLE_URL", "HPCGATE_POLICY_BUNDLE_PUBLIC_KEY", "HPCGATE_POLICY_POLL_INTERVAL",
	"HPCGATE_MAX_TIMEOUT", "HPCGATE_DEFAULT_WAIT", "HPCGATE_MAX_WAIT", "HPCGATE_MAX_NODES",
	"HPCGATE_MAX_BODY_BYTES", "HPCGATE_OUTPUT_CAP", "HPCGATE_INVOKE_PRINCIPAL", "HPCGATE_LOG_LEVEL",
	"HPCGATE_DECISION_DETAIL",
	"HPCGATE_EVENTS", "HPCGATE_HTTPS_ONLY", "HPCGATE_VERIFY_OBJECTS", "HPCGATE_OSS_ENDPOINT",
	"HPCGATE_CLAIM_BUCKET", "HPCGATE_CLAIM_PREFIX", "HPCGATE_CLAIM_DIR",
	"HPCGATE_CLAIM_LEASE", "HPCGATE_CLAIM_WAIT",
	"HPCGATE_OWNER_KEY",
	"HPCGATE_OIDC_ISSUER", "HPCGATE_OIDC_CLIENT_ID", "HPCGATE_OIDC_SCOPES",
}

// Load reads the configuration through getenv (os.Getenv in main, a map in
// tests) and validates it.
func Load(getenv func(string) string) (Config, error) {
	var errs []error
	intVar := func(name string, def, lo, hi int) int {
		s := strings.TrimSpace(getenv(name))
		if s == "" {
			return def
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Errorf("%s: want an integer from %d to %d, got %q", name, lo, hi, s))
			return def
		}
		return n
	}
	durVar := func(name string, def, lo, hi time.Duration) time.Duration {
		s := strings.TrimSpace(getenv(name))
		if s == "" {
			return def
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			// A bare number is seconds, as everywhere else in the API.
			n, nerr := strconv.Atoi(s)
			if nerr != nil {
				errs = append(errs, fmt.Errorf("%s: want a duration such as 30s or 5m, got %q", name, s))
				return def
			}
			d = time.Duration(n) * time.Second
		}
		if d < lo || d > hi {
			errs = append(errs, fmt.Errorf("%s: want a duration from %s to %s, got %s", name, lo, hi, d))
			return def
		}
		return d
	}

	c := Config{
		Region:          cmp.Or(getenv("HPCGATE_REGION"), getenv("FC_REGION"), DefaultRegion),
		AccountID:       cmp.Or(getenv("HPCGATE_ACCOUNT_ID"), getenv("FC_ACCOUNT_ID")),
		EHPCEndpoint:    getenv("HPCGATE_EHPC_ENDPOINT"),
		OSSEndpoint:     getenv("HPCGATE_OSS_ENDPOINT"),
		JWKS:            getenv("HPCGATE_JWKS"),
		JWKSFile:        getenv("HPCGATE_JWKS_FILE"),
		JWKSURL:         getenv("HPCGATE_JWKS_URL"),
		Issuer:          getenv("HPCGATE_JWT_ISSUER"),
		Audience:        getenv("HPCGATE_JWT_AUDIENCE"),
		GroupsClaim:     cmp.Or(getenv("HPCGATE_JWT_GROUPS_CLAIM"), DefaultGroupsClaim),
		OIDCIssuer:      cmp.Or(getenv("HPCGATE_OIDC_ISSUER"), getenv("HPCGATE_JWT_ISSUER")),
		OIDCClientID:    getenv("HPCGATE_OIDC_CLIENT_ID"),
		OIDCScopes:      cmp.Or(getenv("HPCGATE_OIDC_SCOPES"), DefaultOIDCScopes),
		PoliciesDir:     getenv("HPCGATE_POLICIES_DIR"),
		BundleURL:       getenv("HPCGATE_POLICY_BUNDLE_URL"),
		BundlePublicKey: getenv("HPCGATE_POLICY_BUNDLE_PUBLIC_KEY"),
		InvokePrincipal: cmp.Or(getenv("HPCGATE_INVOKE_PRINCIPAL"), DefaultInvokePrinc),
		DeadlineSlack:   DefaultDeadlineSlack,
		ClaimBucket:     getenv("HPCGATE_CLAIM_BUCKET"),
		ClaimPrefix:     cmp.Or(getenv("HPCGATE_CLAIM_PREFIX"), DefaultClaimPrefix),
		ClaimDir:        getenv("HPCGATE_CLAIM_DIR"),
		OwnerKey:        Secret(strings.TrimSpace(getenv("HPCGATE_OWNER_KEY"))),
		Debug:           getenv("DEBUG"),
	}
	c.OSSRegion = cmp.Or(getenv("HPCGATE_OSS_REGION"), c.Region)
	if s := strings.TrimSpace(getenv("HPCGATE_JWT_ALGORITHMS")); s != "" {
		for _, a := range strings.Split(s, ",") {
			if a = strings.TrimSpace(a); a != "" {
				c.Algorithms = append(c.Algorithms, a)
			}
		}
	}
	boolVar := func(name string) bool {
		switch s := strings.TrimSpace(getenv(name)); s {
		case "", "false", "0":
			return false
		case "true", "1":
			return true
		default:
			errs = append(errs, fmt.Errorf("%s: want true or false, got %q", name, s))
			return false
		}
	}
	c.HTTPSOnly = boolVar("HPCGATE_HTTPS_ONLY")
	c.VerifyObjects = boolVar("HPCGATE_VERIFY_OBJECTS")
	events := cmp.Or(strings.TrimSpace(getenv("HPCGATE_EVENTS")), DefaultEvents)
	for _, k := range strings.Split(events, ",") {
		k = strings.TrimSpace(k)
		switch {
		case !slices.Contains(EventKinds, k):
			errs = append(errs, fmt.Errorf("HPCGATE_EVENTS: unknown kind %q (want a comma-separated list of %s)", k, strings.Join(EventKinds, ", ")))
		case !slices.Contains(c.Events, k):
			c.Events = append(c.Events, k)
		}
	}
	c.BundleInterval = durVar("HPCGATE_POLICY_POLL_INTERVAL", DefaultPollInterval, time.Second, 24*time.Hour)
	c.MaxTimeout = intVar("HPCGATE_MAX_TIMEOUT", DefaultMaxTimeout, 1, 86400)
	c.DefaultWait = durVar("HPCGATE_DEFAULT_WAIT", DefaultWait, 0, time.Hour)
	c.MaxWait = durVar("HPCGATE_MAX_WAIT", DefaultMaxWait, 0, 24*time.Hour)
	c.MaxNodes = intVar("HPCGATE_MAX_NODES", DefaultMaxNodes, 1, 1000)
	c.MaxBodyBytes = intVar("HPCGATE_MAX_BODY_BYTES", DefaultMaxBodyBytes, 1<<10, 32<<20)
	c.ClaimLease = durVar("HPCGATE_CLAIM_LEASE", DefaultClaimLease, 10*time.Second, 24*time.Hour)
	c.ClaimWait = durVar("HPCGATE_CLAIM_WAIT", DefaultClaimWait, 0, 10*time.Minute)
	c.OutputCap = intVar("HPCGATE_OUTPUT_CAP", DefaultOutputCap, 1<<10, 16<<20)
	if s := getenv("HPCGATE_LOG_LEVEL"); s != "" {
		if err := c.LogLevel.UnmarshalText([]byte(s)); err != nil {
			errs = append(errs, fmt.Errorf("HPCGATE_LOG_LEVEL: want debug, info, warn or error, got %q", s))
		}
	}
	switch c.DecisionDetail = cmp.Or(strings.TrimSpace(getenv("HPCGATE_DECISION_DETAIL")), "full"); c.DecisionDetail {
	case "full", "reasons":
	default:
		errs = append(errs, fmt.Errorf("HPCGATE_DECISION_DETAIL: want full or reasons, got %q", c.DecisionDetail))
	}
	if err := c.validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

var regionRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// validate rejects combinations no single variable can see.
func (c Config) validate() error {
	var errs []error
	if !regionRE.MatchString(c.Region) {
		errs = append(errs, fmt.Errorf("HPCGATE_REGION: %q is not a region id", c.Region))
	}
	sources := 0
	for _, s := range []string{c.JWKS, c.JWKSFile, c.JWKSURL} {
		if s != "" {
			sources++
		}
	}
	if sources > 1 {
		errs = append(errs, errors.New("HPCGATE_JWKS, HPCGATE_JWKS_FILE and HPCGATE_JWKS_URL: set only one"))
	}
	if sources == 1 && (c.Issuer == "" || c.Audience == "") {
		errs = append(errs, errors.New("HPCGATE_JWT_ISSUER and HPCGATE_JWT_AUDIENCE are required with a JWKS"))
	}
	if c.EHPCEndpoint != "" {
		u, err := url.Parse(c.EHPCEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("HPCGATE_EHPC_ENDPOINT: want a URL such as https://ehpc.example.internal, got %q", c.EHPCEndpoint))
		}
	}
	if !regionRE.MatchString(c.OSSRegion) {
		errs = append(errs, fmt.Errorf("HPCGATE_OSS_REGION: %q is not a region id", c.OSSRegion))
	}
	if c.OSSEndpoint != "" {
		u, err := url.Parse(c.OSSEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("HPCGATE_OSS_ENDPOINT: want a URL such as https://oss-cn-hangzhou.aliyuncs.com, got %q", c.OSSEndpoint))
		}
	}
	if strings.HasPrefix(strings.ToLower(c.BundleURL), "oss://") {
		if _, _, err := oss.ParseURL(c.BundleURL); err != nil {
			errs = append(errs, fmt.Errorf("HPCGATE_POLICY_BUNDLE_URL: %w", err))
		}
	}
	if c.PoliciesDir != "" && c.BundleURL != "" {
		errs = append(errs, errors.New("HPCGATE_POLICIES_DIR and HPCGATE_POLICY_BUNDLE_URL: set only one"))
	}
	if c.BundlePublicKey != "" && c.BundleURL == "" {
		errs = append(errs, errors.New("HPCGATE_POLICY_BUNDLE_PUBLIC_KEY needs HPCGATE_POLICY_BUNDLE_URL"))
	}
	if c.ClaimBucket != "" && c.ClaimDir != "" {
		errs = append(errs, errors.New("HPCGATE_CLAIM_BUCKET and HPCGATE_CLAIM_DIR: set only one"))
	}
	if p := c.ClaimPrefix; strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || strings.Contains(p, "..") || strings.Contains(p, "*") {
		errs = append(errs, fmt.Errorf("HPCGATE_CLAIM_PREFIX: want a relative prefix ending in / such as %s, got %q", DefaultClaimPrefix, p))
	}
	if c.OIDCClientID != "" {
		u, err := url.Parse(c.OIDCIssuer)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
			errs = append(errs, fmt.Errorf("HPCGATE_OIDC_ISSUER (or HPCGATE_JWT_ISSUER): want the https URL of the identity provider with HPCGATE_OIDC_CLIENT_ID, got %q", c.OIDCIssuer))
		}
	}
	if c.DefaultWait > c.MaxWait {
		errs = append(errs, fmt.Errorf("HPCGATE_DEFAULT_WAIT (%s) exceeds HPCGATE_MAX_WAIT (%s)", c.DefaultWait, c.MaxWait))
	}
	return errors.Join(errs...)
}

// HasJWKS reports whether a JWKS source is configured. Without one, HTTP
// requests cannot authenticate and are all refused.
func (c Config) HasJWKS() bool { return c.JWKS != "" || c.JWKSFile != "" || c.JWKSURL != "" }

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
