package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// maxSocketPath is the longest unix socket path every supported OS accepts
// (sun_path is 108 bytes on Linux, 104 on the BSDs, including the NUL).
const maxSocketPath = 103

// errLocked is lockFile's answer when another process holds the lock.
var errLocked = errors.New("api: locked by another process")

// socketFile is a listening unix socket that this process created and will
// remove.
type socketFile struct {
	ln   *net.UnixListener
	path string
	info os.FileInfo // the socket file as created, to remove only our own
	lock *os.File    // flock held on <path>.lock while serving
}

// sockPerm is who may connect to a socket: its mode and, when gid >= 0,
// the group it is given.
type sockPerm struct {
	mode  os.FileMode
	gid   int    // -1: the group the file gets by default
	group string // gid's name, for messages
}

// operatorPerm is the operator socket's: its owner only.
var operatorPerm = sockPerm{mode: 0o600, gid: -1}

// listenUnix creates a unix socket at path with perm's mode (0600 for the
// operator socket) and group. The socket is bound inside a fresh 0700
// directory, chmodded and chowned, then renamed into place, so there is no
// moment at which someone it is not meant for can connect. It refuses to
// replace a socket another process still serves on, and removes a stale
// one left by a crash.
func listenUnix(ctx context.Context, path string, perm sockPerm) (*socketFile, error) {
	if path == "" {
		return nil, errors.New("api: empty socket path; pass the node's socket path (default <home>/hayek.sock)")
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("api: socket path %q: %w", path, err)
	}
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("api: socket path %s is %d bytes, longer than unix sockets allow (%d): choose a shorter home directory or socket path", path, len(path), maxSocketPath)
	}
	dir := filepath.Dir(path)

	// The lock serialises nodes starting on the same path, so the stale
	// check below and the rename cannot race with another starting node.
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("api: cannot create the socket's lock file: %w (does %s exist and is it writable?)", err, dir)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("api: another hayek node is serving on %s (it holds %s.lock): stop it first, or give this node another home or socket", path, path)
		}
		return nil, fmt.Errorf("api: locking %s.lock: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			lock.Close()
		}
	}()

	if err := removeStale(ctx, path); err != nil {
		return nil, err
	}

	// Bind in a private directory next to the target (same file system, so
	// the rename is atomic). Its name is short to keep within maxSocketPath.
	tmpDir, err := os.MkdirTemp(dir, ".hk")
	if err != nil {
		return nil, fmt.Errorf("api: cannot create a directory next to the socket: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	if err := os.Chmod(tmpDir, 0o700); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	tmp := filepath.Join(tmpDir, "s")
	if len(tmp) > maxSocketPath {
		return nil, fmt.Errorf("api: socket path %s is too long for a unix socket once bound (%d bytes while creating it): choose a shorter home directory or socket path", path, len(tmp))
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("api: cannot listen on a unix socket in %s: %w", dir, err)
	}
	ln := l.(*net.UnixListener)
	// The path changes below; Close must not unlink whatever sits at the
	// old one, and the new one is removed by remove, only if still ours.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, perm.mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("api: %w", err)
	}
	if perm.gid >= 0 {
		if err := os.Chown(tmp, -1, perm.gid); err != nil {
			ln.Close()
			if errors.Is(err, fs.ErrPermission) {
				return nil, fmt.Errorf("api: cannot give the socket %s to group %s: %w: the node's user must be a member of that group (sudo usermod -aG %s $USER, then log in again)", path, perm.group, err, perm.group)
			}
			return nil, fmt.Errorf("api: cannot give the socket %s to group %s: %w", path, perm.group, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		return nil, fmt.Errorf("api: cannot place the socket at %s: %w", path, err)
	}
	info, err := os.Lstat(path)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("api: %w", err)
	}
	ok = true
	return &socketFile{ln: ln, path: path, info: info, lock: lock}, nil
}

// removeStale removes a socket file that nobody listens on. A live socket
// or a file that is not a socket is left alone and reported.
func removeStale(ctx context.Context, path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("api: %s exists and is not a socket: move it away or choose another socket path", path)
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(dctx, "unix", path)
	if err == nil {
		c.Close()
		return fmt.Errorf("api: a process is already listening on %s: stop it first, or give this node another home or socket", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("api: cannot tell whether %s is in use: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("api: cannot remove the stale socket %s: %w", path, err)
	}
	return nil
}

// remove closes the listener and removes the socket file if it is still the
// one this process created.
func (s *socketFile) remove() {
	s.ln.Close()
	if fi, err := os.Lstat(s.path); err == nil && os.SameFile(fi, s.info) {
		os.Remove(s.path)
	}
	s.lock.Close() // releases the flock; the empty lock file stays for the next node
}
