package hpcgate

// Grant describes, for people, one statement attached to a principal:
// what it allows or denies, on which clusters, for which commands.
// GET /v1/me lists them.
type Grant struct {
	Policy string `json:"policy"`
	Sid    string `json:"sid,omitempty"`
	Effect string `json:"effect"` // Allow or Deny
	// Via is how the policy is attached: "user:alice", "user:*",
	// "group:researchers", "service:oss:raw-data".
	Via string `json:"via"`
	// Actions are the gate actions the statement applies to.
	Actions []string `json:"actions"`
	// Clusters are the cluster id patterns of its Resource ("*": any);
	// with NotResource, the clusters it does not apply to.
	Clusters    []string `json:"clusters"`
	NotClusters bool     `json:"notClusters,omitempty"`
	// Commands and Programs are the hpcgate:CommandLine and
	// hpcgate:Program patterns of its conditions: for an Allow those every
	// command must match (ForAllValues), for a Deny those any command
	// matching is denied (ForAnyValue).
	Commands []string `json:"commands,omitempty"`
	Programs []string `json:"programs,omitempty"`
	// MaxTimeout is the largest ehpc:Timeout (seconds) an Allow admits.
	MaxTimeout *float64 `json:"maxTimeout,omitempty"`
	// Conditions are all its conditions as written.
	Conditions []GrantCondition `json:"conditions,omitempty"`
}

// GrantCondition is one condition of a statement: operator (with its
// qualifier), key and values, as the policy writes them.
type GrantCondition struct {
	Operator string   `json:"operator"`
	Key      string   `json:"key"`
	Values   []string `json:"values"`
}
