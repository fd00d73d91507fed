package node

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/docker"
	"github.com/hayek-market/hayek/exec/gpu"
	"github.com/hayek-market/hayek/internal/samples/native"
	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// nativeJob submits the native toolbox (or an archive of it) as a job of
// runtime rt through node 0 and waits for it to end.
func nativeJob(t *testing.T, d *Devnet, rt string, module []byte, gpus *api.GPURequest, args ...string) (api.Job, api.Result) {
	t.Helper()
	c := api.NewClient(d.Sockets[0])
	mod, err := c.PutBlobBytes(t.Context(), module)
	if err != nil {
		t.Fatal(err)
	}
	job, err := c.Submit(t.Context(), api.SubmitRequest{Runtime: rt, Module: api.BlobRef{CID: mod.CID}, Args: args,
		Stdin: &api.BlobRef{Text: "and its stdin"}, GPUs: gpus, Memory: 64 << 20, MaxPrice: 5000})
	if err != nil {
		t.Fatal(err)
	}
	job = wait(t, c, job.ID)
	if job.State != api.StateCompleted {
		return job, api.Result{}
	}
	res, err := c.Result(t.Context(), job.ID)
	if err != nil {
		t.Fatal(err)
	}
	return job, res
}

func needToolbox(t *testing.T) {
	if native.Toolbox == nil {
		t.Skip("no native toolbox for this platform: run scripts/gen-samples")
	}
}

// A devnet sells runtime/process; a job of it runs in the process sandbox
// of another node and is paid with a receipt both ledgers hold.
func TestProcessJobRunsAndSettles(t *testing.T) {
	needToolbox(t)
	d := startDevnetWith(t, DevnetOptions{Nodes: 2, Process: true})
	if !d.Sells(market.RuntimeProcess) {
		t.Skip("the process sandbox cannot run on this host (the devnet logged why)")
	}
	st, err := api.NewClient(d.Sockets[1]).Status(t.Context())
	if err != nil || !slices.Contains(st.Capabilities, "runtime/process") {
		t.Fatalf("node 1's status says it sells %v (%v)", st.Capabilities, err)
	}
	job, res := nativeJob(t, d, "process", native.Toolbox, nil, "hello")
	if job.State != api.StateCompleted || job.Settlement == nil || job.Settlement.Paid != job.Price || job.Settlement.Pending {
		t.Fatalf("job ended %s, settlement %+v, error %+v", job.State, job.Settlement, job.Error)
	}
	if res.Status != "ok" || res.Stdout.Text != "hello from hayek\nand its stdin" {
		t.Fatalf("result %s %q %q", res.Status, res.Stdout.Text, res.Stderr.Text)
	}
	if job.Provider != d.Nodes[1].ID() || job.Runtime != "runtime/process" {
		t.Fatalf("ran on %s, runtime %q", names(d)[job.Provider], job.Runtime)
	}
	if mine, theirs := receiptCIDs(t, d.Nodes[0], job.ID), receiptCIDs(t, d.Nodes[1], job.ID); len(mine) != 1 || len(theirs) != 1 || mine[0] != theirs[0] {
		t.Fatalf("receipts: requester %v, provider %v", mine, theirs)
	}
}

// With an engine, a devnet sells runtime/docker; a job shipping its image
// as an archive runs in a container and completes.
func TestDockerJobRuns(t *testing.T) {
	needToolbox(t)
	d := startDevnetWith(t, DevnetOptions{Nodes: 2, Docker: true})
	if !d.Sells(market.RuntimeDocker) {
		t.Skip("no Docker engine reachable (the devnet logged why)")
	}
	ar, err := docker.ScratchArchive(map[string][]byte{"toolbox": native.Toolbox}, []string{"/toolbox"})
	if err != nil {
		t.Fatal(err)
	}
	job, res := nativeJob(t, d, "docker", ar, nil, "hello")
	if job.State != api.StateCompleted || res.Status != "ok" || res.Stdout.Text != "hello from hayek\nand its stdin" {
		t.Fatalf("job ended %s (%+v): %s %q %q", job.State, job.Error, res.Status, res.Stdout.Text, res.Stderr.Text)
	}

	// An image named by digest travels as its reference, named in the
	// call: a provider that does not allow it declines, and a reference
	// elsewhere is refused at once.
	c := api.NewClient(d.Sockets[0])
	ref := "sha256:" + strings.Repeat("ab", 32)
	job, err = c.Submit(t.Context(), api.SubmitRequest{Runtime: "docker", Image: ref, MaxPrice: 500})
	if err != nil {
		t.Fatal(err)
	}
	if job = wait(t, c, job.ID); job.State != api.StateFailed || job.Error == nil || !strings.Contains(job.Error.Message, "image_not_allowed") {
		t.Fatalf("a job naming an image no provider allows ended %s (%+v)", job.State, job.Error)
	}
	for _, bad := range []api.SubmitRequest{
		{Runtime: "docker", Module: api.BlobRef{Text: "not an archive"}, MaxPrice: 500},
		{Runtime: "process", Module: api.BlobRef{Text: "#!/bin/sh\necho hi\n"}, MaxPrice: 500},
		{Runtime: "process", Module: api.BlobRef{Base64: b64([]byte("\x7fELF\x02\x01\x01 not really"))}, MaxPrice: 500},
	} {
		var e *api.Error
		if _, err := c.Submit(t.Context(), bad); !errors.As(err, &e) || e.Code != api.CodeInvalidModule {
			t.Errorf("submitting a %s job of the wrong module: %v, want invalid_module", bad.Runtime, err)
		}
	}
	for _, bad := range []api.SubmitRequest{
		{Runtime: "wasm", Image: ref, MaxPrice: 500},
		{Runtime: "docker", Image: "alpine:latest", MaxPrice: 500},
		{Runtime: "docker", Image: ref, Module: api.BlobRef{Text: "x"}, MaxPrice: 500},
	} {
		var e *api.Error
		if _, err := c.Submit(t.Context(), bad); !errors.As(err, &e) || e.Code != api.CodeInvalidSpec || e.Fields[0].Field != "image" {
			t.Errorf("submitting %+v: %v, want invalid_spec naming image", bad, err)
		}
	}
}

