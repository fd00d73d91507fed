package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// defaultMaxPrice is what a job may cost when --max-price is not given.
const defaultMaxPrice = 1000

// inlineMax is the size up to which stdin and inputs travel inside the job
// spec instead of as separate uploads.
const inlineMax = 16 << 10

type submitFlags struct {
	wasm, stdin, out, idemKey string
	exec, image, imageFile    string // the other runtimes' programs
	gpus                      int
	gpuModel                  string
	gpuVRAM                   units.Size
	cpus                      float64
	verify                    string
	minReputation             float64
	inputs, args, env         []string
	maxPrice, valueOfTime     int64
	timeout, deadline         units.Duration
	memory, maxOutput         units.Size
	wait, json                bool
	place                     placementFlags
}

const submitTry = "\nTry: hayek job submit" + specTryArgs

const specTryArgs = " --wasm prog.wasm|--exec ./static-binary|--image-file image.tar [--stdin FILE] [--input NAME=FILE] [-- ARGS...]"

func newJobSubmitCmd(g *globals) *cobra.Command {
	var f submitFlags
	c := &cobra.Command{
		Use:   "submit --wasm FILE|--exec FILE|--image REF|--image-file FILE [flags] [-- ARGS...]",
		Short: "Submit a job to the market: a wasm module, a static executable or a container image",
		Long: `Submit a job to run on the market, in one of three runtimes:

  --wasm FILE        a WebAssembly (WASI command) module: runtime/wasm, sold by
                     every provider
  --exec FILE        a static Linux executable: runtime/process, run in the
                     provider's process sandbox (namespaces, cgroup, seccomp)
  --image REF        a container image by digest (name@sha256:… or sha256:…)
                     the provider allows: runtime/docker
  --image-file FILE  a container image as a "docker save" archive, shipped with
                     the job: runtime/docker, no registry needed

Arguments after -- go to the program (for an image, after its entrypoint).
--cpus, --gpus, --gpu-model and --gpu-vram ask for a share of the machine:
only providers whose offers have it are invited (hayek offers shows them);
GPUs are whole devices, never shared with another job, and wasm has none.

The module, stdin and input files are uploaded to the local node (small ones
travel inside the spec), the job is submitted and its ID printed. The node
auctions it among providers; the cheapest eligible bid wins and is paid at
most --max-price.

With --wait, progress (the auction, each bid and decline, the award, the run)
goes to stderr; then the job's stdout is written to stdout byte for byte, its
stderr to stderr, and the command exits with the job's outcome (the exit
codes are below).

A job whose max cost is above its agent's approval threshold waits in state
approval until the operator runs hayek job approve ID (or reject); unanswered
by its deadline, it is rejected.

--verify checks the result: replicate:K runs it on K distinct providers and
accepts the output they agree on; sample:P re-runs a fraction P of jobs
elsewhere after delivery (it catches a cheater after the fact); adaptive
runs it once and checks the result on other providers before accepting it:
always for a provider without a record with this node, a small share of a
veteran's. Each run is paid, so replicate:K costs up to K times --max-price
(adaptive holds up to 5 times, and returns what the checks did not use).
Without --verify the node's [requester] verify applies (none unless its
operator set it); --verify none opts out of it.

` + exitCodesHelp,
		Example: `  hayek job submit --wasm hello.wasm --wait
  hayek job submit --exec ./toolbox --cpus 2 --memory 8GiB --wait -- primes 10000000
  hayek job submit --image-file toolbox.tar --wait -- hello
  hayek job submit --image ghcr.io/acme/train@sha256:… --gpus 1 --gpu-model a100 --gpu-vram 40GiB --wait
  hayek job submit --wasm wc.wasm --stdin book.txt --wait
  hayek job submit --wasm convert.wasm --input in.png=photo.png --out results/ -- --width 640
  id=$(hayek job submit --wasm job.wasm --max-price 5000 --idempotency-key batch-17)
  hayek job submit --wasm job.wasm --verify replicate:3 --min-reputation 0.8 --wait
  hayek job submit --wasm job.wasm --verify adaptive --wait
  hayek job submit --wasm job.wasm --deny 12D3KooW... --min-rep 0.5
  HAYEK_TOKEN=$TOKEN hayek --socket ~node/.hayek/agent.sock job submit --wasm job.wasm`,
		RunE: func(c *cobra.Command, args []string) error { return runSubmit(c, g, &f, args) },
	}
	fl := c.Flags()
	addSpecFlags(fl, &f)
	fl.StringVar(&f.idemKey, "idempotency-key", "", "the same `KEY` with the same spec returns the same job instead of a new one, so a submission can be retried safely")
	fl.BoolVar(&f.wait, "wait", false, "follow the job to its end, write its stdout and stderr, and exit with its outcome")
	fl.BoolVar(&f.json, "json", false, "print the job as JSON; with --wait, the finished job, without progress or the job's stdout")
	fl.StringVar(&f.out, "out", "", "write the job's outputs to `DIR`/<name>, creating DIR (implies --wait)")
	return c
}

