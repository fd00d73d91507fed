package market

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
)

func TestOfferValidate(t *testing.T) {
	now := fzNow
	for _, c := range []struct {
		name string
		mut  func(*Offer)
		want map[string]error
	}{
		{"valid", func(*Offer) {}, nil},
		{"32 capabilities", func(o *Offer) {
			o.Capabilities = nil
			for i := range 32 {
				o.Capabilities = append(o.Capabilities, Capability(fmt.Sprintf("gpu/m%d", i)))
			}
		}, nil},
		{"version of 64 bytes", func(o *Offer) { o.Version = strings.Repeat("v", 64) }, nil},
		{"expires a millisecond from now", func(o *Offer) { o.Expires = now.UnixMilli() + 1 }, nil},
		{"withdrawn needs no capabilities, pricing or limits", func(o *Offer) {
			o.Withdrawn, o.Capabilities, o.Pricing, o.Limits = true, nil, Pricing{}, Limits{}
		}, nil},

		{"no provider", func(o *Offer) { o.Provider = "" }, map[string]error{"provider": ErrRequired}},
		{"no capabilities", func(o *Offer) { o.Capabilities = nil }, map[string]error{"capabilities": ErrRange}},
		{"33 capabilities", func(o *Offer) {
			for i := range 32 {
				o.Capabilities = append(o.Capabilities, Capability(fmt.Sprintf("gpu/m%d", i)))
			}
		}, map[string]error{"capabilities": ErrRange}},
		{"bad capability", func(o *Offer) { o.Capabilities = append(o.Capabilities, "GPU") },
			map[string]error{"capabilities[1]": ErrInvalid}},
		{"negative base", func(o *Offer) { o.Pricing.Base = -1 }, map[string]error{"pricing.base": ErrRange}},
		{"negative per second", func(o *Offer) { o.Pricing.PerSecond = -1 }, map[string]error{"pricing.per_second": ErrRange}},
		{"negative per GiB-second", func(o *Offer) { o.Pricing.PerGiBSecond = -1 },
			map[string]error{"pricing.per_gib_second": ErrRange}},
		{"free", func(o *Offer) { o.Pricing = Pricing{Surge: 1} }, map[string]error{"pricing.base": ErrRange}},
		{"negative surge", func(o *Offer) { o.Pricing.Surge = -0.1 }, map[string]error{"pricing.surge": ErrRange}},
		{"surge above 100", func(o *Offer) { o.Pricing.Surge = 100.5 }, map[string]error{"pricing.surge": ErrRange}},
		{"NaN surge", func(o *Offer) { o.Pricing.Surge = math.NaN() }, map[string]error{"pricing.surge": ErrRange}},
		{"infinite surge", func(o *Offer) { o.Pricing.Surge = math.Inf(1) }, map[string]error{"pricing.surge": ErrRange}},
		{"no memory", func(o *Offer) { o.Limits.MaxMemoryBytes = 0 }, map[string]error{"limits.max_memory": ErrRange}},
		{"no time", func(o *Offer) { o.Limits.MaxTimeoutMs = -1 }, map[string]error{"limits.max_timeout_ms": ErrRange}},
		{"no module", func(o *Offer) { o.Limits.MaxModuleBytes = 0 }, map[string]error{"limits.max_module": ErrRange}},
		{"no input", func(o *Offer) { o.Limits.MaxInputBytes = 0 }, map[string]error{"limits.max_input": ErrRange}},
		{"no output", func(o *Offer) { o.Limits.MaxOutputBytes = 0 }, map[string]error{"limits.max_output": ErrRange}},
		{"no slots", func(o *Offer) { o.Limits.Slots = 0 }, map[string]error{"limits.slots": ErrRange}},
		{"expires when created", func(o *Offer) { o.Created = o.Expires }, map[string]error{"expires": ErrRange}},
		{"expires now", func(o *Offer) { o.Expires = now.UnixMilli() }, map[string]error{"expires": ErrRange}},
		{"expired long ago", func(o *Offer) { o.Created, o.Expires = 0, 1 }, map[string]error{"expires": ErrRange}},
		{"version too long", func(o *Offer) { o.Version = strings.Repeat("v", 65) }, map[string]error{"version": ErrTooLarge}},
		{"resources", func(o *Offer) {
			o.Resources = &Resources{CPUs: 2, MemoryBytes: 1 << 30, Arch: "arm64"}
			withGPUs(o)
		}, nil},
		{"resources out of range", func(o *Offer) { o.Resources = &Resources{MemoryBytes: MaxNativeMemoryBytes + 1, Arch: "AMD 64"} },
			map[string]error{"resources.cpus": ErrRange, "resources.memory": ErrRange, "resources.arch": ErrInvalid}},
		{"gpus not sold", func(o *Offer) {
			o.Resources = &Resources{CPUs: 2, MemoryBytes: 1 << 30, Arch: "amd64", GPUs: []GPUOffered{{Model: "h100", Count: 1}}}
		}, map[string]error{"resources.gpus[0].model": ErrInvalid}},
		{"gpus out of range", func(o *Offer) {
			o.Resources = &Resources{CPUs: 2, MemoryBytes: 1 << 30, Arch: "amd64",
				GPUs: []GPUOffered{{Model: "h100", Count: 0, VRAMMiB: -1}, {Model: "h100", Count: 1}}}
			o.Capabilities = append(o.Capabilities, "gpu/nvidia/h100")
		}, map[string]error{"resources.gpus[0].count": ErrRange, "resources.gpus[0].vram": ErrRange, "resources.gpus[1].model": ErrInvalid}},
		{"withdrawn still expires", func(o *Offer) { o.Withdrawn, o.Expires = true, now.UnixMilli() },
			map[string]error{"expires": ErrRange}},
		{"withdrawn still names its provider", func(o *Offer) { o.Withdrawn, o.Provider = true, "" },
			map[string]error{"provider": ErrRequired}},
		{"several at once", func(o *Offer) {
			o.Provider, o.Pricing.Surge, o.Limits.Slots, o.Version = "", math.NaN(), 0, strings.Repeat("v", 65)
		}, map[string]error{"provider": ErrRequired, "pricing.surge": ErrRange, "limits.slots": ErrRange, "version": ErrTooLarge}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := fzOffer("p1", 100)
			c.mut(&o)
			err := o.Validate(now)
			checkReported(t, err, c.want)
			if err != nil && !strings.HasPrefix(err.Error(), "market: invalid offer: ") {
				t.Errorf("message %q", err)
			}
		})
	}
}

