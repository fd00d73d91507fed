package settlement

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// The head file: <ledger dir>/HEAD, outside pebble, so that entries
// pebble loses (a damaged, truncated or deleted write-ahead log replays as
// a shorter one, silently) are noticed at Open instead of being appended
// over.
//
// The file has two fixed 4 KiB slots written in turn, in place, each a
// record with a generation number and a CRC: a write torn by a crash
// damages only the slot being written, and the other still holds the
// record before it. Open reads the valid slot with the highest generation.
// Writing in place into a file whose size never changes needs one
// fdatasync and no directory sync, and it runs beside pebble's own sync of
// the same group (commit.go), so it costs the group little time.
//
// Because the record is written while pebble writes the group, it names
// two points of the chain:
//
//	acked    the head before the group: every entry up to it is durable
//	         and was acknowledged
//	pending  the group's own last entry (its checkpoint), which may or may
//	         not have reached pebble if the process died meanwhile
//
// Open accepts a chain that ends at or after acked, as long as the entry
// at the later of the two points it reaches carries the recorded CID; a
// chain that ends before acked, or holds another entry there, has lost
// acknowledged writes (LostWritesError). Close, and the committer after
// a moment of idleness, write a record with pending = acked, so that even
// the last group's loss is noticed.

const (
	headFileName = "HEAD"
	headSlot     = 4096
	headMagic    = "hayekHD1"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// headMark is one record of the head file.
type headMark struct {
	Gen         uint64
	Node        string
	Acked       uint64
	AckedHead   string
	Pending     uint64
	PendingHead string
}

func (m headMark) encode() []byte {
	b := make([]byte, 0, headSlot)
	b = append(b, headMagic...)
	b = binary.BigEndian.AppendUint64(b, m.Gen)
	b = binary.BigEndian.AppendUint64(b, m.Acked)
	b = binary.BigEndian.AppendUint64(b, m.Pending)
	for _, s := range []string{m.Node, m.AckedHead, m.PendingHead} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
	return b[:headSlot] // zero padded: every write is a whole slot
}

func decodeHeadMark(b []byte) (headMark, bool) {
	var m headMark
	if len(b) < len(headMagic)+24 || string(b[:len(headMagic)]) != headMagic {
		return m, false
	}
	p := b[len(headMagic):]
	m.Gen = binary.BigEndian.Uint64(p)
	m.Acked = binary.BigEndian.Uint64(p[8:])
	m.Pending = binary.BigEndian.Uint64(p[16:])
	p = p[24:]
	var strs [3]string
	for i := range strs {
		if len(p) < 2 {
			return m, false
		}
		n := int(binary.BigEndian.Uint16(p))
		if len(p) < 2+n {
			return m, false
		}
		strs[i], p = string(p[2:2+n]), p[2+n:]
	}
	end := len(b) - len(p)
	if len(p) < 4 || binary.BigEndian.Uint32(p) != crc32.Checksum(b[:end], crcTable) {
		return m, false
	}
	m.Node, m.AckedHead, m.PendingHead = strs[0], strs[1], strs[2]
	return m, m.Pending >= m.Acked
}

// headState is what reading the head file found.
type headState int

const (
	headAbsent  headState = iota // no file
	headValid                    // a valid record
	headCorrupt                  // a file, but no valid slot
)

// readHead reads the head file of the ledger in dir.
func readHead(fsys vfs.FS, dir string) (headMark, headState, error) {
	path := fsys.PathJoin(dir, headFileName)
	f, err := fsys.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return headMark{}, headAbsent, nil
	}
	if err != nil {
		return headMark{}, headAbsent, fmt.Errorf("settlement: open the head file %s: %w", path, err)
	}
	defer f.Close()
	var (
		best  headMark
		found bool
		buf   = make([]byte, headSlot)
	)
	for slot := range 2 {
		n, err := f.ReadAt(buf, int64(slot*headSlot))
		if err != nil && !errors.Is(err, io.EOF) {
			return headMark{}, headAbsent, fmt.Errorf("settlement: read the head file %s: %w", path, err)
		}
		if m, ok := decodeHeadMark(buf[:n]); ok && (!found || m.Gen > best.Gen) {
			best, found = m, true
		}
	}
	if !found {
		return headMark{}, headCorrupt, nil
	}
	return best, headValid, nil
}

// headFile writes the head file. Its writes are serialized by the
// committer: one at a time.
type headFile struct {
	fs   vfs.FS
	dir  string
	f    vfs.File // nil until the first write
	gen  uint64   // of the last record written or read
	last headMark
}

func (h *headFile) path() string { return h.fs.PathJoin(h.dir, headFileName) }

// write records m (its Gen is assigned here) durably.
func (h *headFile) write(m headMark) error {
	if h.f == nil {
		return h.create(m)
	}
	m.Gen = h.gen + 1
	if _, err := h.f.WriteAt(m.encode(), int64(m.Gen%2)*headSlot); err != nil {
		return fmt.Errorf("settlement: write the head file %s: %w", h.path(), err)
	}
	if err := h.f.SyncData(); err != nil {
		return fmt.Errorf("settlement: sync the head file %s: %w", h.path(), err)
	}
	h.gen, h.last = m.Gen, m
	return nil
}

// open opens an existing head file whose last generation is gen.
func (h *headFile) open(gen uint64, last headMark) error {
	f, err := h.fs.OpenReadWrite(h.path())
	if err != nil {
		return fmt.Errorf("settlement: open the head file %s: %w", h.path(), err)
	}
	h.f, h.gen, h.last = f, gen, last
	return nil
}

