package reputation

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestBatcher(t *testing.T) {
	p := BatchParams{MaxReports: 3, MaxDelay: time.Minute, MaxBytes: 4 << 10}
	b, err := NewBatcher("me", p, 41)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	add := func(r Report) []Attestation {
		t.Helper()
		out, err := b.Add(now, r)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if _, ok := b.NextTimer(); ok {
		t.Fatal("timer set with nothing pending")
	}
	// N reports make a batch.
	for i := range 2 {
		if out := add(receiptReport("p", wasm, Success, fmt.Sprint("r", i))); out != nil {
			t.Fatalf("batch after %d reports", i+1)
		}
	}
	out := add(receiptReport("p", wasm, Success, "r2"))
	if len(out) != 1 || out[0].Seq != 42 || len(out[0].Reports) != 3 || out[0].Reporter != "me" || out[0].Created != now.UnixMilli() {
		t.Fatalf("third report: %+v", out)
	}
	// T time makes a batch.
	now = now.Add(10 * time.Second)
	add(Report{Subject: "q", Capability: wasm, Outcome: Timeout, Evidence: "job1"})
	if at, ok := b.NextTimer(); !ok || !at.Equal(now.Add(time.Minute)) {
		t.Fatalf("NextTimer = %v %v", at, ok)
	}
	if out := b.Tick(now.Add(59 * time.Second)); out != nil {
		t.Fatal("batch before its delay")
	}
	now = now.Add(time.Minute)
	out = b.Tick(now)
	if len(out) != 1 || out[0].Seq != 43 || len(out[0].Reports) != 1 {
		t.Fatalf("tick: %+v", out)
	}
	// Size: a big receipt pushes the pending batch out first.
	add(receiptReport("p", wasm, Success, "small"))
	big := receiptReport("p", wasm, Success, "big")
	big.Receipt = []byte(strings.Repeat("x", 4000))
	out = add(big)
	if len(out) != 1 || out[0].Seq != 44 || len(out[0].Reports) != 1 || b.Pending() != 1 {
		t.Fatalf("size cut: %+v, pending %d", out, b.Pending())
	}
	big.Receipt = []byte(strings.Repeat("x", 5000))
	if _, err := b.Add(now, big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized report: %v", err)
	}
	// Reports that receivers would refuse are refused here.
	for _, r := range []Report{
		receiptReport("me", wasm, Success, "self"),
		{Subject: "p", Capability: wasm, Outcome: Success, Evidence: "noreceipt"},
		receiptReport("p", CapRequester, Success, "cap"),
	} {
		if _, err := b.Add(now, r); err == nil {
			t.Fatalf("Add took %+v", r)
		}
	}
	out = b.Flush(now)
	if len(out) != 1 || out[0].Seq != 45 || b.Pending() != 0 || b.LastSeq() != 45 {
		t.Fatalf("flush: %+v", out)
	}
	if b.Flush(now) != nil || b.Tick(now.Add(time.Hour)) != nil {
		t.Fatal("empty batcher emitted")
	}
	if _, err := NewBatcher("me", BatchParams{}, 0); !errors.Is(err, ErrParams) {
		t.Fatalf("NewBatcher with zero params: %v", err)
	}
}

// What a batcher emits, a receiver that trusts the reporter takes whole.
func TestBatchesAreAccepted(t *testing.T) {
	bt, err := NewBatcher("me", DefaultBatchParams(), 0)
	if err != nil {
		t.Fatal(err)
	}
	recv, err := NewBook(DefaultParams(), "them")
	if err != nil {
		t.Fatal(err)
	}
	mustRecord(t, recv, t0, "me", wasm, Success, 20)
	total := 0
	for i := range 150 {
		out, err := bt.Add(t0, receiptReport(fmt.Sprint("p", i%7), wasm, Success, fmt.Sprint("r", i)))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range out {
			n, err := recv.Attest(t0, a)
			if err != nil || n != len(a.Reports) {
				t.Fatalf("batch %d: accepted %d of %d: %v", a.Seq, n, len(a.Reports), err)
			}
			total += n
		}
	}
	for _, a := range bt.Flush(t0) {
		n, _ := recv.Attest(t0, a)
		total += n
	}
	if total != 150 || bt.LastSeq() != 3 {
		t.Fatalf("accepted %d reports in %d batches", total, bt.LastSeq())
	}
}
