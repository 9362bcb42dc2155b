package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/hpcgate/hpcgate/deploy/fczip"
)

const (
	sYAMLFile     = "../s.yaml"
	httpResource  = "hpcgate-http"   // researchers over the HTTP trigger
	eventResource = "hpcgate-events" // OSS, EventBridge and timer triggers
	testAccount   = "123456789012"   // stands in for ${config('AccountID')}
	fc3Schema     = "testdata/fc3-schema.json"
	configSource  = "../function/internal/config/config.go"
	vocabularyDir = "../function/internal/hpcgate"
)

// magicRE finds Serverless Devs magic variables. None of ours nests braces.
var magicRE = regexp.MustCompile(`\$\{([^{}]*)\}`)

var (
	varsRE   = regexp.MustCompile(`^vars\.([A-Za-z_][A-Za-z0-9_]*)$`)
	configRE = regexp.MustCompile(`^config\(\s*(?:'([^']*)'|"([^"]*)")\s*\)$`)
	envRE    = regexp.MustCompile(`^env\(\s*(?:'([^']*)'|"([^"]*)")\s*(?:,\s*(?:'([^']*)'|"([^"]*)")\s*)?\)$`)
)

// expander substitutes magic variables the way `s` renders them, with env
// always taking its default (so the result does not depend on the machine)
// and config answered by the config func.
type expander struct {
	vars   map[string]string
	config func(match, key string) (string, error)
	envs   []string // names env() was asked for
}

func (x *expander) expandString(s string) (string, error) {
	var firstErr error
	out := magicRE.ReplaceAllStringFunc(s, func(m string) string {
		v, err := x.eval(m, strings.TrimSpace(m[2:len(m)-1]))
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v
	})
	return out, firstErr
}

func (x *expander) eval(match, expr string) (string, error) {
	if m := varsRE.FindStringSubmatch(expr); m != nil {
		v, ok := x.vars[m[1]]
		if !ok {
			return "", fmt.Errorf("%s: no such var", match)
		}
		return v, nil
	}
	if m := configRE.FindStringSubmatch(expr); m != nil {
		return x.config(match, m[1]+m[2])
	}
	if m := envRE.FindStringSubmatch(expr); m != nil {
		x.envs = append(x.envs, m[1]+m[2])
		return m[3] + m[4], nil
	}
	return "", fmt.Errorf("%s: magic variable this test does not know", match)
}

// expand returns a copy of v with every string expanded.
func (x *expander) expand(v any) (any, error) {
	switch v := v.(type) {
	case string:
		return x.expandString(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			ev, err := x.expand(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = ev
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			ev, err := x.expand(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = ev
		}
		return out, nil
	default:
		return v, nil
	}
}

// accountConfig answers config('AccountID') with testAccount.
func accountConfig(match, key string) (string, error) {
	if key != "AccountID" {
		return "", fmt.Errorf("%s: unknown config key", match)
	}
	return testAccount, nil
}

// literalConfig leaves config() as written, as `s preview` does offline.
func literalConfig(match, key string) (string, error) { return match, nil }

// render reads s.yaml and returns the whole document with magic variables
// expanded, and the env names it consulted.
func render(t *testing.T, config func(match, key string) (string, error)) (map[string]any, []string) {
	t.Helper()
	src, err := os.ReadFile(sYAMLFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatalf("s.yaml: %v", err)
	}
	x := &expander{vars: map[string]string{}, config: config}
	rawVars, _ := doc["vars"].(map[string]any)
	for k, v := range rawVars {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("s.yaml: vars.%s is %T, want a string", k, v)
		}
		if x.vars[k], err = x.expandString(s); err != nil {
			t.Fatalf("s.yaml: vars.%s: %v", k, err)
		}
	}
	out, err := x.expand(doc)
	if err != nil {
		t.Fatalf("s.yaml: %v", err)
	}
	return out.(map[string]any), x.envs
}

// sProps is the part of the fc3 props the checks below read.
type sProps struct {
	FunctionName         string            `json:"functionName"`
	Runtime              string            `json:"runtime"`
	Code                 string            `json:"code"`
	Handler              string            `json:"handler"`
	Timeout              int               `json:"timeout"`
	MemorySize           int               `json:"memorySize"`
	CPU                  float64           `json:"cpu"`
	Role                 string            `json:"role"`
	EnvironmentVariables map[string]string `json:"environmentVariables"`
	Triggers             []sTrigger        `json:"triggers"`
	Lifecycle            struct {
		Initializer struct {
			Handler string `json:"handler"`
			Timeout int    `json:"timeout"`
		} `json:"initializer"`
	} `json:"instanceLifecycleConfig"`
}

type sTrigger struct {
	TriggerName    string          `json:"triggerName"`
	TriggerType    string          `json:"triggerType"`
	SourceArn      string          `json:"sourceArn"`
	InvocationRole string          `json:"invocationRole"`
	TriggerConfig  json.RawMessage `json:"triggerConfig"`
}

// resources are the functions s.yaml deploys.
var resources = []string{httpResource, eventResource}

// props returns a function's props, rendered with testAccount, as JSON
// (ready for the schema validator) and decoded.
func props(t *testing.T, name string) ([]byte, sProps) {
	t.Helper()
	doc, _ := render(t, accountConfig)
	res, _ := doc["resources"].(map[string]any)
	r, _ := res[name].(map[string]any)
	if r == nil {
		t.Fatalf("s.yaml has no resource %s", name)
	}
	raw, err := json.Marshal(r["props"])
	if err != nil {
		t.Fatal(err)
	}
	var p sProps
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("props: %v", err)
	}
	return raw, p
}

