# METADATA
# title: Baseline extension rules
# description: |
#   What RAM grammar cannot say about one simple command: a shell or an
#   interpreter that reads its program from a here-doc, a here-string or an
#   input redirection, started directly or by a wrapper (command, exec,
#   env, timeout, nohup, sudo, xargs, find -exec, …) whatever the options
#   of the wrapper. The wrapper's argv is searched for the interpreter, so
#   this errs towards denying ("timeout 5 grep bash <<<x" is denied too).
#   (The Baseline policy's NoHeredocIntoShells also stops a here-doc
#   anywhere in a command that runs a shell, such as cat <<EOF | bash.)
package hpcgate.ext.baseline

# interpreter matches the last path element of a program that runs code
# it reads: shells and script interpreters, versioned names included
# (python3.12, perl5.36).
interpreter := `^(sh|bash|dash|zsh|ksh|ksh93|mksh|pdksh|yash|posh|csh|tcsh|fish|busybox|python[0-9.]*|pypy[0-9.]*|perl[0-9.]*|ruby[0-9.]*|irb|node|nodejs|deno|bun|php[0-9.]*|lua[0-9.]*|luajit|tclsh[0-9.]*|wish[0-9.]*|expect|awk|gawk|mawk|nawk|Rscript|R|julia|guile[0-9.]*|gdb|jshell|pwsh|sqlite3|ed|ex)$`

# wrappers are programs that start a program named among their arguments.
wrappers := {
	"command", "builtin", "exec", "env", "timeout", "nohup", "nice", "stdbuf", "setsid", "ionice", "time",
	"chrt", "taskset", "xargs", "sudo", "doas", "su", "runuser", "find", "flock", "chroot", "numactl",
	"srun", "mpirun", "mpiexec", "ssh", "strace", "ltrace", "unshare", "nsenter", "watch", "script",
	"valgrind", "fakeroot", "firejail", "systemd-run", "parallel", "catchsegv", "setpriv", "prlimit",
}

base(p) := b if {
	parts := split(p, "/")
	b := parts[count(parts) - 1]
}

deny contains sprintf("%s reads its script from %s", [cmd.argv[0], r.op]) if {
	some cmd in input.command.simple
	count(cmd.argv) > 0
	regex.match(interpreter, base(cmd.argv[0]))
	some r in cmd.redirects
	contains(r.op, "<") # <, <<, <<-, <<<, <>, <&, with any descriptor: 0<<EOF too
}

deny contains sprintf("%s (started by %s) reads its script from %s", [arg, cmd.argv[0], r.op]) if {
	some cmd in input.command.simple
	count(cmd.argv) > 1
	base(cmd.argv[0]) in wrappers
	some arg in array.slice(cmd.argv, 1, count(cmd.argv))
	regex.match(interpreter, base(arg))
	some r in cmd.redirects
	contains(r.op, "<") # <, <<, <<-, <<<, <>, <&, with any descriptor: 0<<EOF too
}
