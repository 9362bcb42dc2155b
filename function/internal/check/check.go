// Package check implements `hpcgate check`: decide requests read from stdin
// against a policy set and print the decisions, to test governance data and
// to answer "why was this denied".
package check

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/policy"
	"github.com/hpcgate/hpcgate/function/internal/shellscan"
)

// Exit codes.
const (
	exitAllow = 0
	exitError = 1
	exitDeny  = 2
)

// usage is what check -h prints before the flags.
const usage = `usage: hpcgate check [--policies DIR] [--batch] < input.json
       hpcgate check [--policies DIR] --replay LOG

Decides requests against a policy set, as the gateway would, without
running anything.

Input (one JSON object; with --batch, one per line):
  {"principal": {"type": "user", "id": "alice", "groups": ["researchers"], "mfa": false},
   "request": {"clusterId": "ehpc-hz-abc", "command": "squeue -u alice", "timeout": 60,
               "workingDir": "/root", "instanceIds": []},
   "action": "ehpc:InvokeShellCommand",
   "context": {"sourceIp": "10.20.1.2", "secureTransport": true, "currentTime": "2026-03-02T09:00:00Z"},
   "trigger": "http", "region": "cn-hangzhou", "account": "123456"}
  principal and request.clusterId are required; request.command too for
  ehpc:InvokeShellCommand (the default action; the other is
  ehpc:ListInvocationResults). Service principals ("type": "service") have
  no groups and no mfa. Every context field is optional: an absent one is
  an absent condition key; currentTime defaults to now.

Output: the decision as JSON: allow, reasons (effect, policy, sid, detail),
principal, action, resource, revision; for ehpc:InvokeShellCommand also
"analysis", what the policy decided on, in the gateway's field names:
canonical (the command as it would be sent), programs, commandLines,
features, outputRedirects, inputRedirects, assignedVariables, simple
(argv, assignments and redirects of each simple command). A program
"<dynamic>" means bash may run code the analysis cannot see.
With --batch: one compact JSON line per input line, in order; a line that
cannot be decided gets {"error": "..."} and the run goes on.

Exit codes: 0 allow (with --batch: the run completed), 2 deny, 1 error
(bad input, a command that does not parse, policies that do not load).

--replay LOG decides each audit record of a gateway log again and prints
one JSON line per changed decision; exit 0 nothing changed, 2 something
changed, 1 error.

Flags:
`

// maxLine bounds one input line in --batch mode.
const maxLine = 1 << 20

// Input is one decision input as `check` reads it.
type Input struct {
	Principal *Principal       `json:"principal"`
	Request   *hpcgate.Request `json:"request"`
	Action    string           `json:"action"`
	Context   *Context         `json:"context"`
	Trigger   string           `json:"trigger"`
	Region    string           `json:"region"`
	Account   string           `json:"account"`
	// CommandOwner is the verified owner ("<type>:<id>") of the command
	// whose results are read, as the gateway would find it sealed on the
	// command; absent: nobody owns it. Only with ListInvocationResults.
	CommandOwner string `json:"commandOwner"`
}

// Principal is who asks; MFA is absent for service principals.
type Principal struct {
	Type   string   `json:"type"`
	ID     string   `json:"id"`
	Groups []string `json:"groups"`
	MFA    *bool    `json:"mfa"`
}

// Context carries the optional acs: global keys; an absent field is an
// absent key, and currentTime defaults to now.
type Context struct {
	SourceIP        *string `json:"sourceIp"`
	SecureTransport *bool   `json:"secureTransport"`
	CurrentTime     *string `json:"currentTime"`
}

// decider is what check needs from the policy engine.
type decider interface {
	Decide(ctx context.Context, q policy.Query) (hpcgate.Decision, error)
}

