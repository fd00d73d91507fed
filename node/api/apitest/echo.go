package apitest

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/hayek-market/hayek/node/api"
)

// echoInput is what an echo job reads: its stdin and its inputs by name.
type echoInput struct {
	stdin  []byte
	inputs map[string][]byte
}

// resolveAll stores req's inline refs as blobs and points them at the
// stored CIDs, as the node does, and returns the bytes the job reads.
func (f *Node) resolveAll(req *api.SubmitRequest) (*echoInput, error) {
	if _, err := f.resolve(&req.Module); err != nil {
		return nil, err
	}
	in := &echoInput{inputs: map[string][]byte{}}
	if req.Stdin != nil {
		var err error
		if in.stdin, err = f.resolve(req.Stdin); err != nil {
			return nil, err
		}
	}
	for i := range req.Inputs {
		b, err := f.resolve(&req.Inputs[i].BlobRef)
		if err != nil {
			return nil, err
		}
		in.inputs[req.Inputs[i].Name] = b
	}
	return in, nil
}

// resolve turns an inline ref into a stored blob and returns its bytes.
func (f *Node) resolve(ref *api.BlobRef) ([]byte, error) {
	switch {
	case ref.CID != "":
		f.mu.Lock()
		defer f.mu.Unlock()
		b, ok := f.blobs[ref.CID]
		if !ok {
			return nil, &api.Error{Status: 422, Code: api.CodeBlobNotFound, Message: "no blob " + ref.CID}
		}
		return b, nil
	case ref.Base64 != "":
		b, err := base64.StdEncoding.DecodeString(ref.Base64)
		if err != nil {
			return nil, api.Errorf(api.CodeInvalidSpec, "bad base64")
		}
		*ref = api.BlobRef{CID: f.store(b).CID}
		return b, nil
	}
	b := []byte(ref.Text)
	*ref = api.BlobRef{CID: f.store(b).CID}
	return b, nil
}

// execute plays an echo job's life, the way the node would, without
// waiting: an auction where providerOne bids 40 and providerTwo declines,
// then the run.
func (f *Node) execute(id string, req api.SubmitRequest, in *echoInput) {
	a := api.Attempt{Number: 1, Invitees: []string{providerOne, providerTwo}}
	f.emit(id, nil, api.Event{Type: "auction", State: api.StateAuction, Attempt: 1, Invitees: 2})
	if req.Env["OUTCOME"] == "nobids" {
		a.Declines = []api.DeclineInfo{
			{Provider: providerOne, Reason: "price_floor", Detail: fmt.Sprintf("price floor 2000 > max price %d", req.MaxPrice)},
			{Provider: providerTwo, Reason: "busy"},
		}
		for _, d := range a.Declines {
			f.emit(id, nil, api.Event{Type: "decline", State: api.StateAuction, Attempt: 1, Provider: d.Provider, Reason: d.Reason, Message: d.Detail})
		}
		f.emit(id, func(j *job) {
			j.job.Attempts = []api.Attempt{a}
			j.job.Error = &api.JobError{Code: "no_bids", Message: "no provider bid"}
		}, api.Event{Type: "state", State: api.StateFailed, Reason: "no_bids", Message: "no provider bid"})
		return
	}
	a.Bids = []api.BidInfo{{Provider: providerOne, Price: 40, StartWithinMs: 50}}
	a.Declines = []api.DeclineInfo{{Provider: providerTwo, Reason: "busy"}}
	a.Winner, a.Price = providerOne, 40
	f.emit(id, nil, api.Event{Type: "bid", State: api.StateAuction, Attempt: 1, Provider: providerOne, Price: 40, StartWithinMs: 50})
	f.emit(id, nil, api.Event{Type: "decline", State: api.StateAuction, Attempt: 1, Provider: providerTwo, Reason: "busy"})
	f.emit(id, func(j *job) { j.job.Provider, j.job.Price, j.job.Attempts = providerOne, 40, []api.Attempt{a} },
		api.Event{Type: "award", State: api.StateAwarded, Attempt: 1, Provider: providerOne, Price: 40})
	f.emit(id, nil, api.Event{Type: "state", State: api.StateRunning, Provider: providerOne})

	code, _ := strconv.Atoi(req.Env["EXIT"])
	status := "ok"
	switch {
	case req.Env["OUTCOME"] == "trap":
		status, code = "trap", 0
	case code != 0:
		status = "exit"
	}
	stderr := []byte("args: " + strings.Join(req.Args, " ") + "\n")
	res := api.Result{Provider: providerOne, Price: 40, Status: status, ExitCode: int32(code),
		Stdout: f.stream(in.stdin), Stderr: f.stream(stderr), Outputs: []api.Output{}}
	for i, input := range req.Inputs {
		name := input.Name
		if i == 0 && req.Env["OUTNAME"] != "" {
			name = req.Env["OUTNAME"]
		}
		b := f.store(in.inputs[input.Name])
		res.Outputs = append(res.Outputs, api.Output{Name: name, CID: b.CID, Size: b.Size})
	}
	f.finish(id, res, func(j *job) {
		j.job.Settlement = &api.Settlement{Held: req.MaxPrice, Paid: 40, Released: req.MaxPrice - 40, Receipts: []string{"bafyreceipt" + id}}
		if req.Verify != "" && req.Verify != "none" {
			j.job.Verification = &api.Verification{Mode: strings.SplitN(req.Verify, ":", 2)[0], State: "accepted", Replicas: []string{providerOne, providerTwo}}
		}
	})
}

func (f *Node) stream(b []byte) api.Stream {
	blob := f.store(b)
	return api.Stream{CID: blob.CID, Size: blob.Size}
}
