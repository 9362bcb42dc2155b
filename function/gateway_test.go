package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hpcgate/hpcgate/function/internal/config"
)

func TestOwnerKeys(t *testing.T) {
	const good = "ZTJlIG93bmVyIGtleSwgMzIgYnl0ZXMgb3IgbW9yZSE="
	tests := map[string]struct {
		key       string
		local     bool
		wantKeys  bool
		wantErr   string
		wantWarns bool
	}{
		"a key":                   {key: good, wantKeys: true},
		"two keys":                {key: good + "," + good, wantKeys: true},
		"unset in FC":             {wantErr: "HPCGATE_OWNER_KEY is not set"},
		"unset in local mode":     {local: true, wantKeys: true},
		"off":                     {key: "off", wantWarns: true},
		"off in local mode":       {key: "off", local: true, wantWarns: true},
		"too short":               {key: "c2hvcnQ=", wantErr: "HPCGATE_OWNER_KEY: key 1: 5 bytes"},
		"not base64":              {key: "not base64 at all!", wantErr: "HPCGATE_OWNER_KEY: key 1: not base64"},
		"a bad key even in local": {key: "c2hvcnQ=", local: true, wantErr: "HPCGATE_OWNER_KEY"},
	}
	for name, tt := range tests {
		var logs bytes.Buffer
		k, err := ownerKeys(config.Config{OwnerKey: config.Secret(tt.key)}, options{anyOwnerKey: tt.local}, slog.New(slog.NewJSONHandler(&logs, nil)))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err %v, want %q", name, err, tt.wantErr)
			}
			if err != nil && tt.key != "" && strings.Contains(err.Error(), tt.key) {
				t.Errorf("%s: the error quotes the key", name)
			}
			continue
		}
		if err != nil || (k != nil) != tt.wantKeys || strings.Contains(logs.String(), "WARN") != tt.wantWarns {
			t.Errorf("%s: keys %v, err %v, logs %s", name, k != nil, err, logs.String())
		}
	}
}
