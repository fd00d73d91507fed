package market

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/units"
)

// Blob names content by CID with its size in bytes.
type Blob struct {
	CID  string `cbor:"cid" json:"cid"`
	Size int64  `cbor:"size" json:"size"`
}

// Input is a named file mounted read-only at /in/<name>.
type Input struct {
	Name string `cbor:"name" json:"name"`
	Blob
}

// Bounds of a job spec that hold on every node; a provider's offer limits
// narrow them further.
const (
	MaxModuleBytes   = 256 << 20
	MaxInputs        = 64
	MaxInputBytes    = 1 << 30
	MaxArgs          = 256
	MaxArgBytes      = 4096
	MaxEnv           = 256
	MaxArgEnvBytes   = 64 << 10 // so an award always fits its frame
	MinMemoryBytes   = 64 << 10 // one wasm page
	MaxMemoryBytes   = 4 << 30  // wasm32 address space
	MaxTimeout       = 24 * time.Hour
	MaxDeadline      = 7 * 24 * time.Hour
	DefaultMemory    = 64 << 20
	DefaultTimeout   = 10 * time.Second
	DefaultMaxOutput = 64 << 20
)

// Bounds on money and time that keep every amount the market computes in
// an int64; each is derived from the ones it depends on.
const (
	// MaxJobRuns is the most runs any job's hold must cover: replicate at
	// MaxReplicas plus the extra replicas verification may add (see
	// Verification.MaxRuns).
	MaxJobRuns = MaxReplicas + max(2, MaxReplicas/2)
	// MaxPriceCap is the largest max price a job may have: the most its
	// hold can be, max price × MaxJobRuns, still fits in an int64.
	MaxPriceCap = math.MaxInt64 / MaxJobRuns
	// MaxStartWithin is the longest committed start a bid may name.
	MaxStartWithin = time.Hour
	// MaxValueOfTime is the largest value of time (money per second of
	// committed start): value of time × MaxStartWithin in milliseconds
	// fits in an int64, and so does a score (at most MaxPriceCap + the
	// start cost of an hour).
	MaxValueOfTime = math.MaxInt64 / int64(MaxStartWithin/time.Millisecond)
)

// JobSpec is what an agent asks for: a module, its inputs, resources and the
// most it will pay. Blobs are named by CID and already stored on the
// requester node when the spec is validated.
type JobSpec struct {
	Runtime        Capability        `cbor:"runtime"`
	Capabilities   []Capability      `cbor:"caps"` // required beyond the runtime
	Module         Blob              `cbor:"module"`
	Stdin          *Blob             `cbor:"stdin"`
	Inputs         []Input           `cbor:"inputs"`
	Args           []string          `cbor:"args"`
	Env            map[string]string `cbor:"env"`
	MemoryBytes    int64             `cbor:"memory"`
	TimeoutMs      int64             `cbor:"timeout_ms"`
	MaxOutputBytes int64             `cbor:"max_output"`
	MaxPrice       int64             `cbor:"max_price"`
	DeadlineMs     int64             `cbor:"deadline_ms"`   // whole job, from submission, retries included
	ValueOfTime    int64             `cbor:"value_of_time"` // money per second of committed start
	MinReputation  float64           `cbor:"min_reputation"`
	Verify         string            `cbor:"verify"`
	// CPUMilli is the CPU the job needs, in thousandths of a core; 0
	// asks for no particular share. GPUs, when set, are whole devices
	// (process and docker runtimes only). Both are left out of the
	// encoding when unset, so a spec that asks for neither encodes (and
	// digests) exactly as before they existed.
	CPUMilli int64 `cbor:"cpus,omitempty"`
	GPUs     *GPUs `cbor:"gpus,omitempty"`
	// Image names a docker job's image by digest instead of shipping it:
	// the module is then the reference's own text, so providers fetch
	// and check it like any module, and the call can name it for
	// providers to decline an image they do not allow.
	Image string `cbor:"image,omitempty"`
}

