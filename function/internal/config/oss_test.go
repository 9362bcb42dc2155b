package config

import (
	"strings"
	"testing"
)

func TestLoadOSS(t *testing.T) {
	c, err := Load(env(map[string]string{"FC_REGION": "cn-shanghai", "HPCGATE_POLICY_BUNDLE_URL": "oss://gov-policy/hpcgate/bundle.tar.gz"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.OSSRegion != "cn-shanghai" || c.OSSEndpoint != "" {
		t.Errorf("OSS defaults: region %q endpoint %q, want the function's region and its internal endpoint", c.OSSRegion, c.OSSEndpoint)
	}
	c, err = Load(env(map[string]string{"HPCGATE_OSS_REGION": "cn-beijing", "HPCGATE_OSS_ENDPOINT": "https://oss-cn-beijing.aliyuncs.com"}))
	if err != nil || c.OSSRegion != "cn-beijing" || c.OSSEndpoint != "https://oss-cn-beijing.aliyuncs.com" {
		t.Errorf("OSS values: %q %q, %v", c.OSSRegion, c.OSSEndpoint, err)
	}

	tests := map[string]struct {
		env  map[string]string
		want string
	}{
		"oss url without key":    {map[string]string{"HPCGATE_POLICY_BUNDLE_URL": "oss://gov-policy/"}, "HPCGATE_POLICY_BUNDLE_URL"},
		"oss url bad bucket":     {map[string]string{"HPCGATE_POLICY_BUNDLE_URL": "oss://Gov_Policy/b.tar.gz"}, "HPCGATE_POLICY_BUNDLE_URL"},
		"oss endpoint with path": {map[string]string{"HPCGATE_OSS_ENDPOINT": "https://oss.example.com/x"}, "HPCGATE_OSS_ENDPOINT"},
		"oss endpoint no scheme": {map[string]string{"HPCGATE_OSS_ENDPOINT": "oss-cn-hangzhou.aliyuncs.com"}, "HPCGATE_OSS_ENDPOINT"},
		"bad oss region":         {map[string]string{"HPCGATE_OSS_REGION": "cn hangzhou"}, "HPCGATE_OSS_REGION"},
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
