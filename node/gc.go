package node

// pinnedBlobs are the blobs live jobs need: the module, stdin and inputs of
// this node's unfinished jobs, and outputs its finished runs still serve.
func (n *Node) pinnedBlobs() map[string]bool {
	pins := map[string]bool{}
	n.requester.PinBlobs(pins)
	n.provider.PinBlobs(pins)
	return pins
}