// Defaults fills unset optional fields.
func (s *JobSpec) Defaults() {
	if s.Runtime == "" {
		s.Runtime = RuntimeWasm
	}
	if s.MemoryBytes == 0 {
		s.MemoryBytes = DefaultMemory
	}
	if s.TimeoutMs == 0 {
		s.TimeoutMs = DefaultTimeout.Milliseconds()
	}
	if s.MaxOutputBytes == 0 {
		s.MaxOutputBytes = DefaultMaxOutput
	}
	if s.DeadlineMs == 0 {
		// Room for three attempts of the full timeout plus transfers. An
		// absurd timeout saturates here and is refused by Validate.
		d, ok := mul64(3, s.TimeoutMs)
		if d, ok = add64(d, 30_000); !ok || d <= 0 {
			d = math.MaxInt64
		}
		s.DeadlineMs = d
	}
	if s.Verify == "" {
		s.Verify = "none"
	}
}

// Validate checks every field and reports all problems at once.
func (s *JobSpec) Validate() error {
	c := &checker{what: "job spec"}
	if !KnownRuntime(s.Runtime) {
		c.add("runtime", s.Runtime, ErrInvalid, "want %s, %s or %s", RuntimeWasm, RuntimeProcess, RuntimeDocker)
	}
	if len(s.Capabilities) > 8 {
		c.add("capabilities", len(s.Capabilities), ErrTooLarge, "at most 8")
	}
	for i, k := range s.Capabilities {
		if err := k.Validate(); err != nil {
			c.add(fmt.Sprintf("capabilities[%d]", i), k, ErrInvalid, "%w", err)
		}
	}
	checkBlob(c, "module", s.Module, MaxModuleBytes, true)
	if s.Image != "" {
		checkImage(c, "image", s.Runtime, s.Image)
		if b := canon.BlobCID([]byte(s.Image)).String(); s.Module.CID != b || s.Module.Size != int64(len(s.Image)) {
			c.add("image", s.Image, ErrInvalid, "the module must be the reference's text (%s, %d bytes)", b, len(s.Image))
		}
	}
	if s.Stdin != nil {
		checkBlob(c, "stdin", *s.Stdin, MaxInputBytes, true)
	}
	if len(s.Inputs) > MaxInputs {
		c.add("inputs", len(s.Inputs), ErrTooLarge, "at most %d inputs", MaxInputs)
	}
	seen := map[string]bool{}
	for i, in := range s.Inputs {
		f := fmt.Sprintf("inputs[%d]", i)
		if err := checkFileName(in.Name); err != nil {
			c.add(f+".name", in.Name, ErrInvalid, "%w", err)
		} else if seen[in.Name] {
			c.add(f+".name", in.Name, ErrInvalid, "duplicate input name")
		}
		seen[in.Name] = true
		checkBlob(c, f, in.Blob, MaxInputBytes, true)
	}
	if s.InputBytes() > MaxInputBytes {
		c.add("inputs", s.InputBytes(), ErrTooLarge, "inputs and stdin total more than %d bytes", MaxInputBytes)
	}
	if len(s.Args) > MaxArgs {
		c.add("args", len(s.Args), ErrTooLarge, "at most %d arguments", MaxArgs)
	}
	for i, a := range s.Args {
		if len(a) > MaxArgBytes || !utf8.ValidString(a) || strings.IndexByte(a, 0) >= 0 {
			c.add(fmt.Sprintf("args[%d]", i), nil, ErrInvalid, "must be valid UTF-8 without NUL, at most %d bytes", MaxArgBytes)
		}
	}
	if n := s.argEnvBytes(); n > MaxArgEnvBytes {
		c.add("args", n, ErrTooLarge, "arguments and environment total %d bytes, more than %d", n, MaxArgEnvBytes)
	}
	if len(s.Env) > MaxEnv {
		c.add("env", len(s.Env), ErrTooLarge, "at most %d variables", MaxEnv)
	}
	for k, v := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || !utf8.ValidString(k) || len(k) > 256 {
			c.add("env", k, ErrInvalid, "names must be non-empty UTF-8 without '=' or NUL")
		}
		if strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) || len(v) > MaxArgBytes {
			c.add("env."+k, nil, ErrInvalid, "values must be valid UTF-8 without NUL, at most %d bytes", MaxArgBytes)
		}
	}
	checkResources(c, "", s.Runtime, s.MemoryBytes, s.CPUMilli, s.GPUs)
	if s.TimeoutMs < 1 || s.TimeoutMs > MaxTimeout.Milliseconds() {
		c.add("timeout", time.Duration(s.TimeoutMs)*time.Millisecond, ErrRange, "must be between 1ms and 24h")
	}
	if s.MaxOutputBytes < 1 || s.MaxOutputBytes > MaxInputBytes {
		c.add("max_output", s.MaxOutputBytes, ErrRange, "must be between 1 byte and 1GiB")
	}
	if s.MaxPrice <= 0 {
		c.add("max_price", s.MaxPrice, ErrRange, "must be > 0 (the most you will pay for the job, in the smallest unit)")
	} else if s.MaxPrice > MaxPriceCap {
		c.add("max_price", s.MaxPrice, ErrRange, "must be at most %d, so that max_price × %d runs (the most a job may need) fits",
			int64(MaxPriceCap), MaxJobRuns)
	}
	if s.DeadlineMs < s.TimeoutMs || s.DeadlineMs > MaxDeadline.Milliseconds() {
		c.add("deadline", time.Duration(s.DeadlineMs)*time.Millisecond, ErrRange, "must be at least the timeout and at most 7 days")
	}
	if s.ValueOfTime < 0 || s.ValueOfTime > MaxValueOfTime {
		c.add("value_of_time", s.ValueOfTime, ErrRange, "must be between 0 and %d", int64(MaxValueOfTime))
	}
	if s.MinReputation < 0 || s.MinReputation > 1 || math.IsNaN(s.MinReputation) {
		c.add("min_reputation", s.MinReputation, ErrRange, "must be between 0 and 1")
	}
	if _, err := ParseVerify(s.Verify); err != nil {
		c.add("verify", s.Verify, ErrInvalid, "want none, adaptive, replicate:K (2 ≤ K ≤ %d) or sample:P (0 < P ≤ 1)", MaxReplicas)
	}
	return c.err()
}