// addSpecFlags registers the flags that describe a job, which hayek job
// submit and hayek job quote share.
func addSpecFlags(fl *pflag.FlagSet, f *submitFlags) {
	fl.StringVar(&f.wasm, "wasm", "", "the WebAssembly module `FILE` to run (runtime/wasm)")
	fl.StringVar(&f.exec, "exec", "", "a static Linux executable `FILE` to run in the process sandbox (runtime/process)")
	fl.StringVar(&f.image, "image", "", "a container image by digest, `REF` = name@sha256:<hex> or sha256:<hex>, that the provider allows (runtime/docker)")
	fl.StringVar(&f.imageFile, "image-file", "", "a container image as a `docker save` archive `FILE`, shipped with the job (runtime/docker)")
	fl.Float64Var(&f.cpus, "cpus", 0, "cores the job needs, e.g. 2 or 0.5; only providers with as many are invited")
	fl.IntVar(&f.gpus, "gpus", 0, "whole GPUs the job needs (runtime/process or docker)")
	fl.StringVar(&f.gpuModel, "gpu-model", "", "the GPU model, as offers name it: a100 takes any a100-…, h100, l4 (with --gpus)")
	fl.Var(&f.gpuVRAM, "gpu-vram", "the least memory of each GPU, e.g. 40GiB (with --gpus)")
	fl.StringVar(&f.stdin, "stdin", "", "`FILE` given to the job as standard input (- for this command's stdin)")
	fl.StringArrayVar(&f.inputs, "input", nil, "a file for the job to read at /in/NAME, as `NAME=FILE` (repeatable)")
	fl.StringArrayVar(&f.args, "arg", nil, "`ARG` to pass to the module (repeatable; or list them after --)")
	fl.StringArrayVar(&f.env, "env", nil, "an environment variable for the module, as `K=V` (repeatable)")
	fl.Int64Var(&f.maxPrice, "max-price", defaultMaxPrice, "the most you will pay for the job, in the smallest money unit; providers whose price is higher decline (hayek offers shows prices)")
	fl.Var(&f.timeout, "timeout", "wall-time limit of a run, e.g. 30s (default 10s)")
	fl.Var(&f.memory, "memory", "memory limit, e.g. 128MiB (default 64MiB)")
	fl.Var(&f.maxOutput, "max-output", "limit on what the job writes: stdout, stderr and outputs, e.g. 16MiB (default 64MiB)")
	fl.Var(&f.deadline, "deadline", "limit on the whole job, re-auctions included (default 3 × timeout + 30s)")
	fl.Int64Var(&f.valueOfTime, "value-of-time", 0, "what one second of earlier start is worth to you: bids rank by price + this × committed start (default: price alone)")
	fl.StringVar(&f.verify, "verify", "", "how the result is checked (default: the node's [requester] verify, none unless set): `none`, adaptive (checked before acceptance at a rate set by the provider's record), replicate:K (K providers must agree) or sample:P (a share P re-run after delivery)")
	fl.Float64Var(&f.minReputation, "min-reputation", 0, "the lowest reputation (lower credible bound, 0 to 1) a provider needs to run the job (hayek rep shows them)")
	addPlacementFlags(fl, &f.place, "the job")
	for _, n := range []string{"timeout", "memory", "max-output", "deadline", "gpu-vram"} {
		fl.Lookup(n).DefValue = "" // the node's defaults apply; the help text names them
	}
}