func TestExpander(t *testing.T) {
	tests := map[string]struct {
		in, want string
		wantErr  bool
	}{
		"var":                        {in: "${vars.region}", want: "cn-hangzhou"},
		"var inside text":            {in: "acs:oss:${vars.region}:x", want: "acs:oss:cn-hangzhou:x"},
		"env takes its default":      {in: "${env('HOME', 'd')}", want: "d"},
		"env with double quotes":     {in: `${env("X","a b")}`, want: "a b"},
		"env without default":        {in: "${env('X')}", want: ""},
		"config account":             {in: "acs:ram::${config('AccountID')}:role/r", want: "acs:ram::" + testAccount + ":role/r"},
		"config in JSON text":        {in: `{"p":"${config("AccountID")}/a"}`, want: `{"p":"` + testAccount + `/a"}`},
		"two in one string":          {in: "${vars.region}-${env('Y','z')}", want: "cn-hangzhou-z"},
		"no magic":                   {in: "plain {text}", want: "plain {text}"},
		"unknown var":                {in: "${vars.nope}", wantErr: true},
		"unknown config key":         {in: "${config('AccessKeyID')}", wantErr: true},
		"unknown function":           {in: "${path('..')}", wantErr: true},
		"resource reference unknown": {in: "${resources.x.props.y}", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			x := &expander{vars: map[string]string{"region": "cn-hangzhou"}, config: accountConfig}
			got, err := x.expandString(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("expand(%q) = %q, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestSYAMLProject(t *testing.T) {
	doc, _ := render(t, accountConfig)
	if doc["edition"] != "3.0.0" {
		t.Errorf("edition = %v, want 3.0.0 (the only edition the 3.x parser takes)", doc["edition"])
	}
	res, _ := doc["resources"].(map[string]any)
	if len(res) != len(resources) {
		t.Fatalf("resources = %d, want exactly %v", len(res), resources)
	}
	for _, name := range resources {
		t.Run(name, func(t *testing.T) { checkFunctionProject(t, res, name) })
	}
}

func checkFunctionProject(t *testing.T, res map[string]any, name string) {
	r, _ := res[name].(map[string]any)
	if r == nil || r["component"] != "fc3" {
		t.Fatalf("resources.%s.component = %v, want fc3", name, r["component"])
	}
	_, p := props(t, name)
	if p.FunctionName != name || p.Runtime != "go1" {
		t.Errorf("functionName, runtime = %q, %q; want %s, go1", p.FunctionName, p.Runtime, name)
	}
	if !strings.HasPrefix(p.Role, "acs:ram::"+testAccount+":role/") {
		t.Errorf("role = %q, want a role ARN in the deploying account", p.Role)
	}
	// FC limits the schema does not state (REFERENCE §3.4): cpu in steps of
	// 0.05 vCPU, and between 1 and 4 GB of memory per vCPU.
	if steps := p.CPU / 0.05; steps-float64(int(steps+0.5)) > 1e-9 || float64(int(steps+0.5))-steps > 1e-9 {
		t.Errorf("cpu %v is not a multiple of 0.05", p.CPU)
	}
	if gbPerCPU := float64(p.MemorySize) / 1024 / p.CPU; gbPerCPU < 1 || gbPerCPU > 4 {
		t.Errorf("memorySize %d MB for cpu %v: %.2f GB per vCPU, FC wants 1 to 4", p.MemorySize, p.CPU, gbPerCPU)
	}
}

// compileSchema compiles the fc3 schema at fragment ("" = the props schema).
func compileSchema(t *testing.T, fragment string) *jsonschema.Schema {
	t.Helper()
	abs, err := filepath.Abs(fc3Schema)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	s, err := c.Compile(abs + fragment)
	if err != nil {
		t.Fatalf("compile %s%s: %v", fc3Schema, fragment, err)
	}
	return s
}

func validate(s *jsonschema.Schema, doc []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// triggerSchemas names the definition each trigger type's config must meet.
// fc3's own schema takes any of them for any type (one is an empty object),
// so it does not check trigger configs at all; this does.
var triggerSchemas = map[string]string{
	"http":        "#/definitions/IHttpTriggerConfig",
	"oss":         "#/definitions/IOssTriggerConfig",
	"eventbridge": "#/definitions/IEventBridge",
	"timer":       "#/definitions/ITimerTriggerConfig",
}

func TestSYAMLSchema(t *testing.T) {
	for _, name := range resources {
		t.Run(name, func(t *testing.T) { checkSchema(t, name) })
	}
}

func checkSchema(t *testing.T, name string) {
	raw, p := props(t, name)
	if err := validate(compileSchema(t, ""), raw); err != nil {
		t.Fatalf("s.yaml props do not meet the fc3 schema:\n%v", err)
	}
	for _, tr := range p.Triggers {
		frag, ok := triggerSchemas[tr.TriggerType]
		if !ok {
			t.Errorf("trigger %s: no schema check for type %q", tr.TriggerName, tr.TriggerType)
			continue
		}
		if err := validate(compileSchema(t, frag), tr.TriggerConfig); err != nil {
			t.Errorf("trigger %s: triggerConfig does not meet %s:\n%v", tr.TriggerName, frag, err)
		}
	}
}

// TestSchemaRejects shows the schema check has teeth: each edit of the real
// props must fail validation.
func TestSchemaRejects(t *testing.T) {
	raw, _ := props(t, httpResource)
	schema := compileSchema(t, "")
	tests := map[string]func(p map[string]any){
		"timeout of zero":           func(p map[string]any) { p["timeout"] = 0 },
		"disk size not offered":     func(p map[string]any) { p["diskSize"] = 1024 },
		"memory not a multiple":     func(p map[string]any) { p["memorySize"] = 500 },
		"unknown runtime":           func(p map[string]any) { p["runtime"] = "go2" },
		"unknown region":            func(p map[string]any) { p["region"] = "mars-north-1" },
		"no handler":                func(p map[string]any) { delete(p, "handler") },
		"concurrency above 200":     func(p map[string]any) { p["instanceConcurrency"] = 201 },
		"numeric env value":         func(p map[string]any) { p["environmentVariables"].(map[string]any)["HPCGATE_MAX_NODES"] = 64 },
		"unknown trigger type":      func(p map[string]any) { p["triggers"].([]any)[0].(map[string]any)["triggerType"] = "webhook" },
		"trigger without a name":    func(p map[string]any) { delete(p["triggers"].([]any)[0].(map[string]any), "triggerName") },
		"unknown log config string": func(p map[string]any) { p["logConfig"] = "manual" },
	}
	for name, edit := range tests {
		t.Run(name, func(t *testing.T) {
			var p map[string]any
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			edit(p)
			doc, _ := json.Marshal(p)
			if err := validate(schema, doc); err == nil {
				t.Fatal("validation passed, want a schema error")
			}
		})
	}

	triggerTests := map[string]struct{ typ, config string }{
		"oss without filter":       {"oss", `{"events":["oss:ObjectCreated:*"]}`},
		"oss unknown event":        {"oss", `{"events":["oss:ObjectCreated:Teleport"],"filter":{"key":{"prefix":"","suffix":""}}}`},
		"http bogus auth type":     {"http", `{"authType":"bogus","methods":["POST"]}`},
		"http unknown method":      {"http", `{"authType":"anonymous","methods":["FETCH"]}`},
		"timer without cron":       {"timer", `{"enable":true}`},
		"eventbridge without sink": {"eventbridge", `{"triggerEnable":true,"asyncInvocationType":false,"eventRuleFilterPattern":"{}","eventSourceConfig":{"eventSourceType":"Default","eventSourceParameters":{}},"runOptions":{}}`},
	}
	for name, tc := range triggerTests {
		t.Run(name, func(t *testing.T) {
			if err := validate(compileSchema(t, triggerSchemas[tc.typ]), []byte(tc.config)); err == nil {
				t.Fatal("validation passed, want a schema error")
			}
		})
	}
}

// configVars reads the Vars slice literal from the config package's source:
// function/internal/... cannot be imported from here.
func configVars(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), configSource, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var vars []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "Vars" || len(vs.Values) != 1 {
			return true
		}
		lit, ok := vs.Values[0].(*ast.CompositeLit)
		if !ok {
			t.Fatalf("%s: Vars is not a slice literal", configSource)
		}
		for _, e := range lit.Elts {
			b, ok := e.(*ast.BasicLit)
			if !ok || b.Kind != token.STRING {
				t.Fatalf("%s: Vars element %T is not a string literal", configSource, e)
			}
			s, _ := strconv.Unquote(b.Value)
			vars = append(vars, s)
		}
		return false
	})
	if len(vars) == 0 {
		t.Fatalf("%s: found no Vars", configSource)
	}
	return vars
}

// stringConsts returns the string constants of the Go package in dir whose
// names start with prefix.
func stringConsts(t *testing.T, dir, prefix string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, prefix) || i >= len(vs.Values) {
						continue
					}
					if b, ok := vs.Values[i].(*ast.BasicLit); ok && b.Kind == token.STRING {
						consts[id.Name], _ = strconv.Unquote(b.Value)
					}
				}
			}
		}
	}
	return consts
}

