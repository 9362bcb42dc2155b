package shellscan

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// maxDepth bounds how deeply statements, words, expansions and expressions
// may nest (each counts one level).
// No real command comes close; the bound keeps the walk cheap and its
// stack small whatever the input.
const maxDepth = 256

// feature is an index into featureNames.
type feature uint8

const (
	fPipe feature = iota
	fAndOr
	fSequence
	fSubshell
	fBlock
	fIf
	fLoop
	fFor
	fCase
	fTestClause
	fArithmetic
	fCmdSubst
	fProcSubst
	fParamExp
	fParamOp
	fGlob
	fBrace
	fExtglob
	fTilde
	fOutRedir
	fInRedir
	fFdRedir
	fHeredoc
	fBackground
	fFuncDef
	fAssignment
	fNegation
	fTime
	fComment
	fDynamic
	numFeatures
)

// featureNames are the hpcgate:ShellFeature values of DESIGN.md.
var featureNames = [numFeatures]string{
	fPipe:       "pipe",
	fAndOr:      "and-or",
	fSequence:   "sequence",
	fSubshell:   "subshell",
	fBlock:      "block",
	fIf:         "if",
	fLoop:       "loop",
	fFor:        "for",
	fCase:       "case",
	fTestClause: "test-clause",
	fArithmetic: "arithmetic",
	fCmdSubst:   "command-substitution",
	fProcSubst:  "process-substitution",
	fParamExp:   "parameter-expansion",
	fParamOp:    "parameter-operator",
	fGlob:       "glob",
	fBrace:      "brace-expansion",
	fExtglob:    "extglob",
	fTilde:      "tilde",
	fOutRedir:   "output-redirect",
	fInRedir:    "input-redirect",
	fFdRedir:    "fd-redirect",
	fHeredoc:    "heredoc",
	fBackground: "background",
	fFuncDef:    "function-definition",
	fAssignment: "assignment",
	fNegation:   "negation",
	fTime:       "time",
	fComment:    "comment",
	fDynamic:    "dynamic-command-word",
}

// Features lists every hpcgate:ShellFeature value the analyser can report.
func Features() []string { return slices.Clone(featureNames[:]) }

// wordCtx says which expansions bash applies to a word beyond parameter,
// command and arithmetic expansion and quote removal.
type wordCtx uint8

const (
	ctxExpand wordCtx = 1 << iota // pathname and brace expansion
	ctxTilde                      // tilde expansion
	ctxArg    = ctxExpand | ctxTilde
)

// scan walks one parsed command and collects its facts.
type scan struct {
	src   string // the text the tree was parsed from (the canonical form)
	depth int
	err   error

	features [numFeatures]bool
	simple   []hpcgate.SimpleCommand
	programs []string
	outs     []string
	ins      []string
	vars     []string

	// ifsDigits says that IFS may be given digits, which split the
	// numbers $?, $# and $$ into several words.
	ifsDigits bool

	// lines holds the command lines one after another, lineEnds where
	// each ends; commandLines cuts them from one string.
	lines    []byte
	lineEnds []int

	compound []string // variables given a value "(…)" by declare, typeset or local

	words []string // a block that argv and assignment lists are cut from
	buf   []byte   // unquoted words being built, innermost last
	args  []arg    // the arguments of the calls being walked
}

// newScan prepares the walk of the tree of src; buf is scratch space to
// reuse.
func newScan(src string, buf []byte) scan {
	// About one simple command per 32 bytes of a long command.
	n := len(src)/32 + 2
	return scan{
		src:      src,
		simple:   make([]hpcgate.SimpleCommand, 0, n),
		programs: make([]string, 0, n),
		lines:    make([]byte, 0, len(src)),
		lineEnds: make([]int, 0, n),
		buf:      buf[:0],
	}
}

// list returns an empty list with room for n strings. Lists come from
// one block shared by the whole walk, each capped so that appending to
// one never writes into another.
func (s *scan) list(n int) []string {
	if n == 0 {
		return []string{}
	}
	if n > cap(s.words)-len(s.words) {
		s.words = make([]string, 0, max(n, min(len(s.src)/8+8, 256)))
	}
	l := len(s.words)
	s.words = s.words[:l+n]
	return s.words[l : l : l+n]
}

// commandLines returns the command lines recorded, in one allocation.
func (s *scan) commandLines() []string {
	if len(s.lineEnds) == 0 {
		return nil
	}
	text := string(s.lines)
	lines := make([]string, len(s.lineEnds))
	start := 0
	for i, end := range s.lineEnds {
		lines[i] = text[start:end]
		start = end
	}
	return lines
}

func (s *scan) fail(pos syntax.Pos, format string, args ...any) {
	if s.err == nil {
		s.err = invalid(pos, format, args...)
	}
}

// enter goes one level deeper, into n, and reports whether the walk goes
// on.
func (s *scan) enter(n syntax.Node) bool {
	s.depth++
	if s.depth > maxDepth {
		s.fail(n.Pos(), "nesting deeper than %d levels", maxDepth)
		return false
	}
	return s.err == nil
}

func (s *scan) leave() { s.depth-- }

func (s *scan) set(f feature) { s.features[f] = true }

func (s *scan) addVar(name string) { s.addVarValue(name, false, false) }

// addVarValue records an assignment to name; numeric says that the value
// is an arithmetic constant, harmless that it is known and harmless for
// the variable (harmlessValue). Bash runs the values of some variables as
// code, evaluates what is assigned to an integer variable as arithmetic,
// which runs the command substitutions in subscripts, reads the lines
// after a change of locale in its character set, and splits numbers at
// the digits IFS holds.
func (s *scan) addVarValue(name string, numeric, harmless bool) {
	s.set(fAssignment)
	s.vars = append(s.vars, name)
	switch {
	case codeVars[name], intVars[name] && !numeric, localeVars[name] && !harmless:
		s.hidden()
	case name == "IFS" && !harmless:
		s.ifsDigits = true
	}
}

