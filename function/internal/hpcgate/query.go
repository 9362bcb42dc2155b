package hpcgate

// Query is one authorization question.
type Query struct {
	Principal Principal
	Request   Request   // defaults applied by the caller (Request.WithDefaults())
	Analysis  *Analysis // nil when the action has no command (ListInvocationResults)
	Action    string    // ActionInvoke or ActionListResults
	Context   RequestContext
	Trigger   string
	Region    string // for the resource ARN acs:ehpc:<region>:<account>:cluster/<id>
	Account   string
	// CommandOwner is the verified owner ("<type>:<id>") of the command
	// whose results are read; "" when it has none. Only for
	// ehpc:ListInvocationResults.
	CommandOwner string
}
