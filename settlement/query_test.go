package settlement

import (
	"slices"
	"testing"
)

func seqs(es []Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func TestEntries(t *testing.T) {
	e := newEnv(t)
	scenario(e)
	all, err := e.l.Entries(e.ctx, Filter{})
	e.must(err)
	if seq, _ := e.l.Head(); uint64(len(all)) != seq {
		t.Fatalf("%d entries, head %d", len(all), seq)
	}
	kinds := func(es []Entry) []Kind {
		var out []Kind
		for _, e := range es {
			out = append(out, e.Kind)
		}
		return out
	}
	for _, c := range []struct {
		f    Filter
		want []Kind
	}{
		{Filter{Job: "j1"}, []Kind{KindHold, KindReceipt, KindRelease, KindOutcome}},
		{Filter{Peer: "p1"}, []Kind{KindReceipt, KindSettle, KindOutcome}},
		{Filter{Peer: "p2"}, []Kind{KindReceipt, KindSettle}},
		{Filter{Agent: "alice"}, []Kind{KindGovernance, KindFund, KindHold, KindReceipt, KindRelease}},
		{Filter{Agent: "bob"}, []Kind{KindFund, KindFund, KindHold, KindReceipt, KindGovernance, KindFund}},
		{Filter{Job: "j2", Kind: KindReceipt}, []Kind{KindReceipt}},
		{Filter{Agent: "bob", Peer: "p3"}, []Kind{KindReceipt}},
		{Filter{Kind: KindSettle}, []Kind{KindSettle, KindSettle}},
		{Filter{Job: "nope"}, nil},
	} {
		got, err := e.l.Entries(e.ctx, c.f)
		e.must(err)
		if !slices.Equal(kinds(got), c.want) {
			t.Errorf("%+v: %v, want %v", c.f, kinds(got), c.want)
		}
		// Paging one at a time gives the same entries.
		var paged []Entry
		f := c.f
		f.Limit = 1
		for {
			page, err := e.l.Entries(e.ctx, f)
			e.must(err)
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			f.After = page[0].Seq
		}
		if !slices.Equal(seqs(paged), seqs(got)) {
			t.Errorf("%+v paged: %v, want %v", c.f, seqs(paged), seqs(got))
		}
	}
	cps, err := e.l.Entries(e.ctx, Filter{Kind: KindCheckpoint, After: 4, Limit: 2})
	e.must(err)
	if len(cps) != 2 || cps[0].Seq <= 4 {
		t.Fatalf("checkpoints after 4: %v", seqs(cps))
	}
	for _, en := range all {
		if _, err := en.Decode(); err != nil {
			t.Fatalf("entry %d: %v", en.Seq, err)
		}
	}
}

func TestSignHelpers(t *testing.T) {
	keys := testKeyring()
	r := receipt(self, "p1", "j", 1, 10)
	if _, err := SignReceipt(keys.Signer("p1"), r); err == nil {
		t.Fatal("p1 signed a receipt as requester node")
	}
	sr, err := SignReceipt(keys.Signer(self), r)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenReceiptRequest(keys, sr); err != nil || got != r {
		t.Fatalf("open request: %v %+v", err, got)
	}
	if _, err := OpenReceipt(keys, sr); err == nil {
		t.Fatal("opened a receipt without countersignature")
	}
	if _, err := Countersign(keys.Signer("p2"), sr, "h"); err == nil {
		t.Fatal("p2 countersigned p1's receipt")
	}
	if _, err := Countersign(keys.Signer("p1"), SignedReceipt{Body: sr.Body}, "h"); err == nil {
		t.Fatal("countersigned before the requester signed")
	}
	cs, err := Countersign(keys.Signer("p1"), sr, "bafyhead")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenReceipt(keys, cs); err != nil || got != r {
		t.Fatalf("open: %v %+v", err, got)
	}
	moved := cs
	moved.ProviderHead = "bafyother"
	if _, err := OpenReceipt(keys, moved); err == nil {
		t.Fatal("provider head is not covered by the countersignature")
	}
	st := Settle{Debtor: "p1", Creditor: self, Amount: 5}
	if _, err := SignSettle(keys.Signer("p1"), st); err == nil {
		t.Fatal("the debtor signed a settlement")
	}
	ss, err := SignSettle(keys.Signer(self), st)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenSettle(keys, ss); err != nil || got != st {
		t.Fatalf("open settle: %v %+v", err, got)
	}
	ss.Sig[0] ^= 1
	if _, err := OpenSettle(keys, ss); err == nil {
		t.Fatal("tampered settlement opened")
	}
}
