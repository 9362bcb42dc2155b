package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"testing"
	"time"
)

// request mirrors the request fields of the HTTP API (hpcgate.Request).
type request struct {
	ClusterID   string   `json:"clusterId"`
	Command     string   `json:"command"`
	WorkingDir  string   `json:"workingDir"`
	Timeout     int      `json:"timeout"`
	InstanceIDs []string `json:"instanceIds"`
}

// decodeRequest decodes one request strictly: unknown fields, trailing data,
// a missing cluster or a command E-HPC would refuse are errors.
func decodeRequest(b []byte) (request, error) {
	var r request
	if err := decodeStrict(b, &r); err != nil {
		return r, err
	}
	if r.ClusterID == "" {
		return r, errors.New("no clusterId")
	}
	if n := len(r.Command); n < 2 || n > 2048 {
		return r, fmt.Errorf("command of %d characters, E-HPC takes 2 to 2048", n)
	}
	return r, nil
}

func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// ossRecord is one OSS event record (REFERENCE §4.2), every field spelled.
type ossRecord struct {
	EventName         string            `json:"eventName"`
	EventSource       string            `json:"eventSource"`
	EventTime         time.Time         `json:"eventTime"`
	EventVersion      string            `json:"eventVersion"`
	Region            string            `json:"region"`
	RequestParameters map[string]string `json:"requestParameters"`
	ResponseElements  map[string]string `json:"responseElements"`
	UserIdentity      map[string]string `json:"userIdentity"`
	OSS               struct {
		OSSSchemaVersion string `json:"ossSchemaVersion"`
		RuleID           string `json:"ruleId"`
		Bucket           struct {
			Name          string `json:"name"`
			ARN           string `json:"arn"`
			OwnerIdentity string `json:"ownerIdentity"`
			VirtualBucket string `json:"virtualBucket"`
		} `json:"bucket"`
		Object struct {
			Key        string            `json:"key"`
			Size       int64             `json:"size"`
			DeltaSize  int64             `json:"deltaSize"`
			ETag       string            `json:"eTag"`
			ObjectMeta map[string]string `json:"objectMeta"`
		} `json:"object"`
	} `json:"oss"`
}

// cloudEvent is an EventBridge event (REFERENCE §4.3).
type cloudEvent struct {
	ID                      string          `json:"id"`
	Source                  string          `json:"source"`
	SpecVersion             string          `json:"specversion"`
	Type                    string          `json:"type"`
	Subject                 string          `json:"subject"`
	Time                    time.Time       `json:"time"`
	DataContentType         string          `json:"datacontenttype"`
	AliyunAccountID         string          `json:"aliyunaccountid"`
	AliyunOriginalAccountID string          `json:"aliyunoriginalaccountid"`
	AliyunPublishTime       time.Time       `json:"aliyunpublishtime"`
	AliyunEventBusName      string          `json:"aliyuneventbusname"`
	AliyunRegionID          string          `json:"aliyunregionid"`
	Data                    json.RawMessage `json:"data"`
}

type timerEvent struct {
	TriggerTime time.Time `json:"triggerTime"`
	TriggerName string    `json:"triggerName"`
	Payload     string    `json:"payload"`
}

func readEvent(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile("events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := decodeStrict(b, v); err != nil {
		t.Fatalf("events/%s: %v", name, err)
	}
}

// The simulator's default cluster, so the samples run in local mode as-is.
const demoCluster = "ehpc-hz-demo01"

func TestEventSamples(t *testing.T) {
	t.Run("oss-put", func(t *testing.T) {
		var e struct {
			Events []ossRecord `json:"events"`
		}
		readEvent(t, "oss-put.json", &e)
		if len(e.Events) != 1 {
			t.Fatalf("%d records, want 1", len(e.Events))
		}
		r := e.Events[0]
		if r.EventSource != "acs:oss" || strings.HasPrefix(r.EventName, "oss:") || r.Region != "cn-hangzhou" ||
			r.OSS.Bucket.Name != "raw-data" || r.OSS.Object.Key != "incoming/run-42.csv" {
			t.Errorf("unexpected record %+v", r)
		}
	})
	t.Run("eventbridge-oss", func(t *testing.T) {
		var e cloudEvent
		readEvent(t, "eventbridge-oss.json", &e)
		var r ossRecord
		if err := decodeStrict(e.Data, &r); err != nil {
			t.Fatalf("data: %v", err)
		}
		if e.SpecVersion != "1.0" || e.Source != "acs.oss" || e.Type != "oss:"+r.EventName ||
			!strings.HasSuffix(e.Subject, ":"+r.OSS.Bucket.Name+"/"+r.OSS.Object.Key) {
			t.Errorf("event attributes do not agree with its data: %+v", e)
		}
	})
	t.Run("eventbridge-custom", func(t *testing.T) {
		var e cloudEvent
		readEvent(t, "eventbridge-custom.json", &e)
		r, err := decodeRequest(e.Data)
		if err != nil {
			t.Fatalf("data: %v", err)
		}
		if e.SpecVersion != "1.0" || strings.HasPrefix(e.Source, "acs.") || r.ClusterID != demoCluster {
			t.Errorf("unexpected event %+v / %+v", e, r)
		}
	})
	t.Run("timer", func(t *testing.T) {
		var e timerEvent
		readEvent(t, "timer.json", &e)
		r, err := decodeRequest([]byte(e.Payload))
		if err != nil {
			t.Fatalf("payload: %v", err)
		}
		if e.TriggerTime.IsZero() || r.ClusterID != demoCluster {
			t.Errorf("unexpected event %+v", e)
		}
	})
	t.Run("invoke", func(t *testing.T) {
		b, err := os.ReadFile("events/invoke.json")
		if err != nil {
			t.Fatal(err)
		}
		r, err := decodeRequest(b)
		if err != nil {
			t.Fatal(err)
		}
		if r.ClusterID != demoCluster {
			t.Errorf("clusterId %q, want %q", r.ClusterID, demoCluster)
		}
	})
}

