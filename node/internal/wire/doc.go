// Package wire owns what every hayek protocol shares on the wire and in a
// node's life: the protocol IDs and their frame caps, length-prefixed
// frames, the node's signer and verifier, Inbox (the one way a signed
// message a peer sends is read, decoded, opened, matched to the peer that
// sent it and checked for freshness, each refusal counted under the name
// operators read), the counters of dropped peer messages and of streams
// opened and served per protocol (StreamMetrics,
// whose host wrapper counts what the node's services open), the per-peer
// gate in front of every inbound stream, and the two
// helpers background work runs under (Group for tracked goroutines, Every
// for periodic work).
//
// It holds no state of its own beyond what its values carry; the node
// creates one Signer, one Verifier, one Drops and one Group and hands them
// to the services that need them.
package wire