// parseSeconds reads a duration the way the config package does: a Go
// duration, or a bare number of seconds.
func parseSeconds(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	n, err := strconv.Atoi(s)
	return time.Duration(n) * time.Second, err
}

var envNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

func TestSYAMLMatchesCode(t *testing.T) {
	for _, name := range resources {
		t.Run(name, func(t *testing.T) { checkMatchesCode(t, name) })
	}
}

func checkMatchesCode(t *testing.T, name string) {
	_, p := props(t, name)

	t.Run("handler is the packaged binary", func(t *testing.T) {
		if p.Handler != fczip.BinaryName {
			t.Errorf("handler = %q, but deploy/package writes the binary as %q", p.Handler, fczip.BinaryName)
		}
		if filepath.Clean(p.Code) != filepath.Clean(fczip.DefaultOutput) {
			t.Errorf("code = %q, but deploy/package writes %q", p.Code, fczip.DefaultOutput)
		}
	})

	t.Run("environment variables are read by config", func(t *testing.T) {
		known := configVars(t)
		size := 0
		for name, value := range p.EnvironmentVariables {
			if !slices.Contains(known, name) {
				t.Errorf("s.yaml sets %s, which config.Vars does not list (a typo is silently ignored)", name)
			}
			if !envNameRE.MatchString(name) || strings.HasPrefix(name, "FC_") {
				t.Errorf("%s: FC rejects this name", name)
			}
			size += len(name) + len(value)
		}
		if size > 4096 {
			t.Errorf("environment variables take %d bytes, FC allows 4 KB", size)
		}
		required := []string{"HPCGATE_REGION", "HPCGATE_ACCOUNT_ID", "HPCGATE_EVENTS",
			"HPCGATE_POLICY_BUNDLE_URL", "HPCGATE_POLICY_BUNDLE_PUBLIC_KEY", "HPCGATE_MAX_WAIT"}
		if name == httpResource {
			required = append(required, "HPCGATE_JWKS_URL", "HPCGATE_JWT_ISSUER", "HPCGATE_JWT_AUDIENCE")
		}
		for _, name := range required {
			if _, ok := p.EnvironmentVariables[name]; !ok {
				t.Errorf("s.yaml does not set %s", name)
			}
		}
	})

	t.Run("waits end before the function times out", func(t *testing.T) {
		maxWait, err := parseSeconds(p.EnvironmentVariables["HPCGATE_MAX_WAIT"])
		if err != nil {
			t.Fatalf("HPCGATE_MAX_WAIT: %v", err)
		}
		defWait, err := parseSeconds(p.EnvironmentVariables["HPCGATE_DEFAULT_WAIT"])
		if err != nil {
			t.Fatalf("HPCGATE_DEFAULT_WAIT: %v", err)
		}
		if timeout := time.Duration(p.Timeout) * time.Second; maxWait >= timeout {
			t.Errorf("HPCGATE_MAX_WAIT %s is not below the function timeout %s: waits would be cut off", maxWait, timeout)
		}
		if defWait > maxWait {
			t.Errorf("HPCGATE_DEFAULT_WAIT %s exceeds HPCGATE_MAX_WAIT %s", defWait, maxWait)
		}
	})

	t.Run("triggers are kinds the handler decodes", func(t *testing.T) {
		consts := stringConsts(t, vocabularyDir, "Trigger")
		if len(consts) == 0 {
			t.Fatalf("%s: no Trigger constants", vocabularyDir)
		}
		kinds := make([]string, 0, len(consts))
		for _, v := range consts {
			kinds = append(kinds, v)
		}
		if len(p.Triggers) == 0 {
			t.Fatal("s.yaml declares no triggers")
		}
		names := map[string]bool{}
		for _, tr := range p.Triggers {
			if !slices.Contains(kinds, tr.TriggerType) {
				t.Errorf("trigger %s: type %q is not one the gateway decodes %v", tr.TriggerName, tr.TriggerType, kinds)
			}
			if names[tr.TriggerName] {
				t.Errorf("trigger name %s used twice", tr.TriggerName)
			}
			names[tr.TriggerName] = true
		}
	})

	t.Run("http trigger leaves authentication to the gateway", func(t *testing.T) {
		for _, tr := range p.Triggers {
			if tr.TriggerType != "http" {
				continue
			}
			var c struct {
				AuthType string   `json:"authType"`
				Methods  []string `json:"methods"`
			}
			if err := json.Unmarshal(tr.TriggerConfig, &c); err != nil {
				t.Fatal(err)
			}
			// The gateway serves POST /v1/commands and GET /v1/commands/{id}.
			if !slices.Contains(c.Methods, "POST") || !slices.Contains(c.Methods, "GET") {
				t.Errorf("http methods %v, want GET and POST", c.Methods)
			}
			if c.AuthType != "anonymous" && c.AuthType != "jwt" {
				t.Errorf("authType %q: callers carry a bearer JWT; want anonymous (verified by hpcgate) or jwt", c.AuthType)
			}
		}
	})

	t.Run("timer payload is a request", func(t *testing.T) {
		for _, tr := range p.Triggers {
			if tr.TriggerType != "timer" {
				continue
			}
			var c struct {
				Payload string `json:"payload"`
			}
			if err := json.Unmarshal(tr.TriggerConfig, &c); err != nil {
				t.Fatal(err)
			}
			if _, err := decodeRequest([]byte(c.Payload)); err != nil {
				t.Errorf("trigger %s: payload: %v", tr.TriggerName, err)
			}
		}
	})
}

