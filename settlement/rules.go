package settlement

import (
	"fmt"
)

// The rules, one method per kind. Each checks everything first and changes
// the state only once the entry is known to pass, so a failed entry leaves
// no trace even outside a journal.

func (s *state) fund(p *prepared, b Fund) error {
	a := s.agent(b.Agent)
	if err := fits("fund.amount", b.Amount,
		up("budget of agent "+b.Agent, a.Budget), up("funding of agent "+b.Agent, a.Funded),
		up("total funded", s.totals.Funded), up("total of budgets left", s.totals.BudgetsLeft)); err != nil {
		return err
	}
	a.Budget += b.Amount
	a.Funded += b.Amount
	s.putAgent(a)
	s.totals.Funded += b.Amount
	s.totals.BudgetsLeft += b.Amount
	p.refs.agent = b.Agent
	return nil
}

func (s *state) hold(p *prepared, b Hold) error {
	a := s.agent(b.Agent)
	if a.Revoked {
		return fmt.Errorf("%w: agent %s cannot hold %d for job %s", ErrRevoked, b.Agent, b.Amount, b.Job)
	}
	h, ok, err := s.getHold(b.Job)
	if err != nil {
		return err
	}
	if ok && !h.Closed {
		return fmt.Errorf("%w: job %s already holds %d of agent %s (release it before holding again)", ErrHoldExists, b.Job, h.Remaining, h.Agent)
	}
	if ok && h.Agent != b.Agent {
		return invalidf("job %s was held for agent %s, not %s", b.Job, h.Agent, b.Agent)
	}
	if a.Budget < b.Amount {
		return fmt.Errorf("%w: agent %s has %d left, job %s needs %d (fund the agent or lower the job's max price)", ErrBudgetExceeded, b.Agent, a.Budget, b.Job, b.Amount)
	}
	rooms := []room{up("held of agent "+b.Agent, a.Held), up("total held", s.totals.Held)}
	if ok {
		rooms = append(rooms, up("hold of job "+b.Job, h.Amount))
	}
	if err := fits("hold.amount", b.Amount, rooms...); err != nil {
		return err
	}
	if ok {
		h.Amount += b.Amount
		h.Remaining, h.Closed = b.Amount, false
	} else {
		h = HoldState{Job: b.Job, Agent: b.Agent, Amount: b.Amount, Remaining: b.Amount}
	}
	h.Seq = p.entry.Seq
	a.Budget -= b.Amount
	a.Held += b.Amount
	s.putAgent(a)
	s.putHold(h)
	s.totals.BudgetsLeft -= b.Amount
	s.totals.Held += b.Amount
	p.refs.job, p.refs.agent = b.Job, b.Agent
	return nil
}

// openHold finds the open hold of job that can cover amount.
func (s *state) openHold(job string, amount int64, what string) (HoldState, error) {
	h, ok, err := s.getHold(job)
	switch {
	case err != nil:
		return h, err
	case !ok:
		return h, fmt.Errorf("%w: %s of %d for job %s (hold the job's max cost before its auction)", ErrUnknownHold, what, amount, job)
	case h.Closed:
		return h, fmt.Errorf("%w: %s of %d for job %s: its hold of %d is used up or released", ErrHoldClosed, what, amount, job, h.Amount)
	case amount > h.Remaining:
		return h, fmt.Errorf("%w: %s of %d for job %s, the hold has %d left", ErrOverHold, what, amount, job, h.Remaining)
	}
	return h, nil
}

func (s *state) release(p *prepared, b Release) error {
	h, err := s.openHold(b.Job, b.Amount, "release")
	if err != nil {
		return err
	}
	a := s.agent(h.Agent)
	if err := fits("release.amount", b.Amount, up("released of job "+b.Job, h.Released),
		up("budget of agent "+h.Agent, a.Budget), up("total of budgets left", s.totals.BudgetsLeft)); err != nil {
		return err
	}
	h.Remaining -= b.Amount
	h.Released += b.Amount
	h.Closed = h.Remaining == 0
	a.Held -= b.Amount
	a.Budget += b.Amount
	s.putHold(h)
	s.putAgent(a)
	s.totals.Held -= b.Amount
	s.totals.BudgetsLeft += b.Amount
	p.refs.job, p.refs.agent = b.Job, h.Agent
	return nil
}

