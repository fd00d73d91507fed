package wasm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/exectest"
	"github.com/hayek-market/hayek/internal/samples"
)

// sharedCacheDir lets the many executors of the conformance suite load the
// toolbox's machine code from disk instead of compiling it each time.
var sharedCacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hayek-wasm-test-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedCacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newExecutor(t testing.TB, change func(*Config)) *Executor {
	t.Helper()
	cfg := DefaultConfig()
	cfg.CacheDir = sharedCacheDir
	cfg.DefaultLimits.Timeout = 2 * time.Minute // generous: -race on 2 cores
	if change != nil {
		change(&cfg)
	}
	e, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func closeAtEnd(t *testing.T, e *Executor) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Error(err)
		}
	})
}

func TestConformance(t *testing.T) {
	toolbox := exectest.ToolboxPrograms("toolbox.wasm", samples.Toolbox)
	exectest.Run(t, exectest.Target{
		New: func(t *testing.T) exec.Executor { return newExecutor(t, nil) },
		Program: func(b exectest.Behaviour) exectest.Program {
			if b == exectest.Hello { // the hand-written one: the smallest WASI command
				return exectest.Program{CID: "hello.wasm", Module: samples.Hello}
			}
			return toolbox(b)
		},
		BadModules: map[string][]byte{
			"component":      []byte("\x00asm\x0d\x00\x01\x00"),
			"no _start":      emptyModule,
			"foreign import": foreignImportModule,
		},
		Deterministic: true,
	})
}

// Hand-assembled modules for the bad-module cases: each is valid
// WebAssembly that is not a runnable WASI preview 1 command.
var (
	// (module)
	emptyModule = []byte("\x00asm\x01\x00\x00\x00")
	// (module (import "env" "launch_missiles" (func)) (func (export "_start")))
	foreignImportModule = []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + // type 0: () -> ()
		"\x02\x17\x01\x03env\x0flaunch_missiles\x00\x00" + // import env.launch_missiles: func type 0
		"\x03\x02\x01\x00" + // one function of type 0
		"\x07\x0a\x01\x06_start\x00\x01" + // export it as _start
		"\x0a\x04\x01\x02\x00\x0b") // its body: end
)

// Tiny modules, assembled with wat2wasm from the text beside each.
var (
	// (module (func (export "_start") unreachable))
	unreachableModule = []byte("\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x07\x0a\x01\x06\x5f\x73\x74\x61\x72\x74\x00\x00\x0a\x05\x01\x03\x00\x00\x0b")
	// (module (func $f (export "_start") call $f))
	recurseModule = []byte("\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x07\x0a\x01\x06\x5f\x73\x74\x61\x72\x74\x00\x00\x0a\x06\x01\x04\x00\x10\x00\x0b")
	// (module (memory (export "memory") 100) (func (export "_start")))
	bigMemoryModule = []byte("\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x05\x03\x01\x00\x64\x07\x13\x02\x06\x6d\x65\x6d\x6f\x72\x79\x02\x00\x06\x5f\x73\x74\x61\x72\x74\x00\x00\x0a\x04\x01\x02\x00\x0b")
	// (module (memory 100) (func (export "_start")))
	hiddenBigMemoryModule = []byte("\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x05\x03\x01\x00\x64\x07\x0a\x01\x06\x5f\x73\x74\x61\x72\x74\x00\x00\x0a\x04\x01\x02\x00\x0b")
	// (module (memory 1) (func (export "_start") (drop (memory.grow (i32.const 100)))))
	growModule = []byte("\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x05\x03\x01\x00\x01\x07\x0a\x01\x06\x5f\x73\x74\x61\x72\x74\x00\x00\x0a\x0a\x01\x08\x00\x41\xe4\x00\x40\x00\x1a\x0b")
	// (module (func $s unreachable) (start $s) (func (export "_start")))
	startTrapModule = []byte("\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x03\x02\x00\x00\x07\x0a\x01\x06\x5f\x73\x74\x61\x72\x74\x00\x01\x08\x01\x00\x0a\x08\x02\x03\x00\x00\x0b\x02\x00\x0b")
	// (module (func (export "_start") (param i32)))
	startParamsModule = []byte("\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x05\x01\x60\x01\x7f\x00\x03\x02\x01\x00\x07\x0a\x01\x06\x5f\x73\x74\x61\x72\x74\x00\x00\x0a\x04\x01\x02\x00\x0b")
	// (module (import "wasi_snapshot_preview1" "fd_write" (func (param i32))) (func (export "_start")))
	badSignatureModule = []byte("\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x08\x02\x60\x01\x7f\x00\x60\x00\x00\x02\x23\x01\x16\x77\x61\x73\x69\x5f\x73\x6e\x61\x70\x73\x68\x6f\x74\x5f\x70\x72\x65\x76\x69\x65\x77\x31\x08\x66\x64\x5f\x77\x72\x69\x74\x65\x00\x00\x03\x02\x01\x01\x07\x0a\x01\x06\x5f\x73\x74\x61\x72\x74\x00\x01\x0a\x04\x01\x02\x00\x0b")
	// (module (import "wasi_snapshot_preview1" "sock_open" (func (param i32))) (func (export "_start")))
	unknownWASIModule = []byte("\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x08\x02\x60\x01\x7f\x00\x60\x00\x00\x02\x24\x01\x16\x77\x61\x73\x69\x5f\x73\x6e\x61\x70\x73\x68\x6f\x74\x5f\x70\x72\x65\x76\x69\x65\x77\x31\x09\x73\x6f\x63\x6b\x5f\x6f\x70\x65\x6e\x00\x00\x03\x02\x01\x01\x07\x0a\x01\x06\x5f\x73\x74\x61\x72\x74\x00\x01\x0a\x04\x01\x02\x00\x0b")
	// (module (import "wasi_snapshot_preview1" "proc_exit" (func $e (param i32)))
	//   (func (export "_start") (call $e (i32.const -268435457))))
	// -268435457 is 0xefffffff, the code wazero reserves for "deadline exceeded".
	reservedExitModule = []byte("\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x08\x02\x60\x01\x7f\x00\x60\x00\x00\x02\x24\x01\x16\x77\x61\x73\x69\x5f\x73\x6e\x61\x70\x73\x68\x6f\x74\x5f\x70\x72\x65\x76\x69\x65\x77\x31\x09\x70\x72\x6f\x63\x5f\x65\x78\x69\x74\x00\x00\x03\x02\x01\x01\x07\x0a\x01\x06\x5f\x73\x74\x61\x72\x74\x00\x01\x0a\x0c\x01\x0a\x00\x41\xff\xff\xff\xff\x7e\x10\x00\x0b")
)

