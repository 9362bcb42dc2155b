package shellscan

import (
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// arg is one word of a simple command as the argv checks see it.
type arg struct {
	text   string
	static bool
	split  bool // an unquoted expansion: it may become several words
	// lead is the first byte bash will see when it is known (a plain
	// literal, or an expansion after literal text), else 0.
	lead byte
}

// mayBeOption reports whether a may be read as an option: it starts with
// '-' or '+' (for the declaration builtins), or its first byte is unknown.
func (a arg) mayBeOption() bool {
	if a.static {
		return len(a.text) > 1 && (a.text[0] == '-' || a.text[0] == '+')
	}
	return a.lead == 0 || a.lead == '-' || a.lead == '+'
}

// leadByte returns the first byte of w that bash will see when it does
// not depend on an expansion, else 0.
func leadByte(w *syntax.Word) byte {
	if len(w.Parts) == 0 {
		return 0
	}
	if numberParam(w) != 0 {
		return '0' // $! may also be no word: never an option
	}
	var v string
	switch p := w.Parts[0].(type) {
	case *syntax.Lit:
		v = p.Value
	case *syntax.SglQuoted:
		if !p.Dollar {
			v = p.Value
		}
	case *syntax.DblQuoted:
		if len(p.Parts) > 0 {
			if l, ok := p.Parts[0].(*syntax.Lit); ok && !strings.HasPrefix(l.Value, `\`) {
				return firstByte(l.Value)
			}
		}
		return 0
	}
	if v == "" || strings.ContainsAny(v[:1], `\*?[{~`) {
		return 0 // escapes, globs, braces and tildes change it
	}
	return v[0]
}

// trailByte returns the last byte of w that bash will see when it does
// not depend on an expansion, else 0.
func trailByte(w *syntax.Word) byte {
	if len(w.Parts) == 0 {
		return 0
	}
	if numberParam(w) != 0 {
		return '0'
	}
	var v string
	switch p := w.Parts[len(w.Parts)-1].(type) {
	case *syntax.Lit:
		v = p.Value
	case *syntax.SglQuoted:
		if !p.Dollar {
			v = p.Value
		}
	case *syntax.DblQuoted:
		if len(p.Parts) > 0 {
			if l, ok := p.Parts[len(p.Parts)-1].(*syntax.Lit); ok {
				v = l.Value
			}
		}
	}
	if v == "" || strings.ContainsAny(v[len(v)-1:], `*?]}`) || len(v) > 1 && v[len(v)-2] == '\\' {
		return 0 // escapes, globs and braces change it
	}
	return v[len(v)-1]
}

// compoundValue reports whether a value given to a declaration builtin
// may be "(…)", which bash reads as a compound array assignment (for an
// array, or with -a/-A) and expands a second time: declare -a
// a='($(cmd))' runs cmd.
func compoundValue(text string, static bool, w *syntax.Word) bool {
	if static {
		return strings.HasPrefix(text, "(") && strings.HasSuffix(text, ")")
	}
	if w == nil {
		return true
	}
	if b := leadByte(w); b != 0 && b != '(' {
		return false
	}
	if b := trailByte(w); b != 0 && b != ')' {
		return false
	}
	return true
}

// numberParam returns the special parameter w is, quoted or not, when
// its value is a number or nothing: $$, $#, $? (always a number) or $!
// (empty until a job runs in the background, and so no word at all
// unquoted). Else it returns 0. IFS with digits splits the numbers;
// finish deals with that.
func numberParam(w *syntax.Word) byte {
	if len(w.Parts) != 1 {
		return 0
	}
	p := w.Parts[0]
	if q, ok := p.(*syntax.DblQuoted); ok && len(q.Parts) == 1 {
		p = q.Parts[0]
	}
	pe, ok := p.(*syntax.ParamExp)
	if !ok || pe.Param == nil || pe.Excl || pe.Length || pe.Width || pe.Index != nil || pe.Slice != nil || pe.Repl != nil || pe.Exp != nil || pe.Names != 0 {
		return 0
	}
	switch v := pe.Param.Value; v {
	case "$", "#", "?", "!":
		return v[0]
	}
	return 0
}

// mayField reports whether w, which expands at run time, may become
// several words or none: an unquoted expansion, a glob or a brace.
func mayField(w *syntax.Word) bool {
	if c := numberParam(w); c != 0 && c != '!' {
		return false
	}
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.SglQuoted:
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				if pe, ok := q.(*syntax.ParamExp); ok && manyWords(pe) {
					return true // "$@" and "${a[@]}" are a word per element
				}
			}
		case *syntax.Lit:
			if strings.ContainsAny(p.Value, "*?[{~") {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// manyWords reports whether pe, quoted, may still be several words or
// none: "$@", "${a[@]}", "${!a[@]}", "${!prefix@}" and their operators.
func manyWords(pe *syntax.ParamExp) bool {
	if pe.Length || pe.Param == nil {
		return false
	}
	if pe.Param.Value == "@" || pe.Names == syntax.NamesPrefixWords {
		return true
	}
	w, ok := pe.Index.(*syntax.Word)
	return ok && w.Lit() == "@"
}

func firstByte(v string) byte {
	if v == "" {
		return 0
	}
	return v[0]
}

// Variables bash runs as code, or that change which code runs: an
// assignment to one (in any form: prefix, declare, read, printf -v, for,
// env NAME=…) means code the analyser cannot see.
var codeVars = map[string]bool{
	"PS0": true, "PS1": true, "PS2": true, "PS3": true, "PS4": true,
	"PROMPT_COMMAND": true, "BASH_ENV": true, "ENV": true,
	"SHELLOPTS": true, "BASHOPTS": true,
	"BASH_ALIASES": true, "BASH_CMDS": true, "BASH_LOADABLES_PATH": true,
	// $"…" is translated through a catalogue they choose, and expanded.
	"TEXTDOMAIN": true, "TEXTDOMAINDIR": true,
	// Posix mode and the compatibility level change how bash reads later
	// lines (time -p, quotes in "${x-'…'}").
	"POSIXLY_CORRECT": true, "BASH_COMPAT": true,
}

// localeVars choose the character set bash reads later lines in: in a
// double-byte one (GBK, Big5, Shift_JIS) a byte of a character may be a
// backslash or a quote to the parser, so that bash ends a quote where the
// parser does not. Only C, POSIX and UTF-8 locales are harmless.
var localeVars = map[string]bool{"LC_ALL": true, "LC_CTYPE": true, "LANG": true}

// harmlessValue reports whether the known value text (appended, when
// appends) changes nothing the analysis assumes of the variable name:
// no digits in IFS, a C or UTF-8 locale.
func harmlessValue(name, text string, appends bool) bool {
	switch {
	case name == "IFS":
		return !strings.ContainsAny(text, "0123456789")
	case localeVars[name]:
		if appends {
			return false
		}
		l := strings.ToLower(text)
		l, _, _ = strings.Cut(l, "@")
		return l == "" || l == "c" || l == "posix" || strings.HasSuffix(l, ".utf-8") || strings.HasSuffix(l, ".utf8")
	}
	return true
}

// intVars are the variables bash gives the integer attribute: it
// evaluates a value assigned to them as arithmetic, and arithmetic runs
// the command substitutions in array subscripts of the values it reads.
var intVars = map[string]bool{
	"RANDOM": true, "SRANDOM": true, "OPTIND": true, "LINENO": true, "SECONDS": true,
	"HISTCMD": true, "EPOCHSECONDS": true, "EPOCHREALTIME": true, "BASHPID": true,
}

// isNumber reports whether lit is an arithmetic constant (decimal, 0x…,
// 0…, base#digits), which names no variable.
func isNumber(lit string) bool {
	if lit == "" || lit[0] < '0' || lit[0] > '9' {
		return false
	}
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '@' || c == '#') {
			return false
		}
	}
	return true
}

// validRef reports whether text names a variable without evaluating
// anything: a name, or a name with a constant subscript (a[0], a[-1],
// a[@], a[*]).
func validRef(text string) bool {
	name, sub, ok := strings.Cut(text, "[")
	if !ok {
		return syntax.ValidName(name)
	}
	sub, ok = strings.CutSuffix(sub, "]")
	if !ok || !syntax.ValidName(name) {
		return false
	}
	return sub == "@" || sub == "*" || isNumber(strings.TrimPrefix(sub, "-"))
}

// refName returns the variable name of a reference accepted by validRef.
func refName(text string) string {
	name, _, _ := strings.Cut(text, "[")
	return name
}

// nameArg checks an argument that a builtin uses as a variable name: bash
// evaluates its subscript, so anything but a plain reference is hidden
// code; assigning a code or integer variable is too.
func (s *scan) nameArg(a arg) {
	if !a.static || !validRef(a.text) {
		s.hidden()
		s.addVar(hpcgate.DynamicProgram)
		return
	}
	s.addVar(refName(a.text))
}

// opts describes the options of a program or builtin, getopt style.
type opts struct {
	withArg string               // short options that take an argument
	flags   string               // short options that take none
	long    map[string]valueNeed // long options and their values
}

// getopt reads the options at the front of args and calls on for each
// (short ones as "-x", long ones as "--name"). It returns the index of
// the first operand, or ok false when where the options end cannot be
// known: a word that may be an option expands at run time, or an option
// is not in o.
func getopt(args []arg, o opts, on func(opt string, val arg)) (next int, ok bool) {
	i := 0
	for i < len(args) {
		a := args[i]
		if !a.mayBeOption() {
			return i, true
		}
		if !a.static {
			return i, false
		}
		t := a.text
		if t == "--" {
			return i + 1, true
		}
		if strings.HasPrefix(t, "--") {
			if o.long == nil {
				return i, false
			}
			name, val, hasVal := strings.Cut(t[2:], "=")
			full, need, found := matchLong(o.long, name)
			if !found || hasVal && need == noValue {
				return i, false
			}
			switch {
			case need == noValue:
				on("--"+full, arg{})
			case hasVal:
				on("--"+full, arg{text: val, static: true})
			case need == optionalValue:
				// --eof[=END]: a value only after =, never the next word.
				on("--"+full, arg{})
			case i+1 < len(args) && !args[i+1].split:
				i++
				on("--"+full, args[i])
			default:
				return i, false
			}
			i++
			continue
		}
		if t[0] != '-' {
			return i, false // +x forms belong to the declaration builtins
		}
		for j := 1; j < len(t); j++ {
			c := t[j]
			switch {
			case strings.IndexByte(o.flags, c) >= 0:
				on("-"+string(c), arg{})
			case strings.IndexByte(o.withArg, c) >= 0:
				switch {
				case j+1 < len(t):
					on("-"+string(c), arg{text: t[j+1:], static: true, lead: t[j+1]})
				case i+1 < len(args) && !args[i+1].split:
					// A value that may become several words or none
					// moves every word after it.
					i++
					on("-"+string(c), args[i])
				default:
					return i, false
				}
				j = len(t)
			default:
				return i, false
			}
		}
		i++
	}
	return i, true
}

// matchLong finds name among long options as GNU getopt does: exactly,
// or as the unambiguous prefix of one.
func matchLong(long map[string]valueNeed, name string) (full string, need valueNeed, found bool) {
	if t, ok := long[name]; ok {
		return name, t, true
	}
	n := 0
	for k, t := range long {
		if strings.HasPrefix(k, name) && name != "" {
			full, need, n = k, t, n+1
		}
	}
	return full, need, n == 1
}

// valueNeed says whether a long option takes a value.
type valueNeed uint8

const (
	noValue       valueNeed = iota
	requiredValue           // --name=VALUE or --name VALUE
	optionalValue           // --name[=VALUE]: only after =
)

// wrapper describes a program that runs the program named by one of its
// arguments.
type wrapper struct {
	opts
	skip  int    // operands before the program (timeout's duration)
	noRun string // options after which no program is run (-m of chrt)
	// pid names options after which the last operand is a process id and
	// no program runs, unless that id is 0: then taskset and chrt run
	// the program that word names (taskset -p 1 0 runs 0).
	pid     string
	hide    string // options that run code the analyser cannot see
	assigns bool   // NAME=VALUE operands before the program (env, sudo)
	empty   string // what runs when no program is given ("" nothing)
}

// longs reads long options written as GNU's --help does: name, name=
// (a value required), name[=] (a value only after =).
func longs(spec string) map[string]valueNeed {
	m := map[string]valueNeed{}
	for f := range strings.FieldsSeq(spec) {
		if name, ok := strings.CutSuffix(f, "[=]"); ok {
			m[name] = optionalValue
		} else if name, ok := strings.CutSuffix(f, "="); ok {
			m[name] = requiredValue
		} else {
			m[f] = noValue
		}
	}
	return m
}

// Wrappers lists the programs and builtins whose wrapped program the
// analysis reports as a program too (README: security model).
func Wrappers() []string {
	ws := make([]string, 0, len(wrappers))
	for w := range wrappers {
		ws = append(ws, w)
	}
	return set(ws)
}

var wrappers = map[string]wrapper{
	"command": {opts: opts{flags: "pvV"}, noRun: "-v-V"},
	"builtin": {},
	"exec":    {opts: opts{flags: "cl", withArg: "a"}},
	"nohup":   {opts: opts{long: longs("help version")}},
	"timeout": {opts: opts{withArg: "ks", flags: "fpv", long: longs("kill-after= signal= foreground preserve-status verbose help version")}, skip: 1},
	"env": {opts: opts{withArg: "uCS", flags: "i0v", long: longs("ignore-environment null unset= chdir= split-string= debug default-signal[=] ignore-signal[=] block-signal[=] list-signal-handling help version")},
		hide: "-S--split-string", assigns: true},
	"nice":    {opts: opts{withArg: "n", flags: "0123456789", long: longs("adjustment= help version")}},
	"stdbuf":  {opts: opts{withArg: "ioe", long: longs("input= output= error= help version")}},
	"setsid":  {opts: opts{flags: "cfw", long: longs("ctty fork wait help version")}},
	"ionice":  {opts: opts{withArg: "cnp", flags: "tP", long: longs("class= classdata= pid= ignore help version")}, noRun: "-p--pid-P"},
	"time":    {opts: opts{withArg: "fo", flags: "apqv", long: longs("format= output= append portability quiet verbose help version")}},
	"chrt":    {opts: opts{withArg: "TPD", flags: "abdefimopRrv", long: longs("all-tasks batch deadline fifo idle max other pid rr reset-on-fork verbose sched-runtime= sched-period= sched-deadline= help version")}, skip: 1, noRun: "-m--max", pid: "-p--pid"},
	"taskset": {opts: opts{flags: "acp", long: longs("all-tasks cpu-list pid help version")}, skip: 1, pid: "-p--pid"},
	"xargs": {opts: opts{withArg: "adEILnPs", flags: "0oprtx", long: longs("arg-file= delimiter= eof[=] replace[=] max-lines[=] max-args= max-procs= max-chars= process-slot-var= null open-tty interactive no-run-if-empty verbose exit show-limits help version")},
		empty: "echo"},
	"sudo": {opts: opts{withArg: "CDghpRrTtUu", flags: "AbEHKkLlnPSVvBN"}, hide: "-e-i-s", assigns: true},
}

// innerLine records a command found in another's arguments (the program
// a wrapper runs, find's -exec command), whose first word is static: its
// program and its command line, as record does for a simple command.
func (s *scan) innerLine(cmd []arg) {
	s.programs = append(s.programs, cmd[0].text)
	for i, a := range cmd {
		if i > 0 {
			s.lines = append(s.lines, ' ')
		}
		s.lines = append(s.lines, a.text...)
	}
	s.lineEnds = append(s.lineEnds, len(s.lines))
}

// runs analyses what the simple command args runs beyond its program
// (reported by record): the program a wrapper runs, hidden code of the
// builtins that evaluate names, subscripts or strings. It follows nested
// wrappers.
func (s *scan) runs(args []arg) {
	for range maxWrapped {
		if len(args) == 0 {
			return
		}
		if !args[0].static {
			s.hidden()
			return
		}
		inner, ok := s.program(args)
		if !ok || len(inner) == 0 {
			return
		}
		if !inner[0].static {
			s.hidden()
			return
		}
		// The wrapped program is a program and a command line too.
		s.innerLine(inner)
		args = inner
	}
	s.hidden() // wrappers nested beyond reason
}

// maxWrapped bounds how many wrappers are followed in one command.
const maxWrapped = 16

func base(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// program checks the simple command args (args[0] a plain literal) and
// returns the command it runs when it is a wrapper; ok false when there
// is none.
func (s *scan) program(args []arg) (inner []arg, ok bool) {
	name, rest := args[0].text, args[1:]
	switch name {
	case "eval", "source", ".", "fc":
		if len(rest) > 0 || name == "fc" {
			s.hidden()
		}
		return nil, false
	case "let":
		s.set(fArithmetic)
		if len(rest) > 0 {
			s.hidden()
			s.addVar(hpcgate.DynamicProgram)
		}
		return nil, false
	case "declare", "typeset", "local", "export", "readonly", "nameref":
		s.declArgs(rest)
		return nil, false
	case "read":
		s.names(rest, opts{withArg: "adinptuN", flags: "ers"}, "-a", true)
		return nil, false
	case "mapfile", "readarray":
		s.names(rest, opts{withArg: "dunOCcs", flags: "t"}, "", true)
		return nil, false
	case "printf":
		s.names(rest, opts{withArg: "v"}, "-v", false)
		return nil, false
	case "wait":
		s.names(rest, opts{withArg: "p", flags: "nf"}, "-p", false)
		return nil, false
	case "unset":
		s.names(rest, opts{flags: "fvn"}, "", true)
		return nil, false
	case "getopts":
		if len(rest) < 2 || !rest[0].static && rest[0].mayBeOption() {
			s.hidden()
			return nil, false
		}
		s.nameArg(rest[1])
		return nil, false
	case "test", "[":
		s.testArgs(rest)
		return nil, false
	case "trap":
		n, ok := getopt(rest, opts{flags: "lpP"}, func(string, arg) {})
		if !ok {
			s.hidden()
		} else if ops := rest[n:]; slices.ContainsFunc(ops, func(a arg) bool { return a.split }) {
			s.hidden() // {'cmd',EXIT} or $x may be an action and a signal
		} else if len(ops) > 1 && !(ops[0].static && (ops[0].text == "" || ops[0].text == "-" || signalNumber(ops[0].text))) {
			s.hidden() // the action runs as code
		}
		return nil, false
	case "set":
		if setHides(rest) {
			s.hidden()
		}
		return nil, false
	case "shopt":
		if shoptHides(rest) {
			s.hidden()
		}
		return nil, false
	case "bind", "enable", "hash", "complete", "compgen":
		// bind -x, enable -f, hash -p, complete/compgen -C and -F run or
		// load code; their options are many, so any argument is hidden
		// code unless plainly harmless.
		if hidesCode(name, rest) {
			s.hidden()
		}
		return nil, false
	case "alias":
		for _, a := range rest {
			if !a.static || strings.Contains(a.text, "=") {
				s.hidden() // an alias is code that runs where its name is
				break
			}
		}
		return nil, false
	case "find":
		return nil, s.find(rest)
	case "jobs":
		// jobs -x cmd args runs cmd, each %jobspec replaced by a
		// process group id.
		x := false
		n, ok := getopt(rest, opts{flags: "lnprsx"}, func(opt string, _ arg) { x = x || opt == "-x" })
		switch {
		case !ok:
			s.hidden()
		case x && n < len(rest):
			if rest[n].static && strings.HasPrefix(rest[n].text, "%") {
				s.hidden() // the program is a number known at run time
				return nil, false
			}
			return rest[n:], true
		}
		return nil, false
	}
	if base(name) == "find" {
		return nil, s.find(rest) // /usr/bin/find
	}
	w, known := wrappers[name]
	if !known {
		// Programs run by path too (/usr/bin/timeout), builtins not.
		switch b := base(name); b {
		case "builtin", "command", "exec":
			return nil, false
		default:
			if w, known = wrappers[b]; !known {
				return nil, false
			}
		}
	}
	run, hide, pid := true, false, false
	var repl string
	n, ok := getopt(rest, w.opts, func(opt string, val arg) {
		if w.noRun != "" && strings.Contains(w.noRun, opt) && nextIsDash(w.noRun, opt) {
			run = false
		}
		if w.pid != "" && strings.Contains(w.pid, opt) && nextIsDash(w.pid, opt) {
			pid = true
		}
		if w.hide != "" && strings.Contains(w.hide, opt) && nextIsDash(w.hide, opt) {
			hide = true
		}
		if opt == "-a" && name == "exec" && (!val.static || strings.Contains(val.text, "/")) {
			// Programs find files beside their argv[0] (stdbuf its
			// libstdbuf.so, which it preloads into the program it runs).
			hide = true
		}
		if name == "xargs" || base(name) == "xargs" {
			switch opt {
			case "-I", "--replace":
				repl = val.text
				if opt == "--replace" && repl == "" {
					repl = "{}" // --replace alone
				}
				if !val.static {
					hide = true
				}
			}
		}
	})
	if !ok || hide {
		s.hidden()
		return nil, false
	}
	if !run {
		return nil, false
	}
	if pid {
		if ops := rest[n:]; len(ops) >= 1 && len(ops) <= w.skip+1 && nonzeroID(ops[len(ops)-1]) {
			return nil, false
		}
		s.hidden()
		return nil, false
	}
	rest = rest[n:]
	if name == "env" || base(name) == "env" {
		if len(rest) > 0 && rest[0].static && rest[0].text == "-" {
			rest = rest[1:] // env - is env -i
		}
	}
	if w.assigns {
		for len(rest) > 0 {
			a := rest[0]
			if !a.static {
				if a.lead == 0 || a.lead == '=' || isNameByte(a.lead) {
					s.hidden() // NAME=… or the program: unknown
					return nil, false
				}
				break
			}
			name, value, isAssign := strings.Cut(a.text, "=")
			if !isAssign {
				break
			}
			if !syntax.ValidName(name) {
				s.hidden()
				return nil, false
			}
			s.addVarValue(name, isNumber(value), harmlessValue(name, value, false))
			rest = rest[1:]
		}
	}
	if len(rest) < w.skip {
		return nil, false
	}
	for _, a := range rest[:w.skip] {
		if a.split {
			s.hidden() // timeout 5$y: the operand may be several words
			return nil, false
		}
	}
	rest = rest[w.skip:]
	if len(rest) == 0 {
		if w.empty != "" {
			return []arg{{text: w.empty, static: true, lead: w.empty[0]}}, true
		}
		return nil, false
	}
	if repl != "" && strings.Contains(rest[0].text, repl) {
		s.hidden()
		return nil, false
	}
	return rest, true
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// nextIsDash reports whether opt in list (options written one after
// another, "-p--pid") is a whole entry, not the prefix of a longer one.
func nextIsDash(list, opt string) bool {
	for i := 0; ; {
		j := strings.Index(list[i:], opt)
		if j < 0 {
			return false
		}
		end := i + j + len(opt)
		if end == len(list) || list[end] == '-' {
			return true
		}
		i = i + j + 1
	}
}

// names checks a builtin whose operands (when operands is set) and whose
// option nameOpt are variable names.
func (s *scan) names(args []arg, o opts, nameOpt string, operands bool) {
	n, ok := getopt(args, o, func(opt string, val arg) {
		switch {
		case opt == nameOpt:
			s.nameArg(val)
		case opt == "-C":
			s.hidden() // mapfile -C: a callback evaluated as code
		}
	})
	if !ok {
		s.hidden()
		return
	}
	if operands {
		for _, a := range args[n:] {
			s.nameArg(a)
		}
	}
}

// declArgs checks the arguments of a declaration builtin written as a
// plain command (\declare, builtin declare, command export).
func (s *scan) declArgs(args []arg) {
	options := true
	for _, a := range args {
		if options && a.mayBeOption() {
			if !a.static {
				s.hidden()
				s.addVar(hpcgate.DynamicProgram)
				continue
			}
			if a.text == "--" {
				options = false
				continue
			}
			s.declOption(a.text)
			continue
		}
		options = false
		s.declOperand(a)
	}
}

// declOption checks one option word of a declaration builtin: -n makes a
// nameref, whose value is a name bash evaluates; -i makes assignments
// arithmetic.
func (s *scan) declOption(text string) {
	if text[0] == '-' && strings.ContainsAny(text[1:], "ni") {
		s.hidden()
	}
}

// declOperand checks one operand of a declaration builtin: NAME, NAME=…,
// NAME+=… or NAME[sub]=…, whose subscript bash evaluates.
func (s *scan) declOperand(a arg) {
	if !a.static {
		// The name is known only at run time, and bash reads it with its
		// subscript: export "$x" runs what x holds in a[…].
		s.hidden()
		s.addVar(hpcgate.DynamicProgram)
		return
	}
	ref, value, assigns := strings.Cut(a.text, "=")
	appends := false
	if assigns {
		ref, appends = strings.CutSuffix(ref, "+")
		if compoundValue(value, true, nil) {
			s.hidden()
		}
	}
	if !validRef(ref) {
		s.hidden()
		s.addVar(hpcgate.DynamicProgram)
		return
	}
	name := refName(ref)
	s.addVarValue(name, !assigns || isNumber(value),
		!assigns || name == ref && harmlessValue(name, value, appends))
}

// testArgs checks the arguments of test and [: -v and -R evaluate the
// subscript of the name that follows, and a word that expands at run time
// may be -v, or several words.
func (s *scan) testArgs(args []arg) {
	for i, a := range args {
		if a.split {
			s.hidden()
			return
		}
		op := !a.static || a.text == "-v" || a.text == "-R"
		if op && i+1 < len(args) {
			if n := args[i+1]; !n.static || strings.ContainsAny(n.text, "[") {
				s.hidden()
				return
			}
		}
	}
}

// readingOptions are the set -o options that change how bash reads the
// words of later commands: keyword makes every NAME=value argument an
// environment assignment (PATH=/tmp included, which bash then uses to
// find the program), histexpand rewrites later lines (^a^b, !!:s/a/b/)
// before they are parsed.
// posix changes how bash reads time -p and quotes in "${x-'…'}".
var readingOptions = map[string]bool{"keyword": true, "histexpand": true, "posix": true}

// setHides reports whether set may turn on a reading option (-k, -H, -o
// keyword, -o histexpand), reading its arguments as bash does: option
// words up to the first operand, "-" or "--"; each o takes the next word
// as its name unless that word is empty or starts with - or +.
func setHides(args []arg) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !a.static {
			return a.mayBeOption()
		}
		t := a.text
		if !a.mayBeOption() || t == "--" {
			return false
		}
		on := t[0] == '-'
		for _, c := range t[1:] {
			switch {
			case on && (c == 'k' || c == 'H'):
				return true
			case c == 'o' && i+1 < len(args):
				n := args[i+1]
				if !n.static {
					return true
				}
				if n.text == "" || n.text[0] == '-' || n.text[0] == '+' {
					continue // set -o alone lists the options
				}
				i++
				if on && readingOptions[n.text] {
					return true
				}
			}
		}
	}
	return false
}

// shoptHides reports whether shopt may turn on a reading option of set
// (shopt -s -o keyword) or a compatibility level (shopt -s compat31),
// which changes how bash reads and runs later lines.
func shoptHides(args []arg) bool {
	var setOn, setO bool
	n, ok := getopt(args, opts{flags: "psuoq"}, func(opt string, _ arg) {
		switch opt {
		case "-s":
			setOn = true
		case "-o":
			setO = true
		}
	})
	if !ok {
		return true
	}
	if !setOn {
		return false
	}
	for _, a := range args[n:] {
		if !a.static || setO && readingOptions[a.text] || !setO && strings.HasPrefix(a.text, "compat") {
			return true
		}
	}
	return false
}

// hidesCode reports whether a builtin that can install or load code
// (bind -x, enable -f, hash -p, complete/compgen -C/-F) may do so here.
func hidesCode(name string, args []arg) bool {
	bad := map[string]string{"bind": "xfm", "enable": "f", "hash": "p", "complete": "CFW", "compgen": "CFW"}[name]
	if name == "bind" && len(args) > 0 {
		return true // bind reads key bindings that may run commands
	}
	options := true
	for _, a := range args {
		if !a.static {
			return true
		}
		if options && len(a.text) > 1 && a.text[0] == '-' {
			if a.text == "--" {
				options = false
			} else if strings.ContainsAny(a.text[1:], bad) {
				return true
			}
			continue
		}
		options = false
		if name == "enable" && !bashBuiltins[a.text] {
			// enable NAME loads NAME as a shared object when it is no
			// builtin, and its constructors run.
			return true
		}
	}
	return false
}

// bashBuiltins are the builtins of bash 5.2 (enable -a).
var bashBuiltins = func() map[string]bool {
	m := map[string]bool{}
	for b := range strings.FieldsSeq(`. : [ alias bg bind break builtin caller cd command compgen complete compopt
		continue declare dirs disown echo enable eval exec exit export false fc fg getopts hash help history
		jobs kill let local logout mapfile popd printf pushd pwd read readarray readonly return set shift
		shopt source suspend test times trap true type typeset ulimit umask unalias unset wait`) {
		m[b] = true
	}
	return m
}()

// signalNumber reports whether text is a signal trap reads as a number,
// so that trap text SIG resets, not sets, an action: decimal digits
// below NSIG (65). trap 99 EXIT runs the program 99 at exit.
func signalNumber(text string) bool {
	if text == "" || strings.Trim(text, "0123456789") != "" {
		return false
	}
	n, err := strconv.Atoi(text)
	return err == nil && n < 65
}

// nonzeroID reports whether a is a process id other than 0, written in
// decimal digits alone.
func nonzeroID(a arg) bool {
	return a.static && a.text != "" && strings.Trim(a.text, "0123456789") == "" && strings.Trim(a.text, "0") != ""
}

// find reports the programs of -exec, -execdir, -ok and -okdir; a word
// that expands at run time may be such an action, or a program. The
// values of tests are skipped whatever they say: -name -exec is a test.
func (s *scan) find(args []arg) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a.split {
			s.hidden() // several words, one of them may be -exec
			return false
		}
		if !a.static {
			if a.lead != 0 && a.lead != '-' && a.lead != '(' && a.lead != '!' && a.lead != ')' && a.lead != ',' {
				continue
			}
			s.hidden()
			return false
		}
		if n := findValues(a.text); n > 0 {
			for j := i + 1; j <= i+n && j < len(args); j++ {
				if args[j].split {
					s.hidden()
					return false
				}
			}
			i += n
			continue
		}
		switch a.text {
		case "-exec", "-execdir", "-ok", "-okdir":
			// find ends the command at ";", or at "+" right after {}.
			end := i + 1
			for end < len(args) && !(args[end].static && (args[end].text == ";" ||
				args[end].text == "+" && args[end-1].static && args[end-1].text == "{}")) {
				end++
			}
			cmd := args[i+1 : end]
			if len(cmd) == 0 {
				return false
			}
			for _, w := range cmd {
				if !w.static && (w.split || w.lead == 0 || w.lead == ';' || w.lead == '+') {
					// find ends the command at a word ";" (or "+"), which
					// an expansion may be: -exec echo "$x" -exec cmd \;.
					s.hidden()
					return false
				}
			}
			if !cmd[0].static || strings.Contains(cmd[0].text, "{}") {
				s.hidden()
				return false
			}
			s.runs(cmd)
			s.innerLine(cmd)
			i = end
		}
	}
	return false
}

// findValues returns how many values find's test or option t takes.
func findValues(t string) int {
	switch {
	case findValue[t]:
		return 1
	case t == "-fprintf":
		return 2
	case strings.HasPrefix(t, "-newer") && len(t) == len("-newerXY"):
		return 1 // -newermt DATE and the rest of the family
	}
	return 0
}

// findValue are find's tests, options and actions that take one value.
var findValue = map[string]bool{
	"-name": true, "-iname": true, "-path": true, "-ipath": true, "-wholename": true, "-iwholename": true,
	"-regex": true, "-iregex": true, "-lname": true, "-ilname": true, "-newer": true, "-anewer": true, "-cnewer": true,
	"-type": true, "-xtype": true, "-user": true, "-group": true, "-uid": true, "-gid": true, "-size": true,
	"-perm": true, "-mtime": true, "-atime": true, "-ctime": true, "-mmin": true, "-amin": true, "-cmin": true,
	"-maxdepth": true, "-mindepth": true, "-links": true, "-inum": true, "-samefile": true, "-fstype": true,
	"-printf": true, "-fprint": true, "-fprint0": true, "-fls": true, "-used": true, "-context": true,
	"-regextype": true, "-files0-from": true, "-D": true,
}
