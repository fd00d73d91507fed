package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/node/api"
)

// The MCP tools are a thin layer over the node's socket API: each calls the
// API with the server's client (and so with its token), and turns API
// errors into tool errors that say what to do.

// Sizes the tools return inline; anything larger is a resource to read.
const (
	mcpDefaultInline = 64 << 10
	mcpMaxInline     = 1 << 20
	mcpMaxResource   = 16 << 20 // a blob read as a resource
)

func newMCPServer(cl *api.Client) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "hayek", Title: "hayek compute market", Version: node.Version}, &mcp.ServerOptions{
		Instructions: "Run programs (WebAssembly/WASI modules, static Linux executables, container images) on providers of a peer-to-peer compute market, paid from this agent's budget. " +
			"quote tells what a job would cost and who could run it; submit_job, then wait_job (progress is notified), then get_result. my_limits tells the budget, caps and approval threshold; " +
			"a job above the threshold waits for the operator's approval. Outputs are resources hayek://blob/CID.",
	})
	t := &mcpTools{cl: cl}
	ro := &mcp.ToolAnnotations{ReadOnlyHint: true}
	mcp.AddTool(s, &mcp.Tool{Name: "submit_job", Title: "Submit a job", Description: "Submit a program to run on the market: a WebAssembly (WASI preview 1) module (runtime wasm), a static Linux executable (process) or a container image (docker: an archive, or an image by digest), " +
		"with its inputs (mounted read-only at /in/NAME), args, env, limits and the most you will pay. Files are given by local path, by CID " +
		"of a blob the node holds, or inline as text or base64. The job's maximum cost is held from your budget at once. Set wait to follow it to the end."}, t.submit)
	mcp.AddTool(s, &mcp.Tool{Name: "quote", Title: "Quote a job", Description: "What a job would cost and who could run it, without submitting it: " +
		"providers of its runtime are asked what they would bid now (each answers with a signed price and committed start, or why it would decline). " +
		"Nothing is held from your budget and nothing is reserved. The answer is a funnel (found, fit, eligible, asked, reachable, would_bid), " +
		"the price range and expected start, and the reasons the others would not run it (price_floor, too_large, busy, reputation, ...). " +
		"Takes submit_job's job description; a quote holds for valid_until (about 30s).", Annotations: ro}, t.quote)
	mcp.AddTool(s, &mcp.Tool{Name: "wait_job", Title: "Wait for a job", Description: "Wait until a job ends (or the timeout), sending a progress notification for each step: auction, bids, award, run, result.",
		Annotations: ro}, t.wait)
	mcp.AddTool(s, &mcp.Tool{Name: "job_status", Title: "Job status", Description: "A job's state, where it ran, what it cost, and why it failed if it did.", Annotations: ro}, t.status)
	mcp.AddTool(s, &mcp.Tool{Name: "get_result", Title: "Job result", Description: "The result of a completed job: status, exit code, stdout and stderr inline up to max_inline bytes, " +
		"and every output file as a resource link (hayek://blob/CID) to read.", Annotations: ro}, t.result)
	mcp.AddTool(s, &mcp.Tool{Name: "cancel_job", Title: "Cancel a job", Description: "Cancel a job that has not finished; what it had not spent goes back to your budget."}, t.cancel)
	mcp.AddTool(s, &mcp.Tool{Name: "list_offers", Title: "List offers", Description: "The providers this node knows and what they sell: capabilities, prices, limits.", Annotations: ro}, t.offers)
	mcp.AddTool(s, &mcp.Tool{Name: "my_limits", Title: "My limits", Description: "This agent's budget left, what is held for running jobs, what it spent, its caps (max job price, jobs per hour) and approval threshold.",
		Annotations: ro}, t.limits)
	addAuditTool(s, t)
	s.AddResourceTemplate(&mcp.ResourceTemplate{Name: "blob", Title: "A blob held by the node", URITemplate: "hayek://blob/{cid}",
		Description: "Content by CID: a job's outputs, stdout and stderr, or anything uploaded (up to 16 MiB as a resource)."}, t.readBlob)
	s.AddResourceTemplate(&mcp.ResourceTemplate{Name: "result", Title: "A job's result", URITemplate: "hayek://job/{id}/result", MIMEType: "application/json",
		Description: "The result of a completed job as JSON."}, t.readResult)
	return s
}

