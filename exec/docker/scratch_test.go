//go:build linux

package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"syscall"
	"testing"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/internal/samples/native"
)

// A scratch archive made without an engine passes ParseArchive and runs,
// under the umask of a node.
func TestScratchArchive(t *testing.T) {
	if native.Toolbox == nil {
		t.Skip("no native toolbox for this platform: run scripts/gen-samples")
	}
	ar, err := ScratchArchive(map[string][]byte{"toolbox": native.Toolbox}, []string{"/toolbox"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseArchive(ar, DefaultMaxArchiveBytes); err != nil {
		t.Fatalf("ParseArchive: %v", err)
	}
	again, _ := ScratchArchive(map[string][]byte{"toolbox": native.Toolbox}, []string{"/toolbox"})
	if string(again) != string(ar) {
		t.Fatal("two scratch archives of the same files differ: a job's module CID would too")
	}
	// Not parallel: it runs under a node's umask, which is the process's.
	// A node makes its files private; the executor's must still reach
	// the job's user.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	sum := sha256.Sum256(ar)
	res := run(t, e, exec.Job{ID: "scratch", ModuleCID: "sha256:" + hex.EncodeToString(sum[:]), Module: ar, Args: []string{"hello"}})
	if res.Status != exec.StatusOK || !strings.HasPrefix(string(res.Stdout), "hello from hayek") {
		t.Fatalf("%s %q %q %s", res.Status, res.Stdout, res.Stderr, res.Error)
	}
}
