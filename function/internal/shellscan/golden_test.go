package shellscan

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"

	"github.com/hpcgate/hpcgate/test/goldenfile"
)

// goldens are commands whose whole analysis is kept in testdata/golden.
var goldens = map[string]string{
	"typical":             typical,
	"realistic":           "squeue -u alice --states=RUNNING | grep -v COMPLETING > /tmp/jobs.txt 2>/dev/null && wc -l < /tmp/jobs.txt",
	"bypass-substitution": "squeue -u $(rm -rf / && echo alice) `id`",
	"bypass-function":     "squeue(){ rm -rf /; }; squeue",
	"bypass-quoting":      `r''m -rf / ; \rm x ; "r"m y ; $'\x72m' z`,
	"bypass-dynamic":      "a=r; b=m; $a$b -rf / ; {rm,-rf,/} ; /???/rm ; ~root/x",
	"assignments":         "PATH=/tmp LD_PRELOAD=x.so squeue; export A=1 B; for i in 1; do (( n += i )); done",
	"heredoc":             "cat <<EOF > /tmp/out\n$(rm x) is run, this is data\nEOF",
	"control-flow":        "if [[ -d /data ]]; then while read -r l; do echo \"$l\"; done < /data/list; else exit 1; fi",
}

// golden is an Analysis with every field in JSON.
type golden struct {
	Canonical         string                  `json:"canonical"`
	Programs          []string                `json:"programs"`
	CommandLines      []string                `json:"commandLines"`
	Features          []string                `json:"features"`
	OutputRedirects   []string                `json:"outputRedirects"`
	InputRedirects    []string                `json:"inputRedirects"`
	AssignedVariables []string                `json:"assignedVariables"`
	Simple            []hpcgate.SimpleCommand `json:"simple"`
}

func TestGolden(t *testing.T) {
	for name, cmd := range goldens {
		t.Run(name, func(t *testing.T) {
			a, err := Analyze(cmd)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(golden{
				Canonical: a.Canonical, Programs: a.Programs, CommandLines: a.CommandLines, Features: a.Features,
				OutputRedirects: a.OutputRedirects, InputRedirects: a.InputRedirects, AssignedVariables: a.AssignedVariables,
				Simple: a.Simple,
			}); err != nil {
				t.Fatal(err)
			}
			goldenfile.Check(t, filepath.Join("testdata", "golden", name+".golden.json"), buf.Bytes())
		})
	}
}
