package node

// pinnedBlobs are the blobs live jobs need: the module, stdin and inputs of
// this node's unfinished jobs, and outputs its finished runs still serve.
func (n *Node) pinnedBlobs() map[string]bool {
	pins := map[string]bool{}
	n.requester.pinBlobs(pins)
	n.provider.pinBlobs(pins)
	return pins
}

// pinBlobs adds the module, stdin and inputs of unfinished jobs to pins.
func (r *requester) pinBlobs(pins map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
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
}

// pinBlobs adds the outputs runs still serve and their modules to pins.
func (p *providerService) pinBlobs(pins map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, run := range p.runs {
		run.mu.Lock()
		for c := range run.outputs {
			pins[c] = true
		}
		pins[run.award.Run.Module.CID] = true
		run.mu.Unlock()
	}
}
