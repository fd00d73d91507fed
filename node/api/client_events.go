package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Events calls fn with each of the job's events in order, past ones first,
// then live ones as they happen, and returns nil after the job's terminal
// event. If the connection drops, it reconnects with Last-Event-ID and
// resumes where it was, so fn sees each event once; it gives up after
// several failed reconnections in a row. If fn returns an error, Events
// stops and returns that error unchanged. An unknown job is CodeNotFound.
func (c *Client) Events(ctx context.Context, id string, fn func(Event) error) error {
	st := &eventStream{fn: fn}
	failures := 0
	for {
		err := c.streamEvents(ctx, id, st)
		switch {
		case st.fnErr != nil:
			return st.fnErr
		case st.fatal != nil:
			return st.fatal
		case ctx.Err() != nil:
			return fmt.Errorf("hayek: following job %s: %w", id, ctx.Err())
		}
		var apiErr *Error
		if errors.As(err, &apiErr) {
			return err
		}
		if err == nil {
			if st.terminal {
				return nil
			}
			// The stream ended without a terminal event: the job may have
			// ended anyway (a node restart), or the stream was cut short.
			job, jerr := c.Job(ctx, id)
			if jerr == nil && job.State.Terminal() {
				return nil
			}
			if errors.As(jerr, &apiErr) {
				return jerr
			}
			err = jerr
			if err == nil {
				err = errors.New("the event stream ended before the job did")
			}
		}
		if st.progressed {
			// The node cut a stream that was delivering (a slow reader is
			// cut off, for one): resume at once.
			st.progressed, failures = false, 0
			continue
		}
		failures++
		if failures > eventRetries {
			return fmt.Errorf("hayek: following job %s: giving up after %d tries: %w", id, failures, err)
		}
		if err := sleep(ctx, backoff(failures)); err != nil {
			return fmt.Errorf("hayek: following job %s: %w", id, err)
		}
	}
}

func backoff(n int) time.Duration {
	d := 100 * time.Millisecond << min(n-1, 5)
	return min(d, 2*time.Second)
}

// eventStream is what Events carries from one connection to the next.
type eventStream struct {
	fn         func(Event) error
	last       int64 // seq of the last event delivered
	have       bool  // whether last is set
	terminal   bool  // a terminal event was delivered
	progressed bool  // an event was delivered on this connection
	fnErr      error
	fatal      error
}

// streamEvents reads one connection's worth of events. It returns nil when
// the server ended the stream, an error when the connection failed.
func (c *Client) streamEvents(ctx context.Context, id string, st *eventStream) error {
	req, err := c.newRequest(ctx, http.MethodGet, jobPath(id, "/events"), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if st.have {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(st.last, 10))
	}
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		st.fatal = fmt.Errorf("hayek: GET %s answered %q, not an event stream: is the socket a hayek node?", req.URL.Path, ct)
		return st.fatal
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 16<<10), 1<<20)
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 { // a blank line ends an event
			if len(data) > 0 && !st.deliver(data) {
				return nil
			}
			data = data[:0]
			continue
		}
		if line[0] == ':' {
			continue // comment: keep-alive
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		// The seq in the JSON is the event's id, and its type the event
		// name; only data is needed.
		if string(field) == "data" {
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, value...)
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &UnreachableError{Socket: c.socket, Op: "GET " + req.URL.Path, Err: err}
	}
	return nil
}

// deliver decodes one event and passes it on; false stops the stream.
func (st *eventStream) deliver(data []byte) bool {
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil {
		st.fatal = fmt.Errorf("hayek: the node sent an event that is not valid JSON: %w", err)
		return false
	}
	if st.have && ev.Seq <= st.last {
		return true // already delivered before a reconnection
	}
	st.last, st.have, st.progressed = ev.Seq, true, true
	if ev.State.Terminal() {
		st.terminal = true
	}
	if err := st.fn(ev); err != nil {
		st.fnErr = err
		return false
	}
	return true
}
