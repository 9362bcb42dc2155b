package authn

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Defaults and limits of Config.
const (
	DefaultGroupsClaim     = "groups"
	DefaultLeeway          = 30 * time.Second
	MaxLeeway              = 5 * time.Minute
	DefaultRefreshInterval = 10 * time.Second
	DefaultMaxAge          = 15 * time.Minute
	DefaultFetchTimeout    = 10 * time.Second

	// MaxIDBytes bounds the length of sub and of each group name.
	MaxIDBytes = 256
	// MaxGroups bounds how many groups one token may carry.
	MaxGroups = 256
)

// DefaultAlgorithms are the signature algorithms accepted when
// Config.Algorithms is empty.
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}

// supportedAlgorithms are the only names Config.Algorithms may list: all
// asymmetric. none and the HMAC family are refused, so a public key can
// never be used as an HMAC secret.
var supportedAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}

// Config says which tokens a Verifier accepts. Exactly one of JWKS,
// JWKSFile and JWKSURL names the keys; Issuer and Audience are required.
type Config struct {
	JWKS     []byte // a JWKS document ({"keys":[...]})
	JWKSFile string // path of a JWKS document, read once by New
	JWKSURL  string // https URL of a JWKS (http only for a loopback host)

	Issuer      string        // the exact iss every token must carry
	Audience    string        // a value the token's aud must contain
	GroupsClaim string        // claim holding the groups; "" = DefaultGroupsClaim
	Algorithms  []string      // accepted algs; nil = DefaultAlgorithms
	Leeway      time.Duration // clock skew allowed on exp/nbf/iat; 0 = DefaultLeeway

	HTTPClient      *http.Client  // fetches JWKSURL; nil = one with DefaultFetchTimeout
	RefreshInterval time.Duration // least time between JWKS fetches after a burst of 2; 0 = default
	MaxAge          time.Duration // a fetched JWKS is refetched when older; 0 = default
	Logger          *slog.Logger  // JWKS fetch failures; nil = discard
}

// Verifier checks bearer tokens and turns them into principals. It is safe
// for concurrent use.
type Verifier struct {
	issuer, audience string
	groupsClaim      string
	algs             map[string]jwa.SignatureAlgorithm
	leeway           time.Duration
	keys             keySource
	now              func() time.Time
	verified         verifiedCache
}

// New builds a Verifier from cfg. It fails when no or several key sources
// are given, when Issuer or Audience is empty (a verifier that accepted any
// issuer or audience would accept tokens minted for other services), when
// an algorithm is unknown or not asymmetric, when JWKSURL is neither https
// nor http on a loopback host, or when an inline or file JWKS holds no
// usable public key. A JWKSURL is not fetched here but on first use, so an
// unreachable identity provider does not stop the function from starting.
func New(cfg Config) (*Verifier, error) {
	v := &Verifier{
		issuer:      cfg.Issuer,
		audience:    cfg.Audience,
		groupsClaim: cfg.GroupsClaim,
		leeway:      cfg.Leeway,
		now:         time.Now,
		algs:        map[string]jwa.SignatureAlgorithm{},
	}
	if v.issuer == "" || v.audience == "" {
		return nil, errors.New("authn: issuer and audience are required")
	}
	if v.groupsClaim == "" {
		v.groupsClaim = DefaultGroupsClaim
	}
	switch {
	case v.leeway == 0:
		v.leeway = DefaultLeeway
	case v.leeway < 0 || v.leeway > MaxLeeway:
		return nil, fmt.Errorf("authn: leeway %s outside 0..%s", v.leeway, MaxLeeway)
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = DefaultAlgorithms
	}
	for _, name := range algs {
		if !slices.Contains(supportedAlgorithms, name) {
			return nil, fmt.Errorf("authn: algorithm %q not allowed (accepted: %s)", name, strings.Join(supportedAlgorithms, ", "))
		}
		alg, ok := jwa.LookupSignatureAlgorithm(name)
		if !ok {
			return nil, fmt.Errorf("authn: algorithm %q unknown", name)
		}
		v.algs[name] = alg
	}

	sources := 0
	for _, set := range []bool{len(cfg.JWKS) > 0, cfg.JWKSFile != "", cfg.JWKSURL != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, errors.New("authn: exactly one of JWKS, JWKSFile and JWKSURL is required")
	}
	switch {
	case len(cfg.JWKS) > 0:
		ks, err := parseKeySet(cfg.JWKS)
		if err != nil {
			return nil, fmt.Errorf("authn: inline jwks: %w", err)
		}
		v.keys = staticKeys{ks}
	case cfg.JWKSFile != "":
		data, err := readFileLimited(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("authn: jwks file: %w", err)
		}
		ks, err := parseKeySet(data)
		if err != nil {
			return nil, fmt.Errorf("authn: jwks file %s: %w", cfg.JWKSFile, err)
		}
		v.keys = staticKeys{ks}
	default:
		logURL, err := checkJWKSURL(cfg.JWKSURL)
		if err != nil {
			return nil, err
		}
		client := cfg.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: DefaultFetchTimeout}
		}
		// Keep the caller's transport but refuse https->http redirects.
		client = jwk.WrapHTTPClientDefaults(client)
		interval := positiveOr(cfg.RefreshInterval, DefaultRefreshInterval)
		maxAge := positiveOr(cfg.MaxAge, DefaultMaxAge)
		log := cfg.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		v.keys = newRemoteKeys(cfg.JWKSURL, logURL, client, interval, maxAge, func() time.Time { return v.now() }, log)
	}
	return v, nil
}

func positiveOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func readFileLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxJWKSBytes)
	}
	return data, nil
}

// checkJWKSURL accepts https URLs, and http ones only for a loopback host
// (local runs and tests). It returns the URL without userinfo, for logs.
func checkJWKSURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("authn: jwks url does not parse")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !hpcgate.IsLoopbackHost(u.Hostname()) {
			return "", errors.New("authn: jwks url must be https (http only for a loopback host)")
		}
	default:
		return "", errors.New("authn: jwks url must be https")
	}
	if u.Host == "" {
		return "", errors.New("authn: jwks url has no host")
	}
	return u.Redacted(), nil
}

// VerifyRequest verifies the bearer token of r's Authorization header.
func (v *Verifier) VerifyRequest(r *http.Request) (hpcgate.Principal, error) {
	tok, err := BearerToken(r)
	if err != nil {
		return hpcgate.Principal{}, err
	}
	return v.Verify(r.Context(), string(tok))
}

// Verify checks token — signature against the key set, iss, aud, exp, nbf,
// iat, sub — and returns the user it names. Every failure is a 401
// *hpcgate.Error with a coarse message (503 when the key set cannot be
// loaded); neither the message nor the wrapped cause contains the token.
// ctx bounds any key set fetch.
func (v *Verifier) Verify(ctx context.Context, token string) (hpcgate.Principal, error) {
	p, err := v.verify(ctx, token)
	if err != nil {
		return hpcgate.Principal{}, scrub(err, token)
	}
	return p, nil
}

func (v *Verifier) verify(ctx context.Context, token string) (hpcgate.Principal, error) {
	if token == "" {
		return hpcgate.Principal{}, unauthenticated(msgMissingToken, errEmptyToken)
	}
	if len(token) > MaxTokenBytes {
		return hpcgate.Principal{}, invalid(errTokenTooLarge)
	}
	if err := checkCompact(token); err != nil {
		return hpcgate.Principal{}, invalid(err)
	}
	hdrPart, _, _ := strings.Cut(token, ".")
	hdr := jwsbb.HeaderParseCompact([]byte(hdrPart))
	algName, err := jwsbb.HeaderGetString(hdr, jws.AlgorithmKey)
	if err != nil {
		return hpcgate.Principal{}, invalid(fmt.Errorf("header alg: %w", err))
	}
	alg, ok := v.algs[algName]
	if !ok {
		return hpcgate.Principal{}, invalid(fmt.Errorf("alg %s not allowed", quoteShort(algName)))
	}
	var kid string
	if jwsbb.HeaderHas(hdr, jws.KeyIDKey) {
		if kid, err = jwsbb.HeaderGetString(hdr, jws.KeyIDKey); err != nil || kid == "" {
			return hpcgate.Principal{}, invalid(errors.New("header kid is not a non-empty string"))
		}
	}

	set, err := v.keys.current(ctx)
	if err != nil {
		return hpcgate.Principal{}, unavailable(err)
	}
	sum := sha256.Sum256([]byte(token))
	if p, ok := v.verified.get(sum, set, v.now(), v.leeway); ok {
		return p, nil
	}
	keys := set.candidates(algName, kid)
	if len(keys) == 0 {
		if newer, ok := v.keys.refresh(ctx, set); ok {
			set = newer
			keys = newer.candidates(algName, kid)
		}
	}
	if len(keys) == 0 {
		return hpcgate.Principal{}, invalid(fmt.Errorf("no %s key with kid %s", algName, quoteShort(kid)))
	}
	var payload []byte
	for _, k := range keys {
		// VerifyCompactFast also refuses crit and b64 headers and an alg
		// other than the one given.
		if payload, err = jws.VerifyCompactFast(k.raw, []byte(token), alg); err == nil {
			break
		}
	}
	if err != nil {
		return hpcgate.Principal{}, invalid(fmt.Errorf("signature: %w", err))
	}

	// The payload is decoded as a JSON object, never handed back to a
	// format-guessing parser, so a signed payload cannot smuggle a nested
	// unverified token.
	if err := checkClaims(payload); err != nil {
		return hpcgate.Principal{}, invalid(err)
	}
	tok := jwt.New()
	if err := json.Unmarshal(payload, tok); err != nil {
		return hpcgate.Principal{}, invalid(fmt.Errorf("claims: %w", err))
	}
	err = jwt.Validate(tok,
		jwt.WithClock(jwt.ClockFunc(v.now)),
		jwt.WithAcceptableSkew(v.leeway),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.SubjectKey),
	)
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return hpcgate.Principal{}, unauthenticated(msgExpired, err)
	case err != nil:
		return hpcgate.Principal{}, invalid(fmt.Errorf("claims: %w", err))
	}
	p, err := v.principal(tok)
	if err != nil {
		return p, err
	}
	e := verifiedToken{principal: p, set: set}
	e.expires, _ = tok.Expiration()
	nbf, _ := tok.NotBefore()
	iat, _ := tok.IssuedAt()
	e.notBefore = nbf
	if iat.After(nbf) {
		e.notBefore = iat
	}
	v.verified.put(sum, e, v.now())
	return p, nil
}

