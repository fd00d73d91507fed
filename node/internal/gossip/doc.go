// Package gossip owns how calls for bids are taken in, both ways they
// travel: gossipsub's auction topics, with application-level signatures
// (StrictNoSign, content-hash message IDs), peer scoring with the
// invalid-message and behaviour penalties on and the mesh-delivery
// penalty off, and an inline validator per topic; and /hayek/call/1.0.0,
// on which a requester sends a call straight to each invitee
// (HandleCall). Both go through one check (check: size cap, canonical
// envelope, signature, the way in's own rule — topic, or sent by the
// requester to an invitee that sells the capability —, freshness, replay,
// per-requester rate limit) and one replay set, so a call that arrives
// both ways is delivered once; a gossiped copy of a call already taken
// in directly is still forwarded.
//
// New starts the router on the node's host; Run expires replay keys and
// idle rate limiters. The requester publishes the calls it gossips with
// Publish (when the market is thin, see the requester) and counts every
// call it sends with Auction; the node serves HandleCall; the provider
// receives validated calls, gossiped or direct, with Subscribe; the
// reputation service joins its own topic through PubSub and reports what
// it publishes there with Published. A raw tracer counts every topic's
// traffic into the node's metrics registry (published, received,
// duplicate, rejected, copies on the wire, control messages); direct
// call streams are counted with the node's other streams.
package gossip
