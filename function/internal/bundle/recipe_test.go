package bundle

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcgate/hpcgate/function/internal/policy"
)

// repoRoot is the repository root, from this package's directory.
const repoRoot = "../../.."

// recipe returns the first ```sh block after heading in the markdown file.
func recipe(t *testing.T, file, heading string) string {
	t.Helper()
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s: no heading %q", file, heading)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	if !ok {
		t.Fatalf("%s: no sh block after %q", file, heading)
	}
	block, _, _ := strings.Cut(rest, "```")
	return block
}

// TestREADMERecipe runs the bundle recipe of policies/README.md exactly as
// printed, in a copy of the repository's go.mod, go.sum and policies/, and
// loads what it builds: the bundle must hold the whole example set (issue
// 15: the recipe once built a bundle with no governance data).
func TestREADMERecipe(t *testing.T) {
	for _, tool := range []string{"go", "openssl", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed; CI must have it to run the README recipe", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	script := recipe(t, filepath.Join(repoRoot, "policies", "README.md"), "## Shipping a policy set as a bundle")
	if !strings.Contains(script, "opa build -b policies --signing-key key.pem") {
		t.Fatalf("the recipe no longer builds with opa build -b:\n%s", script)
	}
	dir := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum"} {
		copyFile(t, filepath.Join(repoRoot, f), filepath.Join(dir, f))
	}
	src := filepath.Join(repoRoot, "policies")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		copyFile(t, p, filepath.Join(dir, "policies", rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "sh", "-ec", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("recipe failed: %v\n%s", err, out)
	}

	e := policy.NewEngine(nil)
	l, _ := newLoader(t, Config{Source: filepath.Join(dir, "bundle.tar.gz"), PublicKey: filepath.Join(dir, "pub.pem")}, e)
	if err := l.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	def, err := policy.Default(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got, want := e.Current().Stats(), def.Stats()
	got.Revision, want.Revision = "", ""
	if got != want || got.Statements == 0 || got.ExtensionRules == 0 {
		t.Errorf("bundle holds %+v, want the embedded set's %+v", got, want)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
