package settlement

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/hayek-market/hayek/internal/canon"
)

// An export is JSON lines, one entry per line in sequence order, holding
// exactly the hash-covered fields — seq, prev, time, kind and the body —
// and nothing derived. The body is shown as its fields rather than as
// CBOR bytes; because bodies are canonical CBOR of these types, encoding
// the fields again gives back the exact bytes, so every CID and signature
// can be recomputed offline (VerifyExport). Receipt and settlement bodies
// show the signed inner document decoded:
//
//	{"seq":7,"prev":"bafy…","time":1767225600000,"kind":"fund","body":{"agent":"alice","amount":500,"note":""}}
//	{"seq":9,…,"kind":"receipt","body":{"receipt":{"job":"j1",…},"requester_sig":"…","provider_head":"bafy…","provider_sig":"…"}}
//	{"seq":10,…,"kind":"checkpoint","body":{"node":"12D3…","head":"bafy…","seq":9,"time":…,"sig":"…"}}
//
// Byte strings are base64 (encoding/json's []byte). The last line is the
// trailer, the node's signed word that the export ends there, so that an
// export cut short is refused rather than read as a shorter ledger:
//
//	{"trailer":{"node":"12D3…","seq":10,"head":"bafy…","time":1767225600123,"sig":"…"}}
type exportLine struct {
	Seq  uint64          `json:"seq"`
	Prev string          `json:"prev"`
	Time int64           `json:"time"`
	Kind Kind            `json:"kind"`
	Body json.RawMessage `json:"body"`
}

// ExportTrailer ends every export: the node (Node) signs that its export
// holds its ledger from entry 1 up to entry Seq, whose CID is Head, and
// nothing after (Seq 0 and Head "" for an empty ledger). Time is when it
// was written, Unix ms. Sig is over the trailer with Sig empty, domain
// "export-trailer".
type ExportTrailer struct {
	Node string `cbor:"node" json:"node"`
	Seq  uint64 `cbor:"seq" json:"seq"`
	Head string `cbor:"head" json:"head"`
	Time int64  `cbor:"time" json:"time"`
	Sig  []byte `cbor:"sig" json:"sig"`
}

type trailerLine struct {
	Trailer *ExportTrailer `json:"trailer"`
}

// ErrNoTrailer: an export ends without its trailer. It was cut short, or
// written by hayek before exports had trailers (export it again, or verify
// it with VerifyExportOptions.AllowUntrailed). It comes wrapped in a
// CorruptionError whose Seq is the entry after the last line.
var ErrNoTrailer = errors.New("settlement: the export has no trailer")

const domainTrailer = "export-trailer"

func signTrailer(s canon.Signer, t ExportTrailer) (ExportTrailer, error) {
	t.Sig = nil
	sig, err := s.Sign(signingBytes(domainTrailer, canon.MustMarshal(t)))
	if err != nil {
		return ExportTrailer{}, fmt.Errorf("settlement: sign the export's trailer: %w", err)
	}
	t.Sig = sig
	return t, nil
}

func verifyTrailer(v canon.Verifier, t ExportTrailer) error {
	sig := t.Sig
	t.Sig = nil
	if err := v.Verify(t.Node, signingBytes(domainTrailer, canon.MustMarshal(t)), sig); err != nil {
		return fmt.Errorf("%w: the export's trailer, by %s: %v", ErrBadSignature, t.Node, err)
	}
	return nil
}

// isTrailer tells a trailer line from an entry line without decoding it.
func isTrailer(line []byte) bool {
	return bytes.HasPrefix(bytes.TrimSpace(line), []byte(`{"trailer"`))
}

type receiptView struct {
	Receipt      Receipt `json:"receipt"`
	RequesterSig []byte  `json:"requester_sig"`
	ProviderHead string  `json:"provider_head"`
	ProviderSig  []byte  `json:"provider_sig"`
}

type settleView struct {
	Settle Settle `json:"settle"`
	Sig    []byte `json:"sig"`
}

