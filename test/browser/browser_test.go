// Package browser drives the researchers' page in headless Chromium
// against `hpcgate local` (its dev OpenID provider, the E-HPC simulator):
// sign in, read /v1/me, see a denied command's reason, run an allowed
// one and a long one watched to its end, reopen a recent command.
//
// The browser comes from the distribution (Debian: apt-get install
// chromium; .ci/run installs it). Without one the tests fail: they never
// skip, so a CI run cannot pass without having driven the page.
package browser

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/hpcgate/hpcgate/test/harness"
)

var update = flag.Bool("update", false, "rewrite testdata/page.png, the README's screenshot, with the one the test takes")

// binary is the gateway, built once for the package.
var binary string

func TestMain(m *testing.M) { os.Exit(harness.RunWithGateway(m, &binary)) }

const cluster = "ehpc-hz-demo01"

// chromiumPath finds the browser: $HPCGATE_CHROMIUM, else the usual
// names on PATH. Not finding one fails the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HPCGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found for the browser tests: install it (Debian: apt-get install -y chromium; .ci/run does) or set HPCGATE_CHROMIUM to its path. These tests never skip.")
	return ""
}

// startLocal runs `hpcgate local` with its dev identity provider and the
// test policies, and returns its base URL.
func startLocal(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, "local", "--listen", "127.0.0.1:0", "--cluster", cluster, "--nodes", "3",
		"--policies", filepath.Join("testdata", "policies"), "--user", "alice", "--groups", "researchers")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "HPCGATE_LOG_LEVEL=warn"}
	var logs strings.Builder
	cmd.Stderr = &logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "hpcgate listening on "); ok {
				found <- strings.Fields(rest)[0]
			}
		}
		close(found)
	}()
	select {
	case base, ok := <-found:
		if !ok {
			t.Fatalf("gateway exited before serving")
		}
		return base
	case <-time.After(60 * time.Second):
		t.Fatal("gateway did not start within 60 s")
	}
	return ""
}

// newBrowser starts headless Chromium with nothing that reaches the
// network on its own, in a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser, which lives as long as the
	// context it ran with: ctx, not one with a deadline.
	timer := time.AfterFunc(60*time.Second, cancel)
	err := chromedp.Do(ctx, chromedp.Navigate("about:blank"))
	if !timer.Stop() {
		t.Fatal("Chromium did not start within 60 s")
	}
	if err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// step runs actions within d, failing the test with what was being done.
func step(t *testing.T, ctx context.Context, what string, d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v\npage text:\n%s", what, err, pageText(ctx))
	}
}

func read[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func pageText(ctx context.Context) string {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`document.body.innerText`))
	return s
}

// pane is what a node's pane shows.
type pane struct {
	Node, State, Exit, Output string
}

const readPanes = `[...document.querySelectorAll('#panes .pane')].map(p => ({
  Node: p.dataset.node, State: p.dataset.state,
  Exit: p.querySelector('.exit').textContent, Output: p.querySelector('.output').textContent}))`

