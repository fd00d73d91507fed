package evidence

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/wire"
)

// reopen is a new service of the rig's node on file, as after a restart,
// logging to log.
func (r *catchRig) reopen(file string, log *bytes.Buffer) *Service {
	r.t.Helper()
	d := r.s.d
	d.SuspectsFile = file
	d.Log = slog.New(slog.NewTextHandler(log, nil))
	s, err := New(d)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// stop runs s until its context ends, as the node does until Close.
func stop(t *testing.T, s *Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSuspectsSurviveARestart: a suspect acted on before a restart is
// still one after it, until its window ends; an expired one is dropped.
func TestSuspectsSurviveARestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "suspects.json")
	r := newCatchRig(t, 24*time.Hour)
	var log bytes.Buffer
	r.s = r.reopen(file, &log)
	r.pay("c1", 10)
	r.deliver(r.seal(market.KindCatch, r.catch("c1")))
	if !r.s.Suspect(cCheat) {
		t.Fatal("no suspect after a catch")
	}
	r.s.catch.mu.Lock()
	r.s.catch.suspects["soon"] = r.now.Add(time.Hour)
	r.s.catch.mu.Unlock()
	r.s.saveSuspects(false) // the periodic loop's save: the catch made them dirty
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("nothing saved on change: %v", err)
	}
	stop(t, r.s)

	r.now = r.now.Add(2 * time.Hour)
	s := r.reopen(file, &log)
	if !s.Suspect(cCheat) {
		t.Error("a restart forgot an unexpired suspect")
	}
	s.catch.mu.Lock()
	_, soon := s.catch.suspects["soon"]
	s.catch.mu.Unlock()
	if soon {
		t.Error("an expired suspect was loaded")
	}
	r.now = r.now.Add(22 * time.Hour)
	if s.Suspect(cCheat) {
		t.Error("a reloaded suspicion outlived its window")
	}
	if strings.Contains(log.String(), "WARN") {
		t.Errorf("logged %q", log.String())
	}
}

// TestSuspectsCorruptFile: a file that does not parse is reported with
// what to do, and the node starts with no suspects rather than failing;
// the next save replaces it.
func TestSuspectsCorruptFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "suspects.json")
	if err := os.WriteFile(file, []byte(`{"version":1,"until":{"x":`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newCatchRig(t, 24*time.Hour)
	var log bytes.Buffer
	r.s = r.reopen(file, &log)
	if !strings.Contains(log.String(), "corrupt") || !strings.Contains(log.String(), "remove the file") {
		t.Errorf("log %q, want the corrupt file reported with what to do", log.String())
	}
	r.pay("c1", 10)
	r.deliver(r.seal(market.KindCatch, r.catch("c1")))
	stop(t, r.s)
	log.Reset()
	if s := r.reopen(file, &log); !s.Suspect(cCheat) || strings.Contains(log.String(), "WARN") {
		t.Errorf("the corrupt file was not replaced by the next save (log %q)", log.String())
	}
}

// TestSuspectsFileBounded: a file holding more than maxSuspects loads
// the maxSuspects ending last.
func TestSuspectsFileBounded(t *testing.T) {
	file := filepath.Join(t.TempDir(), "suspects.json")
	m := map[string]time.Time{}
	for i := range maxSuspects + 10 {
		m[fmt.Sprintf("p-%d", i)] = catchNow.Add(time.Duration(i+1) * time.Minute)
	}
	if err := wire.SaveUntil(file, m); err != nil {
		t.Fatal(err)
	}
	r := newCatchRig(t, 24*time.Hour)
	var log bytes.Buffer
	s := r.reopen(file, &log)
	if n := len(s.catch.suspects); n != maxSuspects {
		t.Errorf("%d suspects loaded, want the cap %d", n, maxSuspects)
	}
	if s.Suspect("p-0") || !s.Suspect(fmt.Sprintf("p-%d", maxSuspects+9)) {
		t.Error("kept the suspicions ending first over those ending last")
	}
}

// TestSuspectsFileClamped: no suspicion read back lasts longer than a
// window from now, whatever the file says.
func TestSuspectsFileClamped(t *testing.T) {
	file := filepath.Join(t.TempDir(), "suspects.json")
	if err := wire.SaveUntil(file, map[string]time.Time{"far": catchNow.Add(1000 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	r := newCatchRig(t, 24*time.Hour)
	var log bytes.Buffer
	s := r.reopen(file, &log)
	r.now = r.now.Add(24*time.Hour - time.Second)
	if !s.Suspect("far") {
		t.Fatal("a suspect was lost")
	}
	r.now = r.now.Add(time.Second)
	if s.Suspect("far") {
		t.Error("a suspicion outlived a window from its loading")
	}
}
