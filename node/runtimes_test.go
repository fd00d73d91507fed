package node

import (
	"strings"
	"testing"

	"github.com/hayek-market/hayek/exec/docker"
	"github.com/hayek-market/hayek/exec/gpu"
	"github.com/hayek-market/hayek/internal/samples/native"
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
	job, res := nativeJob(t, d, "process", native.Toolbox, nil, "hello")
	if job.State != api.StateCompleted || job.Settlement == nil || job.Settlement.Paid != job.Price || job.Settlement.Pending {
		t.Fatalf("job ended %s, settlement %+v, error %+v", job.State, job.Settlement, job.Error)
	}
	if res.Status != "ok" || res.Stdout.Text != "hello from hayek\nand its stdin" {
		t.Fatalf("result %s %q %q", res.Status, res.Stdout.Text, res.Stderr.Text)
	}
	if job.Provider != d.Nodes[1].ID() {
		t.Fatalf("ran on %s", names(d)[job.Provider])
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
}

// fakeGPUs are two l4s that exist only in the test.
var fakeGPUs = []gpu.Device{
	{Index: "0", UUID: "GPU-00000000-0000-0000-0000-00000000fa0e", Name: "NVIDIA L4", Model: "l4", MemoryMiB: 23034, Driver: "550.54"},
	{Index: "1", UUID: "GPU-00000000-0000-0000-0000-00000000fa1e", Name: "NVIDIA L4", Model: "l4", MemoryMiB: 23034, Driver: "550.54"},
}

// A GPU job goes to the one provider with (fake) GPUs, which gives it a
// whole device — named in its environment — and takes it back when the
// job ends; providers without GPUs are not asked, each named with
// no_gpu; a job wanting more GPUs than anyone has fails saying why.
func TestGPUJobsAllocateAndDecline(t *testing.T) {
	needToolbox(t)
	d := startDevnetWith(t, DevnetOptions{Nodes: 3, Process: true, GPUs: func(i int) []gpu.Device {
		if i == 2 {
			return fakeGPUs
		}
		return nil
	}})
	if !d.Sells(market.RuntimeProcess) {
		t.Skip("the process sandbox cannot run on this host (the devnet logged why)")
	}
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