// withGPUs sells two a100s of 80 GiB and one l4 of 24 GiB.
func withGPUs(o *Offer) {
	o.Resources.GPUs = []GPUOffered{{Model: "a100-sxm4-80gb", Count: 2, VRAMMiB: 80 << 10}, {Model: "l4", Count: 1, VRAMMiB: 24 << 10}}
	for _, g := range o.Resources.GPUs {
		o.Capabilities = append(o.Capabilities, g.Capability())
	}
}

func TestOfferFits(t *testing.T) {
	spec := goodJobSpec()
	spec.TimeoutMs = 2000
	base := spec.Needs()
	base.MaxPrice = 1000
	for _, c := range []struct {
		name  string
		offer func(*Offer)
		needs func(*Needs)
		want  DeclineReason
	}{
		{"fits", nil, nil, ""},
		{"fits at every limit", func(o *Offer) {
			o.Limits = Limits{MaxMemoryBytes: base.MemoryBytes, MaxTimeoutMs: base.TimeoutMs, MaxModuleBytes: base.ModuleBytes,
				MaxInputBytes: base.InputBytes, MaxOutputBytes: 1, Slots: 1}
		}, func(n *Needs) { n.MaxPrice = 120 }, ""},
		{"withdrawn", func(o *Offer) { o.Withdrawn = true }, nil, DeclineWithdrawn},
		{"withdrawn before anything else", func(o *Offer) { o.Withdrawn, o.Capabilities = true, nil }, nil, DeclineWithdrawn},
		{"runtime missing", func(o *Offer) { o.Capabilities = []Capability{"gpu/nvidia/h100"} }, nil, DeclineRuntime},
		{"process missing", nil, func(n *Needs) { n.Capabilities[0] = RuntimeProcess }, DeclineRuntime},
		{"an unknown primary capability", nil, func(n *Needs) { n.Capabilities[0] = "runtime/jvm" }, DeclineCapability},
		{"no gpu", nil, func(n *Needs) { n.GPUs = &GPUs{Count: 1} }, DeclineNoGPU},
		{"no gpu in an offer without resources", func(o *Offer) { o.Resources = nil }, func(n *Needs) { n.GPUs = &GPUs{Count: 1} }, DeclineNoGPU},
		{"gpu", withGPUs, func(n *Needs) { n.GPUs = &GPUs{Count: 2} }, ""},
		{"gpu of a model", withGPUs, func(n *Needs) { n.GPUs = &GPUs{Count: 2, Model: "a100"} }, ""},
		{"gpus of two models", withGPUs, func(n *Needs) { n.GPUs = &GPUs{Count: 3} }, ""},
		{"gpu model", withGPUs, func(n *Needs) { n.GPUs = &GPUs{Count: 1, Model: "h100"} }, DeclineGPUModel},
		{"too few of the model", withGPUs, func(n *Needs) { n.GPUs = &GPUs{Count: 3, Model: "a100"} }, DeclineGPUModel},
		{"a prefix is not a model", withGPUs, func(n *Needs) { n.GPUs = &GPUs{Count: 1, Model: "a10"} }, DeclineGPUModel},
		{"vram", withGPUs, func(n *Needs) { n.GPUs = &GPUs{Count: 3, MinVRAMMiB: 40 << 10} }, DeclineVRAM},
		{"vram of one", withGPUs, func(n *Needs) { n.GPUs = &GPUs{Count: 1, MinVRAMMiB: 40 << 10} }, ""},
		{"cpus", nil, func(n *Needs) { n.CPUMilli = 8000 }, ""},
		{"cpus beyond the machine", nil, func(n *Needs) { n.CPUMilli = 8001 }, DeclineTooLarge},
		{"cpus of an offer without resources", func(o *Offer) { o.Resources = nil }, func(n *Needs) { n.CPUMilli = 64000 }, ""},
		{"memory beyond the machine", func(o *Offer) { o.Resources.MemoryBytes = 1 << 20 }, nil, DeclineTooLarge},
		{"extra capability missing", nil, func(n *Needs) { n.Capabilities = append(n.Capabilities, "gpu/nvidia/h100") }, DeclineCapability},
		{"memory", nil, func(n *Needs) { n.MemoryBytes = 1<<30 + 1 }, DeclineTooLarge},
		{"timeout", nil, func(n *Needs) { n.TimeoutMs = 60_001 }, DeclineTooLarge},
		{"module", nil, func(n *Needs) { n.ModuleBytes = 64<<20 + 1 }, DeclineTooLarge},
		{"inputs", nil, func(n *Needs) { n.InputBytes = 64<<20 + 1 }, DeclineTooLarge},
		{"price floor", nil, func(n *Needs) { n.MaxPrice = 119 }, DeclinePrice}, // quote 100 + 10 × 2s
		{"price at the floor", nil, func(n *Needs) { n.MaxPrice = 120 }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, n := fzOffer("p1", 100), base
			o.Resources = &Resources{CPUs: 8, MemoryBytes: 16 << 30, Arch: "amd64"}
			n.Capabilities = append([]Capability(nil), base.Capabilities...)
			if c.offer != nil {
				c.offer(&o)
			}
			if c.needs != nil {
				c.needs(&n)
			}
			got, detail := o.Fits(n)
			if got != c.want || (got == "") != (detail == "") {
				t.Fatalf("Fits = %q (%s), want %q", got, detail, c.want)
			}
		})
	}
}

