package settlement

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hayek-market/hayek/internal/canon"
)

// Audit checks exports of several nodes' ledgers against each other. Each
// export must verify on its own (deeply: every receipt's and settlement's
// signatures); then, for every pair of nodes given, every receipt and
// settlement between them is looked up in both ledgers:
//
//   - A receipt or settlement one ledger holds and the other lacks, though
//     the other's export runs past it, is a FindingMissing: a provider that
//     drops a receipt it countersigned hides income, a requester that drops
//     one hides a debt its own signature proves.
//   - A receipt names the ledger heads of both parties when each signed.
//     A head its owner's chain does not contain is a FindingHeadMissing: the
//     history it signed over was rewritten. A head that comes after the
//     receipt in its owner's chain is a FindingHeadOrder.
//   - Two receipts between the same pair for the same job and attempt are a
//     FindingConflict: the requester signed twice for one run.
//
// A receipt newer than the other export's last entry is a FindingNewer, not
// a fault: export both ledgers again and audit once more. A ledger that
// declared a loss (a lost entry, written by Recover) is not blamed for what
// the loss explains: a receipt it re-appended from the other's export, or
// one the other holds from the time of the loss, whose head (or itself) it
// lacks, is a FindingLost, not a fault either. With every entry
// accounted for, the two bilateral balances of a pair are opposites
// (AuditPair.Agree).
//
// Audit reads each export once and keeps, per export, the CIDs of its
// entries and its receipts and settlements in memory.
func Audit(ctx context.Context, v canon.Verifier, exports ...AuditInput) (AuditReport, error) {
	var out AuditReport
	byNode := map[string]*auditLedger{}
	var ledgers []*auditLedger
	for _, in := range exports {
		al, err := readAudited(ctx, v, in)
		if err != nil {
			return out, err
		}
		if prev, ok := byNode[al.node]; ok {
			return out, fmt.Errorf("settlement: audit: %s and %s are both exports of node %s: give one export per node", prev.name, al.name, al.node)
		}
		byNode[al.node] = al
		ledgers = append(ledgers, al)
	}
	slices.SortFunc(ledgers, func(a, b *auditLedger) int { return cmp.Compare(a.node, b.node) })
	for _, al := range ledgers {
		led := AuditedLedger{Name: al.name, Report: al.rep, Time: al.lastTime}
		for peer, items := range al.items {
			if byNode[peer] == nil {
				led.Unchecked += len(items)
			}
		}
		out.Ledgers = append(out.Ledgers, led)
	}
	for i, a := range ledgers {
		for _, b := range ledgers[i+1:] {
			p, err := auditPair(a, b)
			if err != nil {
				return out, err
			}
			out.Pairs = append(out.Pairs, p)
		}
	}
	return out, nil
}

// AuditInput is one export to audit.
type AuditInput struct {
	Name           string // how the report refers to it, a file name say
	R              io.Reader
	AllowUntrailed bool // accept an export written before exports had trailers
}

// AuditReport is what Audit found.
type AuditReport struct {
	Ledgers []AuditedLedger // one per export, by node ID
	Pairs   []AuditPair     // one per pair of nodes given
}

// Faults counts the findings that are faults (all but FindingNewer and
// FindingLost).
func (r AuditReport) Faults() int {
	n := 0
	for _, p := range r.Pairs {
		for _, f := range p.Findings {
			if f.Kind != FindingNewer && f.Kind != FindingLost {
				n++
			}
		}
	}
	return n
}

// AuditedLedger is one export as it verified.
type AuditedLedger struct {
	Name string
	Report
	Time      int64 // its last entry's time, Unix ms: how recent the export is
	Unchecked int   // receipts and settlements with nodes whose export was not given
}

// AuditPair is what two ledgers say about each other.
type AuditPair struct {
	A, B     string // node IDs, A < B
	Shared   int    // receipts and settlements both ledgers hold
	BalanceA int64  // A's bilateral balance with B: positive when B owes A
	BalanceB int64  // B's with A
	Findings []Finding
}

