package hpcgate

import "time"

// API defaults and limits of E-HPC InvokeShellCommand (API 2018-04-12).
const (
	DefaultWorkingDir = "/root"
	DefaultTimeout    = 60
	MinCommandLen     = 2
	MaxCommandLen     = 2048
)

// Actions the gateway authorizes.
const (
	ActionInvoke      = "ehpc:InvokeShellCommand"
	ActionListResults = "ehpc:ListInvocationResults"
)

// Triggers, as reported in hpcgate:Trigger.
const (
	TriggerHTTP        = "http"
	TriggerOSS         = "oss"
	TriggerEventBridge = "eventbridge"
	TriggerTimer       = "timer"
	TriggerInvoke      = "invoke"
)

// Principal types, as reported in hpcgate:PrincipalType.
const (
	PrincipalUser    = "user"
	PrincipalService = "service"
)

// Request is one InvokeShellCommand request as a caller states it. Zero
// values mean "not given"; WithDefaults fills in what E-HPC would assume.
type Request struct {
	ClusterID   string   `json:"clusterId"`
	Command     string   `json:"command"`
	WorkingDir  string   `json:"workingDir"`
	Timeout     int      `json:"timeout"`
	InstanceIDs []string `json:"instanceIds"`
}

// WithDefaults returns r with E-HPC's defaults applied (WorkingDir /root,
// Timeout 60) and a non-nil InstanceIDs, so results always encode a list.
func (r Request) WithDefaults() Request {
	if r.WorkingDir == "" {
		r.WorkingDir = DefaultWorkingDir
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultTimeout
	}
	if r.InstanceIDs == nil {
		r.InstanceIDs = []string{}
	}
	return r
}

// Principal is who asks: a user from a verified token, or a service behind
// an event trigger (oss:<bucket>, eventbridge:<source>, timer:<name>).
type Principal struct {
	Type   string   `json:"type"`
	ID     string   `json:"id"`
	Groups []string `json:"groups,omitempty"`
	// MFA is whether the token's amr claim lists mfa; nil for services,
	// so acs:MFAPresent is then absent rather than false.
	MFA *bool `json:"mfa,omitempty"`
}

// Owner is p as a command owner: "<type>:<id>", e.g. "user:alice" or
// "service:oss:raw-data" (the type holds no colon, so the first one ends
// it); "" when p is incomplete. It is the value of hpcgate:CommandOwner.
func (p Principal) Owner() string {
	if p.Type == "" || p.ID == "" {
		return ""
	}
	return p.Type + ":" + p.ID
}

// RequestContext carries the global acs: condition keys a trigger knows.
// A nil or empty field is an absent key.
type RequestContext struct {
	SourceIP        string     `json:"sourceIp,omitempty"`
	SecureTransport *bool      `json:"secureTransport,omitempty"`
	CurrentTime     *time.Time `json:"currentTime,omitempty"`
}
