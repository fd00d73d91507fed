package settlement

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"

	"github.com/hayek-market/hayek/internal/canon"
)

// scenario builds a ledger with every kind of entry, in several groups.
func scenario(e *env) {
	base(e)
	e.must(e.release("j1", 50))
	e.must(e.append(KindSettle, e.signedSettle(self, Settle{Debtor: "p2", Creditor: self, Amount: 20, Reference: "wire-1"})))
	e.must(e.append(KindSettle, e.signedSettle("p1", Settle{Debtor: self, Creditor: "p1", Amount: 100})))
	e.must(e.append(KindOutcome, Outcome{Peer: "p1", Capability: "runtime/wasm", Outcome: "success", Job: "j1"}))
	env, err := canon.Seal(e.keys.Signer(self), "attestation", Settle{Creditor: self})
	e.must(err)
	e.must(e.append(KindAttestation, Attestation{Envelope: env.Encode()}))
	_, err = e.l.AppendAll(e.ctx,
		Draft{KindFund, Fund{Agent: "bob", Amount: 7, Note: "<b>&\"quoted\"</b> ünï"}},
		Draft{KindHold, Hold{Job: "j2", Agent: "bob", Amount: 50}},
		Draft{KindReceipt, e.signedReceipt(receipt(self, "p3", "j2", 1, 50))},
		Draft{KindGovernance, Governance{Action: ActionJobApprove, Job: "j2", Agent: "bob", Detail: "ok"}})
	e.must(err)
	e.must(e.fund("bob", 1))
}

func TestExportRoundTrip(t *testing.T) {
	e := newEnv(t)
	scenario(e)
	for _, deep := range []bool{false, true} {
		rep, err := e.l.Verify(e.ctx, deep)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		e.must(e.l.Export(e.ctx, &buf))
		xrep, err := VerifyExport(e.ctx, &buf, e.keys, deep)
		if err != nil {
			t.Fatal(err)
		}
		seq, head := e.l.Head()
		if rep.Seq != seq || rep.Head != head || xrep.Head != head || xrep.Entries != seq || xrep.Checkpoints != rep.Checkpoints ||
			xrep.Node != self || xrep.Totals != e.l.Totals() || rep.Unsealed != 0 || !rep.Indexes {
			t.Fatalf("reports differ:\nledger %+v\nexport %+v", rep, xrep)
		}
		if deep && (rep.Receipts != 3 || xrep.Receipts != 3 || rep.Settles != 2) {
			t.Fatalf("deep counted %d/%d receipts, %d settles", rep.Receipts, xrep.Receipts, rep.Settles)
		}
	}
	empty := newEnv(t)
	var buf bytes.Buffer
	e.must(empty.l.Export(e.ctx, &buf))
	if rep, err := VerifyExport(e.ctx, &buf, e.keys, true); err != nil || rep.Entries != 0 || !rep.Trailer || rep.Node != self {
		t.Fatalf("empty ledger's export: %+v %v", rep, err)
	}
	if _, err := VerifyExport(e.ctx, strings.NewReader(""), e.keys, true); !errors.Is(err, ErrNoTrailer) {
		t.Fatalf("empty file: %v, want ErrNoTrailer", err)
	}
}

// exportLines exports e's ledger as editable entry lines; the trailer is
// kept aside in e.trailer for joinLines.
func exportLines(t *testing.T, e *env) []exportLine {
	var buf bytes.Buffer
	e.must(e.l.Export(e.ctx, &buf))
	var out []exportLine
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if isTrailer(l) {
			lastTrailer = bytes.Clone(l)
			continue
		}
		var el exportLine
		e.must(json.Unmarshal(l, &el))
		out = append(out, el)
	}
	return out
}

// lastTrailer is the trailer line of the last exportLines.
var lastTrailer []byte

// joinLines writes entry lines back as an export, with the trailer the
// ledger signed (which names the untampered last entry).
func joinLines(t *testing.T, ls []exportLine) *bytes.Buffer {
	var buf bytes.Buffer
	for _, l := range ls {
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(append(b, '\n'))
	}
	buf.Write(append(bytes.Clone(lastTrailer), '\n'))
	return &buf
}

