package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCheckListen(t *testing.T) {
	tests := map[string]struct {
		addr     string
		insecure bool
		ok       bool
	}{
		"loopback v4":               {addr: "127.0.0.1:9000", ok: true},
		"another loopback v4":       {addr: "127.0.0.2:0", ok: true},
		"loopback v6":               {addr: "[::1]:9000", ok: true},
		"localhost":                 {addr: "localhost:9000", ok: true},
		"every interface":           {addr: ":9000"},
		"0.0.0.0":                   {addr: "0.0.0.0:9000"},
		"[::]":                      {addr: "[::]:9000"},
		"a LAN address":             {addr: "192.168.1.5:9000"},
		"a name that may resolve":   {addr: "myhost:9000"},
		"v4-mapped v6 of a LAN":     {addr: "[::ffff:192.168.1.5]:9000"},
		"no port":                   {addr: "127.0.0.1"},
		"0.0.0.0 with the flag":     {addr: "0.0.0.0:9000", insecure: true, ok: true},
		"every interface with flag": {addr: ":9000", insecure: true, ok: true},
	}
	for name, tt := range tests {
		err := checkListen(tt.addr, tt.insecure)
		if (err == nil) != tt.ok {
			t.Errorf("%s: checkListen(%q, %v) = %v, want ok %v", name, tt.addr, tt.insecure, err, tt.ok)
		}
		if err != nil && name != "no port" && !strings.Contains(err.Error(), "--insecure-listen") {
			t.Errorf("%s: %v does not name --insecure-listen", name, err)
		}
	}
}

// TestLocalRefusesNetworkListen runs the local subcommand as a user
// would: it stops before serving anything.
func TestLocalRefusesNetworkListen(t *testing.T) {
	var out, errs bytes.Buffer
	code := runLocal(t.Context(), []string{"--listen", "0.0.0.0:0"}, func(string) string { return "" }, &out, &errs)
	if code != 1 || !strings.Contains(errs.String(), "--insecure-listen") || strings.Contains(out.String(), "listening") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 naming --insecure-listen", code, out.String(), errs.String())
	}
}