type mcpTools struct{ cl *api.Client }

// FileRef names content for a job. Give exactly one field.
type FileRef struct {
	Path   string `json:"path,omitempty" jsonschema:"a local file, read by this server and uploaded to the node"`
	CID    string `json:"cid,omitempty" jsonschema:"the CID of a blob the node already holds"`
	Text   string `json:"text,omitempty" jsonschema:"the content itself, as UTF-8 text (up to 1 MiB)"`
	Base64 string `json:"base64,omitempty" jsonschema:"the content itself, base64-encoded (up to 1 MiB)"`
}

// InputFile is a file mounted read-only at /in/NAME.
type InputFile struct {
	Name string `json:"name" jsonschema:"the file name under /in (no slashes)"`
	FileRef
}

// SpecArgs describe a job, for submit_job and quote.
type SpecArgs struct {
	Runtime       string            `json:"runtime,omitempty" jsonschema:"wasm (default), process (a static Linux executable) or docker (a container image); list_offers shows who sells which"`
	Module        FileRef           `json:"module,omitempty" jsonschema:"the program: a WebAssembly module (GOOS=wasip1 GOARCH=wasm go build, ...), a static executable (CGO_ENABLED=0 go build), or a docker save archive; not with image"`
	Image         string            `json:"image,omitempty" jsonschema:"docker only, instead of module: an image by digest, name@sha256:<hex>, that the provider allows"`
	CPUs          float64           `json:"cpus,omitempty" jsonschema:"cores the job needs, e.g. 2 (at most 1 for wasm)"`
	GPUs          int               `json:"gpus,omitempty" jsonschema:"whole GPUs the job needs (process or docker)"`
	GPUModel      string            `json:"gpu_model,omitempty" jsonschema:"the GPU model, as offers name it: a100 takes any a100-..."`
	GPUVRAM       string            `json:"gpu_vram,omitempty" jsonschema:"the least memory of each GPU, e.g. 40GiB"`
	Stdin         *FileRef          `json:"stdin,omitempty" jsonschema:"what the program reads on stdin"`
	Inputs        []InputFile       `json:"inputs,omitempty" jsonschema:"files mounted read-only at /in/NAME"`
	Args          []string          `json:"args,omitempty" jsonschema:"the program's arguments (argv[1:])"`
	Env           map[string]string `json:"env,omitempty" jsonschema:"environment variables"`
	MaxPrice      int64             `json:"max_price" jsonschema:"the most you will pay for one run, in the smallest money unit (my_limits shows your budget; list_offers the prices)"`
	Memory        string            `json:"memory,omitempty" jsonschema:"memory limit, e.g. 64MiB (default 64MiB)"`
	Timeout       string            `json:"timeout,omitempty" jsonschema:"time limit of the run, e.g. 3s (default 10s)"`
	MaxOutput     string            `json:"max_output,omitempty" jsonschema:"limit on all files written to /out, e.g. 16MiB (default 64MiB)"`
	Deadline      string            `json:"deadline,omitempty" jsonschema:"the whole job, retries and approval included, e.g. 2m (default 3 × timeout + 30s)"`
	Verify        string            `json:"verify,omitempty" jsonschema:"the node's default when omitted ([requester] verify, none unless its operator set it); none, adaptive (checked on other providers before acceptance, always for providers without a record), replicate:K (K providers must agree), or sample:P (a share P re-run elsewhere afterwards)"`
	MinReputation float64           `json:"min_reputation,omitempty" jsonschema:"the lowest reputation (lower credible bound, 0 to 1) a provider needs to win"`
	Placement     *PlacementArgs    `json:"placement,omitempty" jsonschema:"where the job may run; your operator's policy for you applies as well, and the stricter rule wins"`
}

// SubmitArgs are submit_job's arguments.
type SubmitArgs struct {
	SpecArgs
	IdempotencyKey string `json:"idempotency_key,omitempty" jsonschema:"submitting the same spec with the same key again returns the same job"`
	Wait           bool   `json:"wait,omitempty" jsonschema:"follow the job to its end before answering (as wait_job does)"`
}

