package exectest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hayek-market/hayek/exec"
)

// NativeToolbox writes toolbox, the static toolbox executable
// (internal/samples/native.Toolbox, passed in so that only the callers
// embed it), to an executable file in tb's temporary directory, for
// benchmarks that run it directly as the baseline a sandbox's cost is
// measured against. It skips where there is none for the platform (nil).
func NativeToolbox(tb testing.TB, toolbox []byte) string {
	tb.Helper()
	if toolbox == nil {
		tb.Skip("no native toolbox for this platform")
	}
	path := filepath.Join(tb.TempDir(), "toolbox")
	if err := os.WriteFile(path, toolbox, 0o755); err != nil {
		tb.Fatal(err)
	}
	return path
}

// RunOK runs job on e and fails tb unless it ends OK with stdout want.
func RunOK(tb testing.TB, e exec.Executor, job exec.Job, want string) {
	tb.Helper()
	res, err := e.Run(tb.Context(), job)
	if err != nil || res.Status != exec.StatusOK || string(res.Stdout) != want {
		tb.Fatalf("%v %s %s %q", err, res.Status, res.Error, res.Stdout)
	}
}
