package market

import (
	"fmt"
	"strings"

	"github.com/hayek-market/hayek/internal/units"
)

// Runtimes beyond wasm: a static Linux executable in the process sandbox,
// and a container image (by digest, or shipped as a `docker save`
// archive) in the docker sandbox.
const (
	RuntimeProcess Capability = "runtime/process"
	RuntimeDocker  Capability = "runtime/docker"
)

// Runtimes are the runtimes a job spec may name.
var Runtimes = []Capability{RuntimeWasm, RuntimeProcess, RuntimeDocker}

// KnownRuntime reports whether c is one of Runtimes.
func KnownRuntime(c Capability) bool {
	for _, r := range Runtimes {
		if r == c {
			return true
		}
	}
	return false
}

// Bounds of the native runtimes' resources. A wasm32 module addresses at
// most 4 GiB (MaxMemoryBytes); a native program or a container may have
// far more.
const (
	MaxNativeMemoryBytes = 1 << 40 // 1 TiB
	MinNativeMemoryBytes = 8 << 20 // a container needs 6 MiB to start, the sandbox's init some more
	MaxCPUMilli          = 1024 * 1000
	MaxGPUs              = 64
	MaxVRAMMiB           = 1 << 30 // a PiB per device: far beyond any
	GPUCapabilityPrefix  = "gpu/nvidia/"
)

// MemoryRange is the memory a job of runtime rt may ask for.
func MemoryRange(rt Capability) (lo, hi int64) {
	if rt == RuntimeProcess || rt == RuntimeDocker {
		return MinNativeMemoryBytes, MaxNativeMemoryBytes
	}
	return MinMemoryBytes, MaxMemoryBytes
}

// GPUs is what a job asks of GPUs: Count whole devices, of Model when set
// (a model key as offers name it, "a100" is served by "a100-sxm4-80gb"),
// each with at least MinVRAMMiB of memory.
type GPUs struct {
	Count      int    `cbor:"count" json:"count"`
	Model      string `cbor:"model,omitempty" json:"model,omitempty"`
	MinVRAMMiB int64  `cbor:"min_vram,omitempty" json:"min_vram_mib,omitempty"`
}

func (g GPUs) String() string {
	s := fmt.Sprintf("%d× %s", g.Count, orAnyModel(g.Model))
	if g.MinVRAMMiB > 0 {
		s += fmt.Sprintf(" ≥%s", units.FormatSize(g.MinVRAMMiB<<20))
	}
	return s
}

func orAnyModel(m string) string {
	if m == "" {
		return "GPU"
	}
	return m
}

func (g GPUs) validate(c *checker, prefix string) {
	if g.Count < 1 || g.Count > MaxGPUs {
		c.add(prefix+".count", g.Count, ErrRange, "must be between 1 and %d", MaxGPUs)
	}
	if g.Model != "" {
		if err := Capability(GPUCapabilityPrefix + g.Model).Validate(); err != nil || strings.Contains(g.Model, "/") {
			c.add(prefix+".model", g.Model, ErrInvalid, "want a model key such as \"h100\" or \"a100-sxm4-80gb\" (lower case, a-z 0-9 . _ -)")
		}
	}
	if g.MinVRAMMiB < 0 || g.MinVRAMMiB > MaxVRAMMiB {
		c.add(prefix+".min_vram", g.MinVRAMMiB, ErrRange, "must be between 0 and %d MiB", int64(MaxVRAMMiB))
	}
}

// ServesModel reports whether a device of model m serves a job asking for
// model want: the same model or a more precise one; "" takes any.
func ServesModel(m, want string) bool {
	return want == "" || m == want || strings.HasPrefix(m, want+"-")
}

// Resources are what a provider's machine has, as detected and narrowed
// by its operator: they tell requesters which jobs can fit before asking.
type Resources struct {
	CPUs        int          `cbor:"cpus" json:"cpus"`     // cores jobs may use
	MemoryBytes int64        `cbor:"memory" json:"memory"` // memory jobs may use, together
	Arch        string       `cbor:"arch" json:"arch"`     // GOARCH of native programs and images it runs: amd64, arm64
	GPUs        []GPUOffered `cbor:"gpus,omitempty" json:"gpus,omitempty"`
}

// GPUOffered is one model of GPU a provider sells, under the capability
// gpu/nvidia/<model>.
type GPUOffered struct {
	Model   string `cbor:"model" json:"model"`
	Count   int    `cbor:"count" json:"count"`
	VRAMMiB int64  `cbor:"vram" json:"vram_mib"` // of the smallest device of the model
}

