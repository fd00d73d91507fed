package node

import (
	"context"
	"fmt"
	"os"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/gpu"
	"github.com/hayek-market/hayek/market"
)

// findGPUs is the devices to sell and the runtimes that may use them, or
// why there are none. Options.GPUs (a fake set, for tests) reaches jobs
// of every native runtime by their environment alone (the executors are
// wrapped so that none tries to bind devices that do not exist). Real
// devices go to docker jobs, whose containers get exactly them as a
// device request, and to process jobs, whose sandbox binds exactly their
// device nodes, when every device has a node there (MIG instances do
// not).
func (n *Node) findGPUs(ctx context.Context, o Options, s *selling) ([]gpu.Device, []market.Capability, string) {
	var native []market.Capability
	for _, rt := range []market.Capability{market.RuntimeProcess, market.RuntimeDocker} {
		if s.executors[rt] != nil {
			native = append(native, rt)
		}
	}
	if o.GPUs != nil {
		if len(native) == 0 {
			return nil, nil, "a device set is given, but no native runtime is sold to use it"
		}
		for _, rt := range native {
			s.executors[rt] = envGPUs{s.executors[rt]}
		}
		return o.GPUs, native, ""
	}
	if !n.cfg.Provider.GPUs.Sell {
		return nil, nil, "not enabled (set [provider.gpus] sell = true)"
	}
	if len(native) == 0 {
		return nil, nil, "GPUs go to docker jobs (as device requests) and process jobs (as device nodes), and neither runtime is sold"
	}
	run := o.DetectGPUs
	if run == nil {
		run = gpu.ExecRunner
	}
	devs, err := gpu.Detect(ctx, run)
	switch {
	case err != nil:
		return nil, nil, err.Error()
	case len(devs) == 0:
		return nil, nil, "nvidia-smi lists no device"
	}
	var to []market.Capability
	for _, rt := range native {
		if rt == market.RuntimeProcess {
			if _, ok := s.executors[rt].(deviceRunner); !ok {
				n.log.Info("not selling GPUs to runtime/process: its executor cannot bind devices")
				continue
			}
			if why := deviceNodesMissing(devs); why != "" {
				n.log.Info("not selling GPUs to runtime/process: " + why)
				continue
			}
		}
		to = append(to, rt)
	}
	if len(to) == 0 {
		return nil, nil, "no runtime sold here can be given these devices"
	}
	return devs, to, ""
}

// deviceRunner is an executor that gives a job exactly the GPUs of an
// allocation (the provider's DeviceRunner).
type deviceRunner interface {
	RunWithDevices(ctx context.Context, job exec.Job, devices []gpu.Device) (exec.Result, error)
}

// deviceNodesMissing says why the process sandbox cannot bind devs'
// device nodes, or "" when it can.
func deviceNodesMissing(devs []gpu.Device) string {
	for _, d := range devs {
		name := d.NodeName()
		if name == "" {
			return fmt.Sprintf("%s is a MIG instance, which only containers can be given", d.UUID)
		}
		if fi, err := os.Stat("/dev/" + name); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			return fmt.Sprintf("GPU %s has no device node /dev/%s (is the driver loaded? nvidia-modprobe makes them)", d.UUID, name)
		}
	}
	return ""
}

// envGPUs hides an executor's device passing: jobs get a fake device
// set's GPUs by their environment only (the provider falls back to
// CUDA_VISIBLE_DEVICES), as no node exists to bind.
type envGPUs struct{ exec.Executor }

// Warm keeps the wrapped executor's answer for the provider's bids.
func (e envGPUs) Warm(cid string) bool {
	w, ok := e.Executor.(exec.Warmer)
	return ok && w.Warm(cid)
}
