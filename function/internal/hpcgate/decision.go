package hpcgate

// Decision is the policy's answer for one principal, action and resource.
type Decision struct {
	Allow     bool      `json:"allow"`
	Reasons   []Reason  `json:"reasons"`
	Principal Principal `json:"principal"`
	Action    string    `json:"action"`
	Resource  string    `json:"resource"`
	// Revision names the policy set that decided, for the audit record.
	Revision string `json:"revision,omitempty"`
	// NearMisses are, on an implicit deny, the Allow statements attached
	// to the principal whose Action matched, each with what did not hold,
	// closest first.
	NearMisses []NearMiss `json:"nearMisses,omitempty"`
	// Explanation says why a request was denied, in words.
	Explanation string `json:"explanation,omitempty"`
}

// Reason explains one part of a decision: the matching Allow, a matching
// Deny (from a statement or an extension rule), or the implicit deny.
type Reason struct {
	Effect string `json:"effect"`
	Policy string `json:"policy,omitempty"`
	Sid    string `json:"sid,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Matched are, for a Deny statement, its conditions with the request
	// values that made them hold.
	Matched []Condition `json:"matched,omitempty"`
}

// NearMiss is a statement that would have allowed the request but for
// its failed conditions and Resource.
type NearMiss struct {
	Policy    string `json:"policy"`
	Sid       string `json:"sid,omitempty"`
	Statement int    `json:"statement"` // index in the policy's Statement list
	// Failed are the conditions that did not hold.
	Failed []Condition `json:"failed,omitempty"`
	// Resource is set when the request's resource did not match.
	Resource *ResourceMiss `json:"resource,omitempty"`
}

// Condition is one (operator, key) test of a statement with the values
// on both sides.
type Condition struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"` // as written, with any ForAllValues:/ForAnyValue: qualifier
	Values   []string `json:"values"`   // the statement's
	// RequestValues are the request's values of the key: null when the
	// request has no such key, a list otherwise.
	RequestValues []string `json:"requestValues"`
	// Offending are the request values that decided the test: on a near
	// miss those that broke it (ForAllValues), on a Deny those that
	// matched (ForAnyValue).
	Offending []string `json:"offending,omitempty"`
}

// ResourceMiss is a Resource (or NotResource) that the request's resource
// did not satisfy.
type ResourceMiss struct {
	Element string   `json:"element"` // Resource or NotResource
	Values  []string `json:"values"`
	Request string   `json:"request"`
}
