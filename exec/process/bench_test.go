//go:build linux

package process

// Benchmarks behind the figures in doc.go. Run them together, on a machine
// as idle as you can get:
//
//	go test -run '^$' -bench . -benchtime 10x ./exec/process

import (
	"context"
	"fmt"
	osexec "os/exec"
	"testing"
	"time"

	"github.com/hayek-market/hayek/exec/exectest"
	"github.com/hayek-market/hayek/internal/samples/native"
)

// BenchmarkNew is what starting an executor costs: finding cgroups,
// sweeping leftovers, and one probe sandbox.
func BenchmarkNew(b *testing.B) {
	for range b.N {
		e := newExecutor(b, nil)
		e.Close(context.Background())
	}
}

// BenchmarkStart is the start-to-exit latency of a trivial job (`toolbox
// exit 0`, a static Go program):
//
//	native        the same program started with os/exec, for comparison
//	warm          executable cached, a sandbox init waiting in the pool (a
//	              provider between jobs)
//	back-to-back  executable cached, runs one after another, so the pool
//	              refills while the next run needs it
//	no-pool       executable cached, WarmSandboxes 0: every run launches
//	              its init
//	cold          an executable the executor has not seen (checked and
//	              sealed into a memfd first), pool warm
func BenchmarkStart(b *testing.B) {
	bin := exectest.NativeToolbox(b, native.Toolbox)
	b.Run("native", func(b *testing.B) {
		for range b.N {
			if out, err := osexec.Command(bin, "exit", "0").CombinedOutput(); err != nil {
				b.Fatalf("%v %s", err, out)
			}
		}
	})
	for _, tc := range []struct {
		name     string
		pool     int
		waitPool bool
		cold     bool
	}{
		{"warm", 1, true, false},
		{"back-to-back", 1, false, false},
		{"no-pool", 0, false, false},
		{"cold", 1, true, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newExecutor(b, func(c *Config) { c.WarmSandboxes = tc.pool })
			defer e.Close(context.Background())
			job := toolbox("start", "exit", "0")
			exectest.RunOK(b, e, job, "")
			b.ResetTimer()
			for i := range b.N {
				if tc.cold {
					job.ModuleCID = fmt.Sprintf("cold-%d", i) // never seen: loaded and checked again
				}
				if tc.waitPool {
					b.StopTimer()
					waitPoolFull(b, e)
					b.StartTimer()
				}
				exectest.RunOK(b, e, job, "")
			}
		})
	}
}

// waitPoolFull waits, with a deadline, until the pool holds its inits.
func waitPoolFull(b *testing.B, e *Executor) {
	deadline := time.Now().Add(time.Minute)
	for len(e.pool) < cap(e.pool) {
		if time.Now().After(deadline) {
			b.Fatal("the pool did not refill within a minute")
		}
		time.Sleep(100 * time.Microsecond) // a poll interval, not a wait for time to pass
	}
}

// BenchmarkPrimesRatio runs the same CPU-bound program (counting primes
// by trial division) natively and in the sandbox in each iteration
// (interleaved, so drift in the machine's speed hits both alike) and
// reports the ratio, start-up included: below 10^6 a run lasts a few
// tenths of a second (exec/wasm's benchmark uses the same), below 4*10^6
// several seconds, where the start-up's share is small.
func BenchmarkPrimesRatio(b *testing.B) {
	bin := exectest.NativeToolbox(b, native.Toolbox)
	e := newExecutor(b, nil)
	defer e.Close(context.Background())
	for _, tc := range []struct{ below, want string }{
		{"1000000", "primes below 1000000: 78498\n"},
		{"4000000", "primes below 4000000: 283146\n"},
	} {
		b.Run(tc.below, func(b *testing.B) {
			job := toolbox("primes", "primes", tc.below)
			exectest.RunOK(b, e, job, tc.want)
			var nat, sandboxed time.Duration
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				out, err := osexec.Command(bin, "primes", tc.below).Output()
				nat += time.Since(start)
				if err != nil || string(out) != tc.want {
					b.Fatalf("native: %v %q", err, out)
				}
				start = time.Now()
				exectest.RunOK(b, e, job, tc.want)
				sandboxed += time.Since(start)
			}
			n := float64(b.N)
			b.ReportMetric(float64(nat)/float64(time.Millisecond)/n, "native-ms")
			b.ReportMetric(float64(sandboxed)/float64(time.Millisecond)/n, "sandbox-ms")
			b.ReportMetric(float64(sandboxed)/float64(nat), "sandbox/native")
		})
	}
}
