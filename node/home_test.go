package node

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

// TestHomeStaysPrivate starts a real node under a umask of 0 (so only the
// node can make its files private), serves both sockets, runs a job and
// stores a blob, and checks the home while it runs and after it stops:
// every directory 0700, every file 0600, the agent socket 0660. It starts
// again on that home; then, with one pebble file and one directory
// loosened as an older build left them, it refuses to start, naming both
// paths and the chmod that fixes them, and starts once they are fixed.
func TestHomeStaysPrivate(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	home := apitest.SocketDir(t)
	cfg := DevnetConfig()
	start := func() (*Node, error) {
		return New(t.Context(), Options{Home: home, Config: cfg, Logger: testLogger(t)})
	}
	stop := func(n *Node) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}

	n, err := start()
	if err != nil {
		t.Fatal(err)
	}
	srv, sock := apitest.ServeAt(t, n, filepath.Join(home, "hayek.sock"), api.WithAgentSocket("", ""))
	c := api.NewClient(sock)
	defer c.Close()
	if _, err := c.PutBlobBytes(t.Context(), []byte("a blob of the node's")); err != nil {
		t.Fatal(err)
	}
	job, err := c.Submit(t.Context(), api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 10})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, c, job.ID) // a job that ends is written to the job store
	if err := CheckHome(home); err != nil {
		t.Fatalf("the home of a running node: %v", err)
	}
	fi, err := os.Lstat(filepath.Join(home, api.DefaultAgentSocket))
	if err != nil || fi.Mode()&fs.ModeSocket == 0 {
		t.Fatalf("the agent socket is not there to be checked: %v %v", fi, err)
	}
	srv.Close()
	stop(n)
	checkModes(t, home)
	if err := CheckHome(home); err != nil {
		t.Fatalf("the home of a stopped node: %v", err)
	}

	// A restart reads and writes the same stores.
	if n, err = start(); err != nil {
		t.Fatalf("restart on a private home: %v", err)
	}
	stop(n)

	// What an older build left behind: a 0644 pebble file, a 0755 store.
	var table string
	filepath.WalkDir(filepath.Join(home, "jobs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && table == "" && strings.HasPrefix(d.Name(), "MANIFEST") {
			table = p
		}
		return nil
	})
	if table == "" {
		t.Fatal("the job store has no MANIFEST to loosen")
	}
	ledger := filepath.Join(home, "ledger")
	mustPerm(t, os.Chmod(table, 0o644))
	mustPerm(t, os.Chmod(ledger, 0o755))
	_, err = start()
	var he *HomeError
	if !errors.Is(err, ErrHomeNotPrivate) || !errors.As(err, &he) {
		t.Fatalf("start on a loosened home: %v", err)
	}
	for _, want := range []string{table + ": mode 0644", "run: chmod go-rwx " + table, ledger + ": directory mode 0755", "chmod go-rwx " + ledger, "find "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q:\n%v", want, err)
		}
	}
	if len(he.Problems) != 2 {
		t.Errorf("problems %+v, want the two loosened paths", he.Problems)
	}
	mustPerm(t, os.Chmod(table, 0o600))
	mustPerm(t, os.Chmod(ledger, 0o700))
	if n, err = start(); err != nil {
		t.Fatalf("start once fixed: %v", err)
	}
	stop(n)
}

// checkModes walks home: directories 0700, files 0600, sockets 0600
// (agent.sock 0660).
func checkModes(t *testing.T, home string) {
	t.Helper()
	files := 0
	filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			t.Error(err)
			return nil
		}
		want := fs.FileMode(0o600)
		switch {
		case d.IsDir():
			want = 0o700
		case p == filepath.Join(home, api.DefaultAgentSocket):
			want = 0o660
		default:
			files++
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", p, fi.Mode().Perm(), want)
		}
		return nil
	})
	// identity, ledger and job store files, a blob: far more than a few.
	if files < 10 {
		t.Errorf("only %d files in the home: did the node write its stores?", files)
	}
}

func mustPerm(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
