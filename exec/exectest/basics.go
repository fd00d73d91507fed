package exectest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hayek-market/hayek/exec"
)

func (s *suite) hello(t *testing.T) {
	e := s.start(t)
	res := run(t, e, s.helloJob("hello", "from stdin\n"))
	expectOK(t, res)
	expectStdout(t, res, "hello from hayek\nfrom stdin\n")
	if len(res.Stderr) != 0 || res.StdoutTruncated || res.StderrTruncated || len(res.Outputs) != 0 {
		t.Errorf("unexpected extras: stderr %q, truncated %v/%v, outputs %d",
			res.Stderr, res.StdoutTruncated, res.StderrTruncated, len(res.Outputs))
	}
	if res.Usage.Wall <= 0 || res.Usage.MemoryBytes <= 0 {
		t.Errorf("usage = %+v, want positive wall time and memory", res.Usage)
	}
}

func (s *suite) argsEnvStdin(t *testing.T) {
	e := s.start(t)

	args := []string{"one", "two words", "", "ünïcödé", "--flag=x"}
	res := run(t, e, s.toolbox("args", append([]string{"args"}, args...)...))
	expectOK(t, res)
	lines := strings.Split(strings.TrimSuffix(string(res.Stdout), "\n"), "\n")
	if len(lines) != len(args)+2 || lines[0] == "" || lines[1] != "args" || !slices.Equal(lines[2:], args) {
		t.Errorf("argv = %q, want [argv0 args %q]", lines, args)
	}

	job := s.toolbox("env", "env")
	job.Env = map[string]string{"HAYEK_A": "1", "B": "x=y", "EMPTY": "", "Z": "ünï"}
	res = run(t, e, job)
	expectOK(t, res)
	// Exactly these: nothing from the host's environment leaks in.
	expectStdout(t, res, "B=x=y\nEMPTY=\nHAYEK_A=1\nZ=ünï\n")

	job = s.toolbox("upper", "upper")
	job.Stdin = []byte("hello, wörld\nline two\n")
	res = run(t, e, job)
	expectOK(t, res)
	expectStdout(t, res, "HELLO, WÖRLD\nLINE TWO\n")

	big := bytes.Repeat([]byte("abcdefgh\n"), 1<<17) // 1.1 MiB of stdin
	job = s.toolbox("wc", "wc")
	job.Stdin = big
	res = run(t, e, job)
	expectOK(t, res)
	expectStdout(t, res, fmt.Sprintf("%d %d %d\n", 1<<17, 1<<17, len(big)))
}

func sampleInputs() []exec.File {
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	return []exec.File{
		{Name: "b.bin", Data: bin},
		{Name: "a.txt", Data: []byte("alpha\nbeta gamma\n")},
		{Name: "empty", Data: nil},
	}
}

func (s *suite) inputs(t *testing.T) {
	e := s.start(t)
	inputs := sampleInputs()
	var manifest strings.Builder
	for _, name := range []string{"a.txt", "b.bin", "empty"} {
		i := slices.IndexFunc(inputs, func(f exec.File) bool { return f.Name == name })
		sum := sha256.Sum256(inputs[i].Data)
		fmt.Fprintf(&manifest, "%s  %s\n", hex.EncodeToString(sum[:]), name)
	}

	job := s.toolbox("sha256", "sha256")
	job.Inputs = inputs
	res := run(t, e, job)
	expectOK(t, res)
	expectStdout(t, res, manifest.String())
	if len(res.Outputs) != 1 || res.Outputs[0].Name != "manifest.sha256" || string(res.Outputs[0].Data) != manifest.String() {
		t.Errorf("outputs = %v, want manifest.sha256 with the manifest", names(res.Outputs))
	}

	job = s.toolbox("cat", "cat", "/in/a.txt", "/in/empty")
	job.Inputs = inputs
	res = run(t, e, job)
	expectOK(t, res)
	expectStdout(t, res, "alpha\nbeta gamma\n")

	job = s.toolbox("wc", "wc", "/in/a.txt")
	job.Inputs = inputs
	res = run(t, e, job)
	expectOK(t, res)
	expectStdout(t, res, "2 3 17 /in/a.txt\n")
}

func (s *suite) inputsReadOnly(t *testing.T) {
	e := s.start(t)
	for _, path := range []string{"/in/a.txt", "/in/new.txt", "/in"} {
		inputs := sampleInputs()
		job := s.toolbox("touch", "touch", path)
		job.Inputs = inputs
		res := run(t, e, job)
		expect(t, res, exec.StatusExit)
		if res.ExitCode != 1 {
			t.Errorf("touch %s: exit %d, want 1 (stderr %q)", path, res.ExitCode, res.Stderr)
		}
		if !slices.EqualFunc(inputs, sampleInputs(), func(a, b exec.File) bool {
			return a.Name == b.Name && bytes.Equal(a.Data, b.Data)
		}) {
			t.Errorf("touch %s changed the job's input data", path)
		}
		if len(res.Outputs) != 0 {
			t.Errorf("touch %s: outputs %v, want none", path, names(res.Outputs))
		}
	}
}

func names(files []exec.File) []string {
	s := make([]string, len(files))
	for i, f := range files {
		s[i] = f.Name
	}
	return s
}

