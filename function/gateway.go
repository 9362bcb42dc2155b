package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"

	"github.com/hpcgate/hpcgate/function/internal/authn"
	"github.com/hpcgate/hpcgate/function/internal/bundle"
	"github.com/hpcgate/hpcgate/function/internal/claim"
	"github.com/hpcgate/hpcgate/function/internal/config"
	"github.com/hpcgate/hpcgate/function/internal/ehpc"
	"github.com/hpcgate/hpcgate/function/internal/gate"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/httpapi"
	"github.com/hpcgate/hpcgate/function/internal/ingress"
	"github.com/hpcgate/hpcgate/function/internal/oss"
	"github.com/hpcgate/hpcgate/function/internal/owner"
	"github.com/hpcgate/hpcgate/function/internal/page"
	"github.com/hpcgate/hpcgate/function/internal/policy"
	"github.com/hpcgate/hpcgate/function/internal/shellscan"
)

// gateway is the assembled function: the same parts serve FC and local mode.
type gateway struct {
	cfg    config.Config
	log    *slog.Logger
	engine *policy.Engine
	// bundles polls the policy bundle, when one is configured.
	bundles *bundle.Loader
	gate    *gate.Gate
	api     *httpapi.Server
	ingress *ingress.Ingress
}

// options are what the caller of newGateway decides beyond the config.
type options struct {
	// credentials sign E-HPC calls that carry no FC credentials; nil
	// means the SDK's default chain.
	credentials credentials.CredentialsProvider
	// verifier replaces the JWKS of the config (local mode's dev issuer).
	verifier *authn.Verifier
	// objects answers HeadObject for HPCGATE_VERIFY_OBJECTS.
	objects ingress.ObjectHeader
	// fc: serving Function Compute, where instances share no memory.
	fc bool
	// anyOwnerKey makes a random owner key when HPCGATE_OWNER_KEY is
	// unset (local mode); otherwise an unset key stops the start.
	anyOwnerKey bool
	// page replaces the page's sign-in settings of the config (local
	// mode's dev provider).
	page *page.Config
}

