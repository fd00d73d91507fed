package node

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hayek-market/hayek/exec/wasm"
	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/blobs"
	"github.com/hayek-market/hayek/node/internal/quote"
)

// maxInlineBlob is the largest blob a job spec may carry inline.
const maxInlineBlob = 1 << 20

var _ api.Backend = (*Node)(nil)

// PutBlob implements api.Backend.
func (n *Node) PutBlob(ctx context.Context, r io.Reader, limit int64) (api.Blob, error) {
	limit = min(limit, int64(n.cfg.API.MaxBlob))
	c, size, err := n.blobs.Put(ctx, r, limit)
	if errors.Is(err, blobs.ErrTooLarge) {
		return api.Blob{}, api.Errorf(api.CodeTooLarge, "blob is larger than %d bytes (api.max_blob)", limit)
	}
	if err != nil {
		return api.Blob{}, err
	}
	return api.Blob{CID: c.String(), Size: size}, nil
}

// OpenBlob implements api.Backend.
func (n *Node) OpenBlob(ctx context.Context, c string) (io.ReadCloser, int64, error) {
	if _, err := canon.ParseBlobCID(c); err != nil {
		return nil, 0, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	r, size, err := n.blobs.Open(c)
	if errors.Is(err, blobs.ErrNotFound) {
		return nil, 0, api.Errorf(api.CodeBlobNotFound, "this node holds no blob %s", c)
	}
	return r, size, err
}

// checkedModules remembers the last maxCheckedModules modules that passed
// the wasm check, so a module submitted again is not parsed again.
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

// resolveBlob stores an inline blob or checks that a CID is held here.
func (n *Node) resolveBlob(field string, ref api.BlobRef) (market.Blob, error) {
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
		size, err := n.blobs.Size(ref.CID)
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
		c, err := n.blobs.PutBytes(data)
		if err != nil {
			return market.Blob{}, err
		}
		return market.Blob{CID: c.String(), Size: int64(len(data))}, nil
	}
	// Nothing given: an empty file, which must be stored like any other so
	// the winner can fetch it.
	c, err := n.blobs.PutBytes(nil)
	if err != nil {
		return market.Blob{}, err
	}
	return market.Blob{CID: c.String()}, nil
}

func specError(field, msg string) *api.Error {
	return &api.Error{Code: api.CodeInvalidSpec, Message: field + ": " + msg,
		Fields: []api.FieldError{{Field: field, Message: msg}}}
}

// Submit implements api.Backend.
func (n *Node) Submit(ctx context.Context, req api.SubmitRequest) (api.Job, bool, error) {
	spec, err := n.specFrom(req)
	if err != nil {
		return api.Job{}, false, err
	}
	agent := api.CallerFrom(ctx).Agent
	pl, err := n.place(agent, &spec, req.Placement)
	if err != nil {
		return api.Job{}, false, err
	}
	return n.requester.SubmitPlaced(ctx, spec, pl, req.IdempotencyKey, agent)
}

// Quote implements api.Backend: the quote service prices the spec as the
// auction would, holding and booking nothing.
func (n *Node) Quote(ctx context.Context, req api.SubmitRequest) (api.Quote, error) {
	spec, err := n.specFrom(req)
	if err != nil {
		return api.Quote{}, err
	}
	agent := api.CallerFrom(ctx).Agent
	pl, err := n.place(agent, &spec, req.Placement)
	if err != nil {
		return api.Quote{}, err
	}
	qp := quote.Placement{Permit: pl.Why}
	if pl.Local {
		c, _ := n.ownCandidate() // place checked it
		qp = quote.Placement{Own: &c}
	}
	return n.quotes.QuotePlaced(ctx, agent, spec, qp)
}

func (n *Node) specFrom(req api.SubmitRequest) (market.JobSpec, error) {
	var spec market.JobSpec
	if err := n.moduleFrom(req, &spec); err != nil {
		return spec, err
	}
	if req.Stdin != nil {
		b, err := n.resolveBlob("stdin", *req.Stdin)
		if err != nil {
			return spec, err
		}
		spec.Stdin = &b
	}
	for i, in := range req.Inputs {
		b, err := n.resolveBlob(fmt.Sprintf("inputs[%d]", i), in.BlobRef)
		if err != nil {
			return spec, err
		}
		spec.Inputs = append(spec.Inputs, market.Input{Name: in.Name, Blob: b})
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
		return spec, specErrors(err)
	}
	return spec, nil
}