// create writes a new head file holding m in both slots, then syncs it
// and the directory that names it. Whatever was there is replaced: a new
// file is complete before its name appears (written aside, renamed).
func (h *headFile) create(m headMark) error {
	tmp := h.path() + ".new"
	f, err := h.fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("settlement: create the head file %s: %w", tmp, err)
	}
	m.Gen = h.gen + 2
	older := m
	older.Gen = m.Gen - 1
	var slots [2][]byte // slot g%2 holds generation g
	slots[older.Gen%2], slots[m.Gen%2] = older.encode(), m.encode()
	_, err = f.Write(bytes.Join(slots[:], nil))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = h.fs.Rename(tmp, h.path())
	}
	if err == nil {
		err = syncDir(h.fs, h.dir)
	}
	if err != nil {
		return fmt.Errorf("settlement: create the head file %s: %w", h.path(), err)
	}
	if h.f != nil {
		_ = h.f.Close()
		h.f = nil
	}
	if err := h.open(m.Gen, m); err != nil {
		return err
	}
	return nil
}

func (h *headFile) close() error {
	if h.f == nil {
		return nil
	}
	err := h.f.Close()
	h.f = nil
	return err
}

func syncDir(fsys vfs.FS, dir string) error {
	d, err := fsys.OpenDir(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// openHead compares the head file with the chain pebble holds (last
// entry lastSeq, lastCID) and prepares the record for writing. A loss is
// returned, not an error; when recovering, the record is left as it is
// until the recovery's own commit replaces it.
func (l *Ledger) openHead(lastSeq uint64, lastCID string, recovering bool) (*LostWritesError, error) {
	hm, hs, err := readHead(l.opts.FS, l.dir)
	if err != nil {
		return nil, err
	}
	_, marked, err := l.get(keyHeadFile)
	if err != nil {
		return nil, err
	}
	lost, err := l.compareHead(hm, hs, marked, lastSeq, lastCID)
	if err != nil {
		return nil, err
	}
	if lost != nil {
		if !recovering {
			return lost, nil
		}
		l.headSerial = true
		if hs == headValid {
			return lost, l.head.open(hm.Gen, hm)
		}
		return lost, nil // written (created) by the recovery's commit
	}
	here := headMark{Node: l.self, Acked: lastSeq, AckedHead: lastCID, Pending: lastSeq, PendingHead: lastCID}
	switch {
	case hs == headAbsent:
		// A new ledger, or one an older build wrote (no m/headfile): the
		// record starts at the chain as it is.
		if lastSeq > 0 {
			l.opts.Logger.Warn("settlement: the ledger has no head file yet (written by an older build); starting one at its head", "seq", lastSeq)
		}
		if err := l.head.create(here); err != nil {
			return nil, err
		}
	default:
		if err := l.head.open(hm.Gen, hm); err != nil {
			return nil, err
		}
		// A group that was being written when the process stopped may be
		// missing, or one whose record failed present: either way, the
		// chain as it is becomes the record, before anything is appended.
		if hm.Acked != lastSeq || hm.Pending != lastSeq {
			if err := l.head.write(here); err != nil {
				return nil, err
			}
		}
	}
	if !marked && lastSeq > 0 {
		b := l.db.NewBatch()
		_ = b.Set(keyHeadFile, nil, nil)
		if err := b.Commit(pebble.Sync); err != nil {
			return nil, fmt.Errorf("settlement: mark the head file: %w", err)
		}
	}
	return nil, nil
}

// compareHead decides whether the chain still holds what the head file
// says was acknowledged.
func (l *Ledger) compareHead(hm headMark, hs headState, marked bool, lastSeq uint64, lastCID string) (*LostWritesError, error) {
	lost := func(reason string, want uint64, wantHead, detail string) *LostWritesError {
		return &LostWritesError{Dir: l.dir, Reason: reason, Have: lastSeq, HaveHead: lastCID, Want: want, WantHead: wantHead, Detail: detail}
	}
	switch {
	case hs == headAbsent && marked:
		return lost(LostHeadMissing, 0, "", headFileName+" is gone, though this ledger was written with one"), nil
	case hs == headAbsent:
		return nil, nil
	case hs == headCorrupt:
		return lost(LostHeadCorrupt, 0, "", "neither slot of "+headFileName+" verifies"), nil
	case hm.Node != l.self:
		return lost(LostHeadCorrupt, 0, "", fmt.Sprintf("%s is node %s's, this ledger is %s's", headFileName, hm.Node, l.self)), nil
	}
	// Check the furthest point the record names that the chain reaches.
	at, cid := hm.Pending, hm.PendingHead
	if lastSeq < hm.Pending {
		at, cid = hm.Acked, hm.AckedHead
	}
	if lastSeq < at {
		return lost(LostBehind, hm.Acked, hm.AckedHead, ""), nil
	}
	if at == 0 {
		return nil, nil
	}
	got, err := l.cidAt(at)
	if err != nil {
		return nil, err
	}
	if got != cid {
		return lost(LostDiverged, at, cid, fmt.Sprintf("entry %d there is %s", at, got)), nil
	}
	return nil, nil
}

// cidAt is the CID of the stored entry seq ("" if there is none).
func (l *Ledger) cidAt(seq uint64) (string, error) {
	raw, ok, err := l.get(entryKey(seq))
	if err != nil || !ok {
		return "", err
	}
	return docCID(raw), nil
}
