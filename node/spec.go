package node

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

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
	if spec.Runtime == market.RuntimeWasm {
		return n.checkModule(spec.Module)
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
