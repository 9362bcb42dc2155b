// Package owner records who started a command in a way nobody else can
// forge: an HMAC-SHA256 seal, keyed by a deployment secret, over the owner
// (hpcgate.Principal.Owner: "<type>:<id>"), the cluster, the invocation marker and
// the command text. The gateway writes the seal on the marker line E-HPC
// keeps with the command (ehpc.MarkSealed) and checks it when someone
// reads the command's results, so that policies can grant "your own
// commands" (hpcgate:CommandOwner, hpcgate:OwnCommand).
//
// A seal binds the owner to that very command text on that cluster under
// that marker: copied to another command, cut short or edited, it no
// longer opens. Commands the gateway did not start carry no seal and have
// no owner.
package owner

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// MinKeyBytes is the least key length accepted: the HMAC-SHA256 block of
// security.
const MinKeyBytes = 32

// version begins every seal, so that a later format can be told apart.
const version = "o1"

// maxOwner bounds the owner a seal carries, so that the marker line stays
// short (a longer owner leaves the command unsealed, without an owner).
const maxOwner = 256

// Keys seals with its first key and opens with any of them, so that a key
// can be rotated: add the new one first, drop the old one once no command
// sealed with it needs reading. Keys never prints or logs its keys.
type Keys struct {
	keys [][]byte
}

// ParseKeys reads a comma-separated list of base64 keys (standard or URL
// alphabet, padded or not), each at least MinKeyBytes long. Errors never
// quote a key.
func ParseKeys(s string) (*Keys, error) {
	var k Keys
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		b, err := decodeKey(part)
		if err != nil {
			return nil, fmt.Errorf("key %d: not base64", i+1)
		}
		if len(b) < MinKeyBytes {
			return nil, fmt.Errorf("key %d: %d bytes, want at least %d (e.g. openssl rand -base64 32)", i+1, len(b), MinKeyBytes)
		}
		k.keys = append(k.keys, b)
	}
	return &k, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// Generate returns Keys holding one fresh random key (local mode: seals
// then open only while the process lives).
func Generate() *Keys {
	b := make([]byte, MinKeyBytes)
	rand.Read(b) // never fails (crypto/rand)
	return &Keys{keys: [][]byte{b}}
}

// String hides the keys from fmt (a value receiver, so that a copy of
// Keys hides them too).
func (k Keys) String() string { return fmt.Sprintf("owner.Keys(%d, redacted)", len(k.keys)) }

// GoString hides the keys from %#v.
func (k Keys) GoString() string { return k.String() }

// LogValue hides the keys from log/slog.
func (k Keys) LogValue() slog.Value { return slog.StringValue(k.String()) }

// Seal returns the seal of owner for command (the text sent before the
// marker line) under marker on clusterID: "o1.<owner>.<mac>", both parts
// unpadded base64url. It returns "" when there is no owner to seal or the
// owner is longer than the line may carry.
func (k *Keys) Seal(clusterID, marker, command, owner string) string {
	if k == nil || len(k.keys) == 0 || !validOwner(owner) {
		return ""
	}
	enc := base64.RawURLEncoding
	return version + "." + enc.EncodeToString([]byte(owner)) + "." + enc.EncodeToString(mac(k.keys[0], clusterID, marker, command, owner))
}

// Open returns the owner sealed in seal, if seal was made by Seal with one
// of k's keys for exactly this cluster, marker and command; otherwise
// ok is false and nobody owns the command.
func (k *Keys) Open(clusterID, marker, command, seal string) (owner string, ok bool) {
	if k == nil {
		return "", false
	}
	parts := strings.Split(seal, ".")
	if len(parts) != 3 || parts[0] != version {
		return "", false
	}
	enc := base64.RawURLEncoding
	o, err := enc.DecodeString(parts[1])
	if err != nil || !validOwner(string(o)) {
		return "", false
	}
	got, err := enc.DecodeString(parts[2])
	if err != nil || len(got) != sha256.Size {
		return "", false
	}
	for _, key := range k.keys {
		if hmac.Equal(got, mac(key, clusterID, marker, command, string(o))) {
			return string(o), true
		}
	}
	return "", false
}

// validOwner accepts "<type>:<id>" of a principal type the gateway knows,
// in UTF-8, within maxOwner bytes.
func validOwner(o string) bool {
	typ, id, ok := strings.Cut(o, ":")
	return ok && id != "" && len(o) <= maxOwner && utf8.ValidString(o) &&
		(typ == hpcgate.PrincipalUser || typ == hpcgate.PrincipalService)
}

// mac is HMAC-SHA256 over a domain tag and each field with its length
// before it, so that no two field lists give the same input.
func mac(key []byte, fields ...string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("hpcgate command owner v1\x00"))
	var n [binary.MaxVarintLen64]byte
	for _, f := range fields {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}
