package evidence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"golang.org/x/sync/errgroup"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
	"github.com/hayek-market/hayek/settlement"
)

// Topic carries signed attestations: batches of first-hand evidence, each
// positive report carrying its countersigned receipt.
const Topic = "/hayek/reputation/1"

const maxAttestation = 128 << 10

// KindAttestation is the envelope kind of attestations.
const KindAttestation = "attestation"

// Ledger is what the service needs of the node's ledger: outcomes and
// attestations are read back on start, attestations appended.
type Ledger interface {
	Entries(ctx context.Context, f settlement.Filter) ([]settlement.Entry, error)
	Append(ctx context.Context, kind settlement.Kind, body any) (settlement.Entry, error)
}

// Config is what the service takes from the node's configuration.
type Config struct {
	HalfLife    time.Duration // of first-hand evidence
	AttestEvery time.Duration // longest a report waits to be attested
	Freshness   time.Duration // accepted clock skew of messages
	Epsilon     float64       // a replica group is accepted at credibility 1 − Epsilon
	CreditLimit int64         // a stranger's credit
	CreditMax   int64         // the most credit anyone gets
	// CatchWindow is how long a provider another requester caught stays
	// a suspect here (its results checked every time); 0: catches are
	// neither sent nor received.
	CatchWindow time.Duration
	// CatchTrust is the lower bound a checker of a catch needs here, with
	// a first-hand reliability above a stranger's, for the catch to be
	// acted on: CheckPolicy's Trusted.
	CatchTrust float64
	// MaxGossip is the largest message the gossip router carries: a
	// catch is kept within it and maxCatch. 0: maxCatch alone.
	MaxGossip int
	// CatchScore is the peer scoring of the catch topic (the auction
	// topics': a forwarder of forged catches loses score); nil: none.
	CatchScore *pubsub.TopicScoreParams
	// SuspectsFile keeps the suspects across a restart (in the node's
	// home), so that restarting does not excuse a provider another
	// requester caught; "": they live in memory only.
	SuspectsFile string
}

// Deps are what the reputation service needs.
type Deps struct {
	Signer   canon.Signer
	Verifier canon.Verifier
	Ledger   Ledger
	Drops    *wire.Drops
	Log      *slog.Logger
	Now      func() time.Time
	Config
}

// Service is this node's belief about its peers: a reputation.Book fed
// with first-hand evidence (from its own jobs, also written to the ledger
// as outcome entries, so the book is rebuilt on restart) and with
// attestations gossiped by peers, weighed by what the node itself knows of
// each reporter. It is the market's Reputation and replica Decider.
type Service struct {
	d    Deps
	self string
	book *reputation.Book

	// Standings and credit limits are read for every bid and call; they
	// change only when evidence arrives or time passes, so they are cached
	// per generation of the book.
	gen     atomic.Uint64 // moves when every standing may have changed (time passed)
	cacheM  sync.Mutex
	cache   map[standingKey]cachedStanding
	peerGen map[string]uint64 // moves when evidence about one peer arrived

	// Third-party reports wait here, per subject, until this node needs the
	// subject's standing: their receipts are checked then, so a provider
	// that never ranks other providers never pays for checking what is
	// said about them.
	pendM   sync.Mutex
	pending map[string][]pendingReport

	mu        sync.Mutex
	batcher   *reputation.Batcher
	lastSeq   map[string]uint64 // reporter → last attestation seq accepted
	topic     *pubsub.Topic
	published func(topic string) // counts attestations published
	sub       *pubsub.Subscription
	attested  int64

	catch catches // shared catches (catch.go)
}

type standingKey struct {
	peer, capability string
	min              float64
}

type pendingReport struct {
	reporter string
	created  int64
	report   reputation.Report
}

// Bounds of the reports waiting to be checked.
const (
	maxPendingPerSubject = 256
	maxPendingSubjects   = 10_000
)

type cachedStanding struct {
	gen     uint64
	peerGen uint64
	st      market.Standing
	credit  int64
}

var (
	_ market.Reputation = (*Service)(nil)
	_ market.Decider    = (*Service)(nil)
)