// Export writes the ledger, as of a consistent snapshot, to w as JSON lines.
func (l *Ledger) Export(ctx context.Context, w io.Writer) error {
	if err := l.open(); err != nil {
		return err
	}
	defer l.life.RUnlock()
	snap := l.db.NewSnapshot()
	defer snap.Close()
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: prefEntry, UpperBound: upperBound(prefEntry)})
	if err != nil {
		return fmt.Errorf("settlement: export: %w", err)
	}
	defer it.Close()
	bw := bufio.NewWriterSize(w, 1<<16)
	var (
		n    uint64
		tail = ExportTrailer{Node: l.self}
	)
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("settlement: export: %w", err)
			}
		}
		seq, _ := seqOfEntryKey(it.Key())
		e, err := decodeEntry(it.Value())
		if err != nil {
			return corruptf(seq, err, "entry %d does not decode", seq)
		}
		line, err := exportEntry(e)
		if err != nil {
			return err
		}
		if _, err := bw.Write(append(line, '\n')); err != nil {
			return fmt.Errorf("settlement: export: %w", err)
		}
		tail.Seq, tail.Head = seq, docCID(it.Value())
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("settlement: export: %w", err)
	}
	tail.Time = l.opts.Now().UnixMilli()
	tail, err = signTrailer(l.opts.Signer, tail)
	if err != nil {
		return err
	}
	line, err := json.Marshal(trailerLine{&tail})
	if err != nil {
		return fmt.Errorf("settlement: export: %w", err)
	}
	if _, err := bw.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("settlement: export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("settlement: export: %w", err)
	}
	return nil
}

func exportEntry(e Entry) ([]byte, error) {
	body, err := parseBody(e.Kind, e.Body)
	if err != nil {
		return nil, corruptf(e.Seq, err, "entry %d's %s body", e.Seq, e.Kind)
	}
	var view any = body
	switch b := body.(type) {
	case openedReceipt:
		view = receiptView{Receipt: b.r, RequesterSig: b.signed.RequesterSig, ProviderHead: b.signed.ProviderHead, ProviderSig: b.signed.ProviderSig}
	case openedSettle:
		view = settleView{Settle: b.s, Sig: b.signed.Sig}
	}
	raw, err := json.Marshal(view)
	if err != nil {
		return nil, fmt.Errorf("settlement: export entry %d: %w", e.Seq, err)
	}
	return json.Marshal(exportLine{Seq: e.Seq, Prev: e.Prev, Time: e.Time, Kind: e.Kind, Body: raw})
}

// importLine rebuilds the entry an export line stands for, with its
// canonical encoding.
func importLine(line []byte) (Entry, []byte, error) {
	var el exportLine
	if err := strictJSON(line, &el); err != nil {
		return Entry{}, nil, err
	}
	var (
		body any
		err  error
	)
	switch el.Kind {
	case KindFund:
		body, err = jsonAs[Fund](el.Body)
	case KindHold:
		body, err = jsonAs[Hold](el.Body)
	case KindRelease:
		body, err = jsonAs[Release](el.Body)
	case KindAttestation:
		body, err = jsonAs[Attestation](el.Body)
	case KindOutcome:
		body, err = jsonAs[Outcome](el.Body)
	case KindGovernance:
		body, err = jsonAs[Governance](el.Body)
	case KindCheckpoint:
		body, err = jsonAs[Checkpoint](el.Body)
	case KindLost:
		body, err = jsonAs[Lost](el.Body)
	case KindReceipt:
		var v receiptView
		if v, err = jsonAs[receiptView](el.Body); err == nil {
			var inner []byte
			if inner, err = canon.Marshal(v.Receipt); err == nil {
				body = SignedReceipt{Body: inner, RequesterSig: v.RequesterSig, ProviderHead: v.ProviderHead, ProviderSig: v.ProviderSig}
			}
		}
	case KindSettle:
		var v settleView
		if v, err = jsonAs[settleView](el.Body); err == nil {
			var inner []byte
			if inner, err = canon.Marshal(v.Settle); err == nil {
				body = SignedSettle{Body: inner, Sig: v.Sig}
			}
		}
	default:
		err = fmt.Errorf("unknown kind %q", el.Kind)
	}
	if err != nil {
		return Entry{Seq: el.Seq}, nil, err
	}
	raw, err := canon.Marshal(body)
	if err != nil {
		return Entry{Seq: el.Seq}, nil, err
	}
	e := Entry{Seq: el.Seq, Prev: el.Prev, Time: el.Time, Kind: el.Kind, Body: raw}
	return e, encodeEntry(e), nil
}