// find is the index of the first line of kind after line from.
func find(t *testing.T, ls []exportLine, kind Kind, from int) int {
	for i := from; i < len(ls); i++ {
		if ls[i].Kind == kind {
			return i
		}
	}
	t.Fatalf("no %s line after %d", kind, from)
	return -1
}

func editBody[T any](t *testing.T, l *exportLine, edit func(*T)) {
	var v T
	if err := json.Unmarshal(l.Body, &v); err != nil {
		t.Fatal(err)
	}
	edit(&v)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	l.Body = b
}

func TestTamperedExport(t *testing.T) {
	e := newEnv(t)
	scenario(e)
	cases := []struct {
		name string
		deep bool
		edit func(ls []exportLine) ([]exportLine, uint64) // the tampered lines and the Seq to blame
	}{
		{"changed fund amount", false, func(ls []exportLine) ([]exportLine, uint64) {
			i := find(t, ls, KindFund, 0)
			editBody(t, &ls[i], func(f *Fund) { f.Amount++ })
			return ls, ls[i].Seq
		}},
		{"changed receipt price", false, func(ls []exportLine) ([]exportLine, uint64) {
			i := find(t, ls, KindReceipt, 0)
			editBody(t, &ls[i], func(r *receiptView) { r.Receipt.Price-- })
			return ls, ls[i].Seq
		}},
		{"changed receipt price, deep", true, func(ls []exportLine) ([]exportLine, uint64) {
			i := find(t, ls, KindReceipt, 0)
			editBody(t, &ls[i], func(r *receiptView) { r.Receipt.Price-- })
			return ls, ls[i].Seq
		}},
		{"changed settlement amount, deep", true, func(ls []exportLine) ([]exportLine, uint64) {
			i := find(t, ls, KindSettle, 0)
			editBody(t, &ls[i], func(s *settleView) { s.Settle.Amount-- })
			return ls, ls[i].Seq
		}},
		{"removed entry", false, func(ls []exportLine) ([]exportLine, uint64) {
			i := find(t, ls, KindRelease, 0)
			return append(ls[:i:i], ls[i+1:]...), ls[i].Seq
		}},
		{"reordered entries", false, func(ls []exportLine) ([]exportLine, uint64) {
			i := find(t, ls, KindOutcome, 0)
			ls[i], ls[i+1] = ls[i+1], ls[i]
			return ls, ls[i+1].Seq
		}},
		{"renumbered after a removal", false, func(ls []exportLine) ([]exportLine, uint64) {
			// Remove an entry and renumber the rest: the links give it away.
			i := find(t, ls, KindRelease, 0)
			out := append(ls[:i:i], ls[i+1:]...)
			for j := i; j < len(out); j++ {
				out[j].Seq--
			}
			return out, ls[i].Seq - 1
		}},
		{"bad checkpoint signature", false, func(ls []exportLine) ([]exportLine, uint64) {
			i := find(t, ls, KindCheckpoint, 3)
			editBody(t, &ls[i], func(c *Checkpoint) { c.Sig[7] ^= 1 })
			return ls, ls[i].Seq
		}},
		{"checkpoint signed by another node", false, func(ls []exportLine) ([]exportLine, uint64) {
			i := find(t, ls, KindCheckpoint, 3)
			editBody(t, &ls[i], func(c *Checkpoint) {
				c.Node = "p1"
				*c, _ = signCheckpoint(e.keys.Signer("p1"), *c)
			})
			return ls, ls[i].Seq
		}},
		{"checkpoint over another head", false, func(ls []exportLine) ([]exportLine, uint64) {
			i := find(t, ls, KindCheckpoint, 3)
			editBody(t, &ls[i], func(c *Checkpoint) {
				c.Head = ls[i-2].Prev
				*c, _ = signCheckpoint(e.keys.Signer(self), *c)
			})
			return ls, ls[i].Seq
		}},
		{"changed time", false, func(ls []exportLine) ([]exportLine, uint64) {
			i := find(t, ls, KindHold, 0)
			ls[i].Time--
			return ls, ls[i].Seq
		}},
		{"garbage line", false, func(ls []exportLine) ([]exportLine, uint64) {
			i := find(t, ls, KindHold, 0)
			ls[i].Body = json.RawMessage(`{"job":"j1","agent":"alice","amount":300,"extra":1}`)
			return ls, ls[i].Seq
		}},
		{"unknown kind", false, func(ls []exportLine) ([]exportLine, uint64) {
			i := find(t, ls, KindOutcome, 0)
			ls[i].Kind = "gift"
			return ls, ls[i].Seq
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ls, seq := c.edit(exportLines(t, e))
			_, err := VerifyExport(e.ctx, joinLines(t, ls), e.keys, c.deep)
			got, ok := CorruptSeq(err)
			if !IsCorruption(err) || !ok || got != seq {
				t.Fatalf("error %v: want corruption at entry %d", err, seq)
			}
			t.Log(err)
		})
	}
}