// trigger returns the s.yaml trigger of type typ; it must be the only one.
func trigger(t *testing.T, p sProps, typ string) sTrigger {
	t.Helper()
	var found []sTrigger
	for _, tr := range p.Triggers {
		if tr.TriggerType == typ {
			found = append(found, tr)
		}
	}
	if len(found) != 1 {
		t.Fatalf("s.yaml has %d %s triggers, want 1", len(found), typ)
	}
	return found[0]
}

// TestSYAMLInitializer: FC runs the function's initializer (the policy
// compile) before it routes the first request to an instance, within the
// timeout, which must leave room for a bundle fetch and stay below the
// function's own.
func TestSYAMLInitializer(t *testing.T) {
	for _, name := range []string{httpResource, eventResource} {
		_, p := props(t, name)
		in := p.Lifecycle.Initializer
		if in.Handler != p.Handler {
			t.Errorf("%s: initializer handler %q, want the function's %q (go1 runs the registered Go function)", name, in.Handler, p.Handler)
		}
		if in.Timeout < 10 || in.Timeout > p.Timeout {
			t.Errorf("%s: initializer timeout %d s, want 10 s to the function's %d s", name, in.Timeout, p.Timeout)
		}
	}
}

// TestSYAMLEventsRunOnce: s.yaml configures what the claim step needs —
// a claim bucket, FC's retries of a function error, an age bound, and a
// failure destination for an event FC gives up on — and a claim wait
// that ends before the function's timeout.
func TestSYAMLEventsRunOnce(t *testing.T) {
	raw, p := props(t, "hpcgate-events")
	var a struct {
		AsyncInvokeConfig struct {
			MaxAsyncRetryAttempts     int `json:"maxAsyncRetryAttempts"`
			MaxAsyncEventAgeInSeconds int `json:"maxAsyncEventAgeInSeconds"`
			DestinationConfig         struct {
				OnFailure struct {
					Destination string `json:"destination"`
				} `json:"onFailure"`
			} `json:"destinationConfig"`
		} `json:"asyncInvokeConfig"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	c := a.AsyncInvokeConfig
	if c.MaxAsyncRetryAttempts < 3 || c.MaxAsyncEventAgeInSeconds < 3600 {
		t.Errorf("asyncInvokeConfig: %d retries, max age %d s; want retries enough to outlast a claim's lease", c.MaxAsyncRetryAttempts, c.MaxAsyncEventAgeInSeconds)
	}
	if d := c.DestinationConfig.OnFailure.Destination; !strings.HasPrefix(d, "acs:mns:") || !strings.HasSuffix(d, "/messages") {
		t.Errorf("onFailure destination %q: want an MNS queue (acs:mns:<region>:<account>:/queues/<name>/messages)", d)
	}
	if p.EnvironmentVariables["HPCGATE_CLAIM_BUCKET"] == "" {
		t.Error("HPCGATE_CLAIM_BUCKET is empty: claims would stay in each instance's memory")
	}
	// A claim is taken over only after its lease: by then the delivery that
	// made it must be over, or two deliveries could send the command.
	lease, err := time.ParseDuration(p.EnvironmentVariables["HPCGATE_CLAIM_LEASE"])
	if err != nil || lease <= 2*time.Duration(p.Timeout)*time.Second {
		t.Errorf("HPCGATE_CLAIM_LEASE %q: want well over the function's timeout (%d s)", p.EnvironmentVariables["HPCGATE_CLAIM_LEASE"], p.Timeout)
	}
	wait, err := time.ParseDuration(p.EnvironmentVariables["HPCGATE_CLAIM_WAIT"])
	if err != nil || wait >= time.Duration(p.Timeout)*time.Second/2 {
		t.Errorf("HPCGATE_CLAIM_WAIT %q: want a duration well below the timeout (%d s)", p.EnvironmentVariables["HPCGATE_CLAIM_WAIT"], p.Timeout)
	}
}
