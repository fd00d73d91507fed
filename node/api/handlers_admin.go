package api

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Limits of the agent, approval, ledger and reputation routes.
const (
	DefaultLedgerLimit = 100      // GET /v1/ledger without ?limit=
	MaxLedgerLimit     = 1000     // largest ?limit=
	smallBodyLimit     = 64 << 10 // bodies of agent, fund, decision and settle requests
	maxAgentName       = 32
)

// needAdmin is the backend's Admin, or an error for a node without agent
// accounts, a ledger or reputation.
func (s *Server) needAdmin() (Admin, error) {
	if s.admin == nil {
		return nil, Errorf(CodeNotFound, "this node keeps no agent accounts, ledger or reputation (its backend does not implement api.Admin)")
	}
	return s.admin, nil
}

// agentName is the {name} of a route, "me" being the caller.
func agentName(r *http.Request) string {
	name := r.PathValue("name")
	if name == "me" {
		return CallerFrom(r.Context()).Agent
	}
	return name
}

// checkAgentName enforces the names agents may be created with: they go
// in paths and in the ledger, and "me" and "operator" are taken.
func checkAgentName(name string) error {
	bad := func(msg string) error { return fieldError("name", msg) }
	switch {
	case name == "":
		return bad("required: the agent's name, e.g. \"crawler\"")
	case len(name) > maxAgentName:
		return bad("at most 32 characters")
	case name == "me":
		return bad(`"me" names the caller in /v1/agents/me; choose another name`)
	case name == OperatorAgent:
		return bad(`"operator" is the operator's own account; choose another name`)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || i > 0 && (r == '-' || r == '_')
		if !ok {
			return bad("lower-case letters, digits, '-' and '_', starting with a letter or digit")
		}
	}
	return nil
}

// decodeBody reads a small strict JSON body into v. With optional, an
// empty body leaves v as it is.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, what string, optional bool) error {
	buf := getBuf()
	defer putBuf(buf)
	if optional && r.ContentLength == 0 {
		return nil
	}
	err := readBody(w, r, buf, what, smallBodyLimit)
	if err != nil {
		if optional && len(bytes.TrimSpace(buf.Bytes())) == 0 && IsCode(err, CodeBadRequest) {
			return nil // a chunked empty body
		}
		return err
	}
	return decodeStrict(buf.Bytes(), v, what)
}