func TestStatuses(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	for _, tc := range []struct {
		name    string
		module  []byte
		limits  exec.Limits
		status  exec.Status
		code    int32
		message string
	}{
		{"unreachable", unreachableModule, exec.Limits{}, exec.StatusTrap, 0, "unreachable"},
		{"stack overflow", recurseModule, exec.Limits{}, exec.StatusTrap, 0, "stack overflow"},
		{"initial memory over limit", bigMemoryModule, exec.Limits{MemoryBytes: 1 << 20}, exec.StatusMemoryLimit, 0, "before it starts"},
		{"unexported initial memory over limit", hiddenBigMemoryModule, exec.Limits{MemoryBytes: 1 << 20}, exec.StatusMemoryLimit, 0, "before it starts"},
		{"initial memory within limit", bigMemoryModule, exec.Limits{MemoryBytes: 100 * pageSize}, exec.StatusOK, 0, ""},
		{"limit rounded down to pages", bigMemoryModule, exec.Limits{MemoryBytes: 100*pageSize - 1}, exec.StatusMemoryLimit, 0, "before it starts"},
		{"grow over limit", growModule, exec.Limits{MemoryBytes: 1 << 20}, exec.StatusMemoryLimit, 0, "tried to grow"},
		{"grow within limit", growModule, exec.Limits{MemoryBytes: 101 * pageSize}, exec.StatusOK, 0, ""},
		{"trap in start section", startTrapModule, exec.Limits{}, exec.StatusTrap, 0, "unreachable"},
		{"_start with parameters", startParamsModule, exec.Limits{}, exec.StatusBadModule, 0, "takes and returns nothing"},
		{"WASI import with wrong signature", badSignatureModule, exec.Limits{}, exec.StatusBadModule, 0, "signature"},
		{"import WASI does not define", unknownWASIModule, exec.Limits{}, exec.StatusBadModule, 0, "does not define"},
		// Only the executor's own timer means "timeout": a module cannot
		// fake one by exiting with wazero's reserved code.
		{"reserved exit code", reservedExitModule, exec.Limits{}, exec.StatusExit, -268435457, ""},
		// A valid module with a memory section that declares no memory.
		{"empty memory section", []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x05\x01\x00" +
			"\x07\x0a\x01\x06_start\x00\x00\x0a\x04\x01\x02\x00\x0b"), exec.Limits{}, exec.StatusOK, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.Run(t.Context(), exec.Job{ID: tc.name, Module: tc.module, Limits: tc.limits})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.ExitCode != tc.code || !strings.Contains(res.Error, tc.message) {
				t.Errorf("got %s exit %d %q; want %s exit %d, error containing %q",
					res.Status, res.ExitCode, res.Error, tc.status, tc.code, tc.message)
			}
		})
	}
}

