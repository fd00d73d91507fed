package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/exec/docker"
	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/internal/samples/native"
	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/node/api"
)

// demoSeed fixes the devnet's job IDs and draws, so the demo tells the
// same story every time.
const demoSeed = 1

// The demo agent's account.
const (
	demoBudget       = 5000
	demoApproveAbove = 600
)

// demoJob is one sample agent job of the demo.
type demoJob struct {
	title string
	about string
	req   api.SubmitRequest
	// runtime is a runtime beyond wasm the job needs; the demo says why
	// it skips the job when the network cannot sell it here.
	runtime market.Capability
}

func newDemoCmd(g *globals) *cobra.Command {
	var nodes int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Auction, run and pay a few sample agent jobs on a local network",
		Long: `Start a devnet of N nodes on loopback (real TCP with Noise, Kademlia DHT, gossipsub;
providers priced apart), submit sample agent jobs to node-0 through its local
socket API as an agent would, and print for each the auction (bids, declines,
winner, price and why), where it ran and its result. Beside the wasm jobs, a
static executable runs in the process sandbox and an image shipped as an
archive in a container, where this machine can run them (a Docker engine for
the container); otherwise the demo says why it skips them. Then stop cleanly.`,
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

// demo is one run of the demo: the network, node-0's operator and its
// agent, and the nodes' names, which stand for peer IDs in what it prints.
type demo struct {
	out   io.Writer
	net   *node.Devnet
	op    *api.Client // node-0's operator
	agent *api.Client // the demo agent, on node-0
	names map[string]string
	told  map[string]bool // the reasons for prices already given
}

// runDemo starts the network, creates the agent, runs each sample job and
// prints where the money went. Every step that fails means the demo could
// not be run (exit 3).
func runDemo(ctx context.Context, g *globals, out io.Writer, nodes int) error {
	dir, err := os.MkdirTemp("", "hayek-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	net, err := startDemoNet(ctx, g, dir, nodes)
	if err != nil {
		return withCode(ExitNotRun, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		net.Close(cctx)
	}()
	dm := &demo{out: out, net: net, op: api.NewClient(net.Sockets[0]), names: map[string]string{}, told: map[string]bool{}}
	defer dm.op.Close()
	dm.introduce()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = net.Ready(rctx)
	cancel()
	if err != nil {
		return withCode(ExitNotRun, fmt.Errorf("network did not form: %w", err))
	}
	fmt.Fprintf(out, "network ready in %s: every node found the others' signed offers on the DHT\n\n", formatDuration(time.Since(start)))

	jobs, err := dm.prepare(ctx)
	if err != nil {
		return withCode(ExitNotRun, err)
	}
	defer dm.agent.Close()
	for i, dj := range jobs {
		fmt.Fprintf(out, "job %d/%d  %s — %s\n", i+1, len(jobs), dj.title, dj.about)
		if dj.runtime != "" && (!net.Sells(dj.runtime) || dj.req.Module.CID == "") {
			why := net.Missing[dj.runtime]
			if why == "" {
				why = "no native toolbox for this platform"
			}
			dm.line("skipped", "%s is not sold on this machine: %s", dj.runtime, why)
			fmt.Fprintln(out)
			continue
		}
		if err := dm.run(ctx, dj); err != nil {
			return withCode(ExitNotRun, fmt.Errorf("%s: %w", dj.title, err))
		}
		fmt.Fprintln(out)
	}
	if err := dm.summarize(ctx); err != nil {
		return withCode(ExitNotRun, err)
	}
	fmt.Fprintf(out, "next: hayek devnet --nodes 5, then point hayek job submit at a node with --socket (see the README)\n")
	return nil
}

// startDemoNet starts the devnet: providers priced apart, so auctions have
// something to decide, and the last one cheating, so verification has
// something to catch.
func startDemoNet(ctx context.Context, g *globals, dir string, nodes int) (*node.Devnet, error) {
	log := slog.New(slog.NewTextHandler(g.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	return node.StartDevnet(ctx, node.DevnetOptions{Nodes: nodes, Dir: dir, Logger: log, Seed: demoSeed, Process: true, Docker: true,
		Configure: func(i int, c *node.Config) {
			c.Provider.Pricing.Base = 10 + 6*int64(i)
			c.Provider.Pricing.PerSecond = 1 + int64(i%3)
			if i == nodes-1 {
				c.Misbehave.WrongOutputRate = 1
			}
		}})
}

// introduce names the nodes and says what each does.
func (dm *demo) introduce() {
	fmt.Fprintf(dm.out, "hayek demo: %d nodes on 127.0.0.1 — real TCP, Noise, Kademlia DHT, gossipsub\n", len(dm.net.Nodes))
	for i, n := range dm.net.Nodes {
		dm.names[n.ID()] = fmt.Sprintf("node-%d", i)
		role := "provider, base price " + fmt.Sprint(n.Config().Provider.Pricing.Base)
		if len(n.Config().Misbehave.Active()) > 0 {
			role += " — CONFIGURED TO CHEAT: corrupts every output"
		}
		if i == 0 {
			role = "requester (the agent submits here); also sells"
		}
		fmt.Fprintf(dm.out, "  node-%d  %s  %s\n", i, n.ID(), role)
	}
}

// prepare creates the demo agent and uploads its modules as the agent,
// and returns the jobs it will submit.
func (dm *demo) prepare(ctx context.Context) ([]demoJob, error) {
	tok, err := dm.op.CreateAgent(ctx, api.AgentCreate{Name: "demo-agent", Budget: demoBudget, ApproveAbove: demoApproveAbove})
	if err != nil {
		return nil, err
	}
	dm.agent = api.NewClient(dm.net.Sockets[0], api.WithToken(tok.Token))
	fmt.Fprintf(dm.out, "operator created agent demo-agent: budget %d, jobs that may cost more than %d need approval\n", demoBudget, demoApproveAbove)
	toolbox, err := dm.agent.PutBlobBytes(ctx, samples.Toolbox)
	if err != nil {
		return nil, err
	}
	hello, err := dm.agent.PutBlobBytes(ctx, samples.Hello)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(dm.out, "agent uploaded 2 modules to node-0: hello.wasm (%d B, %s) and toolbox.wasm (%s, Go-built, %s)\n",
		hello.Size, short(hello.CID), units.FormatSize(toolbox.Size), short(toolbox.CID))
	var exe, image string
	if dm.net.Sells(market.RuntimeProcess) && native.Toolbox != nil {
		b, err := dm.agent.PutBlobBytes(ctx, native.Toolbox)
		if err != nil {
			return nil, err
		}
		exe = b.CID
		fmt.Fprintf(dm.out, "  and the toolbox as a static Linux executable (%s, %s)\n", units.FormatSize(b.Size), short(b.CID))
	}
	if dm.net.Sells(market.RuntimeDocker) && native.Toolbox != nil {
		ar, err := docker.ScratchArchive(map[string][]byte{"toolbox": native.Toolbox}, []string{"/toolbox"})
		if err != nil {
			return nil, err
		}
		b, err := dm.agent.PutBlobBytes(ctx, ar)
		if err != nil {
			return nil, err
		}
		image = b.CID
		fmt.Fprintf(dm.out, "  and as an image FROM scratch, a docker save archive (%s, %s)\n", units.FormatSize(b.Size), short(b.CID))
	}
	fmt.Fprintln(dm.out)
	// Every provider runs the replicated job, the cheater included.
	return demoJobs(hello.CID, toolbox.CID, exe, image, min(len(dm.net.Nodes)-1, 9)), nil
}

// demoJobs are the sample jobs, one for each thing the market does. exe
// and image are the native toolbox's CIDs, "" when not uploaded.
func demoJobs(hello, toolbox, exe, image string, replicas int) []demoJob {
	poem := "The curious task of economics is to demonstrate to men\nhow little they really know about what they imagine they can design.\n"
	return []demoJob{
		{"hello", "hand-written 337-byte module echoing stdin", api.SubmitRequest{
			Module: api.BlobRef{CID: hello}, Stdin: &api.BlobRef{Text: "agents of hayek\n"}, MaxPrice: 200}, ""},
		{"word count", "toolbox wc over two input files mounted read-only at /in", api.SubmitRequest{
			Module: api.BlobRef{CID: toolbox}, Args: []string{"wc", "/in/hayek.txt", "/in/lorem.txt"},
			Inputs: []api.InputRef{{Name: "hayek.txt", BlobRef: api.BlobRef{Text: poem}},
				{Name: "lorem.txt", BlobRef: api.BlobRef{Text: strings.Repeat("lorem ipsum dolor sit amet\n", 40)}}},
			MaxPrice: 200}, ""},
		{"checksums", "toolbox sha256 hashes /in and writes /out/manifest.sha256", api.SubmitRequest{
			Module: api.BlobRef{CID: toolbox}, Args: []string{"sha256"},
			Inputs:   []api.InputRef{{Name: "hayek.txt", BlobRef: api.BlobRef{Text: poem}}},
			MaxPrice: 200}, ""},
		{"primes", "CPU-bound: count the primes below 2,000,000", api.SubmitRequest{
			Module: api.BlobRef{CID: toolbox}, Args: []string{"primes", "2000000"},
			Timeout: units.Duration(30 * time.Second), MaxPrice: 500}, ""},
		{"a native program", "the same count by the toolbox built as a static Linux executable, in the process sandbox", api.SubmitRequest{
			Runtime: "process", Module: api.BlobRef{CID: exe}, Args: []string{"primes", "2000000"},
			Timeout: units.Duration(30 * time.Second), MaxPrice: 500}, market.RuntimeProcess},
		{"a container", "the toolbox in an image shipped with the job as an archive: no registry, no network, read-only root", api.SubmitRequest{
			Runtime: "docker", Module: api.BlobRef{CID: image}, Args: []string{"hello"}, Stdin: &api.BlobRef{Text: "from a container\n"},
			Timeout: units.Duration(30 * time.Second), MaxPrice: 500}, market.RuntimeDocker},
		{"a failing job", "exits 3: a job's own failure is a result, and is paid", api.SubmitRequest{
			Module: api.BlobRef{CID: toolbox}, Args: []string{"exit", "3"}, MaxPrice: 200}, ""},
		{"a runaway job", "loops forever: stopped at its 300ms limit, reported, paid", api.SubmitRequest{
			Module: api.BlobRef{CID: toolbox}, Args: []string{"spin"}, Timeout: units.Duration(300 * time.Millisecond),
			MaxPrice: 200}, ""},
		{"verified by replication", fmt.Sprintf("replicate:%d — every provider runs it, results must agree", replicas), api.SubmitRequest{
			Module: api.BlobRef{CID: hello}, Stdin: &api.BlobRef{Text: "replicated\n"}, MaxPrice: 100,
			Verify: fmt.Sprintf("replicate:%d", replicas)}, ""},
		{"needs approval", fmt.Sprintf("max price 700 is above the agent's approval threshold of %d", demoApproveAbove), api.SubmitRequest{
			Module: api.BlobRef{CID: hello}, Stdin: &api.BlobRef{Text: "approved\n"}, MaxPrice: 700}, ""},
		{"too big for anyone", "asks for 2GiB of memory; every provider's limit is 512MiB", api.SubmitRequest{
			Module: api.BlobRef{CID: hello}, Memory: 2 << 30, MaxPrice: 200}, ""},
	}
}

// run submits a job as the agent, has the operator approve it if it waits
// for approval, and prints its auction and how it ended.
func (dm *demo) run(ctx context.Context, dj demoJob) error {
	t0 := time.Now()
	job, err := dm.agent.Submit(ctx, dj.req)
	if err != nil {
		return err
	}
	if job.State == api.StateApproval {
		dm.line("approval", "waiting: the operator approves it (hayek job approve %s)", job.ID)
		if _, err := dm.op.Approve(ctx, job.ID, api.Decision{Reason: "demo"}); err != nil {
			return err
		}
	}
	if job, err = dm.agent.Wait(ctx, job.ID); err != nil {
		return err
	}
	took := time.Since(t0)
	dm.auctions(job)
	if job.State != api.StateCompleted {
		msg := ""
		if job.Error != nil {
			msg = job.Error.Code + ": " + job.Error.Message
		}
		dm.line(string(job.State), "%s", dm.named(msg))
		return nil
	}
	res, err := dm.agent.Result(ctx, job.ID)
	if err != nil {
		return err
	}
	return dm.result(ctx, job, res, took)
}

// line prints one line of a job's story: a label, then the text, in two
// columns (a text of several lines continues in the second).
func (dm *demo) line(label, format string, args ...any) {
	for i, l := range strings.Split(fmt.Sprintf(format, args...), "\n") {
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(dm.out, "  %-9s %s\n", label, l)
	}
}

// text prints text under a label, at most 4 lines of it.
func (dm *demo) text(label, text string) {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return
	}
	lines := strings.Split(text, "\n")
	if len(lines) > 4 {
		lines = append(lines[:4], fmt.Sprintf("… (%d more lines)", len(lines)-4))
	}
	dm.line(label, "%s", strings.Join(lines, "\n"))
}

// auctions prints each auction of a job: bids, declines, the award and
// why the price is what it is.
func (dm *demo) auctions(job api.Job) {
	for _, a := range job.Attempts {
		bids := slices.Clone(a.Bids)
		sort.SliceStable(bids, func(i, j int) bool { return bids[i].Price < bids[j].Price })
		var bs, ds []string
		for _, b := range bids {
			bs = append(bs, fmt.Sprintf("%s %d", dm.names[b.Provider], b.Price))
		}
		for _, d := range a.Declines {
			ds = append(ds, fmt.Sprintf("%s %s", dm.names[d.Provider], d.Reason))
		}
		text := fmt.Sprintf("#%d: %d invited · bids: %s", a.Number, len(a.Invitees), orNone(bs))
		if len(ds) > 0 {
			text += " · declined: " + strings.Join(ds, ", ")
		}
		dm.line("auction", "%s", text)
		switch {
		case len(a.Winners) > 1:
			var ws []string
			for _, w := range a.Winners {
				ws = append(ws, dm.names[w])
			}
			dm.line("award", "%s, drawn at random among the best bids, at %d each", strings.Join(ws, ", "), a.Price)
		case a.Winner != "":
			dm.line("award", "%s at %d", dm.names[a.Winner], a.Price)
		}
		if what, why := priceWhy(a, job.MaxPrice, dm.names); what != "" {
			if why != "" && !dm.told[why] {
				dm.told[why] = true
				what += ": " + why
			}
			dm.line("price", "%s", what)
		}
		if a.Fault != "" {
			dm.line("fault", "%s", dm.named(a.Fault))
		}
	}
}

// priceWhy says in plain words why an auction's winners are paid its
// price, from the bids it took and the job's max price, whatever rule the
// requester applied: what set the price, and the reason for the rule, if
// there is one to give.
func priceWhy(a api.Attempt, maxPrice int64, names map[string]string) (what, why string) {
	what, why = derivePriceWhy(a, maxPrice, names)
	if a.PriceBasis != "" && what == "" {
		what = fmt.Sprint(a.Price) + ": " + a.PriceBasis // the node's own words for a rule not described here
	}
	return what, why
}

// derivePriceWhy explains the price from the bids alone.
func derivePriceWhy(a api.Attempt, maxPrice int64, names map[string]string) (what, why string) {
	winners := a.Winners
	if len(winners) == 0 && a.Winner != "" {
		winners = []string{a.Winner}
	}
	if len(winners) == 0 {
		return "", ""
	}
	bid := map[string]int64{}
	for _, b := range a.Bids {
		bid[b.Provider] = b.Price
	}
	var highest int64
	for _, w := range winners {
		highest = max(highest, bid[w])
	}
	price, who := fmt.Sprint(a.Price), "the winner"
	if len(winners) > 1 {
		price, who = fmt.Sprintf("%d each", a.Price), "each winner"
	}
	losers := len(a.Bids) - len(winners)
	switch ru, ok := bid[a.RunnerUp]; {
	case a.RunnerUp != "" && ok && a.Price == ru:
		return fmt.Sprintf("%s: the bid of %s, the best one that lost (second price)", price, names[a.RunnerUp]),
			who + " is paid the runner-up's price, not its own bid, so asking its true cost is its best strategy"
	case a.RunnerUp != "" && ok:
		return fmt.Sprintf("%s: the most %s could have bid and still ranked first against %s's %d (second price)", price, who, names[a.RunnerUp], ru),
			"committed start times count in the ranking, at the job's value of time"
	case a.Price == maxPrice && losers <= 0 && len(winners) > 1:
		return fmt.Sprintf("%s: the job's max price", price),
			"every bid was drawn among the winners, so no losing bid was left to set a lower price"
	case a.Price == maxPrice && losers <= 0:
		return fmt.Sprintf("%s: the job's max price", price), "it was the only bid, so no losing bid set a lower price"
	case a.Price == maxPrice:
		return fmt.Sprintf("%s: the job's max price", price), ""
	case len(winners) > 1 && a.Price == highest:
		return fmt.Sprintf("%s: the highest winning bid", price),
			"with no losing bid to set the price, every winner is paid the dearest winner's bid"
	case len(winners) == 1 && a.Price == highest:
		return fmt.Sprintf("%s: its own bid", price), "with no other bid to set the price, the winner is paid what it asked"
	}
	return "", ""
}

// result prints how a completed job ran: where, its status, its output,
// how it was verified and what it cost.
func (dm *demo) result(ctx context.Context, job api.Job, res api.Result, took time.Duration) error {
	ran := runText(res.Status, res.ExitCode)
	if d := res.Error; d != "" && !strings.Contains(d, fmt.Sprintf("code %d", res.ExitCode)) {
		ran += " — " + d
	}
	wall := time.Duration(res.Usage.WallMs * float64(time.Millisecond))
	dm.line("ran on", "%s in %s: %s", dm.names[res.Provider], formatDuration(wall), ran)
	if res.StartedAfterMs >= 100 {
		dm.line("started", "%s after the award: first run there, module fetched and compiled",
			formatDuration(time.Duration(res.StartedAfterMs)*time.Millisecond))
	}
	dm.text("stdout", res.Stdout.Text)
	dm.text("stderr", res.Stderr.Text)
	for _, o := range res.Outputs {
		var buf bytes.Buffer
		if _, err := dm.agent.GetBlob(ctx, o.CID, &buf); err != nil {
			return err
		}
		dm.text("output", "/out/"+o.Name+"\n"+buf.String())
	}
	if v := job.Verification; v != nil && v.Mode == "replicate" {
		text := dm.nodeList(v.Replicas) + " agree"
		if len(v.Losers) > 0 {
			text += "; " + dm.nodeList(v.Losers) + " disagreed — outvoted, not paid, reputation down"
		}
		dm.line("verified", "%s", text)
	}
	if st := job.Settlement; st != nil {
		dm.line("paid", "%d (held %d, released %d, %d countersigned receipt%s) · submit→result %s",
			st.Paid, st.Held, st.Released, len(st.Receipts), plural(len(st.Receipts)), formatDuration(took))
	} else {
		dm.line("paid", "%d to %s · submit→result %s", res.Price, dm.names[res.Provider], formatDuration(took))
	}
	return nil
}

// summarize prints where the money went, from node-0's ledger, and what
// node-0 now believes about each provider.
func (dm *demo) summarize(ctx context.Context) error {
	me, err := dm.agent.Me(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(dm.out, "demo-agent spent %d of its %d (%d left, %d still held)\n", me.Spent, demoBudget, me.BudgetLeft, me.Held)
	bal, err := dm.op.LedgerBalance(ctx)
	if err != nil {
		return err
	}
	var owes []string
	for _, p := range bal.Peers {
		owes = append(owes, fmt.Sprintf("%s %d", dm.names[p.Peer], -p.Balance))
	}
	sort.Strings(owes)
	fmt.Fprintf(dm.out, "node-0 owes its providers (bilateral balances, settled outside the ledger): %s\n", strings.Join(owes, ", "))
	if rep, err := dm.op.VerifyLedger(ctx, true); err == nil {
		fmt.Fprintf(dm.out, "node-0's ledger: %d hash-chained entries, %d checkpoints, every receipt's two signatures verify: %v\n",
			rep.Entries, rep.Checkpoints, rep.OK)
	}
	rows, err := dm.op.Reputation(ctx, "")
	if err != nil {
		return err
	}
	fmt.Fprintln(dm.out, "node-0's reputation of its providers (Beta posterior, runtime/wasm):")
	sort.Slice(rows, func(i, j int) bool { return dm.names[rows[i].Peer] < dm.names[rows[j].Peer] })
	for _, r := range rows {
		if r.Capability == "runtime/wasm" {
			fmt.Fprintf(dm.out, "  %-7s mean %.2f  lower bound %.2f  evidence %.1f\n", dm.names[r.Peer], r.Mean, r.LowerBound, r.Evidence)
		}
	}
	return nil
}

// nodeList names peers by their node names.
func (dm *demo) nodeList(ids []string) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = dm.names[id]
	}
	return strings.Join(names, ", ")
}

// named replaces the short peer IDs in the node's messages with node names.
func (dm *demo) named(msg string) string {
	for id, name := range dm.names {
		msg = strings.ReplaceAll(msg, shortPeer(id), name)
	}
	return msg
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// short abbreviates a CID.
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
