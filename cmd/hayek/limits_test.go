package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

// timeoutResult is what a provider reports for a run stopped at its time
// limit: exit code 0, status timeout, and its own account of what to do.
var timeoutResult = api.Result{Provider: "12D3KooWProviderOneAAAAAAAAAAAAAAAAAAAAAAAA11111111", Price: 40,
	Status: "timeout", ExitCode: 0, Error: "job ran past its time limit of 300ms; raise the job's timeout (--timeout)"}

// TestLimitShowsEverywhere checks that a job stopped at a limit shows its
// status wherever the CLI shows the job, never "exit code 0", and that the
// hint to raise the limit is given once.
func TestLimitShowsEverywhere(t *testing.T) {
	f, sock := startNode(t)
	wasm := filepath.Join(files(t, "m.wasm", "\x00asm"), "m.wasm")

	// --wait follows the job as it is stopped.
	waited := make(chan result, 1)
	go func() {
		waited <- hayek(t, sock, "", "job", "submit", "--wasm", wasm, "--env", "OUTCOME=hang", "--wait")
	}()
	waitFor(t, func() bool { return f.Subscribers("j1") > 0 })
	f.Finish("j1", timeoutResult)
	var r result
	select {
	case r = <-waited:
	case <-time.After(time.Minute):
		t.Fatal("job submit --wait did not end after the job finished")
	}
	const wantErr = "hayek: job j1 was stopped at its time limit (timeout): job ran past its time limit of 300ms; raise the job's timeout (--timeout)\n"
	for what, r := range map[string]result{
		"submit --wait": r,
		"watch":         hayek(t, sock, "", "job", "watch", "j1"),
		"result":        hayek(t, sock, "", "job", "result", "j1"),
	} {
		r.want(t, ExitFailed, "job j1 was stopped at its time limit (timeout)")
		if what != "result" && !strings.Contains(r.stderr, "result   result from 12D3…111111: timeout, price 40\n") {
			t.Errorf("%s: progress does not show the status:\n%s", what, r.stderr)
		}
		if !strings.HasSuffix(r.stderr, wantErr) {
			t.Errorf("%s: error is not\n%s\ngot:\n%s", what, wantErr, r.stderr)
		}
	}

	r = hayek(t, sock, "", "job", "status", "j1")
	r.want(t, ExitOK)
	r.stdoutHas(t, "result    timeout: stopped at its time limit\n")
	r = hayek(t, sock, "", "job", "list")
	r.want(t, ExitOK)
	r.stdoutHas(t, "EXIT", "  timeout  ")
	for name, out := range map[string]string{"submit --wait": r.stderr, "status": hayek(t, sock, "", "job", "status", "j1").stdout, "list": r.stdout} {
		if strings.Contains(out, "exit code 0") || strings.Contains(out, "  0  ") {
			t.Errorf("%s shows exit code 0 for a job stopped at its time limit:\n%s", name, out)
		}
	}
}

func TestRunStatusSaysEachHintOnce(t *testing.T) {
	for _, c := range []struct {
		status, detail string
		code           int32
		want           string
	}{
		{"ok", "", 0, ""},
		{"exit", "module exited with code 3", 3, "job j exited with code 3"},
		{"exit", "", 2, "job j exited with code 2"},
		{"timeout", "", 0, "job j was stopped at its time limit (timeout); raise --timeout"},
		{"timeout", timeoutResult.Error, 0, "job j was stopped at its time limit (timeout): " + timeoutResult.Error},
		{"memory_limit", "module tried to grow its memory beyond the job's limit; raise the job's memory limit", 0,
			"job j was stopped at its memory limit (memory_limit): module tried to grow its memory beyond the job's limit; raise the job's memory limit (--memory)"},
		{"output_limit", "", 0, "job j was stopped at its output limit (output_limit); raise --max-output"},
		{"trap", "", 0, "job j trapped (trap)"},
		{"bad_module", "", 0, "job j could not be instantiated (bad_module)"},
		{"weird", "", 0, "job j ended with status weird"},
	} {
		err := runStatus("j", c.status, c.code, c.detail)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("runStatus(%s, %d, %q)\n got %q\nwant %q", c.status, c.code, c.detail, got, c.want)
		}
	}
}

// waitFor polls until cond holds (apitest.WaitFor); a fake node needs far
// less than the wait allows, which only bounds a test that would hang.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	apitest.WaitFor(t, 12*time.Second, "the condition", cond)
}
