// Package shellscan parses shell commands with mvdan.cc/sh (bash dialect)
// and reports what they would run, for the policy to judge.
//
// # Rejected input
//
// Analyze rejects, before parsing, a command that is not valid UTF-8 or
// that contains a NUL byte, a C0 control character other than TAB and LF
// (CR included), DEL, a C1 control character (U+0080–U+009F), a Unicode
// format character (category Cf: zero-width spaces and joiners, bidi
// overrides and isolates, BOM, soft hyphen, …) or U+2028/U+2029; and one
// whose length, counted in Unicode code points, is below MinLength or above
// MaxLength. It then rejects what does not parse, what has nothing to run
// (only blanks and comments), a canonical form outside the length limits
// or without a fixed point, nesting deeper than 256 levels (one level per
// statement, word, expansion and sub-expression), an expansion inside an
// extended glob pattern (the parser keeps such patterns as raw text) and
// the few constructs of other dialects, a word the parser takes for an
// assignment whose name is not a valid identifier (bash takes it for a
// word), an unquoted here-document body with a line ending in a
// backslash or with a line equal to its delimiter before the last (inside
// a substitution the parser reads across it; bash ends the body there),
// time followed by -- (bash skips the -- and reads a pipeline
// after it, the parser takes -- for the command) and time after | or |&
// (bash runs the time program there, the parser sees the keyword). Every
// error is an *hpcgate.Error with code InvalidCommand and status 400 whose
// message names the position (line:column, columns in bytes) and the
// reason.
//
// # Canonical form
//
// Analysis.Canonical is the command printed from its syntax tree by
// syntax.NewPrinter with default options (tab indentation, one statement per
// line, comments kept, backquotes printed as $(…)), without the final
// newline. It is what the gateway sends to E-HPC. The facts are computed on
// the tree of the canonical text itself (parsed again when it differs from
// the input), so they describe exactly what runs. Printing is stable:
// canonical(canonical(x)) == canonical(x), and x and its canonical form give
// the same analysis; the fuzz target FuzzAnalyze checks both.
//
// # Simple commands
//
// A simple command is found anywhere: in pipelines, lists, subshells,
// blocks, if/while/until/for/select/case bodies, function bodies, command
// and process substitutions, and in the words of arguments, assignments,
// array elements, redirection targets, here-strings, unquoted here-document
// bodies, parameter-expansion operands, test clauses and arithmetic. The
// declaration builtins (declare, typeset, local, export, readonly) and let
// are simple commands too, with their program name. time, !, coproc and
// [[ ]] are keywords, not programs: the command after them is reported.
//
// Each argv element is the word after quote removal when the word is a
// plain literal: single quotes, double quotes, backslashes and $'…' (ANSI-C
// escapes decoded as bash does, cut at the first NUL byte as bash does;
// \u escapes are encoded as UTF-8) are resolved; $"…" is read as "…". A
// word with any expansion — parameter, command, arithmetic or process
// substitution, pathname expansion (unquoted * ? or […]), brace expansion
// ({a,b}, {1..3}), tilde (a leading ~, or ~ after = or :) or an extended
// glob — is kept as its source text in the canonical form ("$HOME",
// "*.log").
//
// Analysis.Simple lists the simple commands in the order the walk meets
// them. Argv holds the words (for a declaration builtin, its arguments in
// the form described for assignments; for let, its expressions as
// written). Assignments holds the assignments
// of the command: prefix assignments (PATH=/tmp ls), standalone ones (a=1)
// and the arguments of declaration builtins, each written NAME=value or
// NAME+=value with the value unquoted like an argv element, as its source
// text when it has an index, an array or an expansion, and as NAME alone
// for "declare NAME"; options such as -x are not assignments. Redirects
// holds {op, target}: op is the operator with its descriptor prefix ("2>",
// "{fd}>", ">&", "<<<"), target the word like an argv element (the
// delimiter for a here-document). A command inherits the redirections of
// the compound commands around it ({ a; b; } >f gives both a and b "> f"),
// up to the nearest substitution. A statement made only of redirections
// (">/etc/passwd") is a simple command with an empty argv.
//
// # Condition keys
//
//   - Programs (hpcgate:Program): argv[0] of every simple command with a
//     non-empty argv, and the program each wrapper in it starts (Wrappers
//     lists them: command, env, timeout, xargs, sudo, find -exec, …);
//     hpcgate.DynamicProgram ("<dynamic>") when argv[0] is not a plain
//     literal. "<dynamic>" is also added, with the feature
//     dynamic-command-word, wherever bash may run code the analyser cannot
//     see, so that it never passes an allow-list: a name or an expansion
//     read in arithmetic (whose value bash evaluates, and a[$(cmd)] in it
//     runs cmd), an assignment to an integer variable or declare -i/-n, a
//     variable name given to a builtin (test -v, printf -v, read,
//     mapfile, declare…, unset, getopts, wait -p) that is not plain, a
//     value "(…)" (or one that may expand to it) given to a declaration
//     builtin with -a/-A, or to declare/typeset/local for a variable
//     that may be an array (bash's own, or one the command names
//     elsewhere), which bash reads as a compound assignment, a
//     word that expands where it may be such an option, eval, source, trap
//     with an action, fc, bind, enable -f, hash -p, complete/compgen
//     -C/-F/-W, mapfile -C, alias definitions, set -k/-H (or -o
//     keyword/histexpand, also through shopt -s -o), after which bash
//     reads later words differently, ${!name}, ${x@P},
//     assignments to variables bash runs as code (PS0–PS4,
//     PROMPT_COMMAND, BASH_ENV, ENV, SHELLOPTS, BASHOPTS, BASH_ALIASES,
//     BASH_CMDS, …) and wrapper options it cannot read.
//   - CommandLines (hpcgate:CommandLine): the argv of every simple command
//     with a non-empty argv, and the command each wrapper starts, joined
//     by one space. Assignments and
//     redirections are not words. Arguments that contain spaces are
//     indistinguishable from several arguments here: use Simple for that.
//   - Features (hpcgate:ShellFeature): the constructs used, from the fixed
//     list Features returns. sequence means two or more statements in one
//     list (";", "&" or a newline between them); a trailing ";" is not one.
//     assignment is set whenever AssignedVariables is not empty (so a for
//     loop sets it too). glob, brace-expansion and tilde are reported only
//     where bash performs those expansions (arguments, for items, array
//     elements, redirection targets; tilde also in assignment values), not
//     for patterns of case and [[ ]]. arithmetic covers (( )), $(( )), let
//     and C-style for. fd-redirect covers >&N, <&N, >&-, N>&M-, {var}>
//     and |&. heredoc covers <<, <<- and <<<.
//   - OutputRedirects (hpcgate:OutputRedirect): the targets of >, >>, >|,
//     &>, &>>, N>, <> and of >&word when word is not a descriptor number or
//     "-" (a word with an expansion counts as a file, and as fd-redirect).
//   - InputRedirects (hpcgate:InputRedirect): the sources of <, <> and
//     <&word when word is not a descriptor number or "-".
//   - AssignedVariables (hpcgate:AssignedVariable): every variable a
//     command assigns, prefixes or declares: prefix and standalone
//     assignments, arguments of declare/typeset/local/export/readonly (also
//     as plain commands such as \export), for/select loop variables,
//     arithmetic assignments (x=1, x+=1, x++), ${x:=v} and ${x=v}, {fd}>
//     redirections, and coproc names (COPROC by default). "<dynamic>" when
//     the name is known only at run time (export $x=1, arithmetic with
//     expansions, let as a plain command).
//
// Every key slice is sorted and without duplicates; none is nil.
//
// # What the analyser cannot know
//
// The analysis is static. Policy authors must allow-list, never deny-list,
// and keep these limits in mind:
//   - What a program does with its arguments. Programs that run other
//     programs and are not unwrapped (sh -c, interpreters, ssh, srun, su,
//     flock, watch, sort --compress-program, find -exec {} …) report only
//     themselves: a policy must not allow them with arbitrary arguments.
//   - Variables programs read as code (LD_*, PATH, GCONV_PATH, PYTHON*, …):
//     their assignments are in AssignedVariables; allow-list them.
//   - Functions and aliases defined elsewhere (a profile on the node) or
//     earlier in the same command: "squeue(){ rm -rf /; }; squeue" reports
//     function-definition and rm, but a bare "squeue" may be a function
//     the node defines (deny function-definition where that matters).
//     Alias definitions in the command are <dynamic>.
//   - Values of variables from the environment, and word splitting and
//     pathname expansion of unquoted expansions: "ls $x" may pass several
//     arguments.
//   - $"…" is looked up in a message catalogue when TEXTDOMAIN is set;
//     it is read as a plain double-quoted string.
//   - Here-document bodies with a quoted delimiter are data; the program
//     that reads them (cat, bash, python) decides what they mean. An
//     unquoted body with a line ending in a backslash is refused: bash
//     joins such lines before it looks for the delimiter. So is one in
//     which a substitution spans a line equal to the delimiter: bash
//     finds the delimiter line first and runs what follows as commands.
//   - The dialect is bash. A node that ran commands with a POSIX sh (dash)
//     would read $'…', [[ ]] and other bash syntax differently.
//   - The parser is mvdan.cc/sh, not bash. It parses extended globs
//     whatever shopt says, and rejects a few forms bash accepts (e.g.
//     unquoted associative-array keys with spaces); sending the canonical
//     form keeps the parse that was analysed authoritative.
package shellscan