// principal reads sub, the groups claim and amr from verified claims.
func (v *Verifier) principal(tok jwt.Token) (hpcgate.Principal, error) {
	sub, _ := tok.Subject()
	if err := checkID(sub); err != nil {
		return hpcgate.Principal{}, invalid(fmt.Errorf("sub: %w", err))
	}
	groups, err := v.groups(tok)
	if err != nil {
		return hpcgate.Principal{}, invalid(err)
	}
	mfa, err := hasMFA(tok)
	if err != nil {
		return hpcgate.Principal{}, invalid(err)
	}
	return hpcgate.Principal{Type: "user", ID: sub, Groups: groups, MFA: &mfa}, nil
}

// groups reads the groups claim: absent or null means none, a string is one
// group, a list of strings is the groups. Anything else — a number, an
// object, a list holding a non-string — rejects the token: dropping groups
// silently could skip a Deny attached to one of them. A name with dots
// ("realm_access.roles") that is not itself a claim is followed as a path
// through nested objects.
func (v *Verifier) groups(tok jwt.Token) ([]string, error) {
	val, ok := claim(tok, v.groupsClaim)
	if !ok || val == nil {
		return nil, nil
	}
	var names []string
	switch val := val.(type) {
	case string:
		if val == "" {
			return nil, nil
		}
		names = []string{val}
	case []any:
		for _, e := range val {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("groups claim %s: element of type %T", quoteShort(v.groupsClaim), e)
			}
			names = append(names, s)
		}
	case []string:
		names = val
	default:
		return nil, fmt.Errorf("groups claim %s: type %T", quoteShort(v.groupsClaim), val)
	}
	if len(names) > MaxGroups {
		return nil, fmt.Errorf("groups claim: %d groups, more than %d", len(names), MaxGroups)
	}
	out := make([]string, 0, len(names))
	for _, g := range names {
		if err := checkID(g); err != nil {
			return nil, fmt.Errorf("group: %w", err)
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func claim(tok jwt.Token, name string) (any, bool) {
	var val any
	if tok.Has(name) {
		if err := tok.Get(name, &val); err != nil {
			return nil, false
		}
		return val, true
	}
	first, rest, nested := strings.Cut(name, ".")
	if !nested || !tok.Has(first) || tok.Get(first, &val) != nil {
		return nil, false
	}
	for _, part := range strings.Split(rest, ".") {
		m, ok := val.(map[string]any)
		if !ok {
			return nil, false
		}
		if val, ok = m[part]; !ok {
			return nil, false
		}
	}
	return val, true
}

// hasMFA reports whether amr (RFC 8176: a list of strings) lists "mfa".
// An absent or null amr is no MFA; another shape rejects the token.
func hasMFA(tok jwt.Token) (bool, error) {
	val, ok := claim(tok, "amr")
	if !ok || val == nil {
		return false, nil
	}
	list, ok := val.([]any)
	if !ok {
		return false, fmt.Errorf("amr claim: type %T", val)
	}
	mfa := false
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return false, fmt.Errorf("amr claim: element of type %T", e)
		}
		mfa = mfa || s == "mfa"
	}
	return mfa, nil
}

// checkID accepts a non-empty, printable UTF-8 string of at most
// MaxIDBytes without leading or trailing space: what policy attachments can
// name unambiguously.
func checkID(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > MaxIDBytes:
		return fmt.Errorf("longer than %d bytes", MaxIDBytes)
	case !utf8.ValidString(s):
		return errors.New("not UTF-8")
	case strings.TrimSpace(s) != s:
		return errors.New("leading or trailing space")
	}
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return fmt.Errorf("unprintable character %U", r)
		}
	}
	return nil
}

// checkCompact accepts only the JWS compact form: three non-empty
// base64url segments.
func checkCompact(token string) error {
	parts := 0
	segLen := 0
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '.':
			if segLen == 0 {
				return errors.New("malformed: empty segment")
			}
			parts++
			segLen = 0
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			segLen++
		default:
			return errors.New("malformed: not base64url")
		}
	}
	if parts != 2 || segLen == 0 {
		return errors.New("malformed: not three segments")
	}
	return nil
}

// quoteShort quotes an attacker-chosen header value for an internal error,
// cut to a length that cannot carry much.
func quoteShort(s string) string {
	const n = 32
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strconv.Quote(s)
}