// fakeGPUs are two l4s that exist only in the test.
var fakeGPUs = []gpu.Device{
	{Index: "0", UUID: "GPU-00000000-0000-0000-0000-00000000fa0e", Name: "NVIDIA L4", Model: "l4", MemoryMiB: 23034, Driver: "550.54"},
	{Index: "1", UUID: "GPU-00000000-0000-0000-0000-00000000fa1e", Name: "NVIDIA L4", Model: "l4", MemoryMiB: 23034, Driver: "550.54"},
}

// gpuDevnet is n nodes selling process, the last with fakeGPUs; it skips
// where the process sandbox cannot run.
func gpuDevnet(t *testing.T, n int) *Devnet {
	t.Helper()
	needToolbox(t)
	d := startDevnetWith(t, DevnetOptions{Nodes: n, Process: true, GPUs: func(i int) []gpu.Device {
		if i == n-1 {
			return fakeGPUs
		}
		return nil
	}})
	if !d.Sells(market.RuntimeProcess) {
		t.Skip("the process sandbox cannot run on this host (the devnet logged why)")
	}
	return d
}

// A GPU job goes to the one provider with (fake) GPUs, which gives it a
// whole device — named in its environment — and takes it back when the
// job ends; providers without GPUs are not asked, each named with
// no_gpu; a job wanting more GPUs than anyone has fails saying why.
func TestGPUJobsAllocateAndDecline(t *testing.T) {
	d := gpuDevnet(t, 3)
	gpuNode := d.Nodes[2]
	o, _ := gpuNode.offers.Offer()
	if !o.Sells("gpu/nvidia/l4") || o.Resources == nil || len(o.Resources.GPUs) != 1 || o.Resources.GPUs[0].Count != 2 {
		t.Fatalf("the GPU node's offer: %v %+v", o.Capabilities, o.Resources)
	}
	if o, _ := d.Nodes[1].offers.Offer(); o.Resources == nil || len(o.Resources.GPUs) != 0 {
		t.Fatalf("a node without GPUs offers %+v", o.Resources)
	}

	job, res := nativeJob(t, d, "process", native.Toolbox, &api.GPURequest{Count: 1, Model: "l4"}, "env")
	if job.State != api.StateCompleted || res.Status != "ok" {
		t.Fatalf("GPU job ended %s (%+v): %s %q", job.State, job.Error, res.Status, res.Stderr.Text)
	}
	if job.Provider != gpuNode.ID() {
		t.Fatalf("GPU job ran on %s, not the node with GPUs", names(d)[job.Provider])
	}
	if !strings.Contains(res.Stdout.Text, "CUDA_VISIBLE_DEVICES="+fakeGPUs[0].UUID+"\n") {
		t.Fatalf("the job did not see exactly its device:\n%s", res.Stdout.Text)
	}
	waitFor(t, 5e9, "the job's GPU to be released", func() bool { return gpuNode.sell.gpus.Free() == 2 })

	job, _ = nativeJob(t, d, "process", native.Toolbox, &api.GPURequest{Count: 3}, "env")
	if job.State != api.StateFailed || job.Error == nil {
		t.Fatalf("a job wanting 3 GPUs ended %s", job.State)
	}
	for _, want := range []string{"no_gpu", "gpu_model"} {
		if !strings.Contains(job.Error.Message, want) {
			t.Errorf("the failure does not say %s: %s", want, job.Error.Message)
		}
	}
}

