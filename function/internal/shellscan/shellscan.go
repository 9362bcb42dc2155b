package shellscan

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"mvdan.cc/sh/v3/syntax"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// Length limits of a command, in Unicode code points: the limits of the
// Command parameter of InvokeShellCommand (hpcgate's, the one place they
// are set). They apply to the command as given and to its canonical form.
const (
	MinLength = hpcgate.MinCommandLen
	MaxLength = hpcgate.MaxCommandLen
)

// analyser holds what one analysis reuses: the parser, the printer and
// their buffers. Analyses draw one from a pool, so none of it is shared.
type analyser struct {
	parser  *syntax.Parser
	printer *syntax.Printer
	reader  strings.Reader
	out     printBuf
	buf     []byte // scratch for unquoted words
}

var analysers = sync.Pool{New: func() any {
	return &analyser{
		parser:  syntax.NewParser(syntax.Variant(syntax.LangBash), syntax.KeepComments(true)),
		printer: syntax.NewPrinter(),
	}
}}

// Analyze parses command (bash dialect) and reports what it would run. Errors are *hpcgate.Error
// with Code hpcgate.CodeInvalidCommand, Status 400, Source "gate", Message naming position+reason.
//
// The facts describe Canonical, the command printed from the parsed tree,
// which is what must be sent to E-HPC: Analyze parses the canonical form
// again, checks that printing is stable, and analyses that tree.
func Analyze(command string) (hpcgate.Analysis, error) {
	if err := validate(command); err != nil {
		return hpcgate.Analysis{}, err
	}
	an := analysers.Get().(*analyser)
	defer an.release()

	f, err := an.parse(command)
	if err != nil {
		return hpcgate.Analysis{}, parseError(err)
	}
	if len(f.Stmts) == 0 {
		return hpcgate.Analysis{}, hpcgate.Errorf(hpcgate.CodeInvalidCommand, "invalid command: it has nothing to run")
	}
	if strings.ContainsAny(command, "`#(") || strings.Contains(command, "<<") {
		if err := readsAsBash(command, f, 0); err != nil {
			return hpcgate.Analysis{}, err
		}
	}
	canonical, g, err := an.canonicalize(command, f)
	if err != nil {
		return hpcgate.Analysis{}, err
	}
	if canonical != command {
		// What runs is the canonical form: it holds to the same rules.
		if err := validate(canonical); err != nil {
			return hpcgate.Analysis{}, err
		}
	}
	s := an.walk(g, canonical)
	if s.err != nil {
		return hpcgate.Analysis{}, s.err
	}
	a := hpcgate.Analysis{
		Canonical:         canonical,
		Simple:            s.simple,
		Features:          make([]string, 0, 4),
		Programs:          set(s.programs),
		CommandLines:      set(s.commandLines()),
		OutputRedirects:   set(s.outs),
		InputRedirects:    set(s.ins),
		AssignedVariables: set(s.vars),
	}
	if a.Simple == nil {
		a.Simple = []hpcgate.SimpleCommand{}
	}
	for f, on := range s.features {
		if on {
			a.Features = append(a.Features, featureNames[f])
		}
	}
	slices.Sort(a.Features)
	return a, nil
}

