package deploy

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ramPolicy is a RAM policy document (REFERENCE §6); decoding is strict, so
// a misspelt element fails the test instead of being ignored by RAM.
type ramPolicy struct {
	Version   string         `json:"Version"`
	Statement []ramStatement `json:"Statement"`
}

type ramStatement struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Action    stringOrList              `json:"Action,omitempty"`
	NotAction stringOrList              `json:"NotAction,omitempty"`
	Resource  stringOrList              `json:"Resource,omitempty"`
	Principal map[string]stringOrList   `json:"Principal,omitempty"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// stringOrList is a RAM element that takes a string or a list of strings.
type stringOrList []string

func (l *stringOrList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = stringOrList{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*l = list
	return nil
}

// knownActions are the actions deploy/ram may name; anything else is a typo
// or a privilege nobody reviewed.
var knownActions = []string{
	"sts:AssumeRole",
	"ehpc:InvokeShellCommand", "ehpc:ListInvocationStatus", "ehpc:ListInvocationResults", "ehpc:ListCommands",
	"oss:GetObject", "oss:PutObject",
	"mns:SendMessage",
	"log:PostLogStoreLogs",
	"fc:InvokeFunction",
}

func readPolicy(t *testing.T, name string) (ramPolicy, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("ram", name))
	if err != nil {
		t.Fatal(err)
	}
	var p ramPolicy
	if err := decodeStrict(b, &p); err != nil {
		t.Fatalf("ram/%s: %v", name, err)
	}
	// encoding/json matches names regardless of case; RAM does not.
	var doc struct {
		Statement []map[string]json.RawMessage
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for k := range top {
		if k != "Version" && k != "Statement" {
			t.Errorf("ram/%s: element %q, want Version and Statement (case-sensitive)", name, k)
		}
	}
	for i, st := range doc.Statement {
		for k := range st {
			if !slices.Contains(statementElements, k) {
				t.Errorf("ram/%s: statement %d: element %q, want one of %v (case-sensitive)", name, i, k, statementElements)
			}
		}
	}
	return p, b
}

var statementElements = []string{"Sid", "Effect", "Action", "NotAction", "Resource", "Principal", "Condition"}

func TestRAMDocuments(t *testing.T) {
	files, err := filepath.Glob("ram/*.json")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"deny-direct-ehpc.json", "event-function-policy.json", "function-policy.json",
		"oss-invoker-policy.json", "oss-invoker-trust.json", "trust-policy.json"}
	var got []string
	for _, f := range files {
		got = append(got, filepath.Base(f))
	}
	if !slices.Equal(got, want) {
		t.Errorf("ram/ holds %v, want %v", got, want)
	}
	for _, name := range got {
		t.Run(name, func(t *testing.T) {
			p, raw := readPolicy(t, name)
			if p.Version != "1" {
				t.Errorf("Version %q, want \"1\"", p.Version)
			}
			if len(raw) > 6144 {
				t.Errorf("%d characters, RAM takes at most 6144", len(raw))
			}
			if len(p.Statement) == 0 {
				t.Fatal("no statements")
			}
			trust := strings.HasSuffix(name, "trust-policy.json") || strings.HasSuffix(name, "-trust.json")
			for i, s := range p.Statement {
				if s.Effect != "Allow" && s.Effect != "Deny" {
					t.Errorf("statement %d: Effect %q", i, s.Effect)
				}
				if (len(s.Action) == 0) == (len(s.NotAction) == 0) {
					t.Errorf("statement %d: needs exactly one of Action and NotAction", i)
				}
				if len(s.NotAction) > 0 {
					t.Errorf("statement %d: NotAction grants or denies everything else; name the actions", i)
				}
				for _, a := range s.Action {
					if !slices.Contains(knownActions, a) {
						t.Errorf("statement %d: unknown action %q", i, a)
					}
				}
				if trust {
					if len(s.Principal) == 0 || len(s.Resource) > 0 {
						t.Errorf("statement %d: a trust policy names a Principal and no Resource", i)
					}
				} else if len(s.Resource) == 0 || len(s.Principal) > 0 {
					t.Errorf("statement %d: an identity policy names a Resource and no Principal", i)
				}
			}
		})
	}
}

func TestTrustPolicy(t *testing.T) {
	p, _ := readPolicy(t, "trust-policy.json")
	if len(p.Statement) != 1 {
		t.Fatalf("%d statements, want 1", len(p.Statement))
	}
	s := p.Statement[0]
	if s.Effect != "Allow" || !slices.Equal(s.Action, stringOrList{"sts:AssumeRole"}) ||
		len(s.Principal) != 1 || !slices.Equal(s.Principal["Service"], stringOrList{"fc.aliyuncs.com"}) {
		t.Errorf("want only fc.aliyuncs.com allowed to assume the role, got %+v", s)
	}
}

// gatewayEHPCActions returns the E-HPC actions the function calls: the
// pipeline invokes and waits (ListInvocationStatus, ListInvocationResults);
// ListCommands only if the gateway's packages call the client's method
// (directly, or through FindMarked, which lists commands).
func gatewayEHPCActions(t *testing.T) []string {
	t.Helper()
	actions := []string{"ehpc:InvokeShellCommand", "ehpc:ListInvocationStatus", "ehpc:ListInvocationResults"}
	for _, dir := range []string{"gate", "httpapi", "trigger", "route"} {
		if d := filepath.Join("../function/internal", dir); callsMethod(t, d, "ListCommands") || callsMethod(t, d, "FindMarked") {
			actions = append(actions, "ehpc:ListCommands")
			break
		}
	}
	return actions
}

// callsMethod reports whether any non-test file in dir calls x.name(...).
func callsMethod(t *testing.T, dir, name string) bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		found := false
		ast.Inspect(af, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				if sel, ok := c.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == name {
					found = true
				}
			}
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

func TestFunctionPolicyLeastPrivilege(t *testing.T) {
	p, _ := readPolicy(t, "function-policy.json")
	want := append(gatewayEHPCActions(t), "oss:GetObject", "log:PostLogStoreLogs")
	var got []string
	for i, s := range p.Statement {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range s.Action {
			got = append(got, a)
			switch {
			case strings.HasPrefix(a, "oss:"):
				// acs:oss:*:<account>:<bucket>/<object>: one object, no wildcard.
				r := s.Resource
				if len(r) != 1 || strings.Count(r[0], ":") != 4 || !strings.Contains(r[0], "/") ||
					strings.Contains(r[0][strings.Index(r[0], "/"):], "*") {
					t.Errorf("statement %d: %s on %v, want the policy bundle object only", i, a, r)
				}
			case strings.HasPrefix(a, "log:"):
				if len(s.Resource) != 1 || !strings.Contains(s.Resource[0], ":project/") || !strings.Contains(s.Resource[0], "/logstore/") {
					t.Errorf("statement %d: %s on %v, want the function's logstore only", i, a, s.Resource)
				}
			}
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("function policy allows %v, want exactly %v", got, want)
	}
}

// TestFunctionPolicyActionsExistInClient catches a misspelt E-HPC action: the
// E-HPC client must send each action the policy allows.
func TestFunctionPolicyActionsExistInClient(t *testing.T) {
	dir := "../function/internal/ehpc"
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	literals := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			if b, ok := n.(*ast.BasicLit); ok && b.Kind == token.STRING {
				s, _ := strconv.Unquote(b.Value)
				literals[s] = true
			}
			return true
		})
	}
	if len(literals) == 0 {
		t.Skipf("%s has no sources yet", dir)
	}
	p, _ := readPolicy(t, "function-policy.json")
	for _, s := range p.Statement {
		for _, a := range s.Action {
			if name, ok := strings.CutPrefix(a, "ehpc:"); ok && !literals[name] {
				t.Errorf("policy allows %s, but the E-HPC client never names action %q", a, name)
			}
		}
	}
}

func TestDenyDirectEHPC(t *testing.T) {
	p, _ := readPolicy(t, "deny-direct-ehpc.json")
	denied := map[string]bool{}
	for i, s := range p.Statement {
		if s.Effect != "Deny" {
			t.Errorf("statement %d: %s; this policy only denies", i, s.Effect)
		}
		if len(s.Condition) > 0 {
			t.Errorf("statement %d: a condition could let some calls through", i)
		}
		if slices.Contains(s.Resource, "*") {
			for _, a := range s.Action {
				denied[a] = true
			}
		}
	}
	for _, a := range []string{"ehpc:InvokeShellCommand", "ehpc:ListCommands"} {
		if !denied[a] {
			t.Errorf("%s is not denied on *", a)
		}
	}
}

var placeholderRE = regexp.MustCompile(`\{\{[A-Z_]+\}\}`)

// TestRAMPlaceholdersDocumented: every {{NAME}} an operator must fill in is
// explained in the README.
func TestRAMPlaceholdersDocumented(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("ram/*.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, ph := range placeholderRE.FindAllString(string(b), -1) {
			if !strings.Contains(string(readme), ph) {
				t.Errorf("%s: placeholder %s is not explained in README.md", f, ph)
			}
		}
	}
}
