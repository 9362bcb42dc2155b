package shellscan

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// The oracle runs a canonical form under real bash, traced by strace, and
// reports the programs bash started or tried to start: every path bash
// gave execve (oracle_trace_test.go), and every name it looked up on PATH
// and did not find, which a command_not_found_handle (loaded through
// BASH_ENV) logs. PATH holds only stub programs that do nothing, one for
// every word of the command. Bash runs in a throwaway directory, as nobody
// when the test runs as root, without network, with few processes and a
// short deadline.
type oracle struct {
	bash    string
	strace  string
	prlimit string
	root    string
	asUser  bool
}

func newOracle(t testing.TB) *oracle {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		skipOrFail(t, "bash not found: the oracle needs real bash")
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		skipOrFail(t, "strace not found: the oracle needs it to see what bash starts")
	}
	// Not t.TempDir: nobody must reach the directory.
	root, err := os.MkdirTemp("", "shellscan-oracle")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	o := &oracle{bash: bash, strace: strace, root: root, asUser: os.Getuid() == 0}
	o.prlimit, _ = exec.LookPath("prlimit")
	if err := os.Chmod(o.root, 0o755); err != nil {
		t.Fatal(err)
	}
	return o
}

// realWrappers are the programs that run programs which the analysis
// unwraps, found where they are installed: the oracle runs them for
// real, so that what they start is checked too. (sudo is not run.)
var realWrappers = func() map[string]string {
	m := map[string]string{}
	for _, w := range Wrappers() {
		if w == "sudo" {
			continue
		}
		for _, dir := range []string{"/usr/bin", "/bin"} {
			if p := filepath.Join(dir, w); isExecutable(p) {
				m[w] = p
				break
			}
		}
	}
	m["find"] = "/usr/bin/find"
	if !isExecutable(m["find"]) {
		delete(m, "find")
	}
	return m
}()

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// stubWords are the names a stub is made for, beside the words of the
// command itself.
var stubWords = regexp.MustCompile(`[A-Za-z0-9_.+:@%,-]+`)

// oracleDeadline bounds one run; the stubs return at once, so only a
// loop in the command itself takes long.
const oracleDeadline = 3 * time.Second

// ran is what one run of bash started: the paths it gave execve, and the
// names it found nowhere on PATH.
type ran struct {
	bin      string // the directory of stubs on PATH
	execs    []string
	notFound []string
}

// names returns every program the run started or tried to, a stub by its
// name, anything else by its path.
func (r ran) names() []string {
	var ns []string
	for _, p := range r.execs {
		if filepath.Dir(p) == r.bin {
			p = filepath.Base(p)
		}
		ns = append(ns, p)
	}
	return append(ns, r.notFound...)
}