// hidden records that code the analyser cannot see may run: a value is
// evaluated as code at run time. The Program <dynamic> then keeps every
// allow-list from matching.
func (s *scan) hidden() {
	s.set(fDynamic)
	s.programs = append(s.programs, hpcgate.DynamicProgram)
}

// source returns the text of n as it appears in s.src.
func (s *scan) source(n syntax.Node) string {
	from, to := n.Pos().Offset(), n.End().Offset()
	if !n.Pos().IsValid() || to < from || to > uint(len(s.src)) {
		s.fail(n.Pos(), "cannot locate a word in the command")
		return ""
	}
	return s.src[from:to]
}

func (s *scan) comments(cs []syntax.Comment) {
	if len(cs) > 0 {
		s.set(fComment)
	}
}

func (s *scan) stmts(list []*syntax.Stmt, last []syntax.Comment, redirs []hpcgate.Redirect) {
	if len(list) > 1 {
		s.set(fSequence)
	}
	s.comments(last)
	for _, st := range list {
		s.stmt(st, redirs)
	}
}

// stmt walks one statement; redirs are the redirections of the compound
// commands around it, which apply to it too.
func (s *scan) stmt(st *syntax.Stmt, redirs []hpcgate.Redirect) {
	if !s.enter(st) {
		return
	}
	defer s.leave()
	s.comments(st.Comments)
	if st.Negated {
		s.set(fNegation)
	}
	if st.Background || st.Coprocess || st.Disown {
		s.set(fBackground)
	}
	// own: redirs is a new list that only this statement holds.
	own := false
	if len(st.Redirs) > 0 {
		redirs = slices.Clip(redirs)
		for _, r := range st.Redirs {
			redirs = append(redirs, s.redirect(r))
		}
		redirs, own = slices.Clip(redirs), true
	}
	if st.Cmd == nil {
		// Redirections alone (">file") still open files.
		if len(st.Redirs) > 0 {
			s.simple = append(s.simple, hpcgate.SimpleCommand{})
			s.record(len(s.simple)-1, []string{}, []string{}, redirs, own, false)
		}
		return
	}
	s.command(st.Cmd, redirs, own)
}

// command walks one command; own says that redirs belongs to it alone.
func (s *scan) command(cmd syntax.Command, redirs []hpcgate.Redirect, own bool) {
	switch c := cmd.(type) {
	case *syntax.CallExpr:
		s.call(c, redirs, own)
	case *syntax.DeclClause:
		s.decl(c, redirs, own)
	case *syntax.LetClause:
		s.let(c, redirs, own)
	case *syntax.BinaryCmd:
		switch c.Op {
		case syntax.AndStmt, syntax.OrStmt:
			s.set(fAndOr)
		case syntax.Pipe:
			s.set(fPipe)
		case syntax.PipeAll:
			s.set(fPipe)
			s.set(fFdRedir) // |& is 2>&1 |
		default:
			s.fail(c.OpPos, "unsupported operator %s", c.Op)
		}
		if c.Op == syntax.Pipe || c.Op == syntax.PipeAll {
			// Bash knows time as a keyword only at the start of a
			// pipeline: after | it runs the time program, which the
			// parser does not see.
			if t := pipeStart(c.Y); t != nil {
				s.fail(t.Pos(), "time after %s: bash runs the time program here, not the keyword; time the whole pipeline or use { time …; }", c.Op)
			}
		}
		s.stmt(c.X, redirs)
		s.stmt(c.Y, redirs)
	case *syntax.Subshell:
		s.set(fSubshell)
		s.stmts(c.Stmts, c.Last, redirs)
	case *syntax.Block:
		s.set(fBlock)
		s.stmts(c.Stmts, c.Last, redirs)
	case *syntax.IfClause:
		s.set(fIf)
		for ic := c; ic != nil; ic = ic.Else {
			s.stmts(ic.Cond, ic.CondLast, redirs)
			s.stmts(ic.Then, ic.ThenLast, redirs)
			s.comments(ic.Last)
		}
	case *syntax.WhileClause:
		s.set(fLoop)
		s.stmts(c.Cond, c.CondLast, redirs)
		s.stmts(c.Do, c.DoLast, redirs)
	case *syntax.ForClause:
		s.set(fFor)
		switch l := c.Loop.(type) {
		case *syntax.WordIter:
			s.addVar(l.Name.Value)
			for _, w := range l.Items {
				s.word(w, ctxArg)
			}
		case *syntax.CStyleLoop:
			s.set(fArithmetic)
			for _, x := range []syntax.ArithmExpr{l.Init, l.Cond, l.Post} {
				if x != nil {
					s.arithm(x)
				}
			}
		default:
			s.fail(c.Pos(), "unsupported loop")
		}
		s.stmts(c.Do, c.DoLast, redirs)
	case *syntax.CaseClause:
		s.set(fCase)
		s.word(c.Word, ctxTilde)
		for _, it := range c.Items {
			s.comments(it.Comments)
			for _, p := range it.Patterns {
				s.word(p, 0)
			}
			s.stmts(it.Stmts, it.Last, redirs)
		}
		s.comments(c.Last)
	case *syntax.FuncDecl:
		s.set(fFuncDef)
		if c.Body == nil || c.Name == nil || len(c.Names) > 0 {
			s.fail(c.Pos(), "unsupported function definition")
			return
		}
		if n := c.Name.Value; n == "" || strings.ContainsRune("?*+@!", rune(n[len(n)-1])) {
			// With extglob on, bash reads x?() as a pattern (a word that
			// runs as a command), not as the definition of x?.
			s.fail(c.Name.Pos(), "function name %q ends in an extended-glob operator, which bash with extglob reads as a pattern", n)
			return
		}
		// The body runs wherever the function is called, not here, so
		// the redirections around the definition do not apply to it.
		s.stmt(c.Body, nil)
	case *syntax.ArithmCmd:
		s.set(fArithmetic)
		s.arithm(c.X)
	case *syntax.TestClause:
		s.set(fTestClause)
		s.test(c.X)
	case *syntax.TimeClause:
		s.set(fTime)
		if w := timeDashes(c); w != nil {
			// Bash skips one -- after time [-p] and reads a whole
			// pipeline after it; the parser takes -- for the command.
			s.fail(w.Pos(), "-- after time: bash reads what follows as a pipeline, not as arguments of a command named --")
		}
		if c.Stmt != nil {
			s.stmt(c.Stmt, redirs)
		}
	case *syntax.CoprocClause:
		s.set(fBackground)
		if c.Name == nil {
			s.addVar("COPROC")
		} else if name, static := s.word(c.Name, 0); static && syntax.ValidName(name) {
			s.addVar(name)
		} else {
			s.addVar(hpcgate.DynamicProgram)
		}
		s.stmt(c.Stmt, redirs)
	default:
		s.fail(cmd.Pos(), "unsupported command %T", cmd)
	}
}

