package shellscan

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

const dyn = hpcgate.DynamicProgram

// fact is one expected analysis; a nil list is not checked, an empty list
// must be empty.
type fact struct {
	cmd       string
	programs  []string
	lines     []string
	features  []string
	outputs   []string
	inputs    []string
	variables []string
	canonical string // "" = not checked
}

func l(xs ...string) []string { return append([]string{}, xs...) }

var analyses = map[string]fact{
	// Plain commands and separators.
	"simple command":            {cmd: "squeue -u alice", programs: l("squeue"), lines: l("squeue -u alice"), features: l(), outputs: l(), inputs: l(), variables: l(), canonical: "squeue -u alice"},
	"typical pipeline":          {cmd: typical, programs: l("head", "squeue"), lines: l("head", "squeue -u alice --format %i %j %T"), features: l("pipe")},
	"pipe of stderr too":        {cmd: "make |& tee log", programs: l("make", "tee"), features: l("fd-redirect", "pipe")},
	"semicolon sequence":        {cmd: "squeue; rm -rf /", programs: l("rm", "squeue"), lines: l("rm -rf /", "squeue"), features: l("sequence")},
	"newline sequence":          {cmd: "squeue\nrm -rf /", programs: l("rm", "squeue"), features: l("sequence")},
	"and list":                  {cmd: "squeue && rm x", programs: l("rm", "squeue"), features: l("and-or")},
	"or list":                   {cmd: "squeue || rm x", programs: l("rm", "squeue"), features: l("and-or")},
	"background":                {cmd: "sleep 10 & squeue", programs: l("sleep", "squeue"), features: l("background", "sequence")},
	"trailing semicolon":        {cmd: "squeue;", programs: l("squeue"), features: l(), canonical: "squeue"},
	"escaped semicolon":         {cmd: `squeue\;rm`, programs: l("squeue;rm"), lines: l("squeue;rm"), features: l()},
	"quoted separator":          {cmd: `squeue "-u;rm -rf /"`, programs: l("squeue"), lines: l("squeue -u;rm -rf /"), features: l()},
	"comment hides nothing":     {cmd: "squeue # ; rm -rf /", programs: l("squeue"), lines: l("squeue"), features: l("comment")},
	"comment line then cmd":     {cmd: "# list jobs\nsqueue", programs: l("squeue"), features: l("comment")},
	"hash inside word":          {cmd: "echo a#b", programs: l("echo"), lines: l("echo a#b"), features: l()},
	"line continuation":         {cmd: "sque\\\nue -u alice", programs: l("squeue"), lines: l("squeue -u alice")},
	"negation":                  {cmd: "! grep -q x f", programs: l("grep"), features: l("negation")},
	"time prefix":               {cmd: "time rm -rf /", programs: l("rm"), features: l("time")},
	"coproc":                    {cmd: "coproc rm -rf /", programs: l("rm"), features: l("assignment", "background"), variables: l("COPROC")},
	"named coproc":              {cmd: "coproc X { rm -rf /; }", programs: l("rm"), variables: l("X")},
	"nonbreaking space is data": {cmd: "rm\u00a0-rf", programs: l("rm\u00a0-rf")},

	// Quoting tricks: the program is the unquoted word.
	"empty single quotes":  {cmd: "r''m -rf /", programs: l("rm"), lines: l("rm -rf /")},
	"empty double quotes":  {cmd: `r""m -rf /`, programs: l("rm")},
	"backslash":            {cmd: `\rm -rf /`, programs: l("rm")},
	"quoted letter":        {cmd: `"r"m -rf /`, programs: l("rm")},
	"single quoted":        {cmd: `'rm' -rf /`, programs: l("rm")},
	"ansi-c hex":           {cmd: `$'\x72m' -rf /`, programs: l("rm"), lines: l("rm -rf /"), features: l()},
	"ansi-c octal":         {cmd: `$'\162\155' x`, programs: l("rm")},
	"ansi-c unicode":       {cmd: `$'\u0072\U0000006d' x`, programs: l("rm")},
	"ansi-c hex braces":    {cmd: `$'\x{72}m' x`, programs: l("rm")},
	"ansi-c NUL truncates": {cmd: `$'rm\0junk' -rf /`, programs: l("rm")},
	"ansi-c control":       {cmd: `echo $'a\cAb'`, lines: l("echo a\x01b")},
	"locale quotes":        {cmd: `$"rm" -rf /`, programs: l("rm")},
	"double quote escapes": {cmd: `echo "a\$b\"c\\d\e"`, lines: l(`echo a$b"c\d\e`)},
	"fullwidth letters":    {cmd: "ｒｍ -rf /", programs: l("ｒｍ"), lines: l("ｒｍ -rf /")},
	"keyword quoted":       {cmd: `"if" x`, programs: l("if")},

	// Wrappers are programs too, and so is what they run.
	"command wrapper": {cmd: "command rm -rf /", programs: l("command", "rm"), lines: l("command rm -rf /", "rm -rf /")},
	"env wrapper":     {cmd: "env rm -rf /", programs: l("env", "rm")},
	"exec wrapper":    {cmd: "exec rm -rf /", programs: l("exec", "rm")},
	"builtin wrapper": {cmd: "builtin eval rm", programs: l(dyn, "builtin", "eval")},
	"eval":            {cmd: `eval "rm -rf /"`, programs: l(dyn, "eval"), lines: l("eval rm -rf /")},
	"sudo":            {cmd: "sudo -u root rm -rf /", programs: l("rm", "sudo")},
	"xargs":           {cmd: "echo / | xargs rm -rf", programs: l("echo", "rm", "xargs")},
	"nohup timeout":   {cmd: "nohup timeout 5 rm -rf /", programs: l("nohup", "rm", "timeout"), lines: l("nohup timeout 5 rm -rf /", "rm -rf /", "timeout 5 rm -rf /")},
	"bash -c":         {cmd: `bash -c 'rm -rf /'`, programs: l("bash"), lines: l("bash -c rm -rf /")},
	"alias":           {cmd: "alias squeue='rm -rf /'", programs: l(dyn, "alias"), lines: l("alias squeue=rm -rf /")},
	"source":          {cmd: ". ./x.sh", programs: l(".", dyn)},
	"timeout shell":   {cmd: "timeout 10 bash", programs: l("bash", "timeout"), lines: l("bash", "timeout 10 bash")},
	"env assigns":     {cmd: "env -i X=1 sh -c x", programs: l("env", "sh"), lines: l("env -i X=1 sh -c x", "sh -c x"), variables: l("X")},
	"env split":       {cmd: "env -S 'sh -c x'", programs: l(dyn, "env")},
	"wrapper by path": {cmd: "/usr/bin/nice -n 5 /bin/sh x", programs: l("/bin/sh", "/usr/bin/nice")},
	"unknown option":  {cmd: "timeout --bogus 5 sh", programs: l(dyn, "timeout")},
	"command -v":      {cmd: "command -v rm", programs: l("command")},
	"xargs default":   {cmd: "xargs < list", programs: l("echo", "xargs")},
	"xargs replace":   {cmd: "xargs -I{} {} < list", programs: l(dyn, "xargs")},
	"find exec":       {cmd: `find . -name '*.c' -exec grep -l main {} +`, programs: l("find", "grep")},
	"find exec {}":    {cmd: `find . -exec {} \;`, programs: l(dyn, "find")},
	"sudo shell":      {cmd: "sudo -s", programs: l(dyn, "sudo")},
	"trap action":     {cmd: "trap 'rm x' EXIT", programs: l(dyn, "trap")},
	"trap reset":      {cmd: "trap - EXIT", programs: l("trap")},
	"hash -p":         {cmd: "hash -p /bin/sh ls", programs: l(dyn, "hash")},

	// Dynamic command words.
	"variables":            {cmd: "a=r; b=m; $a$b -rf /", programs: l(dyn), lines: l("$a$b -rf /"), features: l("assignment", "dynamic-command-word", "parameter-expansion", "sequence"), variables: l("a", "b")},
	"command substitution": {cmd: "sq$(echo ue)ue", programs: l(dyn, "echo"), lines: l("echo ue", "sq$(echo ue)ue"), features: l("command-substitution", "dynamic-command-word")},
	"backquotes":           {cmd: "`echo rm` -rf /", programs: l(dyn, "echo"), features: l("command-substitution", "dynamic-command-word"), canonical: "$(echo rm) -rf /"},
	"IFS":                  {cmd: "rm${IFS}-rf${IFS}/", programs: l(dyn), features: l("dynamic-command-word", "parameter-expansion")},
	// Option values and skipped operands that may become several words
	// (or none) move the program: env -u {x,true} false runs true.
	"env value braces":       {cmd: "env -u {x,true} false", programs: l(dyn, "env")},
	"timeout operand splits": {cmd: "y=' true'; timeout 5$y false", programs: l(dyn, "timeout")},
	"nice value braces":      {cmd: "nice -n {5,true} false", programs: l(dyn, "nice")},
	"exec -a empty $!":       {cmd: "exec -a $! touch hit", programs: l(dyn, "exec")},
	"wait for the last job":  {cmd: "sleep 1 & wait $!", programs: l("sleep", "wait")},
	// Assignments that change how bash reads later lines.
	"locale GBK":               {cmd: "LC_ALL=zh_CN.GBK\necho x", programs: l(dyn, "echo")},
	"locale without charset":   {cmd: "export LANG=zh_CN; echo x", programs: l(dyn, "echo", "export")},
	"locale appended":          {cmd: "LANG+=.GBK; echo x", programs: l(dyn, "echo")},
	"locale unknown":           {cmd: "read LC_CTYPE; echo x", programs: l(dyn, "echo", "read")},
	"locale UTF-8":             {cmd: "export LC_ALL=en_US.UTF-8 LANG=C; LC_CTYPE=zh_CN.utf8 sort x", programs: l("export", "sort")},
	"env locale C":             {cmd: "env LC_ALL=C sort -u x", programs: l("env", "sort")},
	"posix mode":               {cmd: "set -o posix\necho x", programs: l(dyn, "echo", "set")},
	"POSIXLY_CORRECT":          {cmd: ": ${POSIXLY_CORRECT:=1}", programs: l(":", dyn)},
	"compat level":             {cmd: "BASH_COMPAT=31; echo x", programs: l(dyn, "echo")},
	"compat shopt":             {cmd: "shopt -s compat31\necho x", programs: l(dyn, "echo", "shopt")},
	"extglob shopt":            {cmd: "shopt -s extglob\necho x", programs: l("echo", "shopt")},
	"IFS digits":               {cmd: "IFS=0; (exit 101); exec -- $? touch hit 1", programs: l(dyn, "exec", "exit")},
	"IFS unknown":              {cmd: "read IFS; echo $?", programs: l(dyn, "echo", "read")},
	"IFS comma":                {cmd: "IFS=, read -r a b <<< \"$x\"; echo $? $#", programs: l("echo", "read")},
	"redirection variable":     {cmd: "x='b[$(touch hit)]'; exec {a[x]}>/dev/null", programs: l(dyn, "exec")},
	"IFS assignment":           {cmd: "IFS=,; x=rm,-rf; $x", programs: l(dyn), variables: l("IFS", "x")},
	"brace expansion":          {cmd: "{rm,-rf,/}", programs: l(dyn), lines: l("{rm,-rf,/}"), features: l("brace-expansion", "dynamic-command-word")},
	"glob":                     {cmd: "/???/r? -rf /", programs: l(dyn), features: l("dynamic-command-word", "glob")},
	"bracket glob":             {cmd: "/bin/r[m] x", programs: l(dyn), features: l("dynamic-command-word", "glob")},
	"star glob":                {cmd: "/usr/bin/sque* x", programs: l(dyn)},
	"tilde":                    {cmd: "~root/x", programs: l(dyn), features: l("dynamic-command-word", "tilde")},
	"extglob":                  {cmd: "/bin/@(rm) x", programs: l(dyn), features: l("dynamic-command-word", "extglob")},
	"quoted glob is literal":   {cmd: `"/???/rm" x`, programs: l("/???/rm"), features: l()},
	"escaped glob":             {cmd: `/bin/r\*m x`, programs: l("/bin/r*m"), features: l()},
	"test bracket":             {cmd: "[ -f x ] && cat x", programs: l("[", "cat"), features: l("and-or")},
	"indirection":              {cmd: "echo ${!x}", programs: l(dyn, "echo"), features: l("dynamic-command-word", "parameter-expansion", "parameter-operator")},
	"prompt expansion":         {cmd: "echo ${x@P}", programs: l(dyn, "echo")},
	"quoting expansion":        {cmd: "echo ${x@Q}", programs: l("echo"), features: l("parameter-expansion", "parameter-operator")},
	"arithmetic of output":     {cmd: "echo $(( $(cat f) ))", programs: l(dyn, "cat", "echo"), variables: l(dyn)},
	"test -v subscript":        {cmd: "[[ -v 'a[$(rm)]' ]]", programs: l(dyn), features: l("dynamic-command-word", "test-clause")},
	"test arithmetic":          {cmd: "[[ $x -gt 1 ]]", programs: l(dyn)},
	"test plain":               {cmd: "[[ -f /x && 1 -gt 0 ]]", programs: l(), features: l("test-clause")},
	"test names a variable":    {cmd: "ls 'x[$(touch /tmp/x)]'; [[ 1 -eq _ ]]", programs: l(dyn, "ls")},
	"integer special":          {cmd: "RANDOM='x[$(touch /tmp/x)]'; uptime", programs: l(dyn, "uptime"), variables: l("RANDOM")},
	"integer special number":   {cmd: "RANDOM=42; uptime", programs: l("uptime"), variables: l("RANDOM")},
	"subscript names a var":    {cmd: "y='x[$(touch /tmp/x)]'; a[y]=1; uptime", programs: l(dyn, "uptime")},
	"constant subscript":       {cmd: "a[1]=x; echo ${a[0]} ${a[-1]} ${#a[@]}", programs: l("echo")},
	"arithmetic constants":     {cmd: "echo $((1 + 0x1f + 2#101 + $#))", programs: l("echo")},
	"declare -i":               {cmd: "declare -i n=1", programs: l(dyn, "declare")},
	"nameref":                  {cmd: "declare -n r=PATH", programs: l(dyn, "declare")},
	"test -v quoted":           {cmd: "test -v 'a[$(touch /tmp/x)]'", programs: l(dyn, "test")},
	"[ -v quoted":              {cmd: "[ -v 'a[$(touch /tmp/x)]' ]", programs: l(dyn, "[")},
	"test -v plain":            {cmd: "test -v HOME", programs: l("test")},
	"test split word":          {cmd: "[ -f $f ]", programs: l(dyn, "[")},
	"test quoted word":         {cmd: `[ -f "$f" ]`, programs: l("[")},
	"printf -v":                {cmd: "printf -v 'a[$(touch /tmp/x)]' %s x", programs: l(dyn, "printf")},
	"printf -v plain":          {cmd: "printf -v out %s x", programs: l("printf"), variables: l("out")},
	"read subscript":           {cmd: "read 'a[$(touch /tmp/x)]'", programs: l(dyn, "read")},
	"read plain":               {cmd: "read -r a b", programs: l("read"), variables: l("a", "b")},
	"read -a":                  {cmd: "read -ra 'a[$(id)]'", programs: l(dyn, "read")},
	"mapfile callback":         {cmd: "mapfile -C 'rm x' -c 1 a", programs: l(dyn, "mapfile")},
	"declare quoted":           {cmd: "declare 'a[$(touch /tmp/x)]=1'", programs: l(dyn, "declare")},
	"declare expanded":         {cmd: `export "$x"`, programs: l(dyn, "export")},
	"declare value expands":    {cmd: `export PATH="$PATH:/opt/bin"`, programs: l("export"), variables: l("PATH")},
	"unset subscript":          {cmd: "unset 'a[$(id)]'", programs: l(dyn, "unset")},
	"getopts name":             {cmd: "getopts ab 'a[$(id)]'", programs: l(dyn, "getopts")},
	"wait -p":                  {cmd: "wait -n -p 'a[$(id)]'", programs: l(dyn, "wait")},
	"wait last job":            {cmd: "sleep 1 & wait $!", programs: l("sleep", "wait")},
	"wrapped builtin":          {cmd: "command printf -v 'a[$(id)]' x", programs: l(dyn, "command", "printf")},
	"PS4":                      {cmd: "set -x; PS4='$(id)'; ls", programs: l(dyn, "ls", "set")},
	"read PS4":                 {cmd: "read PS4", programs: l(dyn, "read")},
	"BASH_CMDS":                {cmd: "BASH_CMDS[ls]=/bin/sh; ls", programs: l(dyn, "ls")},
	"set -k":                   {cmd: "set -k; squeue LD_PRELOAD=/tmp/x.so", programs: l(dyn, "set", "squeue")},
	"set -o keyword":           {cmd: "set -eo keyword; squeue PATH=/tmp", programs: l(dyn, "set", "squeue")},
	"shopt -o keyword":         {cmd: "shopt -so keyword; squeue PATH=/tmp", programs: l(dyn, "shopt", "squeue")},
	"set expands":              {cmd: "set $x; squeue PATH=/tmp", programs: l(dyn, "set", "squeue")},
	"set harmless":             {cmd: "set -euo pipefail; set +k -x -- a -k; squeue", programs: l("set", "squeue")},
	"set positional":           {cmd: `set -- "$@" -k; squeue`, programs: l("set", "squeue")},
	"shopt harmless":           {cmd: "shopt -s nullglob globstar; shopt -u -o keyword", programs: l("shopt")},
	"declare compound string":  {cmd: "declare -a a='($(id))'", programs: l(dyn, "declare")},
	"declare array compound":   {cmd: `a=(1); declare a="$x"`, programs: l(dyn, "declare")},
	"declare bash array":       {cmd: `declare DIRSTACK="$x"`, programs: l(dyn, "declare")},
	"declare scalar expansion": {cmd: `f(){ local x="$1" y='(z)'; }; f "$@"`, programs: l("f", "local")},
	"export array unchanged":   {cmd: `a=(1); export a="$x" b='(c)'`, programs: l("export")},
	"export -a compound":       {cmd: `export -a a="$x"`, programs: l(dyn, "export")},
	"declare compound quoted":  {cmd: `declare 'a=(x)'`, programs: l(dyn, "declare")},
	"alias definition":         {cmd: "shopt -s expand_aliases; alias ls='touch /tmp/x'\nls", programs: l(dyn, "alias", "ls", "shopt")},

	// Commands anywhere.
	"subshell":               {cmd: "(cd /x && rm -rf .)", programs: l("cd", "rm"), features: l("and-or", "subshell")},
	"block":                  {cmd: "{ squeue; rm x; }", programs: l("rm", "squeue"), features: l("block", "sequence")},
	"if":                     {cmd: "if squeue; then rm x; elif true; then ls; else id; fi", programs: l("id", "ls", "rm", "squeue", "true"), features: l("if")},
	"while":                  {cmd: "while true; do rm x; done", programs: l("rm", "true"), features: l("loop")},
	"until":                  {cmd: "until false; do rm x; done", programs: l("false", "rm"), features: l("loop")},
	"for":                    {cmd: "for f in a b; do rm $f; done", programs: l("rm"), lines: l("rm $f"), features: l("assignment", "for", "parameter-expansion"), variables: l("f")},
	"for PATH":               {cmd: "for PATH in /tmp; do squeue; done", programs: l("squeue"), variables: l("PATH")},
	"c-style for":            {cmd: "for ((i=0; i<3; i++)); do ls; done", programs: l(dyn, "ls"), features: l("arithmetic", "assignment", "dynamic-command-word", "for"), variables: l("i")},
	"select":                 {cmd: "select x in a b; do rm $x; done", programs: l("rm"), features: l("assignment", "for", "parameter-expansion")},
	"case":                   {cmd: "case $x in a) rm a;; *) ls;; esac", programs: l("ls", "rm"), features: l("case", "parameter-expansion")},
	"function shadowing":     {cmd: "squeue(){ rm -rf /; }; squeue", programs: l("rm", "squeue"), features: l("block", "function-definition", "sequence")},
	"function keyword":       {cmd: "function f { rm x; }", programs: l("rm"), features: l("block", "function-definition")},
	"substitution in arg":    {cmd: "squeue -u $(rm -rf /)", programs: l("rm", "squeue"), lines: l("rm -rf /", "squeue -u $(rm -rf /)"), features: l("command-substitution")},
	"nested substitution":    {cmd: "echo $(echo $(rm x))", programs: l("echo", "rm")},
	"process substitution":   {cmd: "diff <(rm a) >(id)", programs: l("diff", "id", "rm"), features: l("process-substitution")},
	"in assignment":          {cmd: "x=$(rm -rf /)", programs: l("rm"), lines: l("rm -rf /"), features: l("assignment", "command-substitution"), variables: l("x")},
	"in redirect target":     {cmd: "squeue > $(rm x)", programs: l("rm", "squeue"), outputs: l("$(rm x)")},
	"in here-string":         {cmd: "cat <<< $(rm x)", programs: l("cat", "rm"), features: l("command-substitution", "heredoc")},
	"in default operand":     {cmd: "echo ${x:-$(rm x)}", programs: l("echo", "rm"), features: l("command-substitution", "parameter-expansion", "parameter-operator")},
	"in replacement":         {cmd: "echo ${x/a/$(rm x)}", programs: l("echo", "rm")},
	"in array element":       {cmd: "a=(x $(rm y))", programs: l("rm"), variables: l("a")},
	"in arithmetic":          {cmd: "echo $((1 + $(rm x)))", programs: l(dyn, "echo", "rm")},
	"in arithmetic command":  {cmd: "(( $(rm x) ))", programs: l(dyn, "rm"), features: l("arithmetic", "assignment", "command-substitution", "dynamic-command-word")},
	"in test clause":         {cmd: "[[ -f $(rm x) ]]", programs: l("rm"), features: l("command-substitution", "test-clause")},
	"in case pattern":        {cmd: "case a in $(rm x)) ;; esac", programs: l("rm")},
	"in for items":           {cmd: "for x in $(rm y); do :; done", programs: l(":", "rm")},
	"in subscript":           {cmd: "echo ${a[$(rm x)]}", programs: l(dyn, "echo", "rm")},
	"in heredoc body":        {cmd: "cat <<EOF\n$(rm x)\nEOF", programs: l("cat", "rm"), features: l("command-substitution", "heredoc")},
	"quoted heredoc is data": {cmd: "cat <<'EOF'\n$(rm x)\nEOF", programs: l("cat"), features: l("heredoc")},
	"in declare":             {cmd: "declare x=$(rm y)", programs: l("declare", "rm"), variables: l("x")},
	"in dquoted":             {cmd: `echo "$(rm x)"`, programs: l("echo", "rm"), lines: l(`echo "$(rm x)"`, "rm x")},

	// Assignments.
	"prefix assignment":     {cmd: "PATH=/tmp squeue", programs: l("squeue"), lines: l("squeue"), features: l("assignment"), variables: l("PATH")},
	"standalone assignment": {cmd: "LD_PRELOAD=/tmp/x.so", programs: l(), lines: l(), features: l("assignment"), variables: l("LD_PRELOAD")},
	"append assignment":     {cmd: "PATH+=:/tmp", variables: l("PATH")},
	"indexed assignment":    {cmd: "a[1]=x", variables: l("a")},
	"export":                {cmd: "export PATH=/tmp X", programs: l("export"), lines: l("export PATH=/tmp X"), variables: l("PATH", "X")},
	"export quoted":         {cmd: `export "PATH=/tmp"`, variables: l("PATH")},
	"export escaped":        {cmd: `\export PATH=/tmp`, programs: l("export"), variables: l("PATH")},
	"export dynamic":        {cmd: `export $x=1`, variables: l(dyn)},
	"local readonly":        {cmd: "f() { local a=1; readonly b; typeset c; }", variables: l("a", "b", "c")},
	"declare options":       {cmd: "declare -x -r v=1", programs: l("declare"), lines: l("declare -x -r v=1"), variables: l("v")},
	"let":                   {cmd: "let x=1 y++", programs: l(dyn, "let"), lines: l("let x=1 y++"), features: l("arithmetic", "assignment", "dynamic-command-word"), variables: l("x", "y")},
	"arithmetic assignment": {cmd: "(( PATH = 1 ))", variables: l("PATH"), features: l("arithmetic", "assignment")},
	"default assignment":    {cmd: "echo ${PATH:=/tmp}", variables: l("PATH")},
	"fd variable":           {cmd: "exec {fd}>/tmp/x", variables: l("fd"), outputs: l("/tmp/x"), features: l("assignment", "fd-redirect", "output-redirect")},
	"tilde in assignment":   {cmd: "x=~/bin", features: l("assignment", "tilde")},

	// Redirections.
	"output":              {cmd: "squeue > /tmp/out", programs: l("squeue"), lines: l("squeue"), outputs: l("/tmp/out"), features: l("output-redirect")},
	"append":              {cmd: "squeue >> out", outputs: l("out")},
	"clobber":             {cmd: "squeue >| out", outputs: l("out")},
	"all":                 {cmd: "squeue &> out", outputs: l("out")},
	"append all":          {cmd: "squeue &>> out", outputs: l("out")},
	"numbered":            {cmd: "squeue 2>/dev/null", outputs: l("/dev/null"), features: l("output-redirect")},
	"read write":          {cmd: "exec 3<> /dev/tcp/x/80", outputs: l("/dev/tcp/x/80"), inputs: l("/dev/tcp/x/80"), features: l("input-redirect", "output-redirect")},
	"dup to file":         {cmd: "squeue >&out", outputs: l("out"), features: l("output-redirect")},
	"dup descriptor":      {cmd: "squeue 2>&1", outputs: l(), features: l("fd-redirect")},
	"close descriptor":    {cmd: "squeue >&-", outputs: l(), features: l("fd-redirect")},
	"move descriptor":     {cmd: "squeue 3>&1-", outputs: l(), features: l("fd-redirect")},
	"dynamic dup":         {cmd: "squeue >&$x", outputs: l("$x"), features: l("fd-redirect", "output-redirect", "parameter-expansion")},
	"input":               {cmd: "wc -l < /etc/passwd", inputs: l("/etc/passwd"), features: l("input-redirect")},
	"quoted target":       {cmd: `squeue > "/tmp/a b"`, outputs: l("/tmp/a b")},
	"glob target":         {cmd: "squeue > /tmp/*", outputs: l("/tmp/*"), features: l("glob", "output-redirect")},
	"redirect alone":      {cmd: "> /etc/passwd", programs: l(), outputs: l("/etc/passwd")},
	"block redirect":      {cmd: "{ squeue; } > out", outputs: l("out"), features: l("block", "output-redirect")},
	"heredoc":             {cmd: "cat <<EOF\nrm -rf /\nEOF", programs: l("cat"), lines: l("cat"), features: l("heredoc"), inputs: l()},
	"here-string":         {cmd: "grep x <<< 'rm -rf /'", programs: l("grep"), features: l("heredoc")},
	"redirect not a word": {cmd: "squeue -u alice >/dev/null", lines: l("squeue -u alice")},

	// Arguments keep their source text when they expand.
	"expansion keeps source": {cmd: "echo $HOME", lines: l("echo $HOME"), features: l("parameter-expansion")},
	"glob argument":          {cmd: "ls *.log", lines: l("ls *.log"), features: l("glob")},
	"brace argument":         {cmd: "echo {a,b}", lines: l("echo {a,b}"), features: l("brace-expansion")},
	"braces not expansion":   {cmd: "find . -exec ls {} +", programs: l("find", "ls"), lines: l("find . -exec ls {} +", "ls {}"), features: l()},
	"tilde argument":         {cmd: "ls ~", lines: l("ls ~"), features: l("tilde")},
	"mixed quoting":          {cmd: `echo "a"'b'c`, lines: l("echo abc"), features: l()},

	// attack4 (oracle-blind: find, env and xargs are stubs to the oracle,
	// so what they run is checked by reasoning). A value of a find test
	// (-name) or a word that starts with a known byte may expand to
	// several words, one of them -exec: find then runs the program after
	// it, which the analysis never saw.
	"attack4 find test value braces": {cmd: "find . -name {x,-exec} touch hit \\;", programs: l(dyn, "find")},
	"attack4 find test value split":  {cmd: "x='a -exec touch hit ;'; find . -name $x", programs: l(dyn, "find")},
	"attack4 find operand split":     {cmd: "y=' -exec touch hit ;'; find . x$y", programs: l(dyn, "find")},
	// GNU env's --default-signal, --ignore-signal and --block-signal and
	// GNU xargs's --eof, --replace and --max-lines take an OPTIONAL
	// argument (only as --opt=VALUE); the analysis takes the next word as
	// their value and reports the word after it as the program: env
	// --default-signal touch hit runs touch; the analysis listed hit.
	"attack4 env default-signal": {cmd: "env --default-signal touch hit", programs: l("env", "touch")},
	"attack4 env ignore-signal":  {cmd: "env --ignore-signal touch hit", programs: l("env", "touch")},
	"attack4 env block-signal":   {cmd: "env --block-signal touch hit", programs: l("env", "touch")},
	"attack4 env abbreviated":    {cmd: "env --default touch hit", programs: l("env", "touch")},
	"attack4 xargs eof":          {cmd: "xargs --eof touch hit", programs: l("touch", "xargs")},
	"attack4 xargs replace":      {cmd: "xargs --replace touch hit", programs: l(dyn, "xargs")},
	"attack4 xargs max-lines":    {cmd: "xargs --max-lines touch hit", programs: l("touch", "xargs")},
	"attack4 nested optional":    {cmd: "timeout 5 env --block-signal touch hit", programs: l("env", "timeout", "touch")},
	// attack4 (oracle-blind): a quoted "$@" or "${a[@]}" is several words
	// or none, as an option value of a wrapper or a find test value.
	"attack4 env unset quoted at":   {cmd: "set -- x touch; env -u \"$@\" hit", programs: l(dyn, "env", "set")},
	"attack4 nice quoted at":        {cmd: "set -- x touch; nice -n \"$@\" hit", programs: l(dyn, "nice", "set")},
	"attack4 sudo quoted array":     {cmd: "a=(root touch); sudo -u \"${a[@]}\" hit", programs: l(dyn, "sudo")},
	"attack4 find name quoted at":   {cmd: "set -- x -exec touch hit ';'; find . -name \"$@\"", programs: l(dyn, "find", "set")},
	"attack4 find prefix quoted at": {cmd: "set -- a -exec touch hit ';'; find . \"x$@\"", programs: l(dyn, "find", "set")},
	// attack4 (oracle-blind): a word inside an -exec command that expands
	// to several words may be the ; that ends it and a second -exec.
	"attack4 find exec split terminator": {cmd: "x='; -exec touch hit'; find . -exec echo $x \\;", programs: l(dyn, "find")},
	"attack4 find exec brace terminator": {cmd: "find . -exec echo {\\;,-exec} touch hit \\;", programs: l(dyn, "find")},
	"find exec quoted terminator":        {cmd: "x=';'; find . -exec echo \"$x\" -exec touch hit \\;", programs: l(dyn, "find")},
	"find exec plain":                    {cmd: "find . -name '*.log' -exec gzip -9 {} +", programs: l("find", "gzip")},
	"jobs -x":                            {cmd: "jobs -x touch hit", programs: l("jobs", "touch")},
	"jobs -x jobspec":                    {cmd: "sleep 1 & jobs -x %1", programs: l(dyn, "jobs", "sleep")},
	"jobs":                               {cmd: "jobs -l", programs: l("jobs")},
	// The canonical form puts each command of a ; list on a line of its
	// own: an expansion error ($((1/0)), ${x:?}) then stops only its own
	// line, where bash would drop the rest of the input's line. Every
	// line is in the decision.
	"expansion error, then a command": {cmd: "echo $((1/0)); touch hit", programs: l("echo", "touch"), canonical: "echo $((1 / 0))\ntouch hit"},
	"let product":                     {cmd: "let n=4*8", programs: l(dyn, "let")},
	// A quoted let expression is a word to the parser, not arithmetic:
	// over-blocked, (( n = 4 * 8 )) is known.
	"let quoted": {cmd: "let 'n = 4 * 8'", programs: l(dyn, "let")},
	// attack5 (oracle-blind: it needs a shared object whose constructor
	// runs a program): bash 5.2's enable NAME, when NAME is no builtin,
	// does what enable -f NAME NAME does and dlopen()s NAME (a path, or a
	// name searched on BASH_LOADABLES_PATH and the library path). The
	// constructor runs before bash finds no NAME_struct: enable
	// /tmp/x.so runs what x.so's constructor runs. hidesCode looks only
	// for -f.
	"attack5 enable loads a path":   {cmd: "enable /tmp/x.so", programs: l(dyn, "enable")},
	"attack5 enable loads relative": {cmd: "enable ./x.so", programs: l(dyn, "enable")},
	"attack5 enable special loads":  {cmd: "enable -s ./x.so", programs: l(dyn, "enable")},
	"attack5 builtin enable loads":  {cmd: "builtin enable ./x.so", programs: l(dyn, "builtin", "enable")},
	// attack5 (oracle-blind, code rather than a program): GNU stdbuf
	// looks for libstdbuf.so first in the directory of its argv[0] when
	// that holds a slash, and puts it in LD_PRELOAD of the program it
	// runs. exec -a /dir/stdbuf stdbuf -oL true loads /dir/libstdbuf.so
	// into true: an LD_PRELOAD no assignment shows (the Baseline denies
	// LD_* assignments).
	"attack5 stdbuf argv0 preload": {cmd: "exec -a /tmp/x/stdbuf stdbuf -oL true", programs: l(dyn, "exec")},
}