func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

func jsonAs[T any](b []byte) (T, error) {
	var v T
	err := strictJSON(b, &v)
	return v, err
}

// VerifyExport checks an export offline, as Verify checks a database:
// every CID recomputed from the fields, links, rules, the money invariants,
// and every checkpoint's signature by the node the checkpoints name (all
// must name the same node, which the Report gives). With deep, receipts'
// and settlements' signatures too. The export must end with its trailer,
// signed by that node and naming the last entry: one cut short, or from
// before exports had trailers, is a CorruptionError wrapping ErrNoTrailer
// (VerifyExportWith can accept the latter). A trailer proves the export
// whole as the node wrote it, not that the node has written nothing since:
// compare Report.Head with a head you trust for that.
func VerifyExport(ctx context.Context, r io.Reader, v canon.Verifier, deep bool) (Report, error) {
	return verifyExport(ctx, r, v, VerifyExportOptions{Deep: deep}, nil)
}

// VerifyExportOptions are VerifyExportWith's choices.
type VerifyExportOptions struct {
	Deep           bool // also every receipt's and settlement's signatures
	AllowUntrailed bool // accept an export without a trailer (written before trailers), reporting Report.Trailer false
}

// VerifyExportWith is VerifyExport with options.
func VerifyExportWith(ctx context.Context, r io.Reader, v canon.Verifier, o VerifyExportOptions) (Report, error) {
	return verifyExport(ctx, r, v, o, nil)
}

// verifyExport is VerifyExport that hands every entry, once it verified in
// order, to applied (when not nil).
func verifyExport(ctx context.Context, r io.Reader, v canon.Verifier, o VerifyExportOptions, applied func(*prepared) error) (Report, error) {
	deep := o.Deep
	start := time.Now()
	rep := Report{Deep: deep}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 16<<20)
	var line uint64
	next := func(buf []item) ([]item, error) {
		for len(buf) < cap(buf) && sc.Scan() {
			line++
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			buf = append(buf, item{raw: bytes.Clone(sc.Bytes()), keySeq: line})
		}
		if err := sc.Err(); err != nil {
			return buf, fmt.Errorf("settlement: read export: %w", err)
		}
		return buf, nil
	}
	decode := func(x *item) {
		if isTrailer(x.raw) {
			var tl trailerLine
			if err := strictJSON(x.raw, &tl); err != nil || tl.Trailer == nil {
				x.err = fmt.Errorf("line %d: %v", x.keySeq, cmp.Or(err, errors.New("empty trailer")))
				return
			}
			x.trailer = tl.Trailer
			return
		}
		e, enc, err := importLine(x.raw)
		if err != nil {
			seq := e.Seq
			if seq == 0 {
				seq = x.keySeq
			}
			x.err = corruptf(seq, err, "line %d does not decode as an entry", x.keySeq)
			return
		}
		x.p, x.err = prepareEntry(e, enc, v, deep)
	}
	ec := &exportChecker{rep: &rep, applied: applied}
	err := pipeline(ctx, next, decode, ec.apply)
	if err == nil {
		err = ec.finish()
	}
	if err == nil {
		err = ec.checkTrailer(v, o.AllowUntrailed)
	}
	rep.Duration = time.Since(start)
	return rep, err
}

