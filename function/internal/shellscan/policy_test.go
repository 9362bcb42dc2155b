package shellscan_test

import (
	"testing"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/policy"
	"github.com/hpcgate/hpcgate/function/internal/shellscan"
)

// TestExamplePolicies runs analyses through the embedded example policies
// for a member of the researchers group calling from the allowed network:
// read-only Slurm use passes, every bypass attempt is denied.
func TestExamplePolicies(t *testing.T) {
	testExamplePolicies(t)
}

// decideAs analyses cmd and decides it for principal from the campus
// network over TLS.
func decideAs(t *testing.T, engine *policy.Engine, principal hpcgate.Principal, cmd string) (hpcgate.Decision, hpcgate.Analysis) {
	t.Helper()
	a, err := shellscan.Analyze(cmd)
	if err != nil {
		t.Fatalf("Analyze(%q): %v", cmd, err)
	}
	yes := true
	req := hpcgate.Request{ClusterID: "ehpc-hz-demo01", Command: a.Canonical}.WithDefaults()
	d, err := engine.Decide(t.Context(), policy.Query{
		Principal: principal, Request: req, Analysis: &a, Action: hpcgate.ActionInvoke,
		Context: hpcgate.RequestContext{SourceIP: "10.20.1.2", SecureTransport: &yes},
		Trigger: hpcgate.TriggerHTTP, Region: "cn-hangzhou", Account: "123456",
	})
	if err != nil {
		t.Fatalf("Decide(%q): %v", cmd, err)
	}
	return d, a
}