// tableCommands returns every command of the tables, for the fuzz seeds.
func tableCommands() []string {
	var cs []string
	for _, f := range analyses {
		cs = append(cs, f.cmd)
	}
	for _, r := range rejections {
		cs = append(cs, r.cmd)
	}
	slices.Sort(cs)
	return cs
}

func TestAnalyze(t *testing.T) {
	for name, tc := range analyses {
		t.Run(name, func(t *testing.T) {
			a, err := Analyze(tc.cmd)
			if err != nil {
				t.Fatalf("Analyze(%q): %v", tc.cmd, err)
			}
			checkAnalysis(t, a)
			for _, c := range []struct {
				key       string
				got, want []string
			}{
				{"Programs", a.Programs, tc.programs},
				{"CommandLines", a.CommandLines, tc.lines},
				{"Features", a.Features, tc.features},
				{"OutputRedirects", a.OutputRedirects, tc.outputs},
				{"InputRedirects", a.InputRedirects, tc.inputs},
				{"AssignedVariables", a.AssignedVariables, tc.variables},
			} {
				if c.want != nil && !slices.Equal(c.got, c.want) {
					t.Errorf("%s of %q = %q, want %q", c.key, tc.cmd, c.got, c.want)
				}
			}
			if tc.canonical != "" && a.Canonical != tc.canonical {
				t.Errorf("Canonical of %q = %q, want %q", tc.cmd, a.Canonical, tc.canonical)
			}
		})
	}
}

