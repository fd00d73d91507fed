package node

// pinnedBlobs are the blobs live jobs need: the module, stdin and inputs of
// this node's unfinished jobs, and outputs its finished runs still serve.
func (n *Node) pinnedBlobs() map[string]bool {
	pins := map[string]bool{}
	n.requester.pinBlobs(pins)
	n.provider.PinBlobs(pins)
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
