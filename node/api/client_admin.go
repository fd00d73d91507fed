package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// CreateAgent creates an agent account with its budget and limits and
// returns its bearer token. The node keeps only the token's hash: this is
// the one time it is shown. Operator only.
func (c *Client) CreateAgent(ctx context.Context, req AgentCreate) (AgentToken, error) {
	var v AgentToken
	return v, c.sendJSON(ctx, http.MethodPost, "/v1/agents", req, &v)
}

// Agents lists the agent accounts, the operator's included. Operator only.
func (c *Client) Agents(ctx context.Context) ([]Agent, error) {
	var v []Agent
	return v, c.getJSON(ctx, "/v1/agents", &v)
}

// Agent returns an agent's account: its budget left, holds, spending and
// limits. An agent may read its own only ("me" names the caller).
func (c *Client) Agent(ctx context.Context, name string) (Agent, error) {
	var v Agent
	return v, c.getJSON(ctx, agentPath(name, ""), &v)
}

// Me returns the caller's own account: the agent of the client's token, or
// the operator's without one.
func (c *Client) Me(ctx context.Context) (Agent, error) { return c.Agent(ctx, "me") }

// FundAgent adds f.Amount to an agent's budget and returns the account.
// Operator only.
func (c *Client) FundAgent(ctx context.Context, name string, f Fund) (Agent, error) {
	var v Agent
	return v, c.sendJSON(ctx, http.MethodPost, agentPath(name, "/fund"), f, &v)
}

// RevokeAgent revokes an agent's token for good: its pending jobs are
// cancelled and their holds released. Operator only.
func (c *Client) RevokeAgent(ctx context.Context, name string) (Agent, error) {
	var v Agent
	return v, c.doJSON(ctx, http.MethodPost, agentPath(name, "/revoke"), &v)
}

// Approve lets a job waiting in StateApproval go to auction. A job that is
// not waiting is CodeNotApproval. Operator only.
func (c *Client) Approve(ctx context.Context, id string, d Decision) (Job, error) {
	var v Job
	return v, c.sendJSON(ctx, http.MethodPost, jobPath(id, "/approve"), d, &v)
}

// Reject refuses a job waiting in StateApproval: it fails and its hold is
// released. A job that is not waiting is CodeNotApproval. Operator only.
func (c *Client) Reject(ctx context.Context, id string, d Decision) (Job, error) {
	var v Job
	return v, c.sendJSON(ctx, http.MethodPost, jobPath(id, "/reject"), d, &v)
}

// Ledger lists ledger entries in sequence order, narrowed by f. Page with
// f.After set to the last Seq received. Operator only.
func (c *Client) Ledger(ctx context.Context, f LedgerFilter) ([]LedgerEntry, error) {
	q := url.Values{}
	for k, v := range map[string]string{"kind": f.Kind, "job": f.Job, "peer": f.Peer} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.After > 0 {
		q.Set("after", strconv.FormatUint(f.After, 10))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	path := "/v1/ledger"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var v []LedgerEntry
	return v, c.getJSON(ctx, path, &v)
}

// LedgerBalance returns where the money is: totals, agents' budgets, open
// holds and the bilateral balance with each peer. Operator only.
func (c *Client) LedgerBalance(ctx context.Context) (Balance, error) {
	var v Balance
	return v, c.getJSON(ctx, "/v1/ledger/balance", &v)
}

// VerifyLedger has the node check its chain: links, checkpoints and the
// money invariant, and with deep every receipt's countersignature. A
// corrupt ledger is not an error: the report says OK false, why, and the
// first bad sequence number. Operator only.
func (c *Client) VerifyLedger(ctx context.Context, deep bool) (VerifyReport, error) {
	path := "/v1/ledger/verify"
	if deep {
		path += "?deep=1"
	}
	var v VerifyReport
	return v, c.doJSON(ctx, http.MethodPost, path, &v)
}

// ExportLedger streams the whole ledger to w as JSON lines holding only
// hash-covered fields, which verify offline (hayek ledger verify --file).
// An export cut short by the node or the connection is an error, never a
// shorter export that looks whole. Operator only.
func (c *Client) ExportLedger(ctx context.Context, w io.Writer) error {
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/ledger/export", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-ndjson") {
		return fmt.Errorf("hayek: GET /v1/ledger/export answered %q, not JSON lines: is the socket a hayek node?", ct)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("hayek: exporting the ledger: %w", ctx.Err())
		}
		return fmt.Errorf("hayek: exporting the ledger: the export was cut short (%w); run it again", err)
	}
	return nil
}

// Settle records that s.Peer paid this node s.Amount outside the ledger,
// reducing its debt, and returns the settle entry. Operator only.
func (c *Client) Settle(ctx context.Context, s Settle) (LedgerEntry, error) {
	var v LedgerEntry
	return v, c.sendJSON(ctx, http.MethodPost, "/v1/ledger/settle", s, &v)
}

// Reputation returns this node's belief about peers per capability: every
// peer's, or one peer's when peer is not empty. Operator only.
func (c *Client) Reputation(ctx context.Context, peer string) ([]RepRow, error) {
	path := "/v1/rep"
	if peer != "" {
		path += "?peer=" + url.QueryEscape(peer)
	}
	var v []RepRow
	return v, c.getJSON(ctx, path, &v)
}

func agentPath(name, suffix string) string { return "/v1/agents/" + url.PathEscape(name) + suffix }

// sendJSON sends in as the JSON body and decodes a 2xx answer into out.
func (c *Client) sendJSON(ctx context.Context, method, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("hayek: encoding %s %s: %w", method, path, err)
	}
	req, err := c.newRequest(ctx, method, path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header["Content-Type"] = contentJSON
	return c.doRequest(req, out)
}
