package exectest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hayek-market/hayek/exec"
)

// digest is what the ReadFile behaviour prints for a path, computed on
// the host: "file SHA256" of a file's bytes, "dir SHA256" of a directory's
// sorted names joined by newlines. Equal digests mean the job read the
// host's own file or directory.
func digest(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if fi.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return "", err
		}
		if len(entries) == 0 {
			return "", errors.New("empty directory: any empty directory looks the same")
		}
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
		}
		io.WriteString(h, strings.Join(names, "\n"))
		return "dir " + hex.EncodeToString(h.Sum(nil)), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "file " + hex.EncodeToString(h.Sum(nil)), nil
}

// plantSecret writes a file only this test knows about into a fresh host
// directory anyone may read, and returns its path and content.
func plantSecret(t *testing.T) (path, secret string) {
	t.Helper()
	dir := t.TempDir()
	// World-readable, so that no file permission hides it from a job
	// running as another user: only the sandbox may.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	secret = fmt.Sprintf("hayek-exectest-secret-%d-%s", os.Getpid(), t.Name())
	path = filepath.Join(dir, "secret")
	if err := os.WriteFile(path, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, secret
}

// noHostFiles: nothing of the host's file system is readable, however
// the job names it: a secret planted on the host, by its absolute path,
// through escapes from each mount, through /proc's links to other roots;
// the host's root, /etc and temporary directory; well-known files. The
// job prints a digest of whatever it can read at each path; none may
// equal the host's.
func (s *suite) noHostFiles(t *testing.T) {
	e := s.start(t)
	secretPath, secret := plantSecret(t)
	type probe struct{ path, host string } // path the job reads; what it would be on the host
	probes := []probe{
		{secretPath, secretPath},
		{"/in/.." + secretPath, secretPath},
		{"/out/../.." + secretPath, secretPath},
		{"/tmp/.." + secretPath, secretPath},
		{"../../../../../../../.." + secretPath, secretPath},
		{"/proc/1/root" + secretPath, secretPath},
		{"/proc/self/root" + secretPath, secretPath},
		{"/proc/self/cwd/.." + secretPath, secretPath},
		{filepath.Dir(secretPath), filepath.Dir(secretPath)},
		{os.TempDir(), os.TempDir()},
		{"/", "/"},
		{"/etc", "/etc"},
		{"/in/..", "/"},
		{"/etc/passwd", "/etc/passwd"},
		{"/etc/hostname", "/etc/hostname"},
		{"/etc/hosts", "/etc/hosts"},
		{"/proc/1/cmdline", "/proc/1/cmdline"},
		{"/proc/1/environ", "/proc/1/environ"},
		{"/proc/sys/kernel/hostname", "/proc/sys/kernel/hostname"},
	}
	host := map[string]string{}
	args := make([]string, 0, len(probes))
	for _, p := range probes {
		args = append(args, p.path)
		if d, err := digest(p.host); err == nil {
			host[p.path] = d
		}
	}
	if host[secretPath] == "" {
		t.Fatalf("the test cannot read its own secret at %s", secretPath)
	}
	job := s.job("readhost", ReadFile, args...)
	job.Inputs = sampleInputs()
	res := run(t, e, job)
	expectOK(t, res)
	for _, out := range [][]byte{res.Stdout, res.Stderr} {
		if strings.Contains(string(out), secret) {
			t.Errorf("the job printed the host's secret:\n%s", out)
		}
	}
	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(res.Stdout)))
	for sc.Scan() {
		path, what, ok := strings.Cut(sc.Text(), ": ")
		if ok {
			got[path] = what
		}
	}
	for _, p := range probes {
		what, ok := got[p.path]
		if !ok {
			t.Errorf("no line for %s in:\n%s", p.path, res.Stdout)
			continue
		}
		if h := host[p.path]; h != "" && what == h {
			t.Errorf("the job read the host's %s through %s (%s)", p.host, p.path, what)
		}
	}
}