// Agree reports whether the two balances are opposites: both ledgers say the
// same debt.
func (p AuditPair) Agree() bool { return p.BalanceA == -p.BalanceB }

// Finding kinds.
const (
	FindingMissing     = "missing"
	FindingHeadMissing = "head_missing"
	FindingHeadOrder   = "head_order"
	FindingConflict    = "conflict"
	FindingNewer       = "newer"
	FindingLost        = "lost"
)

// Finding is one disagreement between two ledgers.
type Finding struct {
	Kind    string
	Subject string // the node whose ledger is at fault (or, for newer, whose export is older)
	Holder  string // the node whose ledger holds the evidence
	Seq     uint64 // the evidence's entry in Holder's ledger
	Item    string // the receipt's or settlement's ID (CID of its signed body)
	Job     string // for receipts
	Amount  int64  // price or settled amount
	Detail  string // what is wrong, in a sentence
}

// auditLedger is what Audit keeps of one export.
type auditLedger struct {
	name     string
	node     string
	rep      Report
	lastTime int64
	cids     map[string]uint64               // entry CID → seq
	items    map[string]map[string]auditItem // peer → item ID → item
	losses   []auditLoss                     // the losses it declared
}

// auditLoss is a loss a ledger declared (a lost entry).
type auditLoss struct {
	seq       uint64
	time      int64 // of the lost entry
	keptTime  int64 // of the last entry kept before the loss
	kept      uint64
	want      uint64
	reapplied map[string]bool
}

// lostSkew is how much earlier than a ledger's last kept entry a
// counterparty's copy of an entry may be stamped and still be taken as part
// of the loss: the two nodes' clocks and the receipt protocol's round trip.
const lostSkew = 10 * 60 * 1000 // ms

// lossCovering is the declared loss that explains a missing item, or a
// missing head named by it: the loss re-appended the item, or the item's
// time (in the ledger holding it) falls between the last entry kept and
// the declaration.
func (al *auditLedger) lossCovering(id string, t int64) (auditLoss, bool) {
	for _, l := range al.losses {
		if l.reapplied[id] || t > l.keptTime-lostSkew && t <= l.time {
			return l, true
		}
	}
	return auditLoss{}, false
}

func (l auditLoss) describe(owner string) string {
	span := fmt.Sprintf("after entry %d", l.kept)
	if l.want > l.kept {
		span = fmt.Sprintf("%d..%d", l.kept+1, l.want)
	}
	return fmt.Sprintf("%s declared entries %s lost at entry %d", short(owner), span, l.seq)
}

// auditItem is a receipt or settlement as one party's ledger holds it.
type auditItem struct {
	seq      uint64
	time     int64 // of its entry
	kind     Kind
	job      string
	attempt  uint32
	amount   int64 // price or settled amount
	effect   int64 // on the holder's balance with the peer
	selfHead string
	peerHead string
}

