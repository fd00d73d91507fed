package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/docker"
	"github.com/hayek-market/hayek/exec/gpu"
	"github.com/hayek-market/hayek/exec/process"
	"github.com/hayek-market/hayek/exec/wasm"
	"github.com/hayek-market/hayek/market"
)

// selling is what a provider sells as found at start: the executor of
// each runtime that works, the GPUs, and the machine its offer states.
type selling struct {
	caps        []market.Capability // every capability advertised
	executors   map[market.Capability]exec.Executor
	owned       []exec.Executor // made here, closed with the node
	gpus        *gpu.Allocator  // nil: no GPU sold
	gpuRuntimes []market.Capability
	resources   market.Resources
}

// openExecutor takes the executor given, or makes a wasm one if the node
// sells, and sets up what else the node sells (process, docker, GPUs).
func (n *Node) openExecutor(ctx context.Context, o Options) error {
	if !n.cfg.Provider.Sell {
		n.exec = o.Executor
		return nil
	}
	if o.Executor != nil {
		n.exec = o.Executor
	} else {
		wc := wasm.DefaultConfig()
		wc.CacheDir = o.CompileCache
		if wc.CacheDir == "" {
			wc.CacheDir = filepath.Join(o.Home, "cache", "wasm")
		}
		wc.MaxCachedModules = n.cfg.Provider.ModuleCache
		var err error
		if n.exec, err = wasm.New(ctx, wc); err != nil {
			return fmt.Errorf("node: wasm executor: %w", err)
		}
		n.ownExec = true
	}
	var err error
	n.sell, err = n.setupSelling(ctx, o, n.exec)
	return err
}

// setupSelling finds what this node can sell: wasm always (the executor
// given, or one of its own), process and docker when the config turns them
// on and their sandbox works here (or when Options supplies one), GPUs
// when turned on and detected. It logs each runtime sold, and why any
// other is not, and advertises only what works.
func (n *Node) setupSelling(ctx context.Context, o Options, wasmExec exec.Executor) (*selling, error) {
	p := n.cfg.Provider
	s := &selling{executors: map[market.Capability]exec.Executor{market.RuntimeWasm: wasmExec}}
	for _, c := range p.Capabilities {
		s.caps = append(s.caps, market.Capability(c))
	}
	n.log.Info("selling runtime/wasm", "sandbox", "wazero, WASI preview 1: no network, memory and time limits")

	if e := o.Runtimes[market.RuntimeProcess]; e != nil {
		s.executors[market.RuntimeProcess] = e
		n.log.Info("selling runtime/process", "executor", "given by the caller")
	} else if !p.Process.Sell {
		n.log.Info("not selling runtime/process: not enabled (set [provider.process] sell = true)")
	} else if e, err := newProcessExecutor(ctx, p.Process); err != nil {
		n.log.Warn("not selling runtime/process: its sandbox cannot run here", "err", err)
	} else {
		s.executors[market.RuntimeProcess], s.owned = e, append(s.owned, e)
		n.log.Info("selling runtime/process", "protections", e.Protections().String())
	}

	if e := o.Runtimes[market.RuntimeDocker]; e != nil {
		s.executors[market.RuntimeDocker] = e
		n.log.Info("selling runtime/docker", "executor", "given by the caller")
	} else if !p.Docker.Sell {
		n.log.Info("not selling runtime/docker: not enabled (set [provider.docker] sell = true)")
	} else if e, err := newDockerExecutor(ctx, p.Docker); err != nil {
		n.log.Warn("not selling runtime/docker: no usable engine", "err", err)
	} else {
		s.executors[market.RuntimeDocker], s.owned = e, append(s.owned, e)
		n.log.Info("selling runtime/docker", "protections",
			"network none, all capabilities dropped, no-new-privileges, read-only root, non-root user, memory/pids limits, seccomp")
	}
	for _, rt := range []market.Capability{market.RuntimeProcess, market.RuntimeDocker} {
		if s.executors[rt] != nil {
			s.caps = append(s.caps, rt)
		}
	}

	devs, gpuRuntimes, why := n.findGPUs(ctx, o, s)
	if len(devs) > 0 {
		s.gpus, s.gpuRuntimes = gpu.NewAllocator(devs), gpuRuntimes
		for _, sum := range gpu.Summarise(devs) {
			g := market.GPUOffered{Model: sum.Model, Count: sum.Count, VRAMMiB: sum.MemoryMiB}
			if g.Capability().Validate() != nil {
				n.log.Warn("not selling a GPU whose model makes no capability key", "model", sum.Model)
				continue
			}
			s.resources.GPUs = append(s.resources.GPUs, g)
			s.caps = append(s.caps, g.Capability())
			n.log.Info("selling GPUs", "capability", g.Capability(), "count", g.Count, "vram_mib", g.VRAMMiB,
				"to", fmt.Sprint(gpuRuntimes))
		}
	} else if why != "" && (p.GPUs.Sell || o.GPUs != nil) {
		n.log.Warn("not selling GPUs: " + why)
	} else if why != "" {
		n.log.Info("not selling GPUs: " + why)
	}

	s.resources.Arch = runtime.GOARCH
	s.resources.CPUs = runtime.NumCPU()
	if p.CPUs > 0 {
		s.resources.CPUs = p.CPUs
	}
	s.resources.MemoryBytes = int64(p.Memory)
	if s.resources.MemoryBytes == 0 {
		s.resources.MemoryBytes = hostMemory()
	}
	if s.resources.MemoryBytes < market.MinMemoryBytes || s.resources.MemoryBytes > market.MaxNativeMemoryBytes {
		s.resources.MemoryBytes = min(max(s.resources.MemoryBytes, int64(p.MaxMemory)), market.MaxNativeMemoryBytes)
	}
	return s, nil
}

