package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxEventBatch is how many queued events are written before a flush.
const maxEventBatch = 64

// events streams a job's events as Server-Sent Events: first those after
// Last-Event-ID (all of them without it), then live ones as they happen,
// until the backend closes the stream after the terminal event.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	after, resume := int64(0), false
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			s.fail(w, r, fieldError("Last-Event-ID", fmt.Sprintf("%q is not an event's seq: send the id of the last event received, a whole number ≥ 0 (0 or no header: from the first event)", v)))
			return
		}
		after, resume = n, true
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.stopping, cancel)()
	past, live, err := s.b.Events(ctx, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	buf := getBuf()
	defer putBuf(buf)
	// retry: tells EventSource clients to reconnect after a second.
	buf.WriteString("retry: 1000\n\n")
	sent, have := after, resume
	add := func(ev Event) {
		if have && ev.Seq <= sent {
			return // replayed already, or before Last-Event-ID
		}
		writeEvent(buf, ev)
		sent, have = ev.Seq, true
	}
	flush := func() bool {
		rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.Write(buf.Bytes()); err != nil {
			return false
		}
		buf.Reset()
		return rc.Flush() == nil
	}
	for _, ev := range past {
		add(ev)
	}
	if !flush() {
		return
	}

	keepAlive := time.NewTicker(s.keepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case ev, ok := <-live:
			if !ok {
				return
			}
			add(ev)
			// Write what else is queued in the same flush.
			for n := 1; n < maxEventBatch && ok; n++ {
				select {
				case ev, ok = <-live:
					if ok {
						add(ev)
					}
				default:
					n = maxEventBatch
				}
			}
			if !flush() || !ok {
				return
			}
			keepAlive.Reset(s.keepAlive)
		case <-keepAlive.C:
			buf.WriteString(": keep-alive\n\n")
			if !flush() {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// writeEvent appends one SSE event: id (the seq), event (the type) and the
// Event as one line of JSON.
func writeEvent(buf *bytes.Buffer, ev Event) {
	buf.WriteString("id: ")
	buf.WriteString(strconv.FormatInt(ev.Seq, 10))
	if ev.Type != "" && !strings.ContainsAny(ev.Type, "\r\n") {
		buf.WriteString("\nevent: ")
		buf.WriteString(ev.Type)
	}
	buf.WriteString("\ndata: ")
	// encoding/json escapes control characters, so the JSON is one line;
	// Encode's trailing newline ends the data line.
	json.NewEncoder(buf).Encode(ev)
	buf.WriteString("\n")
}