func (s *Server) createAgent(w http.ResponseWriter, r *http.Request) {
	a, err := s.needAdmin()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req AgentCreate
	if err := decodeBody(w, r, &req, "the agent", false); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := checkAgentName(req.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"budget", req.Budget}, {"max_job_price", req.MaxJobPrice}, {"approve_above", req.ApproveAbove}, {"rate_per_hour", req.RatePerHour}} {
		if f.v < 0 {
			s.fail(w, r, fieldError(f.name, "must be ≥ 0"))
			return
		}
	}
	tok, err := a.CreateAgent(r.Context(), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusCreated, tok)
}

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request) {
	a, err := s.needAdmin()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := a.Agents(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if v == nil {
		v = []Agent{}
	}
	s.reply(w, r, http.StatusOK, v)
}

func (s *Server) getAgent(w http.ResponseWriter, r *http.Request) {
	a, err := s.needAdmin()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := a.Agent(r.Context(), agentName(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, v)
}

func (s *Server) fundAgent(w http.ResponseWriter, r *http.Request) {
	a, err := s.needAdmin()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var f Fund
	if err := decodeBody(w, r, &f, "the funding", false); err != nil {
		s.fail(w, r, err)
		return
	}
	if f.Amount <= 0 {
		s.fail(w, r, fieldError("amount", "must be > 0: what to add to the agent's budget"))
		return
	}
	v, err := a.FundAgent(r.Context(), agentName(r), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, v)
}

func (s *Server) revokeAgent(w http.ResponseWriter, r *http.Request) {
	a, err := s.needAdmin()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := a.RevokeAgent(r.Context(), agentName(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, v)
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request) { s.decide(w, r, true) }
func (s *Server) reject(w http.ResponseWriter, r *http.Request)  { s.decide(w, r, false) }

func (s *Server) decide(w http.ResponseWriter, r *http.Request, approve bool) {
	a, err := s.needAdmin()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var d Decision
	if err := decodeBody(w, r, &d, "the decision", true); err != nil {
		s.fail(w, r, err)
		return
	}
	var job Job
	if approve {
		job, err = a.Approve(r.Context(), r.PathValue("id"), d)
	} else {
		job, err = a.Reject(r.Context(), r.PathValue("id"), d)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, normalize(job))
}

func (s *Server) ledger(w http.ResponseWriter, r *http.Request) {
	a, err := s.needAdmin()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := LedgerFilter{Kind: q.Get("kind"), Job: q.Get("job"), Peer: q.Get("peer"), Limit: DefaultLedgerLimit}
	if f.Kind != "" && !slices.Contains(LedgerKinds, f.Kind) {
		s.fail(w, r, fieldError("kind", "want one of "+strings.Join(LedgerKinds, ", ")))
		return
	}
	if v := q.Get("after"); v != "" {
		if f.After, err = strconv.ParseUint(v, 10, 64); err != nil {
			s.fail(w, r, fieldError("after", "want a sequence number, a whole number ≥ 0"))
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.fail(w, r, fieldError("limit", "want a whole number from 1 to "+strconv.Itoa(MaxLedgerLimit)))
			return
		}
		f.Limit = min(n, MaxLedgerLimit)
	}
	v, err := a.Ledger(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if v == nil {
		v = []LedgerEntry{}
	}
	s.reply(w, r, http.StatusOK, v)
}

func (s *Server) ledgerBalance(w http.ResponseWriter, r *http.Request) {
	a, err := s.needAdmin()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := a.LedgerBalance(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if b.Agents == nil {
		b.Agents = []Agent{}
	}
	if b.Holds == nil {
		b.Holds = []HoldInfo{}
	}
	if b.Peers == nil {
		b.Peers = []PeerBalance{}
	}
	s.reply(w, r, http.StatusOK, b)
}

func (s *Server) verifyLedger(w http.ResponseWriter, r *http.Request) {
	a, err := s.needAdmin()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	deep := false
	if v := r.URL.Query().Get("deep"); v != "" {
		if deep, err = strconv.ParseBool(v); err != nil {
			s.fail(w, r, fieldError("deep", "want 1 or 0"))
			return
		}
	}
	rep, err := a.VerifyLedger(r.Context(), deep)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, rep)
}

func (s *Server) exportLedger(w http.ResponseWriter, r *http.Request) {
	a, err := s.needAdmin()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	lw := &lazyWriter{w: w}
	err = a.ExportLedger(r.Context(), lw)
	switch {
	case err == nil && !lw.started:
		lw.start() // an empty ledger is an empty export
	case err != nil && !lw.started:
		s.fail(w, r, err)
	case err != nil:
		// Lines are out: cut the response short, so the client sees a
		// broken stream rather than an export that looks whole.
		if r.Context().Err() == nil {
			s.log.WarnContext(r.Context(), "api: exporting the ledger failed midway", "err", err)
		}
		lw.Flush() // the status goes out first: the client sees a cut export, not a lost node
		panic(http.ErrAbortHandler)
	}
}

// lazyWriter sends the export's headers with its first bytes, so an error
// before them can still be answered as JSON. Each write is bounded. The
// response goes out as its buffer fills; Flush sends what is buffered now.
type lazyWriter struct {
	w       http.ResponseWriter
	started bool
}

func (l *lazyWriter) start() {
	l.started = true
	h := l.w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-cache")
	l.w.WriteHeader(http.StatusOK)
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.start()
	}
	writeDeadline(l.w)
	return l.w.Write(p)
}

// Flush sends what the export wrote so far.
func (l *lazyWriter) Flush() {
	if l.started {
		http.NewResponseController(l.w).Flush()
	}
}

func (s *Server) settle(w http.ResponseWriter, r *http.Request) {
	a, err := s.needAdmin()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var st Settle
	if err := decodeBody(w, r, &st, "the settlement", false); err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case st.Peer == "":
		s.fail(w, r, fieldError("peer", "required: the peer ID of the debtor that paid"))
		return
	case st.Amount <= 0:
		s.fail(w, r, fieldError("amount", "must be > 0: what the peer paid outside the ledger"))
		return
	}
	e, err := a.SettleDebt(r.Context(), st)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusCreated, e)
}

func (s *Server) reputation(w http.ResponseWriter, r *http.Request) {
	a, err := s.needAdmin()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := a.Reputation(r.Context(), r.URL.Query().Get("peer"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if v == nil {
		v = []RepRow{}
	}
	s.reply(w, r, http.StatusOK, v)
}