func TestPeakMemory(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	res, err := e.Run(t.Context(), exec.Job{ID: "grow", Module: growModule})
	if err != nil || res.Status != exec.StatusOK {
		t.Fatalf("%v %+v", err, res)
	}
	if res.Usage.MemoryBytes != 101*pageSize {
		t.Errorf("peak memory %d, want %d (1 page + 100 grown)", res.Usage.MemoryBytes, 101*pageSize)
	}
}

// The metadata a job sees is fixed, so listing /in gives the same bytes on
// every host: mtimes at the fake clock's epoch, sizes, names in order.
func TestInputMetadata(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	job := exec.Job{ID: "ls", Module: samples.Toolbox, Args: []string{"ls", "/in"}, Inputs: []exec.File{
		{Name: "z", Data: []byte("last")}, {Name: "a", Data: []byte("first")},
	}}
	res, err := e.Run(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	// Go's wasip1 port synthesises rw------- since WASI has no mode bits.
	if want := "-rw------- 5 1640995200000000000 a\n-rw------- 4 1640995200000000000 z\n"; string(res.Stdout) != want {
		t.Errorf("ls /in = %q, want %q", res.Stdout, want)
	}
}

func TestInvalidJob(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	for name, job := range map[string]exec.Job{
		"no module":         {ID: "j"},
		"unknown CID":       {ID: "j", ModuleCID: "bafy-not-compiled-here"},
		"env name with =":   {ID: "j", Module: samples.Hello, Env: map[string]string{"A=B": "c"}},
		"empty env name":    {ID: "j", Module: samples.Hello, Env: map[string]string{"": "c"}},
		"NUL in argument":   {ID: "j", Module: samples.Hello, Args: []string{"a\x00b"}},
		"input in a folder": {ID: "j", Module: samples.Hello, Inputs: []exec.File{{Name: "a/b"}}},
		"input named ..":    {ID: "j", Module: samples.Hello, Inputs: []exec.File{{Name: ".."}}},
		"duplicate inputs":  {ID: "j", Module: samples.Hello, Inputs: []exec.File{{Name: "a"}, {Name: "a"}}},
		"negative limit":    {ID: "j", Module: samples.Hello, Limits: exec.Limits{Timeout: -time.Second}},
	} {
		if _, err := e.Run(t.Context(), job); !errors.Is(err, ErrInvalidJob) {
			t.Errorf("%s: err = %v, want ErrInvalidJob", name, err)
		}
	}
}

func TestCheckModule(t *testing.T) {
	t.Parallel()
	for _, m := range [][]byte{samples.Hello, samples.Toolbox, unreachableModule, []byte("\x00asm\x01\x00\x00\x00")} {
		if err := CheckModule(m); err != nil {
			t.Errorf("CheckModule(%d bytes): %v", len(m), err)
		}
	}
	for _, tc := range []struct {
		module []byte
		reason string
	}{
		{nil, "empty"},
		{[]byte("\x7fELF\x02\x01\x01"), "magic number"},
		{[]byte("<html>not a module</html>"), "magic number"},
		{[]byte("\x00asm\x0d\x00\x01\x00"), "component"},
		{[]byte("\x00asm\x02\x00\x00\x00"), "version"},
		{samples.Toolbox[:len(samples.Toolbox)-1], "truncated"},
		{samples.Hello[:20], "truncated"},
		{[]byte("\x00asm\x01\x00\x00\x00\x01\xff\xff\xff\xff\xff"), "32 bits"},
		{[]byte("\x00asm\x01\x00\x00\x00\x63\x00"), "unknown section"},
	} {
		err := CheckModule(tc.module)
		if !errors.Is(err, ErrBadModule) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("CheckModule(%.20q) = %v, want ErrBadModule mentioning %q", tc.module, err, tc.reason)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for field, change := range map[string]func(*Config){
		"MaxCachedModules":          func(c *Config) { c.MaxCachedModules = 0 },
		"MaxCachedBytes":            func(c *Config) { c.MaxCachedBytes = -1 },
		"CompileWorkers":            func(c *Config) { c.CompileWorkers = 0 },
		"DefaultLimits.Timeout":     func(c *Config) { c.DefaultLimits.Timeout = 0 },
		"DefaultLimits.OutputFiles": func(c *Config) { c.DefaultLimits.OutputFiles = 0 },
		"DefaultLimits.MemoryBytes": func(c *Config) { c.DefaultLimits.MemoryBytes = 5 << 30 },
	} {
		cfg := DefaultConfig()
		change(&cfg)
		err := cfg.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != field || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate() = %v, want a ConfigError for that field", field, err)
		}
		if _, err := New(t.Context(), cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New accepted an invalid config: %v", field, err)
		}
	}
}

// Concurrent first runs of one module compile it once.
func TestCompileOnce(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			res, err := e.Run(t.Context(), exec.Job{ID: fmt.Sprint(i), ModuleCID: "toolbox", Module: samples.Toolbox, Args: []string{"exit", "0"}})
			if err != nil || res.Status != exec.StatusOK {
				t.Errorf("run %d: %v %s %s", i, err, res.Status, res.Error)
			}
		})
	}
	wg.Wait()
	if s := e.Stats(); s.Compiles != 1 || s.Hits != 7 || s.CachedModules != 1 {
		t.Errorf("stats = %+v, want 1 compile, 7 hits, 1 cached module", s)
	}
}

