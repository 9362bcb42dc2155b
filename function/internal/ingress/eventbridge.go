package ingress

import (
	"context"
	"fmt"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/trigger"
)

func (in *Ingress) eventBridgeCalls(ctx context.Context, evs []trigger.CloudEvent, account string) (Delivery, error) {
	for i, ce := range evs {
		if err := checkCloudEvent(ce, account); err != nil {
			return Delivery{}, invalidEvent("eventbridge event[%d]: %v", i, err)
		}
	}
	d := Delivery{List: len(evs) > 1}
	recs := make([]*trigger.OSSRecord, len(evs))
	routes := in.routes()
	for i, ce := range evs {
		c := hpcgate.Call{Principal: service("eventbridge", ce.Source), Trigger: hpcgate.TriggerEventBridge,
			Identity: identity("eventbridge", ce.Source, ce.ID)}
		if ce.DataKind == trigger.DataRequest {
			d.Items = append(d.Items, Item{Call: WithPayload(c, ce.Request)})
			continue
		}
		s := subject{ce: ce, hasCE: true}
		if ce.DataKind == trigger.DataOSS {
			s.rec, s.hasRec = ce.OSS, true
			recs[i] = &evs[i].OSS
			// The record's own identity: an upload that arrives through
			// an OSS trigger and an EventBridge rule runs once.
			c.Identity = ossIdentity(ce.OSS)
		}
		it, err := resolve(routes, s, c)
		if err != nil {
			return Delivery{}, invalidEvent("eventbridge event[%d]: %v", i, err)
		}
		d.Items = append(d.Items, it)
	}
	if err := in.verifyObjects(ctx, d.Items, recs, "eventbridge event"); err != nil {
		return Delivery{}, err
	}
	return d, nil
}

// checkCloudEvent is everything a CloudEvent must be before any event of
// its delivery may run: published in the function's own account, and an
// OSS event (source acs.oss) must carry an OSS record of the same event
// that passes checkOSSRecord.
func checkCloudEvent(ce trigger.CloudEvent, account string) error {
	if account != "" && ce.AliyunAccountID != "" && ce.AliyunAccountID != account {
		return fmt.Errorf("aliyunaccountid: %.20q is not the function's account", ce.AliyunAccountID)
	}
	if ce.DataKind != trigger.DataOSS {
		return nil
	}
	if want := "oss:" + eventName(ce.OSS); ce.Type != want {
		return fmt.Errorf("type: %.60q does not match the record's event %q", ce.Type, want)
	}
	if err := checkOSSRecord(ce.OSS, account); err != nil {
		return fmt.Errorf("data: %v", err)
	}
	return nil
}