var rejections = map[string]struct{ cmd, msg string }{
	"does not parse":                      {"echo 'unterminated", "1:6: does not parse"},
	"unbalanced":                          {"squeue )", "does not parse"},
	"NUL":                                 {"squeue\x00; rm -rf /", "1:7 (byte 6): NUL byte U+0000"},
	"invalid UTF-8":                       {"squeue \xff", "1:8 (byte 7): invalid UTF-8 byte 0xFF"},
	"carriage return":                     {"squeue\r\nrm -rf /", "carriage return U+000D"},
	"escape":                              {"echo \x1b[2J", "control character U+001B"},
	"vertical tab":                        {"echo\va", "control character U+000B"},
	"DEL":                                 {"echo \x7f", "control character DEL U+007F"},
	"C1 control":                          {"echo \u0085", "C1 control character U+0085"},
	"zero-width space":                    {"sque\u200bue", "invisible format character U+200B"},
	"zero-width joiner":                   {"rm\u200d -rf", "U+200D"},
	"bidi override":                       {"echo \u202e/ fr- mr", "U+202E"},
	"bidi isolate":                        {"echo \u2066x\u2069", "U+2066"},
	"BOM":                                 {"\ufeffsqueue", "1:1 (byte 0): invisible format character U+FEFF"},
	"soft hyphen":                         {"squ\u00adeue", "U+00AD"},
	"line separator":                      {"squeue\u2028rm", "line or paragraph separator U+2028"},
	"paragraph separator":                 {"squeue\u2029rm", "U+2029"},
	"position on line 2":                  {"squeue\nrm\x01", "2:3 (byte 9)"},
	"too short":                           {"l", "it is 1 characters"},
	"empty":                               {"", "it is 0 characters"},
	"too long":                            {"echo " + strings.Repeat("a", MaxLength), "it is 2053 characters"},
	"too long in bytes":                   {strings.Repeat("é", MaxLength+1), "it is 2049 characters"},
	"nothing to run":                      {"# just a comment", "nothing to run"},
	"only blanks":                         {"  \n\t ", "nothing to run"},
	"canonical too short":                 {"a;", "canonical form is 1 characters"},
	"invalid assignment":                  {`f{ind,x=[} squeue / -maxdepth 0 -exec sh -c 'touch /tmp/x' \;`, `"f{ind,x" is not a variable name`},
	"heredoc continuation":                {"cat <<EOF\nEO\\\nF\ntouch /tmp/x\nEOF", "2:1: a backslash at the end of a line of a here-document"},
	"heredoc last line":                   {"cat <<EOF\nx\\\nEOF\ntouch /tmp/x\nEOF", "backslash at the end of a line"},
	"heredoc delim in subst":              {"cat <<EOF\n$(echo \"\nEOF\ntouch /tmp/x\n\")\nEOF", "2:1: a line of the here-document body equals its delimiter"},
	"time --":                             {"time -p -- touch /tmp/x", "1:9: -- after time"},
	"time after pipe":                     {"true | time -p touch /tmp/x", "1:8: time after |"},
	"close then word":                     {"<&-000", "bash closes the descriptor at -"},
	"close then argument":                 {"squeue 2>&--all", "bash closes the descriptor at -"},
	"time after pipe all":                 {"true | true |& time touch /tmp/x", "time after |&"},
	"expansion in extglob":                {"echo @($(rm -rf /))", "expansion inside an extended glob pattern"},
	"backquote in extglob":                {"echo +(a|`rm`)", "expansion inside an extended glob pattern"},
	"too deep":                            {deep("$(", ")", "x", 120), "nesting deeper than"},
	"delimiter unquoted differently":      {"cat <<\"E\\\"OF\"\nE\"OF\ntouch hit\nE\\\"OF", `bash reads it as "E\"OF"`},
	"delimiter ansi-c":                    {"cat <<$'E\\x4fF'\nEOF\ntouch hit\nE\\x4fF", `bash reads it as "EOF"`},
	"delimiter locale":                    {"cat <<$\"EOF\"\nx\nEOF", "bash may unquote it differently"},
	"extglob function name":               {"shopt -s extglob\nx?() touch hit", `function name "x?" ends in an extended-glob operator`},
	"double-byte backslash":               {"echo \"€\\\"; touch hit #\"", `'\\' right after the non-ASCII character U+20AC`},
	"dash heredoc expansion across lines": {"<<-EOF\n$(echo ouct h \nt\"\n\t\tEOFhit\n\")\nEOF", "an expansion across lines in a <<- here-document"},
	"ansi-c quote in ${…}":                {"echo \"${x:-$'$(touch hit)'}\"", "$'…' inside ${…}: bash expands what it decodes again"},
	"single quotes in dquoted ${x-…}":     {"[ \"${x-'$(ouch hit)'}\" ]]", "single quotes inside \"${x-…}\""},
	"single quotes in heredoc ${x-…}":     {"cat <<EOF\n${x:-'$(touch hit)'}\nEOF", "single quotes inside \"${x-…}\""},
	"quoted >& target":                    {">&'$(cotuh iht)]'", "bash expands a quoted target of >& a second time"},
	"quoted variable >& target":           {"x='$(touch hit)'; echo >&\"$x\"", "bash expands a quoted target of >& a second time"},
	"double-byte backquote":               {"echo 数`x`", "'`' right after the non-ASCII character U+6570"},
	"double-byte line continuation":       {"echo 数\\\ntouch hit", `'\\' right after the non-ASCII character U+6570`},
	"double-byte escaped separator":       {"echo 数\\;touch hit", `'\\' right after the non-ASCII character U+6570`},
	"too deep arithmetic":                 {"((" + deep("(", ")", "1", 300) + "))", "nesting deeper than"},
	// attack4: the canonical form means something else than the input.
	// Inside backquotes bash reads \\ as \ and ends the substitution at
	// the next unescaped `, even in a quoted here-document body: the input
	// runs touch (and EOF); the parser keeps the backquotes in the body,
	// and the canonical form, $( ) with a quoted body, runs only cat.
	"attack4 backquote in quoted heredoc in backquotes": {"echo `cat <<'EOF'\n\\\\`;touch hit;`\nEOF\n`", "invalid command"},
	"attack4 backquote heredoc body ends substitution":  {"echo `cat <<'EOF'\n\\\\`touch hit\\\\`\nEOF\n`", "invalid command"},
	// attack4: same root: inside backquotes a single quote does not
	// protect a backquote from bash (it reads the substitution up to the
	// first unescaped ` before it parses it); the parser reads '…' across
	// it. The input runs touch, the canonical form $(echo 'a`; …`') runs
	// echo alone.
	"attack4 single quote across backquote":      {"echo `echo 'a`; touch hit; `'`", "1:6: bash ends this `…` substitution at the first unescaped backquote"},
	"attack4 escaped backslash then backquote":   {"echo `echo '\\\\`; touch hit; `'`", "invalid command"},
	"attack4 quoted heredoc body with backquote": {"x=`cat <<'E'\n`;touch hit;`\nE\n`", "invalid command"},
	"attack4 canonical runs what input does not": {"echo `echo '\\\\`'; touch hit; '`'`", "invalid command"},
	// attack5: a `…` nested in `…` (written \`…\`) is read again by bash
	// from the unescaped text, where it ends at the first backquote, inside
	// quotes too; backquotesAgree checks only the outermost substitution.
	// The input runs touch; the canonical form $(echo $(echo 'a`; touch
	// hit; `')) runs echo alone.
	"attack5 nested backquote across single quote": {"echo `echo \\`echo 'a\\`; touch hit; \\`'\\``", "invalid command"},
	// attack5: the parser reads a backslash at the end of a comment as a
	// line continuation that joins the word before the comment to the
	// next line; bash ends the comment at the newline. The input runs
	// echo, then touch; the canonical form "echo a \⏎ touch hit # x\"
	// runs echo alone, and "x=1touch hit" runs hit, not touch.
	"attack5 comment ending in backslash":       {"echo a # x\\\ntouch hit", "invalid command"},
	"attack5 comment backslash joins words":     {"x=1 # x\\\ntouch hit", "invalid command"},
	"attack5 comment backslash joins redirect":  {"echo a >f # x\\\ntouch hit", "invalid command"},
	"attack5 comment backslash then pipe":       {"echo a # x\\\n| touch hit", "invalid command"},
	"attack5 comment backslash in cmdsubst":     {"echo $(echo a # x\\\ntouch hit\n)", "invalid command"},
	"attack5 empty comment ending in backslash": {"echo a #\\\ntouch hit", "invalid command"},
	// attack6: in a double-byte locale (GBK, Big5, Shift_JIS) the byte
	// after a non-ASCII character may be the second byte of a character:
	// a } there does not end ${…} for bash, which reads on to the next
	// }, across what the parser took for a comment; bash then runs touch
	// (seen under zh_CN.GBK, zh_TW.BIG5 and ja_JP.SJIS; the oracle runs
	// C.UTF-8 and cannot see it). swallowed checks only \ and `.
	"attack6 double-byte brace ends parameter expansion": {"echo ${x:-\u20ac} #}; touch hit", "invalid command"},
	"attack6 double-byte brace in double quotes":         {"echo \"${x:-\u20ac}\" #\"}\"; touch hit", "invalid command"},
	"attack6 double-byte brace shift_jis":                {"echo ${x:-\u4e01} #}; touch hit", "invalid command"},
	"attack6 double-byte brace big5":                     {"echo ${x:-\u6570\u636e} #}; touch hit", "invalid command"},
	// attack6: the canonical form means something else than the input.
	// A here-document in `…` has no body inside the backquotes: bash runs
	// the lines x and EOF as commands; the canonical $(cat <<EOF) takes
	// them for the body.
	"attack6 here-document in backquotes without body": {"echo `cat <<EOF`\nx\nEOF\ntouch hit", "invalid command"},
	// attack6: bash drops the rest of a line after an expansion error
	// (division by 0, bad substitution): the input never runs touch;
	// the canonical form puts touch on a line of its own and runs it.
	// attack6: a quoted here-document whose command line goes on across
	// lines (a quote): the canonical form adds a line "\" to the body,
	// which bash keeps (cat prints it).
	"attack6 quoted here-document gains a backslash line": {"cat <<'EOF'; echo \"a\nb\"\nx\nEOF", "invalid command"},
	// attack6: # right after the ) of a compound assignment is part of
	// the word to bash (the input runs touch); the parser starts a comment
	// there and the canonical form "a=(1) #x; touch hit" runs nothing.
	"attack6 comment after compound assignment": {"a=(1)#x; touch hit", "invalid command"},
	"attack6 comment after declare array":       {"declare a=(1)#x; touch hit", "invalid command"},
	// attack6: <(…) right after other text in a here-string or a
	// redirection target is part of that word to bash (cat reads the
	// string "a/dev/fd/63"; echo fails to open a/dev/fd/63); the canonical
	// form splits it off as an argument of its own ("cat <<<a <(…)"
	// passes /dev/fd/63 to cat; "echo >a <(…)" writes to a).
	"attack6 process substitution after here-string text": {"cat <<< a<(touch hit)", "invalid command"},
	"attack6 process substitution after redirection text": {"echo >a<(touch hit)", "invalid command"},
	"attack6 process substitution in array element":       {"a=([1]=<(touch hit))", "invalid command"},
}

