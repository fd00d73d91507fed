package node

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/hayek-market/hayek/exec/docker"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// moduleFrom sets a submitted job's runtime and module: a wasm module
// (checked here, so a bad one is refused before any auction), a static
// executable for process, and for docker an image archive or, with Image,
// the text of an image reference by digest, which travels as a small blob
// like any module.
func (n *Node) moduleFrom(req api.SubmitRequest, spec *market.JobSpec) error {
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
	if spec.Module, err = n.resolveBlob("module", mod); err != nil {
		return err
	}
	switch {
	case spec.Runtime == market.RuntimeWasm:
		return n.checkModule(spec.Module)
	case spec.Image != "":
		return nil // the reference's text, checked above
	}
	return n.checkNativeModule(spec.Runtime, spec.Module)
}

// checkNativeModule refuses, before any auction, a process module that is
// not a static ELF executable and a docker module that is not an image
// archive: a provider would run neither, and the job would pay for a
// bad_module result. What it cannot know here — the provider's
// architecture — the provider checks.
func (n *Node) checkNativeModule(rt market.Capability, b market.Blob) error {
	if n.checked.has(b.CID) {
		return nil
	}
	data, err := n.blobs.Get(b.CID)
	if err != nil {
		return fmt.Errorf("node: read module: %w", err)
	}
	if rt == market.RuntimeProcess {
		err = checkStaticELF(data)
	} else if _, perr := docker.ParseArchive(data, docker.DefaultMaxArchiveBytes); perr != nil {
		err = fmt.Errorf("not an image archive as docker save writes it (%v); or name an image by digest in image", perr)
	}
	if err != nil {
		return api.Errorf(api.CodeInvalidModule, "%s", err)
	}
	n.checked.add(b.CID)
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

// resourcesFrom sets a submitted job's CPUs and GPUs.
func resourcesFrom(req api.SubmitRequest, spec *market.JobSpec) error {
	if c := req.CPUs; c != 0 {
		if math.IsNaN(c) || c < 0 || c > market.MaxCPUMilli/1000 {
			return specError("cpus", fmt.Sprintf("%v: want 0 to %d cores", c, market.MaxCPUMilli/1000))
		}
		spec.CPUMilli = max(int64(math.Ceil(c*1000)), 1)
	}
	if g := req.GPUs; g != nil {
		spec.GPUs = &market.GPUs{Count: g.Count, Model: strings.ToLower(g.Model), MinVRAMMiB: int64(g.MinVRAM+(1<<20)-1) >> 20}
	}
	return nil
}

// resourcesJSON is an offer's resources for the API, or nothing when it
// states none.
func resourcesJSON(o market.Offer) json.RawMessage {
	if o.Resources == nil {
		return nil
	}
	b, _ := json.Marshal(o.Resources)
	return b
}