// PlacementArgs say where a job may run.
type PlacementArgs struct {
	Local         bool     `json:"local,omitempty" jsonschema:"run only on this node's own provider: nothing leaves the node"`
	Allow         []string `json:"allow,omitempty" jsonschema:"only these providers (peer IDs, as list_offers shows them) may run it"`
	Deny          []string `json:"deny,omitempty" jsonschema:"these providers (peer IDs) never run it"`
	MinReputation float64  `json:"min_reputation,omitempty" jsonschema:"providers below this reputation (lower credible bound, 0 to 1) are never invited"`
}

// JobIDArgs name a job.
type JobIDArgs struct {
	ID string `json:"id" jsonschema:"the job ID (from submit_job)"`
}

// WaitArgs are wait_job's arguments.
type WaitArgs struct {
	ID      string `json:"id" jsonschema:"the job ID"`
	Timeout string `json:"timeout,omitempty" jsonschema:"give up waiting after this long, e.g. 5m (default: until the job ends)"`
}

// ResultArgs are get_result's arguments.
type ResultArgs struct {
	ID        string `json:"id" jsonschema:"the job ID"`
	MaxInline int    `json:"max_inline,omitempty" jsonschema:"stdout and stderr up to this many bytes are returned inline (default 65536, at most 1048576); larger ones as resources"`
}

// NoArgs is for tools without arguments.
type NoArgs struct{}

// JobInfo is what the tools say about a job.
type JobInfo struct {
	ID            string            `json:"id"`
	State         string            `json:"state" jsonschema:"approval, queued, pending, auction, awarded, running, completed, failed or cancelled"`
	QueuePosition int               `json:"queue_position,omitempty"`
	Provider      string            `json:"provider,omitempty"`
	Price         int64             `json:"price,omitempty"`
	PriceBasis    string            `json:"price_basis,omitempty" jsonschema:"why the price is what it is"`
	MaxPrice      int64             `json:"max_price"`
	Status        string            `json:"status,omitempty" jsonschema:"how the run ended: ok, exit, trap, timeout, memory_limit, output_limit"`
	ExitCode      *int32            `json:"exit_code,omitempty"`
	Error         *api.JobError     `json:"error,omitempty"`
	Attempts      int               `json:"attempts"`
	Verification  *api.Verification `json:"verification,omitempty"`
	Settlement    *api.Settlement   `json:"settlement,omitempty"`
	Deadline      time.Time         `json:"deadline"`
	Next          string            `json:"next,omitempty" jsonschema:"what to do next"`
}

func jobInfo(j api.Job) JobInfo {
	info := JobInfo{ID: j.ID, State: string(j.State), QueuePosition: j.QueuePosition, Provider: j.Provider, Price: j.Price,
		MaxPrice: j.MaxPrice, Status: j.Status, ExitCode: j.ExitCode, Error: j.Error, Attempts: len(j.Attempts),
		Verification: j.Verification, Settlement: j.Settlement, Deadline: j.Deadline}
	if n := len(j.Attempts); n > 0 {
		info.PriceBasis = j.Attempts[n-1].PriceBasis
	}
	switch j.State {
	case api.StateApproval:
		info.Next = "it waits for the operator's approval (hayek job approve " + j.ID + "); wait_job follows it"
	case api.StateCompleted:
		info.Next = "get_result reads its output"
	case api.StateFailed:
		if e := j.Error; e != nil && (e.Code == string(market.FailNoProviders) || e.Code == string(market.FailNoBids)) {
			info.Next = "quote, with the same job, shows who could run it now, at what price, and why the others would not"
		}
	case api.StateCancelled:
	default:
		info.Next = "wait_job follows it to its end"
	}
	return info
}

// toolError turns an API error into a tool error an agent can act on.
func toolError(err error) error {
	var ae *api.Error
	if errors.As(err, &ae) {
		msg := ae.Code + ": " + ae.Message
		for _, f := range ae.Fields {
			msg += "\n  " + f.Field + ": " + f.Message
		}
		return errors.New(msg)
	}
	if errors.Is(err, api.ErrUnreachable) {
		return fmt.Errorf("the hayek node is not reachable (%v): is hayek serve running?", err)
	}
	return err
}