func TestAnalyzeRejects(t *testing.T) {
	for name, tc := range rejections {
		t.Run(name, func(t *testing.T) {
			a, err := Analyze(tc.cmd)
			if err == nil {
				t.Fatalf("Analyze(%q) = %+v, want an error", tc.cmd, a)
			}
			checkError(t, err)
			var e *hpcgate.Error
			errors.As(err, &e)
			if !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message %q does not contain %q", e.Message, tc.msg)
			}
		})
	}
}

func TestAnalyzeLengthCountsCharacters(t *testing.T) {
	// 2,048 two-byte characters are within the limit.
	cmd := "echo " + strings.Repeat("é", MaxLength-5)
	if _, err := Analyze(cmd); err != nil {
		t.Fatalf("Analyze of %d characters: %v", MaxLength, err)
	}
}

func TestAnalyzeSimple(t *testing.T) {
	a, err := Analyze(`PATH=/tmp LC_ALL=C squeue -u "$USER" 2>/dev/null | grep x`)
	if err != nil {
		t.Fatal(err)
	}
	want := []hpcgate.SimpleCommand{
		{Argv: l("squeue", "-u", `"$USER"`), Assignments: l("PATH=/tmp", "LC_ALL=C"), Redirects: []hpcgate.Redirect{{Op: "2>", Target: "/dev/null"}}},
		{Argv: l("grep", "x"), Assignments: l(), Redirects: []hpcgate.Redirect{}},
	}
	if !equalSimple(a.Simple, want) {
		t.Errorf("Simple = %+v, want %+v", a.Simple, want)
	}
}