func (s *state) notSeen(id, what string) error {
	seq, ok, err := s.seenAt(id)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("%w: %s %s is entry %d", ErrDuplicate, what, id, seq)
	}
	return nil
}

func (s *state) receipt(p *prepared, o openedReceipt) error {
	r := o.r
	if err := s.notSeen(o.id, "receipt for job "+r.Job); err != nil {
		return err
	}
	switch s.self {
	case r.Requester:
		h, err := s.openHold(r.Job, r.Price, "receipt")
		if err != nil {
			return err
		}
		bal := s.balances[r.Provider]
		a := s.agent(h.Agent)
		if err := fits("receipt.price", r.Price, down("balance with "+r.Provider, bal),
			up("paid of job "+r.Job, h.Paid), up("spent of agent "+h.Agent, a.Spent), up("total paid", s.totals.Paid)); err != nil {
			return err
		}
		if err := s.checkBalance(r.Provider, bal-r.Price); err != nil {
			return err
		}
		h.Remaining -= r.Price
		h.Paid += r.Price
		h.Receipts++
		h.Closed = h.Remaining == 0
		a.Held -= r.Price
		a.Spent += r.Price
		s.putHold(h)
		s.putAgent(a)
		s.totals.Held -= r.Price
		s.totals.Paid += r.Price
		s.setBalance(r.Provider, bal-r.Price)
		p.refs = refs{job: r.Job, peer: r.Provider, agent: h.Agent}
	case r.Provider:
		bal := s.balances[r.Requester]
		if err := fits("receipt.price", r.Price, up("balance with "+r.Requester, bal), up("total earned", s.totals.Earned)); err != nil {
			return err
		}
		if err := s.checkBalance(r.Requester, bal+r.Price); err != nil {
			return err
		}
		s.totals.Earned += r.Price
		s.setBalance(r.Requester, bal+r.Price)
		p.refs = refs{job: r.Job, peer: r.Requester}
	default:
		return fmt.Errorf("%w: receipt for job %s is between %s and %s, this node is %s", ErrNotParty, r.Job, r.Requester, r.Provider, s.self)
	}
	s.markSeen(o.id, p.entry.Seq)
	return nil
}

func (s *state) settle(p *prepared, o openedSettle) error {
	st := o.s
	if err := s.notSeen(o.id, "settlement"); err != nil {
		return err
	}
	switch s.self {
	case st.Creditor:
		bal := s.balances[st.Debtor]
		if bal < st.Amount {
			return fmt.Errorf("%w: settlement of %d from %s, who owes %d", ErrOverSettle, st.Amount, st.Debtor, max(bal, 0))
		}
		if err := fits("settle.amount", st.Amount, up("total settled in", s.totals.SettledIn)); err != nil {
			return err
		}
		if err := s.checkBalance(st.Debtor, bal-st.Amount); err != nil {
			return err
		}
		s.setBalance(st.Debtor, bal-st.Amount)
		s.totals.SettledIn += st.Amount
		p.refs.peer = st.Debtor
	case st.Debtor:
		bal := s.balances[st.Creditor]
		if bal > -st.Amount {
			return fmt.Errorf("%w: settlement of %d to %s, who is owed %d", ErrOverSettle, st.Amount, st.Creditor, max(-bal, 0))
		}
		if err := fits("settle.amount", st.Amount, up("total settled out", s.totals.SettledOut)); err != nil {
			return err
		}
		if err := s.checkBalance(st.Creditor, bal+st.Amount); err != nil {
			return err
		}
		s.setBalance(st.Creditor, bal+st.Amount)
		s.totals.SettledOut += st.Amount
		p.refs.peer = st.Creditor
	default:
		return fmt.Errorf("%w: settlement is between %s and %s, this node is %s", ErrNotParty, st.Debtor, st.Creditor, s.self)
	}
	s.markSeen(o.id, p.entry.Seq)
	return nil
}

