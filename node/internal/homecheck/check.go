package homecheck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hayek-market/hayek/node/api"
)

// ErrNotPrivate matches (errors.Is) the error of a home that other
// users could read or write. Its text is the node's (node.ErrHomeNotPrivate
// is this), as users meet it from the node.
var ErrNotPrivate = errors.New("node: the node's home is not private")

// Error is the error of a home that other users could read or write.
type Error struct {
	Home     string
	Problems []Problem
}

// Problem is one path of a home that is not private.
type Problem struct {
	Path  string // as found under the home (a symlink's target is named in Why)
	Mode  fs.FileMode
	Why   string // what is wrong, for people
	Fix   string // the command that fixes it
	Owner int    // the uid that owns it
}

// maxListed is how many problems the error lists one by one.
const maxListed = 10

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "node: the node's home %s is open to other users, who could read or change its identity key, its ledger (agents, budgets, token hashes) or its jobs; the node will not start until it is private:", e.Home)
	for i, p := range e.Problems {
		if i == maxListed {
			fmt.Fprintf(&b, "\n\t… and %d more", len(e.Problems)-maxListed)
			break
		}
		fmt.Fprintf(&b, "\n\t%s: %s; run: %s", p.Path, p.Why, p.Fix)
	}
	fmt.Fprintf(&b, "\nTo fix every mode at once: find %s -mindepth 1 ! -name %s -exec chmod go-rwx {} + && chmod go-rw %s (docs/security.md explains the modes)",
		shellQuote(e.Home), api.DefaultAgentSocket, shellQuote(e.Home))
	return b.String()
}

// Is makes errors.Is(err, ErrNotPrivate) true.
func (e *Error) Is(target error) bool { return target == ErrNotPrivate }

// Private makes every file the node creates from now on private, and
// refuses a home that is not (Check). The umask is the process's: the
// node owns its process, as a daemon does, and the umask reaches every
// store and cache it runs, including those of libraries (pebble's job
// store, wazero's compile cache) that pick their own modes.
func Private(home string) error {
	if err := privateUmask(); err != nil {
		return err
	}
	return Check(home)
}

// Check walks home and returns an *Error naming every path another
// user could read or write, or that another user owns: anything with a
// group or other permission bit, except search (x) on the home itself
// and read and write for the group on the agent socket. A symlink is
// judged by its target, and a symlinked directory walked. nil means the
// home is private.
func Check(home string) error {
	fi, err := os.Stat(home)
	if err != nil {
		return fmt.Errorf("node: check the home's modes: %w", err)
	}
	c := homeCheck{uid: os.Geteuid(), seen: map[[2]uint64]bool{}}
	c.judge(home, home, fi, 0o066, "group or others may list or change it")
	if fi.IsDir() {
		c.walk(home, true)
	}
	if c.err != nil {
		return c.err
	}
	if len(c.problems) > 0 {
		return &Error{Home: home, Problems: c.problems}
	}
	return nil
}

type homeCheck struct {
	uid      int
	seen     map[[2]uint64]bool // directories walked, by device and inode: symlink loops end
	problems []Problem
	err      error
}

func (c *homeCheck) walk(dir string, top bool) {
	if id, ok := fileID(dir); ok {
		if c.seen[id] {
			return
		}
		c.seen[id] = true
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		c.err = errors.Join(c.err, fmt.Errorf("node: check the home's modes: %w", err))
		return
	}
	for _, e := range ents {
		path := filepath.Join(dir, e.Name())
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			c.err = errors.Join(c.err, fmt.Errorf("node: check the home's modes: %w", err))
			continue
		}
		shown := path
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Stat(path)
			if err != nil {
				continue // a dangling link exposes nothing
			}
			resolved, _ := filepath.EvalSymlinks(path)
			shown, fi = path+" → "+resolved, target
			path = resolved
		}
		// The agent socket is for its group: read and write, nothing for
		// others.
		if top && e.Name() == api.DefaultAgentSocket && fi.Mode()&fs.ModeSocket != 0 {
			c.judge(shown, path, fi, 0o007, "others may connect to it")
			continue
		}
		c.judge(shown, path, fi, 0o077, "")
		if fi.IsDir() {
			c.walk(path, false)
		}
	}
}

// judge records a problem when fi has a permission bit in forbidden, or
// another owner.
func (c *homeCheck) judge(shown, path string, fi fs.FileInfo, forbidden fs.FileMode, why string) {
	perm := fi.Mode().Perm()
	kind := "mode"
	if fi.IsDir() {
		kind = "directory mode"
	}
	if uid, ok := fileOwner(fi); ok && uid != c.uid {
		c.problems = append(c.problems, Problem{Path: shown, Mode: perm, Owner: uid,
			Why: fmt.Sprintf("owned by %s, not by the node's user %s", userName(uid), userName(c.uid)),
			Fix: fmt.Sprintf("chown %s %s", userName(c.uid), shellQuote(path))})
	}
	if perm&forbidden == 0 {
		return
	}
	if why == "" {
		why = "readable or writable by group or others"
	}
	c.problems = append(c.problems, Problem{Path: shown, Mode: perm, Owner: c.uid,
		Why: fmt.Sprintf("%s %04o: %s", kind, perm, why),
		Fix: fmt.Sprintf("chmod %s %s", symbolic(forbidden), shellQuote(path))})
}

// symbolic is the chmod that clears forbidden.
func symbolic(forbidden fs.FileMode) string {
	switch forbidden {
	case 0o066:
		return "go-rw"
	case 0o007:
		return "o-rwx"
	}
	return "go-rwx"
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// shellQuote quotes a path for a command the user pastes.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