// readsAsBash refuses a command whose text bash reads otherwise than the
// parser, where the canonical form printed from the parser's tree would
// mean something else than the command:
//
//   - a `…` substitution that bash ends elsewhere: bash ends it at the
//     first backquote no backslash escapes, inside quotes and here-document
//     bodies too (`echo 'a`; cmd; `'` runs cmd), then reads the text
//     between again, with \$ \` \\ unescaped, for the substitutions nested
//     in it;
//   - a comment that ends in a backslash, which the parser joins to the
//     next line and bash does not (x=1 # x\⏎cmd runs cmd);
//   - a # right after the ) of an array, a word to bash (a=(1)#x);
//   - a process substitution inside the word of a redirection or of an
//     indexed array element, which the printer splits off into a word of
//     its own (cat <<< a<(cmd) becomes cat <<<a <(cmd));
//   - a here-document body that does not start on the line after its
//     operator (cat <<'EOF'; echo "a⏎b"), which the printer misplaces.
func readsAsBash(command string, f *syntax.File, depth int) error {
	var err error
	inBackquotes := 0
	var open []bool // per node walked: a backquote substitution
	var hdocs []*syntax.Redirect
	syntax.Walk(f, func(n syntax.Node) bool {
		if n == nil {
			if open[len(open)-1] {
				inBackquotes--
			}
			open = open[:len(open)-1]
			return true
		}
		if err != nil {
			return false
		}
		bq := false
		switch n := n.(type) {
		case *syntax.Comment:
			// The parser has already joined the lines: look at the text.
			line, _, _ := strings.Cut(command[n.Hash.Offset():], "\n")
			if strings.HasSuffix(line, "\\") {
				err = invalid(n.Hash, "a comment that ends in a backslash: bash ends it at the line, the parser joins the next line to it; remove the backslash")
			}
		case *syntax.CmdSubst:
			if !n.Backquotes {
				break
			}
			bq = true
			if inBackquotes == 0 {
				err = backquoteEnds(command, n, depth)
			}
		case *syntax.ArrayElem:
			if n.Index != nil && hasProcSubst(n.Value, 0) {
				err = invalid(n.Value.Pos(), "a process substitution in an indexed array element: printed, it becomes an element of its own; assign it separately")
			}
		case *syntax.ArrayExpr:
			if i := int(n.Rparen.Offset()) + 1; i < len(command) && command[i] == '#' {
				err = invalid(n.Rparen, "a # right after the ) of an array: bash reads it as part of the word, the parser as a comment; put a space before it")
			}
		case *syntax.Redirect:
			if n.Hdoc != nil {
				hdocs = append(hdocs, n)
			}
			if hasProcSubst(n.Word, 1) {
				err = invalid(n.Word.Pos(), "a process substitution after text in the word of a redirection: printed, it becomes a word of its own; put it first or quote the text")
			}
		}
		open = append(open, bq)
		if bq {
			inBackquotes++
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	for _, r := range hdocs {
		op := int(r.OpPos.Offset())
		nl := strings.IndexByte(command[op:], '\n') + op
		start := int(r.Hdoc.Pos().Offset())
		if start == nl+1 || slices.ContainsFunc(hdocs, func(o *syntax.Redirect) bool { return int(o.Hdoc.End().Offset())+1 == start }) {
			continue
		}
		return invalid(r.OpPos, "the line of this here-document goes on past its end (a quote across lines): bash and the printer place the body differently; end the line first")
	}
	return nil
}

// hasProcSubst reports whether a part of w from the from-th on is a
// process substitution.
func hasProcSubst(w *syntax.Word, from int) bool {
	if w == nil {
		return false
	}
	for i, p := range w.Parts {
		if _, ok := p.(*syntax.ProcSubst); ok && i >= from {
			return true
		}
	}
	return false
}

// backquoteEnds checks that bash ends the `…` substitution cs of command
// where the parser does, and so the substitutions nested in it.
func backquoteEnds(command string, cs *syntax.CmdSubst, depth int) error {
	from, to := int(cs.Left.Offset())+1, int(cs.Right.Offset())
	end := from
	var inner []byte
	for end < len(command) && command[end] != '`' {
		c := command[end]
		if c == '\\' && end+1 < len(command) {
			end++
			if n := command[end]; n != '$' && n != '`' && n != '\\' {
				inner = append(inner, c)
			}
			c = command[end]
		}
		inner = append(inner, c)
		end++
	}
	if end != to {
		return invalid(cs.Left, "bash ends this `…` substitution at the first unescaped backquote, inside quotes too; use $(…)")
	}
	if depth >= maxBackquotes {
		return invalid(cs.Left, "backquotes nested deeper than %d levels; use $(…)", maxBackquotes)
	}
	g, err := syntax.NewParser(syntax.Variant(syntax.LangBash), syntax.KeepComments(true)).Parse(bytes.NewReader(inner), "")
	if err != nil {
		return invalid(cs.Left, "bash reads this `…` substitution as %q, which does not parse; use $(…)", inner)
	}
	if err := readsAsBash(string(inner), g, depth+1); err != nil {
		return invalid(cs.Left, "in the `…` substitution here, as bash reads it again: %s", strings.TrimPrefix(err.(*hpcgate.Error).Message, "invalid command "))
	}
	return nil
}

// maxBackquotes bounds the nesting of `…` substitutions.
const maxBackquotes = 8

// release returns an to the pool with its buffers, unless they grew large.
func (an *analyser) release() {
	an.reader.Reset("")
	an.out = printBuf{buf: an.out.buf[:0]}
	if cap(an.out.buf) > 8*MaxLength {
		an.out.buf = nil
	}
	if cap(an.buf) > 8*MaxLength {
		an.buf = nil
	}
	analysers.Put(an)
}

func (an *analyser) parse(text string) (*syntax.File, error) {
	an.reader.Reset(text)
	return an.parser.Parse(&an.reader, "")
}

// maxPrints bounds the rounds of printing and parsing that may reach a
// fixed point; the printer reaches it in one round for all but odd inputs.
const maxPrints = 3

// canonicalize prints the tree f of command until the text is a fixed
// point (printing its own tree gives it back) and returns that text and its
// tree. What runs is then what is analysed: the facts come from the tree of
// the very text sent to E-HPC, and analysing that text again gives the same
// facts. A command that is already canonical is its own tree.
func (an *analyser) canonicalize(command string, f *syntax.File) (string, *syntax.File, error) {
	text := command
	for range maxPrints {
		printed, same, err := an.print(f, text)
		if err != nil {
			return "", nil, err
		}
		if same {
			return text, f, nil
		}
		if n := utf8.RuneCountInString(printed); n < MinLength || n > MaxLength {
			return "", nil, hpcgate.Errorf(hpcgate.CodeInvalidCommand, "invalid command: its canonical form is %d characters (Unicode code points); it must be %d to %d", n, MinLength, MaxLength)
		}
		text = printed
		if f, err = an.parse(text); err != nil {
			break
		}
	}
	return "", nil, hpcgate.Errorf(hpcgate.CodeInvalidCommand, "invalid command: it has no stable canonical form")
}

// walk walks f, the tree of src, and returns what it found.
func (an *analyser) walk(f *syntax.File, src string) scan {
	s := newScan(src, an.buf)
	s.stmts(f.Stmts, f.Last, nil)
	s.finish()
	an.buf = s.buf
	return s
}

// print prints f without its final newline and reports whether that gives
// text back; a text that is already canonical is then not copied.
func (an *analyser) print(f *syntax.File, text string) (printed string, same bool, err error) {
	an.out = printBuf{want: text, buf: an.out.buf[:0]}
	if err := an.printer.Print(&an.out, f); err != nil {
		return "", false, hpcgate.Errorf(hpcgate.CodeInvalidCommand, "invalid command: it cannot be printed")
	}
	printed = an.out.text()
	return printed, printed == text, nil
}

// printBuf receives the printer's output. As long as the output agrees
// with want followed by a newline it only counts bytes; from the first
// difference on it keeps a copy.
type printBuf struct {
	want   string
	n      int  // bytes received that agree with want+"\n"
	copied bool // buf holds the output
	buf    []byte
}

func (w *printBuf) Write(p []byte) (int, error) {
	if !w.copied {
		if w.agrees(p) {
			w.n += len(p)
			return len(p), nil
		}
		w.copied = true
		if c := len(w.want) + len(w.want)/4 + 64; cap(w.buf) < c {
			w.buf = make([]byte, 0, c)
		}
		w.buf = append(w.buf[:0], w.want[:min(w.n, len(w.want))]...)
		if w.n > len(w.want) {
			w.buf = append(w.buf, '\n')
		}
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// agrees reports whether p continues want+"\n" at offset n.
func (w *printBuf) agrees(p []byte) bool {
	end := w.n + len(p)
	switch {
	case len(p) == 0:
		return true
	case end > len(w.want)+1:
		return false
	case end == len(w.want)+1:
		if p[len(p)-1] != '\n' {
			return false
		}
		p = p[:len(p)-1]
	}
	return w.want[w.n:w.n+len(p)] == string(p)
}

// text returns the output without its final newline.
func (w *printBuf) text() string {
	switch {
	case w.copied:
		return strings.TrimSuffix(string(w.buf), "\n")
	case w.n > len(w.want):
		return w.want
	}
	return strings.TrimSuffix(w.want[:w.n], "\n")
}

// set sorts and deduplicates xs in place; nil becomes empty.
func set(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	slices.Sort(xs)
	return slices.Clip(slices.Compact(xs))
}

func parseError(err error) error {
	var msg string
	switch e := err.(type) {
	case syntax.ParseError:
		msg = fmt.Sprintf("invalid command at %s: does not parse: %s", e.Pos, e.Text)
	case syntax.LangError:
		msg = fmt.Sprintf("invalid command: does not parse: %s", e.Error())
	default:
		msg = "invalid command: does not parse: " + err.Error()
	}
	return &hpcgate.Error{Code: hpcgate.CodeInvalidCommand, Message: msg, Source: hpcgate.SourceGate, Status: hpcgate.HTTPStatusOf(hpcgate.CodeInvalidCommand), Err: err}
}

// validate rejects, before any parsing, what no command may contain and
// what the API would refuse.
func validate(command string) error {
	if len(command) > MaxLength*utf8.UTFMax {
		return lengthError(utf8.RuneCountInString(command))
	}
	line, col := 1, 1
	n := 0
	for i := 0; i < len(command); {
		// Printable ASCII, tab and newline: the bytes of almost every command.
		if c := command[i]; c >= 0x20 && c < 0x7f || c == '\t' {
			col++
			n++
			i++
			continue
		} else if c == '\n' {
			line, col = line+1, 1
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(command[i:])
		if r == utf8.RuneError && size == 1 {
			return charError(line, col, i, "invalid UTF-8 byte 0x%02X", command[i])
		}
		if why := forbidden(r); why != "" {
			return charError(line, col, i, "%s U+%04X is not allowed", why, r)
		}
		if next := i + size; swallowed(command, next) {
			return charError(line, col, i, "%q right after the non-ASCII character U+%04X reads differently in double-byte locales (GBK, Big5, Shift_JIS); put a space or a quote between them", command[next], r)
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col += size
		}
		n++
		i += size
	}
	if n < MinLength || n > MaxLength {
		return lengthError(n)
	}
	return nil
}

// swallowed reports whether the byte at i, right after a non-ASCII
// character, may change how bash reads the command if a double-byte
// locale (GBK, Big5, Shift_JIS) reads it as the last byte of that
// character: a backquote, a } or ] that closes ${…} or a[…] ("${x:-丁}
// #}; cmd" runs cmd), or a backslash that escapes something other than a
// letter, a digit or _ ("€\"; cmd #" runs cmd; "完成\n" is the
// same either way).
func swallowed(command string, i int) bool {
	if i >= len(command) {
		return false
	}
	switch command[i] {
	case '`', '}', ']':
		return true // a closer swallowed extends ${…} or a[…] past it
	case '\\':
		if i+1 >= len(command) {
			return true
		}
		c := command[i+1]
		return !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80)
	}
	return false
}

// forbidden names the class of a character no command may contain, or
// returns "" (hpcgate.ForbiddenRune: working directories obey the same rule).
func forbidden(r rune) string { return hpcgate.ForbiddenRune(r) }

func charError(line, col, offset int, format string, args ...any) error {
	return hpcgate.Errorf(hpcgate.CodeInvalidCommand, "invalid command at %d:%d (byte %d): %s",
		line, col, offset, fmt.Sprintf(format, args...))
}

func lengthError(n int) error {
	return hpcgate.Errorf(hpcgate.CodeInvalidCommand, "invalid command: it is %d characters (Unicode code points); it must be %d to %d", n, MinLength, MaxLength)
}
