package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// An until file keeps a small, bounded map of key → deadline across a
// restart of the node: state that a restart must not forget, such as the
// providers another requester caught and the subnets this one caught
// cheating. It is written whole, crash-safe (temp file, fsync, rename,
// fsync of the directory), so a crash leaves the old file or the new one.

// untilVersion is the format of an until file.
const untilVersion = 1

type untilFile struct {
	Version int              `json:"version"`
	Until   map[string]int64 `json:"until"` // key → deadline, Unix milliseconds
}

// maxUntilFile bounds what LoadUntil reads: a few thousand entries are far
// less.
const maxUntilFile = 4 << 20

// LoadUntil reads the until file at path: its entries still running at
// now, at most n of them (those ending last). A missing file is empty.
// A corrupt or unreadable one is an error naming the file; the caller
// starts empty rather than refusing to start (the state only adds checks).
func LoadUntil(path string, now time.Time, n int) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("wire: read %s: %w", path, err)
	}
	if len(b) > maxUntilFile {
		return out, fmt.Errorf("wire: %s: %d bytes, more than %d", path, len(b), maxUntilFile)
	}
	var f untilFile
	if err := json.Unmarshal(b, &f); err != nil {
		return out, fmt.Errorf("wire: %s is corrupt: %w", path, err)
	}
	if f.Version != untilVersion {
		return out, fmt.Errorf("wire: %s: version %d, this node reads %d", path, f.Version, untilVersion)
	}
	for k, ms := range f.Until {
		if t := time.UnixMilli(ms); k != "" && now.Before(t) {
			out[k] = t
		}
	}
	TrimUntil(out, now, n)
	return out, nil
}

// TrimUntil leaves at most n entries in m: it forgets the expired,
// then those ending first.
func TrimUntil(m map[string]time.Time, now time.Time, n int) {
	for k, t := range m {
		if !now.Before(t) {
			delete(m, k)
		}
	}
	if len(m) <= max(n, 0) {
		return
	}
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int { // ending last first, ties by key
		if c := m[b].Compare(m[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys[max(n, 0):] {
		delete(m, k)
	}
}

// SaveUntil writes m to path crash-safely, replacing what was there.
func SaveUntil(path string, m map[string]time.Time) error {
	f := untilFile{Version: untilVersion, Until: make(map[string]int64, len(m))}
	for k, t := range m {
		f.Until[k] = t.UnixMilli()
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("wire: encode %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("wire: save %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing is there
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("wire: save %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("wire: save %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("wire: save %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("wire: save %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync() // the rename itself survives a crash
		d.Close()
		if err != nil {
			return fmt.Errorf("wire: save %s: sync directory: %w", path, err)
		}
	}
	return nil
}
