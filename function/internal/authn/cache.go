package authn

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// maxVerified bounds the verified-token cache; when full, expired entries
// go, and if none has expired the cache starts over.
const maxVerified = 4096

// verifiedCache remembers tokens that passed every check, by their SHA-256
// (never the token itself), until they expire: a client's repeated
// requests then skip the signature check, the dearest step. An entry
// holds only while the key set it was verified against is the current
// one, so a key rotated out ends it; its time bounds are checked on every
// hit with the same leeway as a full verification.
type verifiedCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]verifiedToken
}

type verifiedToken struct {
	principal hpcgate.Principal
	set       *keySet
	notBefore time.Time // the later of nbf and iat; zero when absent
	expires   time.Time // exp
}

// get returns the principal of a token verified against set, if it is
// still valid at now.
func (c *verifiedCache) get(sum [sha256.Size]byte, set *keySet, now time.Time, leeway time.Duration) (hpcgate.Principal, bool) {
	c.mu.Lock()
	e, ok := c.m[sum]
	c.mu.Unlock()
	if !ok || e.set != set || now.Add(-leeway).After(e.expires) || now.Add(leeway).Before(e.notBefore) {
		return hpcgate.Principal{}, false
	}
	p := e.principal
	p.Groups = slices.Clone(p.Groups)
	return p, true
}

func (c *verifiedCache) put(sum [sha256.Size]byte, e verifiedToken, now time.Time) {
	e.principal.Groups = slices.Clone(e.principal.Groups)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[sha256.Size]byte]verifiedToken)
	}
	if len(c.m) >= maxVerified {
		for k, old := range c.m {
			if now.After(old.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxVerified {
			clear(c.m)
		}
	}
	c.m[sum] = e
}