// A cache of one module, with two modules alternating under concurrent
// runs, evicts constantly: modules in use must stay usable until released.
func TestEvictionUnderLoad(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, func(c *Config) { c.MaxCachedModules = 1 })
	closeAtEnd(t, e)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			job := exec.Job{ID: fmt.Sprint(i), ModuleCID: "hello", Module: samples.Hello, Stdin: []byte("x")}
			if i%2 == 1 {
				job = exec.Job{ID: fmt.Sprint(i), ModuleCID: "grow", Module: growModule}
			}
			res, err := e.Run(t.Context(), job)
			if err != nil || res.Status != exec.StatusOK {
				t.Errorf("run %d: %v %s %s", i, err, res.Status, res.Error)
			}
		})
	}
	wg.Wait()
	if s := e.Stats(); s.CachedModules != 1 || s.Evictions == 0 {
		t.Errorf("stats = %+v, want 1 cached module and some evictions", s)
	}
}

func TestMaxCachedBytes(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, func(c *Config) { c.MaxCachedBytes = int64(len(samples.Hello)) })
	closeAtEnd(t, e)
	for range 2 {
		if err := e.Precompile(t.Context(), "toolbox", samples.Toolbox); err != nil {
			t.Fatal(err)
		}
	}
	if s := e.Stats(); s.Compiles != 2 || s.CachedModules != 0 || s.CachedBytes != 0 {
		t.Errorf("stats = %+v: a module larger than MaxCachedBytes must not stay cached", s)
	}
}

func TestPrecompile(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	closeAtEnd(t, e)
	if err := e.Precompile(t.Context(), "hello-cid", samples.Hello); err != nil {
		t.Fatal(err)
	}
	// A warmed module runs by CID alone.
	res, err := e.Run(t.Context(), exec.Job{ID: "warm", ModuleCID: "hello-cid"})
	if err != nil || res.Status != exec.StatusOK || string(res.Stdout) != "hello from hayek\n" {
		t.Fatalf("run by CID: %v %+v", err, res)
	}
	for _, bad := range [][]byte{[]byte("nope"), unknownWASIModule} {
		if err := e.Precompile(t.Context(), string(bad), bad); !errors.Is(err, ErrBadModule) {
			t.Errorf("Precompile(%q) = %v, want ErrBadModule", bad, err)
		}
	}
	if s := e.Stats(); s.Compiles != 3 {
		t.Errorf("stats = %+v, want 3 compiles", s)
	}
	// Bad modules are remembered, not compiled again.
	_ = e.Precompile(t.Context(), string(unknownWASIModule), unknownWASIModule)
	if s := e.Stats(); s.Compiles != 3 {
		t.Errorf("stats = %+v, want still 3 compiles", s)
	}
}

func TestDiskCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := range 2 {
		e := newExecutor(t, func(c *Config) { c.CacheDir = dir })
		if err := e.Precompile(t.Context(), "hello", samples.Hello); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) != 1 {
			t.Fatalf("after executor %d: cache dir holds %v (%v), want one versioned subdirectory", i, entries, err)
		}
	}
	if err := os.WriteFile(dir+"/file", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(t.Context(), Config{CacheDir: dir + "/file/sub", MaxCachedModules: 1, MaxCachedBytes: 1, CompileWorkers: 1, DefaultLimits: DefaultLimits}); err == nil {
		t.Error("New with an unusable CacheDir succeeded")
	}
}

func TestCloseIdempotent(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, nil)
	for range 2 {
		if err := e.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Precompile(t.Context(), "x", samples.Hello); !errors.Is(err, exec.ErrClosed) {
		t.Errorf("Precompile after Close: %v", err)
	}
}
