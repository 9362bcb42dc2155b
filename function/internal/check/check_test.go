package check

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hpcgate/hpcgate/test/goldenfile"
)

const (
	researcher = `"principal": {"type": "user", "id": "alice", "groups": ["researchers"], "mfa": false}`
	campus     = `"context": {"sourceIp": "10.20.1.2", "secureTransport": true, "currentTime": "2026-03-02T09:00:00+08:00"}, "trigger": "http", "region": "cn-hangzhou", "account": "123456"`
)

func invoke(principal, command, extra string) string {
	return `{` + principal + `, "request": {"clusterId": "ehpc-hz-abc", "command": ` + command + extra + `}, ` + campus + `}`
}

// revision hides the digest of the embedded policies, so goldens change
// only when decisions do.
var revision = regexp.MustCompile(`"revision": ?"[^"]*"`)

func run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(args, strings.NewReader(stdin), &out, &errOut)
	return revision.ReplaceAllString(out.String(), `"revision": "REVISION"`), errOut.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name+".golden.json"), []byte(got))
}

func TestDecisions(t *testing.T) {
	tests := map[string]struct {
		stdin string
		exit  int
	}{
		"allow-squeue":                  {invoke(researcher, `"squeue -u alice"`, ""), 0},
		"allow-scontrol-show":           {invoke(researcher, `"scontrol show job 42 && sinfo -N"`, ""), 0},
		"deny-redirect":                 {invoke(researcher, `"squeue > /tmp/out"`, ""), 2},
		"deny-dynamic-program":          {invoke(researcher, `"$CMD -u alice"`, ""), 2},
		"deny-heredoc-into-bash":        {invoke(researcher, `"bash <<EOF\nsqueue\nEOF"`, ""), 2},
		"deny-parameter-operator":       {invoke(researcher, `"squeue -u ${_@P}"`, ""), 2},
		"deny-path-assignment":          {invoke(researcher, `"PATH=/tmp squeue"`, ""), 2},
		"deny-timeout-too-long":         {invoke(researcher, `"sinfo"`, `, "timeout": 3600`), 2},
		"deny-not-read-only":            {invoke(researcher, `"scancel 42"`, ""), 2},
		"deny-outside-campus":           {`{` + researcher + `, "request": {"clusterId": "ehpc-hz-abc", "command": "squeue"}, "context": {"sourceIp": "203.0.113.7"}}`, 2},
		"allow-operator-with-mfa":       {invoke(`"principal": {"type": "user", "id": "bob", "groups": ["hpc-operators"], "mfa": true}`, `"systemctl status slurmd"`, ""), 0},
		"deny-operator-without-mfa":     {invoke(`"principal": {"type": "user", "id": "bob", "groups": ["hpc-operators"], "mfa": false}`, `"systemctl status slurmd"`, ""), 2},
		"allow-ingest-pipeline":         {`{"principal": {"type": "service", "id": "oss:raw-data"}, "request": {"clusterId": "ehpc-hz-abc", "command": "/opt/pipelines/ingest.sh -- 'incoming/day 1.csv'", "workingDir": "/data", "timeout": 600}, "trigger": "oss", "region": "cn-hangzhou", "account": "123456", "context": {"currentTime": "2026-03-02T01:00:00Z"}}`, 0},
		"allow-list-results":            {`{` + researcher + `, "action": "ehpc:ListInvocationResults", "commandOwner": "user:alice", "request": {"clusterId": "ehpc-hz-abc"}, ` + campus + `}`, 0},
		"deny-hidden-arithmetic":        {invoke(researcher, `"ls 'x[$(id)]'; [[ 1 -eq _ ]]"`, ""), 2},
		"deny-operator-sort-program":    {invoke(`"principal": {"type": "user", "id": "bob", "groups": ["hpc-operators"], "mfa": true}`, `"sort --compress-program=sh /data/x"`, ""), 2},
		"allow-operator-heredoc-to-cat": {invoke(`"principal": {"type": "user", "id": "bob", "groups": ["hpc-operators"], "mfa": true}`, `"cat <<EOF | grep x\nx $USER\nEOF"`, ""), 0},
		"deny-list-results-implicitly":  {`{` + researcher + `, "action": "ehpc:ListInvocationResults", "request": {"clusterId": "ehpc-hz-abc"}, "context": {"currentTime": "2026-03-02T01:00:00Z"}, "region": "cn-hangzhou", "account": "123456"}`, 2},
		"deny-list-others-results":      {`{` + researcher + `, "action": "ehpc:ListInvocationResults", "commandOwner": "user:olga", "request": {"clusterId": "ehpc-hz-abc"}, ` + campus + `}`, 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := run(t, tc.stdin)
			if code != tc.exit {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.exit, errOut)
			}
			golden(t, name, out)
		})
	}
}