func (t *mcpTools) submit(ctx context.Context, req *mcp.CallToolRequest, in SubmitArgs) (*mcp.CallToolResult, JobInfo, error) {
	sr, err := t.submitRequest(ctx, in.SpecArgs)
	if err != nil {
		return nil, JobInfo{}, err
	}
	sr.IdempotencyKey = in.IdempotencyKey
	j, err := t.cl.Submit(ctx, sr)
	if err != nil {
		return nil, JobInfo{}, toolError(err)
	}
	if in.Wait {
		if j, err = t.follow(ctx, req, j.ID); err != nil {
			return nil, JobInfo{}, err
		}
	}
	return nil, jobInfo(j), nil
}

func (t *mcpTools) submitRequest(ctx context.Context, in SpecArgs) (api.SubmitRequest, error) {
	sr := api.SubmitRequest{Args: in.Args, Env: in.Env, MaxPrice: in.MaxPrice, Verify: in.Verify, MinReputation: in.MinReputation,
		Runtime: in.Runtime, Image: in.Image, CPUs: in.CPUs}
	if p := in.Placement; p != nil {
		sr.Placement = &api.Placement{Local: p.Local, Allow: p.Allow, Deny: p.Deny, MinReputation: p.MinReputation}
	}
	var err error
	if in.Image == "" || in.Module != (FileRef{}) {
		if sr.Module, err = t.blobRef(ctx, "module", in.Module); err != nil {
			return sr, err
		}
	}
	if in.GPUs != 0 {
		sr.GPUs = &api.GPURequest{Count: in.GPUs, Model: in.GPUModel}
		if in.GPUVRAM != "" {
			if err := sr.GPUs.MinVRAM.Set(in.GPUVRAM); err != nil {
				return sr, fmt.Errorf("gpu_vram: %w", err)
			}
		}
	}
	if in.Stdin != nil {
		ref, err := t.blobRef(ctx, "stdin", *in.Stdin)
		if err != nil {
			return sr, err
		}
		sr.Stdin = &ref
	}
	for i, f := range in.Inputs {
		ref, err := t.blobRef(ctx, fmt.Sprintf("inputs[%d]", i), f.FileRef)
		if err != nil {
			return sr, err
		}
		sr.Inputs = append(sr.Inputs, api.InputRef{Name: f.Name, BlobRef: ref})
	}
	for _, s := range []struct {
		field, v string
		set      func(string) error
	}{
		{"memory", in.Memory, func(v string) error { return sr.Memory.Set(v) }},
		{"max_output", in.MaxOutput, func(v string) error { return sr.MaxOutput.Set(v) }},
		{"timeout", in.Timeout, func(v string) error { return sr.Timeout.Set(v) }},
		{"deadline", in.Deadline, func(v string) error { return sr.Deadline.Set(v) }},
	} {
		if s.v == "" {
			continue
		}
		if err := s.set(s.v); err != nil {
			return sr, fmt.Errorf("%s %q: %v (sizes like 64MiB, durations like 3s)", s.field, s.v, err)
		}
	}
	return sr, nil
}

// QuoteInfo is what the quote tool answers: the node's quote and a line
// saying it.
type QuoteInfo struct {
	api.Quote
	Summary string `json:"summary" jsonschema:"the quote in one line"`
}

func (t *mcpTools) quote(ctx context.Context, req *mcp.CallToolRequest, in SpecArgs) (*mcp.CallToolResult, QuoteInfo, error) {
	sr, err := t.submitRequest(ctx, in)
	if err != nil {
		return nil, QuoteInfo{}, err
	}
	q, err := t.cl.Quote(ctx, sr)
	if err != nil {
		return nil, QuoteInfo{}, toolError(err)
	}
	return nil, QuoteInfo{Quote: q, Summary: quoteSummary(q)}, nil
}

// quoteSummary says a quote in one line: who would bid at what, and why
// the others would not, commonest reason first.
func quoteSummary(q api.Quote) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d providers found would bid", q.WouldBid, q.Found)
	if q.Price != nil {
		fmt.Fprintf(&b, ", at %d to %d, the best starting within %v", q.Price.Min, q.Price.Max, time.Duration(q.ExpectedStartMs)*time.Millisecond)
	}
	if len(q.Reasons) > 0 {
		reasons := make([]string, 0, len(q.Reasons))
		for r := range q.Reasons {
			reasons = append(reasons, r)
		}
		slices.SortFunc(reasons, func(a, c string) int { return cmp.Or(cmp.Compare(q.Reasons[c], q.Reasons[a]), cmp.Compare(a, c)) })
		b.WriteString("; the others would not:")
		for i, r := range reasons {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s %d", r, q.Reasons[r])
		}
	}
	if q.Found == 0 {
		b.WriteString("; no provider of " + strings.Join(q.Capabilities, ", ") + " is known")
	}
	return b.String()
}

