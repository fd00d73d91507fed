package wasm

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/internal/samples"
)

//go:embed testdata/features.wasm
var featuresModule []byte

// runRaw runs a module on a bare wazero runtime and returns its exit code.
func runRaw(t *testing.T, module []byte) uint32 {
	t.Helper()
	ctx := t.Context()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.InstantiateModule(ctx, mustCompile(t, rt, module), wazero.NewModuleConfig().WithName(""))
	var exit *sys.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("want an exit, got %v", err)
	}
	if mod != nil {
		mod.Close(ctx)
	}
	return exit.ExitCode()
}

func mustCompile(t *testing.T, rt wazero.Runtime, module []byte) wazero.CompiledModule {
	t.Helper()
	cm, err := rt.CompileModule(t.Context(), module)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return cm
}

// The rewrite must keep every instruction's meaning: the features module
// computes the same checksum before and after, through the executor too.
func TestInstrumentPreservesBehaviour(t *testing.T) {
	t.Parallel()
	want := runRaw(t, featuresModule)
	if want == 0 {
		t.Fatal("features module exited 0; its checksum should not be")
	}
	out, err := instrument(featuresModule)
	if err != nil {
		t.Fatal(err)
	}
	// The start-section-free original runs under a plain runtime; the
	// instrumented one needs nothing but its exported start.
	if got := runRaw(t, out); got != want {
		t.Errorf("instrumented module exits %d, original %d", got, want)
	}

	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	res, err := e.Run(t.Context(), exec.Job{ID: "features", Module: featuresModule})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != exec.StatusExit || uint32(res.ExitCode) != want {
		t.Errorf("executor: %s exit %d (%s), want exit %d", res.Status, res.ExitCode, res.Error, want)
	}
}

func TestInstrumentIsDeterministic(t *testing.T) {
	t.Parallel()
	a, err := instrument(samples.Toolbox)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := instrument(samples.Toolbox)
	if !bytes.Equal(a, b) {
		t.Fatal("instrumenting the same module twice gave different bytes (the disk cache would miss)")
	}
}

func TestInstrumentRefusesReservedNames(t *testing.T) {
	t.Parallel()
	out, err := instrument(unreachableModule)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := instrument(out); !errors.Is(err, ErrBadModule) {
		t.Errorf("instrumenting twice: %v, want ErrBadModule for the reserved export names", err)
	}
}

// Unbounded execution of every shape ends at the time limit: a loop, calls
// that recurse without a loop (exponentially, at a bounded depth, so the
// stack never overflows), and a loop in a start section.
func TestTimeoutShapes(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	for name, module := range map[string][]byte{
		// (module (func (export "_start") (loop (br 0))))
		"loop": []byte("\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x07\x0a\x01\x06\x5f\x73\x74\x61\x72\x74\x00\x00\x0a\x09\x01\x07\x00\x03\x40\x0c\x00\x0b\x0b"),
		// (module
		//   (func $f (param i32)
		//     (if (local.get 0) (then
		//       (call $f (i32.sub (local.get 0) (i32.const 1)))
		//       (call $f (i32.sub (local.get 0) (i32.const 1))))))
		//   (func (export "_start") (call $f (i32.const 60))))
		"recursion": []byte("\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x08\x02\x60\x01\x7f\x00\x60\x00\x00\x03\x03\x02\x00\x01\x07\x0a\x01\x06\x5f\x73\x74\x61\x72\x74\x00\x01\x0a\x1e\x02\x15\x00\x20\x00\x04\x40\x20\x00\x41\x01\x6b\x10\x00\x20\x00\x41\x01\x6b\x10\x00\x0b\x0b\x06\x00\x41\x3c\x10\x00\x0b"),
		// (module (func $s (loop (br 0))) (start $s) (func (export "_start")))
		"start section": []byte("\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x03\x02\x00\x00\x07\x0a\x01\x06\x5f\x73\x74\x61\x72\x74\x00\x01\x08\x01\x00\x0a\x0c\x02\x07\x00\x03\x40\x0c\x00\x0b\x0b\x02\x00\x0b"),
	} {
		res, err := e.Run(t.Context(), exec.Job{ID: name, Module: module, Limits: exec.Limits{Timeout: 20 * time.Millisecond}})
		if err != nil || res.Status != exec.StatusTimeout {
			t.Errorf("%s: %v %s %s, want timeout", name, err, res.Status, res.Error)
		}
	}
}

// A guest computing without calling the host must not hold off the garbage
// collector's stop-the-world: Go cannot preempt wazero's machine code, so
// without the periodic poll this test never finishes.
func TestGarbageCollectionWhileGuestSpins(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	spin := []byte("\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x07\x0a\x01\x06\x5f\x73\x74\x61\x72\x74\x00\x00\x0a\x09\x01\x07\x00\x03\x40\x0c\x00\x0b\x0b")
	if err := e.Precompile(t.Context(), "spin", spin); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := e.Run(ctx, exec.Job{ID: "spin", ModuleCID: "spin", Limits: exec.Limits{Timeout: time.Hour}})
		done <- err
	}()
	for range 50 {
		runtime.GC()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("spinning run: err = %v, want context.Canceled", err)
	}
}

func FuzzInstrument(f *testing.F) {
	for _, m := range [][]byte{samples.Hello, featuresModule, unreachableModule, growModule, startTrapModule, []byte("\x00asm\x01\x00\x00\x00")} {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, module []byte) {
		if CheckModule(module) != nil {
			return
		}
		out, err := instrument(module)
		if err != nil {
			if !errors.Is(err, ErrBadModule) {
				t.Fatalf("error not wrapping ErrBadModule: %v", err)
			}
			return
		}
		if err := CheckModule(out); err != nil {
			t.Fatalf("instrumented module fails CheckModule: %v", err)
		}
	})
}
