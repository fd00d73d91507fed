package node

import (
	"github.com/hayek-market/hayek/node/internal/wire"
	"time"
)

// startGC collects old blobs on the configured interval.
func (n *Node) startGC() {
	n.tasks.Go(func() {
		wire.Every(n.ctx, time.Duration(n.cfg.Storage.GCEvery), func() {
			n.collectBlobs()
		})
	})
}

// collectBlobs deletes blobs past their retention that no live job needs.
func (n *Node) collectBlobs() {
	pins := n.pinnedBlobs()
	deleted, freed, err := n.blobs.collect(time.Duration(n.cfg.Storage.BlobRetention), func(c string) bool { return pins[c] })
	if err != nil {
		n.log.Warn("blob collection failed", "err", err)
		return
	}
	if deleted > 0 {
		n.log.Info("collected old blobs", "blobs", deleted, "bytes", freed)
	}
}

// pinnedBlobs are the blobs live jobs need: the module, stdin and inputs of
// this node's unfinished jobs, and outputs its finished runs still serve.
func (n *Node) pinnedBlobs() map[string]bool {
	pins := map[string]bool{}
	r := n.requester
	r.mu.Lock()
	for _, j := range r.jobs {
		if j.snapshot().State.Terminal() {
			continue
		}
		pins[j.spec.Module.CID] = true
		if j.spec.Stdin != nil {
			pins[j.spec.Stdin.CID] = true
		}
		for _, in := range j.spec.Inputs {
			pins[in.CID] = true
		}
	}
	r.mu.Unlock()
	p := n.provider
	p.mu.Lock()
	for _, run := range p.runs {
		run.mu.Lock()
		for c := range run.outputs {
			pins[c] = true
		}
		pins[run.award.Run.Module.CID] = true
		run.mu.Unlock()
	}
	p.mu.Unlock()
	return pins
}