func readAudited(ctx context.Context, v canon.Verifier, in AuditInput) (*auditLedger, error) {
	al := &auditLedger{name: in.Name, cids: map[string]uint64{}, items: map[string]map[string]auditItem{}}
	var pending []*prepared // before the first checkpoint names the node
	collect := func(p *prepared) {
		if b, ok := p.body.(Lost); ok {
			l := auditLoss{seq: p.entry.Seq, time: p.entry.Time, keptTime: al.lastTime, kept: b.Kept, want: b.Want, reapplied: map[string]bool{}}
			for _, id := range b.Reapplied {
				l.reapplied[id] = true
			}
			al.losses = append(al.losses, l)
		}
		al.cids[p.cid] = p.entry.Seq
		al.lastTime = p.entry.Time
		var (
			peer string
			it   = auditItem{seq: p.entry.Seq, time: p.entry.Time, kind: p.entry.Kind}
			id   string
		)
		switch b := p.body.(type) {
		case openedReceipt:
			r := b.r
			id, it.job, it.attempt, it.amount = b.id, r.Job, r.Attempt, r.Price
			if al.node == r.Requester {
				peer, it.effect, it.selfHead, it.peerHead = r.Provider, -r.Price, r.RequesterHead, b.signed.ProviderHead
			} else {
				peer, it.effect, it.selfHead, it.peerHead = r.Requester, r.Price, b.signed.ProviderHead, r.RequesterHead
			}
		case openedSettle:
			s := b.s
			id, it.amount = b.id, s.Amount
			if al.node == s.Creditor {
				peer, it.effect = s.Debtor, -s.Amount
			} else {
				peer, it.effect = s.Creditor, s.Amount
			}
		default:
			return
		}
		if al.items[peer] == nil {
			al.items[peer] = map[string]auditItem{}
		}
		al.items[peer][id] = it
	}
	applied := func(p *prepared) error {
		if cp, ok := p.body.(Checkpoint); ok && al.node == "" {
			al.node = cp.Node
			for _, q := range pending {
				collect(q)
			}
			pending = nil
		}
		if al.node == "" {
			pending = append(pending, p)
			return nil
		}
		collect(p)
		return nil
	}
	rep, err := verifyExport(ctx, in.R, v, VerifyExportOptions{Deep: true, AllowUntrailed: in.AllowUntrailed}, applied)
	if err != nil {
		return nil, fmt.Errorf("settlement: audit: %s does not verify: %w", in.Name, err)
	}
	if rep.Entries == 0 {
		return nil, fmt.Errorf("settlement: audit: %s is an empty ledger: nothing to audit", in.Name)
	}
	al.rep = rep
	return al, nil
}

// auditPair checks a's and b's ledgers against each other.
func auditPair(a, b *auditLedger) (AuditPair, error) {
	p := AuditPair{A: a.node, B: b.node}
	var balA, balB accumulator
	for _, it := range a.items[b.node] {
		balA.add(it.effect)
	}
	for _, it := range b.items[a.node] {
		balB.add(it.effect)
	}
	if balA.overflow || balB.overflow {
		// Each export verified, so each balance fits; only the sum of
		// items one of them lacks could leave the range.
		return p, fmt.Errorf("settlement: audit: the receipts and settlements between %s and %s add up past the int64 range: these exports cannot both be right", short(a.node), short(b.node))
	}
	p.BalanceA, p.BalanceB = balA.v, balB.v
	for id := range a.items[b.node] {
		if _, ok := b.items[a.node][id]; ok {
			p.Shared++
		}
	}
	p.Findings = append(p.Findings, crossCheck(a, b)...)
	p.Findings = append(p.Findings, crossCheck(b, a)...)
	p.Findings = append(p.Findings, conflicts(a, b)...)
	slices.SortFunc(p.Findings, func(x, y Finding) int {
		return cmp.Or(cmp.Compare(x.Holder, y.Holder), cmp.Compare(x.Seq, y.Seq), cmp.Compare(x.Kind, y.Kind))
	})
	return p, nil
}

// crossCheck looks up every item x holds about y in y's ledger, and the
// heads each receipt names in their owners' chains.
func crossCheck(x, y *auditLedger) []Finding {
	var out []Finding
	for id, it := range x.items[y.node] {
		what := describe(it, x.node, y.node)
		add := func(kind, subject, detail string) {
			out = append(out, Finding{Kind: kind, Subject: subject, Holder: x.node, Seq: it.seq, Item: id, Job: it.job, Amount: it.amount, Detail: detail})
		}
		theirs, held := y.items[x.node][id]
		// y's export may end before this item (and the head it names).
		newer := !held && it.time > y.lastTime
		if it.kind == KindReceipt {
			// x's own head, in x's chain, before the receipt.
			if kind, detail := headCheck(x, it.selfHead, it.seq, what, "its own", id, it.time); kind != "" {
				add(kind, x.node, detail)
			}
			// y's head as x's copy names it, in y's chain, before y's copy.
			if !newer {
				if kind, detail := headCheck(y, it.peerHead, theirs.seq, what, short(y.node)+"'s", id, it.time); kind != "" {
					add(kind, y.node, detail)
				}
			}
		}
		loss, lost := y.lossCovering(id, it.time)
		switch {
		case held:
		case lost:
			add(FindingLost, y.node, fmt.Sprintf("%s is entry %d of %s's ledger and missing from %s's, which %s", what, it.seq, short(x.node), short(y.node),
				strings.TrimPrefix(loss.describe(y.node), short(y.node)+" ")))
		case newer:
			add(FindingNewer, y.node, fmt.Sprintf("%s is newer than %s's export (its last entry is at %d ms, this one at %d ms): export it again",
				what, short(y.node), y.lastTime, it.time))
		default:
			add(FindingMissing, y.node, fmt.Sprintf("%s is entry %d of %s's ledger but missing from %s's", what, it.seq, short(x.node), short(y.node)))
		}
	}
	return out
}