// A provider whose GPUs are all held declines a GPU job busy (not held
// against it), and a cancelled run gives its GPUs back: the job that
// waited then runs on them.
func TestGPUsBusyThenReleasedOnCancel(t *testing.T) {
	d := gpuDevnet(t, 2)
	alloc := d.Nodes[1].sell.gpus
	busyThenFree(t, d, "GPU",
		func(r *api.SubmitRequest) { r.GPUs = &api.GPURequest{Count: 2} },
		func(r *api.SubmitRequest) { r.GPUs = &api.GPURequest{Count: 1} },
		func() bool { return alloc.Free() == 0 }, func() bool { return alloc.Free() == 2 })
}

// A job claims the cores it asks for: a provider whose running jobs have
// claimed its cores declines busy, and takes the next job when they end.
func TestCPUsClaimedThenReleasedOnCancel(t *testing.T) {
	needToolbox(t)
	d := startDevnetWith(t, DevnetOptions{Nodes: 2, Process: true, Configure: func(i int, c *Config) { c.Provider.CPUs = 2 }})
	if !d.Sells(market.RuntimeProcess) {
		t.Skip("the process sandbox cannot run on this host (the devnet logged why)")
	}
	p := d.Nodes[1].provider
	claimed := func() int64 { return p.CPUsClaimed() }
	busyThenFree(t, d, "CPUs",
		func(r *api.SubmitRequest) { r.CPUs = 1.5 },
		func(r *api.SubmitRequest) { r.CPUs = 1 },
		func() bool { return claimed() == 1500 }, func() bool { return claimed() == 0 })
}