// New returns the service with an empty book and the suspects saved
// before a restart (suspects.go); Rebuild fills the book from the ledger,
// Start joins the topics, Run receives and attests, and saves the
// suspects when it ends.
func New(d Deps) (*Service, error) {
	self := d.Signer.ID()
	p := reputation.DefaultParams()
	p.HalfLife = d.HalfLife
	p.EvidenceMemory = 10 * p.HalfLife
	book, err := reputation.NewBook(p, self)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	s := &Service{d: d, self: self, book: book, lastSeq: map[string]uint64{}, cache: map[standingKey]cachedStanding{},
		pending: map[string][]pendingReport{}, peerGen: map[string]uint64{}}
	bp := reputation.DefaultBatchParams()
	bp.MaxDelay = d.AttestEvery
	if s.batcher, err = reputation.NewBatcher(self, bp, uint64(d.Now().UnixMilli())); err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	s.loadSuspects()
	return s, nil
}

// Book is the belief itself, for reading.
func (s *Service) Book() *reputation.Book { return s.book }

// Rebuild replays the ledger's outcomes and accepted attestations.
func (s *Service) Rebuild(ctx context.Context) error {
	var after uint64
	for {
		es, err := s.d.Ledger.Entries(ctx, settlement.Filter{After: after, Limit: 4096})
		if err != nil {
			return fmt.Errorf("evidence: rebuild: %w", err)
		}
		if len(es) == 0 {
			return nil
		}
		for _, e := range es {
			after = e.Seq
			at := time.UnixMilli(e.Time)
			switch e.Kind {
			case settlement.KindOutcome:
				var o settlement.Outcome
				if canon.Unmarshal(e.Body, &o) != nil {
					continue
				}
				ev := o.Receipt
				if ev == "" {
					ev = fmt.Sprintf("job:%s:%d", o.Job, e.Seq)
				}
				s.book.Record(at, o.Peer, o.Capability, reputation.Outcome(o.Outcome), ev)
			case settlement.KindAttestation:
				var a settlement.Attestation
				if canon.Unmarshal(e.Body, &a) != nil {
					continue
				}
				if att, err := s.openEnvelope(a.Envelope); err == nil && att.Reporter != s.self {
					s.queue(att)
				}
			}
		}
	}
}

// Record is first-hand evidence.
func (s *Service) Record(peer, capability string, o reputation.Outcome, evidence string) {
	defer s.changedPeer(peer)
	if err := s.book.Record(s.d.Now(), peer, capability, o, evidence); err != nil && !errors.Is(err, reputation.ErrDuplicate) {
		s.d.Log.Debug("evidence refused", "peer", wire.ShortID(peer), "err", err)
	}
}

// Attest queues a report for the next attestation; a batch it completes
// is published and recorded under ctx.
func (s *Service) Attest(ctx context.Context, subject, capability string, o reputation.Outcome, evidence string, receipt []byte) {
	s.mu.Lock()
	batches, err := s.batcher.Add(s.d.Now(), reputation.Report{Subject: subject, Capability: capability, Outcome: o,
		Evidence: evidence, Receipt: receipt})
	s.mu.Unlock()
	if err != nil {
		s.d.Log.Debug("report not batched", "err", err)
	}
	s.publish(ctx, batches)
}

// changed invalidates every cached standing.
func (s *Service) changed() { s.gen.Add(1) }

// changedPeer invalidates the cached standings of one peer, and of its
// reports' weight in others' standings — which first-hand evidence about
// a reporter moves, so everything is invalidated when peer reports too.
func (s *Service) changedPeer(peer string) {
	s.cacheM.Lock()
	s.peerGen[peer]++
	if len(s.peerGen) > 65536 {
		clear(s.peerGen)
		s.gen.Add(1)
	}
	s.cacheM.Unlock()
}

func (s *Service) cached(k standingKey) (cachedStanding, bool) {
	s.cacheM.Lock()
	defer s.cacheM.Unlock()
	c, ok := s.cache[k]
	return c, ok && c.gen == s.gen.Load() && c.peerGen == s.peerGen[k.peer]
}

func (s *Service) gens(peer string) (uint64, uint64) {
	s.cacheM.Lock()
	defer s.cacheM.Unlock()
	return s.gen.Load(), s.peerGen[peer]
}