// run runs command under bash and returns what bash started.
func (o *oracle) run(t testing.TB, command string) ran {
	t.Helper()
	dir, err := os.MkdirTemp(o.root, "run")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin, work := filepath.Join(dir, "bin"), filepath.Join(dir, "work")
	for _, d := range []string{bin, work} {
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o777)
	}
	os.Chmod(dir, 0o755)
	// Bash, as nobody, writes both; they must exist and be writable.
	log, trace := filepath.Join(dir, "log"), filepath.Join(dir, "trace")
	for _, f := range []string{log, trace} {
		if err := os.WriteFile(f, nil, 0o666); err != nil {
			t.Fatal(err)
		}
		os.Chmod(f, 0o666)
	}
	stub := filepath.Join(dir, "stub")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(dir, "env.sh")
	if err := os.WriteFile(env, []byte("command_not_found_handle() { printf '%s\\0' \"$1\" >>"+log+"; return 127; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	words := stubWords.FindAllString(command, -1)
	words = append(words, "touch", "rm", "id", "sh", "bash", "cat", "ls", "echo", "find", "sort", "env", "sleep")
	for _, w := range words {
		if w == "." || w == ".." || len(w) > 200 {
			continue
		}
		target := stub
		if real := realWrappers[w]; real != "" {
			target = real
		}
		os.Symlink(target, filepath.Join(bin, w))
	}

	ctx, cancel := context.WithTimeout(t.Context(), oracleDeadline)
	defer cancel()
	// Only execve and the forks that carry bash to it stop the tracee.
	args := []string{o.strace, "-f", "-qq", "--seccomp-bpf", "-e", "trace=execve,clone,clone3,fork,vfork",
		"-e", "signal=none", "-xx", "-s", "65536", "-o", trace, "--", o.bash, "-c", command}
	if o.prlimit != "" {
		args = append([]string{o.prlimit, "--nproc=200", "--cpu=3", "--fsize=1048576", "--"}, args...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = work
	cmd.Env = []string{"PATH=" + bin, "HOME=" + work, "BASH_ENV=" + env, "LC_ALL=C.UTF-8", "TMPDIR=" + work}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if o.asUser {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
		// In a PID namespace of its own, whatever the run leaves behind
		// (a real timeout or setsid leaves bash's process group) dies
		// with strace, its first process.
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET | syscall.CLONE_NEWPID
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start bash: %v", err)
	}
	cmd.Wait()
	// Whatever the command left in the background goes too.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	r := ran{bin: bin}
	tf, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Close()
	r.execs = bashExecs(tf, func(path string) bool {
		dir := filepath.Dir(path)
		return realWrappers[filepath.Base(path)] != "" && (dir == bin || slices.Contains(pathDirs, dir))
	})
	if len(r.execs) == 0 && ctx.Err() == nil {
		// Not even bash's own start: strace could not trace.
		if st, _ := tf.Stat(); st.Size() == 0 {
			t.Fatalf("strace wrote no trace for %q", command)
		}
	}
	out, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	// Names are NUL-terminated: a name may hold a newline ($'\n8').
	r.notFound = strings.FieldsFunc(string(out), func(r rune) bool { return r == 0 })
	return r
}

// pathDirs are where bash looks for a name when PATH is unset or
// `command -p` asks for the standard path: a program found there is the
// name the analysis lists.
var pathDirs = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// lists reports whether the analysis's programs name what bash started
// (a path it gave execve, or a name it did not find): a stub (in bin) or
// a program in a standard directory by its name, a relative program by
// the path it resolves to, anything else by the very path.
func lists(programs []string, name, bin string) bool {
	if slices.Contains(programs, name) {
		return true
	}
	if !strings.Contains(name, "/") {
		return false
	}
	if slices.ContainsFunc(programs, func(p string) bool {
		// exec gives execve a relative path resolved against the
		// working directory, which the oracle does not follow.
		if !strings.Contains(p, "/") || strings.HasPrefix(p, "/") {
			return false
		}
		p, n := filepath.Clean(p), filepath.Clean(name)
		switch {
		case strings.Trim(p, "./") == "":
			return true // exec ./ or ../ runs a directory, of which the oracle knows no name
		case strings.HasPrefix(p, "../") || p == "..":
			return filepath.Base(n) == filepath.Base(p)
		}
		return strings.HasSuffix(n, "/"+p)
	}) {
		return true
	}
	if dir := filepath.Dir(name); dir != bin && !slices.Contains(pathDirs, dir) {
		return false
	}
	return slices.Contains(programs, filepath.Base(name))
}

// check fails t when bash, running a's canonical form, starts a program
// that a does not list, unless a says that it cannot know (<dynamic>).
func (o *oracle) check(t testing.TB, command string, a hpcgate.Analysis) {
	t.Helper()
	if slices.Contains(a.Programs, hpcgate.DynamicProgram) {
		return
	}
	r := o.run(t, a.Canonical)
	pathSet := slices.Contains(a.AssignedVariables, "PATH")
	for _, name := range append(r.execs, r.notFound...) {
		// A program looked up on a PATH the command sets is the name the
		// analysis lists; the assignment to PATH is reported (and the
		// Baseline denies it).
		if !lists(a.Programs, name, r.bin) && !(pathSet && slices.Contains(a.Programs, filepath.Base(name))) {
			if filepath.Dir(name) == r.bin {
				name = filepath.Base(name)
			}
			t.Errorf("bash started %q, which the analysis does not list\ncommand:   %q\ncanonical: %q\nprograms:  %q",
				name, command, a.Canonical, a.Programs)
			return
		}
	}
}

// oracleCorpus returns every command the tests know: the tables, the
// goldens and the generated attacks.
func oracleCorpus() []string {
	cs := tableCommands()
	for _, g := range goldens {
		cs = append(cs, g)
	}
	cs = append(cs, generated()...)
	cs = append(cs, benign...)
	cs = append(cs, attacks...)
	slices.Sort(cs)
	return slices.Compact(cs)
}

func TestOracle(t *testing.T) {
	o := newOracle(t)
	corpus := oracleCorpus()
	// Bash mostly waits for its children: a few runs at once go faster.
	const parts = 4
	for i := range parts {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			for j := i; j < len(corpus); j += parts {
				if a, err := Analyze(corpus[j]); err == nil {
					o.check(t, corpus[j], a)
				}
			}
		})
	}
}

// TestOracleSeesHiddenCode makes sure the oracle itself works: it sees
// what bash runs behind the analyser's back in the attacks this package
// once missed.
func TestOracleSeesHiddenCode(t *testing.T) {
	o := newOracle(t)
	for _, c := range []string{
		"cat <<EOF\nEO\\\nF\ntouch /tmp/x\nEOF",
		"ls 'x[$(touch /tmp/x)]'; [[ 1 -eq _ ]]",
		"RANDOM='x[$(touch /tmp/x)]'; uptime",
		"y='x[$(touch /tmp/x)]'; a[y]=1; uptime",
		`f{ind,x=[} squeue / -maxdepth 0 -exec touch /tmp/x \;`,
		"test -v 'a[$(touch /tmp/x)]'",
		"PS4='$(touch x)'; set -x; :",
	} {
		if got := o.run(t, c).names(); !slices.Contains(got, "touch") && !slices.Contains(got, "find") {
			t.Errorf("bash -c %q started %q; the oracle does not see it", c, got)
		}
	}
}

// generated builds attacks from the classes of hidden code: a value that
// bash evaluates (x[$(touch hit)]) in every context that evaluates it, in
// every wrapper, nested construct and builtin that takes a name.
func generated() []string {
	const v = `x[$(touch hit)]`
	stored := []string{
		`(( X ))`, `(( X + 1 ))`, `(( a[X] ))`, `[[ 1 -eq X ]]`, `[[ X -lt 2 ]]`, `echo $(( X ))`, `echo $[X]`, `let X`, `let 'y=X'`,
		`a[X]=1`, `a=([X]=1)`, `echo ${a[X]}`, `echo ${s:X}`, `echo ${s:0:X}`, `echo ${@:X}`, `declare -i y; y=X`,
		`declare -i y=X`, `typeset -i y; y+=X`, `declare -n r=X; echo $r`, `echo ${!X}`, `echo ${X@P}`,
		`test -v "$X"`, `[ -v "$X" ]`, `[[ -v $X ]]`, `[[ -v "$X" ]]`, `printf -v "$X" 1`, `read "$X" <<< 1`, `read -a "$X" <<< 1`,
		`unset "$X"`, `unset -v "$X"`, `declare "$X=1"`, `f(){ local "$X=1"; }; f`, `export "$X"`, `readonly "$X=1"`,
		`mapfile "$X" <<< 1`, `getopts a "$X"`, `sleep 0 & wait -n -p "$X"`, `for ((i=X; i<1; i++)); do :; done`,
		`case 1 in $((X))) ;; esac`, `cat <<< $((X))`, `cat <<EOF
$((X))
EOF`, `declare -A m; m[$X]=1`, `f(){ local -n r=$X; r=1; }; f`, `[[ $X -eq 1 ]]`, `[ "$X" -eq 1 ]`, `test 1 -eq "$X"`,
		`printf %d "$X"`, `shift "$X"`, `ulimit -n "$X"`,
	}
	var cs []string
	for _, s := range stored {
		cs = append(cs, "X='"+v+"'; a=(1 2); s=abc; "+s)
		cs = append(cs, "X='"+v+"'; a=(1 2); f(){ "+s+"; }; f")
		cs = append(cs, "X='"+v+"'; a=(1 2); echo $("+s+")")
	}
	for _, n := range []string{"RANDOM", "SRANDOM", "OPTIND", "LINENO", "SECONDS", "HISTCMD"} {
		cs = append(cs, n+"='"+v+"'; uptime", "declare "+n+"='"+v+"'", "read "+n+" <<< '"+v+"'",
			"printf -v "+n+" %s '"+v+"'", "for "+n+" in '"+v+"'; do :; done", "export "+n+"='"+v+"'")
	}
	direct := []string{
		`test -v '` + v + `'`, `[ -v '` + v + `' ]`, `[ -R '` + v + `' ]`, `printf -v '` + v + `' %s x`, `printf -v'` + v + `' %s x`,
		`read '` + v + `' <<< 1`, `read -a '` + v + `' <<< 1`, `read -ra'` + v + `' <<< 1`, `declare '` + v + `=1'`,
		`declare -a '` + v + `=(1)'`, `local '` + v + `=1'`, `unset '` + v + `'`, `mapfile '` + v + `' <<< 1`,
		`readarray -t '` + v + `' <<< 1`, `getopts a '` + v + `'`, `sleep 0 & wait -n -p '` + v + `'`, `export '` + v + `=1'`,
		`ls '` + v + `'; [[ 1 -eq _ ]]`, `ls '` + v + `'; (( _ ))`, `a[` + "$(touch hit)" + `]=1`, `(( a[$(touch hit)] ))`,
		`echo ${a[$(touch hit)]}`, `y='` + v + `'; a[y]=1; uptime`, `f{ind,x=[} . -maxdepth 0 -exec touch hit \;`,
		`a{b,c=d} x`, `e{nv,x=} touch hit`, `PS4='$(touch hit)'; set -x; :`, `set -x; PS4='$(touch hit)' :`,
		"shopt -s expand_aliases; alias ls='touch hit'\nls", "BASH_ALIASES[ls]='touch hit'; shopt -s expand_aliases\nls",
		`hash -p /bin/sh ls; ls`, `BASH_CMDS[ls]=/bin/sh; ls`, `trap 'touch hit' EXIT`, `trap "touch hit" ERR; false`,
		`complete -C 'touch hit' x; compgen -C 'touch hit' x`, `compgen -F f x`, `bind -x '"a":touch hit'`, `enable -f /x.so x`,
		`fc -e touch`, `coproc touch hit`, `coproc X { touch hit; }`, `exec 3< <(touch hit)`, `exec touch hit`,
		`x='$(touch hit)'; echo ${x@P}`, `x=PS4; declare -n r=$x; r='$(touch hit)'; set -x; :`,
		`eval 'touch hit'`, `builtin eval 'touch hit'`, `command eval 'touch hit'`, `source /dev/stdin <<< 'touch hit'`,
		`. /dev/stdin <<< 'touch hit'`, `mapfile -C 'touch hit' -c 1 a <<< 1`, `readarray -C'touch hit' -c1 a <<< 1`,
		`BASH_ENV=/dev/stdin bash -c : <<< 'touch hit'`, `env BASH_ENV=x bash -c :`, `ENV=x sh -c :`,
		`cat <<EOF` + "\nEO\\\nF\ntouch hit\nEOF", "cat <<EOF\nx\\\nEOF\ntouch hit\nEOF", "cat <<-EOF\n\tEO\\\nF\ntouch hit\nEOF",
		"cat <<'EOF'\nEO\\\nF\nEOF\ntouch hit", "cat <<E\\OF\nx\\\nEOF\ntouch hit", `cat <<< "$(touch hit)"`,
		"cat <<EOF\n$(touch hit)\nEOF", "cat <<EOF\n`touch hit`\nEOF", "echo $(cat <<EOF\nEO\\\nF\ntouch hit\nEOF\n)",
		`echo \\` + "\\\ntouch hit", `timeout 5 touch hit`, `env X=1 touch hit`, `nohup touch hit`, `nice -n 5 touch hit`,
		`stdbuf -o0 touch hit`, `command touch hit`, `command -p touch hit`, `builtin command touch hit`, `exec -a x touch hit`,
		`echo hit | xargs touch`, `xargs -I{} touch {} <<< hit`, `sudo -u root touch hit`, `ionice -c 3 touch hit`,
		`setsid touch hit`, `\time -p touch hit`, `chrt -f 10 touch hit`, `taskset -c 0 touch hit`, `timeout -s KILL 5 env nice touch hit`,
		`find . -maxdepth 0 -exec touch hit \;`, `find . -maxdepth 0 -execdir touch {} +`, `env -S 'touch hit'`,
		`timeout --sig=KILL 5 touch hit`, `x=-v; test "$x" '` + v + `'`, `x='-v ` + v + `'; test $x`, `x=-v; [ $x a ]`,
		`x=-pa[$(touch hit)]; wait -n "$x"`, `declare -n r='` + v + `'; echo $r`, `local -n r 2>/dev/null; echo ok`,
		`a[1]=x; unset 'a[$(touch hit)]'`, `IFS=, read -r a b <<< '1,2'; echo $a`, `printf -v x '%s' "$(touch hit)"`,
		`printf "$X" 1`, `x=-v; printf "$x" '` + v + `' 1`, `for ((i=0; i<a[$(touch hit)]; i++)); do :; done`,
	}
	cs = append(cs, direct...)
	// Wrapped and nested forms of a few of them.
	for _, d := range []string{`test -v '` + v + `'`, `printf -v '` + v + `' %s x`, `read '` + v + `' <<< 1`, `declare '` + v + `=1'`, `touch hit`} {
		for _, w := range []string{"command ", "builtin ", "exec ", "timeout 5 ", "env ", "nohup ", "( ", "{ ", "if true; then ", "f(){ ", "! ", "time "} {
			c := w + d
			switch w {
			case "( ":
				c += " )"
			case "{ ":
				c += "; }"
			case "if true; then ":
				c += "; fi"
			case "f(){ ":
				c += "; }; f"
			}
			cs = append(cs, c)
		}
	}
	return cs
}

// attacks are inputs tried against the analyser, each kept as a test.
var attacks = []string{
	"x=$( case a in a) touch hit;; esac )",
	"echo $(echo ')'; touch hit)",
	"echo \"$(echo \"\\\"\" ; touch hit)\"",
	"echo `echo \\`touch hit\\``",
	"echo `echo \"\\`touch hit\\`\"`",
	"echo \\`touch hit\\`",
	"a=`echo \\\\\\`touch hit\\\\\\``",
	"for x in 1; { touch hit; }",
	"echo ${x:$(touch hit)}",
	"echo $\"$(touch hit)\"",
	"#!/bin/bash\ntouch hit",
	"echo a # $(touch hit)",
	"exec 3>&$(touch hit)",
	"echo ~$(touch hit)",
	"echo $((a=1)) $((b[1]=2))",
	": ${x?$(touch hit)}",
	"function f () ( touch hit )\nf",
	"exec {fd}< <(touch hit)",
	"echo $((RANDOM))",
	"printf {-v,'a[$(touch hit)]'} x",
	"read {-a,'a[$(touch hit)]'} <<< 1",
	"test {-v,'a[$(touch hit)]'}",
	"declare {-n,r}=x",
	"declare {a,'b[$(touch hit)]'}=1",
	"unset {x,'a[$(touch hit)]'}",
	"export {A,'b[$(touch hit)]'}=1",
	"touch ./-v; test * 'a[$(touch hit)]'",
	"a=(1); unset a{'[$(touch hit)]',}",
	"timeout {5,bash}",
	"env {X=1,bash}",
	"command {bash,-c,x}",
	"exec ~/bin",
	"nohup ./*",
	"find . -{exec,ok} touch hit \\;",
	"xargs -I% % < /dev/null",
	"exec {a[$(touch hit)]}>/dev/null",
	"exec {X}>/dev/null",
	"compgen -W '$(touch hit)' x",
	"declare -- 'a[$(touch hit)]=1'",
	"typeset +x 'a[$(touch hit)]'",
	"read -r -- 'a[$(touch hit)]' <<< 1",
	"command -pv touch",
	"exec -- touch hit",
	"builtin -- read 'a[$(touch hit)]'",
	"local -fn x",
	"[[ 'a[$(touch hit)]' -eq 1 ]]",
	"x=1 y=2 env",
	"declare -A m=([a]=1)",
	"echo ${a[0]} ${a[-1]} ${#a[@]}",
	"echo $((1+2)) $((0x10)) $((2#101))",
	": $(( $# + 1 ))",
	"a=( [0]=x [1]=y )",
	"env -i PATH=/bin touch hit",
	"env -u X -C / touch hit",
	"env - touch hit",
	"env -- touch hit",
	"sudo -E touch hit",
	"sudo -s",
	"xargs -0 -n 1 touch < /dev/null",
	"timeout -k 5 10 touch hit",
	"nice -5 touch hit",
	"nice -n5 nohup touch hit",
	"stdbuf -oL touch hit",
	"/usr/bin/env touch hit",
	"find . -name \"$x\" -exec touch {} \\;",
	"find \"$d\" -name x",
	"find ./\"$d\" -name x",
	"wait \"$pid\"",
	"test -e \"$f\"",
	"[ \"$a\" = \"$b\" ]",
	"[ $a = b ]",
	"trap - EXIT",
	"trap '' INT",
	"alias",
	"hash -r",
	"enable -n echo",
	"complete -p",
	"!(touch hit)",
	"echo !(touch hit)",
	"@(touch hit)",
	"x @(touch hit)",
	"coproc foo touch hit",
	"coproc touch { touch hit; }",
	"[[ x =~ $(touch hit) ]]",
	"function a=b { touch hit; }",
	"echo ${x/#$(touch hit)/y}",
	"echo ?(a)",
	"a=b eval 'touch hit'",
	"if ! touch hit; then :; fi",
	"echo $[1+1]",
	"(( x = 1 )) ; touch hit",
	"$( (touch hit) )",
	"TEXTDOMAIN=x; echo $\"hi\"",
	"cat <<E\\OF\nx\\\nEOF\ntouch hit\nEOF",
	"printf '%s\\n' a\\\nb",
	"echo \"a\\\\\ntouch hit\"",
	"echo $(cat <<EOF\nfoo)\nEOF\n)",
	"echo $(cat <<EOF\nx\nEOF)\ntouch hit",
	"cat <<A <<B\ntouch a\nA\ntouch b\nB",
	"cat <<EOF; touch hit\nx\nEOF",
	"x=$(cat <<'EOF'\n$(touch hit)\nEOF\n); echo \"$x\"",
	"cat <<EOF\nx\n EOF\ntouch hit\nEOF",
	"cat <<-EOF\n\tx\n\tEOF\ntouch hit",
	"cat << EOF\n${x:-$(touch hit)}\nEOF",
	"cat <<EOF\n`touch hit`\nEOF",
	"cat <<EOF\n\\`touch hit\\`\nEOF",
	"cat <<EOF\n$(cat <<EOT\ntouch hit\nEOT\n)\nEOF",
	"cat <<EOF\n$((1+$(touch hit)))\nEOF",
	"cat <<EOF\nx\\\\\nEOF\ntouch hit",
	"cat <<EOF\n\\\\\\\nEOF\ntouch hit\nEOF",
	// time takes -p and then -- before its pipeline; the parser takes
	// -- for the command.
	"time -- touch hit",
	"time -p -- touch hit",
	"time -- x=1 touch hit",
	"time -- [[ -v 'a[$(touch hit)]' ]]",
	"time -- >/dev/null touch hit",
	// \u and \U escapes that are no character: bash writes locale- and
	// libc-dependent bytes (found by FuzzOracle).
	"$'9\\U4001F600\\x{41}\\z'",
	"$'touch\\U0010FFFF' hit",
	"$'\\uD800touch' hit",
	// Digits before a redirection that do not fit an int are a command
	// word to bash, a descriptor to the parser (found by FuzzOracle).
	"2147483648>x touch hit",
	"00000000000000000030000000000000000000000000000000000000>0",
	"99999999999<x",
	// Brace forms bash expands and the parser's splitting does not
	// (found by FuzzOracle): a{},} is "a}" "a".
	"a{},}",
	"touc{},h} hit",
	"x{},touch} hit",
	// >&- and <&- close a descriptor; bash reads what follows the - as a
	// new word, the parser as part of the target (found by FuzzOracle).
	"<&-000",
	"<&-touch hit",
	"echo x 2>&-touch hit",
	"squeue >&-$(touch hit)",
	// time after a pipe is a program for bash, a keyword for the parser.
	"true | time -p touch hit",
	"true |& time touch hit",
	"true | time",
	"true | true | time touch hit",
	"true | time touch hit | true",
	// History expansion rewrites later lines before bash parses them.
	"set -o history -o histexpand\nls\n^ls^touch hit",
	"set -Ho history\nls\n^ls^touch hit",
	"shopt -so history histexpand\nls\n^ls^touch hit",
	"shopt -s -o history -o histexpand\nls\n^ls^touch hit",
	"set -o history; set -H\nls\n^ls^touch hit",
	"builtin set -o history -H\nls\n^ls^touch hit",
	"x=-H; set -o history $x\nls\n^ls^touch hit",
	// A declaration builtin reads a value "(…)" as a compound array
	// assignment and expands it again.
	"declare -a a='($(touch hit))'",
	"declare -A m='([k]=$(touch hit))'",
	"a=(); declare a='($(touch hit))'",
	"typeset -a a='(`touch hit`)'",
	"f(){ local -a a='([0]=$(touch hit))'; }; f",
	"export -a a='($(touch hit))'",
	"readonly -a a='($(touch hit))'",
	"declare -a 'a=($(touch hit))'",
	"declare -a \"a=(\\$(touch hit))\"",
	"builtin declare -a a='($(touch hit))'",
	"command typeset -a a='($(touch hit))'",
	"declare -a a='(x)' b='($(touch hit))'",
	"x='($(touch hit))'; declare -a a=$x",
	"x='($(touch hit))'; declare PIPESTATUS=\"$x\"",
	"declare DIRSTACK='($(touch hit))'",
	"x='($(touch hit))'; a=(); declare a=\"$x\"",
	"declare -a $'\\x7a\\x7a'; x='($(touch hit))'; declare zz=\"$x\"",
	"read -ra $'\\x7a\\x7a' <<< 1; x='($(touch hit))'; declare zz=\"$x\"",
	"mapfile -t z\"\"z <<< 1; x='($(touch hit))'; declare zz=\"$x\"",
	"x='($(touch hit))'; for i in 1 2; do declare a=\"$x\"; a=(1); done",
	// Bash ends an unquoted here-document at the first line equal to its
	// delimiter; the parser reads substitutions across that line.
	"cat <<EOF\n$(echo \"\nEOF\ntouch hit\n\")\nEOF",
	"cat <<EOF\n\"$(echo \"\nEOF\n\")\"\nEOF",
	"cat <<EOF\n${x:-\nEOF\n}\ntouch hit\nEOF",
	"cat <<EOF\n`echo \"\nEOF\ntouch hit\n\"`\nEOF",
	"cat <<-EOF\n$(echo \"\n\t\tEOF\ntouch hit\n\")\nEOF",
	"cat <<EOF\n$(cat <<X\nEOF\nX\n)\ntouch hit\nEOF",
	// Programs started by a path the analysis must list as bash reads it
	// (the oracle sees every path bash gives execve).
	"~/x", "~+/x", "cd /; ~-/x", "~root/x", "HOME=/bin; ~/true", "a=~/x; $a", "/bin/{touch,x}", "/b{in,x}/true",
	"$'\\x2f'bin/true", "\\/bin/true", "\"/bin\"/true", "/bin/tr''ue", "/bin/tru[e]", "cd /bin; ./tru*",
	"/bin/./true", "//bin/true", "exec -a x /bin/true", "cd /usr; bin/true", "<(/bin/true)", "command -p touch hit",
	"/usr/bin/env touch hit", "/usr/bin/timeout 1 touch hit", "/bin/sh -c 'touch hit'", "exec X/", "exec ./x",
	"cd /bin; exec ./true", "exec bin/../x", "cd /usr/bin; exec ../bin/true", "exec ../bin/true", "../bin/true", "exec ./", "exec .//.", "exec ../", "exec ../..",
	// attack3: posix mode, turned on at run time, changes how bash parses
	// later lines: time followed by a word starting with - is the time
	// program, not the keyword (POSIX interp 267).
	"set -o posix\ntime -p touch hit",
	"set -o posix; x=$(time -p touch hit)",
	"POSIXLY_CORRECT=1\ntime -p touch hit",
	"shopt -so posix\ntime -p touch hit",
	": ${POSIXLY_CORRECT:=1}\ntime -p touch hit",
	"set -o posix\nf() { time -p touch hit; }\nf",
	// attack3: in posix mode a single quote inside a double-quoted ${x-…}
	// (also :-, +, :+, :=) is an ordinary character, so the expansion
	// ends at the first } and the rest of the line is code.
	"set -o posix\necho \"${x-'}\"; touch hit #'}\"",
	"set -o posix\necho \"${x:+'}\"; touch hit #'}\"",
	// attack3: with extglob on, NAME?() is a glob word to bash and a
	// function definition to the parser: bash runs the command word
	// (touch, when a file named touch matches the pattern).
	"shopt -s extglob\n: > touch\ntouch?() hit",
	"shopt -s extglob\nx?() touch hit",
	"shopt -s extglob\ntouch@() hit",
	// attack3: a here-document delimiter is unquoted by bash (\" \\ \$ \`
	// inside double quotes, $'…' escapes decoded); the parser keeps the
	// backslashes and escapes, so bash ends the body earlier and runs the
	// lines the parser took for data.
	"cat <<\"E\\\"OF\"\nE\"OF\ntouch hit\nE\\\"OF",
	"cat <<\"E\\\\OF\"\nE\\OF\ntouch hit\nE\\\\OF",
	"cat <<\"E\\$OF\"\nE$OF\ntouch hit\nE\\$OF",
	"cat <<$'E\\x4fF'\nEOF\ntouch hit\nE\\x4fF",
	"cat <<$'EO\\'F'\nEO'F\ntouch hit\nEO\\'F",
	"cat <<-\"E\\\"OF\"\n\tE\"OF\ntouch hit\nE\\\"OF",
	"echo $(cat <<\"E\\\"OF\"\nE\"OF\ntouch hit\nE\\\"OF\n)",
	// attack3: $? $# $$ $! are one word only while IFS holds no digit:
	// with IFS=0, $? = 101 is the two words 1 1, so exec -a takes the
	// first and runs the program 1, not touch.
	"IFS=0; (exit 101); exec -a $? touch hit 1",
	// attack3: {NAME[sub]}>file stores the descriptor in an element:
	// bash evaluates the subscript, and a name in it is evaluated
	// recursively (x='b[$(cmd)]'); the parser keeps {a[x]} as raw text.
	"x='b[$(touch hit)]'; {a[x]}>/dev/null",
	"x='b[$(touch hit)]'; exec {a[x]}>/dev/null",
	"x='b[$(touch hit)]'; {a[x]}<<<x",
	"x='b[$(touch hit)]'; a[1]=7; {a[x]}>&-",
	"x='b[$(touch hit)]'; { :; } {a[x]}>/dev/null",
	// attack3: the value of an option (exec -a, read -p/-t/-d) is taken
	// for one word, but an unquoted expansion, a brace or a glob there
	// may be several: the next ones become the program, or a name.
	"exec -a {x,id} touch hit",
	"exec -a x{,} touch hit",
	"y=' id'; exec -a x$y touch hit",
	"y='x id'; exec -a $y touch hit",
	"y=' id'; builtin exec -a x$y touch hit",
	": >0 >id; exec -a * touch hit",
	"read -p {x,'a[$(touch hit)]'} <<< 1",
	"read -t {1,'a[$(touch hit)]'} <<< 1",
	"y='x a[$(id)]'; read -t 1 -p $y <<< 1",
	": >0 >'a[$(touch hit)]'; read -p * <<< 1",
	// attack3: trap with one operand word after -- lists nothing, but the
	// word may expand to an action and a signal.
	"trap -- {'touch hit',EXIT}",
	"x='touch EXIT'; trap -- $x",
	"mapfile -c {1,-C} touch a <<< x",
	"readarray -t -c {1,-C} touch a <<< x",
	"x='1 -C touch'; mapfile -c $x a <<< x",
	// Found while fixing attack3's: $! is no word before a job runs in
	// the background, and a value may be several words.
	"exec -a $! touch hit", "env -u {x,true} touch hit", "y=' touch'; timeout 5$y hit", "nice -n {5,touch} hit",
	"LC_ALL=zh_CN.GBK\necho \"\u20ac\\\"; touch hit #\"", "LANG=zh_CN.GBK; echo x",
	"shopt -s compat31\necho x", "BASH_COMPAT=31\ntime -p touch hit",
	// attack4: jobs -x COMMAND [ARGS] runs COMMAND (after replacing job
	// specs in it by process group ids); jobs is no wrapper to the
	// analysis, which lists only jobs.
	"jobs -x touch hit",
	"sleep 1 & jobs -x touch %1",
	"builtin jobs -x touch hit",
	"command jobs -x touch hit",
	// attack4: "$@" and "${a[@]}" (also "${@:1}", "${a[@]/#/}") are
	// several words or none though quoted; the analysis takes a quoted
	// word for one word (mayField), so an option value or operand that
	// is "$@" moves every word after it.
	"set -- a touch; exec -a \"$@\" hit",
	"exec -a \"$@\" touch hit",
	"a=(x touch); exec -a \"${a[@]}\" hit",
	"set -- x touch; exec -a \"${@:1}\" hit",
	"a=(x touch); exec -a \"${a[@]/#/}\" hit",
	"set -- 'touch hit' EXIT; trap -- \"$@\"",
	"set -- 1 -C; mapfile -c \"$@\" touch a <<< x",
	"set -- x 'a[$(touch hit)]'; read -p \"$@\" <<< 1",
	"set -- '' 'a[$(touch hit)]'; read -t 1 -d \"$@\" <<< 1",
	"a=(-v 'a[$(touch hit)]'); [ \"${a[@]}\" ]",
	// attack5: find run by its path is find: program() unwraps find only
	// when the word is exactly "find" (wrappers are matched by base name,
	// find is not in that table).
	"/usr/bin/find . -maxdepth 0 -exec touch hit \\;",
	"cd /; /usr/bin/find /dev/null -execdir touch hit {} +",
	// attack5: taskset -p MASK PID runs a program when PID parses as 0:
	// util-linux execs argv[optind+1], the PID word itself ("0", "00",
	// " 0"); the wrappers table says -p never runs one (noRun).
	"taskset -p 1 0",
	"taskset -p 1 00",
	"taskset -p 1 ' 0'",
	"taskset -ap 1 0",
	"taskset --pid 1 0",
	"taskset -cp 0 0",
	"taskset -p -- 1 0",
	// attack5: chrt -p PRIO PID likewise execs the PID word when it is 0.
	"chrt -o -p 0 0",
	"chrt -op 0 0",
	"chrt -b -p 0 0",
	"chrt -v -i -p 0 0",
	// attack5: a test's value that spells an action (-name -exec) is a
	// value to find; find() takes any static -exec for an action, reads
	// the command up to ; from there and misses the real -exec after it
	// (here it lists -o or -exec as the program).
	"find . -maxdepth 0 -name -exec -o -exec touch hit \\;",
	"find . -maxdepth 0 -path -ok -o -exec touch hit \\;",
	"find . -maxdepth 0 -printf -exec -exec touch hit \\;",
	"find . -maxdepth 0 -fprintf /dev/null -exec -exec touch hit \\;",
	"find . -maxdepth 0 -iname -execdir -o -execdir touch hit \\;",
	// attack5: trap takes a first operand for a signal (and resets it)
	// only when it is all digits and a valid signal number; else it is
	// the action. program() takes any isNumber word (0x1, 1touch, 065,
	// 99, 7z) for a signal: bash runs it as a command at exit.
	"trap 99 EXIT",
	"trap 065 EXIT",
	"trap 0x1 EXIT",
	"trap 7z EXIT",
	"trap 1touch EXIT",
	"trap 2#1 EXIT",
	"trap -- 99 EXIT INT",
	// attack6: let is a builtin whose arguments bash expands like any
	// command's, globs included; the parser reads them as arithmetic
	// (2*3 is a product of constants). A file whose name matches the
	// pattern becomes the expression, and its subscript runs a command.
	": >'x=2+a[$(touch hit)]+3'; let x=2*3",
	": >'2+a[$(touch hit)]+3'; let 2*3",
	// attack6: bash reads quotes inside an extended glob pattern (and in
	// [[ == ]] it reads the pattern whether extglob is on or not); the
	// parser keeps the pattern as raw text up to the first ), so a quote
	// that bash closes inside the pattern opens a string to the parser
	// that hides the commands after it.
	"[[ x == @(')') ]]; touch hit #' ]]",
	"[[ x == +(a|')') ]]; touch hit #' ]]",
	"[[ x == @(\"x)\") ]]; touch hit #\" ]]",
	"shopt -s extglob\necho @(')') ; touch hit #'x",
	"shopt -s extglob\necho +(\"x)\") ; touch hit #\"",
	"shopt -s extglob\necho *(x|')') ; touch hit #'",
	"shopt -s extglob\n[[ x == !(')') ]] ; touch hit #' ]]",
	// attack6: find ends -exec/-execdir/-ok at a + only right after {};
	// elsewhere + is an argument. find() ends the command at any +, so
	// the wrapper sees no program and the word after it goes unlisted:
	// env, nohup, setsid and xargs run the program +.
	"find . -maxdepth 0 -exec env + \\;",
	"find . -maxdepth 0 -exec nohup + touch hit \\;",
	"find . -maxdepth 0 -exec env PATH=. + \\;",
	"find . -maxdepth 0 -execdir setsid + \\;",
	"find . -maxdepth 0 -exec xargs -a /dev/null + \\;",
	// attack6: bash expands <(…) and >(…) in the word of an unquoted
	// ${x:-word} (and -, +, =, ?, #, %, /, ^, , operators): it starts
	// the process substitution; the parser keeps the text as a literal
	// of the parameter expansion, so the walk never sees the command.
	"echo ${x:-<(touch hit)}",
	"echo ${x-<(touch hit)}",
	"x=1; echo ${x:+>(touch hit)}",
	"y=${x:-<(touch hit)}",
	"echo ${x:=<(touch hit)}",
	"echo ${x:?<(touch hit)}",
	"echo ${x=a<(touch hit)}",
	"echo ${x:-a>(touch hit)}",
	"echo ${x:-\"a\"<(touch hit)}",
	"echo ${x:-${y:-<(touch hit)}}",
	"echo ${x[@]:-<(touch hit)}",
	"echo ${@:-<(touch hit)}",
	"x=a; echo ${x/a/<(touch hit)}",
	"x=a; echo ${x//<(touch hit)/}",
	"x=a; echo ${x#<(touch hit)}",
	"x=a; echo ${x%%<(touch hit)}",
	"x=a; echo ${x^<(touch hit)}",
	"x=a; echo ${x,,<(touch hit)}",
	"a=(${x:-<(touch hit)})",
	"case ${x:-<(touch hit)} in *) ;; esac",
	"[[ ${x:-<(touch hit)} ]]",
	"echo > ${x:-<(touch hit)}",
	"cat <<< ${x:-<(touch hit)}",
	"exec {fd}<${x:-<(touch hit)}",
	"for i in ${x:-<(touch hit)}; do :; done",
	"select i in ${x:-<(touch hit)}; do break; done </dev/null",
	"echo ${x:-~<(touch hit)}",
	// attack7: with extquote (on by default) bash decodes a $'…' inside
	// the word of a double-quoted ${x:-…} (also -, +, =, ?) and of a
	// ${…} in an unquoted here-document body, then expands the decoded
	// text again as it does in double quotes: the single quotes it puts
	// around it are ordinary characters there, so a $(…), `…` or ${…} in
	// it runs, even when spelled with escapes (\x60, \u0024). The parser
	// keeps the $'…' as a literal string, so the walk lists no program.
	"echo \"${x:-$'$(touch hit)'}\"",
	"echo \"${x-$'$(touch hit)'}\"",
	"x=1; echo \"${x:+$'$(touch hit)'}\"",
	"echo \"${x:=$'$(touch hit)'}\"",
	"echo \"${x:?$'$(touch hit)'}\"",
	"echo \"${x:-$'`touch hit`'}\"",
	"echo \"${x:-$'\\x60touch hit\\x60'}\"",
	"echo \"${x:-$'\\u0024(touch hit)'}\"",
	"echo \"${x:-$'${y:-$(touch hit)}'}\"",
	"echo \"${x:-$'\\'$(touch hit)\\''}\"",
	"echo \"${x:-$'\\x27$(touch hit)\\x27'}\"",
	"cat <<EOF\n${x:-$'$(touch hit)'}\nEOF",
	"cat <<EOF\n${x:-$'\\x27$(touch hit)'}\nEOF",
	"cat <<< \"${x:-$'$(touch hit)'}\"",
	"[[ \"${x:-$'$(touch hit)'}\" ]]",
	"case \"${x:-$'$(touch hit)'}\" in *) ;; esac",
	// FuzzOracle: in double quotes, single quotes in ${x-…} are plain
	// characters to bash; unquoted they quote.
	"[ \"${x-'$(touch hit)'}\" ]]", "echo ${x-'$(touch hit)'}", "echo ${x:+'$(touch hit)'}",
	"cat <<EOF\n${x:-'$(touch hit)'}\nEOF", "echo \"${x:-${y:-'$(touch hit)'}}\"",
	// FuzzOracle: bash turns >&word into &>word and expands a quoted word
	// a second time.
	">&'$(touch hit)]'", "echo >&'a[$(touch hit)]'", "echo >&\"\\$(touch hit)\"", "x='$(touch hit)'; echo >&\"$x\"",
	"echo >&'`touch hit`'", "echo 2>&'$(touch hit)'", "x='$(touch hit)'; echo >&$x",
}

// benign are commands researchers run; the analysis must list their
// programs, not give up on them.
var benign = []string{
	"squeue -u alice", "squeue -o '%i %j'", `squeue -u alice --format "%.18i %.9P %.30j %.8T"`,
	"squeue -u alice | grep RUNNING | wc -l", "sinfo -N -l && squeue", "sacct -u alice --starttime=2024-01-01 | tail -n 20",
	"cat <<EOF > /dev/null\nhello $USER\nEOF", "grep -c x <<< 'a b c'", "cat <<'EOF'\nliteral $(not run)\nEOF",
	"ls -la /data/alice/*.log 2>/dev/null | tail -n 5", `for j in 101 102; do scontrol show job "$j"; done`,
	`if [[ -d /data/alice ]]; then du -sh /data/alice; fi`, `[ -f /data/x ] && cat /data/x`, `test -f /data/x || echo missing`,
	"timeout 60 squeue -u alice", "env LC_ALL=C sort -u jobs.txt", "nohup sleep 1 &", "find /data/alice -name '*.log' -mtime +7",
	"echo 'a|b' | cut -d'|' -f1", `printf '%s\n' "$HOME"`, "read -r line < /data/list; echo $line", "export OMP_NUM_THREADS=4",
	"declare -a jobs=(1 2 3)", "[[ $USER == alice ]] && echo hi", "[[ 3 -gt 2 ]]", "x=1; echo $x", "unset x",
	"printf -v now '%s' done; echo $now", "wait $!", "sleep 1 & wait", "getopts ab opt", "test -v HOME", `[[ -v HOME ]]`,
	"x=`date +%F`; echo \"`hostname` $x\" `echo \\`whoami\\``", "x=`date '+%F %T'`", "IFS=, read -r a b <<< 'x,y'; echo $?",
	"export LANG=en_US.UTF-8 LC_ALL=C; sort -u jobs.txt", `srun -n 4 ./solver "$@"`, "find . -name '*.tmp' -exec rm -f {} +",
	"xargs -0 -n 1 gzip < list", "cat <<\\EOF\nraw $x\nEOF", `cat <<"EOF"` + "\nraw $x\nEOF", "jobs -l",
	"cat <<-EOF\n\tjob $SLURM_JOB_ID on $(hostname)\n\tEOF", "x=1 # a comment\necho $x", "echo -e \"任务完成\\n\"", "printf '结果: %s\\n' done", "echo 数据\\_x",
	// attack6: a quoted let expression of constants is <dynamic>, while
	// the unquoted let n=4*8 (which bash globs) is not.
	"(( n = 4 * 8 ))",
	"echo ${NAME:-'default value'}", "echo \"${NAME:-default}\"", "echo \"${NAME:-\"quoted default\"}\"",
}

func TestBenignCommandsAreKnown(t *testing.T) {
	for _, c := range benign {
		a, err := Analyze(c)
		if err != nil {
			t.Errorf("Analyze(%q): %v", c, err)
			continue
		}
		if slices.Contains(a.Programs, hpcgate.DynamicProgram) {
			t.Errorf("Analyze(%q) gives up (%s): %q", c, hpcgate.DynamicProgram, a.Programs)
		}
	}
}

// FuzzOracle checks what FuzzAnalyze checks and holds the analysis to
// bash: every program bash starts is listed, or the analysis says
// <dynamic>. Give -fuzztime a count (1500000x is about half an hour
// here): with Go 1.26 a duration may end in a spurious "context deadline
// exceeded" with no failing input (go.dev/issue/75804).
func FuzzOracle(f *testing.F) {
	for _, c := range oracleCorpus() {
		f.Add(c)
	}
	if os.Getuid() != 0 {
		// Generated commands may name any program by path; only nobody
		// may run them.
		f.Skip("FuzzOracle runs generated commands as nobody, which needs root")
	}
	o := newOracle(f)
	f.Fuzz(func(t *testing.T, command string) {
		a, err := Analyze(command)
		if err != nil {
			checkError(t, err)
			return
		}
		checkAnalysis(t, a)
		o.check(t, command, a)
	})
}

// skipOrFail skips where the oracle's tools are missing on a developer's
// machine, but fails in CI, where a skipped oracle would prove nothing.
func skipOrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}
