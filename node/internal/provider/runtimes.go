package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/gpu"
	"github.com/hayek-market/hayek/market"
)

// DeviceRunner is an executor that can give a job exactly the GPUs of an
// allocation (exec/docker, as a device request).
type DeviceRunner interface {
	RunWithDevices(ctx context.Context, job exec.Job, devices []gpu.Device) (exec.Result, error)
}

// run runs an awarded job in the executor of its runtime, with the GPUs
// the run holds: as devices when the executor takes them, otherwise named
// in the environment (CUDA_VISIBLE_DEVICES), which is all a GPU runtime
// without device passing gets.
func (p *Service) run(ctx context.Context, run *provRun, job exec.Job) (exec.Result, error) {
	rt := run.award.Run.RunRuntime()
	ex := p.d.Executors[rt]
	if ex == nil {
		return exec.Result{}, fmt.Errorf("provider: %s is not sold here", rt)
	}
	if run.gpus == nil {
		return ex.Run(ctx, job)
	}
	if dr, ok := ex.(DeviceRunner); ok {
		return dr.RunWithDevices(ctx, job, run.gpus.Devices)
	}
	env := maps.Clone(job.Env)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, run.gpus.Env())
	job.Env = env
	return ex.Run(ctx, job)
}

// gpusUnusable says why this provider's GPUs cannot go to a job of runtime
// rt, or "" when they can.
func (p *Service) gpusUnusable(rt market.Capability) string {
	switch {
	case p.d.GPUs == nil:
		return "" // the offer sells none: the market declines no_gpu itself
	case !slices.Contains(p.d.GPURuntimes, rt):
		return fmt.Sprintf("GPUs here go only to jobs of %v, not %s", p.d.GPURuntimes, rt)
	}
	return ""
}

func gpuRequest(g market.GPUs) gpu.Request {
	return gpu.Request{Count: g.Count, Model: g.Model, MinMemMiB: g.MinVRAMMiB}
}

// gpusFree reports whether a job asking for g could have its GPUs now.
// Callers hold p.mu, as handleAward does when it acquires: the probe's
// allocation never makes a real one fail.
func (p *Service) gpusFree(g market.GPUs) bool {
	if p.d.GPUs == nil {
		return true // nothing to be busy with: the offer declines it
	}
	al, err := p.d.GPUs.Acquire("probe", gpuRequest(g))
	if err != nil {
		return false
	}
	al.Release()
	return true
}

// acquireGPUs takes whole devices for an awarded run, or says why not:
// gpu.ErrBusy when other runs hold them, gpu.ErrUnfit when this provider
// has none that fit.
func (p *Service) acquireGPUs(k runKey, rt market.Capability, g market.GPUs) (*gpu.Allocation, error) {
	if p.d.GPUs == nil {
		return nil, fmt.Errorf("%w: no_gpu: this provider has no GPU", gpu.ErrUnfit)
	}
	if why := p.gpusUnusable(rt); why != "" {
		return nil, fmt.Errorf("%w: no_gpu: %s", gpu.ErrUnfit, why)
	}
	return p.d.GPUs.Acquire(fmt.Sprintf("%s/%s/%d", k.requester, k.job, k.attempt), gpuRequest(g))
}