// MaxCost is the most the job can cost: max price × the runs its
// verification may need (Verification.MaxRuns), the amount to hold before
// any auction. It checks what it multiplies, so it never wraps: a spec it
// refuses gets the same field errors as Validate (max_price naming the
// largest allowed value, or verify), wrapping ErrRange or ErrInvalid.
// Every spec that passes Validate has a MaxCost.
func (s *JobSpec) MaxCost() (int64, error) {
	c := &checker{what: "job spec"}
	v, err := ParseVerify(s.Verify)
	if err != nil {
		c.add("verify", s.Verify, ErrInvalid, "%w", err)
		return 0, c.err()
	}
	runs := int64(v.MaxRuns())
	switch cost, ok := mul64(s.MaxPrice, runs); {
	case s.MaxPrice <= 0:
		c.add("max_price", s.MaxPrice, ErrRange, "must be > 0 (the most you will pay for the job, in the smallest unit)")
	case !ok:
		c.add("max_price", s.MaxPrice, ErrRange, "%w", quietly(ErrOverflow,
			"must be at most %d: max_price × %d runs (what %s may need) does not fit in an int64", int64(MaxPriceCap), runs, v))
	case s.MaxPrice > MaxPriceCap:
		c.add("max_price", s.MaxPrice, ErrRange, "must be at most %d, so that max_price × %d runs (the most a job may need) fits",
			int64(MaxPriceCap), MaxJobRuns)
	default:
		return cost, nil
	}
	return 0, c.err()
}

func checkBlob(c *checker, field string, b Blob, max int64, required bool) {
	if b.Size < 0 || b.Size > max {
		c.add(field+".size", b.Size, ErrRange, "must be between 0 and %d bytes", max)
	}
	if b.CID == "" {
		if required {
			c.add(field+".cid", nil, ErrRequired, "")
		}
		return
	}
	if _, err := canon.ParseBlobCID(b.CID); err != nil {
		c.add(field+".cid", b.CID, ErrInvalid, "%w", err)
	}
}

func checkFileName(n string) error {
	switch {
	case n == "":
		return fmt.Errorf("empty")
	case len(n) > 255:
		return fmt.Errorf("longer than 255 bytes")
	case n == "." || n == "..":
		return fmt.Errorf("%q is not a file name", n)
	case strings.ContainsAny(n, "/\\\x00"):
		return fmt.Errorf("must not contain '/', '\\' or NUL")
	case !utf8.ValidString(n):
		return fmt.Errorf("not valid UTF-8")
	}
	return nil
}