func (s *suite) outputs(t *testing.T) {
	e := s.start(t)
	res := run(t, e, s.toolbox("write", "write", "12", "10"))
	expectOK(t, res)
	if len(res.Outputs) != 12 {
		t.Fatalf("outputs = %v, want 12 files", names(res.Outputs))
	}
	if !slices.IsSortedFunc(res.Outputs, func(a, b exec.File) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("outputs not sorted by name: %v", names(res.Outputs))
	}
	for i, f := range res.Outputs {
		want := make([]byte, 10)
		for j := range want {
			want[j] = byte('a' + (i+j)%26)
		}
		if f.Name != fmt.Sprintf("file-%04d", i) || !bytes.Equal(f.Data, want) {
			t.Errorf("output %d = %s %q, want file-%04d %q", i, f.Name, f.Data, i, want)
		}
	}

	res = run(t, e, s.toolbox("touch", "touch", "/out/touched"))
	expectOK(t, res)
	if len(res.Outputs) != 1 || res.Outputs[0].Name != "touched" || string(res.Outputs[0].Data) != "touched\n" {
		t.Errorf("outputs = %v, want touched", names(res.Outputs))
	}
}

// nestedOutputs: directories in /out can be made, renamed and removed,
// and the files left in them come back named by their path, sorted.
func (s *suite) nestedOutputs(t *testing.T) {
	e := s.start(t)
	res := run(t, e, s.toolbox("tree", "fsops",
		"mkdirall", "/out/a/b", "write", "/out/a/b/c", "deep", "write", "/out/a/x", "x",
		"mkdir", "/out/empty", "mkdir", "/out/gone", "write", "/out/gone/f", "f", "rmall", "/out/gone",
		"mv", "/out/a/b", "/out/moved", "write", "/out/a-z", "sorts before a/", "write", "/out/top", "top",
		"ls", "/out", "ls", "/out/a"))
	expectOK(t, res)
	for _, line := range []string{"ls /out: a/ a-z empty/ moved/ top\n", "ls /out/a: x\n"} {
		if !strings.Contains(string(res.Stdout), line) {
			t.Errorf("stdout lacks %q:\n%s", line, res.Stdout)
		}
	}
	want := []exec.File{
		{Name: "a-z", Data: []byte("sorts before a/")},
		{Name: "a/x", Data: []byte("x")},
		{Name: "moved/c", Data: []byte("deep")},
		{Name: "top", Data: []byte("top")},
	}
	if !slices.EqualFunc(res.Outputs, want, func(a, b exec.File) bool { return a.Name == b.Name && bytes.Equal(a.Data, b.Data) }) {
		t.Errorf("outputs = %v, want %v (files only, by path, sorted)", names(res.Outputs), names(want))
	}
}

// relativePaths: a program that opens a directory itself (os.OpenRoot,
// openat) reaches the files below it through that descriptor.
func (s *suite) relativePaths(t *testing.T) {
	e := s.start(t)
	job := s.toolbox("root", "fsops",
		"cd", "/out", "mkdir", "d", "write", "d/f", "in d", "write", "top", "top", "mv", "top", "d/top", "ls", "d",
		"cd", "/in", "cat", "a.txt", "ls", ".")
	job.Inputs = sampleInputs()
	res := run(t, e, job)
	expectOK(t, res)
	for _, line := range []string{"ls d: f top\n", `cat a.txt: "alpha\nbeta gamma\n"` + "\n", "ls .: a.txt b.bin empty\n"} {
		if !strings.Contains(string(res.Stdout), line) {
			t.Errorf("stdout lacks %q:\n%s", line, res.Stdout)
		}
	}
	if got := fmt.Sprint(names(res.Outputs)); got != "[d/f d/top]" {
		t.Errorf("outputs = %s, want [d/f d/top]", got)
	}
}

func (s *suite) exitCode(t *testing.T) {
	e := s.start(t)
	for _, code := range []int32{1, 3, 42, 255} {
		res := run(t, e, s.toolbox("exit", "exit", fmt.Sprint(code)))
		expect(t, res, exec.StatusExit)
		if res.ExitCode != code {
			t.Errorf("exit %d: got code %d", code, res.ExitCode)
		}
	}
	expectOK(t, run(t, e, s.toolbox("exit0", "exit", "0")))

	res := run(t, e, s.toolbox("unknown", "no-such-command"))
	expect(t, res, exec.StatusExit)
	if res.ExitCode != 2 || !strings.Contains(string(res.Stderr), "unknown command") {
		t.Errorf("unknown command: exit %d, stderr %q; want exit 2 and the usage on stderr", res.ExitCode, res.Stderr)
	}
}

func (s *suite) trap(t *testing.T) {
	e := s.start(t)
	res := run(t, e, s.toolbox("trap", "trap"))
	expect(t, res, exec.StatusTrap)
	if res.Error == "" {
		t.Error("trap without an error detail")
	}
}

// scratchTmp: /tmp is writable and empty at every start, holds
// directories, and nothing in it is an output.
func (s *suite) scratchTmp(t *testing.T) {
	e := s.start(t)
	res := run(t, e, s.toolbox("tmp", "fsops",
		"ls", "/tmp", "write", "/tmp/a", "scratch", "mkdir", "/tmp/d", "write", "/tmp/d/f", "x",
		"mv", "/tmp/a", "/tmp/d/a", "cat", "/tmp/d/a", "ls", "/tmp/d", "write", "/out/result", "done"))
	expectOK(t, res)
	for _, line := range []string{"ls /tmp: ok\n", `cat /tmp/d/a: "scratch"` + "\n", "ls /tmp/d: a f\n"} {
		if !strings.Contains(string(res.Stdout), line) {
			t.Errorf("stdout lacks %q:\n%s", line, res.Stdout)
		}
	}
	if got := fmt.Sprint(names(res.Outputs)); got != "[result]" {
		t.Errorf("outputs = %s, want only [result]: /tmp is not collected", got)
	}
	// A run does not see what an earlier one left in /tmp.
	res = run(t, e, s.toolbox("tmp2", "fsops", "ls", "/tmp"))
	expectOK(t, res)
	expectStdout(t, res, "ls /tmp: ok\n")
}
