package gpu

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Request is what a job asks for: a number of whole devices, optionally of
// a model and with at least some memory each.
type Request struct {
	Count     int
	Model     string // "" for any
	MinMemMiB int64
}

// Validate checks a request's fields.
func (r Request) Validate() error {
	switch {
	case r.Count < 1 || r.Count > 64:
		return fmt.Errorf("exec/gpu: gpus %d: want 1 to 64", r.Count)
	case r.MinMemMiB < 0:
		return fmt.Errorf("exec/gpu: min_vram %d MiB: want ≥ 0", r.MinMemMiB)
	}
	return nil
}

// Errors of Acquire: the job can never run here (ErrUnfit), or not now
// (ErrBusy).
var (
	ErrUnfit = errors.New("exec/gpu: no fit")
	ErrBusy  = errors.New("exec/gpu: busy")
)

// Allocator hands whole devices to jobs: a device is held by at most one
// job at a time, and goes back when the job's Allocation is released. It is
// safe for concurrent use.
type Allocator struct {
	mu   sync.Mutex
	devs []Device
	held map[string]string // device UUID → job holding it
}

// NewAllocator manages devs.
func NewAllocator(devs []Device) *Allocator {
	return &Allocator{devs: append([]Device(nil), devs...), held: map[string]string{}}
}

// Devices lists the devices managed.
func (a *Allocator) Devices() []Device { return append([]Device(nil), a.devs...) }

// Fits reports whether a request could ever be served here, and why not:
// the reason names what is missing (no_gpu, gpu_model, vram), as a decline
// would.
func (a *Allocator) Fits(r Request) (reason, detail string) {
	if len(a.devs) == 0 {
		return "no_gpu", "this provider has no GPU"
	}
	model, mem := 0, 0
	for _, d := range a.devs {
		if Matches(d.Model, r.Model) {
			model++
			if d.MemoryMiB >= r.MinMemMiB {
				mem++
			}
		}
	}
	switch {
	case model < r.Count:
		return "gpu_model", fmt.Sprintf("%d %s GPU(s) here, the job wants %d", model, orAny(r.Model), r.Count)
	case mem < r.Count:
		return "vram", fmt.Sprintf("%d %s GPU(s) with at least %d MiB here, the job wants %d", mem, orAny(r.Model), r.MinMemMiB, r.Count)
	}
	return "", ""
}

func orAny(m string) string {
	if m == "" {
		return "NVIDIA"
	}
	return m
}

// Free is how many devices no job holds.
func (a *Allocator) Free() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.devs) - len(a.held)
}

// Acquire gives job the devices it asks for, smallest fitting first, or
// fails with ErrUnfit (never here) or ErrBusy (held by other jobs now).
func (a *Allocator) Acquire(job string, r Request) (*Allocation, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if reason, detail := a.Fits(r); reason != "" {
		return nil, fmt.Errorf("%w: %s: %s", ErrUnfit, reason, detail)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var pick []Device
	for _, d := range a.byMemory() {
		if _, busy := a.held[d.UUID]; busy || !Matches(d.Model, r.Model) || d.MemoryMiB < r.MinMemMiB {
			continue
		}
		pick = append(pick, d)
		if len(pick) == r.Count {
			break
		}
	}
	if len(pick) < r.Count {
		return nil, fmt.Errorf("%w: %d of the %d GPU(s) the job needs are free", ErrBusy, len(pick), r.Count)
	}
	for _, d := range pick {
		a.held[d.UUID] = job
	}
	return &Allocation{a: a, job: job, Devices: pick}, nil
}

// byMemory is the devices, least memory first, so that big devices stay
// free for the jobs that need them.
func (a *Allocator) byMemory() []Device {
	out := append([]Device(nil), a.devs...)
	for i := 1; i < len(out); i++ {
		for k := i; k > 0 && out[k].MemoryMiB < out[k-1].MemoryMiB; k-- {
			out[k], out[k-1] = out[k-1], out[k]
		}
	}
	return out
}

// Allocation is the devices one job holds.
type Allocation struct {
	a       *Allocator
	job     string
	once    sync.Once
	Devices []Device
}

// Release gives the devices back; it is safe to call more than once, and
// on every exit path of a run.
func (al *Allocation) Release() {
	al.once.Do(func() {
		al.a.mu.Lock()
		defer al.a.mu.Unlock()
		for _, d := range al.Devices {
			if al.a.held[d.UUID] == al.job {
				delete(al.a.held, d.UUID)
			}
		}
	})
}

// UUIDs lists the allocated devices' UUIDs.
func (al *Allocation) UUIDs() []string {
	out := make([]string, len(al.Devices))
	for i, d := range al.Devices {
		out[i] = d.UUID
	}
	return out
}

// Env is the environment a process needs to see exactly its devices:
// CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES name them by UUID.
func (al *Allocation) Env() map[string]string {
	ids := strings.Join(al.UUIDs(), ",")
	return map[string]string{"CUDA_VISIBLE_DEVICES": ids, "NVIDIA_VISIBLE_DEVICES": ids}
}
