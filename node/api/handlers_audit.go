package api

import (
	"context"
	"net/http"
)

// Auditor is implemented by a backend that keeps its jobs' records (the
// node's does).
type Auditor interface {
	// Audit is the job's audit bundle; an agent may audit only its own
	// jobs.
	Audit(ctx context.Context, id string) (Audit, error)
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	au, ok := s.b.(Auditor)
	if !ok {
		s.fail(w, r, Errorf(CodeNotFound, "this node keeps no audit records"))
		return
	}
	v, err := au.Audit(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, v)
}

// Audit returns a job's audit bundle: its intent, auctions, run, ledger
// entries and timeline, with the signed messages themselves (see
// node.VerifyAudit to check it offline).
func (c *Client) Audit(ctx context.Context, id string) (Audit, error) {
	var a Audit
	return a, c.getJSON(ctx, jobPath(id, "/audit"), &a)
}