// pipeStart returns the time clause that starts the pipeline st, if any.
func pipeStart(st *syntax.Stmt) *syntax.TimeClause {
	for st != nil && !st.Negated {
		switch c := st.Cmd.(type) {
		case *syntax.TimeClause:
			return c
		case *syntax.BinaryCmd:
			if c.Op != syntax.Pipe && c.Op != syntax.PipeAll {
				return nil
			}
			st = c.X
		default:
			return nil
		}
	}
	return nil
}

// timeDashes returns the word -- that follows time (or time -p) when the
// parser made it the command's first word.
func timeDashes(c *syntax.TimeClause) *syntax.Word {
	if c.Stmt == nil {
		return nil
	}
	call, ok := c.Stmt.Cmd.(*syntax.CallExpr)
	if !ok || len(call.Args) == 0 {
		return nil
	}
	if w := call.Args[0]; w.Lit() == "--" {
		return w
	}
	return nil
}

// record fills the slot idx with one simple command and adds its keys.
// own says that redirs belongs to this command alone.
func (s *scan) record(idx int, argv, assigns []string, redirs []hpcgate.Redirect, own, dynamic bool) {
	if s.err != nil {
		return // the analysis fails: spare the copies
	}
	// Compound commands share their redirections with every command
	// inside: each gets its own copy.
	if !own {
		redirs = append([]hpcgate.Redirect{}, redirs...)
	}
	s.simple[idx] = hpcgate.SimpleCommand{Argv: argv, Assignments: assigns, Redirects: redirs}
	if len(argv) == 0 {
		return
	}
	if dynamic {
		s.set(fDynamic)
		s.programs = append(s.programs, hpcgate.DynamicProgram)
	} else {
		s.programs = append(s.programs, argv[0])
	}
	for i, arg := range argv {
		if i > 0 {
			s.lines = append(s.lines, ' ')
		}
		s.lines = append(s.lines, arg...)
	}
	s.lineEnds = append(s.lineEnds, len(s.lines))
}

func (s *scan) call(c *syntax.CallExpr, redirs []hpcgate.Redirect, own bool) {
	idx := len(s.simple)
	s.simple = append(s.simple, hpcgate.SimpleCommand{})
	assigns := s.list(len(c.Assigns))
	for _, a := range c.Assigns {
		assigns = append(assigns, s.assign(a))
	}
	argv := s.list(len(c.Args))
	// s.args[first:] belong to this call; calls nested in its words use
	// the space after them and give it back.
	first := len(s.args)
	for _, w := range c.Args {
		text, static := s.word(w, ctxArg)
		argv = append(argv, text)
		a := arg{text: text, static: static}
		if static {
			a.lead = firstByte(text)
		} else {
			a.lead = leadByte(w)
			a.split = mayField(w)
		}
		s.args = append(s.args, a)
	}
	args := s.args[first:]
	defer func() { s.args = s.args[:first] }()
	dynamic := len(args) > 0 && !args[0].static
	s.record(idx, argv, assigns, redirs, own, dynamic)
	if len(args) > 0 && !dynamic && s.err == nil {
		s.runs(args)
	}
}

// isStatic reports whether w is a plain literal after unquoting; it walks
// nothing, so it never reports a fact twice.
func isStatic(s *scan, w *syntax.Word) bool {
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.Lit, *syntax.SglQuoted:
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				if _, ok := q.(*syntax.Lit); !ok {
					return false
				}
			}
		default:
			return false
		}
	}
	text := s.source(w)
	return !strings.ContainsAny(text, "*?[{~")
}

func (s *scan) decl(d *syntax.DeclClause, redirs []hpcgate.Redirect, own bool) {
	idx := len(s.simple)
	s.simple = append(s.simple, hpcgate.SimpleCommand{})
	argv := append(s.list(1+len(d.Args)), d.Variant.Value)
	assigns := s.list(len(d.Args))
	options, arrayOpt := true, false
	for _, a := range d.Args {
		if a.Naked && a.Name == nil {
			text, static := s.word(a.Value, ctxArg)
			argv = append(argv, text)
			w := arg{text: text, static: static, lead: leadByte(a.Value)}
			if static {
				w.lead = firstByte(text)
			}
			switch {
			case options && w.mayBeOption() && static && text == "--":
				options = false
			case options && w.mayBeOption() && static:
				s.declOption(text)
				arrayOpt = arrayOpt || text[0] == '-' && strings.ContainsAny(text[1:], "aA")
			default:
				// A quoted or expanded word: bash reads it as NAME[sub]=…
				// at run time.
				options = false
				s.declOperand(w)
				assigns = append(assigns, text)
			}
			continue
		}
		options = false
		text := s.assign(a)
		if a.Value != nil && a.Array == nil {
			// declare, typeset and local read "(…)" as a compound
			// assignment when the variable is already an array, and any
			// of them does with -a or -A.
			static := a.Index == nil && isStatic(s, a.Value)
			_, v, _ := strings.Cut(text, "=")
			if compoundValue(v, static, a.Value) {
				switch {
				case arrayOpt:
					s.hidden()
				case d.Variant.Value != "export" && d.Variant.Value != "readonly":
					// Whether it is an array is known at the end.
					s.compound = append(s.compound, a.Name.Value)
				}
			}
		}
		argv = append(argv, text)
		assigns = append(assigns, text)
	}
	s.record(idx, argv, assigns, redirs, own, false)
}

