// Package receipts owns the receiving side of /hayek/receipt/1.0.0 and
// the one write of the operator's ledger API that travels on it.
//
// The protocol carries two kinds of frame (wire.ReceiptMsg). A receipt a
// requester signed for a run this node delivered goes to the provider
// service to countersign (Deps.Countersign), and the countersigned
// receipt is the answer. A settlement a creditor signed, naming this node
// as its debtor, is verified and recorded in the ledger. Anything else is
// refused with the reason, and the refusal is counted
// (receipt/malformed, receipt/rejected, settle/bad_signature,
// settle/not_party, settle/rejected).
//
// SettleDebt is the creditor's side of a settlement: the operator
// acknowledges a payment received outside the ledger; the service signs
// it as this node, appends it with the outcome it is evidence of, records
// and attests that outcome, and sends the debtor the signed settlement
// over the same protocol so both ledgers hold it (best effort: the
// creditor's ledger is its word either way).
//
// Sending a receipt to be countersigned is the payer's side of
// settlement, and the requester's (node/internal/requester); both sides
// share wire.ReceiptMsg and wire.SendReceipt.
//
// It has no background loop: the node registers Handler with the group's
// context, and SettleDebt's send to the debtor runs in the task group
// (wire.Group.GoCtx). What it needs of its siblings — countersigning,
// reputation, the API's view of a ledger entry and its errors — comes in
// Deps as narrow interfaces and functions.
package receipts