// TestOperatorPolicy holds OperatorAccess, which allows here-docs,
// assignments and any argument of many programs, to the attacks:
// each is denied, and benign operator work still passes.
func TestOperatorPolicy(t *testing.T) {
	set, err := policy.Default(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	engine := policy.NewEngine(set)
	yes := true
	operator := hpcgate.Principal{Type: hpcgate.PrincipalUser, ID: "bob", Groups: []string{"hpc-operators"}, MFA: &yes}
	researcher := hpcgate.Principal{Type: hpcgate.PrincipalUser, ID: "alice", Groups: []string{"researchers"}}
	denied := []string{
		"ls 'x[$(touch /tmp/x)]'; [[ 1 -eq _ ]]",
		"RANDOM='x[$(touch /tmp/x)]'; uptime",
		"y='x[$(touch /tmp/x)]'; a[y]=1; uptime",
		"test -v 'a[$(touch /tmp/x)]'", "[ -v 'a[$(touch /tmp/x)]' ]", "printf -v 'a[$(touch /tmp/x)]' %s x",
		"read 'a[$(touch /tmp/x)]' <<< 1", "declare 'a[$(touch /tmp/x)]=1'", "cat 'a[$(touch /tmp/x)]'; declare -n r=_; echo $r",
		"set -x; PS4='$(touch /tmp/x)'; ls", "shopt -s expand_aliases; alias ls='touch /tmp/x'\nls",
		"timeout 10 bash", "env X=1 sh -c 'touch /tmp/x'", "nohup sh -c x", "nice bash", "stdbuf -o0 bash", "command bash",
		"exec bash", "echo x | xargs sh -c", "sudo bash", "command python3 <<EOF\nprint(1)\nEOF", "timeout 5 perl < /tmp/p.pl",
		"sort --compress-program=sh /tmp/x", "sort -o /etc/passwd /tmp/x", "find / -exec sh {} \\;", "less /etc/motd",
		"systemctl edit slurmd", "EDITOR=vi systemctl edit slurmd", "cat 0<<EOF | bash\nid\nEOF", "bash 0</tmp/x.sh",
		"hash -p /bin/sh ls; ls", "trap 'touch /tmp/x' EXIT", "grep -c x <<< $((a[$(id)]))",
	}
	for _, c := range denied {
		for _, p := range []hpcgate.Principal{operator, researcher} {
			if d, a := decideAs(t, engine, p, c); d.Allow {
				t.Errorf("%s may run %q: programs %q, features %q", p.ID, c, a.Programs, a.Features)
			}
		}
	}
	allowed := []string{
		"systemctl status slurmd", "journalctl -u slurmd --since today | grep -i error | tail -n 50",
		"cat <<EOF | grep -c x\nx $USER\nEOF", "grep -c alice <<< 'alice bob'", "squeue -o '%i %j' | sort -k 2 | uniq -c",
		"df -h /data && du -sh /data/*", "for n in 1 2; do scontrol show node cn$n; done", "cat /tmp/x | sort -rn | head -n 5",
		"cat /tmp/x | LC_ALL=C sort", "ps aux | grep slurmd",
	}
	for _, c := range allowed {
		if d, a := decideAs(t, engine, operator, c); !d.Allow {
			t.Errorf("an operator may not run %q: reasons %+v; programs %q, lines %q, features %q", c, d.Reasons, a.Programs, a.CommandLines, a.Features)
		}
	}
}

func testExamplePolicies(t *testing.T) {
	set, err := policy.Default(t.Context())
	if err != nil {
		t.Fatalf("load example policies: %v", err)
	}
	engine := policy.NewEngine(set)
	researcher := hpcgate.Principal{Type: hpcgate.PrincipalUser, ID: "alice", Groups: []string{"researchers"}}

	tests := map[string]struct {
		cmd   string
		allow bool
	}{
		// Realistic read-only Slurm use.
		"own jobs":               {"squeue -u alice", true},
		"node list":              {"sinfo -N -l", true},
		"plain squeue":           {"squeue", true},
		"format with quotes":     {`squeue -u alice --format "%.18i %.9P %.30j %.8T"`, true},
		"accounting":             {"sacct -u alice --starttime=2024-01-01 --format=JobID,JobName%30,State", true},
		"job details":            {"scontrol show job 4242", true},
		"sequence of allowed":    {"squeue -u alice; sinfo -s", true},
		"and-list of allowed":    {"squeue -u alice && sinfo", true},
		"comment is inert":       {"squeue -u alice # ; rm -rf /", true},
		"quoted semicolon arg":   {`squeue -u "alice;rm -rf /"`, true},
		"escaped semicolon word": {`squeue -u alice\;rm`, true},
		"count own jobs":         {"squeue -u alice -h | wc -l", true},
		"states histogram":       {"sacct -n -o State | sort | uniq -c", true},
		"last jobs":              {"sacct -u alice | tail -n 20", true},

		// Pipelines into filters that would read a file, or into anything else.
		"filter reads a file":  {"squeue | head /etc/shadow", false},
		"grep is not a filter": {"squeue | grep -r key /root", false},
		"pipe into awk":        {"squeue | awk '{system($1)}'", false},

		// Bypass attempts.
		"sequence":              {"squeue; rm -rf /", false},
		"newline":               {"squeue\nrm -rf /", false},
		"and-list":              {"squeue && rm -rf /", false},
		"or-list":               {"squeue || rm -rf /", false},
		"background":            {"squeue & rm -rf /", false},
		"pipe into shell":       {"squeue | sh", false},
		"command substitution":  {"squeue -u $(rm -rf /)", false},
		"backquotes":            {"squeue -u `id`", false},
		"substitution in quote": {`squeue --format "$(rm -rf /)"`, false},
		"process substitution":  {"squeue <(rm -rf /)", false},
		"dynamic word":          {"sq$(echo ue)ue", false},
		"empty quotes":          {"r''m -rf /", false},
		"backslash":             {`\rm -rf /`, false},
		"ansi-c":                {`$'\x72m' -rf /`, false},
		"variables":             {"a=r; b=m; $a$b -rf /", false},
		"IFS":                   {"squeue${IFS}-u${IFS}alice", false},
		"brace expansion":       {"{rm,-rf,/}", false},
		"glob":                  {"/???/rm -rf /", false},
		"tilde":                 {"~root/bin/squeue", false},
		"function shadowing":    {"squeue(){ rm -rf /; }; squeue", false},
		"command wrapper":       {"command rm -rf /", false},
		"env wrapper":           {"env squeue", false},
		"eval":                  {"eval squeue", false},
		"shell -c":              {"bash -c squeue", false},
		"timeout wrapper":       {"timeout 5 squeue", false},
		"PATH prefix":           {"PATH=/tmp squeue", false},
		"LD_PRELOAD":            {"LD_PRELOAD=/tmp/x.so squeue", false},
		"for loop variable":     {"for PATH in /tmp; do squeue; done", false},
		"output redirect":       {"squeue > /etc/profile.d/x.sh", false},
		"subshell":              {"(rm -rf /)", false},
		"block":                 {"{ rm -rf /; }", false},
		"if":                    {"if squeue; then rm -rf /; fi", false},
		"heredoc to shell":      {"bash <<EOF\nrm -rf /\nEOF", false},
		"scontrol write":        {"scontrol update JobId=1 TimeLimit=UNLIMITED", false},
		"fullwidth look-alike":  {"ｓｑｕｅｕｅ -u alice", false},
		"indirection":           {"squeue -u ${!x}", false},
		"arithmetic":            {"squeue -j $((1+1))", false},
		"negation":              {"! squeue", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := shellscan.Analyze(tc.cmd)
			if err != nil {
				t.Fatalf("Analyze(%q): %v", tc.cmd, err)
			}
			req := hpcgate.Request{ClusterID: "ehpc-hz-demo01", Command: a.Canonical}.WithDefaults()
			d, err := engine.Decide(t.Context(), policy.Query{
				Principal: researcher,
				Request:   req,
				Analysis:  &a,
				Action:    hpcgate.ActionInvoke,
				Context:   hpcgate.RequestContext{SourceIP: "10.20.1.2"},
				Trigger:   hpcgate.TriggerHTTP,
				Region:    "cn-hangzhou",
				Account:   "123456",
			})
			if err != nil {
				t.Fatalf("Decide(%q): %v", tc.cmd, err)
			}
			if d.Allow != tc.allow {
				t.Errorf("%q: allow = %v, want %v; reasons %+v; programs %q, features %q", tc.cmd, d.Allow, tc.allow, d.Reasons, a.Programs, a.Features)
			}
		})
	}
}
