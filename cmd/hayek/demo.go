package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/node/api"
)

// demoSeed fixes the devnet's job IDs and draws, so the demo tells the
// same story every time.
const demoSeed = 1

// demoJob is one sample agent job of the demo.
type demoJob struct {
	title string
	about string
	req   api.SubmitRequest
}

func newDemoCmd(g *globals) *cobra.Command {
	var nodes int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Auction, run and pay a few sample agent jobs on a local network",
		Long: `Start a devnet of N nodes on loopback (real TCP with Noise, Kademlia DHT, gossipsub;
providers priced apart), submit sample agent jobs to node-0 through its local
socket API as an agent would, and print for each the auction (bids, declines,
winner, price), where it ran and its result. Then stop cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodes < 3 || nodes > 32 {
				return usageErrorf("--nodes %d: want 3 to 32 (one requester and at least two providers)", nodes)
			}
			return runDemo(cmd.Context(), g, cmd.OutOrStdout(), nodes)
		},
	}
	cmd.Flags().IntVar(&nodes, "nodes", 5, "number of nodes")
	return cmd
}

func runDemo(ctx context.Context, g *globals, out io.Writer, nodes int) error {
	dir, err := os.MkdirTemp("", "hayek-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	log := slog.New(slog.NewTextHandler(g.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	d, err := node.StartDevnet(ctx, node.DevnetOptions{Nodes: nodes, Dir: dir, Logger: log, Seed: demoSeed,
		Configure: func(i int, c *node.Config) {
			// Providers priced apart, so auctions have something to decide.
			c.Provider.Pricing.Base = 10 + 6*int64(i)
			c.Provider.Pricing.PerSecond = 1 + int64(i%3)
			if i == nodes-1 {
				// One provider cheats, so verification has something to catch.
				c.Misbehave.WrongOutputRate = 1
			}
		}})
	if err != nil {
		return withCode(ExitNotRun, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		d.Close(cctx)
	}()
	names := map[string]string{}
	fmt.Fprintf(out, "hayek demo: %d nodes on 127.0.0.1 — real TCP, Noise, Kademlia DHT, gossipsub\n", nodes)
	for i, n := range d.Nodes {
		names[n.ID()] = fmt.Sprintf("node-%d", i)
		role := "provider, base price " + fmt.Sprint(n.Config().Provider.Pricing.Base)
		if len(n.Config().Misbehave.Active()) > 0 {
			role += " — CONFIGURED TO CHEAT: corrupts every output"
		}
		if i == 0 {
			role = "requester (the agent submits here); also sells"
		}
		fmt.Fprintf(out, "  node-%d  %s  %s\n", i, n.ID(), role)
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = d.Ready(rctx)
	cancel()
	if err != nil {
		return withCode(ExitNotRun, fmt.Errorf("network did not form: %w", err))
	}
	fmt.Fprintf(out, "network ready in %v: every node found the others' signed offers on the DHT\n\n", time.Since(start).Round(time.Millisecond))

	op := api.NewClient(d.Sockets[0])
	tok, err := op.CreateAgent(ctx, api.AgentCreate{Name: "demo-agent", Budget: 5000, ApproveAbove: 600})
	if err != nil {
		return withCode(ExitNotRun, err)
	}
	c := api.NewClient(d.Sockets[0], api.WithToken(tok.Token))
	fmt.Fprintf(out, "operator created agent demo-agent: budget 5000, jobs that may cost more than 600 need approval\n")
	toolbox, err := c.PutBlobBytes(ctx, samples.Toolbox)
	if err != nil {
		return withCode(ExitNotRun, err)
	}
	hello, err := c.PutBlobBytes(ctx, samples.Hello)
	if err != nil {
		return withCode(ExitNotRun, err)
	}
	fmt.Fprintf(out, "agent uploaded 2 modules to node-0: hello.wasm (%d B, %s) and toolbox.wasm (%s, Go-built, %s)\n\n",
		hello.Size, short(hello.CID), units.FormatSize(toolbox.Size), short(toolbox.CID))
	// Every provider runs the replicated job, the cheater included.
	replicas := min(nodes-1, 9)
	poem := "The curious task of economics is to demonstrate to men\nhow little they really know about what they imagine they can design.\n"
	jobs := []demoJob{
		{"hello", "hand-written 337-byte module echoing stdin", api.SubmitRequest{
			Module: api.BlobRef{CID: hello.CID}, Stdin: &api.BlobRef{Text: "agents of hayek\n"}, MaxPrice: 200}},
		{"word count", "toolbox wc over two input files mounted read-only at /in", api.SubmitRequest{
			Module: api.BlobRef{CID: toolbox.CID}, Args: []string{"wc", "/in/hayek.txt", "/in/lorem.txt"},
			Inputs: []api.InputRef{{Name: "hayek.txt", BlobRef: api.BlobRef{Text: poem}},
				{Name: "lorem.txt", BlobRef: api.BlobRef{Text: strings.Repeat("lorem ipsum dolor sit amet\n", 40)}}},
			MaxPrice: 200}},
		{"checksums", "toolbox sha256 hashes /in and writes /out/manifest.sha256", api.SubmitRequest{
			Module: api.BlobRef{CID: toolbox.CID}, Args: []string{"sha256"},
			Inputs:   []api.InputRef{{Name: "hayek.txt", BlobRef: api.BlobRef{Text: poem}}},
			MaxPrice: 200}},
		{"primes", "CPU-bound: count the primes below 2,000,000", api.SubmitRequest{
			Module: api.BlobRef{CID: toolbox.CID}, Args: []string{"primes", "2000000"},
			Timeout: units.Duration(30 * time.Second), MaxPrice: 500}},
		{"a failing job", "exits 3: a job's own failure is a result, and is paid", api.SubmitRequest{
			Module: api.BlobRef{CID: toolbox.CID}, Args: []string{"exit", "3"}, MaxPrice: 200}},
		{"a runaway job", "loops forever: stopped at its 300ms limit, reported, paid", api.SubmitRequest{
			Module: api.BlobRef{CID: toolbox.CID}, Args: []string{"spin"}, Timeout: units.Duration(300 * time.Millisecond),
			MaxPrice: 200}},
		{"verified by replication", fmt.Sprintf("replicate:%d — every provider runs it, results must agree", replicas), api.SubmitRequest{
			Module: api.BlobRef{CID: hello.CID}, Stdin: &api.BlobRef{Text: "replicated\n"}, MaxPrice: 100,
			Verify: fmt.Sprintf("replicate:%d", replicas)}},
		{"needs approval", "max price 700 is above the agent's approval threshold", api.SubmitRequest{
			Module: api.BlobRef{CID: hello.CID}, Stdin: &api.BlobRef{Text: "approved\n"}, MaxPrice: 700}},
		{"too big for anyone", "asks for 2GiB of memory; every provider's limit is 512MiB", api.SubmitRequest{
			Module: api.BlobRef{CID: hello.CID}, Memory: 2 << 30, MaxPrice: 200}},
	}
	spent := map[string]int64{}
	for i, dj := range jobs {
		fmt.Fprintf(out, "job %d/%d  %s — %s\n", i+1, len(jobs), dj.title, dj.about)
		t0 := time.Now()
		job, err := c.Submit(ctx, dj.req)
		if err != nil {
			return withCode(ExitNotRun, fmt.Errorf("submit %s: %w", dj.title, err))
		}
		if job.State == api.StateApproval {
			fmt.Fprintf(out, "  approval  waiting: the operator approves it (hayek job approve %s)\n", job.ID)
			if _, err := op.Approve(ctx, job.ID, api.Decision{Reason: "demo"}); err != nil {
				return withCode(ExitNotRun, err)
			}
		}
		job, err = c.Wait(ctx, job.ID)
		if err != nil {
			return withCode(ExitNotRun, err)
		}
		took := time.Since(t0)
		printAuction(out, job, names)
		if job.State == api.StateCompleted {
			res, err := c.Result(ctx, job.ID)
			if err != nil {
				return withCode(ExitNotRun, err)
			}
			spent[res.Provider] += res.Price
			exit := fmt.Sprintf(", exit code %d", res.ExitCode)
			if res.Status != "ok" && res.Status != "exit" {
				exit = "" // stopped by a limit: no exit code of its own
			}
			fmt.Fprintf(out, "  ran on    %s in %.1fms: %s%s%s\n", names[res.Provider], res.Usage.WallMs,
				res.Status, exit, detail(res.Error))
			if res.StartedAfterMs >= 100 {
				fmt.Fprintf(out, "  started   %dms after the award: first run there, module fetched and compiled\n", res.StartedAfterMs)
			}
			printText(out, "stdout", res.Stdout.Text)
			printText(out, "stderr", res.Stderr.Text)
			for _, o := range res.Outputs {
				var buf bytes.Buffer
				if _, err := c.GetBlob(ctx, o.CID, &buf); err == nil {
					printText(out, "/out/"+o.Name, buf.String())
				}
			}
			if v := job.Verification; v != nil && v.Mode == "replicate" {
				var agree, lost []string
				for _, p := range v.Replicas {
					agree = append(agree, names[p])
				}
				for _, p := range v.Losers {
					lost = append(lost, names[p])
				}
				fmt.Fprintf(out, "  verified  %s agree", strings.Join(agree, ", "))
				if len(lost) > 0 {
					fmt.Fprintf(out, "; %s disagreed — outvoted, not paid, reputation down", strings.Join(lost, ", "))
				}
				fmt.Fprintln(out)
			}
			if st := job.Settlement; st != nil {
				fmt.Fprintf(out, "  paid      %d (held %d, released %d, %d countersigned receipt%s) · submit→result %v\n\n",
					st.Paid, st.Held, st.Released, len(st.Receipts), plural(len(st.Receipts)), took.Round(100*time.Microsecond))
			} else {
				fmt.Fprintf(out, "  paid      %d to %s · submit→result %v\n\n", res.Price, names[res.Provider], took.Round(100*time.Microsecond))
			}
		} else {
			msg := ""
			if job.Error != nil {
				msg = job.Error.Code + ": " + job.Error.Message
			}
			fmt.Fprintf(out, "  %s      %s\n\n", job.State, shorten(msg, names))
		}
	}
	// Where the money went, from node-0's ledger, and what it now
	// believes about each provider.
	me, err := c.Me(ctx)
	if err != nil {
		return withCode(ExitNotRun, err)
	}
	fmt.Fprintf(out, "demo-agent spent %d of its 5000 (%d left, %d still held)\n", me.Spent, me.BudgetLeft, me.Held)
	bal, err := op.LedgerBalance(ctx)
	if err != nil {
		return withCode(ExitNotRun, err)
	}
	var owes []string
	for _, p := range bal.Peers {
		owes = append(owes, fmt.Sprintf("%s %d", names[p.Peer], -p.Balance))
	}
	sort.Strings(owes)
	fmt.Fprintf(out, "node-0 owes its providers (bilateral balances, settled outside the ledger): %s\n", strings.Join(owes, ", "))
	if rep, err := op.VerifyLedger(ctx, true); err == nil {
		fmt.Fprintf(out, "node-0's ledger: %d hash-chained entries, %d checkpoints, every receipt's two signatures verify: %v\n",
			rep.Entries, rep.Checkpoints, rep.OK)
	}
	rows, err := op.Reputation(ctx, "")
	if err != nil {
		return withCode(ExitNotRun, err)
	}
	fmt.Fprintln(out, "node-0's reputation of its providers (Beta posterior, runtime/wasm):")
	sort.Slice(rows, func(i, j int) bool { return names[rows[i].Peer] < names[rows[j].Peer] })
	for _, r := range rows {
		if r.Capability != "runtime/wasm" {
			continue
		}
		fmt.Fprintf(out, "  %-7s mean %.2f  lower bound %.2f  evidence %.1f\n", names[r.Peer], r.Mean, r.LowerBound, r.Evidence)
	}
	fmt.Fprintf(out, "next: hayek devnet --nodes 5, then point hayek job submit at a node with --socket (see the README)\n")
	_ = filepath.Join
	return nil
}

func printAuction(out io.Writer, job api.Job, names map[string]string) {
	for _, a := range job.Attempts {
		var bids []string
		sort.Slice(a.Bids, func(i, j int) bool { return a.Bids[i].Price < a.Bids[j].Price })
		for _, b := range a.Bids {
			bids = append(bids, fmt.Sprintf("%s %d", names[b.Provider], b.Price))
		}
		var decl []string
		for _, d := range a.Declines {
			decl = append(decl, fmt.Sprintf("%s %s", names[d.Provider], d.Reason))
		}
		line := fmt.Sprintf("  auction   #%d: %d invited · bids: %s", a.Number, len(a.Invitees), orNone(bids))
		if len(decl) > 0 {
			line += " · declined: " + strings.Join(decl, ", ")
		}
		fmt.Fprintln(out, line)
		switch {
		case len(a.Winners) > 1:
			var ws []string
			for _, w := range a.Winners {
				ws = append(ws, names[w])
			}
			ru := "no bid outside the pool they were drawn from, so the max price"
			if a.RunnerUp != "" {
				ru = "second price: the best bid outside the pool, " + names[a.RunnerUp]
			}
			fmt.Fprintf(out, "  award     %s, drawn at random among the best bids, at %d each (%s)\n", strings.Join(ws, ", "), a.Price, ru)
		case a.Winner != "":
			ru := "no runner-up, so the max price"
			if a.RunnerUp != "" {
				ru = "second price: runner-up " + names[a.RunnerUp]
			}
			fmt.Fprintf(out, "  award     %s at %d (%s)\n", names[a.Winner], a.Price, ru)
		}
		if a.Fault != "" {
			fmt.Fprintf(out, "  fault     %s\n", a.Fault)
		}
	}
}

func printText(out io.Writer, label, text string) {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return
	}
	lines := strings.Split(text, "\n")
	if len(lines) > 4 {
		lines = append(lines[:4], fmt.Sprintf("… (%d more lines)", len(lines)-4))
	}
	for i, l := range lines {
		if i == 0 {
			fmt.Fprintf(out, "  %-9s %s\n", label, l)
		} else {
			fmt.Fprintf(out, "  %-9s %s\n", "", l)
		}
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func detail(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// shorten replaces abbreviated peer IDs in messages with node names.
func shorten(msg string, names map[string]string) string {
	for id, name := range names {
		if len(id) > 12 {
			msg = strings.ReplaceAll(msg, id[:4]+"…"+id[len(id)-6:], name)
		}
	}
	return msg
}

func short(cid string) string {
	if len(cid) > 16 {
		return cid[:8] + "…" + cid[len(cid)-6:]
	}
	return cid
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
