package wasm

// Benchmarks behind the design decisions recorded in doc.go. Run them all
// in one go, on an otherwise idle machine:
//
//	go test -run '^$' -bench . -benchtime 10x ./exec/wasm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/internal/samples"
)

// benchPrimes makes one run last about a tenth of a second natively, so
// process and runtime start-up are a small part of it.
const benchPrimes = "1000000"

const benchPrimesOutput = "primes below 1000000: 78498\n"

// nativeToolbox builds the toolbox for the host once per test binary.
var nativeToolbox = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp(sharedCacheDir, "native-*")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "toolbox")
	cmd := osexec.Command("go", "build", "-trimpath", "-o", bin, "github.com/hayek-market/hayek/internal/samples/toolbox")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build toolbox: %v\n%s", err, out)
	}
	return bin, nil
})

// rawRuntime runs the toolbox on a bare wazero runtime, without the
// executor, to isolate the cost of one RuntimeConfig choice.
type rawRuntime struct {
	rt wazero.Runtime
	cm wazero.CompiledModule
}

func newRawRuntime(b *testing.B, closeOnContextDone bool) *rawRuntime {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(closeOnContextDone))
	b.Cleanup(func() { rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	cm, err := rt.CompileModule(ctx, samples.Toolbox)
	if err != nil {
		b.Fatal(err)
	}
	return &rawRuntime{rt: rt, cm: cm}
}

func (r *rawRuntime) run(b *testing.B, args ...string) string {
	// A context with a deadline, as the executor uses: with
	// closeOnContextDone that arms wazero's watcher.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	mc := wazero.NewModuleConfig().WithName("").WithArgs(append([]string{"job"}, args...)...).WithStdout(&out)
	mod, err := r.rt.InstantiateModule(ctx, r.cm, mc)
	if err != nil {
		b.Fatal(err)
	}
	mod.Close(ctx)
	return out.String()
}

func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// BenchmarkPrimesRatio runs the same CPU-bound program four ways in each
// iteration (interleaved, so drift in machine speed hits all alike) and
// reports each one's time and the ratios the design rests on.
func BenchmarkPrimesRatio(b *testing.B) {
	bin, err := nativeToolbox()
	if err != nil {
		b.Skip(err)
	}
	plain := newRawRuntime(b, false)
	guarded := newRawRuntime(b, true)
	e := newExecutor(b, func(c *Config) { c.CacheDir = "" })
	defer e.Close(context.Background())
	job := exec.Job{ID: "primes", ModuleCID: "toolbox", Module: samples.Toolbox, Args: []string{"primes", benchPrimes}}
	if err := e.Precompile(context.Background(), job.ModuleCID, job.Module); err != nil {
		b.Fatal(err)
	}
	check := func(what, out string) {
		if out != benchPrimesOutput {
			b.Fatalf("%s printed %q", what, out)
		}
	}

	var native, wasm, wasmGuarded, executor time.Duration
	b.ResetTimer()
	for range b.N {
		native += timed(func() {
			out, err := osexec.Command(bin, "primes", benchPrimes).Output()
			if err != nil {
				b.Fatal(err)
			}
			check("native", string(out))
		})
		wasm += timed(func() { check("wazero", plain.run(b, "primes", benchPrimes)) })
		wasmGuarded += timed(func() { check("wazero+close", guarded.run(b, "primes", benchPrimes)) })
		executor += timed(func() {
			res, err := e.Run(context.Background(), job)
			if err != nil {
				b.Fatal(err)
			}
			check("executor", string(res.Stdout))
		})
	}
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / n }
	b.ReportMetric(ms(native), "native-ms")
	b.ReportMetric(ms(wasm), "wazero-ms")
	b.ReportMetric(ms(wasmGuarded), "wazero+close-ms")
	b.ReportMetric(ms(executor), "executor-ms")
	b.ReportMetric(float64(wasm)/float64(native), "wazero/native")
	b.ReportMetric(float64(wasmGuarded)/float64(wasm), "close/plain")
	b.ReportMetric(float64(executor)/float64(native), "executor/native")
}

// BenchmarkWarmStart is the latency of a run whose module is compiled and
// cached: instantiation, the program's own start-up, and collecting results.
func BenchmarkWarmStart(b *testing.B) {
	for _, tc := range []struct {
		name string
		job  exec.Job
		want string
	}{
		{"hello", exec.Job{ID: "w", ModuleCID: "hello", Module: samples.Hello}, "hello from hayek\n"},
		{"toolbox", exec.Job{ID: "w", ModuleCID: "toolbox", Module: samples.Toolbox, Args: []string{"args"}}, "job\nargs\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newExecutor(b, nil)
			defer e.Close(context.Background())
			ctx := context.Background()
			if err := e.Precompile(ctx, tc.job.ModuleCID, tc.job.Module); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				res, err := e.Run(ctx, tc.job)
				if err != nil || string(res.Stdout) != tc.want {
					b.Fatalf("%v %+v", err, res)
				}
			}
		})
	}
}

// BenchmarkColdCompile is the first run's extra cost: compiling with no
// cache, with 1 or 2 compile workers, and loading from a warm CacheDir
// (what a restarted provider pays).
func BenchmarkColdCompile(b *testing.B) {
	warmDir := b.TempDir()
	for _, module := range []struct {
		name  string
		bytes []byte
	}{{"hello", samples.Hello}, {"toolbox", samples.Toolbox}} {
		for _, tc := range []struct {
			name    string
			workers int
			dir     string
		}{
			{"workers=1", 1, ""},
			{"workers=2", 2, ""},
			{"disk-cache", 1, warmDir},
		} {
			b.Run(module.name+"/"+tc.name, func(b *testing.B) {
				ctx := context.Background()
				start := func() *Executor {
					return newExecutor(b, func(c *Config) { c.CacheDir, c.CompileWorkers = tc.dir, tc.workers })
				}
				if tc.dir != "" { // fill the disk cache first
					e := start()
					if err := e.Precompile(ctx, module.name, module.bytes); err != nil {
						b.Fatal(err)
					}
					e.Close(ctx)
				}
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					e := start()
					b.StartTimer()
					if err := e.Precompile(ctx, module.name, module.bytes); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					e.Close(ctx)
					b.StartTimer()
				}
			})
		}
	}
}

// BenchmarkCheckModule is what a requester pays at submit time.
func BenchmarkCheckModule(b *testing.B) {
	for range b.N {
		if err := CheckModule(samples.Toolbox); err != nil {
			b.Fatal(err)
		}
	}
}
