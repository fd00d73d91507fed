package settlement

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hayek-market/hayek/internal/canon"
)

// ErrNothingLost: Recover was asked to recover a ledger that lost nothing.
var ErrNothingLost = errors.New("settlement: nothing to recover: the ledger holds every entry its head file says was acknowledged (open it as it is)")

// RecoverOptions say what Recover may use and do.
type RecoverOptions struct {
	// Exports are counterparties' ledger exports (Export, hayek ledger
	// export). Each must verify deeply; every receipt and settlement in
	// them that names this node as a party, and that this ledger lacks, is
	// re-appended. None: the loss is only recorded.
	Exports []AuditInput
	// ReleaseOpenHolds releases, after the re-appended entries, every hold
	// still open: the node keeps its jobs in memory, so a job whose hold
	// survived the loss cannot settle it any more (the node would release
	// it on start anyway).
	ReleaseOpenHolds bool
	// AllowUntrailed accepts exports written before exports ended with a
	// signed trailer (see VerifyExportOptions).
	AllowUntrailed bool
}

// RecoveredItem is a receipt or settlement found in a counterparty's export.
type RecoveredItem struct {
	ID      string `json:"id"`               // CID of its signed body
	Kind    Kind   `json:"kind"`             // KindReceipt or KindSettle
	Peer    string `json:"peer"`             // the counterparty whose export holds it
	PeerSeq uint64 `json:"peer_seq"`         // its entry in the counterparty's ledger
	Job     string `json:"job,omitempty"`    // receipts
	Amount  int64  `json:"amount"`           // price or settled amount
	Seq     uint64 `json:"seq,omitempty"`    // its entry in this ledger once re-appended (0 if not)
	Reason  string `json:"reason,omitempty"` // why it was not re-appended
}

// RecoverReport is what Recover found and did.
type RecoverReport struct {
	Found     LostWritesError `json:"found"`     // what Open refused the ledger for
	Lost      Entry           `json:"lost"`      // the lost entry Recover appended
	Reapplied []RecoveredItem `json:"reapplied"` // re-appended, in order
	Skipped   []RecoveredItem `json:"skipped"`   // found but not re-appended, with the reason
	Present   int             `json:"present"`   // found and already in this ledger
	Released  int             `json:"released"`  // holds released (ReleaseOpenHolds)
	Covered   int64           `json:"covered"`   // funded by the recovery to pay re-appended receipts whose holds were lost
	Seq       uint64          `json:"seq"`       // the head after the recovery
	Head      string          `json:"head"`
}

