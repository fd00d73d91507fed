package testnet

import (
	"context"
	"os"
	"testing"
	"time"
)

// testLog writes the runner's progress to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) { l.t.Log(string(b)); return len(b), nil }

// TestE2ECrash runs ci.toml through the crash scenario on real containers.
// It costs a minute and five containers, and two runs at once on one
// engine would fight over the same names and subnets, so it runs only when
// asked (.ci/run runs the same through hayek testnet run).
func TestE2ECrash(t *testing.T) {
	if os.Getenv("HAYEK_TESTNET_E2E") == "" {
		t.Skip("set HAYEK_TESTNET_E2E=1 to run ci.toml on Docker (needs an engine and scripts/testnet-image)")
	}
	if err := DockerAvailable(t.Context()); err != nil {
		t.Skipf("%v", err)
	}
	if _, err := docker(t.Context(), "image", "inspect", DefaultImage); err != nil {
		t.Skipf("no image %s: build it with scripts/testnet-image", DefaultImage)
	}
	out := t.TempDir()
	res, err := Run(t.Context(), RunOptions{Manifest: "networks/ci.toml", Scenario: "crash", Out: out,
		UID: os.Getuid(), GID: os.Getgid(), Log: testLog{t}})
	if res != nil && !res.Down {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 2*time.Minute)
			defer cancel()
			if r, err := NewRunner(res.NetDir, nil); err == nil {
				r.Down(ctx, false)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	if !res.Check.OK {
		t.Fatalf("check failed:\n%s", res.Check.Summary())
	}
	if res.Check.Reauctions == 0 && res.Check.Completed == res.Check.Jobs {
		t.Log("the killed provider held no job when it died: nothing was re-auctioned")
	}
	if len(res.Report.Plots) < 3 {
		t.Fatalf("%d plots", len(res.Report.Plots))
	}
}