func (s *scan) let(l *syntax.LetClause, redirs []hpcgate.Redirect, own bool) {
	s.set(fArithmetic)
	idx := len(s.simple)
	s.simple = append(s.simple, hpcgate.SimpleCommand{})
	argv := append(s.list(1+len(l.Exprs)), "let")
	if unquotedGlob(s.source(l)) {
		// let's words are words first: bash expands a pattern (2*3
		// matches a file 2+a[$(cmd)]+3) before it evaluates them.
		s.hidden()
	}
	for _, x := range l.Exprs {
		s.arithm(x)
		argv = append(argv, s.source(x))
	}
	s.record(idx, argv, []string{}, redirs, own, false)
}

// unquotedGlob reports whether the word text has a pattern character
// outside quotes.
func unquotedGlob(text string) bool {
	var quote byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' {
				i++
			}
		case c == '\\':
			i++
		case c == '\'' || c == '"':
			quote = c
		case c == '*' || c == '?' || c == '[':
			return true
		}
	}
	return false
}

// assign walks one assignment and returns it as NAME=value (value unquoted
// when it is a plain literal), NAME+=value, or as written when it has an
// index, an array or an expansion; a bare "declare NAME" gives NAME.
func (s *scan) assign(a *syntax.Assign) string {
	if a.Name == nil {
		s.fail(a.Pos(), "unsupported assignment")
		return ""
	}
	if !syntax.ValidName(a.Name.Value) {
		// The parser took it for an assignment; bash takes it for a word
		// (f{ind,x=[} is brace-expanded into find x=[).
		s.fail(a.Pos(), "%q is not a variable name, so bash would not read this word as an assignment", a.Name.Value)
		return ""
	}
	literal := a.Index == nil && a.Array == nil
	if a.Index != nil {
		s.arithm(a.Index)
	}
	var text string
	static := true
	if a.Value != nil {
		text, static = s.word(a.Value, ctxTilde)
	}
	plain := a.Array == nil && a.Index == nil
	s.addVarValue(a.Name.Value, a.Array == nil && (a.Value == nil || static && isNumber(text)),
		plain && (a.Value == nil || static && harmlessValue(a.Name.Value, text, a.Append)))
	if a.Array != nil {
		s.comments(a.Array.Last)
		for _, e := range a.Array.Elems {
			s.comments(e.Comments)
			if e.Index != nil {
				s.arithm(e.Index)
			}
			if e.Value != nil {
				s.word(e.Value, ctxArg)
			}
		}
	}
	switch {
	case a.Naked && literal:
		return a.Name.Value
	case !literal || !static:
		return s.source(a)
	case a.Append:
		return a.Name.Value + "+=" + text
	default:
		return a.Name.Value + "=" + text
	}
}

// redirect walks one redirection and reports it.
func (s *scan) redirect(r *syntax.Redirect) hpcgate.Redirect {
	op := r.Op.String()
	if r.N != nil {
		op = r.N.Value + op
		if strings.HasPrefix(r.N.Value, "{") {
			// {var}>file stores a new descriptor number in var, whose
			// subscript bash evaluates ({a[x]}> with x='b[$(cmd)]').
			s.set(fFdRedir)
			s.nameArg(arg{text: strings.TrimSuffix(strings.TrimPrefix(r.N.Value, "{"), "}"), static: true})
		} else if n, err := strconv.ParseInt(r.N.Value, 10, 32); err != nil || n < 0 {
			// Bash takes digits before a redirection for a descriptor
			// only when they fit an int; 2147483648>x runs the program
			// 2147483648, where the parser sees a descriptor.
			s.fail(r.N.Pos(), "descriptor %s before %s: bash reads a number this large as a command word", r.N.Value, r.Op)
		}
	}
	switch r.Op {
	case syntax.Hdoc, syntax.DashHdoc:
		s.set(fHeredoc)
		// The delimiter is never expanded; the body is, unless the
		// delimiter is quoted (then it is one literal part).
		text, _ := s.word(r.Word, 0)
		if r.Hdoc != nil {
			if !quotedDelim(r.Word) && strings.Contains(s.source(r.Hdoc), "\\\n") {
				// Bash joins the lines of an unquoted body before it looks
				// for the delimiter (EO\⏎F ends it); the parser does not.
				s.fail(r.Hdoc.Pos(), "a backslash at the end of a line of a here-document with an unquoted delimiter: quote the delimiter (<<'EOF') or remove the backslash")
			}
			s.delimiter(r, text)
			if r.Op == syntax.DashHdoc && !quotedDelim(r.Word) {
				for _, p := range r.Hdoc.Parts {
					if _, lit := p.(*syntax.Lit); !lit && strings.Contains(s.source(p), "\n") {
						// Bash strips the leading tabs of every line of a
						// <<- body before it expands it, inside $(…) and
						// "…" too; the parser keeps them there.
						s.fail(p.Pos(), "an expansion across lines in a <<- here-document: bash strips the leading tabs of its lines too; use << or keep the expansion on one line")
						break
					}
				}
			}
			s.heredoc(r.Hdoc)
		}
		return hpcgate.Redirect{Op: op, Target: text}
	case syntax.WordHdoc:
		s.set(fHeredoc)
		text, _ := s.word(r.Word, ctxTilde)
		return hpcgate.Redirect{Op: op, Target: text}
	}
	text, static := s.word(r.Word, ctxArg)
	switch r.Op {
	case syntax.RdrOut, syntax.AppOut, syntax.RdrClob, syntax.RdrAll, syntax.AppAll:
		s.output(text)
	case syntax.RdrIn:
		s.input(text)
	case syntax.RdrInOut:
		s.input(text)
		s.output(text)
	case syntax.DplOut, syntax.DplIn:
		if src := s.source(r.Word); r.Op == syntax.DplOut && r.N == nil && !(static && isDescriptor(text)) &&
			strings.ContainsAny(src, `'"\`) && strings.ContainsAny(src, "$`") {
			// Bash turns >&word into &>word and expands the quoted word a
			// second time: >&'$(cmd)' runs cmd.
			s.fail(r.Word.Pos(), ">&%s: bash expands a quoted target of >& a second time; use &> or quote nothing", src)
		}
		if closesThenWord(r.Word) {
			// Bash reads >&- as "close the descriptor" and what follows
			// the - as a word of its own (<&-000 runs 000); the parser
			// reads one target word "-000".
			s.fail(r.Word.Pos(), "%s%s: bash closes the descriptor at - and reads the rest as a new word; put a space after - or quote the target", r.Op, text)
		}
		switch {
		case static && isDescriptor(text):
			s.set(fFdRedir)
		case r.Op == syntax.DplOut:
			// >&file sends stdout and stderr to file; a word that expands
			// at run time may be either a descriptor or a file.
			s.output(text)
			if !static {
				s.set(fFdRedir)
			}
		default:
			s.input(text)
			if !static {
				s.set(fFdRedir)
			}
		}
	default:
		s.fail(r.OpPos, "unsupported redirection %s", r.Op)
	}
	return hpcgate.Redirect{Op: op, Target: text}
}

