// Package discovery owns how providers are found and how this node is
// found: the Finder turns DHT provider records (hints only) into verified
// offers fetched on /hayek/offer/1.0.0, caches them per provider and
// lookups per capability, and refreshes both in the background (Run); the
// Advertiser keeps this node's own signed offer fresh, serves it, and keeps
// its provider records on the DHT until it withdraws; the Bootstrapper
// connects the node to its bootstrap peers at start and again, with a
// backoff, whenever it has lost every peer (Run).
//
// Both are given what they use as a deps struct: the host, the DHT behind a
// narrow interface, the signer or verifier, drop counters, a clock, and a
// metrics registry in which they count their DHT lookups and provides.
package discovery
