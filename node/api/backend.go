package api

import (
	"context"
	"io"
)

// JobFilter narrows GET /v1/jobs.
type JobFilter struct {
	State JobState // empty: all
	Agent string   // empty: every agent's; the server sets it to the caller for agents
	Limit int      // 0: server default (100)
}

// Backend is what the API server needs from the node. The node implements
// it; errors of type *Error choose the response code, anything else is a 500.
type Backend interface {
	// PutBlob stores r's bytes (at most limit bytes; more is CodeTooLarge)
	// and returns their CID.
	PutBlob(ctx context.Context, r io.Reader, limit int64) (Blob, error)
	// OpenBlob opens stored content for reading.
	OpenBlob(ctx context.Context, cid string) (io.ReadCloser, int64, error)
	// Submit accepts a job; created is false when an idempotency key named an
	// existing job with the same spec.
	Submit(ctx context.Context, req SubmitRequest) (job Job, created bool, err error)
	// Quote asks the market what the job would cost and who could run it,
	// reserving nothing (no hold, no ledger entry, no bid booked).
	Quote(ctx context.Context, req SubmitRequest) (Quote, error)
	Jobs(ctx context.Context, f JobFilter) ([]Job, error)
	Job(ctx context.Context, id string) (Job, error)
	Cancel(ctx context.Context, id string) (Job, error)
	// Wait blocks until the job is terminal or ctx ends, then returns it.
	Wait(ctx context.Context, id string) (Job, error)
	// Events returns the events so far and a channel of later ones, closed
	// after the terminal event or when ctx ends.
	Events(ctx context.Context, id string) ([]Event, <-chan Event, error)
	Result(ctx context.Context, id string) (Result, error)
	Offers(ctx context.Context) ([]OfferInfo, error)
	Peers(ctx context.Context) ([]PeerInfo, error)
	Status(ctx context.Context) (Status, error)
}
