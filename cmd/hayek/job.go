package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// This file holds the job parent command, the argument checks every command
// uses, following a job, and delivering its result.

func newJobCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "job",
		Short: "Submit jobs to the market and follow them",
		Long: `Submit WebAssembly jobs through the local node and follow them.

` + exitCodesHelp,
		Example: `  hayek job submit --wasm hello.wasm --wait
  hayek job list --state running
  hayek job watch ID`,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for hayek job\nTry: hayek job --help", args[0])
			}
			return c.Help()
		},
	}
	c.AddCommand(newJobSubmitCmd(g), newJobStatusCmd(g), newJobResultCmd(g), newJobWatchCmd(g),
		newJobCancelCmd(g), newJobListCmd(g), newJobApproveCmd(g), newJobRejectCmd(g), newJobQuoteCmd(g), newJobAuditCmd(g))
	return c
}

// jobIDArg requires exactly one job ID.
func jobIDArg(c *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageErrorf("%s takes one job ID, got %d arguments\nTry: hayek job list", c.CommandPath(), len(args))
	}
	return nil
}

// noArgs refuses positional arguments.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q\nTry: %s --help", c.CommandPath(), args[0], c.CommandPath())
	}
	return nil
}

// progress prints a job's events for a human, one line each, on w.
type progress struct {
	w     io.Writer
	start time.Time
}

func (p *progress) event(ev api.Event) {
	var what string
	switch ev.Type {
	case "auction":
		what = ev.Message
		if ev.Invitees > 0 {
			what = fmt.Sprintf("call for bids to %d providers", ev.Invitees)
		}
		if ev.Attempt > 1 {
			what += fmt.Sprintf(" (attempt %d)", ev.Attempt)
		}
	case "bid":
		what = fmt.Sprintf("%s bids %d", shortPeer(ev.Provider), ev.Price)
		if ev.StartWithinMs > 0 {
			what += fmt.Sprintf(", starts within %v", time.Duration(ev.StartWithinMs)*time.Millisecond)
		}
	case "decline":
		what = fmt.Sprintf("%s declines: %s", shortPeer(ev.Provider), orDash(ev.Reason))
		if ev.Message != "" {
			what += " (" + ev.Message + ")"
		}
	case "award":
		what = fmt.Sprintf("awarded to %s at price %d", shortPeer(ev.Provider), ev.Price)
		if ev.Message != "" {
			what += ": " + ev.Message // the bids it had and why the price is what it is
		}
	case "fault":
		what = fmt.Sprintf("%s dropped: %s", shortPeer(ev.Provider), orDash(ev.Message))
	case "result":
		what = fmt.Sprintf("result from %s", shortPeer(ev.Provider))
		if ev.ExitCode != nil || ev.Status != "" {
			var code int32
			if ev.ExitCode != nil {
				code = *ev.ExitCode
			}
			what += ": " + runText(ev.Status, code)
		}
		if ev.Price > 0 {
			what += fmt.Sprintf(", price %d", ev.Price)
		}
	case "state":
		if ev.State == api.StateApproval {
			what = "waiting for approval: hayek job approve " + ev.Job
			if ev.Message != "" {
				what += " (" + ev.Message + ")"
			}
			break
		}
		fallthrough
	default:
		what = string(ev.State)
		if ev.State == api.StateRunning && ev.Provider != "" {
			what += " on " + shortPeer(ev.Provider)
		}
		if ev.Reason != "" {
			what += ": " + ev.Reason
		}
		if ev.Message != "" {
			what += ": " + ev.Message
		}
	}
	fmt.Fprintf(p.w, "%7.3fs  %-8s %s\n", time.Since(p.start).Seconds(), ev.Type, what)
}

// follow streams the job's events to fn until it is terminal and returns
// the job as it ended.
func follow(ctx context.Context, cl *api.Client, id string, fn func(api.Event) error) (api.Job, error) {
	if err := cl.Events(ctx, id, fn); err != nil {
		if ctx.Err() != nil {
			return api.Job{}, withCode(ExitFailed, fmt.Errorf("stopped following job %s; it goes on without you\nTry: hayek job watch %s, or hayek job cancel %s", id, id, id))
		}
		return api.Job{}, clientError(err)
	}
	job, err := cl.Job(ctx, id)
	return job, clientError(err)
}

