// Package ledgerview owns the read-only views of the node's ledger the
// API shows: entries (with receipts and settlements opened so the JSON
// says what they sign), balances (totals, agents, bilateral balances with
// their credit limits, open holds), verification reports and the export.
//
// It only reads: what writes the ledger stays with its writers (agents,
// the requester's settlement, the provider's countersigning, and the
// receipts service's SettleDebt and receipt handler). Who may read is
// decided before it is called: the node's ledger API checks that the
// caller is the operator (agents.OperatorOnly). How an agent is shown and a peer's
// credit limit come in Deps, from the agents and evidence services.
package ledgerview
