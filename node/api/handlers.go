package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// routes builds the mux. Each path also gets a method-less pattern that
// answers 405 with Allow, and "/" answers 404, both as JSON errors.
func (s *Server) routes() http.Handler {
	type route struct {
		method, path string
		h            http.HandlerFunc
		access       access
		what         string // for an agent's forbidden message
	}
	routes := []route{
		{"POST", "/v1/blobs", s.putBlob, anyone, ""},
		{"GET", "/v1/blobs/{cid}", s.getBlob, anyone, ""},
		{"POST", "/v1/jobs", s.submit, anyone, ""},
		{"POST", "/v1/quote", s.quote, anyone, ""},
		{"GET", "/v1/jobs", s.listJobs, anyone, ""},
		{"GET", "/v1/jobs/{id}", s.getJob, ownJob, ""},
		{"POST", "/v1/jobs/{id}/cancel", s.cancel, ownJob, ""},
		{"GET", "/v1/jobs/{id}/result", s.result, ownJob, ""},
		{"GET", "/v1/jobs/{id}/events", s.events, ownJob, ""},
		{"GET", "/v1/jobs/{id}/audit", s.audit, ownJob, ""},
		{"POST", "/v1/jobs/{id}/approve", s.approve, operatorOnly, "approving jobs"},
		{"POST", "/v1/jobs/{id}/reject", s.reject, operatorOnly, "rejecting jobs"},
		{"GET", "/v1/offers", s.offers, anyone, ""},
		{"GET", "/v1/peers", s.peers, anyone, ""},
		{"GET", "/v1/status", s.status, anyone, ""},
		{"GET", "/v1/metrics", s.metrics, operatorOnly, "metrics"},
		{"POST", "/v1/agents", s.createAgent, operatorOnly, "creating agents"},
		{"GET", "/v1/agents", s.listAgents, operatorOnly, "listing agents"},
		{"GET", "/v1/agents/{name}", s.getAgent, selfAgent, ""},
		{"POST", "/v1/agents/{name}/fund", s.fundAgent, operatorOnly, "funding agents"},
		{"POST", "/v1/agents/{name}/revoke", s.revokeAgent, operatorOnly, "revoking agents"},
		{"PUT", "/v1/agents/{name}/policy", s.setAgentPolicy, operatorOnly, "setting agent policies"},
		{"GET", "/v1/ledger", s.ledger, operatorOnly, "the ledger"},
		{"GET", "/v1/ledger/balance", s.ledgerBalance, operatorOnly, "the ledger"},
		{"POST", "/v1/ledger/verify", s.verifyLedger, operatorOnly, "the ledger"},
		{"GET", "/v1/ledger/export", s.exportLedger, operatorOnly, "the ledger"},
		{"POST", "/v1/ledger/settle", s.settle, operatorOnly, "settling debts"},
		{"GET", "/v1/rep", s.reputation, operatorOnly, "reputation"},
	}
	mux := http.NewServeMux()
	allow := map[string][]string{}
	var paths []string
	for _, rt := range routes {
		mux.HandleFunc(rt.method+" "+rt.path, s.guard(rt.access, rt.what, rt.h))
		if allow[rt.path] == nil {
			paths = append(paths, rt.path)
		}
		allow[rt.path] = append(allow[rt.path], rt.method)
		if rt.method == "GET" {
			allow[rt.path] = append(allow[rt.path], "HEAD")
		}
	}
	for _, p := range paths {
		methods := strings.Join(allow[p], ", ")
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", methods)
			s.fail(w, r, Errorf(CodeMethod, "%s %s is not supported; use %s", r.Method, p, methods))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, Errorf(CodeNotFound, "no route %s %s; the API lives under /v1/ (see docs/api.md)", r.Method, r.URL.Path))
	})
	// Bodies are paced before anyone reads them (or leaves them unread),
	// and over-limit connections are refused before anything else.
	return s.recoverer(s.paceBodies(s.refuseOver(s.authenticate(mux))))
}