// typeCommand replaces the command and waits for the dry run's verdict
// on the whole command (a slow machine may decide a part typed so far).
func typeCommand(t *testing.T, ctx context.Context, command, verdict string) string {
	t.Helper()
	quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(command) + `"` // a CSS string
	step(t, ctx, "type "+command, 30*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.getElementById('verdict').className = ''; delete document.getElementById('verdict').dataset.command; document.getElementById('command').value = ''`),
		chromedp.SendKeys(chromedp.CSS("#command"), command),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#verdict.%s[data-command=%s]", verdict, quoted))),
	)
	return read(t, ctx, "read the verdict", chromedp.Text(chromedp.CSS("#verdict")))
}

func TestResearcherPage(t *testing.T) {
	base := startLocal(t)
	ctx := newBrowser(t)

	// Sign in: the page sends the browser to the dev provider (code flow
	// with PKCE), whose one-click form sends it back with a code.
	step(t, ctx, "open the page", 30*time.Second,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#signin-button")),
		chromedp.Click(chromedp.CSS("#signin-button")),
		chromedp.WaitVisible(chromedp.CSS("#dev-signin")),
		chromedp.Click(chromedp.CSS("#dev-signin")),
		chromedp.WaitVisible(chromedp.CSS("#me-body table")),
	)
	if url := read(t, ctx, "read the URL", chromedp.Location()); strings.Contains(url, "code=") {
		t.Errorf("the authorization code stays in the URL: %s", url)
	}
	if who := read(t, ctx, "read who", chromedp.Text(chromedp.CSS("#who"))); !strings.Contains(who, "alice") || !strings.Contains(who, "researchers") {
		t.Errorf("header says %q, want alice (researchers)", who)
	}
	me := read(t, ctx, "read /v1/me", chromedp.Text(chromedp.CSS("#me-body")))
	for _, want := range []string{"SlurmAndWaiting", "ehpc-hz-*", "squeue", "600 s", "NoRemoval", "via group:researchers"} {
		if !strings.Contains(me, want) {
			t.Errorf("what-you-may-run lacks %q:\n%s", want, me)
		}
	}

	t.Run("denied with its reason", func(t *testing.T) {
		v := typeCommand(t, ctx, "rm -rf /tmp/scratch", "deny")
		if !strings.Contains(v, "NoRemoval") || !strings.Contains(v, "denied") {
			t.Errorf("verdict %q, want the NoRemoval Deny named", v)
		}
		v = typeCommand(t, ctx, "cat /etc/passwd", "deny")
		if !strings.Contains(v, "no statement allows") {
			t.Errorf("verdict %q, want the implicit deny", v)
		}
		for _, want := range []string{"Closest statements", "Researchers / SlurmAndWaiting", "hpcgate:CommandLine", "yours: cat /etc/passwd"} {
			if !strings.Contains(v, want) {
				t.Errorf("implicit deny lacks %q (the near miss of the Allow):\n%s", want, v)
			}
		}
	})

	t.Run("near misses rendered when the decision has them", func(t *testing.T) {
		// decision.nearMisses as the policy layer writes it, rendered by
		// the page's own function.
		step(t, ctx, "render a near miss", 10*time.Second, chromedp.Evaluate[chromedp.Void](`renderVerdict({status: "denied", decision: {allow: false,
		  reasons: [{effect: "Deny", detail: "no statement allows"}],
		  nearMisses: [{policy: "Researchers", sid: "SlurmAndWaiting", statement: 0,
		    failed: [{key: "hpcgate:CommandLine", operator: "ForAllValues:StringLike", values: ["squeue", "squeue *"],
		              requestValues: ["cat /etc/passwd"], offending: ["cat /etc/passwd"]},
		             {key: "acs:SourceIp", operator: "IpAddress", values: ["10.0.0.0/8"], requestValues: null}],
		    resource: {element: "Resource", values: ["acs:ehpc:*:*:cluster/ehpc-hz-*"], request: "acs:ehpc:cn-hangzhou:1:cluster/ehpc-sh-x"}}]}})`))
		v := read(t, ctx, "read the verdict", chromedp.Text(chromedp.CSS("#verdict")))
		for _, want := range []string{"Closest statements", "Researchers / SlurmAndWaiting", "hpcgate:CommandLine", "yours: cat /etc/passwd", "acs:SourceIp", "yours: absent", "ehpc-sh-x"} {
			if !strings.Contains(v, want) {
				t.Errorf("near-miss verdict lacks %q:\n%s", want, v)
			}
		}
	})

	t.Run("allowed, run by keyboard, output per node", func(t *testing.T) {
		v := typeCommand(t, ctx, "echo hello from the page", "allow")
		if !strings.Contains(v, "SlurmAndWaiting") {
			t.Errorf("verdict %q, want the Allow named", v)
		}
		step(t, ctx, "run with Ctrl+Enter", 60*time.Second,
			chromedp.Focus(chromedp.CSS("#command")),
			chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)),
			chromedp.WaitVisible(chromedp.CSS("#overall-state.succeeded")),
		)
		panes := read(t, ctx, "read the panes", chromedp.Evaluate[[]pane](readPanes))
		if len(panes) != 3 {
			t.Fatalf("%d panes, want one per node: %+v", len(panes), panes)
		}
		for _, p := range panes {
			if p.State != "finished" || p.Exit != "0" || strings.TrimSpace(p.Output) != "hello from the page" {
				t.Errorf("pane %+v, want finished, exit 0, the output", p)
			}
		}
	})

	t.Run("a long command finishes while watched", func(t *testing.T) {
		typeCommand(t, ctx, "sleep 8 && echo done", "allow")
		// The run waits 5 s, answers 202 running, and the page long-polls
		// GET ?wait= until the command ends.
		step(t, ctx, "run and see it running", 30*time.Second,
			chromedp.Click(chromedp.CSS("#run")),
			chromedp.WaitVisible(chromedp.CSS("#overall-state.running")),
		)
		running := read(t, ctx, "read the panes while running", chromedp.Evaluate[[]pane](readPanes))
		for _, p := range running {
			if p.State != "running" || p.Exit != "—" {
				t.Errorf("pane while running %+v, want running with no exit code", p)
			}
		}
		step(t, ctx, "see it finish", 60*time.Second, chromedp.WaitVisible(chromedp.CSS("#overall-state.succeeded")))
		for _, p := range read(t, ctx, "read the panes", chromedp.Evaluate[[]pane](readPanes)) {
			if p.State != "finished" || strings.TrimSpace(p.Output) != "done" {
				t.Errorf("pane %+v, want finished with output done", p)
			}
		}
	})

	t.Run("copy as curl", func(t *testing.T) {
		step(t, ctx, "copy", 10*time.Second, chromedp.Click(chromedp.CSS("#copy-curl")), chromedp.WaitVisible(chromedp.CSS("#curl")))
		line := read(t, ctx, "read the curl line", chromedp.Text(chromedp.CSS("#curl")))
		if !strings.Contains(line, `-H "Authorization: Bearer $HPCGATE_TOKEN"`) || !strings.Contains(line, `"command":"sleep 8 && echo done"`) || !strings.Contains(line, base+"/v1/commands") {
			t.Errorf("curl line %q", line)
		}
		token := read(t, ctx, "read the token", chromedp.Evaluate[string](`sessionStorage.getItem('hpcgate.token')`))
		if token == "" || strings.Contains(line, token) {
			t.Error("the curl line must name $HPCGATE_TOKEN, never the token itself")
		}
	})

	if *update {
		shot := read(t, ctx, "screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join("testdata", "page.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("recent commands reopen by id", func(t *testing.T) {
		items := read(t, ctx, "read the recent list", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#recent-list li button')].map(b => b.textContent)`))
		if len(items) != 2 {
			t.Fatalf("recent commands %q, want the two runs", items)
		}
		// Reload: the list is kept in the browser; open the older one.
		step(t, ctx, "reload and reopen", 30*time.Second,
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(chromedp.CSS("#recent-list li button")),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('result').hidden = true`),
			chromedp.Focus(chromedp.CSS("#recent-list li:nth-child(2) button")),
			chromedp.KeyEvent(kb.Enter),
			chromedp.WaitVisible(chromedp.CSS("#overall-state.succeeded")),
		)
		if id := read(t, ctx, "read the command id", chromedp.Text(chromedp.CSS("#command-id"))); id != items[1] {
			t.Errorf("reopened %q, want %q", id, items[1])
		}
		panes := read(t, ctx, "read the panes", chromedp.Evaluate[[]pane](readPanes))
		if len(panes) != 3 || strings.TrimSpace(panes[0].Output) != "hello from the page" {
			t.Errorf("reopened panes %+v", panes)
		}
	})

	t.Run("errors in words", func(t *testing.T) {
		for code, want := range map[string]string{
			"Throttling.User":    "E-HPC is throttling requests",
			"PolicyUnavailable":  "No policy is available right now",
			"ServiceUnavailable": "E-HPC is unavailable",
		} {
			got := read(t, ctx, "words for "+code, chromedp.Evaluate[string](`words({error: {code: "`+code+`", message: "m"}})`))
			if !strings.Contains(got, want) {
				t.Errorf("%s reads %q, want %q", code, got, want)
			}
		}
		// A token whose signature the gateway refuses: /v1/me is 401.
		step(t, ctx, "a refused token", 30*time.Second,
			chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('hpcgate.token', sessionStorage.getItem('hpcgate.token').slice(0, -6) + 'AAAAAA')`),
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(chromedp.CSS("#banner")),
			chromedp.WaitVisible(chromedp.CSS("#signin-button")),
		)
		if b := read(t, ctx, "read the banner", chromedp.Text(chromedp.CSS("#banner"))); !strings.Contains(b, "not valid here") {
			t.Errorf("banner %q, want the refused sign-in in words", b)
		}
		// A token past its exp: the page says so without asking the API.
		step(t, ctx, "an expired token", 30*time.Second,
			chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('hpcgate.token', 'eyJhbGciOiJFUzI1NiJ9.' + btoa(JSON.stringify({sub: "alice", exp: 1})).replace(/=+$/, '') + '.c2ln')`),
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(chromedp.CSS("#banner")),
		)
		if b := read(t, ctx, "read the banner", chromedp.Text(chromedp.CSS("#banner"))); !strings.Contains(b, "Your sign-in has expired") || !strings.Contains(b, "recent commands are kept") {
			t.Errorf("banner %q, want the expired sign-in in words", b)
		}
		if n := read(t, ctx, "count recent", chromedp.Evaluate[int](`document.querySelectorAll('#recent-list li button').length`)); n != 2 {
			t.Errorf("%d recent commands after signing out, want 2 kept", n)
		}
	})
}