func TestCapabilityValidate(t *testing.T) {
	for _, c := range []Capability{
		RuntimeWasm, "gpu/nvidia/h100", "a/b/c/d/e/f", "x/" + Capability(strings.Repeat("a", 126)), "cpu/x86_64.v3-avx512",
		"0/9", "runtime/..",
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%q: %v", c, err)
		}
	}
	for _, c := range []Capability{
		"", "wasm", "a/b/c/d/e/f/g", "runtime//wasm", "/runtime/wasm", "runtime/wasm/", "Runtime/wasm", "runtime/wäsm",
		"runtime/wa sm", "runtime/wasm\x00", "x/" + Capability(strings.Repeat("a", 127)), "runtime/\xff", "gpu:nvidia/h100",
	} {
		err := c.Validate()
		if err == nil {
			t.Errorf("%q accepted", c)
		} else if !strings.HasPrefix(err.Error(), "market: ") {
			t.Errorf("%q: message %q", c, err)
		}
	}
	c := Capability("runtime/wasm")
	if c.CID() != canon.BlobCID([]byte("hayek/v1/runtime/wasm")) || canon.CheckBlobCID(c.CID()) != nil {
		t.Errorf("CID %s", c.CID())
	}
	if c.CID() == Capability("runtime/wasi").CID() {
		t.Error("distinct capabilities share a DHT key")
	}
	if c.Topic() != "/hayek/auction/1/runtime/wasm" {
		t.Errorf("topic %s", c.Topic())
	}
}

func TestFresh(t *testing.T) {
	const w = 30 * time.Second
	now := fzNow
	for _, c := range []struct {
		name    string
		created int64
		window  time.Duration
		ok      bool
	}{
		{"now", now.UnixMilli(), w, true},
		{"window ago", now.Add(-w).UnixMilli(), w, true},
		{"just older", now.Add(-w - time.Millisecond).UnixMilli(), w, false},
		{"window ahead", now.Add(w).UnixMilli(), w, true},
		{"just further ahead", now.Add(w + time.Millisecond).UnixMilli(), w, false},
		{"zero window, now", now.UnixMilli(), 0, true},
		{"zero window, a millisecond off", now.UnixMilli() - 1, 0, false},
		{"epoch", 0, w, false},
		{"far past", math.MinInt64, w, false},
		{"far future", math.MaxInt64, w, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Fresh(c.created, now, c.window)
			if (err == nil) != c.ok {
				t.Fatalf("Fresh = %v, want ok=%v", err, c.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "market: ") {
				t.Fatalf("message %q", err)
			}
		})
	}
}
