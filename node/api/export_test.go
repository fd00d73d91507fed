package api

// TreatOwnUserAsForeign makes the server cap its own user's connections
// per user, as it does those of other users: tests run as one user.
func TreatOwnUserAsForeign() Option {
	return func(s *Server) error {
		s.selfUID = -2
		return nil
	}
}

// Refusals is how many connections srv has answered with busy or
// too_many_connections.
func Refusals(srv *Server) int64 {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var n int64
	for _, g := range srv.gates {
		n += g.refusals.Load()
	}
	return n
}
