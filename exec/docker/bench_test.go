//go:build linux

package docker

// Benchmarks behind the figures in doc.go and the README. Run them
// together, on a machine as idle as you can get:
//
//	go test -run '^$' -bench . -benchtime 10x ./exec/docker

import (
	"context"
	"fmt"
	osexec "os/exec"
	"testing"
	"time"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/exectest"
	"github.com/hayek-market/hayek/internal/samples/native"
)

// BenchmarkStart is the start-to-exit latency of a trivial job (`toolbox
// exit 0`, a static Go program), from Run to its result, the container
// removed:
//
//	native        the same program started with os/exec, for comparison
//	warm          the image's warm container started and waiting (a
//	              provider between jobs of an image it ran before)
//	back-to-back  runs one after another, so the warm container of the
//	              next run is still starting while it needs it
//	no-pool       WarmImages 0: every run creates and starts its
//	              container; the image is in the engine
//	cold          WarmImages 0 and an image the engine does not have: the
//	              archive is checked and loaded first
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
		name       string
		warm, wait bool
	}{
		{"warm", true, true},
		{"back-to-back", true, false},
		{"no-pool", false, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newExecutor(b, func(c *Config) {
				if !tc.warm {
					c.WarmImages = 0
				}
			})
			defer e.Close(context.Background())
			job := toolbox("start", "exit", "0")
			exectest.RunOK(b, e, job, "")
			b.ResetTimer()
			for range b.N {
				if tc.wait {
					b.StopTimer()
					e.waitFills()
					b.StartTimer()
				}
				exectest.RunOK(b, e, job, "")
			}
		})
	}
	b.Run("cold", func(b *testing.B) {
		setup(b) // the engine's client, when this runs alone (-bench Start/cold)
		ctx := context.Background()
		id, err := buildImage(ctx, testClient, map[string][]byte{
			"Dockerfile": []byte("FROM scratch\nCOPY toolbox /toolbox\nLABEL hayek.test.cold=1\nENTRYPOINT [\"/toolbox\"]\n"),
			"toolbox":    native.Toolbox,
		})
		if err != nil {
			b.Fatal(err)
		}
		archive, err := saveImage(ctx, testClient, id)
		removeImage(testClient, id)
		if err != nil {
			b.Fatal(err)
		}
		e := newExecutor(b, func(c *Config) { c.WarmImages = 0 })
		defer removeImage(testClient, id)
		defer e.Close(context.Background())
		job := exec.Job{ID: "cold", Module: archive, Args: []string{"exit", "0"}}
		b.ResetTimer()
		for i := range b.N {
			job.ModuleCID = fmt.Sprintf("cold-%d-%d", b.N, i)
			exectest.RunOK(b, e, job, "")
			b.StopTimer()
			e.waitFills() // the container's teardown, which holds the image
			removeImage(testClient, id)
			b.StartTimer()
		}
	})
}

// BenchmarkPrimesRatio runs the same CPU-bound program (counting primes
// by trial division) natively and in a container in each iteration
// (interleaved, so drift in the machine's speed hits both alike) and
// reports the ratio, start-up included: below 10^6 a run lasts a few
// tenths of a second, below 4*10^6 several seconds, where the start-up's
// share is small.
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
