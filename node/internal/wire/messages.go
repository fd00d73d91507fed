package wire

import "github.com/hayek-market/hayek/market"

// Frames shared by the requester and the provider.

// ResultDelivery is the frame on /hayek/result/1.0.0: the provider's
// signed result and the blobs small enough to travel with it.
type ResultDelivery struct {
	Result []byte   `cbor:"result"`
	Blobs  [][]byte `cbor:"blobs"`
}

// ResultReply tells the provider its result was received. It carries no
// claim beyond that (the receipt that settles the job is signed).
type ResultReply struct {
	OK    bool   `cbor:"ok"`
	Error string `cbor:"error"`
}

// Call is what validation of a call for bids leaves on a gossip message
// for its subscriber. Pubsub keeps messages for a few heartbeats of gossip
// history, so it holds the decoded call and its CID, not a second copy of
// the bytes.
type Call struct {
	Call market.CallForBids
	CID  string
}