// Capability is the key the model is sold under.
func (g GPUOffered) Capability() Capability { return Capability(GPUCapabilityPrefix + g.Model) }

func (r Resources) validate(c *checker, caps []Capability) {
	if r.CPUs < 1 || r.CPUs > MaxCPUMilli/1000 {
		c.add("resources.cpus", r.CPUs, ErrRange, "must be between 1 and %d", MaxCPUMilli/1000)
	}
	if r.MemoryBytes < MinMemoryBytes || r.MemoryBytes > MaxNativeMemoryBytes {
		c.add("resources.memory", r.MemoryBytes, ErrRange, "must be between 64KiB and 1TiB")
	}
	if len(r.Arch) == 0 || len(r.Arch) > 16 || strings.ToLower(r.Arch) != r.Arch || strings.ContainsAny(r.Arch, " /") {
		c.add("resources.arch", r.Arch, ErrInvalid, "want a GOARCH such as amd64 or arm64")
	}
	if len(r.GPUs) > 16 {
		c.add("resources.gpus", len(r.GPUs), ErrTooLarge, "at most 16 models")
	}
	sold := map[Capability]bool{}
	for _, k := range caps {
		sold[k] = true
	}
	seen := map[string]bool{}
	for i, g := range r.GPUs {
		f := fmt.Sprintf("resources.gpus[%d]", i)
		switch {
		case g.Model == "" || strings.Contains(g.Model, "/") || g.Capability().Validate() != nil:
			c.add(f+".model", g.Model, ErrInvalid, "want a model key such as \"h100\"")
		case seen[g.Model]:
			c.add(f+".model", g.Model, ErrInvalid, "listed twice")
		case !sold[g.Capability()]:
			c.add(f+".model", g.Model, ErrInvalid, "%s is not among the capabilities", g.Capability())
		}
		seen[g.Model] = true
		if g.Count < 1 || g.Count > MaxGPUs {
			c.add(f+".count", g.Count, ErrRange, "must be between 1 and %d", MaxGPUs)
		}
		if g.VRAMMiB < 0 || g.VRAMMiB > MaxVRAMMiB {
			c.add(f+".vram", g.VRAMMiB, ErrRange, "must be between 0 and %d MiB", int64(MaxVRAMMiB))
		}
	}
}

// fitsGPUs says why an offer's GPUs cannot serve a request, as a decline
// code, or "" when they can. It judges capacity, not what is free now:
// that is the provider's busy.
func fitsGPUs(r *Resources, want GPUs) (DeclineReason, string) {
	if r == nil || len(r.GPUs) == 0 {
		return DeclineNoGPU, "this provider sells no GPU"
	}
	model, vram := 0, 0
	for _, g := range r.GPUs {
		if ServesModel(g.Model, want.Model) {
			model += g.Count
			if g.VRAMMiB >= want.MinVRAMMiB {
				vram += g.Count
			}
		}
	}
	switch {
	case model < want.Count:
		return DeclineGPUModel, fmt.Sprintf("%d %s here, the job wants %d", model, orAnyModel(want.Model), want.Count)
	case vram < want.Count:
		return DeclineVRAM, fmt.Sprintf("%d %s with at least %d MiB here, the job wants %d", vram, orAnyModel(want.Model), want.MinVRAMMiB, want.Count)
	}
	return "", ""
}

// fitsResources says why a job with these needs can never run on an
// offer's machine, or "".
func (o Offer) fitsResources(n Needs) (DeclineReason, string) {
	if n.GPUs != nil {
		if r, d := fitsGPUs(o.Resources, *n.GPUs); r != "" {
			return r, d
		}
	}
	if o.Resources == nil {
		return "", "" // an offer from before resources: its limits say it all
	}
	switch r := o.Resources; {
	case n.CPUMilli > int64(r.CPUs)*1000:
		return DeclineTooLarge, fmt.Sprintf("%s CPUs > the %d here", FormatCPUs(n.CPUMilli), r.CPUs)
	case n.MemoryBytes > r.MemoryBytes:
		return DeclineTooLarge, fmt.Sprintf("memory %s > the %s here", units.FormatSize(n.MemoryBytes), units.FormatSize(r.MemoryBytes))
	}
	return "", ""
}

// FormatCPUs writes millicores as cores: 1500 is "1.5".
func FormatCPUs(milli int64) string {
	if milli < 0 {
		return fmt.Sprintf("%d millicores", milli)
	}
	if milli%1000 == 0 {
		return fmt.Sprint(milli / 1000)
	}
	return strings.TrimRight(fmt.Sprintf("%d.%03d", milli/1000, milli%1000), "0")
}