// blobRef uploads a local file, or passes a CID or inline content on.
func (t *mcpTools) blobRef(ctx context.Context, field string, f FileRef) (api.BlobRef, error) {
	set := 0
	for _, v := range []string{f.Path, f.CID, f.Text, f.Base64} {
		if v != "" {
			set++
		}
	}
	if set > 1 {
		return api.BlobRef{}, fmt.Errorf("%s: give one of path, cid, text, base64", field)
	}
	if f.Path == "" {
		return api.BlobRef{CID: f.CID, Text: f.Text, Base64: f.Base64}, nil
	}
	file, err := os.Open(f.Path)
	if err != nil {
		return api.BlobRef{}, fmt.Errorf("%s: %v", field, err)
	}
	defer file.Close()
	b, err := t.cl.PutBlob(ctx, file)
	if err != nil {
		return api.BlobRef{}, fmt.Errorf("%s: upload %s: %v", field, f.Path, toolError(err))
	}
	return api.BlobRef{CID: b.CID}, nil
}

func (t *mcpTools) wait(ctx context.Context, req *mcp.CallToolRequest, in WaitArgs) (*mcp.CallToolResult, JobInfo, error) {
	if in.Timeout != "" {
		var d units.Duration
		if err := d.Set(in.Timeout); err != nil || d <= 0 {
			return nil, JobInfo{}, fmt.Errorf("timeout %q: want a positive duration such as 5m", in.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(d))
		defer cancel()
	}
	j, err := t.follow(ctx, req, in.ID)
	if err != nil {
		if ctx.Err() != nil {
			if j, jerr := t.cl.Job(context.WithoutCancel(ctx), in.ID); jerr == nil {
				info := jobInfo(j)
				info.Next = "still " + string(j.State) + " when the wait timed out: call wait_job again"
				return nil, info, nil
			}
		}
		return nil, JobInfo{}, err
	}
	return nil, jobInfo(j), nil
}

// follow streams a job's events until it ends, notifying the client's
// progress token (when it gave one) of each step.
func (t *mcpTools) follow(ctx context.Context, req *mcp.CallToolRequest, id string) (api.Job, error) {
	token := req.Params.GetProgressToken()
	var seq float64
	err := t.cl.Events(ctx, id, func(ev api.Event) error {
		if token == nil {
			return nil
		}
		seq++
		return req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token, Progress: seq, Message: eventText(ev)})
	})
	if err != nil {
		return api.Job{}, toolError(err)
	}
	j, err := t.cl.Job(ctx, id)
	if err != nil {
		return api.Job{}, toolError(err)
	}
	return j, nil
}

// eventText says what one event of a job means, in a line.
func eventText(ev api.Event) string {
	what := ev.Type
	switch ev.Type {
	case "bid":
		what = fmt.Sprintf("bid %d from %s", ev.Price, shortPeer(ev.Provider))
	case "decline":
		what = fmt.Sprintf("%s declined: %s", shortPeer(ev.Provider), ev.Reason)
	case "award":
		what = fmt.Sprintf("awarded to %s at %d", shortPeer(ev.Provider), ev.Price)
	case "result":
		what = fmt.Sprintf("result from %s: %s", shortPeer(ev.Provider), ev.Status)
	case "state":
		what = "state " + string(ev.State)
	}
	if ev.Message != "" {
		what += ": " + ev.Message
	}
	return what
}

func (t *mcpTools) status(ctx context.Context, _ *mcp.CallToolRequest, in JobIDArgs) (*mcp.CallToolResult, JobInfo, error) {
	j, err := t.cl.Job(ctx, in.ID)
	if err != nil {
		return nil, JobInfo{}, toolError(err)
	}
	return nil, jobInfo(j), nil
}

func (t *mcpTools) cancel(ctx context.Context, _ *mcp.CallToolRequest, in JobIDArgs) (*mcp.CallToolResult, JobInfo, error) {
	j, err := t.cl.Cancel(ctx, in.ID)
	if err != nil {
		return nil, JobInfo{}, toolError(err)
	}
	return nil, jobInfo(j), nil
}

