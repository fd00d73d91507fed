package reputation

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// State is a book's full contents as plain values, for the node to keep
// across restarts (encode it with canon or JSON). Times are Unix
// nanoseconds, so a restored book decays exactly as the original.
type State struct {
	Now      int64        `cbor:"now" json:"now"`
	Tallies  []StateTally `cbor:"tallies" json:"tallies"`
	Evidence []StateMark  `cbor:"evidence" json:"evidence"`
}

// StateTally is the evidence on one (peer, capability) from one source:
// first-hand when Reporter is empty, else that reporter's raw reports.
type StateTally struct {
	Peer       string  `cbor:"peer" json:"peer"`
	Capability string  `cbor:"cap" json:"cap"`
	Reporter   string  `cbor:"reporter" json:"reporter,omitempty"`
	Pos        float64 `cbor:"pos" json:"pos"`
	Neg        float64 `cbor:"neg" json:"neg"`
	Wrong      float64 `cbor:"wrong,omitempty" json:"wrong,omitempty"` // first-hand: the part of Neg wrong results weigh
	At         int64   `cbor:"at" json:"at"`
	// Lapses: of a first-hand Neg, the weight of timeouts (decayed to At).
	Lapses float64 `cbor:"lapses,omitempty" json:"lapses,omitempty"`
}

// StateMark is one remembered evidence ID and the weight it counted at.
type StateMark struct {
	Subject  string  `cbor:"subject" json:"subject"`
	Reporter string  `cbor:"reporter" json:"reporter,omitempty"`
	Evidence string  `cbor:"evidence" json:"evidence"`
	Pos      float64 `cbor:"pos" json:"pos"`
	Neg      float64 `cbor:"neg" json:"neg"`
	At       int64   `cbor:"at" json:"at"`
}

// Export returns the book's state, sorted so that equal books export
// equal states.
func (b *Book) Export() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := State{Now: unixNano(b.now)}
	for _, peer := range slices.Sorted(maps.Keys(b.peers)) {
		s := b.peers[peer]
		for _, c := range slices.Sorted(maps.Keys(s.caps)) {
			e := s.caps[c]
			if e.direct.mass() > 0 {
				st.Tallies = append(st.Tallies, StateTally{Peer: peer, Capability: c,
					Pos: e.direct.Pos, Neg: e.direct.Neg, Wrong: e.direct.Wrong, At: unixNano(e.direct.At), Lapses: e.lapses.at(e.direct.At, b.p.HalfLife).Neg})
			}
			for _, r := range slices.Sorted(maps.Keys(e.third)) {
				t := e.third[r]
				st.Tallies = append(st.Tallies, StateTally{Peer: peer, Capability: c, Reporter: r,
					Pos: t.Pos, Neg: t.Neg, At: unixNano(t.At)})
			}
		}
	}
	keys := slices.SortedFunc(maps.Keys(b.seen), func(x, y evKey) int {
		switch {
		case x.Subject != y.Subject:
			return strings.Compare(x.Subject, y.Subject)
		case x.Reporter != y.Reporter:
			return strings.Compare(x.Reporter, y.Reporter)
		}
		return strings.Compare(x.Evidence, y.Evidence)
	})
	for _, k := range keys {
		m := b.seen[k]
		st.Evidence = append(st.Evidence, StateMark{Subject: k.Subject, Reporter: k.Reporter, Evidence: k.Evidence,
			Pos: m.Pos, Neg: m.Neg, At: unixNano(m.At)})
	}
	return st
}

// Restore builds a book from an exported state. It refuses a state with
// negative or non-finite evidence, or a row without its names.
func Restore(p Params, self string, st State) (*Book, error) {
	b, err := NewBook(p, self)
	if err != nil {
		return nil, err
	}
	ok := func(v float64) bool { return v >= 0 && !math.IsInf(v, 0) } // NaN fails v >= 0
	b.now = fromNano(st.Now)
	for i, t := range st.Tallies {
		if t.Peer == "" || t.Capability == "" || !ok(t.Pos) || !ok(t.Neg) || !ok(t.Lapses) || !ok(t.Wrong) || t.Lapses > t.Neg || t.Wrong > t.Neg || t.Reporter != "" && (t.Lapses != 0 || t.Wrong != 0) {
			return nil, fmt.Errorf("reputation: restore: tally %d (%s on %q) is malformed", i, short(t.Peer), t.Capability)
		}
		e := b.entry(t.Peer, t.Capability)
		tl := tally{Pos: t.Pos, Neg: t.Neg, Wrong: t.Wrong, At: fromNano(t.At)}
		if t.Reporter == "" {
			e.direct = tl
			e.lapses = tally{Neg: t.Lapses, At: tl.At}
		} else {
			e.third[t.Reporter] = &tl
		}
	}
	for i, m := range st.Evidence {
		if m.Subject == "" || m.Evidence == "" || !ok(m.Pos) || !ok(m.Neg) {
			return nil, fmt.Errorf("reputation: restore: evidence %d (%q about %s) is malformed", i, m.Evidence, short(m.Subject))
		}
		b.seen[evKey{Subject: m.Subject, Reporter: m.Reporter, Evidence: m.Evidence}] = &mark{Pos: m.Pos, Neg: m.Neg, At: fromNano(m.At)}
	}
	return b, nil
}

// unixNano maps the zero time to 0 (time.Time{}.UnixNano overflows).
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
