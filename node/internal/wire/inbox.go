package wire

import (
	"bufio"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
)

// What Inbox reports a message was dropped for, beside the cause: a
// handler that answers a refused message tells the two apart with
// errors.Is.
var (
	ErrNotEnvelope = errors.New("wire: not a signed envelope")
	ErrUnopened    = errors.New("wire: wrong kind, malformed body or bad signature")
	ErrWrongSender = errors.New("wire: signed by another peer")
	ErrStale       = errors.New("wire: outside the freshness window")
)

// Dropped is a message Inbox turned away, already counted under Reason.
// Its text is the cause's alone, so a handler can pass it on to the peer
// as before; Unwrap gives both the category (ErrStale, ...) and the cause.
type Dropped struct {
	Reason string // the counter: "bid/stale"
	Why    error  // ErrNotEnvelope, ErrUnopened, ErrWrongSender or ErrStale
	Err    error  // the cause
}

func (e *Dropped) Error() string   { return e.Err.Error() }
func (e *Dropped) Unwrap() []error { return []error{e.Why, e.Err} }

// Inbox is the one way a signed message a peer sends is taken in: read
// (from a stream), decoded, opened (kind, body, signature), its signer
// checked against the peer that sent it, its creation time against the
// clock. Each message it turns away is counted in Drops under
// "<what>/<reason>" — the names operators and tests read — so a handler
// is left with what is its own.
type Inbox struct {
	Verifier  canon.Verifier
	Drops     *Drops
	Now       func() time.Time
	Freshness time.Duration // how far from now a message may have been created
}

// Expect is what a message must be, and the prefix its drops count under.
type Expect struct {
	What string // "bid": counts bid/malformed, bid/bad_signature, bid/stale, ...
	Kind string // the envelope's kind
	// From is the peer that must have signed it — a stream's remote
	// peer, the peer asked; "" accepts any signer.
	From string
	// WrongFrom names the drop of a message another peer signed;
	// "wrong_sender" when empty.
	WrongFrom string
	// Created reads the opened message's creation time; nil checks none.
	Created func() int64
}

// ReadFrame reads one frame of at most max bytes from st; a stream that
// cannot give one is counted under what/unreadable and reset.
func (in Inbox) ReadFrame(st network.Stream, max int, what string) ([]byte, bool) {
	b, err := ReadFrame(bufio.NewReader(st), max)
	if err != nil {
		in.Drops.Add(what + "/unreadable")
		st.Reset()
		return nil, false
	}
	return b, true
}

// Decode decodes frame b as an envelope, counting what/malformed if it is
// not one. Handlers that serve several kinds on one protocol decode first
// and Open by kind; the others use OpenFrame.
func (in Inbox) Decode(b []byte, what string) (canon.Envelope, error) {
	env, err := canon.DecodeEnvelope(b)
	if err != nil {
		return canon.Envelope{}, in.drop(what+"/malformed", ErrNotEnvelope, err)
	}
	return env, nil
}

// Open opens env as ex says into m and checks its signer and freshness.
func (in Inbox) Open(env canon.Envelope, ex Expect, m canon.Message) error {
	if err := env.Open(in.Verifier, ex.Kind, m); err != nil {
		return in.drop(dropReason(ex.What, err), ErrUnopened, err)
	}
	if ex.From != "" && m.Sender() != ex.From {
		wrong := ex.WrongFrom
		if wrong == "" {
			wrong = "wrong_sender"
		}
		return in.drop(ex.What+"/"+wrong, ErrWrongSender,
			fmt.Errorf("%s signed by %s, not %s", ex.Kind, ShortID(m.Sender()), ShortID(ex.From)))
	}
	if ex.Created != nil {
		return in.Fresh(ex.What, ex.Created())
	}
	return nil
}

// OpenFrame is Decode then Open: the envelope is returned for its CID.
func (in Inbox) OpenFrame(b []byte, ex Expect, m canon.Message) (canon.Envelope, error) {
	env, err := in.Decode(b, ex.What)
	if err != nil {
		return env, err
	}
	return env, in.Open(env, ex, m)
}

// Fresh checks a creation time against the clock, counting what/stale. A
// handler calls it itself only when a check of its own comes between the
// signature and the time.
func (in Inbox) Fresh(what string, created int64) error {
	if err := market.Fresh(created, in.Now(), in.Freshness); err != nil {
		return in.drop(what+"/stale", ErrStale, err)
	}
	return nil
}

func (in Inbox) drop(reason string, why, err error) error {
	in.Drops.Add(reason)
	return &Dropped{Reason: reason, Why: why, Err: err}
}