// newGateway assembles the gateway with an empty policy engine: every
// request is refused until loadPolicy has put a set in force.
func newGateway(ctx context.Context, cfg config.Config, log *slog.Logger, opt options) (*gateway, error) {
	engine := policy.NewEngine(nil)
	var loader *bundle.Loader
	if cfg.BundleURL != "" {
		bc := bundle.Config{Source: cfg.BundleURL, PublicKey: cfg.BundlePublicKey, Interval: cfg.BundleInterval, Logger: log}
		if strings.HasPrefix(strings.ToLower(cfg.BundleURL), "oss://") {
			objects, err := newOSS(cfg, log)
			if err != nil {
				return nil, err
			}
			bc.OSS = objects
		}
		var err error
		loader, err = bundle.New(bc, engine)
		if err != nil {
			return nil, fmt.Errorf("policy bundle: %w", err)
		}
	}

	client, err := ehpc.New(ehpc.Config{
		Region: cfg.Region, Endpoint: cfg.EHPCEndpoint, OutputCap: cfg.OutputCap,
		Credentials: opt.credentials, Logger: log, Debug: cfg.Debug,
	})
	if err != nil {
		return nil, fmt.Errorf("e-hpc client: %w", err)
	}
	owners, err := ownerKeys(cfg, opt, log)
	if err != nil {
		return nil, err
	}

	// The claim store and object verification share one OSS client: the
	// function's region, signed like the E-HPC calls. The policy bundle
	// has its own (newOSS): its bucket may be in HPCGATE_OSS_REGION, and
	// local mode signs E-HPC calls with the simulator's key, which OSS
	// would refuse.
	var regionOSS *oss.Client
	if cfg.ClaimBucket != "" || (cfg.VerifyObjects && opt.objects == nil) {
		regionOSS, err = oss.New(oss.Config{Region: cfg.Region, Endpoint: cfg.OSSEndpoint, Credentials: opt.credentials, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("oss client for the claim store and object verification: %w", err)
		}
	}
	claims, err := newClaims(cfg, opt, regionOSS, log)
	if err != nil {
		return nil, err
	}
	gopt := gate.Options{
		Region: cfg.Region, Account: cfg.AccountID,
		MaxTimeout: cfg.MaxTimeout, MaxNodes: cfg.MaxNodes,
		DefaultWait: cfg.DefaultWait, MaxWait: cfg.MaxWait, DeadlineSlack: cfg.DeadlineSlack,
		Analyze: shellscan.Analyze, Logger: log, DecisionDetail: cfg.DecisionDetail, Claims: claims,
	}
	if owners != nil { // a nil *owner.Keys would be a non-nil sealer
		gopt.Owners = owners
	}
	g := gate.New(engine, client, gopt)

	api := &httpapi.Server{Gate: g, MaxBodyBytes: cfg.MaxBodyBytes, Revision: func() string {
		if s := engine.Current(); s != nil {
			return s.Revision()
		}
		return ""
	}, Policy: func() (policy.Stats, bool) {
		if s := engine.Current(); s != nil {
			return s.Stats(), true
		}
		return policy.Stats{}, false
	}}
	if loader != nil {
		api.Bundle = func() any { return loader.Status() }
	}
	api.Grants, api.Log = engine, log
	pc := page.Config{Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, Scopes: cfg.OIDCScopes}
	if opt.page != nil {
		pc = *opt.page
	}
	api.Page = page.Handler(pc)
	switch {
	case opt.verifier != nil:
		api.Auth = opt.verifier
	case cfg.HasJWKS():
		v, err := authn.New(authn.Config{
			JWKS: []byte(cfg.JWKS), JWKSFile: cfg.JWKSFile, JWKSURL: cfg.JWKSURL,
			Issuer: cfg.Issuer, Audience: cfg.Audience, GroupsClaim: cfg.GroupsClaim,
			Algorithms: cfg.Algorithms, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("jwt verifier: %w", err)
		}
		api.Auth = v
	case slices.Contains(cfg.Events, hpcgate.TriggerHTTP):
		log.Warn("no JWKS configured: every HTTP request will be refused as unauthenticated")
	}
	if cfg.VerifyObjects && opt.objects == nil {
		opt.objects = objectHeads{regionOSS}
	}
	in, err := ingress.New(ingress.Config{
		Accept: cfg.Events, Account: cfg.AccountID, InvokePrincipal: cfg.InvokePrincipal, HTTPSOnly: cfg.HTTPSOnly,
		Routes: func() []hpcgate.Route {
			if s := engine.Current(); s != nil {
				return s.Routes()
			}
			return nil
		},
		Objects: opt.objects,
	})
	if err != nil {
		return nil, err
	}
	return &gateway{cfg: cfg, log: log, engine: engine, bundles: loader, gate: g, api: api, ingress: in}, nil
}

// objectHeads answers the ingress stage's HeadObject with the OSS client.
type objectHeads struct{ c *oss.Client }

func (o objectHeads) HeadObject(ctx context.Context, bucket, key string) (ingress.Object, error) {
	m, err := o.c.Head(ctx, bucket, key)
	// Only NoSuchKey says the object is gone: a bucket that does not
	// exist has no trigger that could have sent the event, so it must
	// not vouch for a removal.
	switch oss.CodeOf(err) {
	case oss.CodeNoSuchKey:
		return ingress.Object{}, fmt.Errorf("%w: %w", ingress.ErrNoSuchObject, err)
	case oss.CodeNoSuchBucket:
		return ingress.Object{}, fmt.Errorf("%w: %w", ingress.ErrNoSuchBucket, err)
	}
	if err != nil {
		return ingress.Object{}, err
	}
	return ingress.Object{ETag: m.ETag}, nil
}

// loadPolicy puts the configured policy set in force: the bundle, a
// directory, or the embedded default. A bundle that cannot be had now
// leaves the engine empty, so every request is refused (fail closed)
// until a good one loads; a directory or embedded set that does not
// compile is an error.
func (g *gateway) loadPolicy(ctx context.Context) error {
	if g.bundles != nil {
		g.bundles.Load(ctx)
		return nil
	}
	set, err := loadPolicies(ctx, g.cfg)
	if err != nil {
		return err
	}
	g.engine.Swap(set)
	return nil
}

// newOSS is the policy bundle's OSS client: the region's internal endpoint
// unless HPCGATE_OSS_ENDPOINT says otherwise, signed with the
// invocation's STS credentials, else the SDK's default chain (in FC, the
// role's STS credentials FC puts in ALIBABA_CLOUD_* at start).
func newOSS(cfg config.Config, log *slog.Logger) (*oss.Client, error) {
	c, err := oss.New(oss.Config{Region: cfg.OSSRegion, Endpoint: cfg.OSSEndpoint, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("oss client: %w", err)
	}
	return c, nil
}

// ownerKeys returns the keys that seal command owners, from
// HPCGATE_OWNER_KEY; nil when the deployment says "off". Unset, it is an
// error unless opt allows a random key: a gateway that silently sealed
// nothing would deny every "own command" read without saying why.
func ownerKeys(cfg config.Config, opt options, log *slog.Logger) (*owner.Keys, error) {
	switch cfg.OwnerKey {
	case config.OwnerKeyOff:
		log.Warn("HPCGATE_OWNER_KEY=off: commands carry no owner; hpcgate:CommandOwner is absent and hpcgate:OwnCommand false on every read")
		return nil, nil
	case "":
		if opt.anyOwnerKey {
			return owner.Generate(), nil
		}
		return nil, fmt.Errorf("HPCGATE_OWNER_KEY is not set: give a secret of at least %d random bytes in base64 (openssl rand -base64 32), or %q to run without command owners", owner.MinKeyBytes, config.OwnerKeyOff)
	}
	k, err := owner.ParseKeys(string(cfg.OwnerKey))
	if err != nil {
		return nil, fmt.Errorf("HPCGATE_OWNER_KEY: %w", err)
	}
	return k, nil
}

// loadPolicies compiles the policy set the config names: a directory, or
// the embedded default.
func loadPolicies(ctx context.Context, cfg config.Config) (*policy.Set, error) {
	if cfg.PoliciesDir != "" {
		set, err := policy.Compile(ctx, os.DirFS(cfg.PoliciesDir), "dir:"+cfg.PoliciesDir)
		if err != nil {
			return nil, fmt.Errorf("policies in %s: %w", cfg.PoliciesDir, err)
		}
		return set, nil
	}
	set, err := policy.Default(ctx)
	if err != nil {
		return nil, fmt.Errorf("embedded policies: %w", err)
	}
	return set, nil
}

// handler returns the HTTP API.
func (g *gateway) handler() http.Handler { return g.refreshing(g.api.Handler()) }

// refreshing checks, on each request, whether the policy bundle is due
// for a check. FC freezes an instance between invocations, so a ticker
// alone would not keep its policy fresh; the check runs in the
// background and never delays the request.
func (g *gateway) refreshing(h http.Handler) http.Handler {
	if g.bundles == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.bundles.MaybeRefresh(r.Context())
		h.ServeHTTP(w, r)
	})
}

// newClaims returns the ledger of event claims: in OSS when a bucket is
// configured (production, with objects, the function's OSS client), in a
// directory, or in this process's memory (local mode's default).
func newClaims(cfg config.Config, opt options, objects *oss.Client, log *slog.Logger) (*claim.Ledger, error) {
	var store claim.Store
	switch {
	case cfg.ClaimBucket != "":
		store = claim.NewOSS(objects, cfg.ClaimBucket)
	case cfg.ClaimDir != "":
		d, err := claim.NewDir(cfg.ClaimDir)
		if err != nil {
			return nil, err
		}
		store = d
	default:
		if opt.fc {
			log.Warn("HPCGATE_CLAIM_BUCKET is not set: event claims are kept in this instance's memory, so an event delivered again to another instance runs again")
		}
		store = claim.NewMemory()
	}
	return claim.New(claim.Config{Store: store, Prefix: cfg.ClaimPrefix, Lease: cfg.ClaimLease, Wait: cfg.ClaimWait, Logger: log}), nil
}
