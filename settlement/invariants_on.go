//go:build invariants

package settlement

// invariants turns on the expensive checks: after every applied entry the
// state recounts its totals from every account, hold and balance.
// go test -tags invariants ./settlement/...
const invariants = true
