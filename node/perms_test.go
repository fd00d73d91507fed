package node

import (
	"context"
	"errors"
	"io/fs"
	"net"
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

// TestCheckHomeRules: what CheckHome lets pass and what it refuses, each
// with the path and the fix.
func TestCheckHomeRules(t *testing.T) {
	type setup func(t *testing.T, home string)
	file := func(name string, mode fs.FileMode) setup {
		return func(t *testing.T, home string) {
			p := filepath.Join(home, name)
			mustPerm(t, os.MkdirAll(filepath.Dir(p), 0o700))
			mustPerm(t, os.WriteFile(p, nil, mode))
			mustPerm(t, os.Chmod(p, mode))
		}
	}
	dir := func(name string, mode fs.FileMode) setup {
		return func(t *testing.T, home string) {
			p := filepath.Join(home, name)
			mustPerm(t, os.MkdirAll(p, 0o700))
			mustPerm(t, os.Chmod(p, mode))
		}
	}
	socket := func(name string, mode fs.FileMode) setup {
		return func(t *testing.T, home string) {
			p := filepath.Join(home, name)
			l, err := net.Listen("unix", p)
			if err != nil {
				t.Fatal(err)
			}
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			l.Close()
			mustPerm(t, os.Chmod(p, mode))
		}
	}
	link := func(name, target string) setup {
		return func(t *testing.T, home string) {
			if !filepath.IsAbs(target) {
				target = filepath.Join(home, target)
			}
			mustPerm(t, os.Symlink(target, filepath.Join(home, name)))
		}
	}
	for _, c := range []struct {
		name   string
		home   fs.FileMode
		setup  []setup
		refuse string // a path (relative to home) the refusal names, "" for none
		fix    string
	}{
		{name: "private", home: 0o700, setup: []setup{file("identity.key", 0o600), dir("ledger", 0o700), file("ledger/000001.log", 0o600)}},
		{name: "home searchable by the agents' group", home: 0o710, setup: []setup{file("a", 0o600)}},
		{name: "home listable by its group", home: 0o750, refuse: ".", fix: "chmod go-rw"},
		{name: "home writable by others", home: 0o703, refuse: ".", fix: "chmod go-rw"},
		{name: "agent socket for its group", home: 0o710, setup: []setup{socket(api.DefaultAgentSocket, 0o660)}},
		{name: "agent socket for everyone", home: 0o710, setup: []setup{socket(api.DefaultAgentSocket, 0o666)}, refuse: api.DefaultAgentSocket, fix: "chmod o-rwx"},
		{name: "a file named like the agent socket", home: 0o700, setup: []setup{file(api.DefaultAgentSocket, 0o660)}, refuse: api.DefaultAgentSocket, fix: "chmod go-rwx"},
		{name: "operator socket for a group", home: 0o700, setup: []setup{socket("hayek.sock", 0o660)}, refuse: "hayek.sock", fix: "chmod go-rwx"},
		{name: "a readable file deep down", home: 0o700, setup: []setup{dir("jobs", 0o700), file("jobs/deep/000002.sst", 0o640)}, refuse: "jobs/deep/000002.sst", fix: "chmod go-rwx"},
		{name: "a searchable directory", home: 0o700, setup: []setup{dir("cache", 0o711)}, refuse: "cache", fix: "chmod go-rwx"},
		{name: "a link to a readable file", home: 0o700, setup: []setup{dir("elsewhere", 0o700), file("elsewhere/f", 0o644), link("l", "elsewhere/f")}, refuse: "l → ", fix: "chmod go-rwx"},
		{name: "a link loop", home: 0o700, setup: []setup{dir("d", 0o700), link("d/up", "d")}},
		{name: "a dangling link", home: 0o700, setup: []setup{link("gone", "/nonexistent/x")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			home := apitest.SocketDir(t)
			for _, s := range c.setup {
				s(t, home)
			}
			mustPerm(t, os.Chmod(home, c.home))
			err := CheckHome(home)
			if c.refuse == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrHomeNotPrivate) {
				t.Fatalf("not refused: %v", err)
			}
			if !strings.Contains(err.Error(), filepath.Join(home, c.refuse)) || !strings.Contains(err.Error(), c.fix) {
				t.Errorf("the refusal does not name %s and %q:\n%v", c.refuse, c.fix, err)
			}
		})
	}
}

// TestCheckHomeRefusesAnotherOwner: a file of another user in the home
// could be changed by that user.
func TestCheckHomeRefusesAnotherOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	home := apitest.SocketDir(t)
	p := filepath.Join(home, "theirs")
	mustPerm(t, os.WriteFile(p, nil, 0o600))
	mustPerm(t, os.Chown(p, 65534, -1))
	err := CheckHome(home)
	if !errors.Is(err, ErrHomeNotPrivate) || !strings.Contains(err.Error(), p+": owned by") || !strings.Contains(err.Error(), "chown ") {
		t.Fatalf("a file of another user: %v", err)
	}
}

func mustPerm(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