// StreamInfo is stdout or stderr: inline when small enough, else a
// resource URI to read.
type StreamInfo struct {
	Size      int64  `json:"size"`
	Truncated bool   `json:"truncated" jsonschema:"the run wrote more than the job's limit: this is the start"`
	Text      string `json:"text,omitempty"`
	Base64    string `json:"base64,omitempty" jsonschema:"the bytes when they are not UTF-8 text"`
	URI       string `json:"uri" jsonschema:"hayek://blob/CID: read it as a resource"`
}

// OutputInfo is a file the job wrote under /out.
type OutputInfo struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	URI  string `json:"uri"`
}

// ResultInfo is get_result's answer.
type ResultInfo struct {
	Job              string       `json:"job"`
	Provider         string       `json:"provider"`
	Price            int64        `json:"price"`
	Status           string       `json:"status" jsonschema:"ok, exit, trap, timeout, memory_limit or output_limit"`
	ExitCode         int32        `json:"exit_code" jsonschema:"meaningful when status is ok or exit"`
	Error            string       `json:"error,omitempty"`
	Stdout           StreamInfo   `json:"stdout"`
	Stderr           StreamInfo   `json:"stderr"`
	Outputs          []OutputInfo `json:"outputs"`
	OutputsTruncated bool         `json:"outputs_truncated"`
	ResultCID        string       `json:"result_cid" jsonschema:"CID of the provider's signed result"`
}

func blobURI(cid string) string { return "hayek://blob/" + cid }

func (t *mcpTools) result(ctx context.Context, _ *mcp.CallToolRequest, in ResultArgs) (*mcp.CallToolResult, ResultInfo, error) {
	limit := in.MaxInline
	switch {
	case limit == 0:
		limit = mcpDefaultInline
	case limit < 0 || limit > mcpMaxInline:
		return nil, ResultInfo{}, fmt.Errorf("max_inline %d: want 1 to %d", limit, mcpMaxInline)
	}
	r, err := t.cl.Result(ctx, in.ID)
	if err != nil {
		return nil, ResultInfo{}, toolError(err)
	}
	out := ResultInfo{Job: r.Job, Provider: r.Provider, Price: r.Price, Status: r.Status, ExitCode: r.ExitCode, Error: r.Error,
		Stdout: streamInfo(r.Stdout, limit), Stderr: streamInfo(r.Stderr, limit), Outputs: []OutputInfo{},
		OutputsTruncated: r.OutputsTruncated, ResultCID: r.ResultCID}
	res := &mcp.CallToolResult{}
	var text strings.Builder
	fmt.Fprintf(&text, "job %s ran on %s for %d: %s", r.Job, shortPeer(r.Provider), r.Price, runText(r.Status, r.ExitCode))
	if out.Stdout.Text != "" {
		fmt.Fprintf(&text, "\nstdout:\n%s", out.Stdout.Text)
	}
	res.Content = append(res.Content, &mcp.TextContent{Text: text.String()})
	for _, o := range r.Outputs {
		size := o.Size
		out.Outputs = append(out.Outputs, OutputInfo{Name: o.Name, Size: o.Size, URI: blobURI(o.CID)})
		res.Content = append(res.Content, &mcp.ResourceLink{URI: blobURI(o.CID), Name: o.Name, Title: "/out/" + o.Name, Size: &size})
	}
	return res, out, nil
}

func streamInfo(s api.Stream, limit int) StreamInfo {
	si := StreamInfo{Size: s.Size, Truncated: s.Truncated, URI: blobURI(s.CID)}
	if s.Size <= int64(limit) {
		si.Text, si.Base64 = s.Text, s.Base64
	}
	return si
}

// OfferSummary is one provider's offer.
type OfferSummary struct {
	Provider     string    `json:"provider"`
	Self         bool      `json:"self,omitempty"`
	Capabilities []string  `json:"capabilities"`
	Pricing      any       `json:"pricing"`
	Limits       any       `json:"limits"`
	ExpiresAt    time.Time `json:"expires_at"`
	Withdrawn    bool      `json:"withdrawn,omitempty"`
}

// OffersInfo is list_offers' answer.
type OffersInfo struct {
	Offers []OfferSummary `json:"offers"`
}

