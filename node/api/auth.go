package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// access is who may use a route.
type access int

const (
	// anyone: the operator and every agent.
	anyone access = iota
	// ownJob: the operator, and an agent for its own jobs only; another
	// agent's job is not_found, exactly like a job that does not exist,
	// so agents cannot probe for each other's jobs.
	ownJob
	// selfAgent: the operator, and an agent for its own account
	// (/v1/agents/me or its own name).
	selfAgent
	// operatorOnly: the operator; agents get forbidden.
	operatorOnly
)

// operatorCaller is who a request without a token on the operator socket
// acts as.
var operatorCaller = Caller{Operator: true, Agent: OperatorAgent}

// authenticate resolves the caller of every request — by its bearer token,
// else by the socket it came in on — and puts it in the request's context
// for the handlers and the backend (CallerFrom).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.caller(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
	})
}

func (s *Server) caller(r *http.Request) (Caller, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if onAgentSocket(r.Context()) {
			return Caller{}, Errorf(CodeUnauthorized, "the agent socket needs an agent token: pass --token or set HAYEK_TOKEN (over HTTP: the header Authorization: Bearer <token>); the operator creates tokens with hayek agent create")
		}
		return operatorCaller, nil
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Caller{}, Errorf(CodeUnauthorized, "the Authorization header must be \"Bearer <token>\", with the agent token hayek agent create printed")
	}
	if s.admin == nil {
		// Refused rather than ignored: a caller sending a token expects
		// to be held to that agent's limits, not to act as the operator.
		return Caller{}, Errorf(CodeUnauthorized, "this node has no agent accounts, so it accepts no tokens; on the operator socket, send no token to act as the operator")
	}
	c, err := s.admin.Authenticate(r.Context(), token)
	if err != nil {
		return Caller{}, err
	}
	if !c.Operator && c.Agent == "" {
		return Caller{}, errors.New("api: Authenticate returned a caller that is neither the operator nor an agent")
	}
	return c, nil
}

// guard enforces a route's access before its handler runs: agents are
// forbidden the operator's routes and see only their own jobs and account.
func (s *Server) guard(a access, what string, h http.HandlerFunc) http.HandlerFunc {
	if a == anyone {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		c := CallerFrom(r.Context())
		if c.Operator {
			h(w, r)
			return
		}
		switch a {
		case operatorOnly:
			s.fail(w, r, forbidden(c, what))
			return
		case selfAgent:
			if name := r.PathValue("name"); name != "me" && name != c.Agent {
				s.fail(w, r, forbidden(c, "another agent's account"))
				return
			}
		case ownJob:
			if err := s.ownsJob(r.Context(), c, r.PathValue("id")); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		h(w, r)
	}
}

func forbidden(c Caller, what string) *Error {
	return Errorf(CodeForbidden, "%s is the operator's business: agent %q may use blobs, its own jobs, /v1/agents/me, offers, peers and status (the operator uses the operator socket without a token)", what, c.Agent)
}

// ownsJob is nil when job id is the agent's. Otherwise it is not_found
// with one message whether the job is another agent's or does not exist,
// so an agent learns nothing about jobs that are not its own.
func (s *Server) ownsJob(ctx context.Context, c Caller, id string) error {
	job, err := s.b.Job(ctx, id)
	if err != nil && !IsCode(err, CodeNotFound) {
		return err
	}
	if err != nil || job.Agent != c.Agent {
		return notYours(c, id)
	}
	return nil
}

func notYours(c Caller, id string) *Error {
	return Errorf(CodeNotFound, "agent %q has no job %q on this node", c.Agent, id)
}