// openFile opens a file named on the command line; a missing or unreadable
// file is a usage error.
func openFile(flag, path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErrorf("%s: %v%s", flag, err, submitTry)
	}
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		f.Close()
		return nil, usageErrorf("%s: %s is a directory, not a file%s", flag, path, submitTry)
	}
	return f, nil
}

// runSubmit checks the command line, opens every file named, uploads what
// does not travel inline, submits the job, and then prints its ID or, with
// --wait, follows it and delivers its result.
func runSubmit(c *cobra.Command, g *globals, f *submitFlags, args []string) error {
	ctx := c.Context()
	cl, req, err := flagsSpec(c, g, f, args)
	if err != nil {
		return err
	}
	defer cl.Close()
	job, err := cl.Submit(ctx, req)
	if err != nil {
		return submitError(ctx, cl, err)
	}
	if !f.wait && f.out == "" {
		return printSubmitted(g, job, f.json)
	}
	return waitSubmitted(ctx, g, cl, job, f)
}

// flagsSpec checks the command line, opens every file named and uploads
// what does not travel inline: the spec the flags describe, and the
// client to send it with, which the caller closes.
func flagsSpec(c *cobra.Command, g *globals, f *submitFlags, args []string) (*api.Client, api.SubmitRequest, error) {
	in, err := checkSubmit(c, f, args)
	if err != nil {
		return nil, api.SubmitRequest{}, err
	}
	files, err := openSubmitFiles(g, f, in.inputs)
	if err != nil {
		return nil, api.SubmitRequest{}, err
	}
	defer files.close()
	cl, err := connect(g)
	if err != nil {
		return nil, api.SubmitRequest{}, err
	}
	req, err := submitRequest(c.Context(), cl, f, in, files)
	if err != nil {
		cl.Close()
		return nil, api.SubmitRequest{}, err
	}
	return cl, req, nil
}

// submitInput is what the command line gives beyond the flags' own values.
type submitInput struct {
	args   []string // the module's, after --
	env    map[string]string
	inputs []namedFile
}

type namedFile struct{ name, path string }

// checkSubmit checks the flags and arguments that need no file and no
// node, so a mistake is a usage error before anything is uploaded.
func checkSubmit(c *cobra.Command, f *submitFlags, args []string) (submitInput, error) {
	try := "\nTry: " + c.CommandPath() + specTryArgs // job submit or job quote
	var in submitInput
	if dash := c.ArgsLenAtDash(); dash > 0 || (dash < 0 && len(args) > 0) {
		return in, usageErrorf("unexpected argument %q: the program goes in --wasm, --exec, --image or --image-file, its arguments after --%s", args[0], try)
	}
	in.args = args
	var given []string
	for _, p := range []struct{ flag, v string }{{"--wasm", f.wasm}, {"--exec", f.exec}, {"--image", f.image}, {"--image-file", f.imageFile}} {
		if p.v != "" {
			given = append(given, p.flag)
		}
	}
	switch {
	case len(given) == 0:
		return in, usageErrorf("what to run is required: --wasm FILE, --exec FILE, --image REF or --image-file FILE%s", try)
	case len(given) > 1:
		return in, usageErrorf("%s: give one program only%s", strings.Join(given, " and "), try)
	case f.wasm != "" && f.gpus != 0:
		return in, usageErrorf("--gpus: a wasm job has no GPU; use --exec or --image%s", try)
	case f.gpus < 0 || f.gpus > market.MaxGPUs:
		return in, usageErrorf("--gpus %d: want 1 to %d whole GPUs%s", f.gpus, market.MaxGPUs, try)
	case f.gpus == 0 && (f.gpuModel != "" || f.gpuVRAM != 0):
		return in, usageErrorf("--gpu-model and --gpu-vram describe the GPUs of --gpus N%s", try)
	case !(f.cpus >= 0):
		return in, usageErrorf("--cpus %v: want a number of cores ≥ 0, e.g. 2 or 0.5%s", f.cpus, try)
	}
	if f.maxPrice <= 0 {
		return in, usageErrorf("--max-price must be > 0: it is the most you will pay for the job%s", try)
	}
	if _, err := market.ParseVerify(f.verify); err != nil {
		return in, usageErrorf("--verify %q: want none, adaptive, replicate:K (K from 2) or sample:P (0 < P ≤ 1), e.g. --verify adaptive%s", f.verify, try)
	}
	if !(f.minReputation >= 0 && f.minReputation < 1) {
		return in, usageErrorf("--min-reputation %g: want a number from 0 to below 1, e.g. 0.5 (hayek rep shows providers' lower bounds)%s", f.minReputation, try)
	}
	if _, err := f.place.value(try); err != nil {
		return in, err
	}
	in.env = map[string]string{}
	for _, kv := range f.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return in, usageErrorf("--env %q: want K=V, e.g. --env LANG=C%s", kv, try)
		}
		in.env[k] = v
	}
	seen := map[string]bool{}
	for _, nf := range f.inputs {
		name, path, ok := strings.Cut(nf, "=")
		if !ok || name == "" || path == "" {
			return in, usageErrorf("--input %q: want NAME=FILE, e.g. --input data.csv=./data.csv (the job reads /in/NAME)%s", nf, try)
		}
		if seen[name] {
			return in, usageErrorf("--input %s is given twice%s", name, try)
		}
		seen[name] = true
		in.inputs = append(in.inputs, namedFile{name, path})
	}
	return in, nil
}

