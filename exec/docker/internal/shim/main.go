// Command shim is PID 1 of every exec/docker container. The executor
// bind-mounts it read-only at /.hayek-init and makes it the container's
// entrypoint in front of the image's own:
//
//	/.hayek-init -status /.hayek/status [-keep NAME]... -- PROGRAM ARGS...
//
// It stacks its own seccomp filter on the engine's (seccomp.go), then
// starts PROGRAM as its only child with only the variables named by -keep
// of the environment the engine set: the engine always adds HOSTNAME,
// HOME and a PATH, and a job's environment must be exactly what the job
// (and, where the provider allows it, its image) asked for. It finds
// PROGRAM in the engine's PATH, like execvp. It reaps every process the
// job leaves, and when PROGRAM ends kills all that remain in the
// container. Only then, with no process of the job alive to interfere, it
// writes one status line to the -status file:
//
//	exit CODE signal SIGNAL maxrss BYTES
//
// so the executor can tell death by a signal from an exit code above 128,
// and knows the peak resident memory of the job's largest process. It
// exits with the job's exit code, or 128 plus the signal.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var status string
	keep := map[string]bool{}
	for len(args) > 0 && args[0] != "--" {
		if len(args) < 2 {
			return fail("", fmt.Sprintf("usage: shim -status FILE [-keep NAME]... -- PROGRAM ARGS...; got %q", args))
		}
		switch args[0] {
		case "-status":
			status = args[1]
		case "-keep":
			keep[args[1]] = true
		default:
			return fail(status, fmt.Sprintf("unknown flag %q", args[0]))
		}
		args = args[2:]
	}
	if len(args) < 2 || status == "" {
		return fail(status, "no -status file or no program after --")
	}
	argv := args[1:]
	prog, err := lookPath(argv[0])
	if err != nil {
		return fail(status, err.Error())
	}
	var env []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); keep[name] {
			env = append(env, kv)
		}
	}
	if err := installSeccomp(); err != nil {
		return fail(status, err.Error())
	}
	wd, _ := os.Getwd()
	pid, err := syscall.ForkExec(prog, argv, &syscall.ProcAttr{
		Dir:   wd,
		Env:   env,
		Files: []uintptr{0, 1, 2},
	})
	if err != nil {
		return fail(status, fmt.Sprintf("start %s: %v", argv[0], err))
	}
	// Nothing of the job reads stdin through the shim: close its copies so
	// the job alone holds them.
	for fd := 0; fd < 3; fd++ {
		syscall.Close(fd)
	}
	var ws syscall.WaitStatus
	for {
		var w syscall.WaitStatus
		got, err := syscall.Wait4(-1, &w, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fail(status, fmt.Sprintf("wait: %v", err))
		}
		if got == pid {
			ws = w
			break
		}
	}
	// The job is over: nothing it started may outlive it.
	syscall.Kill(-1, syscall.SIGKILL)
	for {
		_, err := syscall.Wait4(-1, nil, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			break // ECHILD: all reaped
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	code, sig := ws.ExitStatus(), 0
	if ws.Signaled() {
		sig = int(ws.Signal())
		code = 128 + sig
	}
	if err := writeStatus(status, fmt.Sprintf("exit %d signal %d maxrss %d\n", ws.ExitStatus(), sig, ru.Maxrss*1024)); err != nil {
		return 125
	}
	return code
}

// lookPath finds name in the engine's PATH the way execvp would.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("start %s: not found in PATH %q", name, os.Getenv("PATH"))
}

// writeStatus replaces whatever the job may have left at path: it is
// dead, so what is written now is the shim's alone.
func writeStatus(path, line string) error {
	os.RemoveAll(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// fail reports a start-up failure: on the status file when there is one
// (the executor shows it), on stderr always. 127 is what a shell answers
// for a program it cannot start.
func fail(status, msg string) int {
	fmt.Fprintf(os.Stderr, "hayek shim: %s\n", msg)
	if status != "" {
		writeStatus(status, "error "+strings.ReplaceAll(msg, "\n", " ")+"\n")
	}
	return 127
}
