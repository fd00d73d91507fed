package wire

import (
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"
)

// Protocol IDs of hayek's streams.
const (
	ProtoOffer   protocol.ID = "/hayek/offer/1.0.0"
	ProtoBid     protocol.ID = "/hayek/bid/1.0.0"
	ProtoAward   protocol.ID = "/hayek/award/1.0.0"
	ProtoResult  protocol.ID = "/hayek/result/1.0.0"
	ProtoData    protocol.ID = "/hayek/data/1.0.0"
	ProtoPing    protocol.ID = "/hayek/ping/1.0.0"
	ProtoReceipt protocol.ID = "/hayek/receipt/1.0.0" // receipts to countersign and settlements to record
	ProtoQuote   protocol.ID = "/hayek/quote/1.0.0"   // dry-run calls for bids, answered without reserving anything
	ProtoCall    protocol.ID = "/hayek/call/1.0.0"    // a signed call for bids, straight from its requester to an invitee
	// DHTPrefix keeps hayek's DHT apart from the public IPFS DHT.
	DHTPrefix protocol.ID = "/hayek"
)

// Protocols are all of hayek's stream protocols.
var Protocols = []protocol.ID{ProtoOffer, ProtoBid, ProtoAward, ProtoResult, ProtoData, ProtoPing, ProtoReceipt, ProtoQuote, ProtoCall}

// Frame caps per protocol.
const (
	MaxOfferFrame   = 16 << 10
	MaxBidFrame     = 8 << 10
	MaxAwardFrame   = 256 << 10 // args, env and input lists
	MaxAckFrame     = 4 << 10
	MaxResultFrame  = 2 << 20 // the signed result plus inline blobs
	MaxDataReq      = 4 << 10
	MaxReceiptFrame = 16 << 10
	MaxQuoteFrame   = 4 << 10 // a quote: needs, as in a call, without invitees
	MaxQuoteAnswer  = 2 << 10
	// MaxCallFrame caps a direct call's frame at the largest
	// gossip.max_call allows; the receiver enforces its own, smaller cap.
	MaxCallFrame   = 1 << 20
	InlineBlobMax  = 64 << 10 // blobs up to this size travel inside the result
	InlineTotalMax = 1 << 20
)

// A job's stdout is capped at MaxStdout and its stderr at MaxStderr, both
// below the job's own output cap: the provider's executor limits and the
// requester's check of a result's declared sizes use the same numbers.
const (
	MaxStdout = 16 << 20
	MaxStderr = 1 << 20
)

// StdoutCap is the cap of a job's stdout given its output cap.
func StdoutCap(maxOutput int64) int64 { return min(maxOutput, MaxStdout) }

// FetchParallel is how many blobs of one job a provider fetches at once;
// the requester serves each peer twice that many data streams.
const FetchParallel = 4

// RequestTimeout is how long a peer has to send its request on a new
// stream: every request is one frame, most of them small. A result frame
// may carry a megabyte or two of inline outputs, an award its arguments.
func RequestTimeout(p protocol.ID) time.Duration {
	switch p {
	case ProtoResult:
		return 30 * time.Second
	case ProtoAward:
		return 10 * time.Second
	}
	return 5 * time.Second
}

// PerPeerStreams caps the streams of one protocol a single peer may have in
// service at once. An honest peer needs few: a provider fetches a job's
// blobs FetchParallel at a time, a requester's awards and a provider's
// bids are one short stream per job.
var PerPeerStreams = map[protocol.ID]int{
	ProtoOffer:   4,
	ProtoBid:     64,
	ProtoAward:   64,
	ProtoResult:  16,
	ProtoData:    2 * FetchParallel,
	ProtoPing:    4,
	ProtoReceipt: 32,
	ProtoQuote:   8,
	// A requester sends each invitee one short call stream per auction;
	// a busy requester has many auctions open at once.
	ProtoCall: 64,
}
