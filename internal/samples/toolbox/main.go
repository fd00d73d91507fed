// Command toolbox is the sample job the executor tests, benchmarks and demos
// run. It is built for each executor's native form by scripts/gen-samples:
// to wasip1 (GOOS=wasip1 GOARCH=wasm, committed as
// internal/samples/toolbox.wasm) and as a static Linux executable
// (CGO_ENABLED=0, committed in internal/samples/native) for exec/process,
// exec/docker and the native side of the speed benchmarks. Keep it portable:
// plain Go and the standard library; what only Linux offers (fork,
// privileged system calls) is in *_linux.go, sockets in dial.go, with
// sys_other.go and dial_other.go failing those subcommands elsewhere.
//
// Each subcommand exercises one thing an executor must get right; the list
// is in usage below and in the samples package documentation.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

type command struct {
	args string
	help string
	run  func(args []string) error
}

var commands = map[string]command{
	"hello":    {"", `print "hello from hayek", then copy stdin to stdout`, cmdHello},
	"args":     {"", "print argv, one per line", cmdArgs},
	"env":      {"", "print the environment, sorted, one KEY=VALUE per line", cmdEnv},
	"upper":    {"", "copy stdin to stdout upper-cased", cmdUpper},
	"cat":      {"FILE...", "copy files to stdout", cmdCat},
	"wc":       {"[FILE...]", "count lines, words and bytes of stdin or of each FILE", cmdWc},
	"sha256":   {"", "hash every file in /in; print and write the manifest to /out/manifest.sha256", cmdSha256},
	"ls":       {"DIR", "list DIR: mode, size, mtime (Unix ns) and name of each entry", cmdLs},
	"write":    {"N SIZE", "write N files of SIZE bytes to /out (file-0000, file-0001, ...)", cmdWrite},
	"touch":    {"PATH", "create PATH and write a line to it; exit 1 if that fails", cmdTouch},
	"fsops":    {"OP ARGS...", "run file operations (mkdir, write, mv, ls, cd DIR...); print each outcome", cmdFS},
	"readhost": {"", "try to reach the host file system; print each attempt and its outcome", cmdReadhost},
	"readfile": {"PATH...", "print a SHA-256 of each file's bytes or directory's names, or the error", cmdReadfile},
	"dial":     {"NET:ADDR...", "try to connect to each address (tcp:, udp:, unix:); print each outcome", cmdDial},
	"fork":     {"N", "fork N children that sleep, then sleep; exit 1 if a fork fails", cmdFork},
	"escape":   {"", "try privileged operations (namespaces, mount, ptrace, io_uring, BPF...), undoing any that work; print each outcome", cmdEscape},
	"rand":     {"", "print bytes from crypto/rand, math/rand/v2 and the wall and monotonic clocks", cmdRand},
	"primes":   {"N", "count primes below N by trial division (CPU-bound)", cmdPrimes},
	"spin":     {"", "loop forever without calling the host", cmdSpin},
	"alloc":    {"", "allocate and touch 1 MiB blocks forever", cmdAlloc},
	"flood":    {"[BYTES] [stdout|stderr]", "write BYTES (default: without end) to stdout or stderr", cmdFlood},
	"exit":     {"CODE", "exit with CODE", cmdExit},
	"trap":     {"", "load from outside linear memory (a wasm trap; natively a segfault, dying by a signal)", cmdTrap},
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	c, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "toolbox: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := c.run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "toolbox %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: toolbox COMMAND [ARGS]\n\ncommands:\n")
	for _, name := range names {
		c := commands[name]
		fmt.Fprintf(&b, "  %-30s %s\n", strings.TrimSpace(name+" "+c.args), c.help)
	}
	fmt.Fprint(os.Stderr, b.String())
}