// deliver writes a finished job's stdout to stdout, its stderr to stderr
// and, with outDir, its outputs to files; then it returns the job's exit
// status as an error (nil when it completed with exit code 0).
func deliver(ctx context.Context, g *globals, cl *api.Client, job api.Job, outDir string) error {
	if job.State != api.StateCompleted {
		return outcome(job)
	}
	res, err := cl.Result(ctx, job.ID)
	if err != nil {
		return clientError(err)
	}
	if err := writeStream(ctx, cl, res.Stdout, g.Stdout); err != nil {
		return withCode(ExitFailed, fmt.Errorf("writing the job's stdout: %w", err))
	}
	if err := writeStream(ctx, cl, res.Stderr, g.Stderr); err != nil {
		return withCode(ExitFailed, fmt.Errorf("writing the job's stderr: %w", err))
	}
	for _, s := range []struct {
		name string
		s    api.Stream
	}{{"stdout", res.Stdout}, {"stderr", res.Stderr}} {
		if s.s.Truncated {
			fmt.Fprintf(g.Stderr, "hayek: the job's %s was cut at %d bytes by the provider's log limit\n", s.name, s.s.Size)
		}
	}
	if outDir != "" {
		if err := saveOutputs(ctx, cl, res.Outputs, outDir); err != nil {
			return err
		}
		if res.OutputsTruncated {
			fmt.Fprintf(g.Stderr, "hayek: the job wrote more than its --max-output; some outputs are missing\n")
		}
	}
	return runStatus(job.ID, res.Status, res.ExitCode, res.Error)
}

// exitCode is a job's exit code, 0 when it has none (a run stopped at a
// limit or that trapped: its status says how it ended).
func exitCode(j api.Job) int32 {
	if j.ExitCode == nil {
		return 0
	}
	return *j.ExitCode
}

// outcome is a job's exit status judged from the job alone.
func outcome(job api.Job) error {
	switch job.State {
	case api.StateCompleted:
		return runStatus(job.ID, job.Status, exitCode(job), "")
	case api.StateFailed, api.StateCancelled:
		return notRun(job)
	}
	return withCode(ExitNotFinished, fmt.Errorf("job %s has not finished: it is %s\nTry: hayek job watch %s", job.ID, job.State, job.ID))
}

// runEnding is how a run that did not exit by itself ended, by its status.
type runEnding struct {
	ended   string // after "job ID"
	meaning string // after the status in a job's result line
	flag    string // what the submitter may change, if anything
}

var runEndings = map[string]runEnding{
	"timeout":      {"was stopped at its time limit", "stopped at its time limit", "--timeout"},
	"memory_limit": {"was stopped at its memory limit", "stopped at its memory limit", "--memory"},
	"output_limit": {"was stopped at its output limit", "stopped at its output limit", "--max-output"},
	"trap":         {"trapped", "the module crashed", ""},
	"bad_module":   {"could not be instantiated", "not a WASI command module", ""},
}

// runText is how a run ended, in a word or two: "exit code N" when the
// module exited by itself, else its status (timeout, memory_limit, trap…).
// A run stopped at a limit has no exit code of its own, so none is shown.
func runText(status string, code int32) string {
	switch status {
	case "", "ok", "exit":
		return fmt.Sprintf("exit code %d", code)
	}
	return status
}

// runLine is runText with what a status means, for a job's result line.
func runLine(status string, code int32) string {
	if e, ok := runEndings[status]; ok {
		return status + ": " + e.meaning
	}
	return runText(status, code)
}

// runStatus is nil for a run that exited 0, else an exit-1 error saying
// how the run ended. detail is the provider's own account; it often says
// what to change already, so the hint is added only when it does not.
func runStatus(id, status string, code int32, detail string) error {
	if (status == "ok" || status == "") && code == 0 {
		return nil
	}
	var msg string
	e, stopped := runEndings[status]
	switch {
	case stopped:
		msg = fmt.Sprintf("job %s %s (%s)", id, e.ended, status)
	case status == "ok" || status == "" || status == "exit":
		msg = fmt.Sprintf("job %s exited with code %d", id, code)
		if strings.Contains(detail, fmt.Sprintf("code %d", code)) {
			detail = "" // "module exited with code 3" says it again
		}
	default:
		msg = fmt.Sprintf("job %s ended with status %s", id, status)
	}
	if detail != "" {
		msg += ": " + detail
	}
	switch {
	case e.flag == "" || strings.Contains(detail, e.flag):
	case strings.Contains(detail, "raise"):
		msg += " (" + e.flag + ")"
	default:
		msg += "; raise " + e.flag
	}
	return withCode(ExitFailed, errors.New(msg))
}