func (t *mcpTools) offers(ctx context.Context, _ *mcp.CallToolRequest, _ NoArgs) (*mcp.CallToolResult, OffersInfo, error) {
	list, err := t.cl.Offers(ctx)
	if err != nil {
		return nil, OffersInfo{}, toolError(err)
	}
	out := OffersInfo{Offers: []OfferSummary{}}
	for _, o := range list {
		out.Offers = append(out.Offers, OfferSummary{Provider: o.Provider, Self: o.Self, Capabilities: o.Capabilities,
			Pricing: o.Pricing, Limits: o.Limits, ExpiresAt: o.ExpiresAt, Withdrawn: o.Withdrawn})
	}
	return nil, out, nil
}

// LimitsInfo is my_limits' answer.
type LimitsInfo struct {
	Agent        string `json:"agent"`
	BudgetLeft   int64  `json:"budget_left" jsonschema:"what new jobs may hold"`
	Held         int64  `json:"held" jsonschema:"held for jobs not yet settled"`
	Spent        int64  `json:"spent"`
	MaxJobPrice  int64  `json:"max_job_price,omitempty" jsonschema:"the highest max_price a job may have (0: no cap)"`
	ApproveAbove int64  `json:"approve_above,omitempty" jsonschema:"jobs that may cost more wait for the operator's approval (0: never)"`
	RatePerHour  int64  `json:"rate_per_hour,omitempty" jsonschema:"jobs per hour allowed (0: no cap)"`
	RateLeft     int64  `json:"rate_left,omitempty" jsonschema:"jobs still allowed this hour, when there is a cap"`
}

func (t *mcpTools) limits(ctx context.Context, _ *mcp.CallToolRequest, _ NoArgs) (*mcp.CallToolResult, LimitsInfo, error) {
	a, err := t.cl.Me(ctx)
	if err != nil {
		return nil, LimitsInfo{}, toolError(err)
	}
	out := LimitsInfo{Agent: a.Name, BudgetLeft: a.BudgetLeft, Held: a.Held, Spent: a.Spent, MaxJobPrice: a.MaxJobPrice,
		ApproveAbove: a.ApproveAbove, RatePerHour: a.RatePerHour}
	if a.RatePerHour > 0 {
		out.RateLeft = max(a.RatePerHour-int64(a.JobsLastHour), 0)
	}
	return nil, out, nil
}

// readBlob serves hayek://blob/CID: text when it is UTF-8, bytes otherwise.
func (t *mcpTools) readBlob(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	cid, ok := strings.CutPrefix(uri, "hayek://blob/")
	if !ok || cid == "" || strings.Contains(cid, "/") {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	var buf bytes.Buffer
	n, err := t.cl.GetBlob(ctx, cid, &limitedWriter{w: &buf, n: mcpMaxResource})
	if errors.Is(err, errTooLong) {
		return nil, fmt.Errorf("%s is %d bytes, above the %d a resource may be: fetch it with hayek job result --out DIR", uri, n, mcpMaxResource)
	}
	if api.IsCode(err, api.CodeBlobNotFound) || api.IsCode(err, api.CodeNotFound) {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	if err != nil {
		return nil, toolError(err)
	}
	c := &mcp.ResourceContents{URI: uri}
	if utf8.Valid(buf.Bytes()) {
		c.MIMEType, c.Text = "text/plain; charset=utf-8", buf.String()
	} else {
		c.MIMEType, c.Blob = "application/octet-stream", buf.Bytes()
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{c}}, nil
}

// readResult serves hayek://job/ID/result as JSON.
func (t *mcpTools) readResult(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	id, ok := strings.CutSuffix(strings.TrimPrefix(uri, "hayek://job/"), "/result")
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	r, err := t.cl.Result(ctx, id)
	if api.IsCode(err, api.CodeNotFound) {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	if err != nil {
		return nil, toolError(err)
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, r); err != nil {
		return nil, err
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "application/json", Text: buf.String()}}}, nil
}

var errTooLong = errors.New("too long")

// limitedWriter fails once more than n bytes were written.
type limitedWriter struct {
	w io.Writer
	n int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, errTooLong
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

type nopReadCloser struct{ io.Reader }

func (nopReadCloser) Close() error { return nil }

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
