package blobs

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/hayek-market/hayek/internal/canon"
)

// ErrNotFound is returned for content this node does not hold.
var ErrNotFound = errors.New("blob not found")

// ErrTooLarge is returned when content exceeds its declared cap.
var ErrTooLarge = errors.New("blob too large")

// Store keeps content by CID in files under dir, with a byte-bounded
// in-memory cache of recently used blobs. Files are written to a temporary
// name and renamed, without fsync: content addressing makes a torn file
// detectable, so every read from disk is checked against its CID and a bad
// file is deleted and reported missing (it will be fetched again).
type Store struct {
	dir string

	mu       sync.Mutex
	cache    map[string]*list.Element
	lru      *list.List
	bytes    int64
	maxBytes int64
	used     map[string]time.Time // last read, for garbage collection
	now      func() time.Time
}

type cached struct {
	cid  string
	data []byte
}

// NewStore opens the store in dir, keeping up to cacheBytes of recently
// used blobs in memory; now dates reads for collection (time.Now if nil).
func NewStore(dir string, cacheBytes int64, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("blobs: blob store: %w", err)
	}
	// Leftovers of interrupted writes.
	if ents, err := os.ReadDir(filepath.Join(dir, "tmp")); err == nil {
		for _, e := range ents {
			os.Remove(filepath.Join(dir, "tmp", e.Name()))
		}
	}
	return &Store{dir: dir, cache: map[string]*list.Element{}, lru: list.New(), maxBytes: cacheBytes,
		used: map[string]time.Time{}, now: now}, nil
}

// touch records a read of c.
func (s *Store) touch(c string) {
	s.mu.Lock()
	s.used[c] = s.now()
	s.mu.Unlock()
}

// Collect deletes blobs neither written nor read for longer than retention
// and not pinned (the module and inputs of live jobs), and returns how many
// it deleted and their bytes. Content-addressed blobs come back by CID:
// an agent that needs a collected module again uploads it again (it is
// told blob_not_found), a provider fetches it again.
func (s *Store) Collect(retention time.Duration, pinned func(string) bool) (int, int64, error) {
	cutoff := s.now().Add(-retention)
	shards, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, 0, fmt.Errorf("blobs: collect blobs: %w", err)
	}
	var n int
	var freed int64
	for _, sh := range shards {
		if !sh.IsDir() || sh.Name() == "tmp" {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(s.dir, sh.Name()))
		if err != nil {
			continue
		}
		for _, e := range ents {
			c := e.Name()
			info, err := e.Info()
			if err != nil {
				continue
			}
			s.mu.Lock()
			last := s.used[c]
			s.mu.Unlock()
			if info.ModTime().After(last) {
				last = info.ModTime()
			}
			if last.After(cutoff) || pinned(c) {
				continue
			}
			if os.Remove(filepath.Join(s.dir, sh.Name(), c)) == nil {
				n++
				freed += info.Size()
				s.mu.Lock()
				delete(s.used, c)
				if el, ok := s.cache[c]; ok {
					s.lru.Remove(el)
					delete(s.cache, c)
					s.bytes -= int64(len(el.Value.(*cached).data))
				}
				s.mu.Unlock()
			}
		}
	}
	// Forget read times of blobs that are gone.
	s.mu.Lock()
	for c, t := range s.used {
		if t.Before(cutoff) {
			delete(s.used, c)
		}
	}
	s.mu.Unlock()
	return n, freed, nil
}

// Dir is the directory the store keeps its files in.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(c string) string {
	shard := "00"
	if len(c) >= 2 {
		shard = c[len(c)-2:]
	}
	return filepath.Join(s.dir, shard, c)
}

