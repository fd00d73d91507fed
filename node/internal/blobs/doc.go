// Package blobs owns a node's content: the blob store under <home>/blobs
// (content-addressed files behind a byte-bounded memory cache, every read
// from disk checked against its CID), the data protocol on
// /hayek/data/1.0.0 (Service.HandleData serves a blob only to a peer an
// Authorizer vouches for; Service.Fetch fetches one, resuming broken
// streams and checking it against its CID and declared size) and the
// collection of blobs past their retention that no live job pins
// (Service.Run).
//
// The service is given everything it uses in Deps: the libp2p host, the
// node's signer and verifier, drop counters, a clock, and the requester's
// and provider's say on who may fetch what.
package blobs
