package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

type result struct {
	code           int
	stdout, stderr string
}

// hayek runs the CLI in-process against the node at sock.
func hayek(t *testing.T, sock, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(t.Context(), append([]string{"--socket", sock}, args...), Streams{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(string) string { return "" },
	})
	return result{code, out.String(), errb.String()}
}

func (r result) want(t *testing.T, code int, stderrHas ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stderrHas {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
}

// startNode runs a fake node, whose jobs run as an echo module, behind a
// real api.Server, and returns it and its socket's path.
func startNode(t *testing.T, opts ...api.Option) (*apitest.Node, string) {
	t.Helper()
	f := apitest.New(apitest.Echo(), apitest.TokenFormat("hk_%s_secret"))
	t.Cleanup(f.Close) // after the server's cleanup: no job starts once it has closed
	_, sock := apitest.Serve(t, f, opts...)
	return f, sock
}

// files writes name=content pairs into a temp dir and returns its path.
func files(t *testing.T, kv ...string) string {
	dir := t.TempDir()
	for i := 0; i+1 < len(kv); i += 2 {
		if err := os.WriteFile(filepath.Join(dir, kv[i]), []byte(kv[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSubmitWaitDeliversEverything(t *testing.T) {
	f, sock := startNode(t)
	stdin := "binary \x00\xff\xfe stdin\n"
	dir := files(t, "m.wasm", "\x00asm\x01\x00\x00\x00", "in.bin", stdin, "a.txt", "input a")
	out := filepath.Join(t.TempDir(), "results", "nested")
	r := hayek(t, sock, "", "job", "submit", "--wasm", filepath.Join(dir, "m.wasm"),
		"--stdin", filepath.Join(dir, "in.bin"), "--input", "a.txt="+filepath.Join(dir, "a.txt"),
		"--arg", "x,y", "--env", "K=V=W", "--memory", "128MiB", "--timeout", "3s", "--max-output", "1MiB",
		"--deadline", "1m", "--value-of-time", "7", "--idempotency-key", "k1", "--wait", "--out", out, "--", "z")
	r.want(t, 0,
		"job j1 submitted, max price 1000",
		"call for bids to 2 providers",
		"bids 40, starts within 50ms",
		"declines: busy",
		"awarded to 12D3…111111 at price 40",
		"running on 12D3…111111",
		"exit code 0",
		"args: x,y z\n",
	)
	if r.stdout != stdin {
		t.Errorf("stdout %q, want the job's stdout %q byte for byte", r.stdout, stdin)
	}
	if b, err := os.ReadFile(filepath.Join(out, "a.txt")); err != nil || string(b) != "input a" {
		t.Errorf("output a.txt: %q %v", b, err)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 {
		t.Errorf("--out holds %d entries, want only a.txt (no partial files)", len(entries))
	}
	req := f.LastSubmit()
	if req.Memory != 128<<20 || req.Timeout != units.Duration(3*time.Second) || req.MaxOutput != 1<<20 ||
		req.Deadline != units.Duration(time.Minute) || req.ValueOfTime != 7 || req.MaxPrice != defaultMaxPrice ||
		req.IdempotencyKey != "k1" || req.Env["K"] != "V=W" || strings.Join(req.Args, "|") != "x,y|z" {
		t.Errorf("spec sent: %+v", req)
	}
}

func TestSubmitBigStdinIsUploaded(t *testing.T) {
	f, sock := startNode(t)
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB: above the inline size
	dir := files(t, "m.wasm", "\x00asm")
	r := hayek(t, sock, big, "job", "submit", "--wasm", filepath.Join(dir, "m.wasm"), "--stdin", "-", "--wait")
	r.want(t, 0)
	if r.stdout != big {
		t.Errorf("stdout is %d bytes, want %d", len(r.stdout), len(big))
	}
	if req := f.LastSubmit(); req.Stdin == nil || req.Stdin.CID == "" {
		t.Errorf("stdin ref %+v", req.Stdin)
	}
}

func TestSubmitWithoutWait(t *testing.T) {
	_, sock := startNode(t)
	dir := files(t, "m.wasm", "\x00asm")
	r := hayek(t, sock, "", "job", "submit", "--wasm", filepath.Join(dir, "m.wasm"))
	r.want(t, 0)
	if r.stdout != "j1\n" {
		t.Errorf("stdout %q, want the job ID alone", r.stdout)
	}
	r = hayek(t, sock, "", "job", "submit", "--wasm", filepath.Join(dir, "m.wasm"), "--json")
	r.want(t, 0)
	var job api.Job
	if err := json.Unmarshal([]byte(r.stdout), &job); err != nil || job.ID != "j2" || job.MaxPrice != defaultMaxPrice {
		t.Errorf("--json: %v %+v\n%s", err, job, r.stdout)
	}
	if !strings.Contains(r.stdout, "\n  \"id\"") {
		t.Errorf("--json is not indented:\n%s", r.stdout)
	}
}

func TestSubmitExitCodes(t *testing.T) {
	_, sock := startNode(t)
	wasm := filepath.Join(files(t, "m.wasm", "\x00asm"), "m.wasm")
	hayek(t, sock, "", "job", "submit", "--wasm", wasm, "--env", "EXIT=3", "--wait").
		want(t, ExitFailed, "job j1 exited with code 3")
	hayek(t, sock, "", "job", "submit", "--wasm", wasm, "--env", "OUTCOME=trap", "--wait").
		want(t, ExitFailed, "job j2 trapped")
	r := hayek(t, sock, "", "job", "submit", "--wasm", wasm, "--env", "OUTCOME=nobids", "--max-price", "50", "--wait")
	r.want(t, ExitNotRun,
		"job j3 could not be run: no provider bid",
		"12D3…111111 declined (price_floor: price floor 2000 > max price 50)",
		"12D3…222222 declined (busy)",
		"Try: a higher --max-price")
	// --json --wait: the final job on stdout, the same exit codes.
	r = hayek(t, sock, "", "job", "submit", "--wasm", wasm, "--env", "EXIT=2", "--wait", "--json")
	r.want(t, ExitFailed)
	var job api.Job
	if err := json.Unmarshal([]byte(r.stdout), &job); err != nil || job.State != api.StateCompleted || *job.ExitCode != 2 {
		t.Errorf("--wait --json: %v %+v", err, job)
	}
	if strings.Contains(r.stderr, "call for bids") {
		t.Errorf("--json printed progress:\n%s", r.stderr)
	}
}

func TestSubmitUsageErrors(t *testing.T) {
	_, sock := startNode(t)
	dir := files(t, "m.wasm", "\x00asm")
	wasm := filepath.Join(dir, "m.wasm")
	cases := []struct {
		name string
		args []string
		say  string
	}{
		{"no wasm", nil, "what to run is required: --wasm FILE, --exec FILE, --image REF or --image-file FILE"},
		{"two programs", []string{"--exec", "a", "--image-file", "b"}, "--exec and --image-file: give one program only"},
		{"wasm with gpus", []string{"--wasm", "a", "--gpus", "1"}, "a wasm job has no GPU"},
		{"gpu model without gpus", []string{"--exec", "a", "--gpu-model", "l4"}, "describe the GPUs of --gpus N"},
		{"negative cpus", []string{"--exec", "a", "--cpus", "-1"}, "--cpus -1: want a number of cores"},
		{"missing wasm", []string{"--wasm", filepath.Join(dir, "nope.wasm")}, "no such file"},
		{"wasm is a dir", []string{"--wasm", dir}, "is a directory"},
		{"missing stdin", []string{"--wasm", wasm, "--stdin", filepath.Join(dir, "nope")}, "--stdin"},
		{"input without =", []string{"--wasm", wasm, "--input", "data.csv"}, "want NAME=FILE"},
		{"input twice", []string{"--wasm", wasm, "--input", "a=" + wasm, "--input", "a=" + wasm}, "given twice"},
		{"missing input", []string{"--wasm", wasm, "--input", "a=" + filepath.Join(dir, "nope")}, "--input a"},
		{"env without =", []string{"--wasm", wasm, "--env", "K"}, "want K=V"},
		{"bad size", []string{"--wasm", wasm, "--memory", "lots"}, `"lots" is not a size`},
		{"bad duration", []string{"--wasm", wasm, "--timeout", "soon"}, "not a duration"},
		{"bad price", []string{"--wasm", wasm, "--max-price", "0"}, "--max-price must be > 0"},
		{"stray argument", []string{"--wasm", wasm, "extra"}, `unexpected argument "extra"`},
		{"unknown flag", []string{"--wasm", wasm, "--colour"}, "unknown flag"},
		{"invalid spec", []string{"--wasm", wasm, "--memory", "8GiB"}, "--memory (memory): must be between"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := hayek(t, sock, "", append([]string{"job", "submit"}, c.args...)...)
			r.want(t, ExitUsage, c.say, "Try:")
			if strings.Count(strings.TrimSpace(r.stderr), "\n") > 2 {
				t.Errorf("usage error is not short:\n%s", r.stderr)
			}
		})
	}
}

func TestSubmitTooLarge(t *testing.T) {
	_, sock := startNode(t, api.WithBlobLimit(1024))
	wasm := filepath.Join(files(t, "m.wasm", strings.Repeat("x", 4096)), "m.wasm")
	hayek(t, sock, "", "job", "submit", "--wasm", wasm).want(t, ExitUsage, "is too large for the node", "1024")
}

func TestNodeUnreachable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	for _, args := range [][]string{{"status"}, {"job", "list"}, {"job", "status", "j1"}} {
		hayek(t, sock, "", args...).want(t, ExitNotRun, `cannot reach the hayek node at `+sock+`: is "hayek serve" running?`)
	}
	wasm := filepath.Join(files(t, "m.wasm", "\x00asm"), "m.wasm")
	hayek(t, sock, "", "job", "submit", "--wasm", wasm, "--wait").want(t, ExitNotRun, "cannot reach the hayek node")
}

func TestOutRefusesToEscape(t *testing.T) {
	_, sock := startNode(t)
	dir := files(t, "m.wasm", "\x00asm", "a", "secret")
	base := t.TempDir()
	out := filepath.Join(base, "out")
	r := hayek(t, sock, "", "job", "submit", "--wasm", filepath.Join(dir, "m.wasm"),
		"--input", "a="+filepath.Join(dir, "a"), "--env", "OUTNAME=../evil", "--out", out)
	r.want(t, ExitFailed, `output "../evil" would be written outside`)
	if _, err := os.Stat(filepath.Join(base, "evil")); err == nil {
		t.Fatal("an output escaped --out")
	}
}

func TestWatchCancelAndResult(t *testing.T) {
	_, sock := startNode(t)
	wasm := filepath.Join(files(t, "m.wasm", "\x00asm"), "m.wasm")
	hayek(t, sock, "", "job", "submit", "--wasm", wasm, "--env", "OUTCOME=hang").want(t, 0)

	watched := make(chan result, 1)
	go func() { watched <- hayek(t, sock, "", "job", "watch", "j1", "--json") }()
	hayek(t, sock, "", "job", "result", "j1").want(t, ExitNotFinished, "job j1 has not finished: it is pending", "Try: hayek job watch j1")
	r := hayek(t, sock, "", "job", "cancel", "j1")
	r.want(t, 0)
	if r.stdout != "job j1 cancelled\n" {
		t.Errorf("cancel said %q", r.stdout)
	}
	var w result
	select {
	case w = <-watched:
	case <-time.After(10 * time.Second):
		t.Fatal("job watch did not end after the job was cancelled")
	}
	w.want(t, ExitNotRun, "job j1 was cancelled: cancelled by the caller")
	var types []string
	sc := bufio.NewScanner(strings.NewReader(w.stdout))
	for sc.Scan() {
		var ev api.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("watch --json line %q: %v", sc.Text(), err)
		}
		types = append(types, string(ev.State))
	}
	if strings.Join(types, ",") != "pending,cancelled" {
		t.Errorf("watched states %v", types)
	}
	hayek(t, sock, "", "job", "cancel", "j1").want(t, 0)
	hayek(t, sock, "", "job", "cancel", "nope").want(t, ExitNotFound, "no job", "Try: hayek job list")
}

func TestFinishedJobCommands(t *testing.T) {
	_, sock := startNode(t)
	dir := files(t, "m.wasm", "\x00asm", "a", "A")
	hayek(t, sock, "hello", "job", "submit", "--wasm", filepath.Join(dir, "m.wasm"), "--stdin", "-",
		"--input", "a="+filepath.Join(dir, "a"), "--wait").want(t, 0)

	// watch of a finished job replays its events and delivers like --wait.
	r := hayek(t, sock, "", "job", "watch", "j1")
	r.want(t, 0, "call for bids to 2 providers", "exit code 0")
	if r.stdout != "hello" {
		t.Errorf("watch stdout %q", r.stdout)
	}
	out := filepath.Join(t.TempDir(), "o")
	r = hayek(t, sock, "", "job", "result", "j1", "--out", out)
	r.want(t, 0)
	if b, _ := os.ReadFile(filepath.Join(out, "a")); r.stdout != "hello" || string(b) != "A" {
		t.Errorf("result: stdout %q, output %q", r.stdout, b)
	}
	r = hayek(t, sock, "", "job", "result", "j1", "--json")
	var res api.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Stdout.Size != 5 || res.Price != 40 {
		t.Errorf("result --json: %v %+v", err, res)
	}

	r = hayek(t, sock, "", "job", "status", "j1")
	r.want(t, 0)
	for _, s := range []string{"state     completed", "price     40 (max 1000)", "result    exit code 0", "attempt 1: 2 invited, 1 bids, 1 declines", "bid      12D3…111111  40", "decline  12D3…222222  busy"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("status lacks %q:\n%s", s, r.stdout)
		}
	}
	r = hayek(t, sock, "", "job", "status", "j1", "--json")
	var job api.Job
	if err := json.Unmarshal([]byte(r.stdout), &job); err != nil || job.Provider != "12D3KooWProviderOneAAAAAAAAAAAAAAAAAAAAAAAA11111111" {
		t.Errorf("status --json: %v %+v", err, job)
	}
	hayek(t, sock, "", "job", "status", "nope").want(t, ExitNotFound, `no job "nope"`, "Try: hayek job list")
	hayek(t, sock, "", "job", "status").want(t, ExitUsage, "takes one job ID")

	r = hayek(t, sock, "", "job", "list")
	r.want(t, 0)
	if !strings.HasPrefix(r.stdout, "ID  STATE      AGENT     PROVIDER     PRICE  HELD  PAID  RELEASED  EXIT  CREATED\nj1  completed  operator  12D3…111111  40     1000  40    960       0") {
		t.Errorf("list:\n%s", r.stdout)
	}
	r = hayek(t, sock, "", "job", "list", "--state", "failed", "--json")
	if strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("list --state failed --json: %q", r.stdout)
	}
	hayek(t, sock, "", "job", "list", "--state", "done").want(t, ExitUsage, "want one of")
}

func TestNodeCommands(t *testing.T) {
	_, sock := startNode(t)
	r := hayek(t, sock, "", "offers")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "PROVIDER     RUNTIMES  CPUS  MEMORY  GPUS  PRICING               LIMITS           EXPIRES\n"+
		"12D3…111111  wasm      -     -       -     base=10 per_second=3  max_memory=1GiB  in ") {
		t.Errorf("offers:\n%s", r.stdout)
	}
	r = hayek(t, sock, "", "peers")
	if !strings.Contains(r.stdout, "12D3…111111  yes        1.5ms    yes") {
		t.Errorf("peers:\n%s", r.stdout)
	}
	r = hayek(t, sock, "", "status")
	if !strings.Contains(r.stdout, "jobs     2 completed") {
		t.Errorf("status:\n%s", r.stdout)
	}
	for _, cmd := range []string{"offers", "peers", "status"} {
		r := hayek(t, sock, "", cmd, "--json")
		r.want(t, 0)
		if !json.Valid([]byte(r.stdout)) || !strings.Contains(r.stdout, "12D3KooW") {
			t.Errorf("%s --json:\n%s", cmd, r.stdout)
		}
	}
	hayek(t, sock, "", "peers", "extra").want(t, ExitUsage, "takes no arguments")
	hayek(t, sock, "", "job", "frobnicate").want(t, ExitUsage, `unknown command "frobnicate"`, "Try: hayek job --help")
}

func TestNotRunDoesNotRepeatTheNode(t *testing.T) {
	job := api.Job{ID: "j9", State: api.StateFailed,
		Error: &api.JobError{Code: "no_bids", Message: "2 declined: …aaaa price_floor (floor 90 > max 50); …bbbb busy"},
		Attempts: []api.Attempt{{Number: 1, Declines: []api.DeclineInfo{
			{Provider: "12D3KooWaaaaaaaaaaaa", Reason: "price_floor", Detail: "floor 90 > max 50"},
			{Provider: "12D3KooWbbbbbbbbbbbb", Reason: "busy"},
		}}}}
	err := notRun(job)
	want := "job j9 could not be run: 2 declined: …aaaa price_floor (floor 90 > max 50); …bbbb busy\nTry: a higher --max-price (hayek offers shows what providers charge)"
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
}

// An offer's runtimes, machine and GPUs, as hayek offers shows them.
func TestMachineOf(t *testing.T) {
	got := machineOf(api.OfferInfo{
		Capabilities: []string{"runtime/wasm", "runtime/process", "runtime/docker", "gpu/nvidia/l4", "gpu/nvidia/h100", "fpga/x"},
		Resources: json.RawMessage(`{"cpus":16,"memory":68719476736,"arch":"amd64","gpus":[{"model":"h100","count":1,"vram_mib":81559},` +
			`{"model":"l4","count":2,"vram_mib":23034}]}`),
	})
	if want := (machine{runtimes: "wasm,process,docker,fpga/x", cpus: "16 amd64", memory: "64GiB", gpus: "1×h100 79.6GiB,2×l4 22.5GiB"}); got != want {
		t.Fatalf("machineOf = %+v, want %+v", got, want)
	}
	if got := machineOf(api.OfferInfo{Capabilities: []string{"runtime/wasm"}}); got != (machine{"wasm", "-", "-", "-"}) {
		t.Fatalf("an offer without resources: %+v", got)
	}
}