// closesThenWord reports whether a duplication target starts with an
// unquoted - followed by more of the same word.
func closesThenWord(w *syntax.Word) bool {
	if w == nil || len(w.Parts) == 0 {
		return false
	}
	lit, ok := w.Parts[0].(*syntax.Lit)
	return ok && strings.HasPrefix(lit.Value, "-") && (len(lit.Value) > 1 || len(w.Parts) > 1)
}

func (s *scan) output(target string) {
	s.set(fOutRedir)
	s.outs = append(s.outs, target)
}

func (s *scan) input(source string) {
	s.set(fInRedir)
	s.ins = append(s.ins, source)
}

// isDescriptor reports whether the word of >& or <& names a descriptor:
// digits, digits followed by '-' (move), or '-' (close).
func isDescriptor(w string) bool {
	w = strings.TrimSuffix(w, "-")
	for i := 0; i < len(w); i++ {
		if w[i] < '0' || w[i] > '9' {
			return false
		}
	}
	return true
}

// numericParams finds the numbers bash may split at digits in IFS.
var numericParams = regexp.MustCompile(`\$\{?[#?$]`)

// quotedDelim reports whether a here-document delimiter is quoted, which
// makes the body data.
func quotedDelim(w *syntax.Word) bool {
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.Lit:
			if strings.ContainsRune(p.Value, '\\') {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// finish reports what only the whole command tells: a declaration
// builtin that gave a value "(…)" to a variable that may be an array.
func (s *scan) finish() {
	if s.ifsDigits && numericParams.MatchString(s.src) {
		s.hidden() // IFS=0; exec -a $? … splits 101 into 1 and 1
	}
	for _, name := range s.compound {
		if s.mayBeArray(name) {
			s.hidden()
			return
		}
	}
}

// mayBeArray reports whether the variable name may be an array when a
// declaration builtin assigns it: one of bash's arrays, or a name the
// command assigns or mentions more than once, in any order (a loop or a
// function runs the declaration after the array exists; arrays do not
// come from the environment).
func (s *scan) mayBeArray(name string) bool {
	if strings.HasPrefix(name, "BASH_") || strings.HasPrefix(name, "COMP") || bashArrays[name] {
		return true
	}
	n := 0
	for _, v := range s.vars {
		if v == name {
			if n++; n > 1 {
				return true
			}
		}
	}
	n = 0
	for i := 0; ; {
		j := strings.Index(s.src[i:], name)
		if j < 0 {
			return false
		}
		j += i
		i = j + len(name)
		if (j == 0 || !isNameByte(s.src[j-1])) && (i == len(s.src) || !isNameByte(s.src[i])) {
			if n++; n > 1 {
				return true
			}
		}
	}
}

// bashArrays are the arrays bash sets (beside BASH_* and COMP*).
var bashArrays = map[string]bool{
	"DIRSTACK": true, "FUNCNAME": true, "GROUPS": true, "PIPESTATUS": true, "MAPFILE": true, "COPROC": true,
}

// delimiter refuses a here-document whose body bash ends elsewhere than
// the parser: bash ends it at the first line equal to the delimiter after
// quote removal (\" in double quotes is ", $'\x4f' is O), which must be
// the line that ends the body the parser read (its last), and no line
// before it. text is the delimiter as the walk read it.
func (s *scan) delimiter(r *syntax.Redirect, text string) {
	lines := strings.Split(s.source(r.Hdoc), "\n")
	if r.Op == syntax.DashHdoc {
		for i := range lines {
			lines[i] = strings.TrimLeft(lines[i], "\t")
		}
	}
	if !quotedDelim(r.Word) && slices.Contains(lines[:len(lines)-1], text) {
		// The parser reads a substitution ($(, `, ${, a quote in one)
		// across the line and ends the body later.
		s.fail(r.Hdoc.Pos(), "a line of the here-document body equals its delimiter %q inside a substitution: bash ends the body there", text)
		return
	}
	delim, ok := bashDelim(r.Word)
	if !ok {
		s.fail(r.Word.Pos(), "here-document delimiter %s: bash may unquote it differently; write it plainly (<<EOF or <<'EOF')", s.source(r.Word))
		return
	}
	for i, line := range lines {
		if (line == delim) != (i == len(lines)-1) {
			s.fail(r.Hdoc.Pos(), "here-document delimiter %s: bash reads it as %q and ends the body at another line than the parser; write it plainly (<<EOF or <<'EOF')", s.source(r.Word), delim)
			return
		}
	}
}

// bashDelim returns the delimiter bash reads from w: the word after quote
// removal. ok is false for forms whose reading is not certain.
func bashDelim(w *syntax.Word) (delim string, ok bool) {
	var b []byte
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.Lit:
			v := p.Value
			for i := 0; i < len(v); i++ {
				if v[i] == '\\' {
					if i++; i == len(v) || v[i] == '\n' {
						return "", false
					}
				}
				b = append(b, v[i])
			}
		case *syntax.SglQuoted:
			if !p.Dollar {
				b = append(b, p.Value...)
				continue
			}
			var exact bool
			if b, exact = ansiC(b, p.Value); !exact {
				return "", false
			}
		case *syntax.DblQuoted:
			if p.Dollar {
				return "", false
			}
			for _, q := range p.Parts {
				l, isLit := q.(*syntax.Lit)
				if !isLit || strings.Contains(l.Value, "\\\n") {
					return "", false
				}
				b = dqUnescape(b, l.Value)
			}
		default:
			return "", false
		}
	}
	return string(b), true
}