// noWritesOutside: a job writes nowhere but /out and /tmp: not to a host
// directory anyone may write to, not to its root or its inputs, not by
// escaping a mount; and what it writes to /tmp stays its own.
func (s *suite) noWritesOutside(t *testing.T) {
	e := s.start(t)
	hostDir := t.TempDir()
	if err := os.Chmod(hostDir, 0o777); err != nil { // no permission stands in the way: only the sandbox
		t.Fatal(err)
	}
	paths := []string{
		filepath.Join(hostDir, "escape"),
		"/in/.." + filepath.Join(hostDir, "escape"),
		"/tmp/.." + filepath.Join(hostDir, "escape"),
		"/escape",
		"/out/../escape",
		"/tmp/../escape",
		"/in/escape",
		"/in/a.txt",
	}
	for _, path := range paths {
		job := s.job("touch", Touch, path)
		job.Inputs = sampleInputs()
		res := run(t, e, job)
		if res.Status != exec.StatusExit || res.ExitCode != 1 {
			t.Errorf("touch %s: status %s exit %d (%s), want the write refused (exit 1)", path, res.Status, res.ExitCode, res.Stdout)
		}
	}
	if entries, err := os.ReadDir(hostDir); err != nil || len(entries) > 0 {
		t.Errorf("the host directory %s holds %v after the jobs ran (err %v), want nothing", hostDir, entries, err)
	}
	// /tmp is the job's own: what it writes there never reaches the host.
	name := fmt.Sprintf("hayek-exectest-%d", os.Getpid())
	res := run(t, e, s.job("touch", Touch, "/tmp/"+name))
	expectOK(t, res)
	if _, err := os.Stat(filepath.Join(os.TempDir(), name)); !errors.Is(err, os.ErrNotExist) {
		os.Remove(filepath.Join(os.TempDir(), name))
		t.Errorf("a job's /tmp/%s reached the host's temporary directory (stat: %v)", name, err)
	}
}

// noNetwork: no connection leaves the sandbox. The test listens on the
// host's loopback (TCP on IPv4 and IPv6, UDP, a Unix socket by path and
// an abstract one), and the job's dials must all fail without anything
// reaching a listener.
func (s *suite) noNetwork(t *testing.T) {
	e := s.start(t)
	var (
		reached atomic.Int64
		wg      sync.WaitGroup
		closers []io.Closer
		addrs   []string
	)
	t.Cleanup(func() {
		for _, c := range closers {
			c.Close()
		}
		wg.Wait()
	})
	listen := func(network, address string) {
		l, err := net.Listen(network, address)
		if err != nil {
			t.Logf("not testing %s %s: %v", network, address, err)
			return
		}
		closers = append(closers, l)
		wg.Go(func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				reached.Add(1)
				c.Close()
			}
		})
		addr := l.Addr().String()
		if network == "unix" && strings.HasPrefix(address, "@") {
			addr = address
		}
		addrs = append(addrs, network+":"+addr)
	}
	listen("tcp4", "127.0.0.1:0")
	listen("tcp6", "[::1]:0")
	listen("unix", filepath.Join(t.TempDir(), "sock"))
	listen("unix", fmt.Sprintf("@hayek-exectest-%d-%s", os.Getpid(), t.Name()))
	if pc, err := net.ListenPacket("udp4", "127.0.0.1:0"); err == nil {
		closers = append(closers, pc)
		wg.Go(func() {
			buf := make([]byte, 64)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				reached.Add(1)
				pc.WriteTo(buf[:n], from) // the echo the job waits for
			}
		})
		addrs = append(addrs, "udp:"+pc.LocalAddr().String())
	}
	for i, a := range addrs { // the toolbox dials "tcp", not "tcp4"
		addrs[i] = strings.Replace(strings.Replace(a, "tcp4:", "tcp:", 1), "tcp6:", "tcp:", 1)
	}
	res := run(t, e, s.job("dial", Dial, addrs...))
	expectOK(t, res)
	var connected []string
	for _, a := range addrs {
		if !strings.Contains(string(res.Stdout), a+": failed") {
			connected = append(connected, a)
		}
	}
	if len(connected) > 0 {
		t.Errorf("dials to %s did not fail:\n%s", strings.Join(connected, ", "), res.Stdout)
	}
	if n := reached.Load(); n > 0 {
		t.Errorf("%d connections or datagrams from the job reached the host's listeners", n)
	}
}