func equalSimple(a, b []hpcgate.SimpleCommand) bool {
	return slices.EqualFunc(a, b, func(x, y hpcgate.SimpleCommand) bool {
		return slices.Equal(x.Argv, y.Argv) && slices.Equal(x.Assignments, y.Assignments) && slices.Equal(x.Redirects, y.Redirects)
	})
}

func TestAnalyzeSimpleForms(t *testing.T) {
	none := []hpcgate.Redirect{}
	tests := map[string]struct {
		cmd  string
		want []hpcgate.SimpleCommand
	}{
		"compound redirections apply inside": {"{ a; b; } > f", []hpcgate.SimpleCommand{
			{Argv: l("a"), Assignments: l(), Redirects: []hpcgate.Redirect{{Op: ">", Target: "f"}}},
			{Argv: l("b"), Assignments: l(), Redirects: []hpcgate.Redirect{{Op: ">", Target: "f"}}},
		}},
		"not inside a substitution": {"echo $(ls) > f", []hpcgate.SimpleCommand{
			{Argv: l("echo", "$(ls)"), Assignments: l(), Redirects: []hpcgate.Redirect{{Op: ">", Target: "f"}}},
			{Argv: l("ls"), Assignments: l(), Redirects: none},
		}},
		"redirections only": {"> /etc/passwd", []hpcgate.SimpleCommand{
			{Argv: l(), Assignments: l(), Redirects: []hpcgate.Redirect{{Op: ">", Target: "/etc/passwd"}}},
		}},
		"standalone assignment": {"a=1 b+=x", []hpcgate.SimpleCommand{
			{Argv: l(), Assignments: l("a=1", "b+=x"), Redirects: none},
		}},
		"declaration builtin": {`export -n A="x y" B $c`, []hpcgate.SimpleCommand{
			{Argv: l("export", "-n", "A=x y", "B", "$c"), Assignments: l("A=x y", "B", "$c"), Redirects: none},
		}},
		"array and index keep source": {"a=(1 2) b[1]=x c=$HOME", []hpcgate.SimpleCommand{
			{Argv: l(), Assignments: l("a=(1 2)", "b[1]=x", "c=$HOME"), Redirects: none},
		}},
		"descriptor prefixes": {"cmd 2>&1 {fd}<in <<< 'w'", []hpcgate.SimpleCommand{
			{Argv: l("cmd"), Assignments: l(), Redirects: []hpcgate.Redirect{{Op: "2>&", Target: "1"}, {Op: "{fd}<", Target: "in"}, {Op: "<<<", Target: "w"}}},
		}},
		"let": {"let 'x = 1' y++", []hpcgate.SimpleCommand{
			{Argv: l("let", "'x = 1'", "y++"), Assignments: l(), Redirects: none},
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := Analyze(tc.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if !equalSimple(a.Simple, tc.want) {
				t.Errorf("Simple of %q = %+v, want %+v", tc.cmd, a.Simple, tc.want)
			}
		})
	}
}

func TestFeaturesAreTheDesignList(t *testing.T) {
	want := l("pipe", "and-or", "sequence", "subshell", "block", "if", "loop", "for", "case", "test-clause",
		"arithmetic", "command-substitution", "process-substitution", "parameter-expansion", "parameter-operator",
		"glob", "brace-expansion", "extglob", "tilde", "output-redirect", "input-redirect", "fd-redirect", "heredoc",
		"background", "function-definition", "assignment", "negation", "time", "comment", "dynamic-command-word")
	if got := Features(); !slices.Equal(got, want) {
		t.Errorf("Features() = %q, want %q", got, want)
	}
}

func TestAnalyzeConcurrently(t *testing.T) {
	// Parsers and printers are pooled: concurrent analyses must not mix.
	cmds := tableCommands()
	want := make(map[string]hpcgate.Analysis)
	for _, c := range cmds {
		if a, err := Analyze(c); err == nil {
			want[c] = a
		}
	}
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			for _, c := range cmds {
				a, err := Analyze(c)
				if w, ok := want[c]; ok && (err != nil || !reflect.DeepEqual(a, w)) {
					t.Errorf("Analyze(%q) differs when run concurrently", c)
				}
			}
		})
	}
}
