// Package canon owns hayek's wire and storage encoding: canonical
// deterministic CBOR (RFC 8949 core deterministic encoding), content
// identifiers, and the signed envelope every peer message travels in.
//
// Everything a peer signs or content-addresses goes through Marshal, and
// everything received goes through Unmarshal, which rejects unknown fields,
// duplicate map keys, indefinite lengths, tags and any encoding that is not
// the canonical one for the decoded value — so two honest peers always agree
// on the bytes they hash and sign, and a receiver hashes and verifies the
// bytes exactly as received.
//
// Blobs (modules, inputs, outputs) are addressed by CIDv1 with the raw codec
// and sha2-256; structured documents (messages, ledger entries) by CIDv1 with
// the cbor codec (0x51) — not dag-cbor, whose map key order differs.
//
// canon imports no other hayek package and no libp2p: signing keys are
// abstracted by Signer and Verifier so that market, settlement and
// reputation stay plain Go.
package canon