func (s *Server) putBlob(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > s.blobLimit {
		s.fail(w, r, tooLarge("the blob", s.blobLimit))
		return
	}
	body := &blobBody{r: http.MaxBytesReader(w, r.Body, s.blobLimit), limit: s.blobLimit}
	blob, err := s.b.PutBlob(r.Context(), body, s.blobLimit)
	// Whatever the backend made of the reader's error, the cause is the
	// body's size or pace.
	if body.over {
		err = tooLarge("the blob", s.blobLimit)
	} else if cut := bodyCut(r); cut != nil {
		err = cut
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, blob)
}

// blobBody streams an upload to the backend and reports the size limit as
// a too_large *Error (the body's pace is kept by paceBodies).
type blobBody struct {
	r     io.Reader
	limit int64
	over  bool
}

func (b *blobBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	var mb *http.MaxBytesError
	if err != nil && errors.As(err, &mb) {
		b.over = true
		return n, tooLarge("the blob", b.limit)
	}
	return n, err
}

func (s *Server) getBlob(w http.ResponseWriter, r *http.Request) {
	rc, size, err := s.b.OpenBlob(r.Context(), r.PathValue("cid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(deadlineWriter{w}, rc); err != nil && r.Context().Err() == nil {
		// Headers are out: all that is left is to cut the response short,
		// which the client sees as a body shorter than Content-Length.
		s.log.WarnContext(r.Context(), "api: sending a blob failed", "cid", r.PathValue("cid"), "err", err)
		panic(http.ErrAbortHandler)
	}
}

// deadlineWriter bounds each write of a long response separately.
type deadlineWriter struct{ w http.ResponseWriter }

func (d deadlineWriter) Write(p []byte) (int, error) {
	writeDeadline(d.w)
	return d.w.Write(p)
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	wait, err := s.waitParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := s.readSpec(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		switch req.IdempotencyKey {
		case "":
			req.IdempotencyKey = k
		case k:
		default:
			s.fail(w, r, fieldError("idempotency_key", "differs from the Idempotency-Key header; send one or make them equal"))
			return
		}
	}
	job, created, err := s.b.Submit(r.Context(), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if c := CallerFrom(r.Context()); !c.Operator && job.Agent != c.Agent {
		// Never hand an agent another's job, whatever the backend did.
		if created {
			s.fail(w, r, fmt.Errorf("api: backend created job %s for agent %q as %q", job.ID, c.Agent, job.Agent))
		} else {
			s.fail(w, r, fieldError("idempotency_key", "names a job this agent did not submit; choose another key"))
		}
		return
	}
	if wait > 0 && !job.State.Terminal() {
		if job, err = s.wait(r, job.ID, wait); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	s.reply(w, r, status, normalize(job))
}

// readSpec reads a job spec body: strict JSON within the spec limit, no
// limit given as 0.
func (s *Server) readSpec(w http.ResponseWriter, r *http.Request) (SubmitRequest, error) {
	buf := getBuf()
	defer putBuf(buf)
	var req SubmitRequest
	if err := readBody(w, r, buf, "the job spec", s.specLimit); err != nil {
		return req, err
	}
	if err := decodeStrict(buf.Bytes(), &req, "the job spec"); err != nil {
		return req, err
	}
	err := checkZeroLimits(buf.Bytes(), &req)
	return req, err
}

// quote answers POST /v1/quote: the body is a job spec, as for POST
// /v1/jobs (an idempotency key is ignored: a quote creates nothing).
func (s *Server) quote(w http.ResponseWriter, r *http.Request) {
	req, err := s.readSpec(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req.IdempotencyKey = ""
	q, err := s.b.Quote(r.Context(), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if q.Reasons == nil {
		q.Reasons = map[string]int{}
	}
	if q.Providers == nil {
		q.Providers = []QuoteProvider{}
	}
	s.reply(w, r, http.StatusOK, q)
}

// waitParam reads ?wait=DURATION, capped at the server's max wait.
func (s *Server) waitParam(r *http.Request) (time.Duration, error) {
	if r.URL.RawQuery == "" {
		return 0, nil
	}
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fieldError("wait", "want a duration such as 30s or 2m")
	}
	return min(d, s.maxWait), nil
}

// wait blocks until job id is terminal, d passes or the server stops, and
// returns the job as it is then.
func (s *Server) wait(r *http.Request, id string, d time.Duration) (Job, error) {
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	defer context.AfterFunc(s.stopping, cancel)()
	job, err := s.b.Wait(ctx, id)
	if err == nil || ctx.Err() == nil || r.Context().Err() != nil {
		return job, err
	}
	// The wait ran out (or the server is stopping): answer with the job as
	// it is, for the caller to poll again.
	return s.b.Job(r.Context(), id)
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	wait, err := s.waitParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	var job Job
	if wait > 0 {
		job, err = s.wait(r, id, wait)
	} else {
		job, err = s.b.Job(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, normalize(job))
}

// normalize makes a job's lists [] rather than null in JSON, so clients
// can iterate without checking.
func normalize(j Job) Job {
	if j.Outputs == nil {
		j.Outputs = []Output{}
	}
	if j.Attempts == nil {
		j.Attempts = []Attempt{}
	}
	if j.Settlement != nil && j.Settlement.Receipts == nil {
		st := *j.Settlement // the backend's; never write to it
		st.Receipts = []string{}
		j.Settlement = &st
	}
	cloned := false
	for i := range j.Attempts {
		a := &j.Attempts[i]
		if a.Invitees != nil && a.Bids != nil && a.Declines != nil {
			continue
		}
		if !cloned { // the backend may share this array; never write to it
			j.Attempts, cloned = slices.Clone(j.Attempts), true
			a = &j.Attempts[i]
		}
		if a.Invitees == nil {
			a.Invitees = []string{}
		}
		if a.Bids == nil {
			a.Bids = []BidInfo{}
		}
		if a.Declines == nil {
			a.Declines = []DeclineInfo{}
		}
	}
	return j
}

var jobStates = []JobState{StateApproval, StateQueued, StatePending, StateAuction, StateAwarded, StateRunning, StateCompleted, StateFailed, StateCancelled}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	f := JobFilter{Limit: DefaultJobsLimit}
	q := r.URL.Query()
	if v := q.Get("state"); v != "" {
		f.State = JobState(v)
		if !slices.Contains(jobStates, f.State) {
			s.fail(w, r, fieldError("state", "want one of approval, pending, auction, awarded, running, completed, failed, cancelled"))
			return
		}
	}
	c := CallerFrom(r.Context())
	if v := q.Get("agent"); v != "" {
		if !c.Operator && v != c.Agent {
			s.fail(w, r, forbidden(c, "listing another agent's jobs"))
			return
		}
		f.Agent = v
	}
	if !c.Operator {
		f.Agent = c.Agent
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.fail(w, r, fieldError("limit", "want a whole number from 1 to "+strconv.Itoa(MaxJobsLimit)))
			return
		}
		f.Limit = min(n, MaxJobsLimit)
	}
	jobs, err := s.b.Jobs(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]Job, 0, len(jobs))
	for _, j := range jobs {
		if f.Agent == "" || j.Agent == f.Agent { // whether or not the backend filtered
			out = append(out, normalize(j))
		}
	}
	jobs = out
	s.reply(w, r, http.StatusOK, jobs)
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	job, err := s.b.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, normalize(job))
}

func (s *Server) result(w http.ResponseWriter, r *http.Request) {
	res, err := s.b.Result(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if res.Outputs == nil {
		res.Outputs = []Output{}
	}
	s.reply(w, r, http.StatusOK, res)
}

func (s *Server) offers(w http.ResponseWriter, r *http.Request) {
	v, err := s.b.Offers(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if v == nil {
		v = []OfferInfo{}
	}
	s.reply(w, r, http.StatusOK, v)
}

func (s *Server) peers(w http.ResponseWriter, r *http.Request) {
	v, err := s.b.Peers(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if v == nil {
		v = []PeerInfo{}
	}
	s.reply(w, r, http.StatusOK, v)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	v, err := s.b.Status(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, v)
}
