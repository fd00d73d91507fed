package wasm

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/internal/samples"
)

// fsops runs the toolbox's fsops script and returns its result; the
// transcript (one line per operation) is the stdout.
func fsops(t *testing.T, e *Executor, job exec.Job, script ...string) exec.Result {
	t.Helper()
	job.ID = "fsops"
	job.ModuleCID = "toolbox"
	job.Module = samples.Toolbox
	job.Args = append([]string{"fsops"}, script...)
	res, err := e.Run(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func expectTranscript(t *testing.T, res exec.Result, want ...string) {
	t.Helper()
	if got := strings.Split(strings.TrimSuffix(string(res.Stdout), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transcript:\n%s\nwant:\n%s\n(status %s, stderr %q)", res.Stdout, strings.Join(want, "\n"), res.Status, res.Stderr)
	}
}

// A directory the program opened itself (os.OpenRoot, openat) is not a
// preopen: wazero hands the file system its name prefixed to the path,
// "/b" for a directory opened as "." — which used to fail with EINVAL.
func TestPathsRelativeToAnOpenedDirectory(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	res := fsops(t, e, exec.Job{Inputs: []exec.File{{Name: "x", Data: []byte("input x")}}},
		"cd", "/out", "write", "b", "hi", "append", "b", "!", "cat", "b", "stat", "b", "ls", ".", "mv", "b", "c", "rm", "c", "write", "kept", "k",
		"cd", "/in", "cat", "x", "ls", ".", "write", "y", "no",
	)
	expectTranscript(t, res,
		"cd /out: ok",
		"write b hi: ok",
		"append b !: ok",
		`cat b: "hi!"`,
		"stat b: -rw------- 3 1640995200000000000",
		"ls .: b",
		"mv b c: ok",
		"rm c: ok",
		"write kept k: ok",
		"cd /in: ok",
		`cat x: "input x"`,
		"ls .: x",
		"write y no: error: Read-only file system",
	)
	if res.Status != exec.StatusExit || len(res.Outputs) != 1 || res.Outputs[0].Name != "kept" {
		t.Errorf("status %s, outputs %v: want exit 1 (one op failed) and only kept", res.Status, res.Outputs)
	}
}

// File times read as the job's fake clock: its latest reading when a file
// changes (so never ahead of what the job could have read), the epoch for
// inputs, and what the job sets with utimes. Replicas thus agree.
func TestFileTimesFollowTheJobClock(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	res := fsops(t, e, exec.Job{Inputs: []exec.File{{Name: "x", Data: []byte("x")}}},
		"write", "/out/f", "x", "stat", "/out/f", "now", "now", "append", "/out/f", "y", "stat", "/out/f",
		"mkdir", "/out/d", "stat", "/out/d", "chtimes", "/out/f", "1000", "stat", "/out/f", "stat", "/in/x",
	)
	expectTranscript(t, res,
		"write /out/f x: ok",
		"stat /out/f: -rw------- 1 1640995200000000000",
		"now: 1640995200000000000",
		"now: 1640995200001000000",
		"append /out/f y: ok",
		"stat /out/f: -rw------- 2 1640995200001000000",
		"mkdir /out/d: ok",
		"stat /out/d: drwx------ 0 1640995200001000000",
		"chtimes /out/f 1000: ok",
		"stat /out/f: -rw------- 2 1000000000000",
		"stat /in/x: -rw------- 1 1640995200000000000",
	)
}

// What a program sees through WASI when it gets directories wrong: the
// errnos POSIX gives, as Go's wasip1 port reports them.
func TestDirectoryErrors(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	res := fsops(t, e, exec.Job{},
		"mkdirall", "/out/a/b", "write", "/out/a/b/f", "x", "write", "/out/file", "x", "mkdir", "/out/empty",
		"mkdir", "/out/a", "mkdir", "/out/file/x", "mkdir", "/out/none/x",
		"rm", "/out/a", "mv", "/out/a", "/out/a/b/a", "mv", "/out/empty", "/out/a", "mv", "/out/file", "/out/empty",
		"symlink", "/etc/passwd", "/out/link", "symlink", "x", "/out/file", "link", "/out/file", "/out/hard",
		"rm", "/out/empty", "mv", "/out/a", "/out/empty", "ls", "/out", "ls", "/out/empty/b",
		"mv", "/tmp", "/out/t", "write", "/tmp/x", "x", "mv", "/tmp/x", "/out/x",
	)
	expectTranscript(t, res,
		"mkdirall /out/a/b: ok",
		"write /out/a/b/f x: ok",
		"write /out/file x: ok",
		"mkdir /out/empty: ok",
		"mkdir /out/a: error: File exists",
		"mkdir /out/file/x: error: Not a directory",
		"mkdir /out/none/x: error: No such file or directory",
		"rm /out/a: error: Directory not empty",
		"mv /out/a /out/a/b/a: error: Invalid argument",
		// Go's os.Rename refuses to replace a directory before asking
		// WASI (for Windows' sake); memfs_test covers path_rename's own
		// answers.
		"mv /out/empty /out/a: error: File exists",
		"mv /out/file /out/empty: error: File exists",
		"symlink /etc/passwd /out/link: error: Not supported",
		"symlink x /out/file: error: File exists",
		"link /out/file /out/hard: error: Not supported",
		"rm /out/empty: ok",
		"mv /out/a /out/empty: ok",
		"ls /out: empty/ file",
		"ls /out/empty/b: f",
		// wazero renames only within one mount.
		"mv /tmp /out/t: error: Not implemented on wasip1",
		"write /tmp/x x: ok",
		"mv /tmp/x /out/x: error: Not implemented on wasip1",
	)
	if got := fmt.Sprint(names(res.Outputs)); got != "[empty/b/f file]" {
		t.Errorf("outputs = %s", got)
	}
}