// heredoc walks the expansions of a here-document body; its text is data.
func (s *scan) heredoc(w *syntax.Word) {
	for _, p := range w.Parts {
		if _, ok := p.(*syntax.Lit); !ok {
			s.dquoted(p) // a body expands as "…" does
		}
	}
}

// dquoted walks p, a part inside double quotes (or of a here-document
// body). There bash reads single quotes in the word of ${x-…} and the
// other operators as plain characters and expands what they hold:
// "${x-'$(cmd)'}" runs cmd, which the parser takes for quoted text.
func (s *scan) dquoted(p syntax.WordPart) {
	if pe, ok := p.(*syntax.ParamExp); ok && quotesInWord(pe) {
		s.fail(pe.Pos(), "single quotes inside \"${x-…}\": bash reads them as plain characters there and expands what they hold; leave them out or use a variable")
		return
	}
	s.part(p)
}

// quotesInWord reports whether the word of pe's operator, or of one
// nested in it, has a single-quoted part.
func quotesInWord(pe *syntax.ParamExp) bool {
	if pe.Exp == nil || pe.Exp.Word == nil {
		return false
	}
	for _, p := range pe.Exp.Word.Parts {
		switch p := p.(type) {
		case *syntax.SglQuoted:
			if !p.Dollar { // $'…' is refused on its own
				return true
			}
		case *syntax.ParamExp:
			if quotesInWord(p) {
				return true
			}
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				if qe, ok := q.(*syntax.ParamExp); ok && quotesInWord(qe) {
					return true
				}
			}
		}
	}
	return false
}

// word walks w and returns its argv form: the unquoted text when w is a
// plain literal, else its source text. static reports which.
func (s *scan) word(w *syntax.Word, ctx wordCtx) (text string, static bool) {
	if !s.enter(w) {
		return "", false
	}
	defer s.leave()
	static = true
	glob, tilde, bracket, braces := false, false, false, false
	// Nested words append after this one's bytes and cut back when done.
	start := len(s.buf)
	for i, part := range w.Parts {
		switch p := part.(type) {
		case *syntax.Lit:
			// Plain bytes are copied in runs; the loop stops only at
			// the bytes that matter.
			v := p.Value
			from := 0
			for j := 0; j < len(v); j++ {
				c := v[j]
				if !litSpecial[c] {
					continue
				}
				switch c {
				case '\\':
					s.buf = append(s.buf, v[from:j]...)
					if j+1 < len(v) {
						j++
						if v[j] == ']' && bracket {
							glob = true
						}
						if v[j] == '\n' {
							// A line continuation: bash removes both.
							from = j + 1
							continue
						}
					}
					// Copy from the escaped byte on (from the backslash
					// itself when it ends the literal).
					from = j
					continue
				case '*', '?':
					glob = true
				case '[':
					bracket = true
				case ']':
					if bracket {
						glob = true
					}
				case '{':
					braces = true
				case '~':
					if (i == 0 && j == 0) || (j > 0 && (v[j-1] == '=' || v[j-1] == ':')) {
						tilde = true
					}
				}
			}
			s.buf = append(s.buf, v[from:]...)
		case *syntax.SglQuoted:
			if p.Dollar {
				var exact bool
				if s.buf, exact = ansiC(s.buf, p.Value); !exact {
					static = false
				}
			} else {
				s.buf = append(s.buf, p.Value...)
			}
			if bracket && strings.Contains(p.Value, "]") {
				glob = true
			}
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				if l, ok := q.(*syntax.Lit); ok {
					s.buf = dqUnescape(s.buf, l.Value)
					if bracket && strings.Contains(l.Value, "]") {
						glob = true
					}
					continue
				}
				static = false
				s.dquoted(q)
			}
		default:
			static = false
			s.part(part)
		}
	}
	if ctx&ctxExpand != 0 && glob {
		s.set(fGlob)
		static = false
	}
	if ctx&ctxTilde != 0 && tilde {
		s.set(fTilde)
		static = false
	}
	if ctx&ctxExpand != 0 && braces {
		cp := *w
		// The parser's brace splitting misses forms bash expands
		// (a{},} is "a}" "a" to bash), so any {…,…} or {…..…} counts.
		if (syntax.SplitBraces(&cp) && slices.ContainsFunc(cp.Parts, isBraceExp)) || mayExpandBraces(s.source(w)) {
			s.set(fBrace)
			static = false
		}
	}
	if static {
		text = unquoted(w, s.buf[start:])
	} else {
		text = s.source(w)
	}
	s.buf = s.buf[:start]
	return text, static
}