// submitFiles are the files a job is submitted with, open.
type submitFiles struct {
	module *os.File
	stdin  io.Reader // nil: no stdin
	inputs []*os.File
	opened []*os.File
}

func (s *submitFiles) close() {
	for _, f := range s.opened {
		f.Close()
	}
}

// openSubmitFiles opens every file the command line names before anything
// is uploaded, so a typo fails at once.
func openSubmitFiles(g *globals, f *submitFlags, inputs []namedFile) (*submitFiles, error) {
	s := &submitFiles{}
	open := func(flag, path string) (*os.File, error) {
		file, err := openFile(flag, path)
		if err == nil {
			s.opened = append(s.opened, file)
		}
		return file, err
	}
	var err error
	if flag, path := moduleFlag(f); path != "" {
		if s.module, err = open(flag, path); err != nil {
			s.close()
			return nil, err
		}
	}
	switch f.stdin {
	case "":
	case "-":
		s.stdin = g.Stdin
	default:
		file, err := open("--stdin", f.stdin)
		if err != nil {
			s.close()
			return nil, err
		}
		s.stdin = file
	}
	for _, in := range inputs {
		file, err := open("--input "+in.name, in.path)
		if err != nil {
			s.close()
			return nil, err
		}
		s.inputs = append(s.inputs, file)
	}
	return s, nil
}

// submitRequest uploads the module, and stdin and inputs too large to go
// inline, and returns the job spec the flags describe.
func submitRequest(ctx context.Context, cl *api.Client, f *submitFlags, in submitInput, files *submitFiles) (api.SubmitRequest, error) {
	req := api.SubmitRequest{
		Runtime:        submitRuntime(f),
		Image:          f.image,
		CPUs:           f.cpus,
		Args:           append(append([]string(nil), f.args...), in.args...),
		Memory:         f.memory,
		Timeout:        f.timeout,
		MaxOutput:      f.maxOutput,
		MaxPrice:       f.maxPrice,
		Deadline:       f.deadline,
		ValueOfTime:    f.valueOfTime,
		MinReputation:  f.minReputation,
		IdempotencyKey: f.idemKey,
	}
	if files.module != nil {
		flag, path := moduleFlag(f)
		mod, err := cl.PutBlob(ctx, files.module)
		if err != nil {
			return api.SubmitRequest{}, uploadError(flag, path, err)
		}
		req.Module = api.BlobRef{CID: mod.CID}
	}
	if f.gpus > 0 {
		req.GPUs = &api.GPURequest{Count: f.gpus, Model: f.gpuModel, MinVRAM: f.gpuVRAM}
	}
	if f.verify != "" {
		req.Verify = f.verify
	}
	if pl, err := f.place.value(submitTry); err != nil {
		return api.SubmitRequest{}, err
	} else if !(api.AgentPolicy{Placement: pl}).Empty() {
		req.Placement = &pl
	}
	if len(in.env) > 0 {
		req.Env = in.env
	}
	if files.stdin != nil {
		ref, err := blobRef(ctx, cl, files.stdin)
		if err != nil {
			return api.SubmitRequest{}, uploadError("--stdin", f.stdin, err)
		}
		req.Stdin = &ref
	}
	for i, file := range files.inputs {
		ref, err := blobRef(ctx, cl, file)
		if err != nil {
			return api.SubmitRequest{}, uploadError("--input", in.inputs[i].path, err)
		}
		req.Inputs = append(req.Inputs, api.InputRef{Name: in.inputs[i].name, BlobRef: ref})
	}
	return req, nil
}

