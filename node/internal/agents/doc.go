// Package agents owns the programs that spend through a node: their
// tokens, budgets, limits and policies (all governance and fund entries of
// the ledger, so the registry is derived from it), the admission of each
// job an agent submits (its rate, the hold of its max cost and whether it
// waits for the operator's approval, one decision per agent), and the
// placement policy (a job's placement merged with its agent's policy into
// where the job may run).
//
// It has no background work: the node calls it from the API (Authenticate,
// CreateAgent, ..., Place) and the requester calls Admit for each job.
// LedgerError maps what the ledger refuses to the API's errors.
package agents