// unquoted returns b, the unquoted text of w, as a string: the value of
// w's only part when that already reads b, else a copy.
func unquoted(w *syntax.Word, b []byte) string {
	if len(w.Parts) == 1 {
		var v string
		switch p := w.Parts[0].(type) {
		case *syntax.Lit:
			v = p.Value
		case *syntax.SglQuoted:
			v = p.Value
		case *syntax.DblQuoted:
			if len(p.Parts) == 1 {
				if l, ok := p.Parts[0].(*syntax.Lit); ok {
					v = l.Value
				}
			}
		}
		if v == string(b) {
			return v
		}
	}
	return string(b)
}

// litSpecial marks the bytes of a literal that word looks at.
var litSpecial = [256]bool{'\\': true, '*': true, '?': true, '[': true, ']': true, '{': true, '~': true}

// mayExpandBraces reports whether src has a { with a , or .. after it and
// a } after that: what bash may take for a brace expansion.
func mayExpandBraces(src string) bool {
	i := strings.IndexByte(src, '{')
	j := strings.LastIndexByte(src, '}')
	if i < 0 || j < i {
		return false
	}
	in := src[i+1 : j]
	return strings.Contains(in, ",") || strings.Contains(in, "..")
}

func isBraceExp(p syntax.WordPart) bool {
	_, ok := p.(*syntax.BraceExp)
	return ok
}