// moduleFlag is the flag naming the file to upload as the job's module,
// and that file; "" for a job naming an image by reference.
func moduleFlag(f *submitFlags) (flag, path string) {
	switch {
	case f.wasm != "":
		return "--wasm", f.wasm
	case f.exec != "":
		return "--exec", f.exec
	case f.imageFile != "":
		return "--image-file", f.imageFile
	}
	return "--image", ""
}

// submitRuntime is the runtime the program flag asks for.
func submitRuntime(f *submitFlags) string {
	switch {
	case f.exec != "":
		return "process"
	case f.image != "" || f.imageFile != "":
		return "docker"
	}
	return "" // wasm, the node's default
}

// printSubmitted prints a job submitted without --wait: its ID, or the job
// as JSON, and a note when it waits for approval.
func printSubmitted(g *globals, job api.Job, asJSON bool) error {
	if job.State == api.StateApproval {
		fmt.Fprintf(g.Stderr, "hayek: job %s waits for the operator's approval: hayek job approve %s\n", job.ID, job.ID)
	}
	if asJSON {
		return writeJSON(g.Stdout, job)
	}
	_, err := fmt.Fprintln(g.Stdout, job.ID)
	return err
}

// waitSubmitted follows a submitted job to its end, printing its progress
// on stderr unless --json, and delivers it.
func waitSubmitted(ctx context.Context, g *globals, cl *api.Client, job api.Job, f *submitFlags) error {
	show := func(api.Event) error { return nil }
	if !f.json {
		fmt.Fprintf(g.Stderr, "job %s submitted, max price %d\n", job.ID, f.maxPrice)
		p := &progress{w: g.Stderr, start: time.Now()}
		var mu sync.Mutex
		waiting := job.State == api.StateApproval
		show = func(ev api.Event) error {
			mu.Lock()
			defer mu.Unlock()
			if ev.Type == "state" && ev.State != api.StateApproval {
				waiting = false
			}
			p.event(ev)
			return nil
		}
		if waiting {
			stop := remindApproval(g, job, &mu, &waiting)
			defer stop()
		}
	}
	final, err := follow(ctx, cl, job.ID, show)
	if err != nil {
		return err
	}
	if f.json {
		return deliverJSON(ctx, g, cl, final, f.out)
	}
	return deliver(ctx, g, cl, final, f.out)
}

// deliverJSON prints a finished job as JSON, saves its outputs with
// outDir, and returns its outcome as the exit status.
func deliverJSON(ctx context.Context, g *globals, cl *api.Client, job api.Job, outDir string) error {
	if err := writeJSON(g.Stdout, job); err != nil {
		return err
	}
	if outDir != "" && job.State == api.StateCompleted {
		res, err := cl.Result(ctx, job.ID)
		if err != nil {
			return clientError(err)
		}
		if err := saveOutputs(ctx, cl, res.Outputs, outDir); err != nil {
			return err
		}
	}
	return outcome(job)
}