// Main runs `check` with its arguments (the subcommand name excluded) and
// returns the exit code: 0 allow, 2 deny, 1 error. With --batch it reads and
// writes JSON lines and returns 0 unless the policies or stdin fail.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("policies", "", "policy directory (governance *.json and extension *.rego); default: the embedded policies")
	batch := fs.Bool("batch", false, "read JSON lines on stdin and write one decision (or error object) per line")
	replay := fs.String("replay", "", "gateway `LOG` (JSON lines, - for stdin): decide its audit records again and print those whose decision changes; exit 0 none, 2 some, 1 error")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitAllow
		}
		return exitError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "check: unexpected argument %q\n", fs.Arg(0))
		return exitError
	}
	ctx := context.Background()
	var set *policy.Set
	var err error
	if *dir != "" {
		set, err = policy.Compile(ctx, os.DirFS(*dir), "")
	} else {
		set, err = policy.Default(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "check: load policies: %v\n", err)
		return exitError
	}
	engine := policy.NewEngine(set)
	if *replay != "" {
		return replayFile(ctx, engine, *replay, stdin, stdout, stderr)
	}
	if *batch {
		return runBatch(ctx, engine, stdin, stdout, stderr)
	}
	data, err := io.ReadAll(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "check: read input: %v\n", err)
		return exitError
	}
	d, err := decide(ctx, engine, data)
	if err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return exitError
	}
	if err := encode(stdout, d, "  "); err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return exitError
	}
	if !d.Allow {
		return exitDeny
	}
	return exitAllow
}

func runBatch(ctx context.Context, engine decider, stdin io.Reader, stdout, stderr io.Writer) int {
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	for sc.Scan() {
		var err error
		if d, derr := decide(ctx, engine, sc.Bytes()); derr != nil {
			err = encode(w, map[string]string{"error": derr.Error()}, "")
		} else {
			err = encode(w, d, "")
		}
		if err != nil {
			fmt.Fprintf(stderr, "check: %v\n", err)
			return exitError
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "check: read input: %v\n", err)
		return exitError
	}
	return exitAllow
}

func encode(w io.Writer, v any, indent string) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	return enc.Encode(v)
}

// Output is one decision as check prints it: the decision and, for a
// command, the analysis it was made on.
type Output struct {
	hpcgate.Decision
	Analysis *Analysis `json:"analysis,omitempty"`
}

// Analysis is a command's analysis in the gateway's field names.
type Analysis struct {
	Canonical         string                  `json:"canonical"`
	Programs          []string                `json:"programs"`
	CommandLines      []string                `json:"commandLines"`
	Features          []string                `json:"features"`
	OutputRedirects   []string                `json:"outputRedirects"`
	InputRedirects    []string                `json:"inputRedirects"`
	AssignedVariables []string                `json:"assignedVariables"`
	Simple            []hpcgate.SimpleCommand `json:"simple"`
}

func view(a *hpcgate.Analysis) *Analysis {
	if a == nil {
		return nil
	}
	return &Analysis{
		Canonical: a.Canonical, Programs: a.Programs, CommandLines: a.CommandLines, Features: a.Features,
		OutputRedirects: a.OutputRedirects, InputRedirects: a.InputRedirects, AssignedVariables: a.AssignedVariables,
		Simple: a.Simple,
	}
}

// decide parses one input, analyses its command and asks the engine.
func decide(ctx context.Context, engine decider, data []byte) (Output, error) {
	q, err := parse(data)
	if err != nil {
		return Output{}, err
	}
	if q.Action == hpcgate.ActionInvoke {
		a, err := shellscan.Analyze(q.Request.Command)
		if err != nil {
			return Output{}, fmt.Errorf("request.command: %v", message(err))
		}
		q.Analysis = &a
	}
	d, err := engine.Decide(ctx, q)
	if err != nil {
		return Output{}, errors.New(message(err))
	}
	return Output{Decision: d, Analysis: view(q.Analysis)}, nil
}

// message is the caller-safe text of err.
func message(err error) string {
	var he *hpcgate.Error
	if errors.As(err, &he) {
		return he.Code + ": " + he.Message
	}
	return err.Error()
}

