package config

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != DefaultRegion || c.MaxTimeout != DefaultMaxTimeout || c.MaxWait != DefaultMaxWait ||
		c.GroupsClaim != "groups" || c.InvokePrincipal != "invoke" || c.HasJWKS() {
		t.Errorf("defaults: %+v", c)
	}
}

func TestLoadValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"FC_REGION":              "cn-shanghai",
		"FC_ACCOUNT_ID":          "123456",
		"HPCGATE_MAX_WAIT":       "90",
		"HPCGATE_DEFAULT_WAIT":   "5s",
		"HPCGATE_JWKS_FILE":      "/etc/jwks.json",
		"HPCGATE_JWT_ISSUER":     "https://idp",
		"HPCGATE_JWT_AUDIENCE":   "hpcgate",
		"HPCGATE_JWT_ALGORITHMS": "RS256, ES256",
		"HPCGATE_LOG_LEVEL":      "debug",
		"HPCGATE_OIDC_CLIENT_ID": "hpcgate-page",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != "cn-shanghai" || c.AccountID != "123456" || c.MaxWait != 90*time.Second ||
		c.DefaultWait != 5*time.Second || len(c.Algorithms) != 2 || c.Algorithms[1] != "ES256" || !c.HasJWKS() ||
		c.OIDCIssuer != "https://idp" || c.OIDCClientID != "hpcgate-page" || c.OIDCScopes != DefaultOIDCScopes {
		t.Errorf("values: %+v", c)
	}
}

func TestLoadErrorsNameTheVariable(t *testing.T) {
	tests := map[string]struct {
		env  map[string]string
		want string
	}{
		"timeout not a number":      {map[string]string{"HPCGATE_MAX_TIMEOUT": "ten"}, "HPCGATE_MAX_TIMEOUT"},
		"timeout out of range":      {map[string]string{"HPCGATE_MAX_TIMEOUT": "0"}, "HPCGATE_MAX_TIMEOUT"},
		"bad wait":                  {map[string]string{"HPCGATE_MAX_WAIT": "soon"}, "HPCGATE_MAX_WAIT"},
		"two jwks sources":          {map[string]string{"HPCGATE_JWKS": "{}", "HPCGATE_JWKS_URL": "https://x", "HPCGATE_JWT_ISSUER": "i", "HPCGATE_JWT_AUDIENCE": "a"}, "set only one"},
		"jwks without issuer":       {map[string]string{"HPCGATE_JWKS_URL": "https://x"}, "HPCGATE_JWT_ISSUER"},
		"endpoint not a url":        {map[string]string{"HPCGATE_EHPC_ENDPOINT": "127.0.0.1:8080"}, "HPCGATE_EHPC_ENDPOINT"},
		"endpoint with path":        {map[string]string{"HPCGATE_EHPC_ENDPOINT": "http://127.0.0.1:8080/x"}, "HPCGATE_EHPC_ENDPOINT"},
		"bad region":                {map[string]string{"HPCGATE_REGION": "cn hangzhou"}, "HPCGATE_REGION"},
		"bad log level":             {map[string]string{"HPCGATE_LOG_LEVEL": "loud"}, "HPCGATE_LOG_LEVEL"},
		"dir and bundle":            {map[string]string{"HPCGATE_POLICIES_DIR": "/p", "HPCGATE_POLICY_BUNDLE_URL": "https://b"}, "set only one"},
		"key without bundle":        {map[string]string{"HPCGATE_POLICY_BUNDLE_PUBLIC_KEY": "pem"}, "needs HPCGATE_POLICY_BUNDLE_URL"},
		"default wait beyond max":   {map[string]string{"HPCGATE_DEFAULT_WAIT": "2m"}, "exceeds HPCGATE_MAX_WAIT"},
		"body cap below a kibibyte": {map[string]string{"HPCGATE_MAX_BODY_BYTES": "10"}, "HPCGATE_MAX_BODY_BYTES"},
		"client id without issuer":  {map[string]string{"HPCGATE_OIDC_CLIENT_ID": "page"}, "HPCGATE_OIDC_ISSUER"},
		"plain http issuer":         {map[string]string{"HPCGATE_OIDC_CLIENT_ID": "page", "HPCGATE_OIDC_ISSUER": "http://idp.example.org"}, "HPCGATE_OIDC_ISSUER"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Load(env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load() error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	cases := map[string]struct {
		env     string
		want    []string
		wantErr string
	}{
		"default is http only":  {env: "", want: []string{"http"}},
		"event function":        {env: "oss,eventbridge,timer", want: []string{"oss", "eventbridge", "timer"}},
		"spaces and duplicates": {env: " oss , oss,timer", want: []string{"oss", "timer"}},
		"unknown kind":          {env: "http,mns", wantErr: `HPCGATE_EVENTS: unknown kind "mns"`},
		"empty item":            {env: "http,", wantErr: `HPCGATE_EVENTS: unknown kind ""`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := Load(func(k string) string {
				if k == "HPCGATE_EVENTS" {
					return tc.env
				}
				return ""
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load = %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(c.Events, tc.want) {
				t.Fatalf("Load = %q, %v; want %q", c.Events, err, tc.want)
			}
		})
	}
}

func TestTransportAndVerifyFlags(t *testing.T) {
	vars := map[string]string{"HPCGATE_HTTPS_ONLY": "true", "HPCGATE_VERIFY_OBJECTS": "1"}
	c, err := Load(env(vars))
	if err != nil || !c.HTTPSOnly || !c.VerifyObjects {
		t.Fatalf("Load = %+v, %v", c, err)
	}
	vars["HPCGATE_HTTPS_ONLY"] = "yes"
	if _, err := Load(env(vars)); err == nil || !strings.Contains(err.Error(), "HPCGATE_HTTPS_ONLY") {
		t.Fatalf("Load(HPCGATE_HTTPS_ONLY=yes) = %v, want an error naming it", err)
	}
}

func TestOwnerKeyNeverPrints(t *testing.T) {
	const key = "c2VjcmV0IG93bmVyIGtleSBvZiBhdCBsZWFzdCAzMiBieXRlcw=="
	c, err := Load(env(map[string]string{"HPCGATE_OWNER_KEY": " " + key + " ", "DEBUG": "tea"}))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.OwnerKey) != key || c.Debug != "tea" {
		t.Fatalf("OwnerKey %d bytes, Debug %q", len(c.OwnerKey), c.Debug)
	}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "config", c, "key", c.OwnerKey)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.OwnerKey), logs.String()} {
		if strings.Contains(out, key) {
			t.Errorf("the owner key is printed: %s", out)
		}
	}
}
