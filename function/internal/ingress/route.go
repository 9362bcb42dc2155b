package ingress

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/route"
	"github.com/hpcgate/hpcgate/function/internal/trigger"
)

// subject is one record being routed: an OSS record, a CloudEvent, or an
// OSS record inside a CloudEvent.
type subject struct {
	rec    trigger.OSSRecord
	hasRec bool
	ce     trigger.CloudEvent
	hasCE  bool
}

func (in *Ingress) routes() []hpcgate.Route {
	if in.cfg.Routes == nil {
		return nil
	}
	return in.cfg.Routes()
}

// resolve completes c (principal, trigger, identity already set) with the
// request of the first route that matches s. No route matching is the
// item's own error (NoMatchingRoute): the record runs nothing. A route
// that matches but whose argv the record's values cannot fill is an
// error of the whole event.
//
// Principals: an OSS record, from the OSS trigger or through EventBridge,
// is oss:<bucket> when an oss route takes it, so attachments written for
// the OSS trigger hold; an eventbridge route gives eventbridge:<source>.
func resolve(routes []hpcgate.Route, s subject, c hpcgate.Call) (Item, error) {
	for _, r := range routes {
		if !matches(r.Match, s) {
			continue
		}
		c.Route = r.Name
		if r.Match.Trigger == hpcgate.TriggerOSS {
			c.Principal = service("oss", s.rec.OSS.Bucket.Name)
		}
		argv, err := route.Expand(r.Request.Argv, values(s))
		if err == nil {
			c.Request.Command, err = route.Command(argv)
		}
		if err != nil {
			return Item{}, fmt.Errorf("route %q: %v", r.Name, err)
		}
		c.Request.ClusterID = r.Request.ClusterID
		c.Request.WorkingDir = r.Request.WorkingDir
		c.Request.Timeout = r.Request.Timeout
		c.Request.InstanceIDs = append([]string(nil), r.Request.InstanceIDs...)
		return Item{Call: c}, nil
	}
	what := fmt.Sprintf("%s from %q", s.ce.Type, s.ce.Source)
	if s.hasRec {
		c.Principal = service("oss", s.rec.OSS.Bucket.Name)
		what = fmt.Sprintf("%s on bucket %q", s.rec.EventName, s.rec.OSS.Bucket.Name)
	}
	return Item{Call: c, Err: hpcgate.Errorf(hpcgate.CodeNoRoute, "no route matches %s", what)}, nil
}

func matches(m hpcgate.RouteMatch, s subject) bool {
	switch m.Trigger {
	case hpcgate.TriggerOSS:
		if !s.hasRec {
			return false
		}
	case hpcgate.TriggerEventBridge:
		if !s.hasCE || !anyWildcard(m.Source, s.ce.Source) || !anyWildcard(m.Type, s.ce.Type) {
			return false
		}
		if len(m.Bucket) == 0 && len(m.Events) == 0 && m.Prefix == "" && m.Suffix == "" {
			return true
		}
		if !s.hasRec {
			return false
		}
	default:
		return false
	}
	o := s.rec.OSS
	if !anyWildcard(m.Bucket, o.Bucket.Name) || !strings.HasPrefix(o.Object.Key, m.Prefix) || !strings.HasSuffix(o.Object.Key, m.Suffix) {
		return false
	}
	if len(m.Events) == 0 {
		return true
	}
	name := eventName(s.rec)
	for _, p := range m.Events {
		if hpcgate.Wildcard(strings.TrimPrefix(p, "oss:"), name) {
			return true
		}
	}
	return false
}

// anyWildcard reports whether s matches one of patterns; no patterns
// match all.
func anyWildcard(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if hpcgate.Wildcard(p, s) {
			return true
		}
	}
	return false
}

// values are the placeholder values of a subject; absent names have none.
func values(s subject) map[string]string {
	v := map[string]string{}
	if s.hasCE {
		v["event.name"], v["event.time"], v["event.id"], v["region"] = s.ce.Type, s.ce.Time, s.ce.ID, s.ce.AliyunRegionID
	}
	if s.hasRec {
		r := s.rec
		v["bucket"] = r.OSS.Bucket.Name
		v["object.key"] = r.OSS.Object.Key
		v["object.size"] = strconv.FormatInt(r.OSS.Object.Size, 10)
		v["object.etag"] = r.OSS.Object.ETag
		v["event.name"] = r.EventName
		if r.Region != "" {
			v["region"] = r.Region
		}
		if !s.hasCE {
			v["event.time"], v["event.id"] = r.EventTime, r.ResponseElements.RequestID
		} else if v["event.time"] == "" {
			v["event.time"] = r.EventTime
		}
	}
	return v
}
