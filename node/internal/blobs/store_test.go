package blobs

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// Blobs nobody wrote or read within the retention are collected, unless
// pinned; reading one keeps it.
func TestBlobCollection(t *testing.T) {
	s, err := NewStore(t.TempDir(), 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s.now = func() time.Time { return now }
	put := func(b string) string {
		c, err := s.PutBytes([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		return c.String()
	}
	old, read, pinned := put("old"), put("read"), put("pinned")
	now = now.Add(8 * 24 * time.Hour)
	if b, err := s.Get(read); err != nil || !bytes.Equal(b, []byte("read")) {
		t.Fatalf("get: %q %v", b, err)
	}
	n, freed, err := s.Collect(7*24*time.Hour, func(c string) bool { return c == pinned })
	if err != nil || n != 1 || freed != 3 {
		t.Fatalf("collected %d blobs, %d bytes, %v; want the one old blob of 3 bytes", n, freed, err)
	}
	if _, err := s.Get(old); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old blob after collection: %v, want not found", err)
	}
	for _, c := range []string{read, pinned} {
		if !s.Has(c) {
			t.Fatalf("blob %s was collected; it was read or pinned", c)
		}
	}
}
