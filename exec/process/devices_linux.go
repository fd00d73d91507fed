package process

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/gpu"
)

// baseDevices are the device nodes every sandbox holds (the init binds
// them from the host's /dev): the only ones a job without GPUs may open.
var baseDevices = []string{"null", "zero", "full", "random", "urandom"}

// charDevice is the character device at path, or an error saying what is
// there instead.
func charDevice(path string) (devNode, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return devNode{}, fmt.Errorf("%s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return devNode{}, fmt.Errorf("%s is not a character device", path)
	}
	return devNode{path: path, major: unix.Major(uint64(st.Rdev)), minor: unix.Minor(uint64(st.Rdev))}, nil
}

// hostBaseDevices finds the numbers of the base devices.
func hostBaseDevices() ([]devNode, error) {
	var out []devNode
	for _, name := range baseDevices {
		d, err := charDevice("/dev/" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// gpuNodes are the device nodes a run with devices gets: each GPU's own
// and the driver's control nodes that exist, all under Config.DeviceDir.
func (e *Executor) gpuNodes(devices []gpu.Device) ([]devNode, error) {
	dir := e.cfg.deviceDir()
	var out []devNode
	for _, d := range devices {
		name := d.NodeName()
		if name == "" {
			return nil, fmt.Errorf("%w: GPU %s (%s) has no device node of its own: process sandboxes take whole GPUs, not MIG instances", ErrInvalidJob, d.UUID, d.Index)
		}
		n, err := charDevice(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("exec/process: GPU %s: %w; is the NVIDIA driver loaded (nvidia-modprobe makes the nodes)?", d.UUID, err)
		}
		out = append(out, n)
	}
	for _, name := range gpu.ControlNodes {
		if n, err := charDevice(filepath.Join(dir, name)); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// RunWithDevices is Run with GPUs: the devices (from an exec/gpu
// Allocation the caller holds for the run) are bound into the job's /dev
// with the driver's control nodes, read-write, and named in
// CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES; on cgroup v1 the
// devices controller lets the job open those nodes and the base ones, no
// other. A MIG instance is refused (ErrInvalidJob): it needs the
// capability nodes of /dev/nvidia-caps, which no process sandbox binds.
func (e *Executor) RunWithDevices(ctx context.Context, job exec.Job, devices []gpu.Device) (exec.Result, error) {
	if len(devices) == 0 {
		return e.Run(ctx, job)
	}
	nodes, err := e.gpuNodes(devices)
	if err != nil {
		return exec.Result{}, fmt.Errorf("job %s: %w", job.ID, err)
	}
	uuids := make([]string, len(devices))
	for i, d := range devices {
		uuids[i] = d.UUID
	}
	env := maps.Clone(job.Env)
	if env == nil {
		env = map[string]string{}
	}
	env["CUDA_VISIBLE_DEVICES"] = strings.Join(uuids, ",")
	env["NVIDIA_VISIBLE_DEVICES"] = env["CUDA_VISIBLE_DEVICES"]
	job.Env = env
	return e.runWith(ctx, job, nodes)
}
