package gpu

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Device is one GPU a job can be given whole: a physical GPU, or a MIG
// instance of one (a hardware partition with its own memory and compute).
type Device struct {
	Index     string // nvidia-smi's index: "0", or "0/1" for MIG device 1 of GPU 0
	UUID      string // GPU-… or MIG-…: what CUDA_VISIBLE_DEVICES and the container runtime take
	Name      string // as the driver names it: "NVIDIA A100-SXM4-80GB"
	Model     string // normalised for capability keys: "a100-sxm4-80gb", "a100-sxm4-40gb-mig-3g.20gb"
	MemoryMiB int64  // its memory; 0 when the driver does not say
	Driver    string // driver version
	MIG       bool   // a MIG instance rather than a whole GPU
	Minor     string // its device node's minor number, as the driver says (/dev/nvidia<Minor>); "" when unknown
}

// Capability is the market capability a device is sold under:
// gpu/nvidia/<model>.
func (d Device) Capability() string { return "gpu/nvidia/" + d.Model }

// ErrNoDriver is returned by Detect when nvidia-smi is missing or cannot
// talk to a driver: the machine sells no GPU, and says why.
var ErrNoDriver = errors.New("exec/gpu: no NVIDIA driver")

// QueryArgs are the arguments of the nvidia-smi query Detect parses.
var QueryArgs = []string{"--query-gpu=index,uuid,name,memory.total,driver_version", "--format=csv,noheader,nounits"}

// Runner runs a command and returns its standard output; tests replay
// recorded outputs through it.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// ExecRunner runs the command on this machine.
func ExecRunner(ctx context.Context, name string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, name, args...).Output()
}

// Detect lists this machine's NVIDIA devices with nvidia-smi: every GPU,
// except that a GPU partitioned with MIG is listed as its MIG instances
// (each given whole to a job). No driver is ErrNoDriver, with the reason.
func Detect(ctx context.Context, run Runner) ([]Device, error) {
	out, err := run(ctx, "nvidia-smi", QueryArgs...)
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("%w: nvidia-smi is not installed (%v)", ErrNoDriver, err)
		}
		return nil, fmt.Errorf("%w: nvidia-smi failed: %v: %s", ErrNoDriver, err, firstLine(out))
	}
	gpus, err := ParseQuery(out)
	if err != nil {
		return nil, err
	}
	if len(gpus) == 0 {
		return nil, nil
	}
	gpus = ApplyMinors(gpus, ReadMinors(os.DirFS(DriverInfoDir)))
	list, err := run(ctx, "nvidia-smi", "-L")
	if err != nil {
		return gpus, nil // no MIG listing: the whole GPUs are what there is
	}
	return ApplyMIG(gpus, ParseList(list)), nil
}

// ParseQuery parses the output of nvidia-smi with QueryArgs. A line that is
// not a device (a driver's complaint) is an error naming it; a memory the
// driver reports as [N/A] is 0.
func ParseQuery(out []byte) ([]Device, error) {
	var devs []Device
	sc := bufio.NewScanner(bytes.NewReader(out))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 5 {
			return nil, fmt.Errorf("%w: nvidia-smi said %q (line %d), not a device", ErrNoDriver, line, n)
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		if _, err := strconv.Atoi(f[0]); err != nil || !strings.HasPrefix(f[1], "GPU-") || f[2] == "" {
			return nil, fmt.Errorf("exec/gpu: nvidia-smi line %d %q: want index, GPU-uuid, name, memory MiB, driver", n, line)
		}
		mem, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil || mem < 0 {
			mem = 0 // [N/A], [Not Supported]
		}
		devs = append(devs, Device{Index: f[0], UUID: f[1], Name: f[2], Model: ModelKey(f[2]), MemoryMiB: mem, Driver: f[4]})
	}
	return devs, sc.Err()
}

// MIGInstance is one MIG device from nvidia-smi -L.
type MIGInstance struct {
	GPU     string // the parent's UUID
	Device  string // its index within the parent
	Profile string // "3g.20gb"
	UUID    string // MIG-…
}

var (
	listGPU = regexp.MustCompile(`^GPU (\d+): (.+) \(UUID: (GPU-[0-9a-fA-F-]+)\)$`)
	listMIG = regexp.MustCompile(`^MIG (\S+)\s+Device\s+(\d+): \(UUID: (MIG-[0-9a-fA-F-]+)\)$`)
)

// ParseList parses nvidia-smi -L for the MIG instances under each GPU.
func ParseList(out []byte) []MIGInstance {
	var (
		migs   []MIGInstance
		parent string
	)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := listGPU.FindStringSubmatch(line); m != nil {
			parent = m[3]
			continue
		}
		if m := listMIG.FindStringSubmatch(line); m != nil && parent != "" {
			migs = append(migs, MIGInstance{GPU: parent, Device: m[2], Profile: m[1], UUID: m[3]})
		}
	}
	return migs
}

// ApplyMIG replaces every GPU that has MIG instances by those instances.
func ApplyMIG(gpus []Device, migs []MIGInstance) []Device {
	byGPU := map[string][]MIGInstance{}
	for _, m := range migs {
		byGPU[m.GPU] = append(byGPU[m.GPU], m)
	}
	var out []Device
	for _, g := range gpus {
		ms := byGPU[g.UUID]
		if len(ms) == 0 {
			out = append(out, g)
			continue
		}
		for _, m := range ms {
			out = append(out, Device{Index: g.Index + "/" + m.Device, UUID: m.UUID, Name: g.Name + " MIG " + m.Profile,
				Model: g.Model + "-mig-" + ModelKey(m.Profile), MemoryMiB: profileMiB(m.Profile), Driver: g.Driver, MIG: true})
		}
	}
	return out
}

// profileMiB reads a MIG profile's memory: "3g.20gb" has 20 GiB.
func profileMiB(p string) int64 {
	_, mem, ok := strings.Cut(p, ".")
	if !ok {
		return 0
	}
	gb, err := strconv.ParseInt(strings.TrimSuffix(mem, "gb"), 10, 64)
	if err != nil {
		return 0
	}
	return gb << 10
}

// ModelKey normalises a device name into a capability segment: lower case,
// "NVIDIA " and "Tesla " dropped, runs of other characters as one '-'.
// "NVIDIA GeForce RTX 4090" is "geforce-rtx-4090".
func ModelKey(name string) string {
	s := strings.ToLower(strings.TrimSpace(name))
	for _, p := range []string{"nvidia ", "tesla "} {
		s = strings.TrimPrefix(s, p)
	}
	var b strings.Builder
	dash := false
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// Matches reports whether a device of model m serves a job that asks for
// model want: the same model, or a more precise one ("a100" is served by
// "a100-sxm4-80gb"). An empty want takes any model.
func Matches(m, want string) bool {
	want = ModelKey(want)
	return want == "" || m == want || strings.HasPrefix(m, want+"-")
}

// Summary groups devices by model for an offer: the count and the memory
// of the smallest of each model.
type Summary struct {
	Model     string
	Count     int
	MemoryMiB int64
}

// Summarise groups devs by model, sorted by model.
func Summarise(devs []Device) []Summary {
	by := map[string]*Summary{}
	for _, d := range devs {
		s := by[d.Model]
		if s == nil {
			s = &Summary{Model: d.Model, MemoryMiB: d.MemoryMiB}
			by[d.Model] = s
		}
		s.Count++
		s.MemoryMiB = min(s.MemoryMiB, d.MemoryMiB)
	}
	out := make([]Summary, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return line
}
