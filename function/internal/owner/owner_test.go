package owner

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const (
	cluster = "ehpc-hz-abc"
	marker  = "hpcgate:ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	command = "uname -a"
)

func keyText(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

func mustKeys(t *testing.T, s string) *Keys {
	t.Helper()
	k, err := ParseKeys(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpens(t *testing.T) {
	k := mustKeys(t, keyText(1))
	for _, owner := range []string{
		"user:alice", "service:oss:raw-data", "service:eventbridge:acs.oss", "user:a:b:c",
		"user:Zoë", "user:用户", "user:bob@example.com", "user:\u202eecila", "user:a b\nc",
	} {
		seal := k.Seal(cluster, marker, command, owner)
		if seal == "" || strings.ContainsFunc(seal, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
		}) {
			t.Fatalf("Seal(%q) = %q: want only [A-Za-z0-9_.-], which a shell comment carries inertly", owner, seal)
		}
		got, ok := k.Open(cluster, marker, command, seal)
		if !ok || got != owner {
			t.Errorf("Open(Seal(%q)) = %q, %v", owner, got, ok)
		}
	}
}

// TestForgeries holds every way found to make a seal that is not the
// gateway's open: each must give no owner.
func TestForgeries(t *testing.T) {
	k := mustKeys(t, keyText(1))
	seal := k.Seal(cluster, marker, command, "user:olga")
	parts := strings.Split(seal, ".")
	enc := base64.RawURLEncoding
	other := mustKeys(t, keyText(2))
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := map[string]struct{ cluster, marker, command, seal string }{
		"another command (replay)":           {cluster, marker, "cat /etc/shadow", seal},
		"the command with a line added":      {cluster, marker, command + "\nid", seal},
		"the command cut short":              {cluster, marker, command[:5], seal},
		"another marker":                     {cluster, "hpcgate:ZZZZZZZZZZZZZZZZZZZZZZZZZZ", command, seal},
		"another cluster":                    {"ehpc-hz-other", marker, command, seal},
		"owner swapped, mac kept":            {cluster, marker, command, parts[0] + "." + enc.EncodeToString([]byte("user:mallory")) + "." + parts[2]},
		"mac truncated":                      {cluster, marker, command, seal[:len(seal)-4]},
		"mac cut to nothing":                 {cluster, marker, command, parts[0] + "." + parts[1] + "."},
		"mac bit flipped":                    {cluster, marker, command, flip(seal, len(seal)-3)},
		"no mac":                             {cluster, marker, command, parts[0] + "." + parts[1]},
		"other version":                      {cluster, marker, command, "o2." + parts[1] + "." + parts[2]},
		"extra part":                         {cluster, marker, command, seal + ".x"},
		"padded base64":                      {cluster, marker, command, parts[0] + "." + parts[1] + "." + base64.URLEncoding.EncodeToString(mustDecode(t, parts[2]))},
		"sealed with another key":            {cluster, marker, command, other.Seal(cluster, marker, command, "user:olga")},
		"empty seal":                         {cluster, marker, command, ""},
		"field boundary moved (cluster|mrk)": {cluster + "h", marker[1:], command, seal},
		"mac of the empty key":               {cluster, marker, command, forged(nil, "user:olga")},
		"mac without the domain tag":         {cluster, marker, command, forgedNoTag(bytes.Repeat([]byte{1}, 32), "user:olga")},
	}
	for name, tt := range tests {
		if got, ok := k.Open(tt.cluster, tt.marker, tt.command, tt.seal); ok || got != "" {
			t.Errorf("%s: Open = %q, %v; want no owner", name, got, ok)
		}
	}
}

func mustDecode(t *testing.T, s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func forged(key []byte, owner string) string {
	enc := base64.RawURLEncoding
	return version + "." + enc.EncodeToString([]byte(owner)) + "." + enc.EncodeToString(mac(key, cluster, marker, command, owner))
}

func forgedNoTag(key []byte, owner string) string {
	enc := base64.RawURLEncoding
	sum := mac(key, cluster, marker, command, owner)
	sum[0] ^= 1
	return version + "." + enc.EncodeToString([]byte(owner)) + "." + enc.EncodeToString(sum)
}

func TestSealRefusesWhatCannotBeAnOwner(t *testing.T) {
	k := mustKeys(t, keyText(1))
	for _, owner := range []string{"", "alice", ":alice", "user:", "group:researchers", "user:" + strings.Repeat("a", maxOwner), "user:\xff"} {
		if seal := k.Seal(cluster, marker, command, owner); seal != "" {
			t.Errorf("Seal(%q) = %q, want none", owner, seal)
		}
	}
	var none *Keys
	if seal := none.Seal(cluster, marker, command, "user:alice"); seal != "" {
		t.Errorf("nil Keys sealed: %q", seal)
	}
	if _, ok := none.Open(cluster, marker, command, k.Seal(cluster, marker, command, "user:alice")); ok {
		t.Error("nil Keys opened a seal")
	}
}

func TestRotation(t *testing.T) {
	old := mustKeys(t, keyText(1))
	rotated := mustKeys(t, keyText(2)+", "+keyText(1))
	sealed := old.Seal(cluster, marker, command, "user:alice")
	if got, ok := rotated.Open(cluster, marker, command, sealed); !ok || got != "user:alice" {
		t.Errorf("a seal of the old key does not open after rotation: %q %v", got, ok)
	}
	if _, ok := old.Open(cluster, marker, command, rotated.Seal(cluster, marker, command, "user:alice")); ok {
		t.Error("the new key did not sign: the old key alone opens the new seal")
	}
}

func TestParseKeys(t *testing.T) {
	secret := keyText(7)
	tests := map[string]struct {
		in   string
		want int
	}{
		"standard":          {secret, 1},
		"url, unpadded":     {base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 40)), 1},
		"two":               {secret + "," + keyText(8), 2},
		"empty":             {"", 0},
		"too short":         {base64.StdEncoding.EncodeToString(make([]byte, 31)), 0},
		"not base64":        {"correct horse battery staple, quite long enough!", 0},
		"an empty one of 2": {secret + ",", 0},
	}
	for name, tt := range tests {
		k, err := ParseKeys(tt.in)
		if tt.want == 0 {
			if err == nil {
				t.Errorf("%s: accepted", name)
			} else if strings.Contains(err.Error(), secret) || (tt.in != "" && strings.Contains(err.Error(), tt.in)) {
				t.Errorf("%s: error quotes the key: %v", name, err)
			}
			continue
		}
		if err != nil || len(k.keys) != tt.want {
			t.Errorf("%s: %v, %d keys", name, err, len(k.keys))
		}
	}
}

func TestKeysNeverPrint(t *testing.T) {
	secret := keyText(9)
	k := mustKeys(t, secret)
	raw := string(k.keys[0])
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "keys", k)
	js, _ := json.Marshal(struct{ K *Keys }{k})
	for _, out := range []string{string(js), fmt.Sprint(k), fmt.Sprintf("%+v %#v %v", k, k, *k), fmt.Sprintf("%+v", struct{ K *Keys }{k}), logs.String()} {
		if strings.Contains(out, secret) || strings.Contains(out, raw) || strings.Contains(out, fmt.Sprint(k.keys[0])) {
			t.Errorf("keys printed: %s", out)
		}
	}
}

func TestGeneratedKeysDiffer(t *testing.T) {
	a, b := Generate(), Generate()
	if s := a.Seal(cluster, marker, command, "user:alice"); s == b.Seal(cluster, marker, command, "user:alice") {
		t.Error("two generated keys seal alike")
	}
}
