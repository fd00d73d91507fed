package main

import (
	"context"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/node/api"
)

// AuditInfo is what audit_job says about a job: its record, and what the
// signatures in it prove.
type AuditInfo struct {
	Job       string              `json:"job"`
	Node      string              `json:"node" jsonschema:"the requester node that ran the auctions"`
	Agent     string              `json:"agent"`
	Approval  string              `json:"approval" jsonschema:"who approved the job and when, or why no approval was needed"`
	Auctions  []api.AuditAuction  `json:"auctions" jsonschema:"every auction: invitees, bids with their scores, declines with reasons, the winners and why they won"`
	Execution *api.AuditExecution `json:"execution,omitempty" jsonschema:"the accepted run: module, input and output CIDs, usage, the provider's signed result"`
	Ledger    []AuditLedgerEntry  `json:"ledger" jsonschema:"the ledger entries of the job and of the agent's limits and policy, with their CIDs"`
	Timeline  []string            `json:"timeline"`
	Verified  bool                `json:"verified" jsonschema:"the record checks against the signatures it carries"`
	Proven    []api.AuditFact     `json:"proven" jsonschema:"facts proven by a peer's signature, and whose"`
	Unproven  []string            `json:"unproven" jsonschema:"what is only this node's word"`
	Failures  []string            `json:"failures,omitempty"`
}

// AuditLedgerEntry is a ledger entry in an audit: what and where.
type AuditLedgerEntry struct {
	Seq  uint64    `json:"seq"`
	CID  string    `json:"cid"`
	Kind string    `json:"kind"`
	Time time.Time `json:"time"`
}

func addAuditTool(s *mcp.Server, t *mcpTools) {
	mcp.AddTool(s, &mcp.Tool{Name: "audit_job", Title: "Audit a job", Description: "A job's record for an audit: who asked and under which limits, " +
		"who approved, every auction with its bids, declines, scores and why the winner won, the run with its input and output CIDs, the ledger " +
		"entries and a timeline — checked against the signed messages it carries, saying which facts each peer's signature proves. " +
		"The operator gets the full bundle, signatures included, with hayek job audit ID --bundle FILE.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}, t.audit)
}

func (t *mcpTools) audit(ctx context.Context, _ *mcp.CallToolRequest, in JobIDArgs) (*mcp.CallToolResult, AuditInfo, error) {
	a, err := t.cl.Audit(ctx, in.ID)
	if err != nil {
		return nil, AuditInfo{}, toolError(err)
	}
	rep := node.VerifyAudit(a)
	info := AuditInfo{Job: a.Job.ID, Node: a.Node, Agent: a.Intent.Agent, Approval: a.Intent.Approval, Auctions: a.Auctions,
		Execution: a.Execution, Timeline: a.Timeline, Verified: rep.OK, Proven: rep.Proven, Unproven: rep.Unproven, Failures: rep.Failures,
		Ledger: make([]AuditLedgerEntry, 0, len(a.Entries))}
	for _, e := range a.Entries {
		info.Ledger = append(info.Ledger, AuditLedgerEntry{Seq: e.Seq, CID: e.CID, Kind: e.Kind, Time: e.Time})
	}
	return nil, info, nil
}
