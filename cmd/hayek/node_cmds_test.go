package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/node/api"
)

func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(t.Context(), args, Streams{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) string { return "" }})
	return result{code, out.String(), errb.String()}
}

func TestInitCreatesIdentityOnce(t *testing.T) {
	home := filepath.Join(t.TempDir(), "h")
	first := runCLI(t, "--home", home, "init")
	first.want(t, ExitOK)
	st, err := os.Stat(filepath.Join(home, node.IdentityFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("identity: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(home, "config.toml")); err != nil {
		t.Fatalf("config.toml: %v", err)
	}
	second := runCLI(t, "--home", home, "init")
	second.want(t, ExitOK)
	if !strings.Contains(second.stdout, "kept existing identity") || !strings.Contains(second.stdout, "kept existing config") {
		t.Fatalf("second init must keep what exists:\n%s", second.stdout)
	}
	id := func(s string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "peer ID ") {
				return l
			}
		}
		return ""
	}
	if id(first.stdout) == "" || id(first.stdout) != id(second.stdout) {
		t.Fatalf("peer ID changed: %q then %q", id(first.stdout), id(second.stdout))
	}
	// A key others can read is refused, with the fix.
	os.Chmod(filepath.Join(home, node.IdentityFile), 0o644)
	runCLI(t, "--home", home, "init").want(t, ExitFailed, "chmod 600")
}