// blobRef inlines small content in the spec and uploads the rest.
func blobRef(ctx context.Context, cl *api.Client, r io.Reader) (api.BlobRef, error) {
	head := make([]byte, inlineMax+1)
	n, err := io.ReadFull(r, head)
	switch {
	case n == 0 && (err == io.EOF):
		// Empty content has a CID like any other; an empty inline ref
		// would read as no content at all.
		b, err := cl.PutBlobBytes(ctx, nil)
		return api.BlobRef{CID: b.CID}, err
	case err == io.ErrUnexpectedEOF:
		if utf8.Valid(head[:n]) {
			return api.BlobRef{Text: string(head[:n])}, nil
		}
		return api.BlobRef{Base64: base64.StdEncoding.EncodeToString(head[:n])}, nil
	case err != nil:
		return api.BlobRef{}, err
	}
	b, err := cl.PutBlob(ctx, io.MultiReader(bytes.NewReader(head[:n]), r))
	return api.BlobRef{CID: b.CID}, err
}

// uploadError explains a failed upload of the file a flag names.
func uploadError(flag, path string, err error) error {
	var e *api.Error
	if errors.As(err, &e) && e.Code == api.CodeTooLarge {
		return withCode(ExitUsage, fmt.Errorf("%s %s is too large for the node: %s", flag, path, e.Message))
	}
	if errors.Is(err, api.ErrUnreachable) || errors.As(err, &e) {
		return clientError(err)
	}
	return withCode(ExitFailed, fmt.Errorf("reading %s %s: %w", flag, path, err))
}

// specFlags maps job spec fields to the flags that set them, to point at
// the flag when the node rejects a field.
var specFlags = map[string]string{
	"module": "--wasm/--exec/--image-file", "image": "--image", "runtime": "--wasm/--exec/--image", "cpus": "--cpus", "gpus": "--gpus",
	"stdin": "--stdin", "inputs": "--input", "args": "--arg", "env": "--env",
	"memory": "--memory", "timeout": "--timeout", "max_output": "--max-output", "max_price": "--max-price",
	"deadline": "--deadline", "value_of_time": "--value-of-time", "idempotency_key": "--idempotency-key",
	"verify": "--verify", "min_reputation": "--min-reputation",
}

// submitError explains a refused submission. An invalid spec is a usage
// error, listing each field at fault by its flag; a job beyond its agent's
// budget or limits could not be run (exit 3), with where to look.
func submitError(ctx context.Context, cl *api.Client, err error) error {
	var e *api.Error
	if errors.As(err, &e) && (e.Code == api.CodeBudgetExceeded || e.Code == api.CodeOverLimit || e.Code == api.CodePolicy) {
		name := "me"
		if me, merr := cl.Me(ctx); merr == nil && me.Name != "" {
			name = me.Name
		}
		return withCode(ExitNotRun, fmt.Errorf("%w\nTry: hayek agent show %s", err, name))
	}
	if !errors.As(err, &e) || (e.Code != api.CodeInvalidSpec && e.Code != api.CodeInvalidModule && e.Code != api.CodeIdempotencyUsed) {
		return clientError(err)
	}
	var b strings.Builder
	b.WriteString(e.Message)
	for _, fe := range e.Fields {
		name := fe.Field
		for field, flag := range specFlags {
			if name == field || strings.HasPrefix(name, field+".") || strings.HasPrefix(name, field+"[") {
				name = flag + " (" + fe.Field + ")"
				break
			}
		}
		fmt.Fprintf(&b, "\n  %s: %s", name, fe.Message)
	}
	b.WriteString("\nTry: hayek job submit --help")
	return withCode(ExitUsage, errors.New(b.String()))
}

// approvalReminder is how often --wait says how long a job waiting for
// approval has left.
const approvalReminder = 10 * time.Second

// remindApproval prints, while *waiting says the job waits for the
// operator, how long it has left before it expires; mu guards waiting and
// the progress output. stop ends the reminders.
func remindApproval(g *globals, job api.Job, mu *sync.Mutex, waiting *bool) (stop func()) {
	left := func() time.Duration { return time.Until(job.Deadline).Round(time.Second) }
	fmt.Fprintf(g.Stderr, "waiting for the operator's approval: hayek job approve %s (or reject); it expires in %v\n", job.ID, left())
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(approvalReminder)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				mu.Lock()
				if l := left(); *waiting && l > 0 {
					fmt.Fprintf(g.Stderr, "still waiting for approval: %v left\n", l)
				}
				mu.Unlock()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