// notRun explains a failed or cancelled job. When nobody would run it, the
// providers' reasons are added from the last attempt (unless the node's
// message already gives them) with a hint at what to change.
func notRun(job api.Job) error {
	msg := fmt.Sprintf("job %s could not be run", job.ID)
	if job.State == api.StateCancelled {
		msg = fmt.Sprintf("job %s was cancelled", job.ID)
	}
	var code string
	if job.Error != nil {
		code = job.Error.Code
		msg += ": " + orDash(cmp.Or(job.Error.Message, job.Error.Code))
	}
	hint := ""
	if code == string(market.FailNoProviders) {
		hint = "\nTry: hayek job quote with the same flags, to see who could run it and why not (hayek offers lists the providers this node knows)"
	}
	if n := len(job.Attempts); n > 0 && job.State == api.StateFailed {
		a := job.Attempts[n-1]
		var parts []string
		told := true // the node's message names every decline already
		for _, d := range a.Declines {
			p := fmt.Sprintf("%s declined (%s", shortPeer(d.Provider), d.Reason)
			if d.Detail != "" {
				p += ": " + d.Detail
			}
			parts = append(parts, p+")")
			told = told && strings.Contains(msg, d.Reason)
			if d.Reason == string(market.DeclinePrice) {
				hint = "\nTry: a higher --max-price (hayek offers shows what providers charge)"
			}
		}
		if len(a.Silent) > 0 {
			parts = append(parts, fmt.Sprintf("%d did not answer", len(a.Silent)))
			told = told && strings.Contains(msg, "did not answer")
		}
		if len(parts) > 0 && !told {
			msg += "; " + strings.Join(parts, ", ")
		}
	}
	return withCode(ExitNotRun, errors.New(msg+hint))
}

// writeStream writes captured stdout or stderr to w, byte for byte: from
// the blob when it has one, else from the inline copy.
func writeStream(ctx context.Context, cl *api.Client, s api.Stream, w io.Writer) error {
	switch {
	case s.Size == 0:
		return nil
	case s.CID != "":
		_, err := cl.GetBlob(ctx, s.CID, w)
		return err
	case s.Base64 != "":
		b, err := base64.StdEncoding.DecodeString(s.Base64)
		if err != nil {
			return fmt.Errorf("the node sent bad base64: %w", err)
		}
		_, err = w.Write(b)
		return err
	default:
		_, err := io.WriteString(w, s.Text)
		return err
	}
}

// saveOutputs writes each output to dir/<name>, creating dir. Names come
// from a remote provider, so the files are opened through an os.Root: no
// name, link or ".." can write outside dir. Each file appears whole or not
// at all.
func saveOutputs(ctx context.Context, cl *api.Client, outs []api.Output, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return withCode(ExitFailed, fmt.Errorf("cannot create --out directory: %w", err))
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return withCode(ExitFailed, fmt.Errorf("cannot open --out directory: %w", err))
	}
	defer root.Close()
	for _, o := range outs {
		name := filepath.FromSlash(o.Name)
		if !filepath.IsLocal(name) {
			return withCode(ExitFailed, fmt.Errorf("the job's output %q would be written outside %s; refused", o.Name, dir))
		}
		if err := saveOutput(ctx, cl, root, name, o.CID); err != nil {
			return withCode(ExitFailed, fmt.Errorf("saving output %q in %s: %w", o.Name, dir, err))
		}
	}
	return nil
}

func saveOutput(ctx context.Context, cl *api.Client, root *os.Root, name, cid string) error {
	if d := filepath.Dir(name); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".hayek-part")
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = cl.GetBlob(ctx, cid, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		root.Remove(tmp)
	}
	return err
}
