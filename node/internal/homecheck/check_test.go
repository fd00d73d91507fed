package homecheck

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/api/apitest"
)

// TestCheckRules: what Check lets pass and what it refuses, each
// with the path and the fix.
func TestCheckRules(t *testing.T) {
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
			err := Check(home)
			if c.refuse == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNotPrivate) {
				t.Fatalf("not refused: %v", err)
			}
			if !strings.Contains(err.Error(), filepath.Join(home, c.refuse)) || !strings.Contains(err.Error(), c.fix) {
				t.Errorf("the refusal does not name %s and %q:\n%v", c.refuse, c.fix, err)
			}
		})
	}
}

// TestCheckRefusesAnotherOwner: a file of another user in the home
// could be changed by that user.
func TestCheckRefusesAnotherOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	home := apitest.SocketDir(t)
	p := filepath.Join(home, "theirs")
	mustPerm(t, os.WriteFile(p, nil, 0o600))
	mustPerm(t, os.Chown(p, 65534, -1))
	err := Check(home)
	if !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), p+": owned by") || !strings.Contains(err.Error(), "chown ") {
		t.Fatalf("a file of another user: %v", err)
	}
}

func mustPerm(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