// TestEventSamplesFireTriggers checks that the samples are events the s.yaml
// triggers would deliver, so the docs and the deployment agree.
func TestEventSamplesFireTriggers(t *testing.T) {
	_, p := props(t, eventResource)

	t.Run("oss", func(t *testing.T) {
		tr := trigger(t, p, "oss")
		var c struct {
			Events []string `json:"events"`
			Filter struct {
				Key struct{ Prefix, Suffix string } `json:"key"`
			} `json:"filter"`
		}
		if err := json.Unmarshal(tr.TriggerConfig, &c); err != nil {
			t.Fatal(err)
		}
		var e struct {
			Events []ossRecord `json:"events"`
		}
		readEvent(t, "oss-put.json", &e)
		r := e.Events[0]
		// sourceArn: acs:oss:<region>:<account>:<bucket>
		arn := strings.Split(tr.SourceArn, ":")
		if len(arn) != 5 || arn[0] != "acs" || arn[1] != "oss" {
			t.Fatalf("sourceArn %q is not a bucket ARN", tr.SourceArn)
		}
		if arn[2] != r.Region || arn[4] != r.OSS.Bucket.Name {
			t.Errorf("sourceArn %s does not name the sample's bucket %s in %s", tr.SourceArn, r.OSS.Bucket.Name, r.Region)
		}
		if !strings.HasPrefix(r.OSS.Object.Key, c.Filter.Key.Prefix) || !strings.HasSuffix(r.OSS.Object.Key, c.Filter.Key.Suffix) {
			t.Errorf("key %q does not pass the filter %+v", r.OSS.Object.Key, c.Filter.Key)
		}
		if !matchesAny(c.Events, "oss:"+r.EventName) {
			t.Errorf("event %s is not among %v", r.EventName, c.Events)
		}
		if !strings.HasPrefix(tr.InvocationRole, "acs:ram::"+testAccount+":role/") {
			t.Errorf("invocationRole %q, want a role of the deploying account", tr.InvocationRole)
		}
	})

	t.Run("eventbridge", func(t *testing.T) {
		tr := trigger(t, p, "eventbridge")
		var c struct {
			EventRuleFilterPattern string `json:"eventRuleFilterPattern"`
		}
		if err := json.Unmarshal(tr.TriggerConfig, &c); err != nil {
			t.Fatal(err)
		}
		var pattern map[string]any
		if err := json.Unmarshal([]byte(c.EventRuleFilterPattern), &pattern); err != nil {
			t.Fatalf("eventRuleFilterPattern is not JSON: %v", err)
		}
		tests := map[string]bool{"eventbridge-oss.json": true, "eventbridge-custom.json": false}
		for name, want := range tests {
			var e map[string]any
			readEvent(t, name, &e)
			got, err := matchPattern(pattern, e)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s: pattern matches = %v, want %v", name, got, want)
			}
		}
	})

	t.Run("timer", func(t *testing.T) {
		tr := trigger(t, p, "timer")
		var c struct {
			Payload string `json:"payload"`
		}
		if err := json.Unmarshal(tr.TriggerConfig, &c); err != nil {
			t.Fatal(err)
		}
		var e timerEvent
		readEvent(t, "timer.json", &e)
		if e.TriggerName != tr.TriggerName || e.Payload != c.Payload {
			t.Errorf("timer.json (%s, %s) is not what trigger %s sends (%s)", e.TriggerName, e.Payload, tr.TriggerName, c.Payload)
		}
	})
}

// matchesAny reports whether s matches one of the OSS event patterns, where
// * stands for any run of characters without a slash.
func matchesAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// matchPattern evaluates the subset of EventBridge's event pattern language
// s.yaml uses: each key's list must contain an exact value or a
// {"prefix": ...} that matches the event's attribute.
func matchPattern(pattern, event map[string]any) (bool, error) {
	for key, want := range pattern {
		alts, ok := want.([]any)
		if !ok {
			return false, fmt.Errorf("pattern key %s: %T, want a list", key, want)
		}
		got, _ := event[key].(string)
		matched := false
		for _, a := range alts {
			switch a := a.(type) {
			case string:
				matched = matched || got == a
			case map[string]any:
				prefix, ok := a["prefix"].(string)
				if !ok || len(a) != 1 {
					return false, fmt.Errorf("pattern key %s: unsupported condition %v", key, a)
				}
				matched = matched || strings.HasPrefix(got, prefix)
			default:
				return false, fmt.Errorf("pattern key %s: unsupported value %v", key, a)
			}
		}
		if !matched {
			return false, nil
		}
	}
	return true, nil
}
