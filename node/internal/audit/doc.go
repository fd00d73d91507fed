// Package audit checks a job's audit bundle (api.Audit) offline, against
// the signatures it carries alone: no network, no ledger, no clock. Verify
// is handed a verifier and a bundle and returns what the signatures prove,
// by whom, what is only the auditing node's word, and every failure.
//
// The node exports it as node.VerifyAudit for cmd (hayek audit verify,
// the MCP tool), which may not import what the verifier is built on.
package audit