// busyThenFree has node 0 submit a spinning job (hog's resources) that
// node 1 runs, then a job (waiter's) that node 1 must decline busy with a
// detail naming what, then cancels the spinning job: the waiting one then
// runs on node 1, and what it held is given back.
func busyThenFree(t *testing.T, d *Devnet, what string, hog, waiter func(*api.SubmitRequest), held, free func() bool) {
	t.Helper()
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	mod, err := c.PutBlobBytes(ctx, native.Toolbox)
	if err != nil {
		t.Fatal(err)
	}
	submit := func(set func(*api.SubmitRequest), args ...string) api.Job {
		t.Helper()
		r := api.SubmitRequest{Runtime: "process", Module: api.BlobRef{CID: mod.CID}, Args: args,
			Timeout: units.Duration(time.Minute), MaxPrice: 5000}
		set(&r)
		j, err := c.Submit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	spin := submit(hog, "spin")
	waitFor(t, 10*time.Second, "the spinning job to hold its "+what, held)
	w := submit(waiter, "env")
	waitFor(t, 10*time.Second, "node 1 to decline busy", func() bool {
		j, err := c.Job(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range j.Attempts {
			for _, dc := range a.Declines {
				if dc.Reason == "busy" && strings.Contains(dc.Detail, what) {
					return true
				}
			}
		}
		return false
	})
	if _, err := c.Cancel(ctx, spin.ID); err != nil {
		t.Fatal(err)
	}
	j := wait(t, c, w.ID)
	if j.State != api.StateCompleted || j.Provider != d.Nodes[1].ID() {
		t.Fatalf("the waiting job ended %s on %s (%+v)", j.State, names(d)[j.Provider], j.Error)
	}
	waitFor(t, 5*time.Second, "every "+what+" to be free again", free)
}

// A node logs what it sells and why it does not sell the rest, and
// advertises only what works: here docker is turned on but no engine
// answers at its address, and GPUs are turned on but the driver fails.
func TestStartupSaysWhatIsSoldAndWhy(t *testing.T) {
	log, logged := logCapture()
	cfg := DevnetConfig()
	cfg.Provider.Docker.Sell = true
	cfg.Provider.Docker.Host = "unix://" + filepath.Join(t.TempDir(), "no-engine.sock")
	cfg.Provider.GPUs.Sell = true
	cfg.Provider.CPUs, cfg.Provider.Memory = 3, 6<<30
	n, err := New(t.Context(), Options{Home: homeDir(t), Config: cfg, Logger: log, CompileCache: compileCache,
		DetectGPUs: func(context.Context, string, ...string) ([]byte, error) {
			return nil, errors.New("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver")
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Close(cctx)
	})
	out := logged()
	for _, want := range []string{
		`msg="selling runtime/wasm"`,
		`msg="not selling runtime/process: not enabled (set [provider.process] sell = true)"`,
		`msg="not selling runtime/docker: no usable engine"`, "no-engine.sock",
		// docker is not sold, so GPUs (which go to docker jobs) are not either
		`msg="not selling GPUs: GPUs go to docker jobs (as device requests), and runtime/docker is not sold"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the start-up log lacks %q:\n%s", want, out)
		}
	}
	o, ok := n.offers.Offer()
	if !ok || len(o.Capabilities) != 1 || o.Capabilities[0] != market.RuntimeWasm {
		t.Fatalf("the offer sells %v, want runtime/wasm alone", o.Capabilities)
	}
	if r := o.Resources; r == nil || r.CPUs != 3 || r.MemoryBytes != 6<<30 || r.Arch != runtime.GOARCH || len(r.GPUs) != 0 {
		t.Fatalf("the offer's resources %+v, want the configured 3 cores and 6GiB", o.Resources)
	}
}

// logCapture is a logger at info and what it has logged so far.
func logCapture() (*slog.Logger, func() string) {
	var mu sync.Mutex
	var b strings.Builder
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return b.Write(p)
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})), func() string {
		mu.Lock()
		defer mu.Unlock()
		return b.String()
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// fakeDocker stands in for a docker executor where none is needed: the
// test only looks at what the node advertises.
type fakeDocker struct{}

func (fakeDocker) Run(context.Context, exec.Job) (exec.Result, error) {
	return exec.Result{}, errors.New("fake")
}
func (fakeDocker) Close(context.Context) error { return nil }

// With docker sold, a node detects its GPUs with nvidia-smi and
// advertises each model with its count and memory, from the recorded
// output of a machine with four A100s; a failing driver is logged and
// nothing is advertised.
func TestGPUsDetectedAndAdvertised(t *testing.T) {
	a100s, err := os.ReadFile("../exec/gpu/testdata/a100x4.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		smi    gpu.Runner
		sells  []market.GPUOffered
		logged string
	}{
		{"four a100s", func(_ context.Context, _ string, args ...string) ([]byte, error) {
			if len(args) > 0 && args[0] == "-L" {
				return nil, errors.New("no listing")
			}
			return a100s, nil
		}, []market.GPUOffered{{Model: "a100-sxm4-80gb", Count: 4, VRAMMiB: 81920}}, `capability=gpu/nvidia/a100-sxm4-80gb count=4 vram_mib=81920 to=[runtime/docker]`},
		{"no driver", func(context.Context, string, ...string) ([]byte, error) {
			return []byte("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."), errors.New("exit status 9")
		}, nil, `msg="not selling GPUs: exec/gpu: no NVIDIA driver: nvidia-smi failed`},
	} {
		t.Run(c.name, func(t *testing.T) {
			log, logged := logCapture()
			cfg := DevnetConfig()
			cfg.Provider.GPUs.Sell = true
			n, err := New(t.Context(), Options{Home: homeDir(t), Config: cfg, Logger: log, CompileCache: compileCache,
				Runtimes: map[market.Capability]exec.Executor{market.RuntimeDocker: fakeDocker{}}, DetectGPUs: c.smi})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				n.Close(cctx)
			})
			o, _ := n.offers.Offer()
			if err := o.Validate(time.Now()); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o.Resources.GPUs, c.sells) {
				t.Errorf("the offer sells GPUs %+v, want %+v", o.Resources.GPUs, c.sells)
			}
			for _, g := range c.sells {
				if !o.Sells(g.Capability()) {
					t.Errorf("the offer lacks %s: %v", g.Capability(), o.Capabilities)
				}
			}
			if out := logged(); !strings.Contains(out, c.logged) {
				t.Errorf("the start-up log lacks %q:\n%s", c.logged, out)
			}
		})
	}
}

// A provider whose executor fails reports it (status internal, a provider
// fault) in a result the requester can read: the job is re-auctioned,
// and when every provider fails it ends with their faults, long before
// its deadline.
func TestExecutorFailureIsAProviderFault(t *testing.T) {
	d := startDevnetWith(t, DevnetOptions{Nodes: 3, Runtimes: map[market.Capability]exec.Executor{market.RuntimeDocker: fakeDocker{}}})
	c := api.NewClient(d.Sockets[0])
	ar, err := docker.ScratchArchive(map[string][]byte{"prog": []byte("never run")}, []string{"/prog"})
	if err != nil {
		t.Fatal(err)
	}
	job, err := c.Submit(t.Context(), api.SubmitRequest{Runtime: "docker", Module: api.BlobRef{Base64: b64(ar)},
		MaxPrice: 500, Timeout: units.Duration(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	job = wait(t, c, job.ID)
	if job.State != api.StateFailed || job.Error == nil || job.Error.Code == "deadline" || len(job.Attempts) < 2 {
		t.Fatalf("job ended %s after %d attempts: %+v", job.State, len(job.Attempts), job.Error)
	}
	if !strings.Contains(job.Error.Message, "fake") {
		t.Errorf("the failure does not carry the executor's error: %s", job.Error.Message)
	}
}