func (s *JobSpec) argEnvBytes() int {
	n := 0
	for _, a := range s.Args {
		n += len(a) + 1
	}
	for k, v := range s.Env {
		n += len(k) + len(v) + 2
	}
	return n
}

// InputBytes is the total size of inputs and stdin, saturating at the
// largest int64 (so an absurd spec's total is still refused).
func (s *JobSpec) InputBytes() int64 {
	var n int64
	if s.Stdin != nil {
		n = addSizes(n, s.Stdin.Size)
	}
	for _, in := range s.Inputs {
		n = addSizes(n, in.Size)
	}
	return n
}

// AllCapabilities is the runtime followed by the other required
// capabilities; the first is the primary one whose topic the auction uses.
func (s *JobSpec) AllCapabilities() []Capability {
	return append([]Capability{s.Runtime}, s.Capabilities...)
}

// Needs is what a call for bids tells providers about the job.
func (s *JobSpec) Needs() Needs {
	return Needs{
		Capabilities: s.AllCapabilities(),
		MemoryBytes:  s.MemoryBytes,
		TimeoutMs:    s.TimeoutMs,
		Module:       s.Module.CID,
		ModuleBytes:  s.Module.Size,
		InputBytes:   s.InputBytes(),
		MaxPrice:     s.MaxPrice,
		ValueOfTime:  s.ValueOfTime,
		CPUMilli:     s.CPUMilli,
		GPUs:         s.GPUs,
		Image:        s.Image,
	}
}

// ImageRef matches an image named by digest: "sha256:<64 hex>" (an image
// ID) or "name@sha256:<64 hex>" (a repository digest). Tags are refused:
// they can be moved to another image.
var ImageRef = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._/:-]{1,2}[a-z0-9]+)*@)?sha256:[0-9a-f]{64}$`)

func checkImage(c *checker, field string, rt Capability, image string) {
	if rt != RuntimeDocker {
		c.add(field, image, ErrInvalid, "only a %s job names an image", RuntimeDocker)
	}
	if len(image) > 512 || !ImageRef.MatchString(image) {
		c.add(field, image, ErrInvalid, "want an image by digest: name@sha256:<64 hex> or sha256:<64 hex> (tags move)")
	}
}

// checkResources checks memory, CPUs and GPUs against the runtime's
// bounds. An unknown runtime gets wasm's bounds (and is reported on its
// own).
func checkResources(c *checker, prefix string, rt Capability, memory, cpuMilli int64, gpus *GPUs) {
	lo, hi := MemoryRange(rt)
	if memory < lo || memory > hi {
		c.add(prefix+"memory", memory, ErrRange, "must be between %s and %s for %s", units.FormatSize(lo), units.FormatSize(hi), rt)
	}
	native := rt == RuntimeProcess || rt == RuntimeDocker
	maxCPU := int64(MaxCPUMilli)
	if !native {
		maxCPU = 1000 // a wasm module runs on one thread
	}
	if cpuMilli < 0 || cpuMilli > maxCPU {
		c.add(prefix+"cpus", FormatCPUs(cpuMilli), ErrRange, "must be between 0 and %s for %s", FormatCPUs(maxCPU), rt)
	}
	if gpus != nil {
		if !native {
			c.add(prefix+"gpus", gpus.String(), ErrInvalid, "%s cannot use GPUs: use %s or %s", rt, RuntimeProcess, RuntimeDocker)
		}
		gpus.validate(c, prefix+"gpus")
	}
}

// runRuntime is the runtime an award names: none for wasm, whose awards
// encode as before other runtimes existed.
func (s *JobSpec) runRuntime() Capability {
	if s.Runtime == RuntimeWasm {
		return ""
	}
	return s.Runtime
}

// RunRuntime is the runtime the award's job runs in: wasm when it names
// none.
func (r RunSpec) RunRuntime() Capability {
	if r.Runtime == "" {
		return RuntimeWasm
	}
	return r.Runtime
}

// Digest is the CID of the spec's canonical encoding: equal specs have equal
// digests, which is how a reused idempotency key is told apart.
func (s *JobSpec) Digest() string { return canon.DocCID(canon.MustMarshal(s)).String() }