func (s *Service) store(k standingKey, c cachedStanding) {
	s.cacheM.Lock()
	defer s.cacheM.Unlock()
	if len(s.cache) > 65536 {
		clear(s.cache)
	}
	s.cache[k] = c
}

// Standing implements market.Reputation.
func (s *Service) Standing(peer string, c market.Capability, min float64) market.Standing {
	k := standingKey{peer, string(c), min}
	if cs, ok := s.cached(k); ok {
		return cs.st
	}
	s.flush(peer)
	if cs, ok := s.cached(k); ok {
		return cs.st
	}
	gen, pg := s.gens(peer)
	st := s.book.Standing(peer, string(c), min)
	out := market.Standing{Eligible: st.Eligible, Reason: st.Reason, Newcomer: st.Newcomer, Score: st.Score}
	s.store(k, cachedStanding{gen: gen, peerGen: pg, st: out})
	return out
}

// BookStanding is the book's full standing of peer, its lower bound
// included: what adaptive verification's CheckPolicy reads.
func (s *Service) BookStanding(peer, capability string, min float64) reputation.Standing {
	s.flush(peer)
	return s.book.Standing(peer, capability, min)
}

// DirectReliability is peer's reliability from this node's first-hand
// evidence alone: what its run weighs in reputation.JudgeCheck.
func (s *Service) DirectReliability(peer, capability string) float64 {
	return s.book.DirectReliability(peer, capability)
}

// Decide implements market.Decider with the odds rule: each replica
// counts with its provider's reliability, and a group is accepted when its
// credibility reaches 1 − epsilon.
func (s *Service) Decide(votes []market.Vote, want, have, max int) market.Decision {
	reps := make([]reputation.Replica, len(votes))
	for _, v := range votes {
		s.flush(v.Provider)
	}
	for i, v := range votes {
		reps[i] = reputation.Replica{Provider: v.Provider, Digest: v.Digest, Reliability: s.book.Reliability(v.Provider, string(v.Capability))}
	}
	if len(votes) < want && have < max {
		return market.Decision{More: want - len(votes)}
	}
	d := reputation.Decide(reputation.GroupReplicas(reps), s.d.Epsilon, max, have)
	switch d.Verdict {
	case reputation.Accept:
		return market.Decision{Accept: d.Digest}
	case reputation.NeedMore:
		return market.Decision{More: d.More}
	}
	return market.Decision{Fail: d.Reason}
}

// CreditLimit is what requester may owe this node.
func (s *Service) CreditLimit(requester string) int64 {
	k := standingKey{peer: requester, capability: "credit"}
	if cs, ok := s.cached(k); ok {
		return cs.credit
	}
	s.flush(requester)
	if cs, ok := s.cached(k); ok {
		return cs.credit
	}
	gen, pg := s.gens(requester)
	v := s.book.CreditLimit(requester, s.d.CreditLimit, s.d.CreditMax)
	s.store(k, cachedStanding{gen: gen, peerGen: pg, credit: v})
	return v
}

// Start joins the reputation topic on ps; published, if not nil, is told
// of every attestation this node publishes there (pubsub's tracers are not).
func (s *Service) Start(ps *pubsub.PubSub, published func(topic string)) error {
	s.published = published
	if err := ps.RegisterTopicValidator(Topic, s.validate, pubsub.WithValidatorInline(true)); err != nil {
		return fmt.Errorf("evidence: validator for %s: %w", Topic, err)
	}
	t, err := ps.Join(Topic)
	if err != nil {
		return fmt.Errorf("evidence: join %s: %w", Topic, err)
	}
	s.topic = t
	sub, err := t.Subscribe()
	if err != nil {
		return fmt.Errorf("evidence: subscribe %s: %w", Topic, err)
	}
	s.sub = sub
	return s.startCatches(ps)
}

// Run receives peers' attestations and, every AttestEvery/2, decays the
// book and publishes the batches due, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	var g errgroup.Group
	defer func() {
		g.Wait()
		s.saveSuspects(true) // once the loops changing them have stopped
	}()
	g.Go(func() error {
		wire.Every(ctx, s.d.AttestEvery/2, func() {
			now := s.d.Now()
			s.book.Tick(now)
			s.changed() // decay moves every posterior
			s.mu.Lock()
			batches := s.batcher.Tick(now)
			s.mu.Unlock()
			s.publish(ctx, batches)
			s.saveSuspects(false)
		})
		return nil
	})
	g.Go(func() error { return s.runCatches(ctx) })
	if s.sub == nil {
		<-ctx.Done()
		return nil
	}
	defer s.sub.Cancel()
	for {
		m, err := s.sub.Next(ctx)
		if err != nil {
			return nil
		}
		if att, ok := m.ValidatorData.(*reputation.Attestation); ok {
			s.receive(ctx, *att, m.Data)
		}
	}
}