// TestSubmitToRealNodes runs the CLI against a devnet: the whole path an
// operator or agent takes, with exit codes that say what happened.
func TestSubmitToRealNodes(t *testing.T) {
	dir, err := os.MkdirTemp("", "hk")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	d, err := node.StartDevnet(ctx, node.DevnetOptions{Nodes: 3, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		d.Close(cctx)
	}()
	if err := d.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	mods := files(t, "stdin.txt", "from the cli\n")
	hello := filepath.Join(mods, "hello.wasm")
	toolbox := filepath.Join(mods, "toolbox.wasm")
	os.WriteFile(hello, samples.Hello, 0o644)
	os.WriteFile(toolbox, samples.Toolbox, 0o644)
	sock := d.Sockets[0]

	r := hayek(t, sock, "", "job", "submit", "--wasm", hello, "--stdin", filepath.Join(mods, "stdin.txt"), "--wait")
	r.want(t, ExitOK)
	if r.stdout != "hello from hayek\nfrom the cli\n" {
		t.Fatalf("stdout %q", r.stdout)
	}
	out := filepath.Join(t.TempDir(), "out")
	r = hayek(t, sock, "", "job", "submit", "--wasm", toolbox, "--input", "a.txt="+filepath.Join(mods, "stdin.txt"),
		"--out", out, "--", "sha256")
	r.want(t, ExitOK)
	if b, err := os.ReadFile(filepath.Join(out, "manifest.sha256")); err != nil || !strings.Contains(string(b), "a.txt") {
		t.Fatalf("output manifest: %q %v", b, err)
	}
	hayek(t, sock, "", "job", "submit", "--wasm", toolbox, "--wait", "--", "exit", "3").want(t, ExitFailed)
	hayek(t, sock, "", "job", "submit", "--wasm", hello, "--memory", "2GiB", "--wait").want(t, ExitNotRun, "too_large")
	hayek(t, sock, "", "job", "submit", "--wasm", filepath.Join(mods, "stdin.txt"), "--wait").want(t, ExitUsage, "magic")
	r = hayek(t, sock, "", "status", "--json")
	r.want(t, ExitOK)
	if !strings.Contains(r.stdout, d.Nodes[0].ID()) {
		t.Fatalf("status does not name the node:\n%s", r.stdout)
	}
	r = hayek(t, sock, "", "offers")
	r.want(t, ExitOK)
	if strings.Count(r.stdout, " wasm ") < 3 {
		t.Fatalf("offers should list all three nodes:\n%s", r.stdout)
	}
	r = hayek(t, sock, "", "metrics")
	r.want(t, ExitOK)
	if !strings.Contains(r.stdout, "# TYPE hayek_auctions_total counter") {
		t.Fatalf("metrics is not the text exposition format:\n%s", r.stdout)
	}
	r = hayek(t, sock, "", "metrics", "--json")
	r.want(t, ExitOK)
	var fams api.Metrics
	if err := json.Unmarshal([]byte(r.stdout), &fams); err != nil {
		t.Fatalf("metrics --json: %v\n%s", err, r.stdout)
	}
	if n := fams.Sum("hayek_auctions_total", nil); n < 3 {
		t.Errorf("metrics --json: %v auctions after three jobs ran", n)
	}
}

func TestDemo(t *testing.T) {
	r := runCLI(t, "demo", "--nodes", "5")
	r.want(t, ExitOK)
	for _, want := range []string{"network ready", "hello from hayek", "second price", "exit code 3", "timeout",
		"no_providers", "countersigned receipt", "approval", "every receipt's two signatures verify: true",
		"lower bound"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	// The replicated job outvotes the cheater. Its three honest replicas
	// are credible enough (0.998 ≥ 1 − ε) only on the records the earlier
	// jobs gave two of them; on a machine loaded enough that one of those
	// jobs ended in a fault (a clean-tree run of scripts/test at a load
	// average of ~13 once did), one dented record leaves them at 0.977 and
	// the job fails verification instead — the market's safe answer, never
	// the cheater's output.
	if i := strings.Index(r.stdout, "verified by replication — "); i < 0 {
		t.Errorf("demo output lacks the replicated job:\n%s", r.stdout)
	} else if block, _, _ := strings.Cut(r.stdout[i:], "\n\n"); !strings.Contains(block, "disagreed — outvoted, not paid") &&
		!(strings.Contains(block, "failed    verification_failed") && !strings.Contains(block, "stdout")) {
		t.Errorf("the replicated job neither outvoted the cheater nor failed verification:\n%s", block)
	} else if !strings.Contains(block, "outvoted") {
		t.Logf("the replicated job failed verification (a record dented by a fault under load):\n%s", r.stdout)
	}
	checkDemoLayout(t, r.stdout)
	// The native runtimes run where this machine can sell them, and are
	// skipped with the reason where it cannot.
	for _, c := range []struct{ title, ran string }{
		{"a native program", "primes below 2000000: 148933"}, {"a container", "hello from hayek\n            from a container"}} {
		i := strings.Index(r.stdout, c.title+" — ")
		if i < 0 {
			t.Errorf("demo output lacks the job %q", c.title)
			continue
		}
		block, _, _ := strings.Cut(r.stdout[i:], "\n\n")
		if !strings.Contains(block, c.ran) && !strings.Contains(block, "  skipped   runtime/") {
			t.Errorf("the job %q neither ran nor was skipped with a reason:\n%s", c.title, block)
		}
	}
}

// checkDemoLayout checks that each job's lines keep their two columns, that
// durations have the same precision everywhere, and that the replicated
// job's price is explained.
func checkDemoLayout(t *testing.T, out string) {
	t.Helper()
	jobs := out[strings.Index(out, "job 1/"):strings.Index(out, "demo-agent spent")]
	for _, l := range strings.Split(jobs, "\n") {
		if l == "" || strings.HasPrefix(l, "job ") {
			continue
		}
		if len(l) < 13 || !regexp.MustCompile(`^  [a-z/]*( [a-z]+)? *$`).MatchString(l[:12]) || l[11] != ' ' || l[12] == ' ' {
			t.Errorf("a line out of the demo's two columns:\n%q", l)
		}
	}
	if m := regexp.MustCompile(`\d\.\d{3,}m?s\b|\d{4,}\.\dms`).FindString(out); m != "" {
		t.Errorf("a duration with too many digits: %s", m)
	}
	if strings.Contains(out, "exit, exit code") || strings.Contains(out, "exit code 0 (") {
		t.Errorf("a run's status said twice:\n%s", out)
	}
	if !regexp.MustCompile(`\n  award     node-\d(, node-\d)+, .* each\n  price     \d+ each: \S`).MatchString(out) {
		t.Errorf("the replicated job's price is not explained:\n%s", out)
	}
}
