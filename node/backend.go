package node

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/blobs"
	"github.com/hayek-market/hayek/node/internal/quote"
)

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

// Submit implements api.Backend.
func (n *Node) Submit(ctx context.Context, req api.SubmitRequest) (api.Job, bool, error) {
	spec, err := n.intake.Spec(req)
	if err != nil {
		return api.Job{}, false, err
	}
	agent := api.CallerFrom(ctx).Agent
	pl, err := n.place(agent, &spec, req.Placement)
	if err != nil {
		return api.Job{}, false, err
	}
	if err := n.intake.Verify(req, &spec, pl.Local); err != nil {
		return api.Job{}, false, err
	}
	return n.requester.SubmitPlaced(ctx, spec, pl, req.IdempotencyKey, agent)
}

// Quote implements api.Backend: the quote service prices the spec as the
// auction would, holding and booking nothing.
func (n *Node) Quote(ctx context.Context, req api.SubmitRequest) (api.Quote, error) {
	spec, err := n.intake.Spec(req)
	if err != nil {
		return api.Quote{}, err
	}
	agent := api.CallerFrom(ctx).Agent
	pl, err := n.place(agent, &spec, req.Placement)
	if err != nil {
		return api.Quote{}, err
	}
	if err := n.intake.Verify(req, &spec, pl.Local); err != nil {
		return api.Quote{}, err
	}
	qp := quote.Placement{Permit: pl.Why}
	if pl.Local {
		c, _ := n.ownCandidate() // place checked it
		qp = quote.Placement{Own: &c}
	}
	return n.quotes.QuotePlaced(ctx, agent, spec, qp)
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

// resourcesJSON is an offer's resources for the API, or nothing when it
// states none.
func resourcesJSON(o market.Offer) json.RawMessage {
	if o.Resources == nil {
		return nil
	}
	b, _ := json.Marshal(o.Resources)
	return b
}