// parse reads one decision input; every error names the offending field.
func parse(data []byte) (policy.Query, error) {
	var in Input
	if len(bytes.TrimSpace(data)) == 0 {
		return policy.Query{}, errors.New("empty input")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return policy.Query{}, jsonError(err)
	}
	if dec.More() {
		return policy.Query{}, errors.New("trailing data after the JSON object")
	}
	if in.Principal == nil {
		return policy.Query{}, errors.New("principal: missing")
	}
	p := in.Principal
	switch {
	case p.Type != hpcgate.PrincipalUser && p.Type != hpcgate.PrincipalService:
		return policy.Query{}, fmt.Errorf("principal.type: %q (want \"user\" or \"service\")", p.Type)
	case p.ID == "":
		return policy.Query{}, errors.New("principal.id: missing")
	case p.Type == hpcgate.PrincipalService && len(p.Groups) > 0:
		return policy.Query{}, errors.New("principal.groups: service principals have no groups")
	case p.Type == hpcgate.PrincipalService && p.MFA != nil:
		return policy.Query{}, errors.New("principal.mfa: service principals have no MFA")
	}
	if in.Request == nil {
		return policy.Query{}, errors.New("request: missing")
	}
	if in.Request.ClusterID == "" {
		return policy.Query{}, errors.New("request.clusterId: missing")
	}
	if in.Request.Timeout < 0 {
		return policy.Query{}, errors.New("request.timeout: negative")
	}
	q := policy.Query{
		Principal: hpcgate.Principal{Type: p.Type, ID: p.ID, Groups: p.Groups, MFA: p.MFA},
		Request:   in.Request.WithDefaults(),
		Action:    in.Action,
		Trigger:   in.Trigger,
		Region:    in.Region,
		Account:   in.Account,
	}
	switch q.Action {
	case "":
		q.Action = hpcgate.ActionInvoke
	case hpcgate.ActionInvoke, hpcgate.ActionListResults:
	default:
		return policy.Query{}, fmt.Errorf("action: %q (want %q or %q)", q.Action, hpcgate.ActionInvoke, hpcgate.ActionListResults)
	}
	if o := in.CommandOwner; o != "" {
		typ, id, _ := strings.Cut(o, ":")
		switch {
		case q.Action != hpcgate.ActionListResults:
			return policy.Query{}, fmt.Errorf("commandOwner: only with action %q", hpcgate.ActionListResults)
		case (typ != hpcgate.PrincipalUser && typ != hpcgate.PrincipalService) || id == "":
			return policy.Query{}, fmt.Errorf("commandOwner: %q (want \"user:<id>\" or \"service:<id>\")", o)
		}
		q.CommandOwner = o
	}
	if q.Action == hpcgate.ActionInvoke && strings.TrimSpace(q.Request.Command) == "" {
		return policy.Query{}, errors.New("request.command: missing")
	}
	if c := in.Context; c != nil {
		if c.SourceIP != nil {
			if _, err := netip.ParseAddr(*c.SourceIP); err != nil {
				return policy.Query{}, fmt.Errorf("context.sourceIp: %q is not an IP address", *c.SourceIP)
			}
			q.Context.SourceIP = *c.SourceIP
		}
		q.Context.SecureTransport = c.SecureTransport
		if c.CurrentTime != nil {
			t, err := time.Parse(time.RFC3339Nano, *c.CurrentTime)
			if err != nil {
				return policy.Query{}, fmt.Errorf("context.currentTime: %q is not an RFC 3339 date-time", *c.CurrentTime)
			}
			q.Context.CurrentTime = &t
		}
	}
	return q, nil
}

// jsonError names the field a decoding error is about.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "input"
		}
		return fmt.Errorf("%s: want %s, got %s", field, te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, err)
	}
	return fmt.Errorf("malformed input: %v", strings.TrimPrefix(err.Error(), "json: "))
}