// Recover opens a ledger that Open refuses with a LostWritesError and makes
// it whole again, honestly: it appends, in one atomic group right after the
// last entry that survived,
//
//  1. a lost entry, signed by the node, naming the last entry kept, the
//     last acknowledged one the head file named, the nodes whose exports it
//     read and the receipts and settlements it re-appends;
//  2. every receipt and settlement in those exports that names this node
//     and that the ledger lacks, in the order the counterparties recorded
//     them. Their money moves as the rules say. A receipt as requester
//     whose hold was lost (or no longer covers it) is covered first: the
//     shortfall is funded and held in the hold's agent if the hold survived
//     (its budget is left as it was), in RecoveredAgent if nothing says
//     whose job it was. One that still breaks a rule is skipped and
//     reported;
//  3. with ReleaseOpenHolds, the release of every hold left open.
//
// The head file is rewritten only once that group is durable, so a failed
// recovery leaves the evidence of the loss as it was. Entries lost that no
// counterparty holds — funds, holds, governance, outcomes, attestations —
// are gone; the lost entry says how many there were. A ledger that lost
// nothing is ErrNothingLost; one whose surviving chain does not verify is
// the CorruptionError, which no recovery fixes.
func Recover(ctx context.Context, dir string, o Options, ro RecoverOptions) (rep RecoverReport, err error) {
	l, found, err := open(ctx, dir, o, true)
	if err != nil {
		return rep, err
	}
	defer func() {
		if cerr := l.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if found == nil {
		return rep, ErrNothingLost
	}
	rep.Found = *found
	if _, err := l.verify(ctx, false); err != nil {
		return rep, fmt.Errorf("settlement: recover: the entries that survived do not verify, which no recovery fixes: %w", err)
	}
	items, sources, err := l.gather(ctx, ro)
	if err != nil {
		return rep, err
	}
	pl, err := l.plan(items, ro.ReleaseOpenHolds, found)
	if err != nil {
		return rep, err
	}
	lp, err := l.prepareLost(pl.lostBody(l.self, found, sources))
	if err != nil {
		return rep, err
	}
	es, err := l.appendPrepared(ctx, append([]*prepared{lp}, pl.drafts...))
	if err != nil {
		return rep, fmt.Errorf("settlement: recover: %w (nothing was appended; the ledger is as it was)", err)
	}
	rep.Lost = es[0]
	for i, it := range pl.reapplied {
		it.Seq = es[1+pl.at[i]].Seq
		rep.Reapplied = append(rep.Reapplied, it)
	}
	rep.Skipped, rep.Present, rep.Released, rep.Covered = pl.skipped, pl.present, pl.released, pl.covered
	rep.Seq, rep.Head = l.Head()
	l.opts.Logger.Warn("settlement: recovered a ledger that lost writes", "kept", found.Have, "want", found.Want,
		"reapplied", len(rep.Reapplied), "skipped", len(rep.Skipped), "seq", rep.Seq)
	return rep, nil
}

// candidate is a RecoveredItem with what it takes to re-append it.
type candidate struct {
	RecoveredItem
	time    int64 // of its entry in the counterparty's ledger
	receipt *Receipt
	draft   Draft
}

// gather reads the exports and collects what names this node.
func (l *Ledger) gather(ctx context.Context, ro RecoverOptions) ([]candidate, []string, error) {
	var (
		out     []candidate
		sources []string
		seen    = map[string]bool{}
	)
	for _, in := range ro.Exports {
		var got []candidate
		collect := func(p *prepared) error {
			c := candidate{RecoveredItem: RecoveredItem{PeerSeq: p.entry.Seq, Kind: p.entry.Kind}, time: p.entry.Time}
			switch b := p.body.(type) {
			case openedReceipt:
				if b.r.Requester != l.self && b.r.Provider != l.self {
					return nil
				}
				r := b.r
				c.ID, c.Job, c.Amount, c.receipt, c.draft = b.id, r.Job, r.Price, &r, Draft{Kind: KindReceipt, Body: b.signed}
			case openedSettle:
				if b.s.Debtor != l.self && b.s.Creditor != l.self {
					return nil
				}
				c.ID, c.Amount, c.draft = b.id, b.s.Amount, Draft{Kind: KindSettle, Body: b.signed}
			default:
				return nil
			}
			got = append(got, c)
			return nil
		}
		xr, err := verifyExport(ctx, in.R, l.opts.Verifier, VerifyExportOptions{Deep: true, AllowUntrailed: ro.AllowUntrailed}, collect)
		if err != nil {
			return nil, nil, fmt.Errorf("settlement: recover: %s does not verify: %w", in.Name, err)
		}
		switch {
		case xr.Entries == 0:
			return nil, nil, fmt.Errorf("settlement: recover: %s is an empty ledger", in.Name)
		case xr.Node == l.self:
			return nil, nil, fmt.Errorf("settlement: recover: %s is an export of this node's own ledger: give exports of its counterparties' ledgers", in.Name)
		case slices.Contains(sources, xr.Node):
			return nil, nil, fmt.Errorf("settlement: recover: two exports of node %s: give one per node, the newest", xr.Node)
		}
		sources = append(sources, xr.Node)
		for _, c := range got {
			c.Peer = xr.Node
			if !seen[c.ID] {
				seen[c.ID] = true
				out = append(out, c)
			}
		}
	}
	slices.SortFunc(out, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.time, b.time), cmp.Compare(a.Peer, b.Peer), cmp.Compare(a.PeerSeq, b.PeerSeq))
	})
	slices.Sort(sources)
	return out, sources, nil
}

// recoveryPlan is what the dry run accepted.
type recoveryPlan struct {
	drafts    []*prepared     // after the lost entry
	reapplied []RecoveredItem // re-appended items, in order
	at        []int           // index in drafts of each reapplied item's own entry
	skipped   []RecoveredItem
	present   int
	released  int
	covered   int64
}

func (pl *recoveryPlan) lostBody(self string, found *LostWritesError, sources []string) Lost {
	ids := make([]string, len(pl.reapplied))
	for i, it := range pl.reapplied {
		ids[i] = it.ID
	}
	detail := fmt.Sprintf("recovered from %d counterparties' exports: %d receipts and settlements re-appended, %d skipped, %d already present; %d holds released",
		len(sources), len(ids), len(pl.skipped), pl.present, pl.released)
	if found.Detail != "" {
		detail = found.Detail + "; " + detail
	}
	return Lost{Node: self, Reason: found.Reason, Kept: found.Have, KeptHead: found.HaveHead, Want: found.Want, WantHead: found.WantHead,
		Sources: sources, Reapplied: ids, Covered: pl.covered, Detail: detail}
}

