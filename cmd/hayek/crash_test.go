package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/node/api"
)

// TestMain lets the test binary stand in for the hayek binary: with
// HAYEK_CHILD_ARGS set it runs the CLI with those arguments, so tests can
// start real node processes and kill them.
func TestMain(m *testing.M) {
	if args := os.Getenv("HAYEK_CHILD_ARGS"); args != "" {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			ch := make(chan os.Signal, 1)
			signalNotify(ch)
			<-ch
			cancel()
		}()
		os.Exit(Run(ctx, strings.Split(args, "\x1f"), Streams{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}))
	}
	// Every devnet a test starts (demo, bench, devnet) shares the user's
	// compile cache: warm it with the samples so that no job's deadline
	// pays for compiling them, however busy the machine.
	if dir := node.DefaultCompileCache(); dir != "" {
		if err := node.WarmCompileCache(context.Background(), dir, samples.Hello, samples.Toolbox); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

func startChild(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HAYEK_CHILD_ARGS="+strings.Join(args, "\x1f"))
	out, err := os.Create(filepath.Join(t.TempDir(), "child.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(out.Name())
			t.Logf("child output:\n%s", b)
		}
	})
	return cmd
}

func waitSocket(t *testing.T, c *api.Client) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		_, err := c.Status(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKill9KeepsAcknowledgedEntries kills a real node process with SIGKILL
// while agents are being funded, restarts it from the same home, and
// checks that every acknowledged entry survived and the chain verifies.
func TestKill9KeepsAcknowledgedEntries(t *testing.T) {
	home, err := os.MkdirTemp("", "hk")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(home)
	cfg := "[network]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n[provider]\nsell = false\n"
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(home, "hayek.sock")
	child := startChild(t, "--home", home, "serve", "--log-level", "error")
	c := api.NewClient(sock)
	waitSocket(t, c)

	const agents = 4
	for i := 0; i < agents; i++ {
		if _, err := c.CreateAgent(t.Context(), api.AgentCreate{Name: fmt.Sprintf("a%d", i), Budget: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// Fund the agents concurrently; count what the node acknowledged.
	var mu sync.Mutex
	acked := make([]int64, agents)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < agents; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for amount := int64(1); ; amount++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := c.FundAgent(ctx, fmt.Sprintf("a%d", i), api.Fund{Amount: amount})
				cancel()
				if err != nil {
					return // the node died under us: this one may or may not have landed
				}
				mu.Lock()
				acked[i] += amount
				mu.Unlock()
			}
		}()
	}
	// Kill once a good number of appends were acknowledged.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		var n int64
		for _, a := range acked {
			n += a
		}
		mu.Unlock()
		if n > 2000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	close(stop)
	wg.Wait()

	startChild(t, "--home", home, "serve", "--log-level", "error")
	c = api.NewClient(sock)
	waitSocket(t, c)
	for i := 0; i < agents; i++ {
		a, err := c.Agent(t.Context(), fmt.Sprintf("a%d", i))
		if err != nil {
			t.Fatal(err)
		}
		// Funded counts the initial 1, every acknowledged fund, and maybe
		// the one in flight when the process died.
		if a.Funded < 1+acked[i] {
			t.Errorf("agent a%d: funded %d after restart, but %d was acknowledged", i, a.Funded, 1+acked[i])
		}
	}
	rep, err := c.VerifyLedger(t.Context(), true)
	if err != nil || !rep.OK {
		t.Fatalf("ledger after kill -9: %+v %v", rep, err)
	}
	t.Logf("acknowledged %v before the kill; %d entries verify after restart", acked, rep.Entries)
}
