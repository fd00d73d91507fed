package jobspec

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/hayek-market/hayek/exec/docker"
	"github.com/hayek-market/hayek/exec/wasm"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// moduleFrom sets a submitted job's runtime and module: a wasm module
// (checked here, so a bad one is refused before any auction), a static
// executable for process, and for docker an image archive or, with Image,
// the text of an image reference by digest, which travels as a small blob
// like any module.
func (in *Intake) moduleFrom(req api.SubmitRequest, spec *market.JobSpec) error {
	switch strings.TrimPrefix(req.Runtime, "runtime/") {
	case "", "wasm":
		spec.Runtime = market.RuntimeWasm
	case "process":
		spec.Runtime = market.RuntimeProcess
	case "docker":
		spec.Runtime = market.RuntimeDocker
	default:
		return specError("runtime", fmt.Sprintf("%q is not a runtime; use \"wasm\", \"process\" or \"docker\"", req.Runtime))
	}
	mod := req.Module
	if req.Image != "" {
		switch {
		case spec.Runtime != market.RuntimeDocker:
			return specError("image", "only a docker job names an image; set runtime to \"docker\"")
		case mod != (api.BlobRef{}):
			return specError("image", "give the image either by reference (image) or as an archive (module), not both")
		case !market.ImageRef.MatchString(req.Image):
			return specError("image", fmt.Sprintf("%q is not an image by digest: want name@sha256:<64 hex> or sha256:<64 hex> (tags move; docker images --digests shows digests)", req.Image))
		}
		mod, spec.Image = api.BlobRef{Text: req.Image}, req.Image
	}
	if mod == (api.BlobRef{}) {
		what := map[market.Capability]string{market.RuntimeWasm: "the wasm module", market.RuntimeProcess: "the static executable",
			market.RuntimeDocker: "the image archive (or an image reference in image)"}[spec.Runtime]
		return specError("module", "required: "+what+", as a cid from POST /v1/blobs, or inline base64")
	}
	var err error
	if spec.Module, err = in.resolveBlob("module", mod); err != nil {
		return err
	}
	switch {
	case spec.Runtime == market.RuntimeWasm:
		return in.checkModule(spec.Module)
	case spec.Image != "":
		return nil // the reference's text, checked above
	}
	return in.checkNativeModule(spec.Runtime, spec.Module)
}

// checkModule refuses a wasm module that does not parse, once per module.
func (in *Intake) checkModule(b market.Blob) error {
	if in.checked.has(b.CID) {
		return nil
	}
	data, err := in.d.Blobs.Get(b.CID)
	if err != nil {
		return fmt.Errorf("jobspec: read module: %w", err)
	}
	if err := wasm.CheckModule(data); err != nil {
		return api.Errorf(api.CodeInvalidModule, "%s", strings.TrimPrefix(err.Error(), "exec/wasm: bad module: "))
	}
	in.checked.add(b.CID)
	return nil
}

// checkNativeModule refuses, before any auction, a process module that is
// not a static ELF executable and a docker module that is not an image
// archive: a provider would run neither, and the job would pay for a
// bad_module result. What it cannot know here — the provider's
// architecture — the provider checks.
func (in *Intake) checkNativeModule(rt market.Capability, b market.Blob) error {
	if in.checked.has(b.CID) {
		return nil
	}
	data, err := in.d.Blobs.Get(b.CID)
	if err != nil {
		return fmt.Errorf("jobspec: read module: %w", err)
	}
	if rt == market.RuntimeProcess {
		err = checkStaticELF(data)
	} else if _, perr := docker.ParseArchive(data, docker.DefaultMaxArchiveBytes); perr != nil {
		err = fmt.Errorf("not an image archive as docker save writes it (%v); or name an image by digest in image", perr)
	}
	if err != nil {
		return api.Errorf(api.CodeInvalidModule, "%s", err)
	}
	in.checked.add(b.CID)
	return nil
}

// checkStaticELF accepts a static 64-bit ELF executable.
func checkStaticELF(data []byte) error {
	if bytes.HasPrefix(data, []byte("#!")) {
		return errors.New("a script, and the process sandbox has no interpreter: submit a static executable")
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not an ELF executable (%v): the process sandbox runs static Linux executables", err)
	}
	if f.Class != elf.ELFCLASS64 || (f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN) || f.Entry == 0 {
		return fmt.Errorf("not a 64-bit ELF executable (%s, %s)", f.Class, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked, and the sandbox has no shared libraries: link it statically (Go: CGO_ENABLED=0; C: -static)")
		}
	}
	return nil
}

// checkedModules remembers the last maxCheckedModules modules that passed
// their check, so a module submitted again is not parsed again. Each
// Intake (one per node) has its own.
type checkedModules struct {
	mu   sync.Mutex
	ok   map[string]struct{}
	ring []string // insertion order of ok, for eviction
	next int
}

const maxCheckedModules = 4096

func (c *checkedModules) has(cid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.ok[cid]
	return ok
}

func (c *checkedModules) add(cid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.ok[cid]; ok {
		return
	}
	if c.ok == nil {
		c.ok, c.ring = map[string]struct{}{}, make([]string, maxCheckedModules)
	}
	if old := c.ring[c.next]; old != "" {
		delete(c.ok, old)
	}
	c.ring[c.next] = cid
	c.ok[cid] = struct{}{}
	c.next = (c.next + 1) % len(c.ring)
}
