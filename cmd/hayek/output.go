package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

// This file holds what the client commands share: asking the node and
// giving its errors exit codes, and printing its answers, as JSON for
// --json or as text for a human.

// connect returns the client of the local node; the caller closes it. A
// command that makes one call asks instead.
func connect(g *globals) (*api.Client, error) {
	cl, err := g.client()
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return cl, nil
}

// ask connects to the node, makes one call and closes the connection. It
// returns the call's error as the client gave it, for the command to give
// it an exit code (clientError, or a hint of the command's own first).
// call is a method expression, (*api.Client).Status, or a closure.
func ask[T any](c *cobra.Command, g *globals, call func(*api.Client, context.Context) (T, error)) (T, error) {
	cl, err := connect(g)
	if err != nil {
		var zero T
		return zero, err
	}
	defer cl.Close()
	return call(cl, c.Context())
}

// clientError gives an error from the client its exit code (see
// exitCodesHelp): the API's error code says which, with a hint at what to
// do. An error that has an exit code already keeps it.
func clientError(err error) error {
	var e *api.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, new(*exitError)):
		return err // connect's errors have theirs
	case errors.Is(err, api.ErrUnreachable):
		return withCode(ExitNotRun, err)
	case !errors.As(err, &e):
		return withCode(ExitFailed, err)
	}
	switch e.Code {
	case api.CodeNotFound, api.CodeBlobNotFound:
		return withCode(ExitNotFound, tryHint(err, "hayek job list"))
	case api.CodeNotFinished:
		return withCode(ExitNotFinished, err)
	case api.CodeUnauthorized, api.CodeForbidden:
		return withCode(ExitDenied, accessHint(err, e))
	case api.CodeUnavailable:
		return withCode(ExitNotRun, err) // the node is shutting down
	}
	return withCode(ExitFailed, err)
}

// tryHint adds "Try: hint" to err, unless its message names the command
// already (the node's messages often do).
func tryHint(err error, hint string) error {
	if strings.Contains(err.Error(), hint) {
		return err
	}
	return fmt.Errorf("%w\nTry: %s", err, hint)
}

// writeJSON writes v as indented JSON, the API's own objects.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeTable writes a table for a human: the tab-separated header, then a
// line for each row as row writes it, columns aligned.
func writeTable[T any](w io.Writer, header string, rows []T, row func(t io.Writer, r T)) error {
	t := newTable(w)
	fmt.Fprintln(t, header)
	for _, r := range rows {
		row(t, r)
	}
	return t.Flush()
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// formatDuration writes a duration for people, with three significant
// digits up to a minute: 0.31ms, 4.71ms, 19.6ms, 312ms, 2.00s, 19.5s; then
// to the second, 1m5s.
func formatDuration(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", ms)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1fms", ms)
	case d < time.Second:
		return fmt.Sprintf("%.0fms", ms)
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
