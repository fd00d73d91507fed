// Package gossip owns the auction topics: gossipsub with application-level
// signatures (StrictNoSign, content-hash message IDs), peer scoring with
// the invalid-message and behaviour penalties on and the mesh-delivery
// penalty off, and an inline validator per topic (size cap, canonical
// envelope, signature, topic, freshness, replay, per-requester rate limit).
//
// New starts the router on the node's host; Run expires replay keys and
// idle rate limiters. The requester publishes calls with Publish, the
// provider receives validated ones with Subscribe; the reputation service
// joins its own topic through PubSub and reports what it publishes there
// with Published. A raw tracer counts every topic's traffic into the
// node's metrics registry (published, received, duplicate, rejected,
// copies on the wire, control messages).
package gossip