func TestInputErrors(t *testing.T) {
	tests := map[string]struct {
		stdin string
		want  string
	}{
		"malformed JSON":              {`{"principal": `, "malformed"},
		"empty input":                 {"", "empty input"},
		"missing principal":           {`{"request": {"clusterId": "c", "command": "ls"}}`, "principal: missing"},
		"missing request":             {`{` + researcher + `}`, "request: missing"},
		"missing cluster":             {`{` + researcher + `, "request": {"command": "ls"}}`, "request.clusterId: missing"},
		"missing command":             {`{` + researcher + `, "request": {"clusterId": "c"}}`, "request.command: missing"},
		"timeout as a string":         {`{` + researcher + `, "request": {"clusterId": "c", "command": "ls", "timeout": "60"}}`, "request.timeout: want int, got string"},
		"groups as a string":          {`{"principal": {"type": "user", "id": "a", "groups": "x"}, "request": {"clusterId": "c", "command": "ls"}}`, "principal.groups: want []string, got string"},
		"unknown field":               {`{` + researcher + `, "request": {"clusterId": "c", "command": "ls"}, "contxt": {}}`, `unknown field "contxt"`},
		"unknown action":              {`{` + researcher + `, "action": "ehpc:RunCommand", "request": {"clusterId": "c", "command": "ls"}}`, `action: "ehpc:RunCommand"`},
		"unknown principal type":      {`{"principal": {"type": "role", "id": "a"}, "request": {"clusterId": "c", "command": "ls"}}`, `principal.type: "role"`},
		"service with groups":         {`{"principal": {"type": "service", "id": "oss:b", "groups": ["g"]}, "request": {"clusterId": "c", "command": "ls"}}`, "principal.groups: service principals have no groups"},
		"bad source IP":               {`{` + researcher + `, "request": {"clusterId": "c", "command": "ls"}, "context": {"sourceIp": "10.0.0"}}`, `context.sourceIp: "10.0.0" is not an IP address`},
		"bad current time":            {`{` + researcher + `, "request": {"clusterId": "c", "command": "ls"}, "context": {"currentTime": "tomorrow"}}`, `context.currentTime: "tomorrow" is not an RFC 3339 date-time`},
		"command that does not parse": {`{` + researcher + `, "request": {"clusterId": "c", "command": "ls 'unterminated"}}`, "request.command: InvalidCommand"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := run(t, tc.stdin)
			if code != 1 || out != "" {
				t.Errorf("exit %d, stdout %q; want exit 1 and no output", code, out)
			}
			if !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("stderr = %q, want one line containing %q", errOut, tc.want)
			}
		})
	}
}

func TestBatch(t *testing.T) {
	stdin := strings.Join([]string{
		invoke(researcher, `"squeue -u alice"`, ""),
		`{"principal": `,
		invoke(researcher, `"squeue > /tmp/x"`, ""),
		`{` + researcher + `, "action": "ehpc:ListInvocationResults", "commandOwner": "user:alice", "request": {"clusterId": "ehpc-hz-abc"}, ` + campus + `}`,
		`{"request": {"clusterId": "c", "command": "ls"}}`,
	}, "\n") + "\n"
	out, errOut, code := run(t, stdin, "--batch")
	if code != 0 || errOut != "" {
		t.Errorf("exit %d, stderr %q; want 0 and nothing", code, errOut)
	}
	if n := strings.Count(out, "\n"); n != 5 {
		t.Errorf("%d output lines, want 5", n)
	}
	golden(t, "batch", out)
}

func TestPolicyDirectory(t *testing.T) {
	dir := t.TempDir()
	gov := `{"policies": {"All": {"Version": "1", "Statement": [{"Sid": "Any", "Effect": "Allow", "Action": "ehpc:*", "Resource": "*"}]}}, "attachments": {"user": {"alice": ["All"]}}}`
	if err := os.WriteFile(filepath.Join(dir, "g.json"), []byte(gov), 0o644); err != nil {
		t.Fatal(err)
	}
	// The example baseline is not part of this set: a redirect is allowed.
	out, errOut, code := run(t, invoke(researcher, `"squeue > /tmp/x"`, ""), "--policies", dir)
	if code != 0 || !strings.Contains(out, `"sid": "Any"`) {
		t.Errorf("exit %d, stdout %s, stderr %q; want allow by Any", code, out, errOut)
	}
}

func TestPoliciesThatFailToLoad(t *testing.T) {
	for _, args := range [][]string{{"--policies", "testdata/badpolicies"}, {"--batch", "--policies", "testdata/badpolicies"}, {"--policies", "testdata/missing"}} {
		out, errOut, code := run(t, invoke(researcher, `"squeue"`, ""), args...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "check: load policies: ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and a load error", args, code, out, errOut)
		}
	}
	_, errOut, _ := run(t, "", "--policies", "testdata/badpolicies")
	if !strings.Contains(errOut, `policy "P" statement "S": Condition: unknown operator "StringEqual"`) {
		t.Errorf("stderr %q does not name policy, statement and field", errOut)
	}
}

func TestHelp(t *testing.T) {
	_, errOut, code := run(t, "", "-h")
	if code != 0 {
		t.Errorf("check -h exits %d, want 0", code)
	}
	for _, want := range []string{"Input", "Output", "Exit codes", `"analysis"`, "canonical", "commandLines", "--batch", "--policies"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check -h does not mention %s:\n%s", want, errOut)
		}
	}
}