// TestTruncatedExport: an export cut short anywhere — after a checkpoint,
// inside a line, before its trailer — is refused, naming the entry after
// the last one it holds; so are a trailer altered, re-signed by another
// node, or followed by more lines. An export without any trailer is
// accepted only when asked to.
func TestTruncatedExport(t *testing.T) {
	e := newEnv(t)
	scenario(e)
	var buf bytes.Buffer
	e.must(e.l.Export(e.ctx, &buf))
	whole := buf.String()
	lines := strings.SplitAfter(whole, "\n")
	lines = lines[:len(lines)-1] // the empty string after the last newline
	seq, head := e.l.Head()
	cpLine := -1 // the last checkpoint before the end
	for i := len(lines) - 3; i >= 0; i-- {
		if strings.Contains(lines[i], `"kind":"checkpoint"`) {
			cpLine = i
			break
		}
	}
	trailer := lines[len(lines)-1]
	resign := func(edit func(*ExportTrailer), signer string) string {
		var tl trailerLine
		e.must(json.Unmarshal([]byte(trailer), &tl))
		edit(tl.Trailer)
		tr, err := signTrailer(e.keys.Signer(signer), *tl.Trailer)
		e.must(err)
		b, _ := json.Marshal(trailerLine{&tr})
		return string(b) + "\n"
	}
	cases := []struct {
		name    string
		export  string
		badSeq  uint64
		noTrail bool // the error wraps ErrNoTrailer
	}{
		{"cut after a checkpoint", strings.Join(lines[:cpLine+1], ""), uint64(cpLine) + 2, true},
		{"cut inside a line", whole[:len(whole)-len(trailer)-20], seq, false},
		{"trailer cut off", strings.Join(lines[:len(lines)-1], ""), seq + 1, true},
		{"trailer cut inside", whole[:len(whole)-10], seq + 1, false},
		{"lines after the trailer", whole + lines[0], seq + 1, false},
		{"trailer claims more", strings.Join(lines[:len(lines)-1], "") + resign(func(t *ExportTrailer) { t.Seq++ }, self), seq + 1, true},
		{"trailer claims less", strings.Join(lines[:len(lines)-1], "") + resign(func(t *ExportTrailer) { t.Seq-- }, self), seq, false},
		{"trailer names another head", strings.Join(lines[:len(lines)-1], "") + resign(func(t *ExportTrailer) { t.Head = "bafyother" }, self), seq, false},
		{"trailer by another node", strings.Join(lines[:len(lines)-1], "") + resign(func(t *ExportTrailer) { t.Node = "p1" }, "p1"), seq + 1, false},
		{"trailer signature broken", strings.Join(lines[:len(lines)-1], "") + strings.Replace(trailer, `"time":`, `"time":1`, 1), seq + 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := VerifyExport(e.ctx, strings.NewReader(c.export), e.keys, true)
			got, ok := CorruptSeq(err)
			if !IsCorruption(err) || !ok || got != c.badSeq || errors.Is(err, ErrNoTrailer) != c.noTrail {
				t.Fatalf("error %v: want corruption at entry %d (no trailer: %t)", err, c.badSeq, c.noTrail)
			}
			t.Log(err)
		})
	}
	// An export from before trailers: refused by default, accepted when
	// asked, and then its report says it had none.
	old := strings.Join(lines[:len(lines)-1], "")
	if _, err := VerifyExport(e.ctx, strings.NewReader(old), e.keys, true); !errors.Is(err, ErrNoTrailer) || !strings.Contains(err.Error(), "export it again") {
		t.Fatalf("untrailed export: %v", err)
	}
	rep, err := VerifyExportWith(e.ctx, strings.NewReader(old), e.keys, VerifyExportOptions{Deep: true, AllowUntrailed: true})
	if err != nil || rep.Trailer || rep.Head != head {
		t.Fatalf("untrailed export, allowed: %+v %v", rep, err)
	}
	rep, err = VerifyExport(e.ctx, strings.NewReader(whole), e.keys, true)
	if err != nil || !rep.Trailer || rep.Exported == 0 || rep.Head != head {
		t.Fatalf("whole export: %+v %v", rep, err)
	}
}

