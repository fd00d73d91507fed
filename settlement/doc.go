// Package settlement will own each node's append-only, hash-chained ledger
// (pebble): fund, hold, release, receipt, settle, attestation, governance
// and checkpoint entries; budget holds taken before an auction; receipts
// countersigned by both parties; bilateral balances; agent budgets; and the
// verification of chains and exports. It imports no other hayek package.
//
// Status: not built yet. Today a job's agreed price is recorded in the job
// (node's job store) but no ledger holds, pays or settles it; the settlement
// issue builds this package and wires it into the requester and provider.
package settlement