func newProcessExecutor(ctx context.Context, c ProcessConfig) (*process.Executor, error) {
	pc := process.DefaultConfig()
	pc.Programs, pc.RunJobModules, pc.CPUs = c.Programs, c.JobExecutables, c.CPUsPerJob
	return process.New(ctx, pc)
}

func newDockerExecutor(ctx context.Context, c DockerConfig) (*docker.Executor, error) {
	dc := docker.DefaultConfig()
	dc.Host, dc.AllowedImages, dc.RunJobImages, dc.Runtime, dc.CPUs = c.Host, c.AllowedImages, c.JobImages, c.OCIRuntime, c.CPUsPerJob
	return docker.New(ctx, dc)
}

// hostMemory is the machine's memory (MemTotal), or 0 when unknown.
func hostMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// closeOwned closes the executors the node made.
func (s *selling) closeOwned(ctx context.Context, log *slog.Logger) error {
	var errs []error
	for _, e := range s.owned {
		if err := e.Close(ctx); err != nil {
			log.Warn("closing an executor", "err", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// The provider's view of what is sold; a node that does not sell has none
// of it.

func (s *selling) executorsOrNil() map[market.Capability]exec.Executor {
	if s == nil {
		return nil
	}
	return s.executors
}

func (s *selling) allocator() *gpu.Allocator {
	if s == nil {
		return nil
	}
	return s.gpus
}

func (s *selling) gpuRuntimesOrNil() []market.Capability {
	if s == nil {
		return nil
	}
	return s.gpuRuntimes
}

// cpuMilli is the cores the offer states, in thousandths: what the jobs
// running here may claim together.
func (s *selling) cpuMilli() int64 {
	if s == nil {
		return 0
	}
	return int64(s.resources.CPUs) * 1000
}

// Sells lists what the node sells, as found at start: the runtimes that
// work here and its GPU models.
func (n *Node) Sells() []string { return soldStrings(n.soldCapabilities()) }

// soldStrings is what a node sells, for the API.
func soldStrings(caps []market.Capability) []string {
	out := make([]string, len(caps))
	for i, c := range caps {
		out[i] = string(c)
	}
	return out
}