// Put streams r into the store, at most limit bytes, and returns its CID.
func (s *Store) Put(ctx context.Context, r io.Reader, limit int64) (cid.Cid, int64, error) {
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "put-")
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("blobs: blob store: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := canon.NewBlobHasher()
	// Read one byte past the limit to tell "exactly limit" from "more".
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(stopWith(ctx, r), limit+1))
	if err != nil {
		tmp.Close()
		return cid.Undef, 0, fmt.Errorf("blobs: store blob: %w", err)
	}
	if n > limit {
		tmp.Close()
		return cid.Undef, 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	if err := tmp.Close(); err != nil {
		return cid.Undef, 0, fmt.Errorf("blobs: store blob: %w", err)
	}
	c := h.CID()
	dst := s.path(c.String())
	if _, err := os.Stat(dst); err == nil {
		return c, n, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return cid.Undef, 0, fmt.Errorf("blobs: store blob: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return cid.Undef, 0, fmt.Errorf("blobs: store blob: %w", err)
	}
	return c, n, nil
}

// PutBytes stores b and caches it.
func (s *Store) PutBytes(b []byte) (cid.Cid, error) {
	c := canon.BlobCID(b)
	if err := s.PutKnown(c.String(), b); err != nil {
		return cid.Undef, err
	}
	return c, nil
}

// PutKnown stores b, already verified to hash to c.
func (s *Store) PutKnown(c string, b []byte) error {
	s.remember(c, b)
	dst := s.path(c)
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("blobs: store blob: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "put-")
	if err != nil {
		return fmt.Errorf("blobs: store blob: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("blobs: store blob: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("blobs: store blob: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("blobs: store blob: %w", err)
	}
	return nil
}

// Has reports whether the store holds c.
func (s *Store) Has(c string) bool {
	s.mu.Lock()
	_, ok := s.cache[c]
	if ok {
		s.used[c] = s.now() // a provider asked about it: it is in demand
	}
	s.mu.Unlock()
	if ok {
		return true
	}
	_, err := os.Stat(s.path(c))
	return err == nil
}

// Get returns the whole blob, checked against its CID.
func (s *Store) Get(c string) ([]byte, error) {
	s.mu.Lock()
	if e, ok := s.cache[c]; ok {
		s.lru.MoveToFront(e)
		b := e.Value.(*cached).data
		s.used[c] = s.now()
		s.mu.Unlock()
		return b, nil
	}
	s.mu.Unlock()
	s.touch(c)
	b, err := os.ReadFile(s.path(c))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: read blob %s: %w", c, err)
	}
	if !MatchesCID(c, b) {
		os.Remove(s.path(c))
		return nil, fmt.Errorf("%w: stored copy of %s was corrupt and has been removed", ErrNotFound, c)
	}
	s.remember(c, b)
	return b, nil
}

// Open opens a blob for streaming. Callers that need integrity check the
// bytes against the CID as they read (remote fetchers always do).
func (s *Store) Open(c string) (io.ReadSeekCloser, int64, error) {
	s.mu.Lock()
	if e, ok := s.cache[c]; ok {
		b := e.Value.(*cached).data
		s.used[c] = s.now()
		s.mu.Unlock()
		return nopSeekCloser{bytes.NewReader(b)}, int64(len(b)), nil
	}
	s.mu.Unlock()
	s.touch(c)
	f, err := os.Open(s.path(c))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("blobs: open blob %s: %w", c, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// Size is the size of a stored blob.
func (s *Store) Size(c string) (int64, error) {
	s.mu.Lock()
	if e, ok := s.cache[c]; ok {
		n := int64(len(e.Value.(*cached).data))
		s.mu.Unlock()
		return n, nil
	}
	s.mu.Unlock()
	st, err := os.Stat(s.path(c))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (s *Store) remember(c string, b []byte) {
	if int64(len(b)) > s.maxBytes/4 {
		return // one blob must not flush the whole cache
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.cache[c]; ok {
		s.lru.MoveToFront(e)
		return
	}
	s.cache[c] = s.lru.PushFront(&cached{cid: c, data: b})
	s.bytes += int64(len(b))
	for s.bytes > s.maxBytes {
		e := s.lru.Back()
		v := e.Value.(*cached)
		s.lru.Remove(e)
		delete(s.cache, v.cid)
		s.bytes -= int64(len(v.data))
	}
}

// MatchesCID reports whether b hashes to the blob CID c.
func MatchesCID(c string, b []byte) bool { return canon.BlobCID(b).String() == c }

type nopSeekCloser struct{ *bytes.Reader }

func (nopSeekCloser) Close() error { return nil }

// readerFunc is an io.Reader made of a function.
type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// stopWith stops a long copy from r when ctx ends.
func stopWith(ctx context.Context, r io.Reader) io.Reader {
	return readerFunc(func(p []byte) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return r.Read(p)
	})
}