// specErrors turns market's validation errors into the API's invalid_spec
// (422) with one entry per field; other errors pass through.
func specErrors(err error) error {
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

func (n *Node) checkModule(b market.Blob) error {
	if n.checked.has(b.CID) {
		return nil
	}
	data, err := n.blobs.Get(b.CID)
	if err != nil {
		return fmt.Errorf("node: read module: %w", err)
	}
	if err := wasm.CheckModule(data); err != nil {
		return api.Errorf(api.CodeInvalidModule, "%s", strings.TrimPrefix(err.Error(), "exec/wasm: bad module: "))
	}
	n.checked.add(b.CID)
	return nil
}

// Jobs implements api.Backend.
func (n *Node) Jobs(ctx context.Context, f api.JobFilter) ([]api.Job, error) {
	return n.requester.Jobs(ctx, f)
}

// Job implements api.Backend.
func (n *Node) Job(ctx context.Context, id string) (api.Job, error) { return n.requester.Job(ctx, id) }

// Cancel implements api.Backend.
func (n *Node) Cancel(ctx context.Context, id string) (api.Job, error) {
	return n.requester.Cancel(ctx, id)
}

// Wait implements api.Backend.
func (n *Node) Wait(ctx context.Context, id string) (api.Job, error) {
	return n.requester.Wait(ctx, id)
}

// Events implements api.Backend.
func (n *Node) Events(ctx context.Context, id string) ([]api.Event, <-chan api.Event, error) {
	return n.requester.Events(ctx, id)
}

// Result implements api.Backend.
func (n *Node) Result(ctx context.Context, id string) (api.Result, error) {
	return n.requester.Result(ctx, id)
}

// Offers implements api.Backend.
func (n *Node) Offers(ctx context.Context) ([]api.OfferInfo, error) {
	var out []api.OfferInfo
	info := func(o market.Offer, fetched time.Time, self bool) api.OfferInfo {
		caps := make([]string, len(o.Capabilities))
		for i, c := range o.Capabilities {
			caps[i] = string(c)
		}
		pricing, _ := json.Marshal(o.Pricing)
		limits, _ := json.Marshal(o.Limits)
		return api.OfferInfo{Provider: o.Provider, Self: self, Seq: o.Seq, Capabilities: caps, Pricing: pricing,
			Limits: limits, Resources: resourcesJSON(o), Version: o.Version, ExpiresAt: time.UnixMilli(o.Expires).UTC(), FetchedAt: fetched.UTC(),
			Withdrawn: o.Withdrawn}
	}
	if o, ok := n.offers.Offer(); ok {
		out = append(out, info(o, n.now(), true))
	}
	for p, ko := range n.disc.Known() {
		if p != n.ID() {
			out = append(out, info(ko.Offer, ko.Fetched, false))
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Self != out[b].Self {
			return out[a].Self
		}
		return out[a].Provider < out[b].Provider
	})
	return out, nil
}

// Peers implements api.Backend.
func (n *Node) Peers(ctx context.Context) ([]api.PeerInfo, error) {
	known := n.disc.Known()
	var out []api.PeerInfo
	for _, p := range n.host.Network().Peers() {
		pi := api.PeerInfo{PeerID: p.String(), Connected: true, Addrs: []string{}}
		for _, c := range n.host.Network().ConnsToPeer(p) {
			pi.Addrs = append(pi.Addrs, c.RemoteMultiaddr().String())
		}
		if l := n.host.Peerstore().LatencyEWMA(p); l > 0 {
			pi.LatencyMs = float64(l.Microseconds()) / 1000
		}
		_, pi.Provider = known[p.String()]
		out = append(out, pi)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].PeerID < out[b].PeerID })
	return out, nil
}

// Status implements api.Backend.
func (n *Node) Status(ctx context.Context) (api.Status, error) {
	st := api.Status{PeerID: n.ID(), Addrs: n.Addrs(), Version: Version, StartedAt: n.start.UTC(),
		Peers: len(n.host.Network().Peers()), Selling: n.cfg.Provider.Sell && !n.closing.Load(),
		Capabilities: soldStrings(n.soldCapabilities()), Jobs: map[api.JobState]int{}, Dropped: n.drops.Snapshot(),
		Misbehaving: n.cfg.Misbehave.Active()}
	st.LedgerSeq, st.LedgerHead = n.ledger.Head()
	st.Isolated = n.Isolated()
	if !n.cfg.Provider.Sell {
		st.Capabilities = []string{}
	}
	st.Running = n.provider.Running()
	n.requester.Counts(st.Jobs)
	return st, nil
}