// headCheck finds a head that owner's chain lacks, or holds at or after
// seq (when seq is known, not 0), and says so. An empty head is an empty
// ledger's. A missing head that a loss the owner declared explains (for
// the item id, stamped t) is FindingLost.
func headCheck(owner *auditLedger, head string, seq uint64, what, whose, id string, t int64) (kind, detail string) {
	if head == "" {
		return "", ""
	}
	at, ok := owner.cids[head]
	if loss, lost := owner.lossCovering(id, t); !ok && lost {
		return FindingLost, fmt.Sprintf("%s names %s ledger head %s, which %s's chain does not contain: %s",
			what, whose, head, short(owner.node), loss.describe(owner.node))
	}
	switch {
	case !ok:
		return FindingHeadMissing, fmt.Sprintf("%s names %s ledger head %s, which %s's chain (up to entry %d) does not contain: the history it signed over was rewritten",
			what, whose, head, short(owner.node), owner.rep.Seq)
	case seq != 0 && at >= seq:
		return FindingHeadOrder, fmt.Sprintf("%s names %s ledger head at entry %d, but %s's chain holds the receipt at entry %d, before that head",
			what, whose, at, short(owner.node), seq)
	}
	return "", ""
}

// conflicts finds two receipts between a and b for the same job and
// attempt, in either ledger.
func conflicts(a, b *auditLedger) []Finding {
	type run struct {
		job     string
		attempt uint32
	}
	type seen struct {
		id     string
		holder *auditLedger
		it     auditItem
	}
	first := map[run]seen{}
	reported := map[string]bool{}
	var out []Finding
	for _, x := range []*auditLedger{a, b} {
		other := b
		if x == b {
			other = a
		}
		ids := make([]string, 0, len(x.items[other.node]))
		for id := range x.items[other.node] {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			it := x.items[other.node][id]
			if it.kind != KindReceipt {
				continue
			}
			k := run{it.job, it.attempt}
			s, ok := first[k]
			if !ok {
				first[k] = seen{id, x, it}
				continue
			}
			if s.id == id || reported[id] {
				continue
			}
			reported[id] = true
			requester := x.node
			if it.effect > 0 {
				requester = other.node
			}
			out = append(out, Finding{Kind: FindingConflict, Subject: requester, Holder: x.node, Seq: it.seq, Item: id, Job: it.job, Amount: it.amount,
				Detail: fmt.Sprintf("two receipts for job %s attempt %d between the same peers: %s (entry %d of %s's ledger) and %s (entry %d of %s's)",
					it.job, it.attempt, s.id, s.it.seq, short(s.holder.node), id, it.seq, short(x.node))})
		}
	}
	return out
}

func describe(it auditItem, holder, peer string) string {
	if it.kind == KindSettle {
		if it.effect < 0 {
			return fmt.Sprintf("the settlement of %d %s paid %s", it.amount, short(peer), short(holder))
		}
		return fmt.Sprintf("the settlement of %d %s paid %s", it.amount, short(holder), short(peer))
	}
	if it.effect < 0 {
		return fmt.Sprintf("the receipt for job %s (attempt %d, price %d, run by %s)", it.job, it.attempt, it.amount, short(peer))
	}
	return fmt.Sprintf("the receipt for job %s (attempt %d, price %d, run by %s)", it.job, it.attempt, it.amount, short(holder))
}

// short abbreviates a peer ID for messages.
func short(id string) string {
	if len(id) > 16 {
		return id[:4] + "…" + id[len(id)-6:]
	}
	return id
}
