package requester

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// ResultHandler serves /hayek/result/1.0.0: it receives a result, stores
// inline blobs, fetches the others from the provider (until ctx ends), and
// feeds the result to the job.
func (r *Service) ResultHandler(ctx context.Context) network.StreamHandler {
	return func(st network.Stream) { r.handleResult(ctx, st) }
}

// handleResult takes one delivery: the signed result is read and opened,
// claimed as its award's one result, its declared sizes checked, its
// inline blobs sorted, and the provider answered; then what is not inline
// is fetched, and the job is given the result.
func (r *Service) handleResult(ctx context.Context, st network.Stream) {
	defer st.Close()
	reply := func(err error) {
		rr := wire.ResultReply{OK: err == nil}
		if err != nil {
			rr.Error = err.Error()
		}
		wire.WriteFrame(st, canon.MustMarshal(rr))
	}
	del, res, resultCID, ok := r.readResult(st, reply)
	if !ok {
		return
	}
	j, ok := r.claimResult(res, resultCID, reply)
	if !ok {
		return
	}
	j.keep(market.KindResult, res.Provider, del.Result, r.d.Now())
	if err := r.checkResultSizes(j, res); err != nil {
		reply(err)
		return
	}
	inline := r.inlineBlobs(res, del)
	reply(nil)
	if !r.fetchOutputs(ctx, res, inline) {
		return
	}
	r.deliver(res.Job, "result", func(m *market.Job, now time.Time) {
		if err := m.Result(now, res, del.Result); err != nil {
			r.d.Drops.Add("result/rejected")
			r.d.Log.Debug("result rejected", "err", err)
			return
		}
		for c, blob := range inline {
			if err := r.d.Blobs.PutKnown(c, blob); err != nil {
				r.d.Log.Error("cannot store output", "job", res.Job, "err", err)
			}
		}
	})
}

// readResult reads a delivery and opens its signed result (the Inbox
// checks). It answers the provider itself when it refuses.
func (r *Service) readResult(st network.Stream, reply func(error)) (wire.ResultDelivery, market.Result, string, bool) {
	in := r.inbox()
	b, ok := in.ReadFrame(st, wire.MaxResultFrame, "result")
	if !ok {
		return wire.ResultDelivery{}, market.Result{}, "", false
	}
	var del wire.ResultDelivery
	if err := canon.Unmarshal(b, &del); err != nil {
		r.d.Drops.Add("result/malformed")
		reply(err)
		return wire.ResultDelivery{}, market.Result{}, "", false
	}
	var res market.Result
	env, err := in.OpenFrame(del.Result, wire.Expect{What: "result", Kind: market.KindResult}, &res)
	if err != nil {
		reply(err)
		return wire.ResultDelivery{}, market.Result{}, "", false
	}
	return del, res, env.CID(), true
}

// claimResult takes res as the one result of its award and returns its
// job. One result per award: a winner resending the same frame (its reply
// was lost) is answered again, anything else for that award is dropped,
// so one award can never fill this node's disk twice. It answers the
// provider itself unless the result is new.
func (r *Service) claimResult(res market.Result, resultCID string, reply func(error)) (*job, bool) {
	j := r.job(res.Job)
	if j == nil {
		r.d.Drops.Add("result/unknown_job")
		reply(fmt.Errorf("unknown job %s", res.Job))
		return nil, false
	}
	j.mu.Lock()
	awarded := j.winners[res.Provider]
	prev, again := j.resulted[res.Award]
	if awarded && !again && res.Requester == r.self {
		if j.resulted == nil {
			j.resulted = map[string]string{}
		}
		j.resulted[res.Award] = resultCID
	}
	j.mu.Unlock()
	switch {
	case !awarded || res.Requester != r.self:
		r.d.Drops.Add("result/not_awarded")
		reply(fmt.Errorf("job %s is not awarded to %s", res.Job, wire.ShortID(res.Provider)))
		return nil, false
	case again && prev == resultCID:
		reply(nil)
		return nil, false
	case again:
		r.d.Drops.Add("result/second")
		reply(fmt.Errorf("a result for this award was already received"))
		return nil, false
	}
	return j, true
}

// checkResultSizes checks the blobs res declares before anything is
// stored or fetched. Outputs, stdout and stderr each have their cap; the
// sum is checked blob by blob so no choice of sizes can wrap it.
func (r *Service) checkResultSizes(j *job, res market.Result) error {
	bound := j.spec.MaxOutputBytes + 2*wire.StdoutCap(j.spec.MaxOutputBytes)
	var total int64
	for _, bl := range res.Blobs() {
		if _, err := canon.ParseBlobCID(bl.CID); err != nil || bl.Size < 0 {
			r.d.Drops.Add("result/malformed")
			return fmt.Errorf("bad blob %q", bl.CID)
		}
		if bl.Size > bound-total {
			r.d.Drops.Add("result/oversized")
			return fmt.Errorf("outputs total more than %d bytes, above the job's limits", bound)
		}
		total += bl.Size
	}
	return nil
}

// inlineBlobs are the delivery's inline blobs that the signed result
// names, at the size it declares, by CID; the rest are dropped. They are
// stored only once the job accepts the result.
func (r *Service) inlineBlobs(res market.Result, del wire.ResultDelivery) map[string][]byte {
	named := map[string]int64{}
	for _, bl := range res.Blobs() {
		named[bl.CID] = bl.Size
	}
	inline := map[string][]byte{}
	for _, blob := range del.Blobs {
		c := canon.BlobCID(blob).String()
		if size, ok := named[c]; !ok || size != int64(len(blob)) {
			r.d.Drops.Add("result/unnamed_blob")
			continue
		}
		inline[c] = blob
	}
	return inline
}

// fetchOutputs makes sure everything res names is here: inline, already
// stored, or fetched from the provider (who serves outputs to us alone).
// A fetch that fails is the winner's fault (unless this node's own), and
// the result is not delivered.
func (r *Service) fetchOutputs(ctx context.Context, res market.Result, inline map[string][]byte) bool {
	for _, bl := range res.Blobs() {
		if _, ok := inline[bl.CID]; ok || r.d.Blobs.Has(bl.CID) {
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		data, err := r.d.Fetch(ctx, res.Provider, res.Job, bl)
		cancel()
		if err != nil {
			r.deliver(res.Job, "result", func(m *market.Job, now time.Time) {
				m.Fault(now, res.Provider, faultKind(err, market.FaultOutputs), fmt.Sprintf("its outputs could not be fetched: %v", err))
			})
			return false
		}
		if err := r.d.Blobs.PutKnown(bl.CID, data); err != nil {
			r.d.Log.Error("cannot store output", "err", err)
		}
	}
	return true
}