func (s *state) outcome(p *prepared, b Outcome) error {
	if b.Peer == s.self {
		return invalidf("outcome %s about this node itself", b.Outcome)
	}
	p.refs.peer, p.refs.job = b.Peer, b.Job
	return nil
}

func (s *state) governance(p *prepared, g Governance) error {
	p.refs.agent, p.refs.job = g.Agent, g.Job
	switch g.Action {
	case ActionAgentCreate:
		a := s.agent(g.Agent)
		if a.Created {
			return fmt.Errorf("%w: agent %s exists (agent names are never reused)", ErrDuplicate, g.Agent)
		}
		a.Created = true
		a.TokenHash, a.MaxJobPrice, a.ApproveAbove, a.RatePerHour = g.TokenHash, g.MaxJobPrice, g.ApproveAbove, g.RatePerHour
		s.putAgent(a)
	case ActionAgentLimits:
		a, err := s.changeable(g.Agent, "limits")
		if err != nil {
			return err
		}
		if len(g.TokenHash) > 0 {
			a.TokenHash = g.TokenHash
		}
		a.MaxJobPrice, a.ApproveAbove, a.RatePerHour = g.MaxJobPrice, g.ApproveAbove, g.RatePerHour
		s.putAgent(a)
	case ActionAgentPolicy:
		a, err := s.changeable(g.Agent, "policy")
		if err != nil {
			return err
		}
		a.Policy = g.Policy
		s.putAgent(a)
	case ActionAgentRevoke:
		a, ok := s.agents[g.Agent]
		switch {
		case !ok || !a.Created:
			return fmt.Errorf("%w: %s", ErrUnknownAgent, g.Agent)
		case a.Revoked:
			return fmt.Errorf("%w: %s already", ErrRevoked, g.Agent)
		}
		a.Revoked = true
		s.putAgent(a)
	}
	return nil
}

// changeable is an agent whose limits or policy (what) may change: created
// and not revoked.
func (s *state) changeable(name, what string) (Account, error) {
	a, ok := s.agents[name]
	switch {
	case !ok || !a.Created:
		return a, fmt.Errorf("%w: %s (create the agent first)", ErrUnknownAgent, name)
	case a.Revoked:
		return a, fmt.Errorf("%w: cannot change the %s of %s", ErrRevoked, what, name)
	}
	return a, nil
}

// checkpoint checks that c seals the chain as it stands. Its signature is
// checked by whoever prepared it (the ledger made it; replays verify it
// beside the decoding).
func (s *state) checkpoint(p *prepared, c Checkpoint) error {
	switch {
	case c.Node != s.self:
		return fmt.Errorf("%w: checkpoint at %d is by %s, this ledger is %s's", ErrBadSignature, p.entry.Seq, c.Node, s.self)
	case s.seq == s.lastCheckpoint:
		return invalidf("checkpoint at %d seals no entry", p.entry.Seq)
	case c.Seq != s.seq || c.Head != s.head:
		return invalidf("checkpoint at %d seals entry %d %s, the chain's head is %d %s", p.entry.Seq, c.Seq, c.Head, s.seq, s.head)
	case c.Time != p.entry.Time:
		return invalidf("checkpoint at %d says time %d, its entry %d", p.entry.Seq, c.Time, p.entry.Time)
	}
	s.lastCheckpoint = p.entry.Seq
	return nil
}

// lost checks that the node's statement of a loss sits where it says: right
// after the last entry that survived. It moves no money: what Recover
// rebuilds follows it as ordinary entries.
func (s *state) lost(p *prepared, b Lost) error {
	switch {
	case b.Node != s.self:
		return fmt.Errorf("%w: the lost entry at %d is by %s, this ledger is %s's", ErrBadSignature, p.entry.Seq, b.Node, s.self)
	case b.Kept != s.seq || b.KeptHead != s.head:
		return invalidf("the lost entry at %d says it follows entry %d %s, the chain's head is %d %s", p.entry.Seq, b.Kept, b.KeptHead, s.seq, s.head)
	}
	return nil
}