// tamperDB rewrites the ledger's database directly while it is closed.
func tamperDB(t *testing.T, e *env, edit func(db *pebble.DB)) {
	e.must(e.l.Close())
	e.l = nil
	db, err := pebble.Open(e.dir, &pebble.Options{FS: e.fs, Logger: pebbleLogger{benchLogger()}})
	e.must(err)
	edit(db)
	e.must(db.Close())
}

func readEntry(t *testing.T, db *pebble.DB, seq uint64) Entry {
	v, closer, err := db.Get(entryKey(seq))
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	en, err := decodeEntry(bytes.Clone(v))
	if err != nil {
		t.Fatal(err)
	}
	return en
}

func TestTamperedDatabase(t *testing.T) {
	const fundSeq = 3 // base: 1 governance, 2 its checkpoint, 3 fund alice
	t.Run("altered entry", func(t *testing.T) {
		e := newEnv(t)
		scenario(e)
		tamperDB(t, e, func(db *pebble.DB) {
			en := readEntry(t, db, fundSeq)
			en.Body = canon.MustMarshal(Fund{Agent: "alice", Amount: 1_000_000})
			e.must(db.Set(entryKey(fundSeq), encodeEntry(en), pebble.Sync))
		})
		e.open() // Open checks only the head: the damage is in the middle
		_, err := e.l.Verify(e.ctx, false)
		if seq, _ := CorruptSeq(err); !IsCorruption(err) || seq != fundSeq {
			t.Fatalf("verify: %v, want corruption at %d", err, fundSeq)
		}
		e.must(e.l.Close())
		e.l = nil
		_, err = Open(e.ctx, e.dir, withOpts(e.opts, func(o *Options) { o.VerifyOnOpen = true }))
		if seq, _ := CorruptSeq(err); seq != fundSeq {
			t.Fatalf("open with VerifyOnOpen: %v", err)
		}
		_, err = Open(e.ctx, e.dir, withOpts(e.opts, func(o *Options) { o.RebuildIndexes = true }))
		if seq, _ := CorruptSeq(err); seq != fundSeq {
			t.Fatalf("open with RebuildIndexes: %v", err)
		}
		// The refused rebuild left the indexes as they were.
		e.open()
		if _, err := e.l.Verify(e.ctx, false); !IsCorruption(err) || strings.Contains(err.Error(), "index") {
			t.Fatalf("after a refused rebuild: %v", err)
		}
	})
	t.Run("deleted entry", func(t *testing.T) {
		e := newEnv(t)
		scenario(e)
		tamperDB(t, e, func(db *pebble.DB) { e.must(db.Delete(entryKey(5), pebble.Sync)) })
		e.open()
		_, err := e.l.Verify(e.ctx, false)
		if seq, _ := CorruptSeq(err); seq != 5 {
			t.Fatalf("verify: %v, want corruption at 5", err)
		}
	})
	t.Run("altered head", func(t *testing.T) {
		e := newEnv(t)
		scenario(e)
		last, _ := e.l.Head()
		tamperDB(t, e, func(db *pebble.DB) {
			en := readEntry(t, db, last)
			en.Time++
			e.must(db.Set(entryKey(last), encodeEntry(en), pebble.Sync))
		})
		_, err := Open(e.ctx, e.dir, e.opts)
		if seq, _ := CorruptSeq(err); !IsCorruption(err) || seq != last {
			t.Fatalf("open: %v, want corruption at %d", err, last)
		}
		e.l = nil
	})
	t.Run("lost tail", func(t *testing.T) {
		e := newEnv(t)
		scenario(e)
		last, _ := e.l.Head()
		tamperDB(t, e, func(db *pebble.DB) { e.must(db.Delete(entryKey(last), pebble.Sync)) })
		_, err := Open(e.ctx, e.dir, e.opts)
		if seq, _ := CorruptSeq(err); seq != last {
			t.Fatalf("open: %v, want corruption at %d", err, last)
		}
		e.l = nil
	})
	t.Run("undecodable entry", func(t *testing.T) {
		e := newEnv(t)
		scenario(e)
		tamperDB(t, e, func(db *pebble.DB) { e.must(db.Set(entryKey(4), []byte{0xa5, 0x00}, pebble.Sync)) })
		e.open()
		_, err := e.l.Verify(e.ctx, true)
		if seq, _ := CorruptSeq(err); seq != 4 {
			t.Fatalf("verify: %v, want corruption at 4", err)
		}
	})
	t.Run("damaged index", func(t *testing.T) {
		e := newEnv(t)
		scenario(e)
		tamperDB(t, e, func(db *pebble.DB) {
			a := Account{Name: "bob", Budget: 1 << 40}
			e.must(db.Set(nameKey(prefAgent, "bob"), canon.MustMarshal(a), pebble.Sync))
		})
		// Open catches sums that do not add up...
		if _, err := Open(e.ctx, e.dir, e.opts); !IsCorruption(err) {
			t.Fatalf("open: %v", err)
		}
		// ...and rebuilding the indexes from the chain repairs them.
		e.opts.RebuildIndexes = true
		e.open()
		e.opts.RebuildIndexes = false
		if _, err := e.l.Verify(e.ctx, true); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("lookup key removed", func(t *testing.T) {
		e := newEnv(t)
		scenario(e)
		tamperDB(t, e, func(db *pebble.DB) {
			e.must(db.Delete(append(lookupPrefix(prefKind, string(KindFund)), encodeSeq(fundSeq)...), pebble.Sync))
		})
		e.open()
		_, err := e.l.Verify(e.ctx, false)
		if seq, ok := CorruptSeq(err); !ok || seq != 0 || !strings.Contains(err.Error(), "lookup keys") {
			t.Fatalf("verify: %v, want an index corruption", err)
		}
	})
	t.Run("missing head record rebuilds", func(t *testing.T) {
		e := newEnv(t)
		scenario(e)
		before := snapshotState(e.l)
		tamperDB(t, e, func(db *pebble.DB) { e.must(db.Delete(keyHead, pebble.Sync)) })
		e.open()
		if after := snapshotState(e.l); after != before {
			t.Fatalf("rebuilt state differs:\n%s\n%s", before, after)
		}
		if _, err := e.l.Verify(e.ctx, true); err != nil {
			t.Fatal(err)
		}
	})
}

func withOpts(o Options, mut func(*Options)) Options {
	mut(&o)
	return o
}

func TestIsCorruption(t *testing.T) {
	if IsCorruption(errors.New("x")) || IsCorruption(nil) || !IsCorruption(pebble.ErrCorruption) {
		t.Fatal("IsCorruption")
	}
	err := corruptf(7, nil, "bad")
	if !strings.HasPrefix(err.Error(), "settlement: ledger corrupt at entry 7") {
		t.Fatal(err)
	}
}
