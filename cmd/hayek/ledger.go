package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

// This file holds hayek ledger, which lists entries, and the summaries of
// entry bodies its subcommands share.

func newLedgerCmd(g *globals) *cobra.Command {
	var (
		f      api.LedgerFilter
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "ledger [--kind K] [--job ID] [--peer P] [--after SEQ] [--limit N]",
		Short: "List the node's ledger entries; balance, verify, export, settle, audit",
		Long: `The node's ledger is append-only and hash-chained: every fund, hold, release,
receipt, settlement, attestation, reputation outcome and governance decision is
an entry, and the node signs a checkpoint of the chain's head after each group
of appends. Money is in integers of the smallest unit.

Without a subcommand, list entries in sequence order, with a one-line summary
of each body (the amounts, job, peer and agent it concerns). Page with --after
set to the last sequence number shown. Operator only.`,
		Example: `  hayek ledger --kind receipt
  hayek ledger --job ID
  hayek ledger --after 100 --limit 100 --json
  hayek ledger balance
  hayek ledger verify --deep
  hayek ledger export --out ledger.jsonl && hayek ledger verify --file ledger.jsonl
  hayek ledger audit mine.jsonl theirs.jsonl
  hayek ledger recover --from theirs.jsonl       # with the node stopped, after it refused a ledger that lost writes`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if f.Kind != "" && !slices.Contains(api.LedgerKinds, f.Kind) {
				return usageErrorf("--kind %q: want one of %s\nTry: hayek ledger --kind receipt", f.Kind, strings.Join(api.LedgerKinds, ", "))
			}
			if f.Limit < 1 || f.Limit > api.MaxLedgerLimit {
				return usageErrorf("--limit must be from 1 to %d\nTry: hayek ledger --limit 100, and --after to page", api.MaxLedgerLimit)
			}
			cl, err := connect(g)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := c.Context()
			query := f
			if f.Peer != "" {
				if query.Peer, err = resolvePeer(ctx, cl, f.Peer); err != nil {
					return err
				}
			}
			entries, err := cl.Ledger(ctx, query)
			if err != nil {
				return clientError(err)
			}
			if asJSON {
				return writeJSON(g.Stdout, entries)
			}
			if len(entries) == 0 {
				_, err := fmt.Fprintln(g.Stderr, "no ledger entries match")
				return err
			}
			err = writeTable(g.Stdout, "SEQ\tTIME\tKIND\tSUMMARY", entries, func(t io.Writer, e api.LedgerEntry) {
				fmt.Fprintf(t, "%d\t%s\t%s\t%s\n", e.Seq, e.Time.Local().Format(time.DateTime), e.Kind, summarize(e.Body))
			})
			if err != nil {
				return err
			}
			if len(entries) == f.Limit {
				fmt.Fprintf(g.Stderr, "hayek: %d entries shown; more may follow: %s\n", len(entries), nextPage(f, entries[len(entries)-1].Seq))
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.Kind, "kind", "", "only entries of this kind: "+strings.Join(api.LedgerKinds, ", "))
	fl.StringVar(&f.Job, "job", "", "only entries about this job `ID`")
	fl.StringVar(&f.Peer, "peer", "", "only entries about this peer: its ID, or any start or end of it that names one peer the node knows")
	fl.Uint64Var(&f.After, "after", 0, "only entries after this sequence number")
	fl.IntVar(&f.Limit, "limit", api.DefaultLedgerLimit, "at most this many entries")
	fl.BoolVar(&asJSON, "json", false, "print the entries as a JSON array, bodies whole")
	c.RegisterFlagCompletionFunc("kind", completeFixed(api.LedgerKinds))
	c.RegisterFlagCompletionFunc("peer", completePeers(g, -1))
	c.AddCommand(newLedgerBalanceCmd(g), newLedgerVerifyCmd(g), newLedgerExportCmd(g), newLedgerSettleCmd(g), newLedgerAuditCmd(g), newLedgerRecoverCmd(g))
	return c
}

// nextPage is the command that lists the entries after seq with the same
// filters as f (the peer as the user gave it).
func nextPage(f api.LedgerFilter, seq uint64) string {
	cmd := "hayek ledger"
	for _, kv := range [][2]string{{"--kind", f.Kind}, {"--job", f.Job}, {"--peer", f.Peer}} {
		if kv[1] != "" {
			cmd += " " + kv[0] + " " + kv[1]
		}
	}
	if f.Limit != api.DefaultLedgerLimit {
		cmd += " --limit " + strconv.Itoa(f.Limit)
	}
	return cmd + " --after " + strconv.FormatUint(seq, 10)
}

// summaryKeys are the body fields a summary shows first, in this order.
var summaryKeys = []string{"action", "agent", "amount", "price", "job", "attempt", "provider", "requester", "peer",
	"subject", "node", "cap", "capability", "outcome", "reason", "seq", "head", "reference", "note"}

// summaryPeers are fields holding peer IDs, shortened for the table.
var summaryPeers = map[string]bool{"provider": true, "requester": true, "peer": true, "subject": true, "node": true,
	"issuer": true, "debtor": true, "creditor": true}

// summaryText are free-text fields: their start is what matters.
var summaryText = map[string]bool{"note": true, "detail": true, "reason": true, "reference": true, "message": true}

// summarize renders an entry's body as one line of key=value: the amounts,
// job, peers and agent first; signatures, heads of the other side and
// times left out (hayek ledger --json has them all).
func summarize(body json.RawMessage) string {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if len(body) == 0 || dec.Decode(&m) != nil {
		return orDash(strings.TrimSpace(string(body)))
	}
	fields := map[string]string{}
	flatten(m, fields, 0)
	var parts []string
	for _, k := range summaryKeys {
		if v, ok := fields[k]; ok {
			parts = append(parts, k+"="+v)
			delete(fields, k)
		}
	}
	rest := make([]string, 0, len(fields))
	for k := range fields {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	for _, k := range rest {
		parts = append(parts, k+"="+fields[k])
	}
	const max = 10
	if len(parts) > max {
		parts = append(parts[:max], "…")
	}
	return strings.Join(parts, " ")
}

// flatten gathers the scalar fields of a body, and those of the documents
// nested in it (a receipt inside its signatures), into out.
func flatten(m map[string]any, out map[string]string, depth int) {
	for k, v := range m {
		if skipField(k) {
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			if depth < 2 {
				flatten(v, out, depth+1)
			}
		case []any:
			out[k] = fmt.Sprintf("[%d]", len(v))
		case nil:
		default:
			s := fmt.Sprint(v)
			if s == "" || s == "0" && k != "amount" && k != "price" {
				continue
			}
			switch {
			case summaryPeers[k]:
				s = shortPeer(s)
			case summaryText[k]:
				if r := []rune(s); len(r) > 40 {
					s = string(r[:39]) + "…"
				}
				if strings.ContainsAny(s, " \t\"=") {
					s = strconv.Quote(s)
				}
			case len(s) > 24: // a CID or key: its end tells it apart
				s = "…" + s[len(s)-8:]
			case strings.ContainsAny(s, " \t\"="):
				s = strconv.Quote(s)
			}
			if _, dup := out[k]; !dup || depth == 0 {
				out[k] = s
			}
		}
	}
}

func skipField(k string) bool {
	return k == "sig" || strings.HasSuffix(k, "_sig") || strings.HasSuffix(k, "_head") || strings.HasSuffix(k, "_hash") ||
		k == "time" || k == "created" || k == "result" || k == "prev"
}
