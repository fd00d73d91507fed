package jobspec

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// maxInlineBlob is the largest blob a job spec may carry inline.
const maxInlineBlob = 1 << 20

// Blobs is the node's blob store, as intake uses it.
type Blobs interface {
	Size(cid string) (int64, error)
	Get(cid string) ([]byte, error)
	PutBytes(b []byte) (cid.Cid, error)
}

// Deps is what intake needs of the node.
type Deps struct {
	Blobs Blobs // where inline blobs are stored and named ones looked up
	// DefaultVerify is the verification of a job that names none and
	// leaves this node ([requester] verify); empty is none.
	DefaultVerify string
}

// Intake turns submitted requests into job specs.
type Intake struct {
	d       Deps
	checked checkedModules
}

// New returns a job intake over the node's blob store.
func New(d Deps) *Intake { return &Intake{d: d} }

// Spec turns a submitted request into a job spec: blobs resolved, the
// module checked, defaults set, validated.
func (in *Intake) Spec(req api.SubmitRequest) (market.JobSpec, error) {
	var spec market.JobSpec
	if err := in.moduleFrom(req, &spec); err != nil {
		return spec, err
	}
	if req.Stdin != nil {
		b, err := in.resolveBlob("stdin", *req.Stdin)
		if err != nil {
			return spec, err
		}
		spec.Stdin = &b
	}
	for i, input := range req.Inputs {
		b, err := in.resolveBlob(fmt.Sprintf("inputs[%d]", i), input.BlobRef)
		if err != nil {
			return spec, err
		}
		spec.Inputs = append(spec.Inputs, market.Input{Name: input.Name, Blob: b})
	}
	for _, c := range req.Capabilities {
		spec.Capabilities = append(spec.Capabilities, market.Capability(c))
	}
	spec.Args, spec.Env = req.Args, req.Env
	spec.MemoryBytes = int64(req.Memory)
	spec.TimeoutMs = time.Duration(req.Timeout).Milliseconds()
	if req.Timeout > 0 && spec.TimeoutMs == 0 {
		spec.TimeoutMs = 1
	}
	spec.MaxOutputBytes = int64(req.MaxOutput)
	spec.MaxPrice = req.MaxPrice
	spec.DeadlineMs = time.Duration(req.Deadline).Milliseconds()
	spec.ValueOfTime = req.ValueOfTime
	spec.MinReputation = req.MinReputation
	spec.Verify = req.Verify
	if err := resourcesFrom(req, &spec); err != nil {
		return spec, err
	}
	spec.Defaults()
	if err := spec.Validate(); err != nil {
		return spec, Errors(err)
	}
	return spec, nil
}

// Verify gives a job that named no verification (req.Verify empty) the
// node's default, once placement is known: a job kept on this node's own
// provider is not checked, whatever the default, since nobody else could
// check it. A job that names one, "none" included, keeps it.
func (in *Intake) Verify(req api.SubmitRequest, spec *market.JobSpec, local bool) error {
	if req.Verify != "" || local || in.d.DefaultVerify == "" || in.d.DefaultVerify == market.VerifyNone {
		return nil
	}
	spec.Verify = in.d.DefaultVerify
	return Errors(spec.Validate())
}

// Errors turns market's validation errors into the API's invalid_spec
// (422) with one entry per field; other errors pass through.
func Errors(err error) error {
	var ve *market.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	ae := &api.Error{Code: api.CodeInvalidSpec, Message: err.Error()}
	for _, f := range ve.Fields {
		ae.Fields = append(ae.Fields, api.FieldError{Field: f.Field, Message: strings.TrimPrefix(f.Error(), f.Field+": ")})
	}
	return ae
}

// resolveBlob stores an inline blob or checks that a CID is held here.
func (in *Intake) resolveBlob(field string, ref api.BlobRef) (market.Blob, error) {
	set := 0
	for _, s := range []string{ref.CID, ref.Text, ref.Base64} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return market.Blob{}, specError(field, "give exactly one of cid, text, base64")
	}
	switch {
	case ref.CID != "":
		if _, err := canon.ParseBlobCID(ref.CID); err != nil {
			return market.Blob{}, specError(field+".cid", err.Error())
		}
		size, err := in.d.Blobs.Size(ref.CID)
		if err != nil {
			return market.Blob{}, &api.Error{Status: http.StatusUnprocessableEntity, Code: api.CodeBlobNotFound,
				Message: fmt.Sprintf("%s: this node holds no blob %s; upload it first with POST /v1/blobs", field, ref.CID)}
		}
		return market.Blob{CID: ref.CID, Size: size}, nil
	case ref.Text != "" || ref.Base64 != "":
		data := []byte(ref.Text)
		if ref.Base64 != "" {
			var err error
			if data, err = base64.StdEncoding.DecodeString(ref.Base64); err != nil {
				return market.Blob{}, specError(field+".base64", "not valid base64: "+err.Error())
			}
		}
		if len(data) > maxInlineBlob {
			return market.Blob{}, api.Errorf(api.CodeTooLarge, "%s: inline content is %d bytes; above 1MiB upload it with POST /v1/blobs and pass its cid", field, len(data))
		}
		c, err := in.d.Blobs.PutBytes(data)
		if err != nil {
			return market.Blob{}, err
		}
		return market.Blob{CID: c.String(), Size: int64(len(data))}, nil
	}
	// Nothing given: an empty file, which must be stored like any other so
	// the winner can fetch it.
	c, err := in.d.Blobs.PutBytes(nil)
	if err != nil {
		return market.Blob{}, err
	}
	return market.Blob{CID: c.String()}, nil
}

func specError(field, msg string) *api.Error {
	return &api.Error{Code: api.CodeInvalidSpec, Message: field + ": " + msg,
		Fields: []api.FieldError{{Field: field, Message: msg}}}
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