// plan runs the recovery dry on the ledger's state (journaled, then rolled
// back): which candidates the rules accept, and with which covering
// entries. The append that follows runs the same rules on the same state,
// so it accepts the same.
func (l *Ledger) plan(cands []candidate, releaseOpen bool, found *LostWritesError) (*recoveryPlan, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.st
	st.beginGroup()
	start := st.save()
	defer func() {
		st.rollback(start)
		st.endGroup(false)
	}()
	t := max(l.opts.Now().UnixMilli(), st.time)
	apply := func(p *prepared) error {
		p.entry.Seq, p.entry.Prev, p.entry.Time = st.seq+1, st.head, t
		p.enc = encodeEntry(p.entry)
		p.cid = docCID(p.enc)
		return st.apply(p)
	}
	// The lost entry goes first; a stand-in takes its place in the dry run.
	stand := Lost{Node: l.self, Reason: found.Reason, Kept: st.seq, KeptHead: st.head, Sig: []byte{0}}
	raw := canon.MustMarshal(stand)
	if err := apply(&prepared{entry: Entry{Kind: KindLost, Body: raw}, body: stand}); err != nil {
		return nil, fmt.Errorf("settlement: recover: %w", err)
	}
	pl := &recoveryPlan{}
	for _, c := range cands {
		if _, ok, err := st.seenAt(c.ID); err != nil {
			return nil, err
		} else if ok {
			pl.present++
			continue
		}
		drafts, covered, err := recoveryDrafts(st, c)
		if err != nil {
			return nil, err
		}
		sp := st.save()
		var (
			ps  []*prepared
			bad error
		)
		for _, d := range drafts {
			p, err := l.prepare(d)
			if err == nil {
				err = apply(p)
			}
			if err != nil {
				bad = err
				break
			}
			ps = append(ps, p)
		}
		if bad != nil {
			st.rollback(sp)
			c.Reason = strings.TrimPrefix(bad.Error(), "settlement: ")
			pl.skipped = append(pl.skipped, c.RecoveredItem)
			continue
		}
		pl.drafts = append(pl.drafts, ps...)
		pl.at = append(pl.at, len(pl.drafts)-1) // the item's own entry comes last
		pl.reapplied = append(pl.reapplied, c.RecoveredItem)
		pl.covered += covered
	}
	if releaseOpen {
		var open []HoldState
		for _, h := range st.holds {
			if !h.Closed && h.Remaining > 0 {
				open = append(open, h)
			}
		}
		slices.SortFunc(open, func(a, b HoldState) int { return cmp.Compare(a.Job, b.Job) })
		for _, h := range open {
			p, err := l.prepare(Draft{Kind: KindRelease, Body: Release{Job: h.Job, Amount: h.Remaining,
				Reason: "recovery: the node's jobs did not survive the loss of its ledger entries"}})
			if err == nil {
				err = apply(p)
			}
			if err != nil {
				return nil, fmt.Errorf("settlement: recover: release the hold of job %s: %w", h.Job, err)
			}
			pl.drafts = append(pl.drafts, p)
			pl.released++
		}
	}
	return pl, nil
}

// recoveryDrafts are the entries that re-append c on the state as it
// stands: the item itself, preceded, for a receipt as requester that no
// open hold covers, by what covers it. covered is what they fund.
func recoveryDrafts(st *state, c candidate) ([]Draft, int64, error) {
	r := c.receipt
	if r == nil || r.Requester != st.self {
		return []Draft{c.draft}, 0, nil
	}
	h, ok, err := st.getHold(r.Job)
	if err != nil {
		return nil, 0, err
	}
	note := fmt.Sprintf("recovery: covers receipt %s for job %s, re-applied from %s's export; its hold was lost", c.ID, r.Job, c.Peer)
	cover := func(agent string, fund int64) []Draft {
		return []Draft{
			{Kind: KindFund, Body: Fund{Agent: agent, Amount: fund, Note: note}},
			{Kind: KindHold, Body: Hold{Job: r.Job, Agent: agent, Amount: r.Price}},
			c.draft,
		}
	}
	switch {
	case ok && !h.Closed && h.Remaining >= r.Price:
		return []Draft{c.draft}, 0, nil
	case ok && !h.Closed:
		// What is left goes back, then the hold is made whole again.
		rel := Draft{Kind: KindRelease, Body: Release{Job: r.Job, Amount: h.Remaining, Reason: note}}
		return append([]Draft{rel}, cover(h.Agent, r.Price-h.Remaining)...), r.Price - h.Remaining, nil
	case ok:
		return cover(h.Agent, r.Price), r.Price, nil
	default:
		return cover(RecoveredAgent, r.Price), r.Price, nil
	}
}

// prepareLost prepares the lost entry, signed by the node.
func (l *Ledger) prepareLost(b Lost) (*prepared, error) {
	b, err := signLost(l.opts.Signer, b)
	if err != nil {
		return nil, err
	}
	raw, err := canon.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("settlement: encode the lost entry: %w", err)
	}
	body, err := parseBody(KindLost, raw)
	if err != nil {
		return nil, err
	}
	if err := verifySigs(l.opts.Verifier, body); err != nil {
		return nil, err
	}
	return &prepared{entry: Entry{Kind: KindLost, Body: raw}, body: body}, nil
}