// publish signs, gossips and records attestations.
func (s *Service) publish(ctx context.Context, batches []reputation.Attestation) {
	for _, att := range batches {
		env, err := canon.Seal(s.d.Signer, KindAttestation, att)
		if err != nil {
			s.d.Log.Error("cannot sign attestation", "err", err)
			continue
		}
		b := env.Encode()
		if _, err := s.d.Ledger.Append(ctx, settlement.KindAttestation, settlement.Attestation{Envelope: b}); err != nil {
			s.d.Log.Warn("cannot record attestation", "err", err)
		}
		if s.topic != nil {
			if err := s.topic.Publish(ctx, b); err != nil {
				s.d.Log.Debug("cannot publish attestation", "err", err)
			} else if s.published != nil {
				s.published(Topic)
			}
		}
	}
}

// openEnvelope decodes an attestation and checks the reporter's signature:
// what every node checks before forwarding it.
func (s *Service) openEnvelope(b []byte) (reputation.Attestation, error) {
	env, err := canon.DecodeEnvelope(b)
	if err != nil {
		return reputation.Attestation{}, err
	}
	var att reputation.Attestation
	if err := env.Open(s.d.Verifier, KindAttestation, &att); err != nil {
		return reputation.Attestation{}, err
	}
	return att, nil
}

// open decodes and verifies an attestation and the receipts behind its
// reports, keeping the reports worth weighing.
func (s *Service) open(b []byte) (reputation.Attestation, error) {
	att, err := s.openEnvelope(b)
	if err != nil {
		return reputation.Attestation{}, err
	}
	return s.checkReports(att), nil
}

// checkReports keeps the reports whose receipts prove the reporter and the
// subject dealt with each other, checking only the subject's signature.
func (s *Service) checkReports(att reputation.Attestation) reputation.Attestation {
	memory := s.book.Params().EvidenceMemory
	kept := att.Reports[:0]
	if att.Reporter != s.self && s.book.ReporterWeight(att.Reporter) == 0 {
		// A reporter this node has no first-hand evidence about weighs
		// nothing: its reports are not worth checking.
		att.Reports = nil
		return att
	}
	for _, r := range att.Reports {
		if len(r.Receipt) == 0 {
			kept = append(kept, r) // receiptless negative reports: the book weighs them
			continue
		}
		if r.Outcome == reputation.Settled {
			// The evidence is the creditor's signed settlement.
			var ss settlement.SignedSettle
			if canon.Unmarshal(r.Receipt, &ss) != nil {
				continue
			}
			st, err := settlement.OpenSettle(s.d.Verifier, ss)
			if err != nil || st.Creditor != att.Reporter || st.Debtor != r.Subject {
				s.d.Drops.Add("attestation/bad_settlement")
				continue
			}
			r.Evidence = canon.DocCID(canon.MustMarshal(ss)).String()
			kept = append(kept, r)
			continue
		}
		var sr settlement.SignedReceipt
		if canon.Unmarshal(r.Receipt, &sr) != nil {
			continue
		}
		rc, err := settlement.OpenReceiptBy(s.d.Verifier, sr, r.Subject)
		if err != nil {
			s.d.Drops.Add("attestation/bad_receipt")
			continue
		}
		// The reporter must be a party and the subject the other one; old
		// receipts are refused, since the book forgets evidence IDs after
		// EvidenceMemory and would count them again.
		party := rc.Requester == att.Reporter && rc.Provider == r.Subject || rc.Provider == att.Reporter && rc.Requester == r.Subject
		if !party || s.d.Now().Sub(time.UnixMilli(rc.Created)) > memory {
			s.d.Drops.Add("attestation/foreign_receipt")
			continue
		}
		r.Evidence = canon.DocCID(canon.MustMarshal(sr)).String()
		kept = append(kept, r)
	}
	att.Reports = kept
	return att
}

