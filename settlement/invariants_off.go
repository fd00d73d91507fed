//go:build !invariants

package settlement

// invariants is off in normal builds: apply checks the money invariant on
// the running totals only (O(1)); Verify recounts once at the end.
const invariants = false
