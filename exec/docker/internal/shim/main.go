//go:build linux

// Command shim is PID 1 of every exec/docker container. The executor
// bind-mounts it read-only at /.hayek-init and makes it the container's
// entrypoint:
//
//	/.hayek-init -status /.hayek/status -spec /.hayek/spec
//
// so that a container can be created and started before its job is
// known (the executor keeps one warm per image). The shim waits for one
// byte on stdin, the executor's go; reads the job from the -spec file, a
// JSON object {"argv": [...], "env": ["K=V", ...], "end": MARKER}, and
// removes it; stacks its own seccomp filter on the engine's (seccomp.go);
// and starts argv as its only child with exactly that environment (the
// engine's HOSTNAME, HOME and PATH do not reach it) and the rest of
// stdin. It finds argv[0] in the job's PATH, or else the image's, like
// execvp. It reaps every process the job leaves, and when argv[0] ends
// kills all that remain in the container. Only then, with no process of
// the job alive to interfere, it writes one status line to the -status
// file:
//
//	exit CODE signal SIGNAL maxrss BYTES
//
// and MARKER to stdout and stderr, the last bytes of each: the executor
// then knows it has all the job's output without waiting for the engine
// to tear the container down. The job never sees MARKER (the spec is
// gone and the shim is not dumpable), so it cannot end its output early.
// With the status the executor tells death by a signal from an exit code
// above 128, and knows the peak resident memory of the job's largest
// process. The shim exits with the job's exit code, or 128 plus the
// signal. If stdin ends before the go, the container was not needed: it
// exits 0 and writes nothing.
package main

import (
	"encoding/json"
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
	var status, specPath string
	for len(args) > 0 {
		if len(args) < 2 {
			return fail("", fmt.Sprintf("usage: shim -status FILE -spec FILE; got %q", args))
		}
		switch args[0] {
		case "-status":
			status = args[1]
		case "-spec":
			specPath = args[1]
		default:
			return fail(status, fmt.Sprintf("unknown flag %q", args[0]))
		}
		args = args[2:]
	}
	if status == "" || specPath == "" {
		return fail(status, "usage: shim -status FILE -spec FILE")
	}
	// One byte, and not one more: the rest of stdin is the job's.
	var goByte [1]byte
	for {
		n, err := syscall.Read(0, goByte[:])
		if err == syscall.EINTR {
			continue
		}
		if n <= 0 {
			return 0 // never given a job
		}
		break
	}
	b, err := os.ReadFile(specPath)
	if err != nil {
		return fail(status, fmt.Sprintf("read the job: %v", err))
	}
	var spec struct {
		Argv []string `json:"argv"`
		Env  []string `json:"env"`
		End  string   `json:"end"`
	}
	if err := json.Unmarshal(b, &spec); err != nil || len(spec.Argv) == 0 || spec.End == "" {
		return fail(status, fmt.Sprintf("malformed job %q: %v", b, err))
	}
	// The end marker must stay the shim's: the job may not read the spec
	// or the shim's memory.
	if err := os.Remove(specPath); err != nil {
		return fail(status, fmt.Sprintf("remove the job spec: %v", err))
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0); errno != 0 {
		return fail(status, fmt.Sprintf("prctl(PR_SET_DUMPABLE): %v", errno))
	}
	argv, env := spec.Argv, spec.Env
	path := os.Getenv("PATH")
	for _, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = p
		}
	}
	// From here on a failure is the job's to hear of: its status, then
	// the markers, as at a job's end.
	failJob := func(msg string) int {
		code := fail(status, msg)
		for fd := 1; fd <= 2; fd++ {
			writeAll(fd, []byte(spec.End))
		}
		return code
	}
	prog, err := lookPath(argv[0], path)
	if err != nil {
		return failJob(err.Error())
	}
	if err := installSeccomp(); err != nil {
		return failJob(err.Error())
	}
	wd, _ := os.Getwd()
	pid, err := syscall.ForkExec(prog, argv, &syscall.ProcAttr{
		Dir:   wd,
		Env:   env,
		Files: []uintptr{0, 1, 2},
	})
	if err != nil {
		return failJob(fmt.Sprintf("start %s: %v", argv[0], err))
	}
	// The job alone reads stdin.
	syscall.Close(0)
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
	// The last bytes on stdout and stderr: the executor has all the job
	// wrote when it reads them, without waiting for the engine to tear
	// the container down.
	for fd := 1; fd <= 2; fd++ {
		writeAll(fd, []byte(spec.End))
	}
	return code
}

func writeAll(fd int, b []byte) {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		b = b[n:]
	}
}

// lookPath finds name in path the way execvp would.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("start %s: not found in PATH %q", name, path)
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