// exportChecker learns whose ledger it reads from the first checkpoint:
// until then (at most one group) entries wait, since receipts and
// settlements mean different things for their two parties.
type exportChecker struct {
	rep     *Report
	c       *checker
	pending []*item
	applied func(*prepared) error
	trailer *ExportTrailer
	last    uint64 // the last entry's seq, as lines go by
}

func (ec *exportChecker) apply(x *item) error {
	if ec.trailer != nil {
		return corruptf(ec.last+1, nil, "line %d comes after the export's trailer", x.keySeq)
	}
	if x.trailer != nil {
		ec.trailer = x.trailer
		return nil
	}
	if x.err != nil && isTrailer(x.raw) {
		return corruptf(ec.last+1, x.err, "the export's trailer does not decode")
	}
	if x.p != nil {
		ec.last = x.p.entry.Seq
	}
	if ec.c != nil {
		return ec.c.apply(x)
	}
	if x.err != nil {
		if err := linkCheck(ec.pending); err != nil {
			return err
		}
		return x.err
	}
	cp, ok := x.p.body.(Checkpoint)
	if !ok {
		ec.pending = append(ec.pending, x)
		return nil
	}
	ec.rep.Node = cp.Node
	ec.c = &checker{st: newState(cp.Node, nil), rep: ec.rep, applied: ec.applied}
	for _, p := range ec.pending {
		if err := ec.c.apply(p); err != nil {
			return err
		}
	}
	ec.pending = nil
	return ec.c.apply(x)
}

func (ec *exportChecker) finish() error {
	if ec.c == nil {
		if len(ec.pending) == 0 {
			return nil // an empty ledger
		}
		if err := linkCheck(ec.pending); err != nil {
			return err
		}
		return corruptf(1, nil, "the export has no checkpoint: nothing says whose ledger it is")
	}
	return ec.c.finish()
}

// linkCheck finds the first broken link among entries not yet applied.
func linkCheck(items []*item) error {
	st := newState("", nil)
	for _, x := range items {
		e := x.p.entry
		if e.Seq != st.seq+1 || e.Prev != st.head || e.Time < st.time {
			p := *x.p
			p.body = Attestation{} // links only
			return st.apply(&p)
		}
		st.seq, st.head, st.time = e.Seq, x.p.cid, e.Time
	}
	return nil
}

// checkTrailer checks, once every entry verified, that the export ended
// with the trailer its node signed over its last entry.
func (ec *exportChecker) checkTrailer(v canon.Verifier, allowUntrailed bool) error {
	t := ec.trailer
	seq, head := ec.rep.Seq, ec.rep.Head
	if t == nil {
		if allowUntrailed {
			return nil
		}
		return corruptf(seq+1, ErrNoTrailer, "the export ends at entry %d without the trailer that says it is whole: it was cut short, or written before exports had trailers (export it again)", seq)
	}
	if ec.rep.Node != "" && t.Node != ec.rep.Node {
		return corruptf(seq+1, nil, "the export's trailer is by %s, its checkpoints by %s", t.Node, ec.rep.Node)
	}
	if v != nil {
		if err := verifyTrailer(v, *t); err != nil {
			return corruptf(seq+1, err, "the export's trailer")
		}
	}
	switch {
	case t.Seq > seq:
		return corruptf(seq+1, ErrNoTrailer, "the export ends at entry %d, its trailer says %d: it was cut short", seq, t.Seq)
	case t.Seq < seq:
		return corruptf(t.Seq+1, nil, "the export's trailer says it ends at entry %d, but entries up to %d follow", t.Seq, seq)
	case t.Head != head:
		return corruptf(seq, nil, "the export's trailer names %s as entry %d, the export holds %s", t.Head, seq, head)
	}
	if ec.rep.Node == "" {
		ec.rep.Node = t.Node
	}
	ec.rep.Trailer, ec.rep.Exported = true, t.Time
	return nil
}