// validate checks attestations inline, before they are forwarded.
func (s *Service) validate(ctx context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	d := s.d
	if len(m.Data) > maxAttestation {
		d.Drops.Add("attestation/oversized")
		return pubsub.ValidationReject
	}
	// Batches go out every AttestEvery: one may be that much older than
	// a message sent at once.
	in := wire.Inbox{Verifier: d.Verifier, Drops: d.Drops, Now: d.Now, Freshness: 2*d.AttestEvery + d.Freshness}
	var att reputation.Attestation
	if _, err := in.OpenFrame(m.Data, wire.Expect{What: "attestation", Kind: KindAttestation}, &att); err != nil {
		return pubsub.ValidationReject
	}
	if att.Reporter == s.self {
		return pubsub.ValidationAccept // our own, published locally
	}
	if in.Fresh("attestation", att.Created) != nil {
		return pubsub.ValidationIgnore
	}
	s.mu.Lock()
	last := s.lastSeq[att.Reporter]
	if att.Seq <= last {
		s.mu.Unlock()
		d.Drops.Add("attestation/replayed")
		return pubsub.ValidationIgnore
	}
	s.lastSeq[att.Reporter] = att.Seq
	s.mu.Unlock()
	m.ValidatorData = &att
	return pubsub.ValidationAccept
}

// receive keeps a peer's attestation: its reports wait, per subject,
// until this node needs the subject's standing (see flush). Attestations
// from reporters this node has no first-hand evidence about weigh nothing
// and are not kept.
func (s *Service) receive(ctx context.Context, att reputation.Attestation, raw []byte) {
	if att.Reporter == s.self || s.book.ReporterWeight(att.Reporter) == 0 {
		return
	}
	if s.queue(att) > 0 {
		if _, err := s.d.Ledger.Append(ctx, settlement.KindAttestation, settlement.Attestation{Envelope: raw}); err != nil {
			s.d.Log.Warn("cannot record attestation", "err", err)
		}
	}
}

// queue files an attestation's reports under their subjects.
func (s *Service) queue(att reputation.Attestation) int {
	self := s.self
	s.pendM.Lock()
	defer s.pendM.Unlock()
	queued := 0
	for _, r := range att.Reports {
		if r.Subject == self || r.Subject == att.Reporter {
			continue // nobody tells this node about itself; nobody vouches for itself
		}
		q, ok := s.pending[r.Subject]
		if !ok && len(s.pending) >= maxPendingSubjects {
			continue
		}
		if len(q) >= maxPendingPerSubject {
			q = q[1:]
		}
		s.pending[r.Subject] = append(q, pendingReport{reporter: att.Reporter, created: att.Created, report: r})
		queued++
	}
	return queued
}

// flush checks the receipts behind the reports waiting about subject and
// gives the book those that hold.
func (s *Service) flush(subject string) {
	s.pendM.Lock()
	q := s.pending[subject]
	delete(s.pending, subject)
	s.pendM.Unlock()
	if len(q) == 0 {
		return
	}
	by := map[string]*reputation.Attestation{}
	for _, p := range q {
		a := by[p.reporter]
		if a == nil {
			a = &reputation.Attestation{Reporter: p.reporter, Created: p.created}
			by[p.reporter] = a
		}
		a.Reports = append(a.Reports, p.report)
	}
	now := s.d.Now()
	added := 0
	for _, a := range by {
		checked := s.checkReports(*a)
		if len(checked.Reports) == 0 {
			continue
		}
		accepted, err := s.book.Attest(now, checked)
		if err != nil {
			s.d.Log.Debug("reports refused", "reporter", wire.ShortID(a.Reporter), "err", err)
		}
		added += accepted
	}
	if added > 0 {
		s.mu.Lock()
		s.attested += int64(added)
		s.mu.Unlock()
		s.changed()
	}
}

// FlushAll checks every waiting report (for hayek rep).
func (s *Service) FlushAll() {
	s.pendM.Lock()
	subjects := make([]string, 0, len(s.pending))
	for p := range s.pending {
		subjects = append(subjects, p)
	}
	s.pendM.Unlock()
	for _, p := range subjects {
		s.flush(p)
	}
}