// part walks a word part that is not literal text.
func (s *scan) part(p syntax.WordPart) {
	if !s.enter(p) {
		return
	}
	defer s.leave()
	switch p := p.(type) {
	case *syntax.Lit, *syntax.SglQuoted:
	case *syntax.DblQuoted:
		for _, q := range p.Parts {
			s.dquoted(q)
		}
	case *syntax.ParamExp:
		s.param(p)
	case *syntax.CmdSubst:
		if p.TempFile || p.ReplyVar {
			s.fail(p.Pos(), "unsupported command substitution")
			return
		}
		s.set(fCmdSubst)
		s.stmts(p.Stmts, p.Last, nil)
	case *syntax.ArithmExp:
		s.set(fArithmetic)
		s.arithm(p.X)
	case *syntax.ProcSubst:
		s.set(fProcSubst)
		s.stmts(p.Stmts, p.Last, nil)
	case *syntax.ExtGlob:
		s.set(fExtglob)
		// The parser keeps the pattern as raw text, so an expansion inside
		// it would hide from the walk: refuse it.
		if strings.ContainsAny(p.Pattern.Value, "$`") || strings.Contains(p.Pattern.Value, "<(") || strings.Contains(p.Pattern.Value, ">(") {
			s.fail(p.Pos(), "expansion inside an extended glob pattern")
		} else if strings.ContainsAny(p.Pattern.Value, `'"\`) {
			// Bash reads quotes in the pattern (@(')') is one pattern
			// to it); the parser ends the pattern at the first ).
			s.fail(p.Pos(), "quotes or a backslash inside an extended glob pattern")
		}
	default:
		s.fail(p.Pos(), "unsupported word part %T", p)
	}
}

func (s *scan) param(p *syntax.ParamExp) {
	s.set(fParamExp)
	if src := s.source(p); strings.Contains(src, "<(") || strings.Contains(src, ">(") {
		// Bash runs a process substitution in the word of ${x:-…} and
		// the other operators; the parser keeps it as text.
		s.fail(p.Pos(), "process substitution inside ${…}: bash runs it, the parser reads text")
		return
	}
	if strings.Contains(s.source(p), "$'") {
		// In "${x:-$'…'}" (and a here-document body) bash decodes $'…',
		// quotes the result and expands it again: $'$(cmd)' runs cmd.
		s.fail(p.Pos(), "$'…' inside ${…}: bash expands what it decodes again; assign the $'…' value to a variable first")
		return
	}
	if p.Flags != nil || p.NestedParam != nil || p.Width || p.IsSet || len(p.Modifiers) > 0 ||
		p.Split != syntax.OptUnset || p.GlobSubst != syntax.OptUnset || p.RcExpand != syntax.OptUnset {
		s.fail(p.Pos(), "unsupported parameter expansion")
		return
	}
	if p.Param == nil {
		s.fail(p.Pos(), "unsupported parameter expansion")
		return
	}
	if p.Excl || p.Length || p.Index != nil || p.Slice != nil || p.Repl != nil || p.Names != 0 || p.Exp != nil {
		s.set(fParamOp)
	}
	allKeys := false
	if p.Index != nil {
		if w, ok := p.Index.(*syntax.Word); ok {
			if l := w.Lit(); l == "@" || l == "*" {
				allKeys = true
			}
		}
		if !allKeys {
			s.arithm(p.Index)
		}
	}
	if p.Excl && !allKeys && p.Names == 0 {
		// ${!x} uses the value of x as a name, and a name with a
		// subscript is evaluated: x='a[$(cmd)]' runs cmd.
		s.hidden()
	}
	if p.Slice != nil {
		if p.Slice.Offset != nil {
			s.arithm(p.Slice.Offset)
		}
		if p.Slice.Length != nil {
			s.arithm(p.Slice.Length)
		}
	}
	if p.Repl != nil {
		if p.Repl.Orig != nil {
			s.word(p.Repl.Orig, 0)
		}
		if p.Repl.With != nil {
			s.word(p.Repl.With, ctxTilde)
		}
	}
	if p.Exp != nil {
		var text string
		static := true
		if p.Exp.Word != nil {
			text, static = s.word(p.Exp.Word, ctxTilde)
		}
		switch p.Exp.Op {
		case syntax.AssignUnset, syntax.AssignUnsetOrNull:
			if p.Excl {
				s.addVar(hpcgate.DynamicProgram)
			} else {
				s.addVar(p.Param.Value)
			}
		case syntax.OtherParamOps:
			// ${x@P} expands x as a prompt string, which runs $(…) in it.
			if !static || strings.ContainsRune(text, 'P') {
				s.hidden()
			}
		}
	}
}

// arithm walks an arithmetic expression. Bash evaluates the values of
// expansions inside it as expressions again, so an expansion there can
// assign any variable or run a command (a[$(cmd)]): that is hidden code.
func (s *scan) arithm(x syntax.ArithmExpr) {
	if !s.enter(x) {
		return
	}
	defer s.leave()
	switch x := x.(type) {
	case *syntax.BinaryArithm:
		if isArithmAssign(x.Op) {
			s.arithmVar(x.X)
			if x.Op == syntax.Assgn {
				// A plain assignment does not read its target; only a
				// subscript of it is evaluated.
				if w, ok := x.X.(*syntax.Word); ok && len(w.Parts) == 1 {
					switch p := w.Parts[0].(type) {
					case *syntax.Lit:
						s.arithm(x.Y)
						return
					case *syntax.ParamExp:
						if !p.Dollar.IsValid() {
							s.param(p)
							s.arithm(x.Y)
							return
						}
					}
				}
			}
		}
		s.arithm(x.X)
		s.arithm(x.Y)
	case *syntax.UnaryArithm:
		if x.Op == syntax.Inc || x.Op == syntax.Dec {
			s.arithmVar(x.X)
		}
		s.arithm(x.X)
	case *syntax.ParenArithm:
		s.arithm(x.X)
	case *syntax.Word:
		if numberParam(x) != 0 {
			return // $#, $?, $$, $!: a number or nothing
		}
		if len(x.Parts) == 1 {
			switch p := x.Parts[0].(type) {
			case *syntax.Lit:
				if !isNumber(p.Value) {
					// A name: bash evaluates its value as an expression,
					// recursively, and a subscript in it runs commands.
					s.hidden()
				}
				return
			case *syntax.ParamExp:
				if !p.Dollar.IsValid() {
					// a[i]: the value of an element, evaluated too.
					s.hidden()
					s.param(p)
					return
				}
			}
		}
		text, static := s.word(x, 0)
		if !static || strings.ContainsAny(text, "$`[") || !isNumber(text) {
			s.hidden()
		}
		if !static || strings.Contains(text, "=") || strings.Contains(text, "++") || strings.Contains(text, "--") {
			s.addVar(hpcgate.DynamicProgram)
		}
	default:
		s.fail(x.Pos(), "unsupported arithmetic expression %T", x)
	}
}

func isArithmAssign(op syntax.BinAritOperator) bool {
	switch op {
	case syntax.Assgn, syntax.AddAssgn, syntax.SubAssgn, syntax.MulAssgn, syntax.QuoAssgn, syntax.RemAssgn,
		syntax.AndAssgn, syntax.OrAssgn, syntax.XorAssgn, syntax.ShlAssgn, syntax.ShrAssgn,
		syntax.AndBoolAssgn, syntax.OrBoolAssgn, syntax.XorBoolAssgn, syntax.PowAssgn:
		return true
	}
	return false
}

// arithmVar records the variable an arithmetic assignment changes.
func (s *scan) arithmVar(x syntax.ArithmExpr) {
	if w, ok := x.(*syntax.Word); ok && len(w.Parts) == 1 {
		switch p := w.Parts[0].(type) {
		case *syntax.Lit:
			if syntax.ValidName(p.Value) {
				s.addVar(p.Value)
				return
			}
		case *syntax.ParamExp:
			if p.Param != nil && !p.Dollar.IsValid() {
				s.addVar(p.Param.Value)
				return
			}
		}
	}
	s.addVar(hpcgate.DynamicProgram)
}

func (s *scan) test(x syntax.TestExpr) {
	if !s.enter(x) {
		return
	}
	defer s.leave()
	switch x := x.(type) {
	case *syntax.BinaryTest:
		switch x.Op {
		case syntax.TsEql, syntax.TsNeq, syntax.TsLeq, syntax.TsGeq, syntax.TsLss, syntax.TsGtr:
			// Operands of arithmetic comparisons are evaluated as
			// expressions.
			s.arithmOperand(x.X)
			s.arithmOperand(x.Y)
			return
		}
		s.test(x.X)
		s.test(x.Y)
	case *syntax.UnaryTest:
		if x.Op == syntax.TsVarSet || x.Op == syntax.TsRefVar {
			// -v a[i] evaluates the subscript.
			if w, ok := x.X.(*syntax.Word); !ok || !isStatic(s, w) || strings.Contains(s.source(w), "[") {
				s.hidden()
			}
		}
		s.test(x.X)
	case *syntax.ParenTest:
		s.test(x.X)
	case *syntax.Word:
		s.word(x, ctxTilde)
	default:
		s.fail(x.Pos(), "unsupported test expression %T", x)
	}
}

func (s *scan) arithmOperand(x syntax.TestExpr) {
	if w, ok := x.(*syntax.Word); ok {
		s.arithm(w)
		return
	}
	s.hidden()
	s.test(x)
}

// invalid is the error for a command that is rejected at pos.
func invalid(pos syntax.Pos, format string, args ...any) *hpcgate.Error {
	return hpcgate.Errorf(hpcgate.CodeInvalidCommand, "invalid command at %s: %s", pos, fmt.Sprintf(format, args...))
}
